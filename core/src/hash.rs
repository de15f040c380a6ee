//! Domain-separated BLAKE3 (DESIGN §3.2). One place for every context string.

use std::sync::LazyLock;

use crate::wire::Hash32;

pub const CTX_STATEMENT: &str = "pil-ledger v1 statement";
pub const CTX_ENTRY: &str = "pil-ledger v1 entry";
pub const CTX_NODE: &str = "pil-ledger v1 node";
pub const CTX_EMPTY: &str = "pil-ledger v1 empty";

/// `H(ctx, bytes) = blake3 derive_key(ctx) over bytes`.
pub fn h(ctx: &str, bytes: &[u8]) -> Hash32 {
    *blake3::Hasher::new_derive_key(ctx).update(bytes).finalize().as_bytes()
}

// Deriving the context key costs a compression; keep one prepared hasher per
// hot context and clone it (a memcpy).
static STATEMENT: LazyLock<blake3::Hasher> = LazyLock::new(|| blake3::Hasher::new_derive_key(CTX_STATEMENT));
static ENTRY: LazyLock<blake3::Hasher> = LazyLock::new(|| blake3::Hasher::new_derive_key(CTX_ENTRY));
static NODE: LazyLock<blake3::Hasher> = LazyLock::new(|| blake3::Hasher::new_derive_key(CTX_NODE));

/// The digest an author signs: `H("pil-ledger v1 statement", statement_bytes)`.
pub fn statement_digest(statement_bytes: &[u8]) -> Hash32 {
    *STATEMENT.clone().update(statement_bytes).finalize().as_bytes()
}

/// Entry hash = Merkle leaf: `H("pil-ledger v1 entry", entry_bytes)`.
pub fn entry_hash(entry_bytes: &[u8]) -> Hash32 {
    *ENTRY.clone().update(entry_bytes).finalize().as_bytes()
}

/// Merkle interior node: `H("pil-ledger v1 node", left ‖ right)`.
pub fn node(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut hs = NODE.clone();
    hs.update(left);
    hs.update(right);
    *hs.finalize().as_bytes()
}

/// Root of the empty tree: `H("pil-ledger v1 empty", "")`.
pub fn empty_root() -> Hash32 {
    h(CTX_EMPTY, b"")
}

/// Plain BLAKE3 of a file's bytes, streamed (evidence digests, §3.2).
pub fn file_blake3(reader: impl std::io::Read) -> std::io::Result<(Hash32, u64)> {
    let mut hs = blake3::Hasher::new();
    let n = std::io::copy(&mut std::io::BufReader::with_capacity(1 << 20, reader), &mut hs)?;
    Ok((*hs.finalize().as_bytes(), n))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn prepared_hashers_match_plain_derive_key() {
        assert_eq!(statement_digest(b"abc"), h(CTX_STATEMENT, b"abc"));
        assert_eq!(entry_hash(b"abc"), h(CTX_ENTRY, b"abc"));
        let (l, r) = ([1u8; 32], [2u8; 32]);
        let mut both = l.to_vec();
        both.extend_from_slice(&r);
        assert_eq!(node(&l, &r), h(CTX_NODE, &both));
    }
}
