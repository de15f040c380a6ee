#![no_main]
// Body in pil-ledger-core::fuzzing; also run as a test over fuzz/corpus/parse_checkpoint.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pil_ledger_core::fuzzing::parse_checkpoint(data));
