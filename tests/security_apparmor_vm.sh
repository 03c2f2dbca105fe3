#!/usr/bin/env bash
# AppArmor for real: this project's hosts have no LSM, so boot Debian's kernel (AppArmor
# enabled by default) under QEMU (TCG) with an initramfs holding reno (the debug build, with
# its shared libraries) and a busybox bundle, and check on the serial console that:
#   - `reno features` reports apparmor enabled;
#   - process.apparmorProfile "unconfined" is applied (the container reads it back from
#     /proc/self/attr/current), for `run` and for `exec --apparmor`;
#   - a profile the kernel doesn't know fails `create` with the kernel's error.
# The kernel comes from tests/vm's cache (tests/vm/run x86_64 fetches it); without it, or
# without qemu-system-x86_64, this prints SKIP with the reason.
#   tests/security_apparmor_vm.sh [RENO_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
reno=${1:-${CARGO_TARGET_DIR:-target}/debug/reno}
cache=${RENO_VM_CACHE:-/var/cache/reno-vm}
kernel=$(ls "$cache"/x-amd64/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
skip() { echo "SKIP: security_apparmor_vm: $*"; exit 0; }
[ "$(uname -m)" = x86_64 ] || skip "x86_64 hosts only"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (tests/vm/install-deps)"
[ -n "$kernel" ] || skip "no Debian kernel in $cache/x-amd64 (run tests/vm/run x86_64 once)"
[ -x /bin/busybox ] || skip "no /bin/busybox (busybox-static)"
if [ ! -x "$reno" ] && [ -z "${1:-}" ]; then cargo build --quiet; fi
[ -x "$reno" ] || skip "no reno binary at $reno"

work=$(mktemp -d /tmp/reno-aa-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,tmp,run,lib64,lib/x86_64-linux-gnu,b/rootfs/bin}
cp /bin/busybox "$root"/bin/
for a in sh cat echo mount mkdir poweroff sleep grep; do ln -s busybox "$root/bin/$a"; done
cp "$reno" "$root"/bin/reno
# The debug build is dynamic: its libraries go along.
for lib in $(ldd "$reno" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
cp /bin/busybox "$root"/b/rootfs/bin/
for a in sh cat sleep true; do ln -s busybox "$root/b/rootfs/bin/$a"; done
mkdir -p "$root"/b/rootfs/{proc,dev,tmp}
python3 - "$root/b" <<'PY'
import json, sys, copy
base = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0},
                "args": ["sh", "-c", "echo current=$(cat /proc/self/attr/current)"],
                "env": ["PATH=/bin"], "cwd": "/", "apparmorProfile": "unconfined",
                "noNewPrivileges": True},
    "root": {"path": "rootfs"},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]},
}
for name, profile in [("ok", "unconfined"), ("missing", "reno-no-such-profile")]:
    c = copy.deepcopy(base)
    c["process"]["apparmorProfile"] = profile
    import os
    d = os.path.join(sys.argv[1], name)
    os.makedirs(d, exist_ok=True)
    os.symlink("../rootfs", os.path.join(d, "rootfs"))
    json.dump(c, open(os.path.join(d, "config.json"), "w"))
PY
cat > "$root"/init <<'SH'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t securityfs securityfs /sys/kernel/security
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
echo "aa: enabled=$(cat /sys/module/apparmor/parameters/enabled)"
echo "aa: features=$(reno features | grep -A1 '"apparmor"' | tr -d ' \n')"
reno --root /run/reno run --bundle /b/ok ok 2>&1 | sed 's/^/aa: run: /'
reno --root /run/reno create --bundle /b/missing missing 2>&1 | sed 's/^/aa: missing: /'
# exec --apparmor into a running container without a profile of its own.
sed 's/"apparmorProfile": "unconfined", //; s/echo current=[^"]*/sleep 30/' /b/ok/config.json > /tmp/c.json
mkdir -p /b/long && ln -s ../rootfs /b/long/rootfs && cp /tmp/c.json /b/long/config.json
reno --root /run/reno run -d --bundle /b/long long >/dev/null 2>&1
reno --root /run/reno exec --apparmor unconfined long cat /proc/self/attr/current 2>&1 | sed 's/^/aa: exec: /'
echo "aa: done"
poweroff -f
SH
chmod +x "$root"/init
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work"/initrd.gz
out=$work/console
timeout 180 qemu-system-x86_64 -M pc -accel tcg -cpu max -m 512 -smp 1 -nographic -no-reboot \
    -nic none -kernel "$kernel" -initrd "$work"/initrd.gz \
    -append "console=ttyS0 panic=-1 quiet" > "$out" 2>&1 || true
grep '^aa:' "$out" | tr -d '\r' || true
fail=0
check() { # DESCRIPTION PATTERN
    if grep -q "$2" "$out"; then echo "PASS $1"; else echo "FAIL $1"; fail=1; fi
}
check "kernel has AppArmor enabled" 'aa: enabled=Y'
check "features says apparmor enabled" 'aa: features=.*"apparmor":{"enabled":true'
check "run applies profile unconfined" '^aa: run: current=unconfined'
check "unknown profile fails create" '^aa: missing: .*apply AppArmor profile "reno-no-such-profile".*no AppArmor profile of that name'
check "exec --apparmor applies the profile" '^aa: exec: unconfined'
check "the script ran to its end" '^aa: done'
[ $fail = 0 ] || { echo "console:"; tail -n 40 "$out"; exit 1; }
