#![no_main]
// Body in pil-ledger-core::fuzzing; also run as a test over fuzz/corpus/decode_entry.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pil_ledger_core::fuzzing::decode_entry(data));
