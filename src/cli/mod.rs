//! The command line: global flags, then one file per command. Parses with lexopt, resolves
//! paths and calls into `container`; no syscalls here.

pub fn main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!("reno version {}\ncommit: none\nspec: 1.2.0", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    eprintln!("reno: not implemented yet");
    1
}
