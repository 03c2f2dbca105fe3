#!/bin/sh
# The long robustness mode, one command: 10,000 run/delete cycles (reno's fds, RSS, host
# mounts and cgroups sampled every 50 and required flat), the full fault matrix (every
# syscall reno makes, not only the host-changing ones), and 600 s of fuzzing per target.
#   tests/robustness/long-run.sh [CYCLES] [FUZZ_SECONDS_PER_TARGET]
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
sh tests/robustness/install-deps.sh
RENO_CYCLES=${1:-10000} nice -n 15 cargo test --test robustness long_run_cycles -- --nocapture
RENO_FAULT_FULL=1 nice -n 15 cargo test --test robustness_faults -- --test-threads 1 --nocapture
nice -n 15 sh tests/robustness/fuzz.sh "${2:-600}"
