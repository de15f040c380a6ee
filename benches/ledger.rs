//! Criterion micro-benchmarks: the raw limits (sign, verify_strict, batch
//! verify, BLAKE3 node) beside the ledger's own hot paths (canonical decode,
//! proof generation, one durable append). System figures with ratios are in
//! `benches/figures.rs`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ed25519_dalek::Signer;
use pil_ledger::ledger::{self, Ledger};
use pil_ledger_core::authority::Role;
use pil_ledger_core::keys::{self, SigItem};
use pil_ledger_core::merkle::{Blake3Tree, MemTree};
use pil_ledger_core::wire::{Body, Statement};
use pil_ledger_core::{hash, merkle};

fn items(n: usize) -> Vec<SigItem> {
    (0..n)
        .map(|i| {
            let k = ed25519_dalek::SigningKey::from_bytes(&[i as u8; 32]);
            let d = hash::statement_digest(&i.to_le_bytes());
            SigItem { author: k.verifying_key().to_bytes(), digest: d, signature: k.sign(&d).to_bytes() }
        })
        .collect()
}

fn raw_limits(c: &mut Criterion) {
    let mut g = c.benchmark_group("raw");
    let k = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let msg = [9u8; 32];
    let sig = k.sign(&msg);
    let vk = k.verifying_key();
    g.throughput(Throughput::Elements(1));
    g.bench_function("ed25519_sign", |b| b.iter(|| k.sign(&msg)));
    g.bench_function("ed25519_verify_strict", |b| b.iter(|| vk.verify_strict(&msg, &sig).unwrap()));
    let its = items(64);
    g.throughput(Throughput::Elements(64));
    g.bench_function("ed25519_verify_batch_64", |b| b.iter(|| assert!(keys::batch_verify_raw(&its))));
    g.bench_function("pil_verify_many_64_strict", |b| b.iter(|| keys::verify_many(&its)));
    g.throughput(Throughput::Elements(1));
    let (l, r) = ([1u8; 32], [2u8; 32]);
    g.bench_function("blake3_node", |b| b.iter(|| hash::node(&l, &r)));
    g.finish();
}

fn hot_paths(c: &mut Criterion) {
    let mut g = c.benchmark_group("core");
    let st = Statement {
        format: 1,
        origin: "bench.example/pil".into(),
        author: [3; 32],
        claimed_at_ms: 1,
        nonce: [4; 16],
        case_id: "（2026）京04民初1号".into(),
        body: Body::enrol([5; 32], "Zhang San", "Beijing No.4 Branch", vec![Role::Prosecutor, Role::Custodian]),
    };
    let bytes = st.to_bytes();
    g.throughput(Throughput::Elements(1));
    g.bench_function("statement_decode_canonical", |b| b.iter(|| Statement::from_bytes(&bytes).unwrap()));
    let mut t = MemTree::new(Blake3Tree);
    for i in 0..100_000u64 {
        t.push(hash::entry_hash(&i.to_le_bytes()));
    }
    g.bench_function("inclusion_proof_100k", |b| b.iter(|| t.inclusion_proof(12_345, 100_000).unwrap()));
    let p = t.inclusion_proof(12_345, 100_000).unwrap();
    let leaf = t.get(0, 12_345).unwrap();
    let root = t.root();
    g.bench_function("verify_inclusion_100k", |b| {
        b.iter(|| merkle::verify_inclusion(&Blake3Tree, 12_345, 100_000, &leaf, &p, &root).unwrap())
    });
    g.finish();
}

fn durable_append(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let l = Ledger::init(tmp.path(), "bench.example/pil", "Officer", "Unit").unwrap();
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    let p = keys::generate();
    l.append_signed(&officer, "", Body::enrol(p.verifying_key().to_bytes(), "P", "U", vec![Role::Prosecutor])).unwrap();
    let mut g = c.benchmark_group("ledger");
    g.sample_size(30);
    let mut i = 0u64;
    g.bench_function("durable_append_one_client_ack_with_proof", |b| {
        b.iter_batched(
            || {
                i += 1;
                ledger::sign_statement(
                    l.origin(),
                    &p,
                    &format!("B-{i}"),
                    Body::CaseOpened { title: "t".into(), area: "a".into(), unit: "u".into() },
                )
            },
            |(st, sig)| l.writer().unwrap().append_blocking(st, sig).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, raw_limits, hot_paths, durable_append);
criterion_main!(benches);
