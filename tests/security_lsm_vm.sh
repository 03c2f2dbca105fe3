#!/usr/bin/env bash
# AppArmor and SELinux for real: this project's hosts have no LSM, so boot Debian's kernel
# under QEMU (TCG), once with AppArmor (its default) and once with `security=selinux`, with
# an initramfs holding reno (the debug build and its shared libraries), busybox, a static
# probe (tests/data/lsm/probe.c) and the policies of tests/data/lsm, and check on the serial
# console that:
#   AppArmor: the profile tests/data/lsm/reno-test-deny, loaded by Debian's apparmor_parser
#     in the guest, confines a container (attr/current says "reno-test-deny (enforce)", the
#     denied read and write get EACCES, the allowed ones work, the same probes pass in an
#     unconfined container); `exec --apparmor` applies it and a plain `exec` inherits the
#     config's; the host-side reno stays unconfined; "unconfined" and an unknown profile as
#     before (the latter fails `create` naming the step and the kernel's answer).
#   SELinux: the CIL policy tests/data/lsm/reno-test.cil (compiled here by secilc, loaded in
#     the guest through selinuxfs, then switched to enforcing) labels the container's process
#     (process.selinuxLabel; its session keyring too) and its mounts (linux.mountLabel:
#     context= on tmpfs and devpts, the xattr on mqueue, files created inherit it); a file
#     of a type the policy denies gets EACCES (an AVC denial), a domain the policy doesn't
#     let reno enter under no_new_privs fails execve with EPERM; `exec` inherits the label,
#     `exec --process-label` and process.json's selinuxLabel apply theirs; a label or mount
#     label the policy doesn't know fails `create` with the step and errno and leaves no
#     container (state, process) behind.
# The kernel comes from tests/vm's cache (tests/vm/run x86_64 fetches it); without it, or
# without qemu-system-x86_64, apparmor_parser, secilc or a static libc for gcc
# (tests/vm/install-deps installs them), the part that can't run prints SKIP with the reason.
#   tests/security_lsm_vm.sh [RENO_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
reno=${1:-${CARGO_TARGET_DIR:-target}/debug/reno}
cache=${RENO_VM_CACHE:-/var/cache/reno-vm}
kernel=$(ls "$cache"/x-amd64/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
skip() { echo "SKIP: security_lsm_vm: $*"; exit 0; }
[ "$(uname -m)" = x86_64 ] || skip "x86_64 hosts only"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (tests/vm/install-deps)"
[ -n "$kernel" ] || skip "no Debian kernel in $cache/x-amd64 (run tests/vm/run x86_64 once)"
[ -x /bin/busybox ] || skip "no /bin/busybox (busybox-static)"
if [ ! -x "$reno" ] && [ -z "${1:-}" ]; then cargo build --quiet; fi
[ -x "$reno" ] || skip "no reno binary at $reno"
data=tests/data/lsm

work=$(mktemp -d /tmp/reno-lsm-vm.XXXXXX)
[ -n "${RENO_LSM_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
gcc -static -Os -o "$work"/probe "$data"/probe.c 2>"$work"/gcc.err ||
    skip "gcc -static failed (no static libc?): $(head -n1 "$work"/gcc.err)"
lsms=""
parser=$(command -v apparmor_parser || ls /sbin/apparmor_parser /usr/sbin/apparmor_parser 2>/dev/null | head -n1 || true)
if [ -n "$parser" ]; then lsms="$lsms apparmor"; else
    echo "SKIP: security_lsm_vm: AppArmor: no apparmor_parser (package apparmor, tests/vm/install-deps)"; fi
if command -v secilc >/dev/null; then
    secilc -o "$work"/policy -f /dev/null "$data"/reno-test.cil
    lsms="$lsms selinux"
else
    echo "SKIP: security_lsm_vm: SELinux: no secilc (package secilc, tests/vm/install-deps)"
fi
[ -n "$lsms" ] || exit 0

root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,run,etc,lib64,lib/x86_64-linux-gnu}
cp /bin/busybox "$root"/bin/
for a in sh cat echo mount mkdir poweroff sleep grep sed ls dmesg head tr pidof; do ln -s busybox "$root/bin/$a"; done
cp "$reno" "$root"/bin/reno
bins="$reno"
if [ -n "$parser" ]; then
    cp "$parser" "$root"/sbin/apparmor_parser
    cp "$data"/reno-test-deny "$root"/etc/
    mkdir -p "$root"/etc/apparmor && : > "$root"/etc/apparmor/parser.conf  # (else it warns)
    bins="$bins $parser"
fi
if [ -f "$work"/policy ]; then cp "$work"/policy "$root"/etc/reno-test.policy; fi
cp "$work"/probe "$root"/bin/
# Dynamic binaries: their libraries go along.
for lib in $(ldd $bins | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
# The containers' rootfs: busybox, the probe, a check script, a secret, a read-only corner.
r=$root/b/rootfs
mkdir -p "$r"/{bin,proc,dev,tmp,etc,ro,data,secret}
cp /bin/busybox "$work"/probe "$r"/bin/
for a in sh cat echo sleep true grep; do ln -s busybox "$r/bin/$a"; done
echo secret > "$r"/etc/secret
echo ok > "$r"/etc/ok
cat > "$r"/check-aa <<'SH'
echo current=$(cat /proc/self/attr/current)
echo read-secret=$(probe read /etc/secret)
echo read-ok=$(probe read /etc/ok)
echo write-ro=$(probe write /ro/x)
echo write-tmp=$(probe write /tmp/x)
SH
cat > "$r"/check-se <<'SH'
echo current=$(cat /proc/self/attr/current)
for m in /data /dev /dev/pts; do echo "mount $m=$(grep " $m " /proc/mounts | sed 's/.*context=//; s/ .*//')"; done
echo mqueue=$(probe xattr /dev/mqueue security.selinux)
echo write-data=$(probe write /data/f)
echo file-label=$(probe xattr /data/f security.selinux)
echo read-secret=$(probe read /secret/s)
echo read-ok=$(probe read /etc/ok)
echo key-label=$(probe keylabel)
SH
python3 - "$root/b" <<'PY'
import json, sys, copy, os
L = "system_u:system_r:container_t:s0:c1,c2"
M = "system_u:object_r:container_file_t:s0:c1,c2"
base = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["sh", "/check-aa"],
                "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": True},
    "root": {"path": "rootfs"},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]},
}
se_mounts = base["mounts"] + [
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nodev"]},
    {"destination": "/secret", "type": "bind", "source": "/secret", "options": ["rbind", "ro"]},
]
def bundle(name, profile=None, label=None, mlabel=None, args=None, mounts=None):
    c = copy.deepcopy(base)
    if profile: c["process"]["apparmorProfile"] = profile
    if label: c["process"]["selinuxLabel"] = label
    if mlabel: c["linux"]["mountLabel"] = mlabel
    if args: c["process"]["args"] = args
    if mounts: c["mounts"] = mounts
    d = os.path.join(sys.argv[1], name)
    os.makedirs(d, exist_ok=True)
    os.symlink("../rootfs", os.path.join(d, "rootfs"))
    json.dump(c, open(os.path.join(d, "config.json"), "w"))
sleep = ["sleep", "60"]
bundle("aa-unconfined", profile="unconfined")
bundle("aa-deny", profile="reno-test-deny")
bundle("aa-missing", profile="reno-no-such-profile")
bundle("aa-long", args=sleep)
bundle("aa-long-deny", profile="reno-test-deny", args=sleep)
bundle("se-label", label=L, mlabel=M, args=["sh", "/check-se"], mounts=se_mounts)
bundle("se-long", label=L, mlabel=M, args=sleep, mounts=se_mounts)
bundle("se-bad", label="system_u:system_r:no_such_t:s0", mlabel=M, mounts=se_mounts)
bundle("se-nonnp", label="system_u:system_r:nonnp_t:s0", args=["true"])
bundle("se-badmount", label=L, mlabel="system_u:object_r:no_such_t:s0", mounts=se_mounts)
p = copy.deepcopy(base["process"])
p["args"] = ["sh", "-c", "echo $(cat /proc/self/attr/current)"]
p["selinuxLabel"] = "system_u:system_r:container_t:s0:c0"
json.dump(p, open(os.path.join(sys.argv[1], "process-c0.json"), "w"))
PY
cat > "$root"/init <<'SH'
#!/bin/sh
mount -t proc proc /proc
# Kernel messages (audit records above all) would interleave with our lines on the serial
# console and break them (a lost "aa: enabled=Y" in CI): console printk off; the checks read
# the audit records from dmesg instead.
echo 1 > /proc/sys/kernel/printk
# The firmware's terminal reset (ESC c, ESC [2J) has no newline: start on a fresh line.
echo
mount -t sysfs sysfs /sys
R="reno --root /run/reno"
# host-reno PREFIX ID: the host-side reno of a foreground exec, seen from outside.
host_reno() {
    $R exec "$2" sleep 3 >/dev/null 2>&1 &
    p=$!; sleep 1
    echo "$1: host-reno=$(cat /proc/$p/attr/current)"
    wait $p
}
init_label() { # PREFIX ID: the container's init, seen from the host.
    pid=$($R state "$2" | grep '"pid"' | tr -dc 0-9)
    echo "$1: init-label=$(cat /proc/$pid/attr/current)"
}
if grep -q security=selinux /proc/cmdline; then
    P=se
    mount -t selinuxfs selinuxfs /sys/fs/selinux
    echo "se: before=$(cat /proc/self/attr/current)"
    echo "se: features-before=$(reno features | grep -A1 '"selinux"' | tr -d ' \n')"
    cat /etc/reno-test.policy > /sys/fs/selinux/load && echo "se: loaded"
    echo 1 > /sys/fs/selinux/enforce
    echo "se: enforce=$(cat /sys/fs/selinux/enforce)"
    echo "se: shell=$(cat /proc/self/attr/current)"
    mount -t tmpfs tmpfs /run
    mount -t tmpfs tmpfs /tmp
    mkdir -p /secret
    mount -t tmpfs -o context=system_u:object_r:secret_t:s0 tmpfs /secret
    echo s > /secret/s
    echo "se: host-read-secret=$(probe read /secret/s)"
    echo "se: features=$(reno features | grep -A1 '"selinux"' | tr -d ' \n')"
    $R run --bundle /b/se-label label 2>&1 | sed 's/^/se: run: /'
    for b in bad badmount; do
        $R create --bundle /b/se-$b $b 2>&1 | sed "s/^/se: $b: /"
        echo "se: $b-left=$($R list -q | tr '\n' ' ')$(ls /run/reno | tr '\n' ' ')$(pidof reno)|"
    done
    $R run --bundle /b/se-nonnp nonnp 2>&1 | sed 's/^/se: nonnp: /'
    $R run -d --bundle /b/se-long long >/dev/null 2>&1
    init_label se long
    # (attr/current ends with a NUL, no newline: echo adds one)
    $R exec long sh -c 'echo $(cat /proc/self/attr/current)' 2>&1 | sed 's/^/se: exec-inherit: /'
    $R exec --process-label system_u:system_r:container_t:s0:c3 long sh -c 'echo $(cat /proc/self/attr/current)' 2>&1 | sed 's/^/se: exec-flag: /'
    $R exec -p /b/process-c0.json long 2>&1 | sed 's/^/se: exec-json: /'
    $R exec --process-label system_u:system_r:no_such_t:s0 long true 2>&1 | sed 's/^/se: exec-bad: /'
    host_reno se long
    dmesg | grep 'avc:  denied' | head -n 5 | sed 's/^/se: audit: /'
else
    P=aa
    mount -t securityfs securityfs /sys/kernel/security
    mount -t tmpfs tmpfs /run
    mount -t tmpfs tmpfs /tmp
    echo "aa: enabled=$(cat /sys/module/apparmor/parameters/enabled)"
    echo "aa: features=$(reno features | grep -A1 '"apparmor"' | tr -d ' \n')"
    apparmor_parser -K -r /etc/reno-test-deny 2>&1 | sed 's/^/aa: parser: /'
    echo "aa: loaded=$(cat /sys/kernel/security/apparmor/profiles | tr '\n' ' ')"
    echo "aa: shell=$(cat /proc/self/attr/current)"
    $R run --bundle /b/aa-unconfined u 2>&1 | sed 's/^/aa: unconfined: /'
    $R run --bundle /b/aa-deny d 2>&1 | sed 's/^/aa: deny: /'
    $R create --bundle /b/aa-missing missing 2>&1 | sed 's/^/aa: missing: /'
    $R run -d --bundle /b/aa-long long >/dev/null 2>&1
    $R exec --apparmor unconfined long cat /proc/self/attr/current 2>&1 | sed 's/^/aa: exec-unconfined: /'
    $R exec --apparmor reno-test-deny long sh /check-aa 2>&1 | sed 's/^/aa: exec-flag: /'
    $R exec long cat /proc/self/attr/current 2>&1 | sed 's/^/aa: exec-plain: /'
    $R run -d --bundle /b/aa-long-deny longdeny >/dev/null 2>&1
    init_label aa longdeny
    $R exec longdeny sh /check-aa 2>&1 | sed 's/^/aa: exec-inherit: /'
    host_reno aa longdeny
    dmesg | grep 'apparmor="DENIED"' | head -n 3 | sed 's/^/aa: audit: /'
fi
echo "$P: done"
poweroff -f
SH
chmod +x "$root"/init
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work"/initrd.gz

boot() { # LSM
    local extra=""
    [ "$1" = selinux ] && extra="security=selinux"
    timeout 180 qemu-system-x86_64 -M pc -accel tcg -cpu max -m 512 -smp 1 -nographic \
        -no-reboot -nic none -kernel "$kernel" -initrd "$work"/initrd.gz \
        -append "console=ttyS0 panic=-1 quiet $extra" > "$work/console-$1" 2>&1 || true
    # No CRs, no terminal escapes (SeaBIOS clears the screen before our first line).
    sed 's/\r//g; s/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' "$work/console-$1" > "$work/out-$1"
}
# One boot per LSM, side by side.
for l in $lsms; do boot "$l" & done
wait
fail=0
check() { # DESCRIPTION PATTERN (grep -E, in the console of the current LSM)
    if grep -Eq -- "$2" "$out"; then echo "PASS $1"; else echo "FAIL $1"; fail=1; fi
}
for l in $lsms; do
    out=$work/out-$l
    case $l in
    apparmor)
        grep '^aa:' "$out" || true
        check "aa: kernel has AppArmor enabled" '^aa: enabled=Y'
        check "aa: features says apparmor enabled" '^aa: features=.*"apparmor":\{"enabled":true'
        check "aa: apparmor_parser loaded reno-test-deny" '^aa: loaded=.*reno-test-deny \(enforce\)'
        check "aa: run applies profile unconfined" '^aa: unconfined: current=unconfined$'
        check "aa: unconfined container may read /etc/secret" '^aa: unconfined: read-secret=ok$'
        check "aa: unconfined container may write /ro" '^aa: unconfined: write-ro=ok$'
        check "aa: run applies reno-test-deny" '^aa: deny: current=reno-test-deny \(enforce\)$'
        check "aa: confined read of /etc/secret gets EACCES" '^aa: deny: read-secret=errno=EACCES$'
        check "aa: confined read of /etc/ok works" '^aa: deny: read-ok=ok$'
        check "aa: confined write below /ro gets EACCES" '^aa: deny: write-ro=errno=EACCES$'
        check "aa: confined write to /tmp works" '^aa: deny: write-tmp=ok$'
        check "aa: unknown profile fails create" '^aa: missing: .*apply AppArmor profile "reno-no-such-profile".*no AppArmor profile of that name'
        check "aa: exec --apparmor unconfined" '^aa: exec-unconfined: unconfined$'
        check "aa: exec --apparmor reno-test-deny applies it" '^aa: exec-flag: current=reno-test-deny \(enforce\)$'
        check "aa: exec --apparmor reno-test-deny denies" '^aa: exec-flag: read-secret=errno=EACCES$'
        check "aa: exec --apparmor reno-test-deny allows" '^aa: exec-flag: read-ok=ok$'
        check "aa: plain exec in an unconfined container is unconfined" '^aa: exec-plain: unconfined$'
        check "aa: container init confined, seen from the host" '^aa: init-label=reno-test-deny \(enforce\)$'
        check "aa: plain exec inherits the config's profile" '^aa: exec-inherit: current=reno-test-deny \(enforce\)$'
        check "aa: plain exec is denied as the config says" '^aa: exec-inherit: write-ro=errno=EACCES$'
        check "aa: host-side reno is unconfined" '^aa: host-reno=unconfined$'
        check "aa: kernel logged the denial" '^aa: audit: .*apparmor="DENIED".*profile="reno-test-deny" name="/etc/secret"'
        check "aa: the script ran to its end" '^aa: done'
        ;;
    selinux)
        L='system_u:system_r:container_t:s0:c1,c2'
        M='system_u:object_r:container_file_t:s0:c1,c2'
        grep '^se:' "$out" || true
        check "se: features says selinux disabled before a policy is loaded" '^se: features-before=.*"selinux":\{"enabled":false'
        check "se: policy loaded" '^se: loaded$'
        check "se: enforcing" '^se: enforce=1$'
        check "se: features says selinux enabled" '^se: features=.*"selinux":\{"enabled":true'
        check "se: run applies process.selinuxLabel" "^se: run: current=$L\$"
        check "se: tmpfs mount carries mountLabel (context=)" "^se: run: mount /data=\"$M\"(,|\$)"
        check "se: /dev tmpfs carries mountLabel" "^se: run: mount /dev=\"$M\"(,|\$)"
        check "se: devpts carries mountLabel" "^se: run: mount /dev/pts=\"$M\"(,|\$)"
        check "se: mqueue root labelled by xattr" "^se: run: mqueue=$M\$"
        check "se: a file created on the mount gets the label" "^se: run: write-data=ok\$"
        check "se: ... and carries it" "^se: run: file-label=$M\$"
        check "se: host reads secret_t" '^se: host-read-secret=ok$'
        check "se: container read of secret_t gets EACCES (enforcing)" '^se: run: read-secret=errno=EACCES$'
        check "se: container read of file_t works" '^se: run: read-ok=ok$'
        check "se: the session keyring carries the process label" "^se: run: key-label=$L\$"
        check "se: unknown label fails create, naming step and errno" '^se: bad: .*SELinux.*label "system_u:system_r:no_such_t:s0".*not a valid context in the loaded SELinux policy: Invalid argument \(errno 22\)'
        check "se: ... and leaves no container behind" '^se: bad-left=\|$'
        check "se: unknown mount label fails create, naming the mount and errno" '^se: badmount: .*mount /dev.*SELinux mount label "system_u:object_r:no_such_t:s0".*Invalid argument \(errno 22\)'
        check "se: ... and leaves no container behind (bad mount label)" '^se: badmount-left=\|$'
        check "se: a domain the policy forbids under no_new_privs: execve's EPERM, naming nnp_transition" '^se: nonnp: .*exec "/bin/true": .*nnp_transition.*Operation not permitted \(errno 1\)'
        check "se: container init labelled, seen from the host" "^se: init-label=$L\$"
        check "se: plain exec inherits the label" "^se: exec-inherit: $L\$"
        check "se: exec --process-label applies it" '^se: exec-flag: system_u:system_r:container_t:s0:c3$'
        check "se: exec -p process.json selinuxLabel applies it" '^se: exec-json: system_u:system_r:container_t:s0:c0$'
        check "se: exec with an unknown label fails" '^se: exec-bad: .*exec label "system_u:system_r:no_such_t:s0".*not a valid context.*Invalid argument \(errno 22\)'
        check "se: host-side reno keeps its own label" '^se: host-reno=system_u:system_r:kernel_t:s0'
        check "se: kernel logged the nnp_transition denial" '^se: audit: .*avc:  denied  \{ nnp_transition \}.*tcontext=system_u:system_r:nonnp_t:s0 tclass=process2 permissive=0'
        check "se: kernel logged the read denial" '^se: audit: .*avc:  denied  \{ (read|open) \}.*scontext=system_u:system_r:container_t:s0:c1,c2 tcontext=system_u:object_r:secret_t:s0'
        check "se: the script ran to its end" '^se: done'
        ;;
    esac
    if [ $fail = 1 ] && [ -z "${shown:-}" ]; then shown=1; echo "console ($l):"; tail -n 40 "$out"; fi
done
exit $fail
