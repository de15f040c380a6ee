#![no_main]
// Body in pil-ledger-core::fuzzing; also run as a test over fuzz/corpus/verify_proof.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pil_ledger_core::fuzzing::verify_proof(data));
