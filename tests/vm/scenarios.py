"""The VM scenarios: a board config, the bundles it starts, and the console lines to expect.

Every container runs busybox from one shared read-only rootfs (/bundles/rootfs). Lines
that init logs look like `[  1.234567] reno-init: ...`; a container's output is logged as
`[  1.234567] <id>: <line>`.
"""

import json
import os
import re
import statistics
import subprocess

APPLETS = ["sh", "echo", "sleep", "cat", "ls", "touch", "poweroff", "reboot", "halt", "head", "tr",
           "true", "false", "mount", "ps", "hostname", "ip", "ifconfig", "dd", "seq"]

STAMP = re.compile(r"\[\s*(\d+\.\d+)\] ([^:\]]+): (.*)$")


def stamp_of(console, pattern):
    """CLOCK_BOOTTIME stamp of the first console line matching `pattern`."""
    for line in console:
        if re.search(pattern, line):
            m = STAMP.search(line)
            if m:
                return float(m.group(1))
    return None


class Bundle:
    def __init__(self, id, script, host_pid=False, mounts=(), memory_limit=None):
        self.id = id
        self.script = script
        self.host_pid = host_pid
        self.mounts = list(mounts)
        self.memory_limit = memory_limit

    def config(self):
        ns = [{"type": "mount"}, {"type": "ipc"}, {"type": "uts"}]
        if not self.host_pid:
            ns.insert(0, {"type": "pid"})
        caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        linux = {
            "namespaces": ns,
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
        }
        if self.memory_limit:
            linux["resources"] = {"memory": {"limit": self.memory_limit, "swap": self.memory_limit}}
            linux["cgroupsPath"] = f"/reno/{self.id}"
        return {
            "ociVersion": "1.0.2",
            "process": {
                "terminal": False,
                "user": {"uid": 0, "gid": 0},
                "args": ["/bin/sh", "-c", self.script],
                "env": ["PATH=/bin", "HOME=/"],
                "cwd": "/",
                "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
                "noNewPrivileges": True,
            },
            "root": {"path": "/bundles/rootfs", "readonly": True},
            "hostname": self.id,
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
            ] + self.mounts,
            "linux": linux,
        }


class Scenario:
    host = False
    arches = ("x86_64", "aarch64", "armv7", "riscv64")
    exits = False
    timeout = 90
    cmdline = ""
    modules = ()
    root_disk = False
    needs_runtime = False
    forbid = [r"Kernel panic", r"panicked at", r"Attempted to kill init"]

    def __init__(self, name, doc, board=None, bundles=(), expect=(), **kw):
        self.name = name
        self.doc = doc
        self.board = board or {}
        self.bundles = list(bundles)
        self.expect = list(expect)
        for k, v in kw.items():
            setattr(self, k, v)

    def board_text(self):
        if isinstance(self.board, str):
            return self.board
        b = {"version": 1, "target": "", "hostname": "reno-vm", "onFatal": {"action": "reboot", "delaySeconds": 1}}
        b.update(self.board)
        b.pop("target")
        return json.dumps(b, indent=1)

    def check(self, console):
        return []

    def report(self, console):
        return []

    def stage(self, arch, root):
        """Put extra files for this scenario into the initramfs tree `root`; return extra
        kernel command line words."""
        return []


def service(id, bundle=None, **kw):
    c = {"id": id, "bundle": f"/bundles/{bundle or id}", "kind": "service"}
    c.update(kw)
    return c


def oneshot(id, **kw):
    c = {"id": id, "bundle": f"/bundles/{id}", "kind": "oneshot"}
    c.update(kw)
    return c


class Boot(Scenario):
    def report(self, console):
        t0 = stamp_of(console, r"reno-init: reno .* starting as PID 1")
        t1 = stamp_of(console, r"reno-init: app: started")
        t2 = stamp_of(console, r"^\[[^]]*\] app: hello from app")
        rss = next((m.group(1) for line in console for m in [re.search(r"PID 1 RSS (\d+) kB", line)] if m), "?")
        out = []
        if t0 is not None and t1 is not None:
            out.append(f"perf: PID 1 start at {t0:.3f} s boottime; first service forked +{(t1 - t0) * 1000:.1f} ms")
        if t0 is not None and t2 is not None:
            out.append(f"perf: first service output +{(t2 - t0) * 1000:.1f} ms after PID 1 start")
        out.append(f"perf: PID 1 RSS {rss} kB at boot complete")
        return out


class BigBoard(Scenario):
    """The usual board, padded past the 64 KiB PID 1 hands to a re-executed image."""

    def board_text(self):
        return super().board_text() + " " * 70000


def stamps(console, pattern):
    return [float(STAMP.search(l).group(1)) for l in console if STAMP.search(l) and re.search(pattern, l)]


class Backoff(Scenario):
    """The delay from each exit to the next start must grow (start-to-start gaps would
    include the run time, which varies under TCG)."""

    def delays(self, console):
        exits = stamps(console, r"reno-init: crasher: exited with code 3 .*restart")
        starts = stamps(console, r"reno-init: crasher: started")
        return [s - e for e, s in zip(exits, starts[1:])]

    def check(self, console):
        d = self.delays(console)
        if len(d) != 2:
            return [f"expected 2 restarts of crasher, saw {len(d)}"]
        # The exit line is stamped a moment after the delay starts: allow 10 % slack.
        if not (d[0] >= 0.27 and d[1] >= 0.54 and d[1] > 1.5 * d[0]):
            return [f"restart delays do not grow: {d[0]:.3f} s then {d[1]:.3f} s"]
        return []

    def report(self, console):
        return [f"exit-to-restart delays {', '.join(f'{x:.3f}' for x in self.delays(console))} s"]


class Check(Scenario):
    host = True

    def run_host(self, reno, repo):
        if reno is None:
            print("SKIP: check: runs the host's (x86_64) reno binary only")
            return None
        fails = []
        d = os.path.join(repo, "board-configs")
        for f in sorted(os.listdir(d)):
            if not f.endswith(".json"):
                continue
            r = subprocess.run([reno, "init", "--check", "--board", os.path.join(d, f)], capture_output=True, text=True)
            if r.returncode != 0 or "start order:" not in r.stdout:
                fails.append(f"{f}: rc {r.returncode}: {r.stdout}{r.stderr}")
        bad = "/tmp/reno-vm-bad-board.json"
        with open(bad, "w") as fh:
            fh.write('{"version": 1, "containers": [{"id": "a", "bundle": "/b", "dependsOn": ["nope"]}]}')
        r = subprocess.run([reno, "init", "--check", "--board", bad], capture_output=True, text=True)
        want = 'containers[0].dependsOn[0]: no container has the id "nope"'
        if r.returncode != 1 or want not in r.stderr:
            fails.append(f"broken board: rc {r.returncode}, stderr {r.stderr!r}, wanted {want!r}")
        os.unlink(bad)
        return fails


# watchdog.ko is built in on arm64 (optional: missing there), a module on x86_64.
WATCHDOG_MODULES = ("drivers/watchdog/watchdog.ko", "drivers/watchdog/softdog.ko")
WATCHDOG_BOARD_MODULES = [{"path": "/lib/modules/watchdog.ko", "optional": True}, {"path": "/lib/modules/softdog.ko"}]

# virtio-blk and squashfs are modules in Debian's kernels; the virtio core is built in on arm64.
ROOT_DISK_MODULES = ("drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio.ko",
                     "drivers/virtio/virtio_pci_legacy_dev.ko", "drivers/virtio/virtio_pci_modern_dev.ko",
                     "drivers/virtio/virtio_pci.ko", "drivers/virtio/virtio_mmio.ko",
                     "drivers/block/virtio_blk.ko", "fs/squashfs/squashfs.ko")
ROOT_DISK_REQUIRED = ("drivers/block/virtio_blk.ko", "fs/squashfs/squashfs.ko")

SHARED_TMP = {"destination": "/shared", "type": "bind", "source": "/tmp", "options": ["rbind", "rw"]}
STATE_ROOT = {"destination": "/run/reno", "type": "bind", "source": "/run/reno", "options": ["rbind", "rw"]}

SCENARIOS = [
    Check("check", "reno init --check on every shipped board config, and a broken one"),
    Boot(
        "boot", "boot to a running service; early mounts, hostname; timing and RSS",
        board={"containers": [service("app")]},
        bundles=[Bundle("app", "echo hello from app; exec sleep 1000")],
        expect=[
            r"reno-init: reno \S+ starting as PID 1",
            r"early system ready .*/proc\(proc\) .*/sys\(sysfs\) .*/dev\(devtmpfs\) .*/dev/pts\(devpts\) .*/dev/shm\(tmpfs\) "
            r".*/run\(tmpfs\) .*/sys/fs/cgroup\(cgroup2\) .*/tmp\(tmpfs\).*; hostname reno-vm; lo up",
            # CVE-2019-5736 for every later launch, without an exec (src/linux/exe_remap.rs).
            r"reno-init: remapped in place from a read-only bind of the binary",
            r"reno-init: app: started /bundles/app",
            r"reno-init: boot complete: 1 containers",
            r"\] app: hello from app",
        ],
    ),
    BigBoard(
        "big-board", "a board config too big to hand to a re-executed PID 1 (70 kB of it "
        "whitespace): PID 1 still protects its binary, in place",
        board={"containers": [service("app")]},
        bundles=[Bundle("app", "echo hello from app; exec sleep 1000")],
        expect=[r"reno-init: binary on a read-only mount", r"reno-init: app: started", r"\] app: hello from app"],
        forbid=Scenario.forbid + [r"not re-executing PID 1"],
    ),
    Scenario(
        "oneshot", "a oneshot runs to completion before the service that depends on it",
        board={"containers": [service("app", dependsOn=["setup"]), oneshot("setup")]},
        bundles=[Bundle("setup", "echo setting up; sleep 1; echo setup done"), Bundle("app", "echo app up; exec sleep 1000")],
        expect=[r"reno-init: setup: started", r"\] setup: setup done", r"reno-init: setup: exited with code 0",
                r"reno-init: app: started", r"\] app: app up"],
    ),
    Backoff(
        "restart", "a service that crashes twice restarts with growing delays, then gives up; "
                   "its restarts take the config init parsed during the backoff",
        cmdline="reno.debug",
        board={"containers": [service("crasher", restart="on-failure", maxRetries=2,
                                      backoff={"initialMs": 300, "maxMs": 5000, "factor": 2})]},
        bundles=[Bundle("crasher", "echo crashing; exit 3")],
        expect=[r"crasher: exited with code 3 .*restart 1 in 300 ms",
                r"\] crasher: reno: debug: /bundles/crasher/config.json: as parsed ahead by init, unchanged since",
                r"crasher: exited with code 3 .*restart 2 in 600 ms",
                r"crasher: exited with code 3; giving up after 2 restarts"],
    ),
    Scenario(
        "chain", "dependency chain a (oneshot) -> b (service, ready file) -> c; b and c take the configs init "
                 "parsed while a ran",
        cmdline="reno.debug",
        board={"containers": [service("c", dependsOn=["b"]), service("b", dependsOn=["a"], ready={"file": "/tmp/b.ready", "timeoutSeconds": 20}),
                              oneshot("a")]},
        bundles=[Bundle("a", "echo a ran"), Bundle("b", "echo b starting; sleep 2; touch /shared/b.ready; exec sleep 1000", mounts=[SHARED_TMP]),
                 Bundle("c", "echo c up; exec sleep 1000")],
        expect=[r"reno-init: a: exited with code 0", r"reno-init: b: started",
                r"\] b: reno: debug: /bundles/b/config.json: as parsed ahead by init", r"\] b: b starting",
                r"reno-init: b: ready", r"reno-init: c: started",
                r"\] c: reno: debug: /bundles/c/config.json: as parsed ahead by init", r"\] c: c up"],
    ),
    Scenario(
        "list", "`reno list` from a second oneshot sees the running service",
        needs_runtime=True,
        board={"containers": [service("app"), oneshot("lister", dependsOn=["app"])]},
        bundles=[Bundle("app", "echo app up; exec sleep 1000"),
                 Bundle("lister", "sleep 1; reno --root /run/reno list", host_pid=True, mounts=[STATE_ROOT])],
        expect=[r"reno-init: app: started", r"reno-init: lister: started", r"\] lister: app\s+\d+\s+running",
                r"reno-init: lister: exited with code 0"],
    ),
    Scenario(
        "poweroff", "busybox poweroff in a host-pid container -> ordered shutdown -> qemu exits",
        exits=True, timeout=120,
        board={"containers": [service("bystander", stopTimeoutSeconds=5), service("app", dependsOn=["bystander"])]},
        bundles=[Bundle("bystander", "trap 'echo got TERM; exit 0' TERM; echo waiting; while true; do sleep 0.2; done"),
                 Bundle("app", "echo powering off; sleep 1; poweroff; sleep 100", host_pid=True)],
        expect=[r"\] app: powering off", r"reno-init: signal 12 from pid \d+: Poweroff", r"reno-init: app: stopping",
                r"reno-init: bystander: stopping", r"\] bystander: got TERM", r"reno-init: bystander: stopped",
                r"reno-init: Poweroff now", r"reboot: Power down"],
    ),
    Scenario(
        "reboot-command", "`reno shutdown --reboot` from a container reboots the device",
        exits=True, timeout=120,
        board={"containers": [service("app")]},
        bundles=[Bundle("app", "echo asking for reboot; reno shutdown --reboot; sleep 100", host_pid=True)],
        expect=[r"\] app: asking for reboot", r"reno-init: signal 15 from pid \d+: Reboot", r"reno-init: app: stopping",
                r"reno-init: Reboot now", r"reboot: Restarting system"],
    ),
    Scenario(
        "broken-board", "a broken board config: a clear error on the console and a reboot, no panic",
        exits=True, timeout=120,
        board='{"version": 1, "containers": [{"id": "a", "bundle": "/bundles/a", "restrat": "always"}]}\n',
        expect=[r"reno-init: error: fatal: board config /etc/reno/board.json: containers\[0\]\.restrat: unknown field",
                r"reno-init: error: Reboot in 5 s", r"reno-init: Reboot now", r"reboot: Restarting system"],
    ),
    Scenario(
        "cgroup-v1", "cgroup v1 hierarchies for old kernels, no /tmp, a service still runs",
        board={"cgroup": "v1", "tmp": False, "containers": [service("app")]},
        bundles=[Bundle("app", "echo hello on v1; exec sleep 1000")],
        expect=[r"early system ready .*/sys/fs/cgroup\(tmpfs\) .*/sys/fs/cgroup/memory\(cgroup\) .*/sys/fs/cgroup/pids\(cgroup\)",
                r"\] app: hello on v1"],
        forbid=Scenario.forbid + [r"early system ready .*/tmp\(tmpfs\)"],
    ),
    Scenario(
        "kmsg-ro", "log to /dev/kmsg, / remounted read-only, a tmpfs board mount",
        cmdline="loglevel=7 printk.devkmsg=on",
        board={"rootReadOnly": True, "log": {"target": "kmsg"},
               "mounts": [{"destination": "/data", "type": "tmpfs", "options": ["nosuid", "size=1m"]}],
               "containers": [service("app")]},
        bundles=[Bundle("app", "echo hello via kmsg; exec sleep 1000")],
        expect=[r"reno-init: early system ready .* /\(rootfs,ro\) .*/data\(tmpfs\)", r"reno-init: app: started", r"\] app: hello via kmsg"],
    ),
    Scenario(
        "watchdog", "softdog fed by the main loop while healthy: no reset in 8 s with a 3 s timeout",
        modules=WATCHDOG_MODULES,
        board={"modules": WATCHDOG_BOARD_MODULES, "watchdog": {"timeoutSeconds": 3, "mode": "always"},
               "containers": [service("app")]},
        bundles=[Bundle("app", "echo alive; sleep 8; echo still alive after 8 s; exec sleep 1000")],
        expect=[r"reno-init: loaded module /lib/modules/softdog.ko", r"reno-init: watchdog /dev/watchdog armed, timeout 3 s",
                r"\] app: still alive after 8 s"],
        forbid=Scenario.forbid + [r"softdog: Initiating system reboot"],
    ),
    Scenario(
        "watchdog-unhealthy", "a container that gives up stops the feeding: the watchdog resets the device",
        modules=WATCHDOG_MODULES, exits=True, timeout=120,
        board={"modules": WATCHDOG_BOARD_MODULES, "watchdog": {"timeoutSeconds": 3, "mode": "always"},
               "containers": [service("crasher", restart="on-failure", maxRetries=0)]},
        bundles=[Bundle("crasher", "exit 1")],
        expect=[r"reno-init: watchdog /dev/watchdog armed", r"crasher: exited with code 1; giving up after 0 restarts",
                r"softdog: Initiating system reboot"],
    ),
    Scenario(
        "watchdog-boot", "mode boot: disarmed with the magic close once every container started",
        modules=WATCHDOG_MODULES,
        board={"modules": WATCHDOG_BOARD_MODULES, "watchdog": {"timeoutSeconds": 3, "mode": "boot"},
               "containers": [service("app")]},
        bundles=[Bundle("app", "echo alive; sleep 8; echo still alive after 8 s; exec sleep 1000")],
        expect=[r"reno-init: watchdog /dev/watchdog armed", r"reno-init: watchdog disarmed \(mode boot\)",
                r"\] app: still alive after 8 s"],
        forbid=Scenario.forbid + [r"softdog: Initiating system reboot"],
    ),
    Scenario(
        "switch-root", "from the initramfs to a squashfs root on a virtio disk (modules loaded by init); "
                       "containers pivot_root there (no move + chroot fallback)",
        root_disk=True, modules=ROOT_DISK_MODULES, cmdline="reno.debug",
        forbid=Scenario.forbid + [r"falling back to move \+ chroot"],
        board={"modules": [{"path": f"/lib/modules/{os.path.basename(m)}", "optional": m not in ROOT_DISK_REQUIRED}
                           for m in ROOT_DISK_MODULES],
               "switchRoot": {"device": "/dev/vda", "type": "squashfs", "options": ["ro"], "waitSeconds": 10},
               "containers": [service("app")]},
        bundles=[Bundle("app", "echo hello from the real root; exec sleep 1000")],
        expect=[r"reno-init: loaded module /lib/modules/squashfs.ko", r"reno-init: switched root to /dev/vda \(squashfs\)",
                r"reno-init: early system ready .* /\(squashfs,ro\) ", r"\] app: hello from the real root"],
    ),
    Scenario(
        "memory-limit", "cgroup v2 memory limit: a container allocating past 16 MiB is OOM-killed",
        needs_runtime=True, timeout=45,
        board={"cgroup": "v2", "containers": [service("memhog", restart="never")]},
        bundles=[Bundle("memhog", "echo allocating; dd if=/dev/zero of=/dev/null bs=48M count=1 || exit $?; echo survived",
                        memory_limit=16 * 1024 * 1024)],
        expect=[r"\] memhog: allocating", r"reno-init: memhog: exited with code 137"],
        forbid=Scenario.forbid + [r"memhog: survived"],
    ),
]


# --- onExhausted, readiness timeouts, the initramfs pivot_root fallback, measurements ---

class XBundle(Bundle):
    """A Bundle whose process runs `args` directly (no shell) and/or holds extra capabilities."""

    def __init__(self, id, script="", args=None, caps=(), **kw):
        super().__init__(id, script, **kw)
        self.args = args
        self.extra_caps = list(caps)

    def config(self):
        c = super().config()
        if self.args:
            c["process"]["args"] = list(self.args)
        for k in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][k] = c["process"]["capabilities"][k] + self.extra_caps
        return c


# The crasher ends by the monitor's stop file (exit 0) or out of retries (an error line).
CRASHER_END = r"reno-init: (crasher: exited with code 0|error: crasher: exited with code 3; giving up after 1000 restarts)"


def first_stamp_after(console, pattern, after):
    return next((t for t in stamps(console, pattern) if t >= after), None)


# The perf scenario's oneshots, each started after the one before: the first is cold, the
# others give the warm figure's samples (PID 1 runs each reno.probe= as many times).
ONESHOTS = ("first", "second", "third", "fourth")


class Perf(Scenario):
    """Start-up cost against a bare fork+exec of the same program, and PID 1's RSS with 10
    services. `reno.probe=` makes PID 1 fork+exec `echo reno-probe` four times before the
    supervisor starts; the oneshots `first` to `fourth`, one after the other, run the same
    program as containers. The first of each pays for cold caches (under TCG, translating
    code run for the first time), the median of the others is what a later start or a
    restart costs. PID 1 also runs tests/bench/floor.c (built here with gcc -static on
    x86_64, zig cc elsewhere) four times each way: the kernel's own share of a container (the services' namespaces, move + chroot,
    exec), without and with /proc and a cgroup v2 directory, and with the containers' whole
    config (/dev, /tmp, masked and read-only paths, the host's mounts detached, capabilities,
    no_new_privs), so the container's figure splits into kernel and reno."""

    FLOOR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "floor.c")
    PROBE = re.compile(r"reno-init: probe (\S+?)( again)?: fork\+exec to first output ([\d.]+) ms")
    floor_skip = None
    label = "perf"

    # zig's target for each arch: zig cc cross-compiles against its own musl.
    ZIG_TARGETS = {"x86_64": "x86_64-linux-musl", "aarch64": "aarch64-linux-musl",
                   "armv7": "arm-linux-musleabihf", "riscv64": "riscv64-linux-musl"}

    @staticmethod
    def zig_venv():
        """The venv with zig that targets/build made (targets/lib.sh: $RENO_TOOLS/venv), if any."""
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        tools = [os.environ.get("RENO_TOOLS"), os.path.join(repo, "target", "tools")]
        return next((t for t in tools if t and os.path.exists(os.path.join(t, "venv", "bin", "python"))), None)

    def compiler(self, arch):
        """argv prefix of a static C compiler for `arch`, or a reason there is none."""
        if arch == "x86_64" and os.uname().machine == "x86_64":
            return ["gcc", "-static"], None
        tools = self.zig_venv()
        if tools is None:
            return None, f"no C compiler for {arch}: zig comes with targets/build's armv7/riscv64 builds (run targets/install-deps)"
        os.environ.setdefault("ZIG_GLOBAL_CACHE_DIR", os.path.join(tools, "zig-cache"))
        return [os.path.join(tools, "venv", "bin", "python"), "-m", "ziglang", "cc",
                "-target", self.ZIG_TARGETS[arch], "-static"], None

    def stage(self, arch, root):
        cc, why = self.compiler(arch)
        if cc is None:
            self.floor_skip = why
            return []
        out = os.path.join(root, "floor")
        r = subprocess.run([*cc, "-O2", "-o", out, self.FLOOR], capture_output=True, text=True)
        if r.returncode != 0:
            self.floor_skip = f"{' '.join(cc[-4:])} floor.c failed: {r.stderr.strip()[-300:]}"
            return []
        # The services' namespaces (Bundle.config): no network namespace.
        return ["reno.probe=/floor,/bundles/rootfs,--no-netns,/bin/echo,reno-probe",
                "reno.probe=/floor,/bundles/rootfs,--no-netns,--proc-cgroups,/bin/echo,reno-probe",
                "reno.probe=/floor,/bundles/rootfs,--no-netns,--service-config,/bin/echo,reno-probe"]

    def probes(self, console):
        """{kind: [cold ms, warm ms, ...]}: kind "bare", "floor", "floor+pc" or "floor+svc"."""
        found = {}
        for l in console:
            m = self.PROBE.search(l)
            if m:
                spec = m.group(1)
                kind = ("bare" if "," not in spec else "floor+pc" if "--proc-cgroups" in spec
                        else "floor+svc" if "--service-config" in spec else "floor")
                found.setdefault(kind, []).append(float(m.group(3)))
        return found

    def figures(self, console):
        t0 = stamp_of(console, r"reno-init: reno .* starting as PID 1")
        runs = []
        for c in ONESHOTS:
            forked = stamp_of(console, rf"reno-init: {c}: started")
            out = first_stamp_after(console, rf"\] {c}: reno-probe$", forked or 0.0)
            runs.append((forked, out))
        probes = (self.probes(console).get("bare", []) + [None] * len(ONESHOTS))[:len(ONESHOTS)]
        rss = next((int(m.group(1)) for l in console for m in [re.search(rf"boot complete: {10 + len(ONESHOTS)} containers .* PID 1 RSS (\d+) kB", l)] if m), None)
        return t0, runs, probes, rss

    def check(self, console):
        t0, runs, probes, rss = self.figures(console)
        if None in (t0, rss, *probes, *(x for r in runs for x in r)):
            return [f"missing a figure: start {t0}, containers (fork, output) {runs}, probes {probes} ms, RSS {rss} kB"]
        if self.floor_skip is None:
            floors = self.probes(console)
            if any(len(floors.get(k, [])) != len(ONESHOTS) for k in ("floor", "floor+pc", "floor+svc")):
                return [f"the C floor did not print {len(ONESHOTS)} times each way: {floors}"]
        return []

    def report(self, console):
        if self.check(console):
            return []
        t0, runs, probes, rss = self.figures(console)
        c = [(o - f) * 1000 for f, o in runs]
        f1, o1 = runs[0]
        floors = self.probes(console)
        out = [f"{self.label}: PID 1 start -> first container forked {(f1 - t0) * 1000:.1f} ms; PID 1 start -> its first output {(o1 - t0) * 1000:.1f} ms"]
        # Cold: the first of each; warm: the median of the others (one boot, so a few samples).
        pick = {"cold": lambda v: v[0], "warm": lambda v: statistics.median(v[1:])}
        for when, f in pick.items():
            ct, bare = f(c), f(probes)
            line = (f"{self.label}: {when}: fork -> first output: container {ct:.1f} ms, bare fork+exec from PID 1 "
                    f"{bare:.1f} ms: ratio {ct / bare:.1f}x")
            if self.floor_skip is None:
                fl, fpc, fsv = f(floors["floor"]), f(floors["floor+pc"]), f(floors["floor+svc"])
                line += (f"; C floor {fl:.1f} ms ({fl / bare:.1f}x bare), with /proc + cgroup {fpc:.1f} ms "
                         f"({fpc / bare:.1f}x bare), with the container's whole config {fsv:.1f} ms "
                         f"({fsv / bare:.1f}x bare): container {ct / fsv:.1f}x that")
            out.append(line)
        warm = lambda v: " ".join(f"{x:.1f}" for x in v[1:])
        out.append(f"{self.label}: warm samples (ms): container {warm(c)}; bare {warm(probes)}"
                   + (f"; floor+pc {warm(floors['floor+pc'])}; floor+config {warm(floors['floor+svc'])}"
                      if self.floor_skip is None else ""))
        if self.floor_skip is not None:
            out.append(f"{self.label}: SKIP C floor: {self.floor_skip}")
        out.append(f"{self.label}: PID 1 RSS {rss} kB supervising 10 services (+{len(ONESHOTS)} finished oneshots)")
        return out


# The perf scenarios' board: the oneshots one after the other, then 10 services.
PERF_SETUP = dict(
    timeout=120,
    board={"containers": [oneshot(c, **({"dependsOn": [ONESHOTS[i - 1]]} if i else {})) for i, c in enumerate(ONESHOTS)]
           + [service(f"s{n}", bundle="sleeper", dependsOn=[ONESHOTS[-1]]) for n in range(1, 11)]},
    bundles=[XBundle(c, args=["/bin/echo", "reno-probe"]) for c in ONESHOTS] + [Bundle("sleeper", "exec sleep 1000")],
)


class Churn(Scenario):
    """A service crashing as fast as its backoff allows: PID 1's RSS (smaps_rollup: VmRSS lags
    by up to 64 faults' worth of pages before Linux 6.2) and open fds, sampled from /proc/1 by
    a host-pid monitor container, must not grow. The crasher restarts up to
    1000 times or for CHURN_SECONDS (the monitor then tells it to stop), whichever comes first."""

    SAMPLE = re.compile(r"\] monitor: pid1 (\w+) rss=(\d+)kB fds=(\d+)")

    def figures(self, console):
        samples = [(i, m.group(1), int(m.group(2)), int(m.group(3))) for i, l in enumerate(console) for m in [self.SAMPLE.search(l)] if m]
        end = next((i for i, l in enumerate(console) if re.search(CRASHER_END, l)), None)
        restarts = max([int(m.group(1)) for l in console for m in [re.search(r"crasher: exited with code 3 .*; restart (\d+) in", l)] if m] or [0])
        first = next((s for s in samples if s[1] == "before"), None)
        last = next((s for s in reversed(samples) if end is not None and s[0] > end), None)
        t_start = stamp_of(console, r"reno-init: crasher: started")
        t_end = stamps(console, r"reno-init: crasher: exited")
        secs = (t_end[-1] - t_start) if t_start is not None and t_end else None
        return first, last, restarts, secs

    def check(self, console):
        first, last, restarts, secs = self.figures(console)
        if not first or not last:
            return [f"no PID 1 sample before the crasher and after it stopped (before {first}, after {last})"]
        fails = []
        if restarts < 100:
            fails.append(f"only {restarts} restarts")
        if last[3] != first[3]:
            fails.append(f"PID 1 open fds changed: {first[3]} before, {last[3]} after {restarts} restarts")
        # Heap growth from log strings and pipe buffers is allowed a little slack, not a trend.
        if last[2] > first[2] + 64:
            fails.append(f"PID 1 RSS grew: {first[2]} kB before, {last[2]} kB after {restarts} restarts")
        return fails

    def report(self, console):
        first, last, restarts, secs = self.figures(console)
        if not first or not last or not secs:
            return []
        rate = restarts / secs
        out = [f"perf: {restarts} restarts in {secs:.1f} s ({rate:.1f}/s): PID 1 RSS {first[2]} -> {last[2]} kB, open fds {first[3]} -> {last[3]}"]
        if restarts < 1000:
            out.append(f"perf: fewer than 1000 restarts fit in {CHURN_SECONDS} s under TCG; 1000 would take ~{1000 / rate:.0f} s at this rate "
                       f"(no growth seen over {restarts}, so none expected over 1000: not measured)")
        return out


# The restart window (default 60 s; RENO_VM_CHURN_SECONDS=200 lets 1000 restarts happen
# under a slow TCG).
CHURN_SECONDS = int(os.environ.get("RENO_VM_CHURN_SECONDS", "60"))
MONITOR_SCRIPT = (
    "s() { while read k v u; do case $k in Rss:) r=$v;; esac; done </proc/1/smaps_rollup; "
    "set -- /proc/1/fd/*; echo \"pid1 $T rss=${r}kB fds=$#\"; }; "
    "T=before; s; touch /shared/monitor.ready; "
    f"i=0; while [ $i -lt {CHURN_SECONDS // 2} ]; do sleep 2; T=during; s; i=$((i+1)); done; "
    "touch /shared/stop; while true; do sleep 2; T=after; s; done"
)

SCENARIOS += [
    Scenario(
        "exhausted-reboot", "onExhausted reboot: a service out of retries stops the others and reboots the device",
        exits=True, timeout=120,
        board={"containers": [service("bystander", stopTimeoutSeconds=5),
                              service("crasher", restart="on-failure", maxRetries=1, onExhausted="reboot",
                                      backoff={"initialMs": 100, "maxMs": 100, "factor": 1})]},
        bundles=[Bundle("bystander", "trap 'echo got TERM; exit 0' TERM; echo waiting; while true; do sleep 0.2; done"),
                 Bundle("crasher", "echo crashing; exit 3")],
        expect=[r"crasher: exited with code 3 .*restart 1 in 100 ms", r"crasher: exited with code 3; giving up after 1 restarts",
                r"reno-init: error: crasher: onExhausted: Reboot", r"reno-init: bystander: stopping", r"\] bystander: got TERM",
                r"reno-init: bystander: stopped", r"reno-init: Reboot now", r"reboot: Restarting system"],
    ),
    Scenario(
        "ready-timeout", "a service never ready: stopped after ready.timeoutSeconds (SIGKILL when it ignores TERM), "
                         "restarted, then given up; its dependent never starts",
        timeout=120,
        board={"containers": [service("app", dependsOn=["slow"]),
                              service("slow", restart="on-failure", maxRetries=1, stopTimeoutSeconds=2,
                                      backoff={"initialMs": 200, "maxMs": 200, "factor": 1},
                                      ready={"file": "/tmp/slow.ready", "timeoutSeconds": 2})]},
        # `sleep` as the container's PID 1 has no TERM handler: the kernel drops SIGTERM.
        bundles=[Bundle("slow", "echo slow up; exec sleep 1000"), Bundle("app", "echo app up; exec sleep 1000")],
        expect=[r"reno-init: slow: started", r"reno-init: error: slow: not ready after 2 s \(/tmp/slow.ready missing\), stopping it",
                r"reno-init: warning: slow: still running 2 s after SIGTERM, killing it",
                r"reno-init: slow: exited with code \d+ .*; restart 1 in 200 ms", r"reno-init: slow: started",
                r"slow: not ready after 2 s", r"slow: exited with code \d+; giving up after 1 restarts",
                r"reno-init: error: app: not started: dependency slow gave up"],
        forbid=Scenario.forbid + [r"reno-init: app: started"],
    ),
    Scenario(
        "pivot-fallback", "in the initramfs, the container's pivot_root fails (EINVAL) and reno falls back to move + chroot",
        cmdline="reno.debug",
        board={"containers": [service("app")]},
        bundles=[Bundle("app", "echo hello from a moved root; exec sleep 1000")],
        expect=[r"reno-init: app: started",
                r"\] app: reno: debug: pivot_root: / is the initramfs, falling back to move \+ chroot",
                r"\] app: hello from a moved root"],
    ),
    Perf(
        "perf", "container start-up vs a bare fork+exec from PID 1 (reno.probe=); PID 1 RSS with 10 services",
        cmdline="reno.probe=/bundles/rootfs/bin/echo", **PERF_SETUP,
        expect=[r"reno-init: probe \S+ again: fork\+exec to first output", r"reno-init: first: started", r"\] first: reno-probe$",
                rf"reno-init: {ONESHOTS[-1]}: started", rf"\] {ONESHOTS[-1]}: reno-probe$",
                rf"reno-init: boot complete: {10 + len(ONESHOTS)} containers"],
    ),
    # Debian's arm64 kernel turns KPTI on with KASLR. Under TCG every switch between the
    # kernel's and user page tables (each syscall, page fault and interrupt, twice) changes
    # the ASID, and QEMU then flushes its whole software TLB: a kernel entry costs ~3x what it
    # does in the x86_64 guest (-cpu max: no KPTI). Hardware tags its TLB with ASIDs and
    # flushes nothing, so this second boot gives the ratio without that emulator cost.
    Perf(
        "perf-kpti0", "perf on arm64 with kpti=0: the same figures without TCG's TLB flush on every kernel entry",
        arches=("aarch64",), label="perf, kpti=0",
        cmdline="reno.probe=/bundles/rootfs/bin/echo kpti=0", **PERF_SETUP,
        expect=[r"reno-init: probe \S+ again: fork\+exec to first output", r"\] first: reno-probe$",
                rf"\] {ONESHOTS[-1]}: reno-probe$", rf"reno-init: boot complete: {10 + len(ONESHOTS)} containers"],
    ),
    Churn(
        "churn", f"PID 1 RSS and open fds do not grow over up to 1000 restarts (or {CHURN_SECONDS} s) of a crashing service",
        timeout=CHURN_SECONDS + 90,
        board={"containers": [service("monitor", ready={"file": "/tmp/monitor.ready", "timeoutSeconds": 60}),
                              service("crasher", dependsOn=["monitor"], restart="on-failure", maxRetries=1000,
                                      backoff={"initialMs": 1, "maxMs": 1, "factor": 1})]},
        bundles=[XBundle("monitor", MONITOR_SCRIPT, host_pid=True, caps=["CAP_SYS_PTRACE"], mounts=[SHARED_TMP]),
                 Bundle("crasher", "if [ -e /shared/stop ]; then exit 0; fi; exit 3", mounts=[SHARED_TMP])],
        expect=[r"\] monitor: pid1 before rss=\d+kB fds=\d+", r"reno-init: crasher: started",
                CRASHER_END,
                r"\] monitor: pid1 \w+ rss="],
    ),
]

# cgroup v2 with every controller (issue 7) lives in its own module.
import cgroup_v2  # noqa: E402

SCENARIOS += cgroup_v2.SCENARIOS

# seccomp filters in the kernel of each arch (issue 4) live in their own module.
import seccomp_vm  # noqa: E402

SCENARIOS += seccomp_vm.SCENARIOS
