//! The acknowledgement of an append. A leaf module: the writer builds it,
//! the CLI and (later) the HTTP server print it.

use pil_ledger_core::wire::Hash32;

/// The acknowledgement of an append (or of a resubmission).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub seq: u64,
    pub hash: Hash32,
    /// The checkpoint note the proof is against.
    pub checkpoint: String,
    pub size: u64,
    pub proof: Vec<Hash32>,
    /// Ids the entry created (`case_id`, ...).
    pub created: Vec<(String, String)>,
    /// True when this statement was already in the log (idempotent resubmit).
    pub duplicate: bool,
}

impl Ack {
    /// `{"seq","hash","checkpoint","size","proof"}` plus the ids the entry
    /// created, and `"duplicate":true` for a resubmission (DESIGN §7.1).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "seq": self.seq,
            "hash": hex::encode(self.hash),
            "checkpoint": self.checkpoint,
            "size": self.size,
            "proof": self.proof.iter().map(hex::encode).collect::<Vec<_>>(),
        });
        for (k, val) in &self.created {
            v[k.as_str()] = serde_json::Value::String(val.clone());
        }
        if self.duplicate {
            v["duplicate"] = serde_json::Value::Bool(true);
        }
        v
    }
}
