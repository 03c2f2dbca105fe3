"""cgroup v2 with every controller (issue 7): only a booted kernel has them here.

One scenario, `cgroup-v2` (x86_64 and aarch64): init mounts cgroup2 and hands every
controller down; a privileged "driver" container (host PID namespace, the VM's /sys, /dev
and /bundles bound in) runs a shell script that drives the static reno inside the guest:
it creates containers from the bundles below, each with a group of `linux.resources`
fields, and prints every cgroup file as `@ CASE FILE VALUE`. The comparison with what runc
writes (EXPECT) happens here on the host, so the guest script stays dumb. Behaviour is
asserted the same way: the device BPF program denying an open, pause/resume through
cgroup.freeze, update, exec, ps, events --stats, an OOM event, a fork loop stopped by
pids.max, a cgroup namespace, bad input refused with nothing left behind. Rootless with a
delegated v2 subtree (systemd's Delegate=yes): uid 1000 gets its limits inside it, a limit on
a controller not delegated fails cleanly, and outside it the container runs without a cgroup.

brd.ko (RAM disks, /dev/ram0 = 1:0) gives io.max a real block device to throttle.
"""

import json
import re

import scenarios as SC

MIB = 1024 * 1024
ALL_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
# Applets the driver and the containers use beyond the shared list.
for _a in ("grep", "mknod", "kill", "wc", "sed", "test", "[", "mkdir", "rmdir", "chown", "id", "nsenter"):
    if _a not in SC.APPLETS:
        SC.APPLETS.append(_a)

# The cgroup files each case's container must show, as runc's fs2 writes them (v1→v2
# conversions: shares→weight 1 + (s-2)*9999/262142, blkio weight→io.weight
# 1 + (w-10)*9999/990, swap = memory+swap − memory).
EXPECT = {
    "all": {
        "memory.max": str(64 * MIB),
        "memory.low": str(32 * MIB),
        "memory.swap.max": str(32 * MIB),
        "memory.high": str(48 * MIB),  # unified
        "cpu.weight": "39",  # shares 1024
        "cpu.max": "30000 60000",
        "cpu.max.burst": "1000",
        "cpuset.cpus": "1",
        "cpuset.mems": "0",
        "pids.max": "33",
        "io.weight": "default 4950",  # blkio weight 500
        "io.max": "1:0 rbps=1048576 wbps=2097152 riops=100 wiops=200",
        "hugetlb.2MB.max": str(4 * MIB),
        "hugetlb.2MB.rsvd.max": str(4 * MIB),  # runc sets the reservation limit too
        "cgroup.max.descendants": "5",  # unified, a core key
        "memory.oom.group": "1",  # unified
    },
    "swap0": {"memory.max": str(16 * MIB), "memory.swap.max": "0"},  # swap == limit: none
    "swapmax": {"memory.max": str(32 * MIB), "memory.swap.max": "max"},  # swap -1
    "idle": {"cpu.idle": "1", "cpu.max": "max 50000"},  # period only: quota stays max
    "override": {"cpu.weight": "77", "pids.max": "max"},  # unified wins over shares; pids -1
    "relpath": {"pids.max": "7"},  # cgroupsPath "rel/x": under the root, as runc's cgroupfs
    # pids.max 5 stops a fork loop (see SCRIPTS): pids.events counts the refusals
    "forks": {"pids.current": "4", "limited": "yes"},
    # a cgroup namespace + a cgroup mount inside: the container's cgroup is its root
    "cgns": {"self": "0::/", "memory.max": str(24 * MIB), "sees-reno": "no", "host-view": "0::/reno/cgns"},
    "update": {  # after `reno update` flags (runc's conversions again)
        "memory.max": str(48 * MIB),
        "memory.swap.max": str(16 * MIB),  # --memory-swap 64m
        "cpu.max": "20000 50000",
        "cpu.weight": "20",  # --cpu-shares 512
        "pids.max": "9",
        "cpuset.cpus": "0",
        "io.weight": "default 910",  # --blkio-weight 100
    },
    "update-r": {  # after `reno update --resources -`
        "memory.low": str(8 * MIB),
        "memory.high": str(40 * MIB),
        "pids.max": "12",
        "memory.max": str(48 * MIB),  # untouched by the second update
    },
    # one half of a combined v2 file: the other half is kept, as runc keeps it from its config
    "update-partial": {"cpu.max": "20000 40000", "memory.swap.max": str(32 * MIB), "memory.max": str(48 * MIB)},
    "checkbefore": {"rc": "1", "says": "yes", "memory.max": str(48 * MIB)},  # limit below usage
    "pause": {"cgroup.freeze": "1", "frozen": "1", "status": "paused", "counter": "stopped"},
    "resume": {"cgroup.freeze": "0", "frozen": "0", "status": "running", "counter": "moves"},
    "dev": {"open-denied": "Operation not permitted", "null": "ok", "mknod": "ok"},
    "devallow": {"read": "ok", "write": "Operation not permitted", "other": "Operation not permitted"},
    "ps": {"has-init": "yes"},
    "events": {"oom": "yes"},
    "oom": {"dd-exit": "137"},  # the OOM killer, not a failed allocation
    # sub-cgroups the container made: `ps` lists their processes, delete removes them
    "nested": {"sub-procs": "1", "pids": "1"},
    "deleted": {"nested": "gone", "all": "gone", "cmd": "gone", "cmd-init": "dead", "oom": "gone", "relpath": "gone"},
    "exec": {"cgroup": "0::/reno/cmd"},  # `exec` joins the container's cgroup
    # Bad input: reno refuses, names the problem, leaves no cgroup behind.
    "bad-rt": {"rc": "1", "says": "yes", "left": "no"},
    "bad-key": {"rc": "1", "says": "yes", "left": "no"},
    "bad-path": {"rc": "1", "says": "yes", "left": "no"},
    "bad-wdev": {"rc": "1", "says": "yes", "left": "no"},
    "bad-rdma": {"rc": "1", "says": "yes", "left": "no"},
    "bad-net": {"rc": "1", "says": "yes", "left": "no"},
    # Rootless (uid 1000, its own id mapped to root) in the subtree delegated to it (ROOTLESS).
    "rl": {"uid": "1000", "rc": "0", "self": "0::/", "memory.max": str(32 * MIB), "pids.max": "16",
           "controllers": "memory pids", "uid_map": "0 1000 1", "left": "no",
           "deleg": "kept", "deleg-subtree": "memory pids", "state": "0"},
    # create, exec (joins the cgroup and its namespace), ps, delete
    "rlx": {"exec": "0::/", "procs": "1", "ps": "0", "left": "no"},
    "rlcpu": {"rc": "1", "says": "yes", "left": "no"},  # cpu is not delegated: refused, clean
    "rlnone": {"rc": "0", "self": "0::/dp/deleg/launcher", "made": "no"},  # outside: no cgroup
    "rllim": {"rc": "1", "says": "yes", "made": "no"},  # ... so limits there are refused
    "rlinner": {"rc": "1", "says": "yes", "left": "no"},  # launcher inside the delegated cgroup
}

# Fields with no v2 knob that are only hints: a warning each, the container is created.
WARNINGS = [r"memory\.swappiness has no cgroup v2 knob; ignored",
            r"blockIO\.leafWeight has no cgroup v2 knob; ignored"]

# What each bad case's error must mention.
BAD = {
    "bad-rt": ({"cpu": {"realtimeRuntime": 1000, "realtimePeriod": 100000}}, "no cgroup v2 knob"),
    "bad-key": ({"unified": {"nosuch.knob": "1"}}, "no such file"),
    "bad-path": ({"unified": {"../cgroup.procs": "1"}}, "'..'"),
    "bad-wdev": ({"blockIO": {"weightDevice": [{"major": 1, "minor": 0, "weight": 20}]}}, "BFQ"),
    # No RDMA device in the VM: the kernel refuses rdma.max and reno says so.
    "bad-rdma": ({"rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 10}}}, "rdma.max"),
    # net_cls/net_prio are v1 only: a limit on them names the missing controller.
    "bad-net": ({"network": {"classID": 1048577}}, "net_cls cgroup controller"),
}

RESOURCES = {
    "all": {
        "memory": {"limit": 64 * MIB, "reservation": 32 * MIB, "swap": 96 * MIB, "swappiness": 10,
                   "disableOOMKiller": False},
        "cpu": {"shares": 1024, "quota": 30000, "period": 60000, "burst": 1000, "cpus": "1", "mems": "0"},
        "pids": {"limit": 33},
        "blockIO": {"weight": 500, "leafWeight": 300,
                    "throttleReadBpsDevice": [{"major": 1, "minor": 0, "rate": 1048576}],
                    "throttleWriteBpsDevice": [{"major": 1, "minor": 0, "rate": 2097152}],
                    "throttleReadIOPSDevice": [{"major": 1, "minor": 0, "rate": 100}],
                    "throttleWriteIOPSDevice": [{"major": 1, "minor": 0, "rate": 200}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MIB}],
        "unified": {"memory.high": str(48 * MIB), "cgroup.max.descendants": "5", "memory.oom.group": "1"},
    },
    "swap0": {"memory": {"limit": 16 * MIB, "swap": 16 * MIB}},
    "swapmax": {"memory": {"limit": 32 * MIB, "swap": -1}},
    "idle": {"cpu": {"idle": 1, "period": 50000}},
    "override": {"cpu": {"shares": 1024}, "pids": {"limit": -1}, "unified": {"cpu.weight": "77"}},
    "cmd": {"memory": {"limit": 32 * MIB, "swap": 32 * MIB}, "pids": {"limit": 20}, "cpu": {"shares": 1024},
            "blockIO": {"weight": 500}},
    "oom": {"memory": {"limit": 8 * MIB, "swap": 8 * MIB}},
    "relpath": {"pids": {"limit": 7}},
    "forks": {"pids": {"limit": 5}},
    "cgns": {"memory": {"limit": 24 * MIB}},
    "nested": {"pids": {"limit": 50}},
    "devallow": {"devices": [{"allow": False, "access": "rwm"},
                             {"allow": True, "type": "b", "major": 1, "minor": 0, "access": "r"}]},
}
RESOURCES.update({k: v[0] for k, v in BAD.items()})

SCRIPTS = {
    # The inner shell forks sleeps until the limit (outer sh + inner sh + 3 sleeps = 5) and
    # dies of the failed fork; its 3 sleeps stay.
    "forks": "sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1000 & done' 2>/dev/null; exec sleep 1000",
    # Its own sub-cgroup through a writable cgroup mount (nsdelegate): a child moves into it.
    "nested": ("mkdir /sys/fs/cgroup/sub && sh -c 'echo $$ > /sys/fs/cgroup/sub/cgroup.procs; exec sleep 1000' &"
               "exec sleep 1000"),
    "cgns": ("echo @ cgns self $(cat /proc/self/cgroup); echo @ cgns memory.max $(cat /sys/fs/cgroup/memory.max);"
             "[ -e /sys/fs/cgroup/reno ] && echo @ cgns sees-reno yes || echo @ cgns sees-reno no; exec sleep 1000"),
    # A counter the driver reads through /proc/PID/root to see the container run or stop.
    "cmd": "while :; do echo x >> /tmp/c; done",
    "oom": "sleep 2; dd if=/dev/zero of=/dev/null bs=32M count=1; echo @ oom dd-exit $?; exec sleep 1000",
    # Nodes go in /dev: the containers' /tmp is nodev (EACCES before the cgroup is asked).
    # Default rules: 10:200 (tun) is not in runc's allow list; /dev/null is; mknod is always allowed.
    "dev": ("mknod /dev/t c 10 200 && echo @ dev mknod ok; cat /dev/t 2>&1 | sed 's/.*: /@ dev open-denied /';"
            "echo x > /dev/null && echo @ dev null ok"),
    # Only reads of 1:0 allowed: a read passes, a write and another device are refused.
    "devallow": ("mknod /dev/r b 1 0; mknod /dev/n c 1 11;"
                 "dd if=/dev/r of=/tmp/x bs=512 count=1 2>/dev/null && echo @ devallow read ok;"
                 "dd if=/tmp/x of=/dev/r bs=512 count=1 2>&1 | grep -o 'Operation not permitted' | sed 's/^/@ devallow write /';"
                 "dd if=/dev/n of=/dev/null bs=1 count=0 2>&1 | sed 's/.*: /@ devallow other /'"),
}

DRIVER = r"""
R="reno --root /run/reno"; C=/sys/fs/cgroup
show() { # CASE ID FILE...: print each cgroup file of container ID (lines joined by ';')
    k=$1; d=$C/reno/$2; shift 2
    for f; do
        if [ -e $d/$f ]; then echo "@ $k $f $(tr '\n' ';' < $d/$f | sed 's/;$//')"; else echo "@ $k $f <missing>"; fi
    done
}
gone() { [ -e $C/reno/$1 ] && echo yes || echo no; }
echo "@ host controllers $(cat $C/cgroup.controllers)"
echo "@ host subtree $(cat $C/cgroup.subtree_control)"
for c in all swap0 swapmax idle override relpath forks cgns nested; do
    $R create --bundle /bundles/cg-$c $c || echo "@ $c create failed"
done
show all all memory.max memory.low memory.swap.max memory.high cpu.weight cpu.max cpu.max.burst \
    cpuset.cpus cpuset.mems pids.max io.weight io.max hugetlb.2MB.max hugetlb.2MB.rsvd.max \
    cgroup.max.descendants memory.oom.group
show swap0 swap0 memory.max memory.swap.max
show swapmax swapmax memory.max memory.swap.max
show idle idle cpu.idle cpu.max
show override override cpu.weight pids.max
$R start forks; $R start cgns; $R start nested
echo "@ relpath pids.max $(cat $C/rel/x/pids.max)"
sleep 2
show forks forks pids.current
grep -q '^max [1-9]' $C/reno/forks/pids.events && echo "@ forks limited yes" || echo "@ forks limited no: $(cat $C/reno/forks/pids.events)"
echo "@ cgns host-view $(cat /proc/$($R state cgns | grep '"pid"' | grep -o '[0-9]*')/cgroup)"
$R delete --force all; echo "@ deleted all $(gone all | sed 's/no/gone/')"
echo "@ nested pids $($R ps --format json nested | tr -cd ',' | wc -c)"  # commas: 2 pids = 1
echo "@ nested sub-procs $(wc -l < $C/reno/nested/sub/cgroup.procs)"
for c in swap0 swapmax idle override relpath forks cgns nested; do $R delete --force $c; done
echo "@ deleted nested $(gone nested | sed 's/no/gone/')"
echo "@ deleted relpath $([ -e $C/rel/x ] && echo left || echo gone)"

# devices: the BPF program refuses what the rules do not allow
$R run --bundle /bundles/cg-dev dev
$R run --bundle /bundles/cg-devallow devallow

# commands on a running container
$R create --bundle /bundles/cg-cmd cmd && $R start cmd
pid=$($R state cmd | grep '"pid"' | grep -o '[0-9]*')
count() { wc -c < /proc/$pid/root/tmp/c 2>/dev/null || echo 0; }
sleep 1
$R pause cmd; sleep 0.3
show pause cmd cgroup.freeze
echo "@ pause frozen $(grep frozen $C/reno/cmd/cgroup.events | grep -o '[01]')"
echo "@ pause status $($R state cmd | grep '"status"' | sed 's/.*: "//; s/".*//')"
a=$(count); sleep 1; b=$(count)
[ "$a" -gt 0 ] && [ "$a" = "$b" ] && echo "@ pause counter stopped" || echo "@ pause counter $a-$b"
$R resume cmd
show resume cmd cgroup.freeze
echo "@ resume frozen $(grep frozen $C/reno/cmd/cgroup.events | grep -o '[01]')"
echo "@ resume status $($R state cmd | grep '"status"' | sed 's/.*: "//; s/".*//')"
sleep 1; c=$(count)
[ "$c" -gt "$b" ] && echo "@ resume counter moves" || echo "@ resume counter $b-$c"
echo "@ exec cgroup $($R exec cmd cat /proc/self/cgroup)"
$R ps --format json cmd | grep -qw "$pid" && echo "@ ps has-init yes" || echo "@ ps has-init no: $($R ps --format json cmd)"
$R ps cmd | sed 's/^/@ ps-table /'
$R update --memory 48m --memory-swap 64m --cpu-quota 20000 --cpu-period 50000 --cpu-shares 512 \
    --pids-limit 9 --cpuset-cpus 0 --blkio-weight 100 cmd || echo "@ update failed"
show update cmd memory.max memory.swap.max cpu.max cpu.weight pids.max cpuset.cpus io.weight
echo '{"memory": {"reservation": 8388608}, "pids": {"limit": 12}, "unified": {"memory.high": "41943040"}}' \
    | $R update --resources - cmd || echo "@ update-r failed"
show update-r cmd memory.low memory.high pids.max memory.max
$R update --cpu-period 40000 cmd || echo "@ update-partial cpu failed"
$R update --memory-swap 80m cmd || echo "@ update-partial swap failed"
show update-partial cmd cpu.max memory.swap.max memory.max
echo '{"memory": {"limit": 4096, "checkBeforeUpdate": true}}' | $R update -r - cmd > /tmp/err 2>&1
echo "@ checkbefore rc $?"
grep -q 'below usage' /tmp/err && echo "@ checkbefore says yes" || echo "@ checkbefore says no: $(cat /tmp/err)"
show checkbefore cmd memory.max
echo "@ stats $($R events --stats cmd)"
$R pause cmd  # delete --force must kill a frozen cgroup too
$R delete --force cmd; echo "@ deleted cmd $(gone cmd | sed 's/no/gone/')"
sleep 0.2; [ -e /proc/$pid ] && echo "@ deleted cmd-init alive" || echo "@ deleted cmd-init dead"

# an OOM kill inside the container shows up as an `oom` event
$R create --bundle /bundles/cg-oom oom && $R start oom
$R events --interval 1s oom > /tmp/ev & ev=$!
sleep 6; kill $ev
grep -q '"type":"oom"' /tmp/ev && echo "@ events oom yes" || echo "@ events oom no: $(cat /tmp/ev | tail -1)"
$R delete --force oom; echo "@ deleted oom $(gone oom | sed 's/no/gone/')"

# bad input: refused, named, nothing left
for c in BADCASES; do
    $R create --bundle /bundles/cg-$c $c > /tmp/err 2>&1; rc=$?
    eval want=\$want_$(echo $c | tr - _)
    grep -q -- "$want" /tmp/err && s=yes || s="no: $(head -c 300 /tmp/err)"
    echo "@ $c rc $rc"; echo "@ $c says $s"; echo "@ $c left $(gone $c)"
    $R delete --force $c 2>/dev/null
done

# Rootless in a delegated v2 subtree, as systemd's Delegate=yes leaves it: root enables memory
# and pids below dp, hands dp/deleg (the directory and the files systemd chowns) to uid 1000,
# and starts the launcher inside it: v2 moves a process only for a writer of the common
# ancestor's cgroup.procs, so the unprivileged launcher must already be in the subtree.
P=$C/dp; D=$P/deleg
mkdir -p $D/launcher && echo "+memory +pids" > $P/cgroup.subtree_control
chown 1000:1000 $D $D/cgroup.procs $D/cgroup.subtree_control $D/cgroup.threads $D/launcher $D/launcher/cgroup.procs
cat > /run/rl.sh <<'EOF'
R="reno --root /tmp/r-1000"; D=/sys/fs/cgroup/dp/deleg
echo "@ rl uid $(id -u)"
$R run --bundle /bundles/cg-rl rl; echo "@ rl rc $?"
echo "@ rl left $([ -e $D/rl ] && echo yes || echo no)"
$R create --bundle /bundles/cg-rlx rlx && $R start rlx
echo "@ rlx exec $($R exec rlx cat /proc/self/cgroup)"
echo "@ rlx procs $(wc -l < $D/rlx/cgroup.procs)"
echo "@ rlx ps $($R ps --format json rlx | tr -cd ',' | wc -c)"
$R delete --force rlx; echo "@ rlx left $([ -e $D/rlx ] && echo yes || echo no)"
$R run --bundle /bundles/cg-rlcpu rlcpu > /tmp/rl-err 2>&1; echo "@ rlcpu rc $?"
sed 's/^/rlcpu: /' /tmp/rl-err
grep -q 'rootless: cannot set cpu limits' /tmp/rl-err && echo "@ rlcpu says yes" || echo "@ rlcpu says no: $(head -c 300 /tmp/rl-err)"
echo "@ rlcpu left $([ -e $D/rlcpu ] && echo yes || echo no)"
$R run --bundle /bundles/cg-rlnone rlnone; echo "@ rlnone rc $?"
echo "@ rlnone made $([ -e /sys/fs/cgroup/nodeleg ] && echo yes || echo no)"
$R run --bundle /bundles/cg-rllim rllim > /tmp/rl-err 2>&1; echo "@ rllim rc $?"
sed 's/^/rllim: /' /tmp/rl-err
grep -q 'rootless: cannot set memory limits' /tmp/rl-err && echo "@ rllim says yes" || echo "@ rllim says no: $(head -c 300 /tmp/rl-err)"
echo "@ rllim made $([ -e /sys/fs/cgroup/nodeleg ] && echo yes || echo no)"
echo "@ rl state $(ls /tmp/r-1000 | wc -l)"
EOF
sh -c "echo \$\$ > $D/launcher/cgroup.procs && exec nsenter -S 1000 -G 1000 sh /run/rl.sh"
echo "@ rl deleg $([ -d $D ] && echo kept || echo gone)"
echo "@ rl deleg-subtree $(cat $D/cgroup.subtree_control)"
# The launcher left in the delegated cgroup itself: v2 enables nothing below it; said so.
I=$P/inner; mkdir $I && chown 1000:1000 $I $I/cgroup.procs $I/cgroup.subtree_control $I/cgroup.threads
sh -c "echo \$\$ > $I/cgroup.procs && exec nsenter -S 1000 -G 1000 reno --root /tmp/r-1000 run --bundle /bundles/cg-rlinner rlinner" > /tmp/rl-err 2>&1
echo "@ rlinner rc $?"; sed 's/^/rlinner: /' /tmp/rl-err
grep -q 'no-internal-process rule' /tmp/rl-err && echo "@ rlinner says yes" || echo "@ rlinner says no: $(head -c 300 /tmp/rl-err)"
echo "@ rlinner left $([ -e $I/c ] && echo yes || echo no)"
rmdir $D/launcher $D $I $P
echo "@ end"
"""


def _driver_script():
    bad = " ".join(BAD)
    wants = "".join(f"want_{k.replace('-', '_')}={json.dumps(v[1])}\n".replace("$", r"\$") for k, v in BAD.items())
    return wants + DRIVER.replace("BADCASES", bad)


class CgroupV2(SC.Scenario):
    """Compare every `@ CASE KEY VALUE` line of the driver with EXPECT."""

    LINE = re.compile(r"\] driver: @ (\S+) (\S+) ?(.*)$")

    def seen(self, console):
        got = {}
        for line in console:
            m = self.LINE.search(line)
            if m:
                got.setdefault(m.group(1), {})[m.group(2)] = m.group(3).strip()
        return got

    def results(self, console):
        got = self.seen(console)
        ok, bad = [], []
        for case, files in EXPECT.items():
            for f, want in files.items():
                have = got.get(case, {}).get(f)
                if have == want:
                    ok.append(f"{case}:{f}")
                else:
                    bad.append(f"{case} {f}: got {have!r}, want {want!r}")
        for w in WARNINGS:
            if any(re.search(r"\] driver: reno: warning: .*" + w, line) for line in console):
                ok.append(f"warning {w}")
            else:
                bad.append(f"no warning {w!r}")
        ev = self.stats_event(console)
        if ev is None:
            bad.append("events --stats: no JSON stats line")
        else:
            d = ev.get("data", {})
            checks = {
                "stats type": ev.get("type") == "stats",
                "stats cpu usage": d.get("cpu", {}).get("usage", {}).get("total", 0) > 0,
                "stats memory usage": d.get("memory", {}).get("usage", {}).get("usage", 0) > 0,
                "stats memory limit": d.get("memory", {}).get("usage", {}).get("limit") == 48 * MIB,
                "stats pids": d.get("pids", {}).get("current", 0) >= 1 and d.get("pids", {}).get("limit") == 12,
                "stats hugetlb 2MB": "2MB" in d.get("hugetlb", {}),
            }
            for name, good in checks.items():
                (ok if good else bad).append(name if good else f"{name}: {json.dumps(d)[:400]}")
        return ok, bad

    @staticmethod
    def stats_event(console):
        for line in console:
            m = re.search(r"\] driver: @ stats (\{.*\})\s*$", line)
            if m:
                try:
                    return json.loads(m.group(1))
                except ValueError:
                    return None
        return None

    def check(self, console):
        return self.results(console)[1]

    def report(self, console):
        ok, bad = self.results(console)
        got = self.seen(console)
        host = got.get("host", {})
        return [f"controllers: {host.get('controllers', '?')}",
                f"cgroup v2 assertions: {len(ok)} passed, {len(bad)} failed"]


def _bundle(id, script, resources, caps=None, host_pid=False, mounts=()):
    b = SC.Bundle(id, script, host_pid=host_pid, mounts=mounts)
    cfg = b.config()
    if resources:
        cfg["linux"]["resources"] = resources
    if caps:
        cfg["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    b.config = lambda: cfg
    return b


def _bind(path, ro=False, recursive=True):
    return {"destination": path, "type": "bind", "source": path,
            "options": ["rbind" if recursive else "bind", "ro" if ro else "rw"]}


def _driver():
    # /bundles without its submounts: an rbind would carry the driver's own /sys (mounted
    # inside /bundles/rootfs) into every container's rootfs.
    mounts = [_bind("/sys"), _bind("/bundles", ro=True, recursive=False),
              {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}]
    b = _bundle("driver", _driver_script(), {"devices": [{"allow": True, "access": "rwm"}]},
                caps=ALL_CAPS, host_pid=True, mounts=mounts)
    cfg = b.config()
    cfg["process"]["noNewPrivileges"] = False
    # No masks over its /proc: a rootless container's new user namespace may mount proc
    # only where one is fully visible (the kernel's mnt_too_revealing).
    cfg["linux"]["maskedPaths"] = []
    cfg["linux"]["readonlyPaths"] = []
    # The VM's devtmpfs instead of a private /dev: the driver opens no device itself, but
    # the containers it starts get their nodes from it.
    cfg["mounts"] = [m if m["destination"] != "/dev" else _bind("/dev") for m in cfg["mounts"]]
    return b


def _cgns(cfg, rw=False):
    cfg["linux"]["namespaces"].append({"type": "cgroup"})
    cfg["mounts"].append({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                          "options": ["nosuid", "noexec", "nodev", "ro"]})
    cfg["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                          "options": ["nosuid", "noexec", "nodev", "relatime", "rw" if rw else "ro"]})


# Config changes beyond resources and the script.
TWEAKS = {
    "relpath": lambda cfg: cfg["linux"].update(cgroupsPath="rel/x"),
    "cgns": _cgns,
    "nested": lambda cfg: _cgns(cfg, rw=True),
}


# Rootless bundles for uid 1000 (cgroupsPath, resources, a cgroup namespace, the script).
ROOTLESS = {
    "rl": ("/dp/deleg/rl", {"memory": {"limit": 32 * MIB}, "pids": {"limit": 16}}, True,
           "d=/sys/fs/cgroup/dp/deleg/rl; echo @ rl self $(cat /proc/self/cgroup);"
           "echo @ rl memory.max $(cat $d/memory.max); echo @ rl pids.max $(cat $d/pids.max);"
           "echo @ rl controllers $(cat $d/cgroup.controllers); echo @ rl uid_map $(cat /proc/self/uid_map)"),
    "rlx": ("/dp/deleg/rlx", {"pids": {"limit": 16}}, True, "exec sleep 1000"),
    "rlcpu": ("/dp/deleg/rlcpu", {"pids": {"limit": 16}, "cpu": {"shares": 512}}, True, "true"),
    "rlnone": ("/nodeleg/x", None, False, "echo @ rlnone self $(cat /proc/self/cgroup)"),
    "rllim": ("/nodeleg/y", {"memory": {"limit": 32 * MIB}}, False, "true"),
    "rlinner": ("/dp/inner/c", {"memory": {"limit": 32 * MIB}}, False, "true"),
}


def _rootless(case):
    path, res, cgns, script = ROOTLESS[case]
    b = _bundle(f"cg-{case}", script, res)
    cfg = b.config()
    cfg["linux"]["cgroupsPath"] = path
    cfg["linux"]["namespaces"].append({"type": "user"})
    if cgns:
        cfg["linux"]["namespaces"].append({"type": "cgroup"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    # As `reno spec --rootless`: sysfs cannot be mounted without a network namespace: bound.
    cfg["mounts"].append({"destination": "/sys", "type": "none", "source": "/sys",
                          "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    return b


def _cases():
    out = []
    for case, res in RESOURCES.items():
        script = SCRIPTS.get(case, "exec sleep 1000")
        caps = ALL_CAPS if case.startswith("dev") else None
        b = _bundle(f"cg-{case}", script, res, caps=caps)
        if case in TWEAKS:
            TWEAKS[case](b.config())
        out.append(b)
    out.append(_bundle("cg-dev", SCRIPTS["dev"], None, caps=ALL_CAPS))
    return out + [_rootless(c) for c in ROOTLESS]


SCENARIOS = [
    CgroupV2(
        "cgroup-v2", "cgroup v2, every controller: each resources field read back, devices BPF, "
                     "pause/resume, update, ps, events",
        needs_runtime=True, timeout=240, arches=("x86_64", "aarch64", "riscv64"),
        modules=("drivers/block/brd.ko",),
        board={"cgroup": "v2", "modules": [{"path": "/lib/modules/brd.ko", "params": "rd_nr=1 rd_size=1024"}],
               "containers": [SC.oneshot("driver")]},
        bundles=[_driver()] + _cases(),
        expect=[r"reno-init: driver: started", r"\] driver: @ end", r"reno-init: driver: exited with code 0"],
    ),
]
