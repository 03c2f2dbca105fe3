#![no_main]
//! libFuzzer entry for the `cli` target (see ../targets.rs): NUL-separated argv.
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = targets::cli(data);
});
