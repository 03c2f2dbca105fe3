#!/bin/sh
# Fuzz reno's four input surfaces (config.json, argv, linux.seccomp, state.json).
#   tests/robustness/fuzz.sh            CI mode: stable in-process driver, 10 s per target
#   tests/robustness/fuzz.sh 600        long mode: 600 s per target, libFuzzer when it builds
#   RENO_LIBFUZZER=0 fuzz.sh 600        long mode with the stable driver only
# libFuzzer needs a nightly toolchain (coverage instrumentation); cargo-fuzz is not needed:
# the flags it passes are spelled out below. Crashes land in tests/fuzz/artifacts/<target>/
# (libFuzzer) or tests/fuzz/crashes/<target>/ (stable); fixed ones go to
# tests/fuzz/regressions/<target>/, which the stable driver replays on every run.
set -eu
secs=${1:-10}
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
: "${CARGO_TARGET_DIR:=$here/target}"
export CARGO_TARGET_DIR

stable() {
    RENO_FUZZ_SECS=$secs cargo test --test robustness_fuzz -- --nocapture
}

if [ "$secs" -le 10 ] || [ "${RENO_LIBFUZZER:-1}" = 0 ] || ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    stable
    exit
fi

triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks \
${RENO_FUZZ_RUSTFLAGS:-}"
fuzz_target="$CARGO_TARGET_DIR/libfuzzer"
if ! (cd tests/fuzz && CARGO_TARGET_DIR=$fuzz_target cargo +nightly build --release --target "$triple" --bins); then
    echo "fuzz.sh: libFuzzer build failed; using the stable driver" >&2
    stable
    exit
fi
status=0
for t in spec seccomp state cli; do
    corpus=tests/fuzz/corpus/$t
    mkdir -p "$corpus" "tests/fuzz/artifacts/$t"
    case $t in
        spec) [ -e "$corpus/default" ] || { cargo run -q -- spec --bundle "$corpus" && mv -f "$corpus/config.json" "$corpus/default"; } ;;
        seccomp) cp -f tests/data/podman-seccomp.json "$corpus/podman" ;;
        state) printf '%s' '{"ociVersion":"1.2.0","id":"c","pid":1,"status":"created","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00Z","owner":"","reno":{"startTime":5,"cgroup":"/reno/c","sharedPidns":false}}' >"$corpus/seed" ;;
        cli) printf 'delete\000--force\000c1' >"$corpus/seed" ;;
    esac
    for f in tests/fuzz/regressions/$t/*; do [ -f "$f" ] && cp -f "$f" "$corpus/"; done
    echo "== libFuzzer $t for $secs s"
    "$fuzz_target/$triple/release/$t" "$corpus" -max_total_time="$secs" -rss_limit_mb=2048 -close_fd_mask=3 \
        -artifact_prefix="tests/fuzz/artifacts/$t/" -print_final_stats=1 >"$CARGO_TARGET_DIR/fuzz-$t.log" 2>&1 || status=1
    grep -E 'stat::number_of_executed_units|stat::new_units_added|ERROR|panicked' "$CARGO_TARGET_DIR/fuzz-$t.log" || true
done
exit $status
