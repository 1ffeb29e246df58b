//! `alara bench store`: add throughput next to the SHA-256 bound over the same bytes
//! (measured in the same run), encrypt+add on one core, durable add to the local store,
//! peak RSS of a streamed add of a large file (default 1 GiB, generated on the fly), and
//! the gas of the data market's list, buy, deliver, confirm and refund, measured on an
//! embedded chain opened in the same run.

use std::io::Read;
use std::time::Instant;

use alara_store::{AddOptions, Blockstore, Cid, Digest, FsOptions, GcStats, Sha256, Store};

use crate::context::Context;

/// Arguments of `alara bench store`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Bytes hashed/added per throughput measurement (held in memory).
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    pub sample: u64,
    /// Bytes of the streamed add whose peak RSS is reported (generated, never in memory).
    #[arg(long, default_value_t = 1024 * 1024 * 1024)]
    pub size: u64,
    /// Internal: run the streamed add in this process and print its peak RSS.
    #[arg(long, hide = true)]
    pub rss_child: bool,
}

/// Deterministic bytes generated on the fly (xorshift32).
struct Generated {
    state: u32,
    remaining: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.remaining) as usize;
        for chunk in buf[..n].chunks_mut(4) {
            let mut x = self.state;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.state = x;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Keeps nothing: measures the importer (chunking, hashing, dag-pb) without storage I/O.
struct Discard;

impl Blockstore for Discard {
    fn get(&self, cid: &Cid) -> alara_store::Result<Vec<u8>> {
        Err(alara_store::Error::BlockNotFound(*cid))
    }
    fn has(&self, _: &Cid) -> alara_store::Result<bool> {
        Ok(false)
    }
    fn put_parts(&self, _: &Cid, _: &[&[u8]]) -> alara_store::Result<()> {
        Ok(())
    }
    fn flush(&self) -> alara_store::Result<()> {
        Ok(())
    }
    fn pin(&self, _: &Cid) -> alara_store::Result<()> {
        Ok(())
    }
    fn unpin(&self, _: &Cid) -> alara_store::Result<bool> {
        Ok(false)
    }
    fn pins(&self) -> alara_store::Result<Vec<Cid>> {
        Ok(Vec::new())
    }
    fn gc(&self) -> alara_store::Result<GcStats> {
        Ok(GcStats::default())
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

#[derive(serde::Serialize)]
struct Row {
    name: &'static str,
    mb_per_s: f64,
    ratio_to_sha256: f64,
}

/// Runs `alara bench store`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    if args.rss_child {
        return rss_child(args.size);
    }
    let json = ctx.json;
    let mut report = tokio::task::spawn_blocking(move || measure(&args)).await??;
    report["market_gas"] = serde_json::to_value(market_gas().await?)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{:<44} {:>10} {:>10}", "measurement (same bytes, one core)", "MB/s", "vs sha256");
        for r in report["rows"].as_array().into_iter().flatten() {
            println!(
                "{:<44} {:>10.0} {:>9.0}%",
                r["name"].as_str().unwrap_or_default(),
                r["mb_per_s"].as_f64().unwrap_or_default(),
                100.0 * r["ratio_to_sha256"].as_f64().unwrap_or_default()
            );
        }
        println!(
            "streamed add of {} MiB to the local store: peak RSS {} MiB, {:.0} MB/s",
            report["rss"]["bytes"].as_u64().unwrap_or_default() >> 20,
            report["rss"]["peak_rss_kib"].as_u64().unwrap_or_default() >> 10,
            report["rss"]["mb_per_s"].as_f64().unwrap_or_default()
        );
        println!("DataMarket gas (embedded chain, ETH listing, whole transaction)");
        for (call, gas) in report["market_gas"].as_object().into_iter().flatten() {
            println!("  {call:<10} {:>8}", gas.as_u64().unwrap_or_default());
        }
    }
    Ok(())
}

fn measure(args: &Args) -> eyre::Result<serde_json::Value> {
    let mut data = vec![0u8; args.sample as usize];
    Generated { state: 0x9e37_79b9, remaining: args.sample }.read_exact(&mut data)?;
    let n = args.sample;

    let t = Instant::now();
    std::hint::black_box(Sha256::digest(&data));
    let bound = mbps(n, t.elapsed().as_secs_f64());

    let mut rows = vec![Row {
        name: "sha256 bound (sha2 over the same bytes)",
        mb_per_s: bound,
        ratio_to_sha256: 1.0,
    }];
    let mut row = |name, secs: f64| {
        rows.push(Row { name, mb_per_s: mbps(n, secs), ratio_to_sha256: mbps(n, secs) / bound })
    };

    let discard = Store::with_blockstore(Discard);
    let id = alara_store::encrypt::generate_identity();
    let no_pin = |o: AddOptions| AddOptions { pin: false, ..o };
    let t = Instant::now();
    discard.add_reader(&data[..], &no_pin(AddOptions::default()))?;
    row("add CIDv0 (chunk+hash+dag-pb, no storage)", t.elapsed().as_secs_f64());
    let t = Instant::now();
    discard.add_reader(&data[..], &no_pin(AddOptions::v1()))?;
    row("add CIDv1 raw leaves (no storage)", t.elapsed().as_secs_f64());
    let t = Instant::now();
    discard.add_encrypted(&[id.to_public()], &data[..], &no_pin(AddOptions::v1()))?;
    row("encrypt (age) + add CIDv1 (no storage)", t.elapsed().as_secs_f64());

    let dir = ScratchDir::new("measure")?;
    let cache = Store::open_with(dir.path().join("nosync"), FsOptions { sync: false })?;
    let t = Instant::now();
    cache.add_reader(&data[..], &AddOptions::default())?;
    row("add CIDv0 to local store, page cache", t.elapsed().as_secs_f64());
    let durable = Store::open(dir.path().join("durable"))?;
    let t = Instant::now();
    durable.add_reader(&data[..], &AddOptions::default())?;
    row("add CIDv0 to local store, fsynced", t.elapsed().as_secs_f64());
    let t = Instant::now();
    durable.add_encrypted(&[id.to_public()], &data[..], &AddOptions::v1())?;
    row("encrypt + add CIDv1 to local store, fsynced", t.elapsed().as_secs_f64());
    drop(data);

    // Peak RSS in a fresh process, so earlier buffers do not count.
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["bench", "store", "--rss-child", "--size", &args.size.to_string()])
        .output()?;
    eyre::ensure!(
        out.status.success(),
        "RSS child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rss: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok(serde_json::json!({ "sample_bytes": n, "rows": rows, "rss": rss }))
}

/// A directory under the system temp dir, removed when dropped.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new(what: &str) -> eyre::Result<Self> {
        let p =
            std::env::temp_dir().join(format!("alara-bench-store-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&p)?;
        Ok(Self(p))
    }
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rss_child(size: u64) -> eyre::Result<()> {
    let dir = ScratchDir::new("rss")?;
    let store = Store::open(dir.path())?;
    let t = Instant::now();
    let added =
        store.add_reader(Generated { state: 7, remaining: size }, &AddOptions::default())?;
    let secs = t.elapsed().as_secs_f64();
    let out = serde_json::json!({
        "bytes": size,
        "cid": added.cid.to_string(),
        "mb_per_s": mbps(size, secs),
        "peak_rss_kib": peak_rss_kib(),
    });
    println!("{out}");
    Ok(())
}

/// Gas of each market call on an in-memory embedded chain: a listing, a sale that is
/// delivered and confirmed, and a sale refunded after the missed delivery deadline.
async fn market_gas() -> eyre::Result<std::collections::BTreeMap<&'static str, u64>> {
    use alara_market::contract::{self, MarketParams};
    use alara_market::{DataMarket, ListingTerms, Token};
    use alloy::primitives::{B256, U256};
    use alloy::providers::Provider;

    let chain = alara_chain::testing::TestChain::embedded()
        .await
        .map_err(|e| eyre::eyre!("starting an embedded chain: {e}"))?;
    let arbiter = alara_store::encrypt::generate_identity();
    let params = MarketParams::new(alara_market::keys::recipient_bytes(&arbiter.to_public())?);
    let address = contract::deploy(&chain.provider(0), &params).await?;
    let dev = alara_chain::dev::dev_addresses();
    let seller = DataMarket::new(address, chain.provider(1), dev[1]).await?;
    let buyer = DataMarket::new(address, chain.provider(2), dev[2]).await?;
    let terms = ListingTerms {
        token: Token::Eth,
        price: U256::from(10u64).pow(U256::from(17)),
        downloadable: true,
        delivery_window: 3_600,
        cid: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi".into(),
        plaintext_hash: B256::repeat_byte(0xaa),
        terms_hash: B256::repeat_byte(0xbb),
    };
    let key = alara_market::keys::recipient_bytes(
        &alara_store::encrypt::generate_identity().to_public(),
    )?;
    let envelope = alara_market::keys::seal_dataset_key(
        &alara_store::encrypt::generate_identity(),
        &alara_market::keys::recipient_from_bytes(&key)?,
    )?;
    let mut gas = std::collections::BTreeMap::new();
    let listed = seller.list(&terms).await?;
    gas.insert("list", listed.gas_used);
    let bought = buyer.buy(listed.value, key).await?;
    gas.insert("buy", bought.gas_used);
    gas.insert("deliver", seller.deliver(bought.value, envelope).await?.gas_used);
    gas.insert("confirm", buyer.confirm(bought.value).await?.gas_used);
    let unpaid = buyer.buy(listed.value, key).await?;
    let p = chain.provider(0);
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (3_601u64,)).await?;
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await?;
    gas.insert("refund", buyer.refund(unpaid.value).await?.gas_used);
    Ok(gas)
}
