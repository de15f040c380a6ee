//! Court bundles (DESIGN §3.8; `schema/bundle.md`): the `pil-ledger-bundle/v1`
//! format and its offline verifier.
//!
//! A bundle carries one checkpoint, the registry note of the same size, the
//! entries in question and every key-registry entry below the checkpoint,
//! each with an inclusion proof. [`verify_bundle`] decides it from those
//! bytes and the verifier key the court trusts: no store, no network. The
//! registry note (a second note signed by the log key, [`commit`]) proves the
//! registry list complete, so authority is decided from the bundle alone.
//! A bundle may also carry the original evidence files of the entries in
//! question ([`files`]), each checked against its registered digests.
//!
//! Modules: [`commit`] (registry chain and note), `encoding` (hex and
//! base64 spellings), `checks` (the per-part checks), [`files`].

mod checks;
mod commit;
mod encoding;
pub mod files;

use serde::{Deserialize, Serialize};

pub use commit::{is_registry, RegistryChain, RegistryNote, CTX_REGISTRY, REGISTRY_SUFFIX};
pub use files::{file_matches, registered_file, BundleFile, FileSummary, MAX_FILES_TOTAL_BYTES, MAX_FILE_BYTES};

use crate::note::{Checkpoint, NoteVerifier};
use crate::verify::{Reason, Severity, VerdictKind, MAX_REASONS};
use crate::wire::{Entry, Hash32, Statement};
use checks::{check_chain, check_custody, check_item, check_kept, check_registry_list, decide_authority};

/// The `format` of a v1 bundle.
pub const FORMAT: &str = "pil-ledger-bundle/v1";
/// Largest bundle accepted, checked before it is read.
pub const MAX_BUNDLE_BYTES: u64 = 64 << 20;

/// A court bundle (`schema/bundle.md` §3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    pub vkey: String,
    pub checkpoint: String,
    pub registry_note: String,
    pub entries: Vec<BundleEntry>,
    pub registry: Vec<BundleEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
    /// Original evidence files of entries in question (optional).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<BundleFile>,
}

/// One entry with its inclusion proof against the bundle's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    pub seq: u64,
    #[serde(with = "encoding::bytes")]
    pub entry: Vec<u8>,
    #[serde(with = "encoding::hashes")]
    pub proof: Vec<Hash32>,
}

/// A consistency proof from an earlier tree to the bundle's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consistency {
    pub old_size: u64,
    #[serde(with = "encoding::hash")]
    pub old_root: Hash32,
    #[serde(with = "encoding::hashes")]
    pub proof: Vec<Hash32>,
}

/// Input that cannot be judged (exit 2, HTTP 400/413); not a verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle is {0} bytes, over the limit of {MAX_BUNDLE_BYTES}")]
    TooLarge(u64),
    #[error("not a {FORMAT} bundle: {0}")]
    Malformed(String),
    #[error("kept checkpoint: {0}")]
    Kept(String),
}

impl BundleError {
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::TooLarge(_) | BundleError::Malformed(_) => "invalid_bundle",
            BundleError::Kept(_) => "invalid_argument",
        }
    }
}

/// One bundled entry as the court reads it.
#[derive(Clone, Debug, Serialize)]
pub struct EntrySummary {
    pub seq: u64,
    #[serde(serialize_with = "hex::serde::serialize")]
    pub hash: Hash32,
    pub kind: &'static str,
    #[serde(serialize_with = "hex::serde::serialize")]
    pub author: Hash32,
    pub holder: Option<String>,
    pub unit: Option<String>,
    pub roles: Vec<&'static str>,
    pub recorded_at_ms: u64,
}

/// The answer to a bundle verification.
#[derive(Clone, Debug, Serialize)]
pub struct BundleVerdict {
    pub verdict: VerdictKind,
    pub reasons: Vec<Reason>,
    pub more_reasons: u64,
    pub origin: String,
    pub size: u64,
    #[serde(serialize_with = "hex::serde::serialize")]
    pub root: Hash32,
    pub registry_count: u64,
    pub entries: Vec<EntrySummary>,
    /// The carried files, each with whether it is the registered file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSummary>,
}

/// Parse a bundle (bounded, strict JSON, this format only).
pub fn parse_bundle(bytes: &[u8]) -> Result<Bundle, BundleError> {
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge(bytes.len() as u64));
    }
    let b: Bundle = serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed(e.to_string()))?;
    if b.format != FORMAT {
        return Err(BundleError::Malformed(format!("format is {:?}, want {FORMAT:?}", b.format)));
    }
    for w in b.entries.windows(2) {
        if w[1].seq <= w[0].seq {
            return Err(BundleError::Malformed(format!(
                "entries: seq {} after {}: entries are listed once each, ascending by seq",
                w[1].seq, w[0].seq
            )));
        }
    }
    files::check_shape(&b.files)?;
    Ok(b)
}

/// Verify a bundle file's bytes against the verifier key the court trusts
/// and, optionally, a checkpoint note it kept earlier.
pub fn verify_bundle(bytes: &[u8], vkey: &NoteVerifier, kept: Option<&[u8]>) -> Result<BundleVerdict, BundleError> {
    let b = parse_bundle(bytes)?;
    let kept =
        match kept {
            None => None,
            Some(k) => Some(Checkpoint::open(k, vkey).map_err(|e| {
                BundleError::Kept(format!("not a checkpoint signed by {} ({e})", vkey.to_vkey_string()))
            })?),
        };
    check_bundle(&b, vkey, kept.as_ref())
}

/// Reasons, listed up to [`MAX_REASONS`] and counted beyond.
#[derive(Default)]
struct Found {
    reasons: Vec<Reason>,
    more: u64,
}

impl Found {
    fn add(&mut self, r: Reason) {
        if self.reasons.contains(&r) {
            return;
        }
        if self.reasons.len() < MAX_REASONS {
            self.reasons.push(r);
        } else {
            self.more += 1;
        }
    }
    fn error(&mut self, code: &str, seq: Option<u64>, message: impl Into<String>) {
        self.add(Reason::error(code, seq, message));
    }
    fn warning(&mut self, code: &str, seq: Option<u64>, message: impl Into<String>) {
        self.add(Reason::warning(code, seq, message));
    }
}

/// A bundled entry after the per-entry checks.
struct Item {
    seq: u64,
    hash: Hash32,
    decoded: Option<(Entry, Statement)>,
}

/// Decide a parsed bundle. `kept`: a checkpoint the court kept (already
/// verified under `vkey`).
pub fn check_bundle(b: &Bundle, vkey: &NoteVerifier, kept: Option<&Checkpoint>) -> Result<BundleVerdict, BundleError> {
    let mut f = Found::default();
    if NoteVerifier::parse(&b.vkey).ok().as_ref() != Some(vkey) {
        f.error("log_key_mismatch", None, "the bundle names another verifier key than the one trusted");
    }
    let cp = match Checkpoint::open(b.checkpoint.as_bytes(), vkey) {
        Ok(cp) => cp,
        Err(e) => {
            f.error("checkpoint_signature_invalid", None, format!("checkpoint: {e}; nothing in the bundle is proven"));
            return Ok(verdict(f, vkey, (0, [0; 32], 0), Vec::new(), Vec::new()));
        }
    };
    check_kept(b, &cp, kept, &mut f)?;
    let note = match RegistryNote::open(b.registry_note.as_bytes(), vkey) {
        Ok(n) => {
            if n.size != cp.size || n.root != cp.root {
                f.error(
                    "registry_note_mismatch",
                    None,
                    format!("the registry note is for the tree of size {}, not the checkpoint's {}", n.size, cp.size),
                );
            }
            Some(n)
        }
        Err(e) => {
            f.error("registry_note_invalid", None, format!("registry note: {e}"));
            None
        }
    };
    let registry: Vec<Item> = b.registry.iter().map(|e| check_item(e, &cp, vkey, &mut f)).collect();
    let entries: Vec<Item> = b.entries.iter().map(|e| check_item(e, &cp, vkey, &mut f)).collect();
    check_registry_list(&registry, note.as_ref(), vkey, &mut f);
    let summaries = decide_authority(&registry, &entries, vkey, &mut f);
    check_chain(&registry, &entries, &mut f);
    check_custody(&entries, &mut f);
    let files = files::check_files(&b.files, &entries, &mut f);
    let count = note.map_or(0, |n| n.chain.count);
    Ok(verdict(f, vkey, (cp.size, cp.root, count), summaries, files))
}

/// `tree`: the checkpoint's size and root, and the registry note's count.
fn verdict(
    mut f: Found,
    vkey: &NoteVerifier,
    tree: (u64, Hash32, u64),
    entries: Vec<EntrySummary>,
    files: Vec<FileSummary>,
) -> BundleVerdict {
    let (size, root, registry_count) = tree;
    f.reasons.sort_by_key(|r| (r.seq.unwrap_or(u64::MAX), r.severity == Severity::Warning));
    BundleVerdict {
        verdict: VerdictKind::from_reasons(&f.reasons),
        reasons: f.reasons,
        more_reasons: f.more,
        origin: vkey.name.clone(),
        size,
        root,
        registry_count,
        entries,
        files,
    }
}

#[cfg(test)]
mod tests;
