#!/bin/sh
# Packages the robustness tests need on a fresh Debian machine (CI calls this):
# strace for the fault injection (tests/robustness_faults.rs), busybox-static for the
# test bundles. g++ is needed only for the optional libFuzzer build (tests/robustness/fuzz.sh).
set -eu
need=""
command -v strace >/dev/null 2>&1 || need="$need strace"
[ -x /bin/busybox ] || need="$need busybox-static"
[ -z "$need" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends $need || { apt-get update && apt-get install -y --no-install-recommends $need; }
