//! Fuzz target bodies. `fuzz/fuzz_targets/*.rs` call these under libFuzzer;
//! `tests/fuzz_corpus.rs` runs them over the checked-in `fuzz/corpus`, so CI
//! exercises them without a fuzzer. Each must never panic, and asserts the
//! properties that must hold for any input.

use crate::merkle::{self, Blake3Tree, MemTree};
use crate::note::{self, Checkpoint, NoteVerifier};
use crate::wire::{self, Entry, Hash32, Statement, StatementHeader};

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

/// Proof verification, judged against [`reference`], an implementation of
/// RFC 9162 written separately from `merkle.rs`:
///
/// 1. attacker-chosen index, sizes (any `u64`), leaf, roots and proof: the
///    verifier accepts exactly when the reference accepts, never panics;
/// 2. a real tree of up to 16 leaves built from the input: the prover's
///    root, inclusion and consistency proofs equal the reference's MTH,
///    PATH and PROOF, the verifier accepts them, and it accepts the
///    attacker's proof against the real root only if it is the real one.
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
    let h = &Blake3Tree;
    if mode & 2 == 0 {
        let root = rest.last().copied().unwrap_or(*first);
        let proof = &rest[..rest.len().saturating_sub(1)];
        let got = merkle::verify_inclusion(h, a, b, first, proof, &root).is_ok();
        assert_eq!(got, reference::inclusion_accepts(h, a, b, first, proof, &root), "inclusion {a} of {b}");
        if got {
            assert_eq!(merkle::root_from_inclusion_proof(h, a, b, first, proof), Ok(root));
        }
    } else {
        let second = rest.first().copied().unwrap_or(*first);
        let proof = rest.get(1..).unwrap_or(&[]);
        let got = merkle::verify_consistency(h, a, b, first, &second, proof).is_ok();
        assert_eq!(got, reference::consistency_accepts(h, a, b, first, &second, proof), "consistency {a} to {b}");
    }

    // A real tree: n leaves, distinct, derived from the input.
    let n = (b % 16 + 1) as usize;
    let leaves: Vec<Hash32> = (0..n as u64)
        .map(|i| crate::hash::h("pil-ledger fuzz leaf", &[&i.to_le_bytes()[..], first].concat()))
        .collect();
    let mut tree = MemTree::new(Blake3Tree);
    for l in &leaves {
        tree.push(*l);
    }
    let root = reference::mth(h, &leaves);
    assert_eq!(tree.root(), root, "root of {n} leaves");
    let m = (a % n as u64) as usize;
    let path = reference::path(h, m, &leaves);
    assert_eq!(tree.inclusion_proof(m as u64, n as u64).as_ref(), Ok(&path), "PATH({m}, D[{n}])");
    assert!(merkle::verify_inclusion(h, m as u64, n as u64, &leaves[m], &path, &root).is_ok());
    // attacker's proof for the real leaf and root: accepted only if real
    if merkle::verify_inclusion(h, m as u64, n as u64, &leaves[m], rest, &root).is_ok() {
        assert_eq!(rest, &path[..]);
    }
    // the real path at another index, or with one bit flipped, is refused
    let other = (m + 1 + (mode as usize >> 2)) % n;
    if other != m {
        assert!(merkle::verify_inclusion(h, other as u64, n as u64, &leaves[m], &path, &root).is_err());
    }
    if !path.is_empty() {
        let mut bad = path.clone();
        let j = (mode as usize) % bad.len();
        bad[j][(a % 32) as usize] ^= 1 << (b % 8);
        assert!(merkle::verify_inclusion(h, m as u64, n as u64, &leaves[m], &bad, &root).is_err());
    }
    let old = m.max(1);
    let proof = reference::proof(h, old, &leaves);
    assert_eq!(tree.consistency_proof(old as u64, n as u64).as_ref(), Ok(&proof), "PROOF({old}, D[{n}])");
    let old_root = reference::mth(h, &leaves[..old]);
    assert!(merkle::verify_consistency(h, old as u64, n as u64, &old_root, &root, &proof).is_ok());
    if merkle::verify_consistency(h, old as u64, n as u64, &old_root, &root, rest).is_ok() {
        assert_eq!(rest, &proof[..]);
    }
}

/// RFC 9162 §2.1, written from the RFC's definitions and independently of
/// `merkle.rs` (which computes iteratively, from stored subtrees): the
/// recursive MTH (§2.1.1), PATH (§2.1.3.1) and PROOF/SUBPROOF (§2.1.4.1),
/// and verifiers that rebuild a root by following those same recursive
/// definitions backwards, for any `u64` sizes. Generic over the hasher only
/// for its two primitives (empty root, interior node), so it can be checked
/// against the RFC 6962 vectors with SHA-256 too. Leaves enter hashed.
pub mod reference {
    use crate::merkle::TreeHasher;
    use crate::wire::Hash32;

    /// The largest power of two smaller than `n` (`n >= 2`).
    pub fn split(n: u64) -> u64 {
        let mut k = 1u64;
        while let Some(k2) = k.checked_mul(2) {
            if k2 >= n {
                break;
            }
            k = k2;
        }
        k
    }

    fn k_of(n: usize) -> usize {
        split(n as u64) as usize
    }

    /// MTH(D[n]).
    pub fn mth<H: TreeHasher>(h: &H, d: &[Hash32]) -> Hash32 {
        match d.len() {
            0 => h.empty_root(),
            1 => d[0],
            n => {
                let k = k_of(n);
                h.hash_children(&mth(h, &d[..k]), &mth(h, &d[k..]))
            }
        }
    }

    /// PATH(m, D[n]), `m < n`.
    pub fn path<H: TreeHasher>(h: &H, m: usize, d: &[Hash32]) -> Vec<Hash32> {
        let n = d.len();
        if n <= 1 {
            return vec![];
        }
        let k = k_of(n);
        let (mut p, sibling) =
            if m < k { (path(h, m, &d[..k]), mth(h, &d[k..])) } else { (path(h, m - k, &d[k..]), mth(h, &d[..k])) };
        p.push(sibling);
        p
    }

    /// PROOF(m, D[n]) = SUBPROOF(m, D[n], true), `0 < m <= n`.
    pub fn proof<H: TreeHasher>(h: &H, m: usize, d: &[Hash32]) -> Vec<Hash32> {
        subproof(h, m, d, true)
    }

    fn subproof<H: TreeHasher>(h: &H, m: usize, d: &[Hash32], b: bool) -> Vec<Hash32> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(h, d)] };
        }
        let k = k_of(n);
        let (mut p, last) = if m <= k {
            (subproof(h, m, &d[..k], b), mth(h, &d[k..]))
        } else {
            (subproof(h, m - k, &d[k..], false), mth(h, &d[..k]))
        };
        p.push(last);
        p
    }

    /// The root that `path` gives for `leaf` at `m` in a tree of `n`, read
    /// backwards through PATH's definition: its last element is the sibling
    /// of the top split. `None` if the length does not fit.
    fn root_from_path<H: TreeHasher>(h: &H, m: u64, n: u64, leaf: &Hash32, path: &[Hash32]) -> Option<Hash32> {
        if n == 1 {
            return path.is_empty().then_some(*leaf);
        }
        let (sibling, rest) = path.split_last()?;
        let k = split(n);
        Some(if m < k {
            h.hash_children(&root_from_path(h, m, k, leaf, rest)?, sibling)
        } else {
            h.hash_children(sibling, &root_from_path(h, m - k, n - k, leaf, rest)?)
        })
    }

    /// Does `path` prove `leaf` at `m` in the tree `(n, root)`?
    pub fn inclusion_accepts<H: TreeHasher>(
        h: &H,
        m: u64,
        n: u64,
        leaf: &Hash32,
        path: &[Hash32],
        root: &Hash32,
    ) -> bool {
        m < n && root_from_path(h, m, n, leaf, path).as_ref() == Some(root)
    }

    /// `(old root, new root)` that SUBPROOF(m, D[n], b) gives, read
    /// backwards; `old` is the old tree's root, known to the verifier, used
    /// where SUBPROOF with `b` true stops (the old tree is a complete
    /// subtree there).
    fn roots_from_subproof<H: TreeHasher>(
        h: &H,
        m: u64,
        n: u64,
        b: bool,
        old: &Hash32,
        proof: &[Hash32],
    ) -> Option<(Hash32, Hash32)> {
        if m == n {
            return match (b, proof) {
                (true, []) => Some((*old, *old)),
                (false, [x]) => Some((*x, *x)),
                _ => None,
            };
        }
        let (last, rest) = proof.split_last()?;
        let k = split(n);
        if m <= k {
            let (o, left) = roots_from_subproof(h, m, k, b, old, rest)?;
            Some((o, h.hash_children(&left, last)))
        } else {
            let (o, right) = roots_from_subproof(h, m - k, n - k, false, old, rest)?;
            Some((h.hash_children(last, &o), h.hash_children(last, &right)))
        }
    }

    /// Does `proof` show that `(n, new)` extends `(m, old)`? As RFC 9162
    /// and this project decide the edge cases: `m = 0` is refused (every
    /// tree extends the empty one; such a proof shows nothing), `m = n`
    /// needs an empty proof and equal roots, `m > n` is refused.
    pub fn consistency_accepts<H: TreeHasher>(
        h: &H,
        m: u64,
        n: u64,
        old: &Hash32,
        new: &Hash32,
        proof: &[Hash32],
    ) -> bool {
        if m == 0 || m > n {
            return false;
        }
        if m == n {
            return proof.is_empty() && old == new;
        }
        roots_from_subproof(h, m, n, true, old, proof) == Some((*old, *new))
    }
}
