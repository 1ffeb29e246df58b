//! `add` throughput next to the SHA-256 bound over the same bytes, and encrypt+add.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measurement tool, not a library: a failure ends the run"
)]

use std::hint::black_box;

use alara_store::{AddOptions, FsOptions, Store};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha2::Digest;

const SIZE: usize = 32 * 1024 * 1024;

fn data() -> Vec<u8> {
    alara_store::bench::content(0, SIZE as u64)
}

fn bench(c: &mut Criterion) {
    let data = data();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_with(dir.path(), FsOptions { sync: false }).expect("store");
    let id = alara_store::encrypt::generate_identity();
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10);
    g.bench_function("sha256_bound", |b| b.iter(|| black_box(sha2::Sha256::digest(&data))));
    g.bench_function("add_v0", |b| {
        b.iter(|| {
            store.add_reader(&data[..], &AddOptions { pin: false, ..AddOptions::default() }).ok()
        })
    });
    g.bench_function("add_v1", |b| {
        b.iter(|| store.add_reader(&data[..], &AddOptions { pin: false, ..AddOptions::v1() }).ok())
    });
    g.bench_function("encrypt_add_v1", |b| {
        b.iter(|| {
            store
                .add_encrypted(
                    &[id.to_public()],
                    &data[..],
                    &AddOptions { pin: false, ..AddOptions::v1() },
                )
                .ok()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
