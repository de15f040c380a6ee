//! Fuzz target bodies. `fuzz/fuzz_targets/*.rs` call these under libFuzzer;
//! `tests/fuzz_corpus.rs` runs them over the checked-in `fuzz/corpus`, so CI
//! exercises them without a fuzzer. Each must never panic, and asserts the
//! properties that must hold for any input.

use crate::merkle::{self, Blake3Tree};
use crate::note::{self, Checkpoint, NoteVerifier};
use crate::wire::{self, Entry, Statement, StatementHeader};

/// Statement decoding: accepted input re-encodes to itself.
pub fn decode_statement(data: &[u8]) {
    if let Ok(st) = Statement::from_bytes(data) {
        assert_eq!(st.to_bytes(), data, "accepted statement must be canonical");
        let (h, body) = StatementHeader::split(data).expect("a full statement has a header");
        assert_eq!(h.author, st.author);
        assert_eq!(body, &wire::encode(&st.body)[..]);
    }
}

/// Entry decoding: accepted input re-encodes to itself.
pub fn decode_entry(data: &[u8]) {
    if let Ok(e) = Entry::from_bytes(data) {
        assert_eq!(e.to_bytes(), data, "accepted entry must be canonical");
        decode_statement(&e.statement);
    }
}

/// Checkpoint parsing and note opening; a fixed verifier so that fuzzed
/// notes exercise the signature path too.
pub fn parse_checkpoint(data: &[u8]) {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let v = NoteVerifier::new("example.org/pil-ledger", sk.verifying_key()).expect("valid name");
    if let Ok(cp) = Checkpoint::open(data, &v) {
        // Only a note we signed can open; its text must round-trip.
        assert_eq!(Checkpoint::parse_text(&cp.to_text()).as_ref(), Ok(&cp));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cp) = Checkpoint::parse_text(text) {
            assert_eq!(cp.to_text(), text, "parsed checkpoint text must be canonical");
        }
        let _ = NoteVerifier::parse(text);
    }
    let _ = note::open_note(data, &[v]);
}

/// Proof verification with attacker-chosen index, sizes and hashes: never
/// panics, and accepts an inclusion proof only if it truly recomputes.
pub fn verify_proof(data: &[u8]) {
    if data.len() < 17 {
        return;
    }
    let a = u64::from_le_bytes(data[0..8].try_into().expect("8"));
    let b = u64::from_le_bytes(data[8..16].try_into().expect("8"));
    let mode = data[16];
    let hashes: Vec<[u8; 32]> = data[17..].chunks_exact(32).map(|c| c.try_into().expect("32")).collect();
    let (Some(first), rest) = (hashes.first(), hashes.get(1..).unwrap_or(&[])) else { return };
    // Keep sizes small sometimes so proofs can be of the right length.
    let (a, b) = if mode & 1 == 1 { (a % 64, b % 64) } else { (a, b) };
    if mode & 2 == 0 {
        let root = rest.last().copied().unwrap_or(*first);
        let proof = &rest[..rest.len().saturating_sub(1)];
        if merkle::verify_inclusion(&Blake3Tree, a, b, first, proof, &root).is_ok() {
            let got = merkle::root_from_inclusion_proof(&Blake3Tree, a, b, first, proof).expect("verified");
            assert_eq!(got, root);
            assert!(a < b);
        }
    } else {
        let second = rest.first().copied().unwrap_or(*first);
        let proof = rest.get(1..).unwrap_or(&[]);
        if merkle::verify_consistency(&Blake3Tree, a, b, first, &second, proof).is_ok() {
            assert!(a <= b);
        }
    }
}
