//! The registry commitment (`schema/bundle.md` §1–2): which entries are
//! key-registry entries, the registry chain over them, and the registry
//! note the log key signs beside each checkpoint.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::SigningKey;

use crate::authority::Capacity;
use crate::note::{self, NoteError, NoteVerifier};
use crate::wire::{Body, Hash32};

/// BLAKE3 derive-key context of the registry chain.
pub const CTX_REGISTRY: &str = "pil-ledger v1 registry";

/// Suffix of the registry note's first line: `<origin>/registry`.
pub const REGISTRY_SUFFIX: &str = "/registry";

/// Does this body change a key's registry record? Genesis, enrolments,
/// revocations, and endorsements in capacity `key-officer`.
pub fn is_registry(body: &Body) -> bool {
    match body {
        Body::Genesis { .. } | Body::KeyEnrolled { .. } | Body::KeyRevoked { .. } => true,
        Body::Endorsed { capacity, .. } => Capacity::parse(capacity) == Some(Capacity::KeyOfficer),
        _ => false,
    }
}

/// The registry chain: `R_i = H(CTX_REGISTRY, R_(i-1) ‖ entry_hash_i)`,
/// `R_0` = 32 zero bytes, and the number of entries folded in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegistryChain {
    pub count: u64,
    pub root: Hash32,
}

impl RegistryChain {
    /// Fold in the next registry entry, by its entry hash.
    pub fn push(&mut self, entry_hash: &Hash32) {
        let mut h = blake3::Hasher::new_derive_key(CTX_REGISTRY);
        h.update(&self.root);
        h.update(entry_hash);
        self.root = *h.finalize().as_bytes();
        self.count += 1;
    }

    /// The chain over `hashes`, in order.
    pub fn over<'a>(hashes: impl IntoIterator<Item = &'a Hash32>) -> Self {
        let mut c = RegistryChain::default();
        for h in hashes {
            c.push(h);
        }
        c
    }
}

/// The body of a registry note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryNote {
    pub origin: String,
    /// Tree size of the checkpoint it stands beside.
    pub size: u64,
    /// That checkpoint's root.
    pub root: Hash32,
    /// The registry chain at `size`.
    pub chain: RegistryChain,
}

fn decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

fn hash_b64(s: &str) -> Option<Hash32> {
    let v = B64.decode(s).ok()?;
    let h: Hash32 = v.try_into().ok()?;
    (B64.encode(h) == s).then_some(h)
}

impl RegistryNote {
    pub fn to_text(&self) -> String {
        format!(
            "{}{REGISTRY_SUFFIX}\n{}\n{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root),
            self.chain.count,
            B64.encode(self.chain.root)
        )
    }

    /// Parse the note text (the lines before the blank line).
    pub fn parse_text(text: &str) -> Result<Self, NoteError> {
        let bad = NoteError::Malformed;
        let body = text.strip_suffix('\n').ok_or(bad("registry note text must end with a newline"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [first, size, root, count, chain] = lines[..] else {
            return Err(bad("a registry note has exactly five lines"));
        };
        let origin = first
            .strip_suffix(REGISTRY_SUFFIX)
            .filter(|o| !o.is_empty())
            .ok_or(bad("first line is not <origin>/registry"))?;
        Ok(RegistryNote {
            origin: origin.to_string(),
            size: decimal(size).ok_or(bad("tree size is not a canonical decimal"))?,
            root: hash_b64(root).ok_or(bad("root is not canonical base64 of 32 bytes"))?,
            chain: RegistryChain {
                count: decimal(count).ok_or(bad("registry count is not a canonical decimal"))?,
                root: hash_b64(chain).ok_or(bad("registry root is not canonical base64 of 32 bytes"))?,
            },
        })
    }

    /// Sign with the log key; the signer name is the origin, as for checkpoints.
    pub fn sign(&self, log_key: &SigningKey) -> Result<String, NoteError> {
        note::sign_note(&self.to_text(), &self.origin, log_key)
    }

    /// Verify a registry note against the log's verifier and parse it; its
    /// origin must be the verifier's name.
    pub fn open(note_bytes: &[u8], log: &NoteVerifier) -> Result<Self, NoteError> {
        let opened = note::open_note(note_bytes, std::slice::from_ref(log))?;
        let n = RegistryNote::parse_text(&opened.text)?;
        if n.origin != log.name {
            return Err(NoteError::Malformed("registry note names another origin than the verifier key"));
        }
        Ok(n)
    }
}
