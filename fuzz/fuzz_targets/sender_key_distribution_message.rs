#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hush_fuzz_targets::group::sender_key_distribution_message(data)
});
