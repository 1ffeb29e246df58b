//! Where observations come from: the [`Source`] trait, an HTTP JSON API read with a path
//! selector ([`HttpJsonSource`]) and replays of recorded series ([`ReplaySource`]).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

use crate::{Error, Result};

/// Largest answer read from an HTTP source; more is refused while streaming.
pub const MAX_BODY: usize = 1 << 20;

/// A boxed future of a source's answer.
pub type Observing<'a> = Pin<Box<dyn Future<Output = Result<f64>> + Send + 'a>>;

/// A source of one value.
pub trait Source: Send + Sync {
    /// The source's id (in audit entries and drop reasons).
    fn id(&self) -> &str;
    /// The value this source gives for `round`.
    fn observe(&self, round: u64) -> Observing<'_>;
}

/// One step of a [`Selector`]: an object key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A path into a JSON document: `data.quotes[0].price` (an optional leading `$.` is
/// allowed, as in JSONPath). The value found must be a number, or a string holding one
/// (as many price APIs send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    text: String,
    steps: Vec<Step>,
}

impl std::str::FromStr for Selector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |detail: String| Error::Invalid { what: "JSON path", detail };
        let body = s.strip_prefix("$.").or_else(|| s.strip_prefix('$')).unwrap_or(s);
        let mut steps = Vec::new();
        for part in body.split('.').filter(|p| !p.is_empty()) {
            let (key, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                steps.push(Step::Key(key.to_string()));
            }
            while let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or_else(|| bad(format!("{s:?}: `[` without `]`")))?;
                let index = r[..end]
                    .parse()
                    .map_err(|_| bad(format!("{s:?}: `{}` is not an array index", &r[..end])))?;
                steps.push(Step::Index(index));
                rest = &r[end + 1..];
            }
            if !rest.is_empty() {
                return Err(bad(format!("{s:?}: unexpected `{rest}`")));
            }
        }
        if steps.is_empty() {
            return Err(bad(format!("{s:?} selects nothing")));
        }
        Ok(Self { text: s.to_string(), steps })
    }
}

impl Selector {
    /// The number at this path in `doc`.
    pub fn number(&self, doc: &Value) -> Result<f64> {
        let mut v = doc;
        for step in &self.steps {
            let next = match step {
                Step::Key(k) => v.get(k.as_str()),
                Step::Index(i) => v.get(*i),
            };
            v = next.ok_or_else(|| Error::Malformed {
                what: "answer",
                detail: format!("nothing at {} (stopped at {step:?})", self.text),
            })?;
        }
        let n = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        n.filter(|n| n.is_finite()).ok_or_else(|| Error::Malformed {
            what: "answer",
            detail: format!("{} is {v}, not a finite number", self.text),
        })
    }
}

/// An HTTP API answering JSON, read with a [`Selector`]. Each observation is one GET with a
/// timeout, and the answer is refused past [`MAX_BODY`] bytes while it streams in.
#[derive(Clone, Debug)]
pub struct HttpJsonSource {
    id: String,
    url: String,
    selector: Selector,
    client: reqwest::Client,
}

impl HttpJsonSource {
    /// A source `id` reading `selector` from the JSON at `url`, waiting at most `timeout`.
    pub fn new(id: &str, url: &str, selector: &str, timeout: Duration) -> Result<Self> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| Error::Invalid { what: "source URL", detail: format!("{url:?}: {e}") })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Invalid {
                what: "source URL",
                detail: format!("{url:?}: only http and https"),
            });
        }
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| {
            Error::Source { source_id: id.to_string(), detail: format!("HTTP client: {e}") }
        })?;
        Ok(Self { id: id.to_string(), url: url.to_string(), selector: selector.parse()?, client })
    }

    async fn fetch(&self) -> Result<f64> {
        let err = |detail: String| Error::Source { source_id: self.id.clone(), detail };
        let mut res = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| err(format!("GET {}: {e}", self.url)))?;
        if !res.status().is_success() {
            return Err(err(format!("GET {}: status {}", self.url, res.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| err(format!("reading: {e}")))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(err(format!("answer larger than {MAX_BODY} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let doc: Value =
            serde_json::from_slice(&body).map_err(|e| err(format!("answer is not JSON: {e}")))?;
        self.selector.number(&doc).map_err(|e| err(e.to_string()))
    }
}

impl Source for HttpJsonSource {
    fn id(&self) -> &str {
        &self.id
    }

    fn observe(&self, _round: u64) -> Observing<'_> {
        Box::pin(self.fetch())
    }
}

/// A recorded series played back: round `r` answers the `r`-th value (`None` is an outage).
#[derive(Clone, Debug)]
pub struct ReplaySource {
    id: String,
    values: Vec<Option<f64>>,
}

impl ReplaySource {
    /// A replay of `values` under the id `id`.
    pub fn new(id: &str, values: Vec<Option<f64>>) -> Self {
        Self { id: id.to_string(), values }
    }
}

impl Source for ReplaySource {
    fn id(&self) -> &str {
        &self.id
    }

    fn observe(&self, round: u64) -> Observing<'_> {
        let v = usize::try_from(round).ok().and_then(|r| self.values.get(r).copied());
        Box::pin(async move {
            match v {
                Some(Some(v)) => Ok(v),
                Some(None) => Err(Error::Source {
                    source_id: self.id.clone(),
                    detail: format!("no answer in round {round} (outage)"),
                }),
                None => Err(Error::Source {
                    source_id: self.id.clone(),
                    detail: format!(
                        "round {round} is past the recording ({} rounds)",
                        self.values.len()
                    ),
                }),
            }
        })
    }
}

/// Observes every source for `round` concurrently; failures are returned beside the
/// values, so a round goes on without the sources that did not answer.
pub async fn observe_all(
    sources: &[Box<dyn Source>],
    round: u64,
) -> (Vec<(String, f64)>, Vec<(String, String)>) {
    // All at once: each request's wait overlaps the others'.
    let answers = futures_util::future::join_all(
        sources.iter().map(|s| async move { (s.id().to_string(), s.observe(round).await) }),
    )
    .await;
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (id, r) in answers {
        match r {
            Ok(v) => ok.push((id, v)),
            Err(e) => failed.push((id, e.to_string())),
        }
    }
    (ok, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_find_numbers_and_numeric_strings() {
        let doc: Value =
            serde_json::json!({"data": {"quotes": [{"price": "123.5"}, {"price": 7}]}});
        let s: Selector = "$.data.quotes[0].price".parse().unwrap();
        assert_eq!(s.number(&doc).unwrap(), 123.5);
        let s: Selector = "data.quotes[1].price".parse().unwrap();
        assert_eq!(s.number(&doc).unwrap(), 7.0);
        assert!("data.quotes[2].price".parse::<Selector>().unwrap().number(&doc).is_err());
        assert!("data".parse::<Selector>().unwrap().number(&doc).is_err());
        for bad in ["", "$", "a[", "a[x]", "a[0]b"] {
            assert!(bad.parse::<Selector>().is_err(), "{bad:?}");
        }
    }
}
