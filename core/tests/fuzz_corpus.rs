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
