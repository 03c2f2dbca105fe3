# shellcheck shell=bash disable=SC2034
# targets/lib.sh: shared by targets/build, targets/install-deps and tests/static/*. Sourced,
# never run. Everything a target needs is in targets/<triple>.env; this file only knows the two
# recipe kinds ("rustup": prebuilt std + rust-lld, "buildstd": std from rust-src + zig's musl).
#
# Knobs (environment):
#   RENO_TOOLS            where the pip venv (ziglang, cargo-zigbuild) and zig's cache live;
#                         default target/tools, so one `target/` cache covers everything.
#   CARGO_TARGET_DIR      as usual; binaries land in $CARGO_TARGET_DIR/<triple>/release/reno.
#   RENO_EXTRA_RUSTFLAGS  appended to the recipe's flags (size experiments).
# The size levers (targets/README.md, "Size"), all on by default for every target:
#   RENO_SIZE_LEVERS=0    all off: prebuilt std where rustup has one, panic=abort with its
#                         message, unwind tables; for a board where a panic must be read.
#   RENO_BUILD_STD        1: std from rust-src on "rustup" targets too ("buildstd" always).
#   RENO_BUILD_STD_FEATURES  -Zbuild-std-features= (default optimize_for_size; empty: none).
#   RENO_PANIC            immediate-abort (default: a panic is a bare trap, no message, no
#                         formatting or backtrace code in the binary) or abort (the profile's).
#   RENO_UNWIND_TABLES    no (default: no .eh_frame; nothing unwinds once panics abort) or yes.

RENO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RENO_TOOLS=${RENO_TOOLS:-$RENO_ROOT/target/tools}
RENO_VENV=$RENO_TOOLS/venv
# Pinned so a fresh machine builds exactly what was measured (targets/README.md).
ZIGLANG_VERSION=0.15.2
CARGO_ZIGBUILD_VERSION=0.24.1
# zig builds its musl + compiler-rt per target once (~45 s) and caches them here.
export ZIG_GLOBAL_CACHE_DIR=${ZIG_GLOBAL_CACHE_DIR:-$RENO_TOOLS/zig-cache}

die() { echo "error: $*" >&2; exit 1; }

all_triples() {
    local f
    for f in "$RENO_ROOT"/targets/*.env; do basename "$f" .env; done
}

# load_recipe TRIPLE: sets RECIPE, LINKER, TARGET_RUSTFLAGS, QEMU from targets/TRIPLE.env.
load_recipe() {
    local f=$RENO_ROOT/targets/$1.env
    [ -f "$f" ] || die "unknown target '$1' (known: $(all_triples | tr '\n' ' '))"
    RECIPE='' LINKER='' TARGET_RUSTFLAGS='' QEMU=''
    # shellcheck disable=SC1090
    . "$f"
    case $RECIPE in rustup|buildstd) ;; *) die "$f: RECIPE must be rustup or buildstd" ;; esac
}

target_dir() { echo "${CARGO_TARGET_DIR:-$RENO_ROOT/target}"; }
bin_path() { echo "$(target_dir)/$1/release/reno"; }

# build_env TRIPLE: loads the recipe and exports what a release build of TRIPLE needs
# (RUSTFLAGS, linker, RUSTC_BOOTSTRAP); sets STD_ARGS (the -Zbuild-std arguments, if any).
# Call it in a subshell. RUSTFLAGS (not .cargo/config.toml): with --target it applies to the
# target only, not to build scripts, and keeps a plain `cargo build` / `cargo test` untouched.
build_env() {
    load_recipe "$1"
    local up build_std=1 std_features=optimize_for_size panic=immediate-abort unwind=no
    up=$(echo "$1" | tr 'a-z.-' 'A-Z__')
    unset CARGO_ENCODED_RUSTFLAGS
    if [ "${RENO_SIZE_LEVERS:-1}" = 0 ]; then build_std=0 std_features='' panic=abort unwind=''; fi
    build_std=${RENO_BUILD_STD-$build_std}
    std_features=${RENO_BUILD_STD_FEATURES-$std_features}
    panic=${RENO_PANIC-$panic}
    unwind=${RENO_UNWIND_TABLES-$unwind}
    [ "$RECIPE" = buildstd ] && build_std=1
    local flags=$TARGET_RUSTFLAGS
    case $panic in
        immediate-abort) flags+=' -Zunstable-options -Cpanic=immediate-abort'; build_std=1 ;;
        abort) ;;   # the release profile's panic = "abort"
        *) die "RENO_PANIC must be immediate-abort or abort" ;;
    esac
    [ -n "$unwind" ] && flags+=" -Cforce-unwind-tables=$unwind"
    export RUSTFLAGS="$flags${RENO_EXTRA_RUSTFLAGS:+ $RENO_EXTRA_RUSTFLAGS}"
    [ -n "$LINKER" ] && export "CARGO_TARGET_${up}_LINKER=$LINKER"
    STD_ARGS=()
    if [ "$build_std" = 1 ]; then
        export RUSTC_BOOTSTRAP=1   # -Z flags on the stable toolchain
        STD_ARGS=('-Zbuild-std=std,panic_abort')
        [ -n "$std_features" ] && STD_ARGS+=("-Zbuild-std-features=$std_features")
    fi
    [ "$RECIPE" = buildstd ] && export PATH="$RENO_VENV/bin:$PATH"
    return 0
}

# cargo_build TRIPLE: one release build of the recipe, in a subshell so no env leaks.
cargo_build() (
    local triple=$1 out
    build_env "$triple"
    out=$(target_dir)
    if [ ${#STD_ARGS[@]} -gt 0 ]; then
        # proc-macro2's build script reruns when RUSTC_BOOTSTRAP changes, so sharing the host
        # artifacts (target/release) with the non-bootstrap builds would rebuild every proc
        # macro and everything above it on each switch. Own target dir per triple (so
        # targets/build can run two builds at once: cargo locks a whole target dir); the
        # binary is copied.
        export CARGO_TARGET_DIR=$out/bootstrap/$triple
    fi
    cd "$RENO_ROOT" || return
    if [ "$RECIPE" = buildstd ]; then
        cargo zigbuild --release --locked --target "$triple" "${STD_ARGS[@]}" --bin reno || return
    else
        cargo build --release --locked --target "$triple" "${STD_ARGS[@]}" --bin reno || return
    fi
    if [ "${CARGO_TARGET_DIR:-}" = "$out/bootstrap/$triple" ]; then
        mkdir -p "$out/$triple/release" &&
            cp -p "$out/bootstrap/$triple/$triple/release/reno" "$out/$triple/release/reno"
    fi
)

# link_verdict BIN: file's one-line verdict.
link_verdict() { file -b "$1"; }

# is_static BIN: file says statically linked (static-pie counts) and there is no ELF
# interpreter; a dynamic binary would not start on a board without the loader.
is_static() {
    local v
    v=$(file -b "$1")
    case $v in
        *"dynamically linked"*) return 1 ;;
        *"statically linked"*|*"static-pie linked"*) ;;
        *) return 1 ;;
    esac
    if command -v readelf >/dev/null; then
        ! readelf -lW "$1" 2>/dev/null | grep -q 'program interpreter'
    fi
}

file_size() { stat -c %s "$1"; }
