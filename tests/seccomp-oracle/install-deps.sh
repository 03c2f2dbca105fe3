#!/bin/sh
# Installs what tests/seccomp_libseccomp.rs needs: libseccomp's Python binding, used as an
# oracle to compare reno's seccomp compiler with libseccomp. Without it that test prints
# "SKIP: python3-seccomp is not installed" and passes.
set -e
if ! /usr/bin/python3 -c 'import seccomp' 2>/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-seccomp
fi
