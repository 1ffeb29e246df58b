//! Sign-In with Ethereum (EIP-4361): the message grammar, and the checks a relying party
//! makes before it trusts the signer — domain, chain, a nonce it issued and has not seen
//! back, the validity window, and the EIP-191 signature of the exact text.
//!
//! The message is parsed strictly by the ABNF of the EIP (line by line, fields in order,
//! an EIP-55 address, version `1`, an alphanumeric nonce of at least 8 characters, RFC 3339
//! times); anything else is refused with the line that was wrong.

use alloy::primitives::{Address, Signature};

/// A parsed EIP-4361 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiweMessage {
    /// Scheme before the domain, if given (`https`).
    pub scheme: Option<String>,
    /// RFC 3986 authority asking for the sign-in.
    pub domain: String,
    /// The signing account (EIP-55 checksummed in the text).
    pub address: Address,
    /// Human-readable statement, if any.
    pub statement: Option<String>,
    /// Subject of the sign-in.
    pub uri: String,
    /// Always `1`.
    pub version: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Server-issued nonce.
    pub nonce: String,
    /// Issued-at, Unix ms.
    pub issued_at_ms: u64,
    /// Expiration time, Unix ms.
    pub expiration_ms: Option<u64>,
    /// Not-before, Unix ms.
    pub not_before_ms: Option<u64>,
    /// Request id.
    pub request_id: Option<String>,
    /// Resources (URIs).
    pub resources: Vec<String>,
}

const PREAMBLE: &str = " wants you to sign in with your Ethereum account:";

impl SiweMessage {
    /// Parses the message text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.split('\n').peekable();
        let first = lines.next().ok_or("empty message")?;
        let authority = first
            .strip_suffix(PREAMBLE)
            .ok_or_else(|| format!("line 1 must end with {PREAMBLE:?}, found {first:?}"))?;
        let (scheme, domain) = match authority.split_once("://") {
            Some((s, d)) => (Some(s.to_string()), d.to_string()),
            None => (None, authority.to_string()),
        };
        if domain.is_empty() || domain.contains(char::is_whitespace) {
            return Err(format!("domain {domain:?} is not an RFC 3986 authority"));
        }
        let addr_line = lines.next().ok_or("line 2 (the address) is missing")?;
        let address = Address::parse_checksummed(addr_line, None)
            .map_err(|e| format!("line 2 {addr_line:?} is not an EIP-55 address: {e}"))?;
        if lines.next() != Some("") {
            return Err("line 3 must be empty".into());
        }
        // `[ statement LF ] LF`: either an empty line, or a statement then an empty line.
        let statement = match lines.next() {
            Some("") => None,
            Some(s) if !s.starts_with("URI: ") => {
                if lines.next() != Some("") {
                    return Err("the statement must be one line followed by an empty line".into());
                }
                Some(s.to_string())
            }
            _ => return Err("line 4 must be empty or the statement".into()),
        };
        let mut field = |name: &str| -> Result<String, String> {
            let line = lines.next().ok_or_else(|| format!("the {name:?} line is missing"))?;
            line.strip_prefix(&format!("{name}: "))
                .map(str::to_string)
                .ok_or_else(|| format!("expected the {name:?} line, found {line:?}"))
        };
        let uri = field("URI")?;
        let version = field("Version")?;
        if version != "1" {
            return Err(format!("Version must be 1, found {version:?}"));
        }
        let chain = field("Chain ID")?;
        let chain_id =
            chain.parse::<u64>().map_err(|_| format!("Chain ID {chain:?} is not a number"))?;
        let nonce = field("Nonce")?;
        if nonce.len() < 8 || !nonce.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("Nonce {nonce:?} must be at least 8 letters or digits"));
        }
        let issued_at_ms = rfc3339_ms(&field("Issued At")?)?;
        let mut optional = |name: &str| -> Option<String> {
            let prefix = format!("{name}: ");
            let value = lines.peek()?.strip_prefix(&prefix)?.to_string();
            lines.next();
            Some(value)
        };
        let expiration_ms = optional("Expiration Time").map(|t| rfc3339_ms(&t)).transpose()?;
        let not_before_ms = optional("Not Before").map(|t| rfc3339_ms(&t)).transpose()?;
        let request_id = optional("Request ID");
        let mut resources = Vec::new();
        if lines.peek() == Some(&"Resources:") {
            lines.next();
            while let Some(r) = lines.peek().and_then(|l| l.strip_prefix("- ")) {
                resources.push(r.to_string());
                lines.next();
            }
        }
        match lines.next() {
            None => {}
            Some("") if lines.next().is_none() => {}
            Some(extra) => return Err(format!("unexpected line {extra:?}")),
        }
        Ok(Self {
            scheme,
            domain,
            address,
            statement,
            uri,
            version,
            chain_id,
            nonce,
            issued_at_ms,
            expiration_ms,
            not_before_ms,
            request_id,
            resources,
        })
    }

    /// The account that signed `text` with EIP-191 `personal_sign` (65-byte hex signature).
    pub fn recover(text: &str, signature: &str) -> Result<Address, String> {
        let sig: Signature = signature
            .parse()
            .map_err(|e| format!("signature is not 65 bytes of hex (r, s, v): {e}"))?;
        sig.recover_address_from_msg(text.as_bytes())
            .map_err(|e| format!("signature does not recover to an account: {e}"))
    }
}

/// What the relying party expects of a message.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The domain the server serves (its authority, e.g. `127.0.0.1:8580`).
    pub domain: &'a str,
    /// The chain the server serves.
    pub chain_id: u64,
    /// Now, Unix ms.
    pub now_ms: u64,
    /// Tolerated clock skew for `Issued At` in the future.
    pub skew_ms: u64,
}

/// Checks a parsed message and its signature. The nonce is checked by the caller, which
/// holds the issued nonces.
pub fn check(msg: &SiweMessage, text: &str, signature: &str, e: &Expect<'_>) -> Result<(), String> {
    if msg.domain != e.domain {
        return Err(format!(
            "the message is for domain {:?}, this server is {:?}",
            msg.domain, e.domain
        ));
    }
    if msg.chain_id != e.chain_id {
        return Err(format!(
            "the message is for chain {}, this server serves chain {}",
            msg.chain_id, e.chain_id
        ));
    }
    if msg.issued_at_ms > e.now_ms + e.skew_ms {
        return Err("Issued At is in the future".into());
    }
    if let Some(exp) = msg.expiration_ms {
        if exp <= e.now_ms {
            return Err("the message has expired (Expiration Time is past)".into());
        }
    }
    if let Some(nbf) = msg.not_before_ms {
        if nbf > e.now_ms {
            return Err("the message is not valid yet (Not Before is in the future)".into());
        }
    }
    let signer = SiweMessage::recover(text, signature)?;
    if signer != msg.address {
        return Err(format!("the signature is by {signer}, the message names {}", msg.address));
    }
    Ok(())
}

/// Unix milliseconds of an RFC 3339 date-time (`2021-09-30T16:25:24Z`,
/// `2021-09-30T16:25:24.000+02:00`).
pub fn rfc3339_ms(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not an RFC 3339 date-time");
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = s.get(r).ok_or_else(bad)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse::<i64>().map_err(|_| bad())
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let ms: String = frac[..digits].chars().chain("000".chars()).take(3).collect();
        millis = ms.parse().map_err(|_| bad())?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6
            && (o.starts_with('+') || o.starts_with('-'))
            && o.as_bytes()[3] == b':' =>
        {
            let h = num(s.len() - 5..s.len() - 3)?;
            let m = num(s.len() - 2..s.len())?;
            let v = h * 60 + m;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_min * 60;
    u64::try_from(secs * 1000 + millis).map_err(|_| format!("{s:?} is before 1970"))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 (UTC, millisecond precision) of Unix ms — for messages the server proposes.
pub fn format_rfc3339(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // civil_from_days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example message of EIP-4361 (with its statement and one resource list).
    const EIP_EXAMPLE: &str = "service.invalid wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ServiceOrg Terms of Service: https://service.invalid/tos

URI: https://service.invalid/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json";

    #[test]
    fn parses_the_eip_example() {
        let m = SiweMessage::parse(EIP_EXAMPLE).unwrap();
        assert_eq!(m.domain, "service.invalid");
        assert_eq!(
            m.statement.as_deref(),
            Some("I accept the ServiceOrg Terms of Service: https://service.invalid/tos")
        );
        assert_eq!(m.chain_id, 1);
        assert_eq!(m.nonce, "32891756");
        assert_eq!(m.issued_at_ms, 1_633_019_124_000);
        assert_eq!(m.resources.len(), 2);
    }

    #[test]
    fn without_statement_and_with_optional_fields() {
        let text = "https://a.example:8080 wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2


URI: https://a.example:8080
Version: 1
Chain ID: 31337
Nonce: abcdefgh12
Issued At: 2026-12-02T10:00:00.250+01:00
Expiration Time: 2026-12-02T10:10:00Z
Not Before: 2026-12-02T08:59:00Z
Request ID: r-1";
        let m = SiweMessage::parse(text).unwrap();
        assert_eq!(m.scheme.as_deref(), Some("https"));
        assert_eq!(m.domain, "a.example:8080");
        assert_eq!(m.statement, None);
        assert_eq!(m.issued_at_ms, rfc3339_ms("2026-12-02T09:00:00.250Z").unwrap());
        assert_eq!(m.request_id.as_deref(), Some("r-1"));
    }

    #[test]
    fn refuses_what_the_grammar_does_not_allow() {
        let lower = EIP_EXAMPLE.replace(
            "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
            "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc3",
        );
        assert!(SiweMessage::parse(&lower).unwrap_err().contains("EIP-55"));
        assert!(SiweMessage::parse(&EIP_EXAMPLE.replace("Version: 1", "Version: 2")).is_err());
        assert!(SiweMessage::parse(&EIP_EXAMPLE.replace("Nonce: 32891756", "Nonce: 123")).is_err());
        assert!(
            SiweMessage::parse(&EIP_EXAMPLE.replace("2021-09-30T16:25:24Z", "yesterday")).is_err()
        );
        assert!(SiweMessage::parse(&format!("{EIP_EXAMPLE}\nExtra: x")).is_err());
        assert!(SiweMessage::parse("").is_err());
    }

    #[test]
    fn rfc3339_round_trip_and_known_values() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(rfc3339_ms("2000-03-01T00:00:00Z").unwrap(), 951_868_800_000);
        assert_eq!(rfc3339_ms("2024-02-29T23:59:59.999Z").unwrap(), 1_709_251_199_999);
        for ms in [0u64, 951_868_800_000, 1_709_251_199_999, 4_102_444_800_123] {
            assert_eq!(rfc3339_ms(&format_rfc3339(ms)).unwrap(), ms);
        }
        assert!(rfc3339_ms("2024-13-01T00:00:00Z").is_err());
        assert!(rfc3339_ms("2024-01-01 00:00:00Z").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,400}") {
            let _ = SiweMessage::parse(&s);
            let _ = rfc3339_ms(&s);
        }

        #[test]
        fn rfc3339_round_trips(ms in 0u64..253_402_300_799_999) {
            proptest::prop_assert_eq!(rfc3339_ms(&format_rfc3339(ms)).unwrap(), ms);
        }
    }
}
