#![no_main]
//! libFuzzer entry for the `state` target (see ../targets.rs).
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::state(data));
