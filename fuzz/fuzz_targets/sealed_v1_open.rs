#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hush_fuzz_targets::sealed::sealed_v1_open(data));
