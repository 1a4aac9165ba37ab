#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hush_fuzz_targets::group::group_membership(data));
