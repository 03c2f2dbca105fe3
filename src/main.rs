fn main() {
    std::process::exit(reno::cli::main());
}
