//! Original evidence files carried in a bundle (`schema/bundle.md` §3, §4.11).
//!
//! A carried file names the seq of its registration (an `EvidenceRegistered`
//! or `EvidenceDerived` among the bundle's `entries`) and the evidence id.
//! It matches when its length is the registered `size` and every digest the
//! registration lists (BLAKE3, SHA-256, SM3: the only algorithms the rules
//! allow there) equals the file's own. The same [`file_matches`] decides for
//! `bundle export --with-files` and for the verifier.

use serde::{Deserialize, Serialize};

use super::encoding;
use super::{BundleError, Found, Item};
use crate::digest::{self, Digest, DigestAlg};
use crate::wire::Body;

/// Largest carried file, in bytes (decoded).
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Largest total of the carried files, in bytes (decoded). Base64 makes them
/// a third larger in the bundle, which stays under its 64 MiB.
pub const MAX_FILES_TOTAL_BYTES: u64 = 32 << 20;

/// One carried file (`schema/bundle.md` §3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFile {
    /// Seq of the registration among `entries`.
    pub seq: u64,
    pub evidence_id: String,
    /// The file's bytes (standard base64 in the JSON).
    #[serde(with = "encoding::base64_std")]
    pub data: Vec<u8>,
}

/// A carried file as the court reads it in the verdict.
#[derive(Clone, Debug, Serialize)]
pub struct FileSummary {
    pub seq: u64,
    pub evidence_id: String,
    pub size: u64,
    /// True when the file is the registered one (no file reason at its seq).
    pub matches: bool,
}

/// What a registration says about its file: id, size, digests.
pub fn registered_file(body: &Body) -> Option<(&str, u64, &[Digest])> {
    match body {
        Body::EvidenceRegistered { evidence_id, size, digests, .. }
        | Body::EvidenceDerived { evidence_id, size, digests, .. } => Some((evidence_id, *size, digests)),
        _ => None,
    }
}

/// Does `data` match a registration of `size` bytes with `digests`? `Err`
/// says why not, in a sentence.
pub fn file_matches(data: &[u8], size: u64, digests: &[Digest]) -> Result<(), String> {
    if digests.is_empty() {
        return Err("its registration lists no digest (a physical item has no file)".into());
    }
    if let Some(d) = digests.iter().find(|d| !DigestAlg::COMPUTED.contains(&d.alg)) {
        return Err(format!("its registration lists a {} digest, which never identifies a file", d.alg));
    }
    if data.len() as u64 != size {
        return Err(format!("it is {} bytes, the registration says {size}", data.len()));
    }
    let mine = digest::hash_reader(data, &|_| {}).map_err(|e| format!("hashing: {e}"))?;
    for d in digests {
        if mine.matches(d) != Some(true) {
            return Err(format!("its {} digest is not the registered {d}", d.alg));
        }
    }
    Ok(())
}

/// Shape rules checked at parse time: seqs strictly ascending, each file
/// and the total within the limits.
pub(super) fn check_shape(files: &[BundleFile]) -> Result<(), BundleError> {
    let mut total = 0u64;
    for (i, f) in files.iter().enumerate() {
        if i > 0 && f.seq <= files[i - 1].seq {
            return Err(BundleError::Malformed(format!(
                "files: seq {} after {}: files are listed once each, ascending by seq",
                f.seq,
                files[i - 1].seq
            )));
        }
        let n = f.data.len() as u64;
        if n > MAX_FILE_BYTES {
            return Err(BundleError::Malformed(format!(
                "files: the file of seq {} is {n} bytes, over the limit of {MAX_FILE_BYTES}",
                f.seq
            )));
        }
        total += n;
    }
    if total > MAX_FILES_TOTAL_BYTES {
        return Err(BundleError::Malformed(format!(
            "files: {total} bytes together, over the limit of {MAX_FILES_TOTAL_BYTES}"
        )));
    }
    Ok(())
}

/// Each carried file against the registration it names, among the bundled
/// entries in question (`bundle.md` §4.11).
pub(super) fn check_files(files: &[BundleFile], entries: &[Item], f: &mut Found) -> Vec<FileSummary> {
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let seq = file.seq;
        let reg = entries
            .iter()
            .filter(|it| it.seq == seq)
            .find_map(|it| it.decoded.as_ref().and_then(|(_, st)| registered_file(&st.body)));
        let matches = match reg {
            Some((id, size, digests)) if id == file.evidence_id => match file_matches(&file.data, size, digests) {
                Ok(()) => true,
                Err(why) => {
                    f.error(
                        "file_digest_mismatch",
                        Some(seq),
                        format!("the carried file of {id} is not the registered file: {why}"),
                    );
                    false
                }
            },
            other => {
                let what = match other {
                    Some((id, ..)) => format!("the registration at seq {seq} is of {id:?}"),
                    None => format!("no bundled entry at seq {seq} registers an evidence file"),
                };
                f.error("file_not_registered", Some(seq), format!("a carried file of {:?}: {what}", file.evidence_id));
                false
            }
        };
        out.push(FileSummary { seq, evidence_id: file.evidence_id.clone(), size: file.data.len() as u64, matches });
    }
    out
}
