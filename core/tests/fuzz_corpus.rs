//! Runs every fuzz target body over the checked-in corpus (fuzz/corpus/*),
//! plus deterministic mutations of each input (every single-byte flip and
//! every truncation), so CI exercises the targets without a fuzzer.

use std::path::Path;

use pil_ledger_core::fuzzing;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "empty corpus for {target}");
    out
}

fn run_with_mutations(target: &str, body: fn(&[u8])) {
    for input in corpus(target) {
        body(&input);
        for i in 0..input.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut m = input.clone();
                m[i] ^= x;
                body(&m);
            }
            body(&input[..i]);
        }
        let mut longer = input.clone();
        longer.push(0);
        body(&longer);
    }
}

#[test]
fn decode_statement_corpus() {
    run_with_mutations("decode_statement", fuzzing::decode_statement);
}

#[test]
fn decode_entry_corpus() {
    run_with_mutations("decode_entry", fuzzing::decode_entry);
}

#[test]
fn parse_checkpoint_corpus() {
    run_with_mutations("parse_checkpoint", fuzzing::parse_checkpoint);
}

#[test]
fn verify_proof_corpus() {
    run_with_mutations("verify_proof", fuzzing::verify_proof);
}

// ---- the oracle of `verify_proof`: the reference tree in `fuzzing::reference`

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use pil_ledger_core::fuzzing::reference;
use pil_ledger_core::merkle::{self, Blake3Tree, MemTree, Rfc6962Sha256};
use serde_json::Value;

fn vectors(kind: &str) -> Vec<Value> {
    fn walk(dir: &Path, out: &mut Vec<Value>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap());
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/rfc6962").join(kind), &mut out);
    assert!(out.len() > 30, "{kind}: {} vectors", out.len());
    out
}

/// A 32-byte base64 field; anything else (absent, wrong length) is `None`.
fn h32(v: &Value) -> Option<[u8; 32]> {
    B64.decode(v.as_str()?).ok()?.try_into().ok()
}

/// A root: some vectors use placeholders of other lengths ("don't care"),
/// opaque values compared for equality; map each to a 32-byte stand-in
/// that keeps equality.
fn root32(v: &Value) -> Option<[u8; 32]> {
    let raw = B64.decode(v.as_str()?).ok()?;
    Some(
        raw.clone()
            .try_into()
            .unwrap_or_else(|_| *blake3::hash(&[b"placeholder:".as_slice(), &raw].concat()).as_bytes()),
    )
}

fn proof_of(v: &Value) -> Option<Vec<[u8; 32]>> {
    match v {
        Value::Null => Some(vec![]),
        Value::Array(a) => a.iter().map(h32).collect(),
        _ => None,
    }
}

#[test]
fn reference_verifiers_agree_with_every_rfc6962_vector() {
    // The oracle itself is checked against transparency-dev's vectors
    // (SHA-256, RFC 6962 prefixes): it accepts exactly the valid ones.
    for d in vectors("inclusion") {
        let accepted = match (proof_of(&d["proof"]), h32(&d["leafHash"]), root32(&d["root"])) {
            (Some(p), Some(leaf), Some(root)) => reference::inclusion_accepts(
                &Rfc6962Sha256,
                d["leafIdx"].as_u64().unwrap(),
                d["treeSize"].as_u64().unwrap(),
                &leaf,
                &p,
                &root,
            ),
            _ => false,
        };
        assert_eq!(accepted, !d["wantErr"].as_bool().unwrap(), "{}", d["desc"]);
    }
    for d in vectors("consistency") {
        let accepted = match (proof_of(&d["proof"]), root32(&d["root1"]), root32(&d["root2"])) {
            (Some(p), Some(r1), Some(r2)) => reference::consistency_accepts(
                &Rfc6962Sha256,
                d["size1"].as_u64().unwrap(),
                d["size2"].as_u64().unwrap(),
                &r1,
                &r2,
                &p,
            ),
            _ => false,
        };
        assert_eq!(accepted, !d["wantErr"].as_bool().unwrap(), "{}", d["desc"]);
    }
}

#[test]
fn prover_and_verifier_equal_the_reference_for_every_index_of_every_size_up_to_40() {
    let h = &Blake3Tree;
    let leaves: Vec<[u8; 32]> = (0..40u64).map(|i| pil_ledger_core::hash::entry_hash(&i.to_le_bytes())).collect();
    let mut tree = MemTree::new(Blake3Tree);
    for n in 1..=leaves.len() {
        tree.push(leaves[n - 1]);
        let d = &leaves[..n];
        let root = reference::mth(h, d);
        assert_eq!(tree.root(), root, "MTH(D[{n}])");
        for m in 0..n {
            let path = reference::path(h, m, d);
            assert_eq!(tree.inclusion_proof(m as u64, n as u64).unwrap(), path, "PATH({m}, D[{n}])");
            assert!(merkle::verify_inclusion(h, m as u64, n as u64, &d[m], &path, &root).is_ok());
            assert!(reference::inclusion_accepts(h, m as u64, n as u64, &d[m], &path, &root));
        }
        for m in 1..=n {
            let proof = reference::proof(h, m, d);
            assert_eq!(tree.consistency_proof(m as u64, n as u64).unwrap(), proof, "PROOF({m}, D[{n}])");
            let old = reference::mth(h, &d[..m]);
            assert!(merkle::verify_consistency(h, m as u64, n as u64, &old, &root, &proof).is_ok());
            assert!(reference::consistency_accepts(h, m as u64, n as u64, &old, &root, &proof));
        }
    }
}

#[test]
fn reference_split_is_the_largest_power_of_two_below_n() {
    assert_eq!(reference::split(2), 1);
    assert_eq!(reference::split(3), 2);
    assert_eq!(reference::split(4), 2);
    assert_eq!(reference::split(5), 4);
    assert_eq!(reference::split(1 << 40), 1 << 39);
    assert_eq!(reference::split((1 << 40) + 1), 1 << 40);
    assert_eq!(reference::split(u64::MAX), 1 << 63);
}
