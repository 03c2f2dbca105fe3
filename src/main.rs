/// Short-lived processes bump through a static arena instead of musl's malloc (see the module).
#[global_allocator]
static ALLOCATOR: reno::linux::alloc::Arena = reno::linux::alloc::Arena;

fn main() {
    std::process::exit(reno::cli::main());
}
