#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hush_fuzz_targets::sealed::sealed_sender_certificate(data));
