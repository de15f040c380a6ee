//! C2SP signed notes (Ed25519) and `tlog-checkpoint` bodies (DESIGN §3.6).
//!
//! Note = text (UTF-8, every line ending in `\n`) + `\n` + one or more
//! signature lines `— <name> <base64(key id ‖ signature)>\n`. Key id is the
//! first 4 bytes of `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)`. The
//! checkpoint body is `<origin>\n<size>\n<base64 root>\n[extensions]`; our
//! root is the BLAKE3 tree of §3.5, not SHA-256.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::wire::Hash32;

/// Signature type byte for Ed25519 in C2SP signed notes.
pub const ALG_ED25519: u8 = 0x01;
const DASH: &str = "\u{2014} ";
/// Bound on signature lines parsed from one note.
pub const MAX_SIGNATURES: usize = 100;
/// Bound on the size of a note accepted for parsing.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("note is not UTF-8")]
    NotUtf8,
    #[error("note is malformed: {0}")]
    Malformed(&'static str),
    #[error("verifier key is malformed: {0}")]
    BadVerifierKey(&'static str),
    #[error("no signature by a known key (name and key id)")]
    UnknownKey,
    #[error("signature by {0} does not verify")]
    BadSignature(String),
    #[error("checkpoint body is malformed: {0}")]
    BadCheckpoint(&'static str),
    #[error("key name is not valid (empty, or contains space, '+' or newline)")]
    BadName,
}

/// `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pk)[..4]` as a big-endian u32.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, ALG_ED25519]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// A verifier: name, key id and Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    pub name: String,
    pub key_id: u32,
    pub key: VerifyingKey,
}

impl NoteVerifier {
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadName);
        }
        Ok(NoteVerifier { name: name.to_string(), key_id: key_id(name, key.as_bytes()), key })
    }

    /// `<name>+<8 hex key id>+<base64(0x01 ‖ pk)>`.
    pub fn to_vkey_string(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }

    /// Parse a verifier key string, checking the key id against the key.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let s = s.trim_end_matches(['\n', '\r']);
        // Names never contain '+'; the base64 key may.
        let mut parts = s.splitn(3, '+');
        let (name, id_hex, b64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(b)) => (n, i, b),
            _ => return Err(NoteError::BadVerifierKey("want <name>+<keyid>+<key>")),
        };
        if !valid_name(name) {
            return Err(NoteError::BadVerifierKey("bad name"));
        }
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(NoteError::BadVerifierKey("key id is not 8 lowercase hex digits"));
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| NoteError::BadVerifierKey("key id"))?;
        let raw = B64.decode(b64).map_err(|_| NoteError::BadVerifierKey("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(NoteError::BadVerifierKey("key is not 0x01 ‖ 32-byte Ed25519 key"));
        }
        let pk: [u8; 32] = raw[1..].try_into().expect("33-1");
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| NoteError::BadVerifierKey("not a curve point"))?;
        if key.is_weak() {
            return Err(NoteError::BadVerifierKey("weak (small-order) key"));
        }
        let v = NoteVerifier::new(name, key).map_err(|_| NoteError::BadVerifierKey("bad name"))?;
        if v.key_id != id {
            return Err(NoteError::BadVerifierKey("key id does not match name and key"));
        }
        Ok(v)
    }
}

/// Sign `text` (which must be non-empty and end in `\n`) as `name`; returns
/// the whole note.
pub fn sign_note(text: &str, name: &str, key: &SigningKey) -> Result<String, NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::Malformed("text must be non-empty and end with a newline"));
    }
    let line = signature_line(text, name, key)?;
    Ok(format!("{text}\n{line}"))
}

/// Just the signature line `— name base64(keyid ‖ sig)\n` for `text`.
pub fn signature_line(text: &str, name: &str, key: &SigningKey) -> Result<String, NoteError> {
    if !valid_name(name) {
        return Err(NoteError::BadName);
    }
    let sig = key.sign(text.as_bytes());
    let mut raw = key_id(name, key.verifying_key().as_bytes()).to_be_bytes().to_vec();
    raw.extend_from_slice(&sig.to_bytes());
    Ok(format!("{DASH}{name} {}\n", B64.encode(raw)))
}

/// A note whose signature by at least one known verifier checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedNote {
    pub text: String,
    /// Names of the verifiers whose signatures verified.
    pub verified_by: Vec<String>,
}

/// Parse and verify a note against `verifiers`. Signatures by unknown keys
/// are ignored (C2SP), but at least one known key must have signed, and a
/// known key's signature that fails to verify refuses the whole note.
pub fn open_note(note: &[u8], verifiers: &[NoteVerifier]) -> Result<OpenedNote, NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::Malformed("note too large"));
    }
    let note = std::str::from_utf8(note).map_err(|_| NoteError::NotUtf8)?;
    if note.contains('\r') {
        return Err(NoteError::Malformed("carriage return in note"));
    }
    let split = note.rfind("\n\n").ok_or(NoteError::Malformed("no blank line before signatures"))?;
    let text = &note[..split + 1];
    let sigs = &note[split + 2..];
    if text.is_empty() || text.starts_with('\n') {
        return Err(NoteError::Malformed("empty text"));
    }
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed("missing signature lines"));
    }
    let mut verified = Vec::new();
    let mut count = 0;
    for line in sigs[..sigs.len() - 1].split('\n') {
        count += 1;
        if count > MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        let rest = line.strip_prefix(DASH).ok_or(NoteError::Malformed("signature line must start with '— '"))?;
        let (name, b64) =
            rest.split_once(' ').ok_or(NoteError::Malformed("signature line needs name and signature"))?;
        if !valid_name(name) || b64.contains(' ') {
            return Err(NoteError::Malformed("bad signature line"));
        }
        let raw = B64.decode(b64).map_err(|_| NoteError::Malformed("signature is not base64"))?;
        if raw.len() < 5 {
            return Err(NoteError::Malformed("signature too short"));
        }
        let id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let Some(v) = verifiers.iter().find(|v| v.name == name && v.key_id == id) else {
            continue; // unknown key: ignored, as C2SP says
        };
        let sig_bytes: [u8; 64] = raw[4..].try_into().map_err(|_| NoteError::BadSignature(name.to_string()))?;
        let sig = ed25519_dalek::Signature::from_bytes(&sig_bytes);
        v.key.verify_strict(text.as_bytes(), &sig).map_err(|_| NoteError::BadSignature(name.to_string()))?;
        if !verified.contains(&v.name) {
            verified.push(v.name.clone());
        }
    }
    if verified.is_empty() {
        return Err(NoteError::UnknownKey);
    }
    Ok(OpenedNote { text: text.to_string(), verified_by: verified })
}

/// A checkpoint body (C2SP tlog-checkpoint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash32,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root));
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    pub fn parse_text(text: &str) -> Result<Self, NoteError> {
        let body = text.strip_suffix('\n').ok_or(NoteError::BadCheckpoint("text must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|l| !l.is_empty()).ok_or(NoteError::BadCheckpoint("missing origin"))?;
        let size_s = lines.next().ok_or(NoteError::BadCheckpoint("missing tree size"))?;
        let canonical_decimal = !size_s.is_empty()
            && size_s.bytes().all(|b| b.is_ascii_digit())
            && (size_s == "0" || !size_s.starts_with('0'));
        if !canonical_decimal {
            return Err(NoteError::BadCheckpoint("tree size is not a canonical decimal"));
        }
        let size: u64 = size_s.parse().map_err(|_| NoteError::BadCheckpoint("tree size out of range"))?;
        let root_s = lines.next().ok_or(NoteError::BadCheckpoint("missing root hash"))?;
        let root_v = B64.decode(root_s).map_err(|_| NoteError::BadCheckpoint("root is not base64"))?;
        let root: Hash32 = root_v.try_into().map_err(|_| NoteError::BadCheckpoint("root is not 32 bytes"))?;
        if B64.encode(root) != root_s {
            return Err(NoteError::BadCheckpoint("root base64 is not canonical"));
        }
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(|e| e.is_empty()) {
            return Err(NoteError::BadCheckpoint("empty extension line"));
        }
        Ok(Checkpoint { origin: origin.to_string(), size, root, extensions })
    }

    /// Sign as the log: the note's signer name is the origin.
    pub fn sign(&self, log_key: &SigningKey) -> Result<String, NoteError> {
        sign_note(&self.to_text(), &self.origin, log_key)
    }

    /// Verify a checkpoint note against the log's verifier and parse it. The
    /// verifier's name must be the checkpoint's origin.
    pub fn open(note: &[u8], log: &NoteVerifier) -> Result<Checkpoint, NoteError> {
        let opened = open_note(note, std::slice::from_ref(log))?;
        let cp = Checkpoint::parse_text(&opened.text)?;
        if cp.origin != log.name {
            return Err(NoteError::BadCheckpoint("origin differs from the verifier key's name"));
        }
        Ok(cp)
    }
}
