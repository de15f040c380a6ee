//! Merkle tree of RFC 9162 §2.1 shape, generic over the hasher: tree hashes,
//! inclusion and consistency proofs (§2.1.3, §2.1.4) and their verifiers
//! (§2.1.3.2, §2.1.4.2). The production instance is BLAKE3 ([`Blake3Tree`]);
//! [`Rfc6962Sha256`] exists so the same code is checked against independent
//! RFC 6962 vectors.
//!
//! Storage model: only *complete* subtrees are stored, addressed by
//! `(level, index)` and covering leaves `[index·2^level, (index+1)·2^level)`.
//! Appending leaf `n` stores `(0, n)` and every parent it completes, so a root
//! or proof is O(log n) node reads (plus O(log n) hashing on the ragged right
//! edge), never a recomputation over leaves.

use crate::wire::Hash32;

/// A tree hasher: how interior nodes and the empty root are formed. Leaves
/// enter already hashed.
pub trait TreeHasher {
    fn empty_root(&self) -> Hash32;
    fn hash_children(&self, left: &Hash32, right: &Hash32) -> Hash32;
}

/// pil-ledger v1: BLAKE3 derive-key contexts (DESIGN §3.5).
#[derive(Clone, Copy, Debug, Default)]
pub struct Blake3Tree;

impl TreeHasher for Blake3Tree {
    fn empty_root(&self) -> Hash32 {
        crate::hash::empty_root()
    }
    fn hash_children(&self, left: &Hash32, right: &Hash32) -> Hash32 {
        crate::hash::node(left, right)
    }
}

/// RFC 6962: SHA-256 with 0x00 leaf / 0x01 node prefixes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rfc6962Sha256;

impl Rfc6962Sha256 {
    pub fn hash_leaf(&self, data: &[u8]) -> Hash32 {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update([0u8]);
        h.update(data);
        h.finalize().into()
    }
}

impl TreeHasher for Rfc6962Sha256 {
    fn empty_root(&self) -> Hash32 {
        use sha2::Digest;
        sha2::Sha256::digest(b"").into()
    }
    fn hash_children(&self, left: &Hash32, right: &Hash32) -> Hash32 {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update([1u8]);
        h.update(left);
        h.update(right);
        h.finalize().into()
    }
}

/// Why a proof or a request for one was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("size {old} is larger than size {new}")]
    SizeOrder { old: u64, new: u64 },
    #[error("proof has {got} hashes, expected {want}")]
    WrongLength { got: usize, want: usize },
    #[error("computed root does not match the expected root")]
    RootMismatch,
    #[error("equal sizes need an empty proof")]
    NonEmptyForEqualSizes,
    #[error("a consistency proof from the empty tree is meaningless")]
    FromEmpty,
    #[error("node ({level}, {index}) is missing from storage")]
    MissingNode { level: u8, index: u64 },
    #[error("storage: {0}")]
    Storage(String),
}

/// Read access to stored complete subtrees.
pub trait NodeSource {
    /// The hash of the complete subtree at `(level, index)`.
    fn node(&self, level: u8, index: u64) -> Result<Hash32, ProofError>;
}

/// Largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Hash of leaves `[start, end)` where the range is a node of the RFC 9162
/// recursion (its left edge aligned to the largest power of two it holds).
pub fn subtree_root<H: TreeHasher, S: NodeSource + ?Sized>(
    hasher: &H,
    src: &S,
    start: u64,
    end: u64,
) -> Result<Hash32, ProofError> {
    let n = end - start;
    if n == 0 {
        return Ok(hasher.empty_root());
    }
    if n.is_power_of_two() && start % n == 0 {
        return src.node(n.trailing_zeros() as u8, start / n);
    }
    let k = split_point(n);
    let left = subtree_root(hasher, src, start, start + k)?;
    let right = subtree_root(hasher, src, start + k, end)?;
    Ok(hasher.hash_children(&left, &right))
}

/// Root of the tree of the first `size` leaves.
pub fn root<H: TreeHasher, S: NodeSource + ?Sized>(hasher: &H, src: &S, size: u64) -> Result<Hash32, ProofError> {
    subtree_root(hasher, src, 0, size)
}

/// RFC 9162 §2.1.3.1 inclusion proof for leaf `index` in the tree of `size`.
pub fn inclusion_proof<H: TreeHasher, S: NodeSource + ?Sized>(
    hasher: &H,
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash32>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::with_capacity(64);
    // Walk down from the root, collecting siblings, then reverse (leaf first).
    let (mut start, mut end) = (0u64, size);
    while end - start > 1 {
        let k = split_point(end - start);
        if index - start < k {
            out.push(subtree_root(hasher, src, start + k, end)?);
            end = start + k;
        } else {
            out.push(subtree_root(hasher, src, start, start + k)?);
            start += k;
        }
    }
    out.reverse();
    Ok(out)
}

/// RFC 9162 §2.1.4.1 consistency proof from `old` to `size`.
pub fn consistency_proof<H: TreeHasher, S: NodeSource + ?Sized>(
    hasher: &H,
    src: &S,
    old: u64,
    size: u64,
) -> Result<Vec<Hash32>, ProofError> {
    if old > size {
        return Err(ProofError::SizeOrder { old, new: size });
    }
    if old == 0 {
        return Err(ProofError::FromEmpty);
    }
    if old == size {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[start..end], b), iteratively; nodes are collected
    // root-side first, then reversed.
    let mut out = Vec::with_capacity(64);
    let (mut m, mut start, mut end, mut b) = (old, 0u64, size, true);
    loop {
        let n = end - start;
        if m == n {
            if !b {
                out.push(subtree_root(hasher, src, start, end)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            out.push(subtree_root(hasher, src, start + k, end)?);
            end = start + k;
        } else {
            out.push(subtree_root(hasher, src, start, start + k)?);
            m -= k;
            start += k;
            b = false;
        }
    }
    out.reverse();
    Ok(out)
}

fn inner_proof_size(index: u64, size: u64) -> usize {
    (64 - (index ^ (size - 1)).leading_zeros()) as usize
}

fn decomp_incl_proof(index: u64, size: u64) -> (usize, usize) {
    let inner = inner_proof_size(index, size);
    // `inner` can be 64 (a shift Go defines as 0 and Rust does not).
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

fn chain_inner<H: TreeHasher>(h: &H, mut seed: Hash32, proof: &[Hash32], index: u64) -> Hash32 {
    for (i, p) in proof.iter().enumerate() {
        seed = if index.checked_shr(i as u32).unwrap_or(0) & 1 == 0 {
            h.hash_children(&seed, p)
        } else {
            h.hash_children(p, &seed)
        };
    }
    seed
}

fn chain_inner_right<H: TreeHasher>(h: &H, mut seed: Hash32, proof: &[Hash32], index: u64) -> Hash32 {
    for (i, p) in proof.iter().enumerate() {
        if index.checked_shr(i as u32).unwrap_or(0) & 1 == 1 {
            seed = h.hash_children(p, &seed);
        }
    }
    seed
}

fn chain_border_right<H: TreeHasher>(h: &H, mut seed: Hash32, proof: &[Hash32]) -> Hash32 {
    for p in proof {
        seed = h.hash_children(p, &seed);
    }
    seed
}

/// The root implied by an inclusion proof; checks index and length first.
pub fn root_from_inclusion_proof<H: TreeHasher>(
    hasher: &H,
    index: u64,
    size: u64,
    leaf: &Hash32,
    proof: &[Hash32],
) -> Result<Hash32, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decomp_incl_proof(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::WrongLength { got: proof.len(), want: inner + border });
    }
    let r = chain_inner(hasher, *leaf, &proof[..inner], index);
    Ok(chain_border_right(hasher, r, &proof[inner..]))
}

/// RFC 9162 §2.1.3.2: does `leaf` sit at `index` of the tree with `root`?
pub fn verify_inclusion<H: TreeHasher>(
    hasher: &H,
    index: u64,
    size: u64,
    leaf: &Hash32,
    proof: &[Hash32],
    root: &Hash32,
) -> Result<(), ProofError> {
    let got = root_from_inclusion_proof(hasher, index, size, leaf, proof)?;
    if &got == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// RFC 9162 §2.1.4.2: is the tree `(size2, root2)` an append-only extension
/// of `(size1, root1)`?
pub fn verify_consistency<H: TreeHasher>(
    hasher: &H,
    size1: u64,
    size2: u64,
    root1: &Hash32,
    root2: &Hash32,
    proof: &[Hash32],
) -> Result<(), ProofError> {
    if size2 < size1 {
        return Err(ProofError::SizeOrder { old: size1, new: size2 });
    }
    if size1 == 0 {
        // As transparency-dev/merkle: every tree extends the empty tree, so
        // such a "proof" proves nothing and is refused rather than accepted.
        return Err(ProofError::FromEmpty);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::NonEmptyForEqualSizes);
        }
        return if root1 == root2 { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength { got: 0, want: 1 });
    }
    let (mut inner, border) = decomp_incl_proof(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    inner -= shift;
    let (seed, rest) = if size1 == 1u64 << shift { (*root1, proof) } else { (proof[0], &proof[1..]) };
    let want = proof.len() - rest.len() + inner + border;
    if proof.len() != want {
        return Err(ProofError::WrongLength { got: proof.len(), want });
    }
    let mask = (size1 - 1) >> shift;
    let h1 = chain_inner_right(hasher, seed, &rest[..inner], mask);
    let h1 = chain_border_right(hasher, h1, &rest[inner..]);
    if &h1 != root1 {
        return Err(ProofError::RootMismatch);
    }
    let h2 = chain_inner(hasher, seed, &rest[..inner], mask);
    let h2 = chain_border_right(hasher, h2, &rest[inner..]);
    if &h2 != root2 {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The nodes that appending leaf number `index` completes, as
/// `(level, index, hash)`, leaf first. `src` must hold every complete subtree
/// of the first `index` leaves.
pub fn append_nodes<H: TreeHasher, S: NodeSource + ?Sized>(
    hasher: &H,
    src: &S,
    index: u64,
    leaf: Hash32,
) -> Result<Vec<(u8, u64, Hash32)>, ProofError> {
    let mut out = Vec::with_capacity(8);
    let (mut level, mut i, mut h) = (0u8, index, leaf);
    out.push((level, i, h));
    while i & 1 == 1 {
        let left = src.node(level, i - 1)?;
        h = hasher.hash_children(&left, &h);
        level += 1;
        i >>= 1;
        out.push((level, i, h));
    }
    Ok(out)
}

/// An in-memory tree holding every complete subtree: for tests, the verifier
/// and small trees.
#[derive(Clone, Debug, Default)]
pub struct MemTree<H: TreeHasher> {
    hasher: H,
    levels: Vec<Vec<Hash32>>,
}

impl<H: TreeHasher> MemTree<H> {
    pub fn new(hasher: H) -> Self {
        MemTree { hasher, levels: Vec::new() }
    }
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }
    pub fn push(&mut self, leaf: Hash32) {
        let index = self.size();
        let nodes = append_nodes(&self.hasher, self, index, leaf).expect("MemTree holds all complete subtrees");
        for (level, _, h) in nodes {
            let level = level as usize;
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(h);
        }
    }
    pub fn root(&self) -> Hash32 {
        root(&self.hasher, self, self.size()).expect("complete")
    }
    pub fn root_at(&self, size: u64) -> Result<Hash32, ProofError> {
        if size > self.size() {
            return Err(ProofError::SizeOrder { old: size, new: self.size() });
        }
        root(&self.hasher, self, size)
    }
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash32>, ProofError> {
        if size > self.size() {
            return Err(ProofError::SizeOrder { old: size, new: self.size() });
        }
        inclusion_proof(&self.hasher, self, index, size)
    }
    pub fn consistency_proof(&self, old: u64, size: u64) -> Result<Vec<Hash32>, ProofError> {
        if size > self.size() {
            return Err(ProofError::SizeOrder { old: size, new: self.size() });
        }
        consistency_proof(&self.hasher, self, old, size)
    }
    /// Stored node, if complete.
    pub fn get(&self, level: u8, index: u64) -> Option<Hash32> {
        self.levels.get(level as usize).and_then(|l| l.get(index as usize)).copied()
    }
}

impl<H: TreeHasher> NodeSource for MemTree<H> {
    fn node(&self, level: u8, index: u64) -> Result<Hash32, ProofError> {
        self.get(level, index).ok_or(ProofError::MissingNode { level, index })
    }
}

/// Reference MTH straight from RFC 9162 §2.1.1 (recursive over leaves).
pub fn reference_root<H: TreeHasher>(hasher: &H, leaves: &[Hash32]) -> Hash32 {
    match leaves.len() {
        0 => hasher.empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            hasher.hash_children(&reference_root(hasher, &leaves[..k]), &reference_root(hasher, &leaves[k..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: u64) -> Vec<Hash32> {
        (0..n).map(|i| crate::hash::entry_hash(&i.to_le_bytes())).collect()
    }

    fn tree(n: u64) -> MemTree<Blake3Tree> {
        let mut t = MemTree::new(Blake3Tree);
        for l in leaves(n) {
            t.push(l);
        }
        t
    }

    #[test]
    fn roots_match_reference_for_small_sizes() {
        let t = tree(70);
        let ls = leaves(70);
        for n in 0..=70u64 {
            assert_eq!(t.root_at(n).unwrap(), reference_root(&Blake3Tree, &ls[..n as usize]), "size {n}");
        }
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        // found by the verify_proof fuzz target: inner proof size 64
        let leaf = [1u8; 32];
        let r = root_from_inclusion_proof(&Blake3Tree, 0, u64::MAX, &leaf, &[]);
        assert!(matches!(r, Err(ProofError::WrongLength { .. })));
        let r = verify_consistency(&Blake3Tree, 1, u64::MAX, &leaf, &leaf, &[leaf; 3]);
        assert!(r.is_err());
    }

    #[test]
    fn every_proof_verifies_up_to_33() {
        let t = tree(33);
        let ls = leaves(33);
        for n in 1..=33u64 {
            let r = t.root_at(n).unwrap();
            for i in 0..n {
                let p = t.inclusion_proof(i, n).unwrap();
                verify_inclusion(&Blake3Tree, i, n, &ls[i as usize], &p, &r).unwrap();
            }
            assert_eq!(t.consistency_proof(0, n), Err(ProofError::FromEmpty));
            for m in 1..=n {
                let p = t.consistency_proof(m, n).unwrap();
                verify_consistency(&Blake3Tree, m, n, &t.root_at(m).unwrap(), &r, &p).unwrap();
            }
        }
    }

    proptest! {
        #[test]
        fn inclusion_fails_when_anything_changes(n in 1u64..300, i_seed in any::<u64>(), flip in any::<(usize, u8)>()) {
            let t = tree(n);
            let i = i_seed % n;
            let leaf = leaves(n)[i as usize];
            let r = t.root();
            let p = t.inclusion_proof(i, n).unwrap();
            prop_assert!(verify_inclusion(&Blake3Tree, i, n, &leaf, &p, &r).is_ok());
            // a different index
            let j = (i + 1 + flip.0 as u64 % n.max(2)) % n;
            if j != i {
                prop_assert!(verify_inclusion(&Blake3Tree, j, n, &leaf, &p, &r).is_err());
            }
            // against the next tree's root (a size and root that do belong
            // together): the old proof must not verify
            let r_next = tree(n + 1).root();
            prop_assert!(verify_inclusion(&Blake3Tree, i, n + 1, &leaf, &p, &r_next).is_err());
            // one flipped bit in the proof
            if !p.is_empty() {
                let mut q = p.clone();
                let k = flip.0 % q.len();
                q[k][(flip.1 as usize) % 32] ^= 1 << (flip.1 % 8);
                prop_assert!(verify_inclusion(&Blake3Tree, i, n, &leaf, &q, &r).is_err());
                let mut short = p.clone();
                short.pop();
                prop_assert!(verify_inclusion(&Blake3Tree, i, n, &leaf, &short, &r).is_err());
            }
            let mut long = p.clone();
            long.push([0; 32]);
            prop_assert!(verify_inclusion(&Blake3Tree, i, n, &leaf, &long, &r).is_err());
        }

        #[test]
        fn consistency_fails_when_anything_changes(n in 2u64..300, m_seed in any::<u64>(), flip in any::<(usize, u8)>()) {
            let t = tree(n);
            let m = 1 + m_seed % (n - 1);
            let (r1, r2) = (t.root_at(m).unwrap(), t.root());
            let p = t.consistency_proof(m, n).unwrap();
            prop_assert!(verify_consistency(&Blake3Tree, m, n, &r1, &r2, &p).is_ok());
            let mut q = p.clone();
            let k = flip.0 % q.len();
            q[k][(flip.1 as usize) % 32] ^= 1 << (flip.1 % 8);
            prop_assert!(verify_consistency(&Blake3Tree, m, n, &r1, &r2, &q).is_err());
            let r_next = tree(n + 1).root();
            prop_assert!(verify_consistency(&Blake3Tree, m, n + 1, &r1, &r_next, &p).is_err());
            if m > 1 {
                prop_assert!(verify_consistency(&Blake3Tree, m - 1, n, &r1, &r2, &p).is_err());
            }
            let mut long = p.clone();
            long.push([0; 32]);
            prop_assert!(verify_consistency(&Blake3Tree, m, n, &r1, &r2, &long).is_err());
        }
    }
}
