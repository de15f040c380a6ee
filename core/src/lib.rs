//! pil-ledger core: wire format v1, hashing, Merkle proofs, C2SP checkpoints,
//! keys, authority and verification. No storage engine and no network here:
//! the `pil-ledger` crate puts sled, tokio and the CLI on top.
//!
//! Module map (one concept each):
//! - [`wire`]: `Statement`, `Entry`, `Body`; the canonical codec.
//! - [`hash`]: BLAKE3 domain separation.
//! - [`digest`]: evidence file digests (BLAKE3, SHA-256, SM3 in one pass; MD5/SHA-1 prior digests).
//! - [`merkle`]: RFC 9162 tree, proofs and verifiers, generic over the hasher.
//! - [`note`]: C2SP signed notes and checkpoints.
//! - [`keys`]: PEM key files, signing, strict and batched verification.
//! - [`authority`]: roles, kinds, the one kind table, endorsement capacities.
//! - [`names`]: holder names as dual control compares them.
//! - [`clock`]: bounds on the log's clock.
//! - [`state`]: the domain rules (`apply`), one room per domain, and derived indexes.
//! - [`fund_audit`]: the auditor's fund invariants over the derived records.
//! - [`file_check`]: the `verify-file` verdict.
//! - [`verify`]: verdicts, reasons, the whole-ledger verifier.
//! - [`bundle`]: court bundles (`pil-ledger-bundle/v1`), the registry commitment, the offline verifier.
//! - [`json`]: JSON views of entries and statements.
//! - [`fuzzing`]: fuzz target bodies, also run as tests over `fuzz/corpus`.

pub mod authority;
pub mod bundle;
pub mod clock;
pub mod digest;
pub mod file_check;
pub mod fund_audit;
pub mod fuzzing;
pub mod hash;
pub mod json;
pub mod keys;
pub mod merkle;
pub mod names;
pub mod note;
pub mod state;
pub mod verify;
pub mod wire;

pub use wire::{Body, Entry, Hash32, PublicKey, Statement};
