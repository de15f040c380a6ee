//! pil-ledger: storage (sled), the single writer with group commit, the CLI
//! and the stress driver, on top of `pil-ledger-core` (wire format, proofs,
//! checkpoints, authority, verification).

pub mod ack;
pub mod acked;
pub mod bundle_cli;
pub mod check;
pub mod cli;
pub mod client;
pub mod demo;
pub mod error;
pub mod evidence_add;
pub mod evidence_cli;
pub mod evidence_read;
pub mod files;
pub mod fund_cli;
pub mod fund_report;
pub mod ledger;
pub mod migrate;
pub mod server;
pub mod store;
pub mod stress;
pub mod writer;

pub use pil_ledger_core as core;
