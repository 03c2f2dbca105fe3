#!/usr/bin/env python3
"""Timing driver for tests/bench/run: reno side by side with runc, crun, youki and a floor.

Python 3.11, stdlib only. Must run as root on a Linux host with cgroup v1 controllers
(this project's machines: hybrid v1 + empty-ish cgroup2 at /sys/fs/cgroup/unified).

Why it is built this way:
- Every runtime is measured in the same run, interleaved (rep by rep, in a shuffled order
  per rep), after warm-up reps that are thrown away; min and median are reported, never a
  pass/fail threshold: the machine is shared and noisy.
- Processes are started with os.posix_spawn (vfork-like, no Python in the child) and timed
  with perf_counter_ns around spawn + waitpid, so the driver adds the same small constant
  to every row, the floor included.
- crun 1.8 refuses this host's hybrid layout because /sys/fs/cgroup/unified/cgroup.controllers
  is not empty. Everyone (floor and peers alike) is therefore measured inside a private mount
  namespace where that file is covered by an empty one; the driver switches namespace with
  setns(2) between invocations (ctypes), so the masked and the host runs interleave too.
  reno is measured a second time on the host as it is ("reno@host").
- The driver is a child subreaper, so detached containers' init processes become its
  children and it can wait for them without polling the runtimes.
"""

import argparse
import ctypes
import functools
import json
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

CLONE_NEWNS = 0x00020000
PR_SET_CHILD_SUBREAPER = 36
UNIFIED_CONTROLLERS = "/sys/fs/cgroup/unified/cgroup.controllers"
CG_ROOT = "/sys/fs/cgroup"
V1_HIERARCHIES = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"]
PEERS = ["crun", "runc", "youki"]
DISK_STATE = "/var/lib/reno-bench-state"

libc = ctypes.CDLL(None, use_errno=True)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNS) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns(mnt): {os.strerror(e)}")


def set_subreaper():
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(e)}")


def reap_all():
    """Reap every zombie child (orphaned container inits); never blocks."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# --------------------------------------------------------------------------- spec


def base_config(rootfs, args, cgroups_path):
    """`runc spec` (runc 1.1) defaults: pid, net, ipc, uts, mount namespaces, no terminal."""
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": {
                k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                for k in ("bounding", "effective", "permitted", "ambient")
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }


def podman_seccomp_to_oci(profile, caps):
    """podman/containers-common's seccomp.json -> an OCI linux.seccomp for x86_64.

    Does what containers/common does when it loads the profile: keep a rule when its
    `includes` (caps, arches, minKernel) match and its `excludes` do not.
    """
    caps = set(caps)
    arch = "amd64"
    kver = tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])

    def kernel_ok(s):
        if not s:
            return True
        return kver >= tuple(int(x) for x in s.split(".")[:2])

    def matches(cond, neg):
        if not cond:
            return not neg
        hits = []
        if cond.get("caps"):
            c = set(cond["caps"])
            hits.append((c <= caps) if not neg else bool(c & caps))
        if cond.get("arches"):
            hits.append(arch in cond["arches"])
        if cond.get("minKernel"):
            hits.append(kernel_ok(cond["minKernel"]))
        if not hits:
            return not neg
        return all(hits) if not neg else any(hits)

    archs = []
    for m in profile.get("archMap") or []:
        if m["architecture"] == "SCMP_ARCH_X86_64":
            archs = [m["architecture"]] + m.get("subArchitectures", [])
    rules = []
    for r in profile["syscalls"]:
        if not matches(r.get("includes"), False) or matches(r.get("excludes"), True):
            continue
        out = {"names": r["names"], "action": r["action"]}
        if r.get("args"):
            out["args"] = r["args"]
        if r.get("errnoRet") is not None:
            out["errnoRet"] = r["errnoRet"]
        rules.append(out)
    sec = {"defaultAction": profile["defaultAction"], "architectures": archs, "syscalls": rules}
    if profile.get("defaultErrnoRet") is not None:
        sec["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return sec


# --------------------------------------------------------------------------- runtimes


class Failed(Exception):
    pass


class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Alarm()


signal.signal(signal.SIGALRM, _on_alarm)


def waitpid_timeout(pid, seconds):
    """waitpid(pid, 0) that gives up after `seconds` (SIGALRM); None on timeout."""
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return os.waitpid(pid, 0)
    except _Alarm:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def show(argv):
    """A command for messages: program name and arguments, without `--root DIR`."""
    out, skip = [os.path.basename(argv[0])], False
    for x in argv[1:]:
        if skip:
            skip = False
        elif x == "--root":
            skip = True
        else:
            out.append(x)
    return " ".join(out)


class Runner:
    """Spawns and times one command; stderr goes to a scratch file read only on failure."""

    def __init__(self, work):
        self.errpath = os.path.join(work, "stderr.txt")
        self.errfd = os.open(self.errpath, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        self.nullfd = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        self.env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "XDG_RUNTIME_DIR": os.path.join(work, "xdg")}

    def spawn(self, argv, stdout=None):
        os.ftruncate(self.errfd, 0)
        os.lseek(self.errfd, 0, os.SEEK_SET)
        out = self.nullfd if stdout is None else stdout
        acts = [(os.POSIX_SPAWN_DUP2, self.nullfd, 0), (os.POSIX_SPAWN_DUP2, out, 1),
                (os.POSIX_SPAWN_DUP2, self.errfd, 2)]
        return os.posix_spawn(argv[0], argv, self.env, file_actions=acts)

    def time(self, argv, ok_codes=(0,), timeout=20.0, stdout=None):
        t0 = time.perf_counter_ns()
        pid = self.spawn(argv, stdout)
        r = waitpid_timeout(pid, timeout)
        t1 = time.perf_counter_ns()
        if r is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise Failed(f"{show(argv)}: no exit within {timeout:.0f}s, killed")
        st = r[1]
        rc = os.waitstatus_to_exitcode(st)
        if rc not in ok_codes:
            os.lseek(self.errfd, 0, os.SEEK_SET)
            err = os.read(self.errfd, 4000).decode(errors="replace").strip()
            raise Failed(f"{show(argv)}: exit {rc}: {err[-300:]}")
        return (t1 - t0) / 1e6  # ms

    def quiet(self, argv):
        """Run for cleanup; ignore failures."""
        try:
            self.time(argv, ok_codes=range(-64, 256), timeout=10.0)
        except Failed:
            pass


class Runtime:
    def __init__(self, label, binary, work, ns_fd, kind, state_root=None):
        self.label = label          # column name
        self.kind = kind            # runc | crun | youki | reno
        self.binary = binary
        self.ns_fd = ns_fd          # mount namespace to run in
        self.state = os.path.join(state_root or os.path.join(work, "state"), label.replace("@", "-"))
        os.makedirs(self.state, exist_ok=True)
        self.pidfiles = os.path.join(work, "pids", label.replace("@", "-"))
        os.makedirs(self.pidfiles, exist_ok=True)

    def cmd(self, *a):
        return [self.binary, "--root", self.state, *a]

    def run(self, cid, bundle, detach=False):
        extra = ["-d", "--pid-file", self.pidfile(cid)] if detach else []
        return self.cmd("run", "--bundle", bundle, *extra, cid)

    def create(self, cid, bundle):
        return self.cmd("create", "--bundle", bundle, "--pid-file", self.pidfile(cid), cid)

    def start(self, cid):
        return self.cmd("start", cid)

    def delete(self, cid, force=False):
        return self.cmd("delete", *(["--force"] if force else []), cid)

    def kill(self, cid, sig="KILL"):
        return self.cmd("kill", cid, sig)

    def exec(self, cid, args):
        return self.cmd("exec", cid, *args)

    def pidfile(self, cid):
        return os.path.join(self.pidfiles, cid)

    def init_pid(self, cid):
        with open(self.pidfile(cid)) as f:
            return int(f.read().strip())


def wait_exit(pid, timeout=10.0):
    """Wait for a container init to be gone (it is our child thanks to the subreaper)."""
    try:
        if waitpid_timeout(pid, timeout) is None:
            raise Failed(f"container init {pid} did not exit within {timeout}s")
        return
    except ChildProcessError:
        pass
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    return
        except FileNotFoundError:
            return
        time.sleep(0.0005)
    raise Failed(f"container init {pid} did not exit within {timeout}s")


# --------------------------------------------------------------------------- cgroup RSS


class PeakMem:
    """Peak memory of every process a runtime starts, via a cgroup v1 memory controller.

    The driver moves itself into /sys/fs/cgroup/memory/reno-bench/rss, resets
    memory.max_usage_in_bytes, spawns the command and reads the peak after it exits, then
    moves back. The runtime and all its children (e.g. `runc init`, the container's init
    before it execs) inherit the cgroup, and the container's own cgroup (cgroupsPath) is a
    child of it, so the hierarchical peak counts them all at the same instant, not a sum of
    per-process peaks. Charges made before the move stay where they were (v1 does not move
    charges by default), so the driver's own memory is not counted; binaries already in the
    page cache (after warm-up) are not charged again, so this is mostly anonymous memory,
    page tables and kernel stacks: what the runtime itself costs.
    """

    def __init__(self):
        self.dir = os.path.join(CG_ROOT, "memory", "reno-bench", "rss")
        os.makedirs(self.dir, exist_ok=True)
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctl, path = line.rstrip("\n").split(":", 2)
                if "memory" in ctl.split(","):
                    self.home = os.path.join(CG_ROOT, "memory", path.lstrip("/"))

    cgroups_parent = "/reno-bench/rss"

    def _join(self, d):
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def measure(self, fn):
        """(peak, kernel-memory peak) in MiB; the second is None without memory.kmem.*."""
        self._join(self.dir)
        kmem = os.path.join(self.dir, "memory.kmem.max_usage_in_bytes")
        try:
            for f in ("memory.max_usage_in_bytes", "memory.kmem.max_usage_in_bytes"):
                try:
                    with open(os.path.join(self.dir, f), "w") as fh:
                        fh.write("0")
                except OSError:
                    pass
            fn()
            with open(os.path.join(self.dir, "memory.max_usage_in_bytes")) as f:
                peak = int(f.read()) / (1 << 20)  # MiB
            try:
                with open(kmem) as f:
                    return peak, int(f.read()) / (1 << 20)
            except OSError:
                return peak, None
        finally:
            self._join(self.home)


# --------------------------------------------------------------------------- setup


def build_rootfs(path):
    if os.path.exists(os.path.join(path, "bin", "busybox")):
        return
    busybox = shutil.which("busybox") or "/bin/busybox"
    out = subprocess.run(["file", "-L", busybox], capture_output=True, text=True).stdout \
        if shutil.which("file") else ""
    if out and "static" not in out:
        raise SystemExit(f"{busybox} is not static; install busybox-static")
    for d in ("bin", "proc", "dev", "sys", "tmp", "etc", "root"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy2(busybox, os.path.join(path, "bin", "busybox"))
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", os.path.join(path, "bin", a))


def write_bundle(path, config):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=1)


def start_masked_ns(work):
    """A helper process sitting in a private mount ns with the unified controllers masked."""
    empty = os.path.join(work, "empty")
    open(empty, "w").close()
    p = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         f'mount --bind {empty} {UNIFIED_CONTROLLERS} && echo ready && exec sleep 100000'],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    line = p.stdout.readline().decode().strip()
    if line != "ready":
        p.kill()
        raise SystemExit("could not create the masked mount namespace (unshare/mount failed)")
    fd = os.open(f"/proc/{p.pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    return p, fd


def elf_info(path):
    """(size, 'static'|'dynamic', stripped?) without external tools."""
    with open(path, "rb") as f:
        data = f.read()
    size = len(data)
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return size, "?", None
    import struct
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", data, 0x36)
    interp = any(struct.unpack_from("<I", data, phoff + i * phentsize)[0] == 3 for i in range(phnum))
    symtab = any(struct.unpack_from("<I", data, shoff + i * shentsize + 4)[0] == 2 for i in range(shnum))
    return size, "dynamic" if interp else "static", not symtab


def cleanup_cgroups():
    for h in V1_HIERARCHIES + ["unified"]:
        top = os.path.join(CG_ROOT, h, "reno-bench")
        if not os.path.isdir(top):
            continue
        for dirpath, dirnames, _ in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def strace_summary(path):
    """'N syscalls (E errors), top: name×count, …' from an strace -c table."""
    rows = []
    total = errs = 0
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 5 and p[0][0].isdigit() and p[-1] != "total":
                name = p[-1]
                calls = int(p[3])
                e = int(p[4]) if len(p) == 6 else 0
                rows.append((calls, name))
            elif p and p[-1] == "total" and len(p) >= 4:
                total = int(p[3])
                errs = int(p[4]) if len(p) == 6 else 0
    rows.sort(reverse=True)
    top = ", ".join(f"{n}×{c}" for c, n in rows[:6])
    return f"{total} syscalls ({errs} failed), most: {top}"


def children_cpu_ms():
    """user+sys CPU of every reaped descendant so far (the tree's total once all are reaped)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --------------------------------------------------------------------------- main


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 reps, 1 warm-up, 10 containers (CI smoke)")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--many", type=int, default=50, help="containers in the run -d burst")
    ap.add_argument("--many-reps", type=int, default=3)
    ap.add_argument("--no-reno-ro", action="store_true",
                    help="leave out the reno@ro column (reno's binary on a read-only mount)")
    ap.add_argument("--idle", type=float, default=0.3,
                    help="seconds of idle before each `run cold` sample (default 0.3)")
    ap.add_argument("--work", default="/run/reno-bench")
    ap.add_argument("--disk-state", action="store_true",
                    help="keep state dirs, bundles and rootfs on --work's own filesystem instead "
                         "of a tmpfs mounted there (this host's /run is on disk, not tmpfs)")
    ap.add_argument("--reno-disk-state", action="store_true",
                    help="add a column `reno@disk`: reno with its --root on the disk "
                         f"({DISK_STATE}), as /run/reno is on this host")
    ap.add_argument("--cache", default=os.environ.get("RENO_BENCH_CACHE", os.path.expanduser("~/.cache/reno-bench")))
    ap.add_argument("--floor", required=True, help="path of the built floor binary")
    ap.add_argument("--maxrss", required=True, help="path of the built maxrss helper")
    ap.add_argument("--reno", default=os.environ.get("RENO"), help="reno binary (or $RENO)")
    ap.add_argument("--reno-skip", default="", help="reason reno is not measured")
    ap.add_argument("--reno-desc", default="", help="how the reno binary was built (for the notes)")
    ap.add_argument("--only", default="", help="comma-separated runtimes to measure (default all found)")
    ap.add_argument("--out", default="", help="also write the markdown here")
    ap.add_argument("--json", default="", help="write raw samples here")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--strace", default="", metavar="DIR",
                    help="after timing, run each runtime's `run` once under strace -c -f into DIR")
    a = ap.parse_args()
    if a.quick:
        a.reps, a.warmup, a.many, a.many_reps = min(a.reps, 5), 1, min(a.many, 10), 1
    return a


class Bench:
    """One benchmark run: the work dir, the runtimes, and every sample taken."""

    def __init__(self, a):
        self.a = a
        self.work = a.work
        self.notes, self.skips = [], []
        self.samples = {}   # (label, metric) -> [values]
        self.errors = {}    # (label, metric) -> last error
        self.fails = {}     # (label, metric) -> failure weight (3 = give up)
        self.checks = {}    # label -> {setting: applied?} or an error string
        self.exec_ids = {}  # label -> id of the container exec goes into
        self.seq = 0
        self.cur_ns = None

    # ---- setup and teardown

    def setup(self):
        a, work = self.a, self.work
        if os.path.ismount(work):
            subprocess.run(["umount", "-l", work], check=True)
        subprocess.run(["rm", "-rf", work], check=True)
        os.makedirs(work)
        if not a.disk_state:
            # Engines keep runtime state under /run, a tmpfs on usual hosts; here /run is on
            # the disk, where a runtime that fsyncs its state pays for it. Measure the usual case.
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755,size=512m", "reno-bench", work],
                           check=True)
        os.makedirs(os.path.join(work, "xdg"), exist_ok=True)
        self.reno_ro = None
        if a.reno and os.access(a.reno, os.X_OK) and not a.no_reno_ro:
            # reno as on a device's read-only root: before the masked namespace, which copies it.
            ro = os.path.join(work, "ro-bin", "reno")
            os.makedirs(os.path.dirname(ro))
            open(ro, "w").close()
            ok = subprocess.run(["mount", "--bind", a.reno, ro]).returncode == 0 and \
                subprocess.run(["mount", "-o", "remount,bind,ro", ro]).returncode == 0
            if ok:
                self.reno_ro = ro
            else:
                self.skips.append("SKIP reno@ro: could not make a read-only bind of the reno binary")
        cleanup_cgroups()
        set_subreaper()
        self.runner = Runner(work)
        try:
            self.peak = PeakMem()
        except OSError as e:
            self.peak = None
            self.skips.append(f"SKIP peak memory (cgroup) row: no cgroup v1 memory controller ({e})")
        self.rootfs = os.path.join(work, "rootfs")
        build_rootfs(self.rootfs)
        with open(os.path.join(a.cache, "seccomp.json")) as f:
            self.podman_profile = json.load(f)
        self.host_fd = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        if os.path.exists(UNIFIED_CONTROLLERS):
            self.masked_proc, self.masked_fd = start_masked_ns(work)
            self.notes.append(
                f"All rows run in a private mount namespace where {UNIFIED_CONTROLLERS} is "
                "covered by an empty file (crun 1.8 refuses this host's hybrid layout otherwise); "
                "`reno@host` is reno on the host as it is.")
        else:
            self.masked_proc, self.masked_fd = None, self.host_fd
            self.notes.append(f"No {UNIFIED_CONTROLLERS} (not the hybrid layout): everything runs "
                              "on the host as it is; `reno@host` is the same as `reno`.")
        self.rts = self.find_runtimes()
        if any(rt.label == "reno@ro" for rt in self.rts):
            self.notes.append(
                "`reno@ro` is the same binary on a read-only mount, as on a device's read-only "
                "root: its /proc/self/exe can't be written already, so it skips the CVE-2019-5736 "
                "protection that `reno` (on a writable disk, like the peers) pays for: remapping "
                "its image in place from a read-only bind of its binary.")
        reno = next((rt.binary for rt in self.rts if rt.kind == "reno"), None)
        if reno:
            import hashlib
            with open(reno, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()[:12]
            self.notes.insert(0, f"reno binary (every reno column): {reno}, {os.stat(reno).st_size} bytes, "
                                 f"sha256 {digest}…; {a.reno_desc or 'origin not given'}.")

    def find_runtimes(self):
        a, found = self.a, {}
        for name in PEERS:
            path = shutil.which(name)
            if name == "youki":
                cand = os.path.join(a.cache, "youki", "bin", "youki")
                path = cand if os.access(cand, os.X_OK) else path
            if path:
                found[name] = path
            else:
                why = ("not built (tests/bench/install-deps --youki builds it into the cache, ~5 min)"
                       if name == "youki" else f"{name} not installed (apt-get install {name})")
                self.skips.append(f"SKIP {name}: {why}")
        if a.reno and os.access(a.reno, os.X_OK):
            found["reno"] = a.reno
        else:
            self.skips.append(f"SKIP reno: {a.reno_skip or 'no binary (set RENO=/path/to/reno)'}")
        only = set(a.only.split(",")) - {""}
        rts = [Runtime(n, found[n], self.work, self.masked_fd, n)
               for n in ["crun", "runc", "youki", "reno"] if n in found and (not only or n in only)]
        if "reno" in found and (not only or "reno" in only or "reno@host" in only):
            rts.append(Runtime("reno@host", found["reno"], self.work, self.host_fd, "reno"))
        if "reno" in found and self.reno_ro and (not only or "reno@ro" in only):
            rts.append(Runtime("reno@ro", self.reno_ro, self.work, self.masked_fd, "reno"))
        if "reno" in found and a.reno_disk_state:
            subprocess.run(["rm", "-rf", DISK_STATE], check=True)
            rts.append(Runtime("reno@disk", found["reno"], self.work, self.masked_fd, "reno",
                               state_root=DISK_STATE))
        for s in self.skips:
            log(s)
        return rts

    def teardown(self):
        """Stop what failures left behind, leave the namespaces, remove cgroups and the tmpfs."""
        for rt in self.rts:
            if rt.label in self.exec_ids:
                self.enter(rt.ns_fd)
                cid = self.exec_ids.pop(rt.label)
                self.runner.quiet(rt.kill(cid))
                try:
                    wait_exit(rt.init_pid(cid))
                except (Failed, OSError):
                    pass
                self.runner.quiet(rt.delete(cid, force=True))
        # Container inits left behind by failures are our children (subreaper): kill those only.
        piddir = os.path.join(self.work, "pids")
        for d in os.listdir(piddir):
            for name in os.listdir(os.path.join(piddir, d)):
                try:
                    with open(os.path.join(piddir, d, name)) as f:
                        pid = int(f.read().strip() or 0)
                    with open(f"/proc/{pid}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError):
                    continue
                if pid > 0 and ppid == os.getpid():
                    log(f"killing leftover container init {pid} ({d}/{name})")
                    os.kill(pid, signal.SIGKILL)
        reap_all()
        self.enter(self.host_fd)
        if self.masked_proc:
            self.masked_proc.kill()
            self.masked_proc.wait()
        reap_all()
        cleanup_cgroups()
        if self.reno_ro:
            subprocess.run(["umount", "-l", self.reno_ro], check=False)
        if not self.a.disk_state:
            subprocess.run(["umount", "-l", self.work], check=False)
        subprocess.run(["rm", "-rf", DISK_STATE], check=False)

    # ---- helpers

    def enter(self, fd):
        if self.cur_ns != fd:
            setns(fd)
            self.cur_ns = fd

    def new_id(self, tag):
        self.seq += 1
        return f"{tag}{self.seq}"

    def config(self, kind, cid):
        cgpath = f"{PeakMem.cgroups_parent}/{cid}" if kind == "rss" else f"/reno-bench/{cid}"
        args = ["/bin/sleep", "100000"] if kind == "sleep" else ["/bin/true"]
        if kind == "check":
            args = ["/bin/grep", "-E", "^(Seccomp|NoNewPrivs|CapEff):", "/proc/self/status"]
        c = base_config(self.rootfs, args, cgpath)
        if kind == "floorlike":
            # As near the floor's work as a runtime's config goes: the namespaces, /proc, a
            # cgroup (every runtime adds its default device rules to it) and a /dev tmpfs for
            # the default device nodes (youki refuses a rootfs without one); no /dev/pts,
            # /dev/shm, mqueue, /sys, masks or read-only paths.
            c["mounts"] = [m for m in c["mounts"] if m["destination"] in ("/proc", "/dev")]
            del c["linux"]["maskedPaths"], c["linux"]["readonlyPaths"]
            c["root"]["readonly"] = False
        if kind in ("cgroup", "check"):
            c["linux"]["resources"]["memory"] = {"limit": 64 << 20}
            c["linux"]["resources"]["pids"] = {"limit": 64}
        if kind in ("seccomp", "check"):
            c["linux"]["seccomp"] = podman_seccomp_to_oci(
                self.podman_profile, c["process"]["capabilities"]["bounding"])
        return c

    def bundle(self, kind, cid):
        """A bundle per container id (cgroupsPath names the id); written outside any timing."""
        p = os.path.join(self.work, "bundles", cid)
        if not os.path.exists(p):
            write_bundle(p, self.config(kind, cid))
        return p

    def record(self, label, metric, v):
        self.samples.setdefault((label, metric), []).append(v)

    def guarded(self, label, metric, fn, keep):
        """Run one measurement; failures are recorded, and after 3 (or one hang) it is skipped."""
        key = (label, metric)
        if self.fails.get(key, 0) >= 3:
            return
        try:
            fn(keep)
        except (Failed, OSError) as e:
            self.fails[key] = self.fails.get(key, 0) + (3 if "within" in str(e) else 1)
            if key not in self.errors:
                # Not "FAIL ...": tests/run counts such lines as test failures, and a
                # measurement that could not be taken is reported in the table instead.
                log(f"bench: {label} {metric} not measured: {e}")
            self.errors[key] = str(e)

    def measure_peak(self, fn):
        """fn() inside the peak-memory cgroup; (peak, kernel part of it) in MiB, or Nones."""
        if self.peak is None:
            fn()
            return None, None
        return self.peak.measure(fn)

    def with_maxrss(self, argv):
        """Run argv under the maxrss helper: (its ru_maxrss, the tree's summed peak RSS) in MiB."""
        out = os.path.join(self.work, "maxrss.txt")
        self.runner.time([self.a.maxrss, out, *argv])
        with open(out) as f:
            one, tree = (int(x) / 1024 for x in f.read().split())
        return one, tree

    def record_rss(self, label, peak, kmem, hwm):
        if peak is not None:
            self.record(label, "peak RSS create", peak)
        if kmem is not None:
            self.record(label, "kmem create", kmem)
        self.record(label, "tree rss create", hwm[1])
        self.record(label, "maxrss create", hwm[0])

    # ---- does each runtime apply what the config asks? (else its figures are not comparable)

    def check(self, rt):
        runner = self.runner
        cid = self.new_id("k")
        b = self.bundle("check", cid)
        self.enter(rt.ns_fd)
        outp = os.path.join(self.work, "check.txt")
        got = {}
        with open(outp, "w") as out:
            try:
                runner.time(rt.create(cid, b), stdout=out.fileno())
                pid = rt.init_pid(cid)
                with open(f"/proc/{pid}/cgroup") as f:
                    cg = {c: p for _, cs, p in (l.rstrip("\n").split(":", 2) for l in f)
                          for c in cs.split(",")}
                for ctl, fname, want in (("memory", "memory.limit_in_bytes", str(64 << 20)),
                                         ("pids", "pids.max", "64")):
                    try:
                        with open(os.path.join(CG_ROOT, ctl, cg[ctl].lstrip("/"), fname)) as f:
                            got[ctl] = f.read().strip() == want
                    except (OSError, KeyError):
                        got[ctl] = False
                runner.time(rt.start(cid))
                wait_exit(pid)
                runner.time(rt.delete(cid))
            except (Failed, OSError) as e:
                runner.quiet(rt.delete(cid, force=True))
                self.checks[rt.label] = f"check failed: {e}"
                return
            finally:
                reap_all()
        with open(outp) as f:
            st = {k: v.strip() for k, v in
                  (l.split(":", 1) for l in f.read().split("\n") if ":" in l)}
        got["seccomp"] = st.get("Seccomp") == "2"
        got["no_new_privs"] = st.get("NoNewPrivs") == "1"
        got["caps"] = st.get("CapEff") == "0000000020000420"
        self.checks[rt.label] = got

    # ---- measurements: each takes `keep` (False during warm-up) and records when it is set

    def m_run(self, rt, kind, keep, idle=False):
        """`run` of `kind`'s bundle; with `idle`, after a.idle s of sleep (not timed): recorded
        as `run cold`, a start on a quiet machine, which pays what back-to-back runs share
        (RCU grace periods, mostly)."""
        cid = self.new_id(kind[0])
        b = self.bundle(kind, cid)
        self.enter(rt.ns_fd)
        if idle:
            time.sleep(self.a.idle)
            kind = "cold"
        cpu0 = children_cpu_ms()
        try:
            v = self.runner.time(rt.run(cid, b))
            reap_all()
            cpu = children_cpu_ms() - cpu0
        finally:
            # `run` deletes the container when it exits; clean up if it did not.
            if os.path.exists(os.path.join(rt.state, cid)):
                self.runner.quiet(rt.delete(cid, force=True))
            reap_all()
        if keep:
            self.record(rt.label, f"run {kind}", v)
            self.record(rt.label, f"cpu {kind}", cpu)

    def m_cycle(self, rt, kind, keep):
        runner = self.runner
        cid = self.new_id(kind[0])
        b = self.bundle(kind, cid)
        self.enter(rt.ns_fd)
        created = False
        try:
            tc = runner.time(rt.create(cid, b))
            created = True
            ts = runner.time(rt.start(cid))
            wait_exit(rt.init_pid(cid))
            td = runner.time(rt.delete(cid))
            created = False
        finally:
            if created:
                runner.quiet(rt.delete(cid, force=True))
            reap_all()
        if keep:
            self.record(rt.label, f"create {kind}", tc)
            self.record(rt.label, f"start {kind}", ts)
            self.record(rt.label, f"delete {kind}", td)
            self.record(rt.label, f"c+s+d {kind}", tc + ts + td)

    def m_rss(self, rt, keep):
        cid = self.new_id("m")
        b = self.bundle("rss", cid)
        self.enter(rt.ns_fd)
        hwm = []
        try:
            v, k = self.measure_peak(lambda: hwm.extend(self.with_maxrss(rt.create(cid, b))))
        finally:
            self.runner.quiet(rt.delete(cid, force=True))
            reap_all()
        if keep:
            self.record_rss(rt.label, v, k, hwm)

    def with_pss(self, argv):
        """argv under `maxrss --pss`: the tree's peak (Σ Pss, Σ Rss, distinct pages) in MiB."""
        out = os.path.join(self.work, "pss.txt")
        self.runner.time([self.a.maxrss, "--pss", out, *argv])
        with open(out) as f:
            return [int(x) / 1024 for x in f.read().split()]

    def record_pss(self, label, v):
        for metric, x in zip(("pss create", "rss now create", "uniq create"), v):
            self.record(label, metric, x)

    def m_pss(self, rt, keep):
        """The tree's memory at its largest, each shared page once (ptrace snapshots)."""
        cid = self.new_id("q")
        b = self.bundle("rss", cid)
        self.enter(rt.ns_fd)
        try:
            v = self.with_pss(rt.create(cid, b))
        finally:
            self.runner.quiet(rt.delete(cid, force=True))
            reap_all()
        if keep:
            self.record_pss(rt.label, v)

    def m_floor_pss(self, keep):
        self.enter(self.masked_fd)
        v = self.with_pss([self.a.floor, self.rootfs])
        if keep:
            self.record_pss("floor", v)

    def m_exec(self, rt, keep, idle=False):
        """`exec` /bin/true into the runtime's running container; with `idle`, after a.idle s
        of sleep (not timed), recorded as `exec cold`."""
        self.enter(rt.ns_fd)
        if rt.label not in self.exec_ids:
            cid = self.new_id("x")
            self.runner.time(rt.run(cid, self.bundle("sleep", cid), detach=True))
            self.exec_ids[rt.label] = cid
        if idle:
            time.sleep(self.a.idle)
        v = self.runner.time(rt.exec(self.exec_ids[rt.label], ["/bin/true"]))
        reap_all()
        if keep:
            self.record(rt.label, "exec cold" if idle else "exec", v)

    def m_floor(self, args, metric, keep, idle=False):
        self.enter(self.masked_fd)
        if idle:
            time.sleep(self.a.idle)
        cpu0 = children_cpu_ms()
        v = self.runner.time([self.a.floor, self.rootfs, *args])
        cpu = children_cpu_ms() - cpu0
        if keep:
            self.record("floor", metric, v)
            self.record("floor", metric.replace("run", "cpu"), cpu)

    def m_floor_rss(self, keep):
        self.enter(self.masked_fd)
        hwm = []
        v, k = self.measure_peak(lambda: hwm.extend(self.with_maxrss([self.a.floor, self.rootfs])))
        if keep:
            self.record_rss("floor", v, k, hwm)

    def m_many(self, rt, keep):
        """N containers detached back to back, then all stopped: kill all, wait, delete."""
        runner = self.runner
        self.enter(rt.ns_fd)
        ids = [self.new_id("d") for _ in range(self.a.many)]
        bs = [self.bundle("sleep", cid) for cid in ids]
        started = []
        try:
            t0 = time.perf_counter_ns()
            for cid, b in zip(ids, bs):
                runner.time(rt.run(cid, b, detach=True))
                started.append(cid)
            t1 = time.perf_counter_ns()
            pids = [rt.init_pid(cid) for cid in ids]  # pid files: read, not timed
            t2 = time.perf_counter_ns()
            for cid in ids:
                runner.time(rt.kill(cid))
            for cid, pid in zip(ids, pids):
                wait_exit(pid)
                runner.time(rt.delete(cid))
                started.remove(cid)
            t3 = time.perf_counter_ns()
        finally:
            for cid in started:
                runner.quiet(rt.delete(cid, force=True))
            reap_all()
        if keep:
            self.record(rt.label, "many start", (t1 - t0) / 1e6)
            self.record(rt.label, "many stop", (t3 - t2) / 1e6)
            self.record(rt.label, "many total", (t1 - t0 + t3 - t2) / 1e6)

    # ---- phases

    def run_checks(self):
        for rt in self.rts:
            self.check(rt)
            c = self.checks[rt.label]
            if isinstance(c, str) or not all(c.values()):
                log(f"CHECK {rt.label}: {c}")

    def run_reps(self):
        """Warm-up + reps; within each group the floor and runtimes go in a fresh random order."""
        a, P = self.a, functools.partial
        groups = {}  # name -> [(label, metric, fn(keep))]
        for kind in ["base", "cgroup", "seccomp"]:
            floor_args = ["--proc-cgroups"] if kind == "cgroup" else []
            groups[f"run {kind}"] = [("floor", f"run {kind}", P(self.m_floor, floor_args,
                                                                "run cgroup" if kind == "cgroup" else "run base"))]
            if kind == "base":
                # The floor doing the default config's mounts too: its kernel share.
                groups["run base"].append(("floor", "run mounts",
                                           P(self.m_floor, ["--config-mounts"], "run mounts")))
            groups[f"run {kind}"] += [(rt.label, f"run {kind}", P(self.m_run, rt, kind)) for rt in self.rts]
            groups[f"cycle {kind}"] = [(rt.label, f"cycle {kind}", P(self.m_cycle, rt, kind))
                                       for rt in self.rts]
        groups["run floorlike"] = [(rt.label, "run floorlike", P(self.m_run, rt, "floorlike"))
                                   for rt in self.rts]
        groups["run cold"] = [("floor", "run cold", P(self.m_floor, ["--proc-cgroups"], "run cold", idle=True))]
        groups["run cold"] += [(rt.label, "run cold", P(self.m_run, rt, "base", idle=True)) for rt in self.rts]
        groups["rss"] = [("floor", "rss", self.m_floor_rss)]
        groups["rss"] += [(rt.label, "rss", P(self.m_rss, rt)) for rt in self.rts]
        groups["pss"] = [("floor", "pss", self.m_floor_pss)]
        groups["pss"] += [(rt.label, "pss", P(self.m_pss, rt)) for rt in self.rts]
        groups["exec"] = [(rt.label, "exec", P(self.m_exec, rt)) for rt in self.rts]
        groups["exec cold"] = [(rt.label, "exec cold", P(self.m_exec, rt, idle=True)) for rt in self.rts]
        total = a.warmup + a.reps
        for rep in range(total):
            keep = rep >= a.warmup
            for members in groups.values():
                members = list(members)
                random.shuffle(members)
                for label, metric, fn in members:
                    self.guarded(label, metric, fn, keep)
            log(f"rep {rep + 1}/{total} ({'kept' if keep else 'warm-up'}) "
                f"{time.monotonic() - self.t_start:.0f}s load {loadavg()}")
        # the exec containers are not needed any more
        for rt in self.rts:
            if rt.label in self.exec_ids:
                self.enter(rt.ns_fd)
                cid = self.exec_ids.pop(rt.label)
                self.runner.quiet(rt.kill(cid))
                try:
                    wait_exit(rt.init_pid(cid))
                except (Failed, OSError):
                    pass
                self.runner.quiet(rt.delete(cid, force=True))
        reap_all()

    def run_bursts(self):
        for rep in range(1 + self.a.many_reps):
            order = list(self.rts)
            random.shuffle(order)
            for rt in order:
                self.guarded(rt.label, "many", functools.partial(self.m_many, rt), rep >= 1)
            log(f"burst rep {rep + 1}/{1 + self.a.many_reps} (first is warm-up) load {loadavg()}")

    def run_strace(self, outdir):
        os.makedirs(outdir, exist_ok=True)
        strace = shutil.which("strace")
        if not strace:
            self.notes.append("SKIP strace: not installed")
            return
        for rt in self.rts:
            self.enter(rt.ns_fd)
            cid = self.new_id("s")
            out = os.path.join(outdir, f"strace-{rt.label.replace('@', '-')}.txt")
            try:
                self.runner.time([strace, "-f", "-c", "-o", out, *rt.run(cid, self.bundle("base", cid))])
                self.notes.append(f"strace -c -f of `{rt.label} run`: {strace_summary(out)} ({out})")
            except Failed as e:
                self.notes.append(f"strace of {rt.label} failed: {e}")
            if os.path.exists(os.path.join(rt.state, cid)):
                self.runner.quiet(rt.delete(cid, force=True))
            reap_all()

    def sizes(self):
        sizes = {}
        fsz, fkind, _ = elf_info(self.a.floor)
        sizes["floor"] = (fsz, f"{fkind} musl, stripped")
        for rt in self.rts:
            if rt.label in ("reno@host", "reno@disk", "reno@ro"):
                continue
            if rt.kind == "reno":
                tmp = os.path.join(self.work, "reno.stripped")
                shutil.copy2(rt.binary, tmp)
                subprocess.run(["strip", "--strip-all", tmp], check=False)
                sz, k, _ = elf_info(tmp)
                os.unlink(tmp)
                sizes[rt.label] = (sz, f"{k} musl, stripped")
            else:
                sz, k, stripped = elf_info(rt.binary)
                desc = f"{k}, as installed" + ("" if stripped else ", not stripped")
                if k == "dynamic":
                    ldd = subprocess.run(["ldd", rt.binary], capture_output=True, text=True).stdout
                    libs = [l.split("=>")[1].split("(")[0].strip() for l in ldd.splitlines() if "=>" in l]
                    libs = [l for l in libs if l.startswith("/")]
                    lsz = sum(os.stat(l).st_size for l in libs)
                    desc += f"; + {len(libs)} shared libs {fmt(lsz, 'B')} incl. libc"
                sizes[rt.label] = (sz, desc)
        return sizes


def main():
    a = parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (namespaces, cgroups)")
    random.seed(a.seed)
    b = Bench(a)
    b.setup()
    load_start = loadavg()
    b.t_start = time.monotonic()
    try:
        b.run_checks()
        b.run_reps()
        b.run_bursts()
        load_end = loadavg()
        if a.strace:
            b.run_strace(a.strace)
    finally:
        b.teardown()
    report = render(a, b.rts, b.samples, b.errors, b.sizes(), b.notes, b.skips, load_start,
                    load_end, time.monotonic() - b.t_start, b.checks)
    print(report)
    if a.out:
        with open(a.out, "w") as f:
            f.write(report + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"samples": {f"{k[0]}|{k[1]}": v for k, v in b.samples.items()},
                       "errors": {f"{k[0]}|{k[1]}": v for k, v in b.errors.items()},
                       "checks": b.checks}, f, indent=1)
    return 0


# --------------------------------------------------------------------------- output

ROWS = [
    # metric key, row title, unit, floor reference metric (None: no ratio to floor)
    ("run base", "`run` /bin/true (whole lifecycle)", "ms", "run base"),
    ("run base ÷ mounts", "  the same against a floor that also makes the config's mounts (/dev and its nodes, devpts, shm, mqueue, sysfs, cgroup binds, masked and read-only paths, read-only root), /proc and cgroups", "ms", "run mounts"),
    ("cpu base", "  CPU time of all its processes (user+sys)", "ms", "cpu base"),
    ("create base", "  `create`", "ms", "run base"),
    ("start base", "  `start`", "ms", "run base"),
    ("delete base", "  `delete`", "ms", "run base"),
    ("c+s+d base", "  create+start+delete", "ms", "run base"),
    ("run floorlike", "`run` of a config asking little more than the floor does (namespaces, /proc, /dev, a cgroup; no /dev/pts, /dev/shm, mqueue, /sys, masks)", "ms", "run cgroup"),
    ("cpu floorlike", "  CPU time of all its processes (user+sys)", "ms", "cpu cgroup"),
    ("run cold", "`run` /bin/true after an idle pause (one start on a quiet machine)", "ms", "run cold"),
    ("cpu cold", "  CPU time of all its processes (user+sys)", "ms", "cpu cold"),
    ("run cgroup", "`run` + memory & pids limits", "ms", "run cgroup"),
    ("cpu cgroup", "  CPU time of all its processes (user+sys)", "ms", "cpu cgroup"),
    ("create cgroup", "  `create`", "ms", "run cgroup"),
    ("start cgroup", "  `start`", "ms", "run cgroup"),
    ("delete cgroup", "  `delete`", "ms", "run cgroup"),
    ("run seccomp", "`run` + podman seccomp profile", "ms", "run base"),
    ("cpu seccomp", "  CPU time of all its processes (user+sys)", "ms", "cpu base"),
    ("create seccomp", "  `create`", "ms", "run base"),
    ("start seccomp", "  `start`", "ms", "run base"),
    ("delete seccomp", "  `delete`", "ms", "run base"),
    ("exec", "`exec` /bin/true into a running container", "ms", "run base"),
    ("exec cold", "  the same after an idle pause", "ms", "run cold"),
    ("uniq create", "peak RSS of the whole runtime tree during `create`, each page once (distinct pages, pagemap)", "MiB", "uniq create"),
    ("pss create", "  the same as Σ PSS (pages shared with processes outside the tree count a share only)", "MiB", "pss create"),
    ("rss now create", "  Σ RSS of its processes at that moment (shared pages once per process)", "MiB", "rss now create"),
    ("tree rss create", "Σ of each process's own peak RSS during `create` (high-water marks, an upper bound)", "MiB", "tree rss create"),
    ("maxrss create", "  largest single-process RSS during `create` (ru_maxrss)", "MiB", "maxrss create"),
    ("peak RSS create", "peak memory charged to a cgroup holding all of them during `create`", "MiB", "peak RSS create"),
    ("kmem create", "  of which kernel memory (namespaces, mounts, cgroups, page tables)", "MiB", "kmem create"),
    ("many start", "N× `run -d` back to back", "s", "many"),
    ("many stop", "then all stopped (kill, wait, delete)", "s", "many"),
    ("many total", "  total", "s", "many"),
]


def fmt(v, unit):
    if unit == "s":
        return f"{v / 1000:.2f}"
    if unit == "B":
        return f"{v / 1024:.0f}K" if v < 1 << 20 else f"{v / (1 << 20):.2f}M"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


CHECK_ROW = {"cgroup": ("memory", "pids"), "seccomp": ("seccomp",)}

# Rows that show another row's samples against another floor: the floor column shows that
# floor (the row's reference metric).
ALIAS = {"run base ÷ mounts": "run base"}


def render(a, rts, samples, errors, sizes, notes, skips, load_start, load_end, elapsed, checks):
    cols = ["floor"] + [rt.label for rt in rts]
    peers = [c for c in cols if c in PEERS]

    def med(label, metric):
        v = samples.get((label, metric))
        return statistics.median(v) if v else None

    floor_run = med("floor", "run base")
    out = []
    out.append(f"## reno vs runc / crun / youki: {a.reps} reps after {a.warmup} warm-up, interleaved"
               + (" (QUICK mode: smoke test, figures not meaningful)" if a.quick else ""))
    out.append("")
    out.append("Cell: **median** [min] ×fastest peer's median · ×floor's median. "
               "Times in ms unless the row says s; `floor` column, cgroup and cold rows: the floor with "
               "/proc mount + create/join/remove 8 v1 cgroups; the mounts row: that floor also making "
               "every other mount of the config (`floor --config-mounts`). Cold rows: each sample after "
               f"{a.idle:g} s of idle, as one start on a quiet machine sees it (back to back, "
               "runs share the kernel's RCU grace periods).")
    out.append("")
    out.append("| measurement | " + " | ".join(cols) + " |")
    out.append("|---|" + "---|" * len(cols))
    for key, title, unit, fref in ROWS:
        if key.startswith("many"):
            title = title.replace("N×", f"{a.many}×")
        cells = []
        pm = [med(p, ALIAS.get(key, key)) for p in peers if med(p, ALIAS.get(key, key)) is not None]
        best_peer = min(pm) if pm else None
        if fref == "many":
            fr = floor_run * a.many if floor_run else None
        else:
            fr = med("floor", fref)
        for c in cols:
            skey = (fref if c == "floor" else ALIAS[key]) if key in ALIAS else key
            v = samples.get((c, skey))
            if not v:
                cells.append("FAIL" if (c, _task_of(skey)) in errors else "–")
                continue
            m, lo = statistics.median(v), min(v)
            s = f"**{fmt(m, unit)}** [{fmt(lo, unit)}]"
            r = []
            r.append(f"{m / best_peer:.2f}×p" if best_peer and c != "floor" else "")
            r.append(f"{m / fr:.1f}×f" if fr and c != "floor" else "")
            r = [x for x in r if x]
            if r:
                s += " " + " · ".join(r)
            ck = checks.get(c)
            kind = key.split(" ")[-1]
            if isinstance(ck, dict) and kind in CHECK_ROW and not all(ck[x] for x in CHECK_ROW[kind]):
                s += " ⚠not applied"
            cells.append(s)
        out.append(f"| {title} ({unit}) | " + " | ".join(cells) + " |")
    # binary size row
    cells = []
    pz = [sizes[p][0] for p in peers if p in sizes]
    fz = sizes.get("floor", (None,))[0]
    for c in cols:
        if c not in sizes:
            cells.append("(same)" if c.startswith("reno@") else "–")
            continue
        sz, k = sizes[c]
        s = f"**{fmt(sz, 'B')}** ({k})"
        if c != "floor":
            s += f" {sz / min(pz):.2f}×p · {sz / fz:.0f}×f" if pz else f" {sz / fz:.0f}×f"
        cells.append(s)
    out.append("| binary size | " + " | ".join(cells) + " |")
    cells = []
    for c in cols:
        ck = checks.get(c)
        if ck is None:
            cells.append("–")
        elif isinstance(ck, str):
            cells.append("check failed")
        else:
            cells.append(", ".join(("✓ " if v else "✗ ") + k.replace("_", "-") for k, v in ck.items()))
    out.append("| config applied? (limits read from the host, status from inside) | "
               + " | ".join(cells) + " |")
    out.append("")
    fl = samples.get(("floor", "run base"), [])
    if fl:
        q = statistics.quantiles(fl, n=4) if len(fl) >= 2 else [fl[0]] * 3
        out.append(f"Noise: floor `run` min {min(fl):.2f} / median {statistics.median(fl):.2f} / "
                   f"max {max(fl):.2f} ms, IQR {q[0]:.2f}–{q[2]:.2f} ms "
                   f"(spread max/min {max(fl) / min(fl):.1f}×); load average {load_start} at start, "
                   f"{load_end} at end; {os.cpu_count()} CPUs, kernel {platform.release()}; "
                   f"{elapsed:.0f} s in all.")
    for n in notes:
        out.append(f"- {n}")
    if "reno@disk" in cols:
        out.append(f"- `reno@disk`: reno with --root {DISK_STATE}, on the disk (this host's /run "
                   "is on the disk too): what keeping state on a disk costs here (reno writes state.json "
                   "by temp file + rename, without fsync, as runc and crun do).")
    out.append("- State dirs (--root), bundles and rootfs: " + (
        f"on the disk under {a.work} (--disk-state)." if a.disk_state else
        f"a tmpfs mounted on {a.work}, as /run is on usual hosts (this host's /run is on the "
        "disk; --disk-state measures that)."))
    out.append("- Config: `runc spec` defaults (pid, net, ipc, uts, mount namespaces; read-only "
               "rootfs; /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys, /sys/fs/cgroup; masked "
               "and read-only paths; 3 caps; no terminal), busybox-static rootfs, "
               "cgroupsPath /reno-bench/<id>. cgroup rows add memory.limit 64 MiB and pids.limit 64; "
               "seccomp rows add containers-common's seccomp.json converted for x86_64.")
    out.append("- CPU time rows: getrusage(RUSAGE_CHILDREN) of the driver before the call and after "
               "it and the reaping of orphans: user+sys of every process of the tree (runtime, its "
               "helpers, the container's /bin/true). Unlike wall time it hardly moves with the "
               "machine's load.")
    out.append("- Memory during `create`. Which processes: the runtime and every helper it starts; "
               "the container's own program never runs during `create` (the process waiting on "
               "the exec fifo is still the runtime's init), so nothing of the container is in "
               "these rows. Whole tree, each page once: `maxrss --pss` traces the runtime and "
               "everything it starts (ptrace; memory figures only, never timed) and, whenever one "
               "of its processes is about to exit (its memory still mapped; for `create`'s parent "
               "that is with the init already waiting on the exec fifo) and once after the runtime "
               "has exited, sums over the live tree: distinct physical pages (PFNs from "
               "/proc/PID/pagemap; each page once and whole, whoever else maps it: the tree's RSS as "
               "if it were one process), Pss from smaps_rollup (a page shared by n processes counts "
               "1/n in each: pages shared inside the tree count once, but so do the dynamic peers' "
               "libc pages shared with every process on the host count a share only) and Rss (shared "
               "pages once per process); the largest snapshot of each. "
               "Summed high-water marks: the small static tests/bench/maxrss helper is a child "
               "subreaper; it adds the runtime's ru_maxrss (wait4) and, for each process left "
               "behind (the waiting init), its VmHWM: an upper bound of the tree's RSS at any "
               "instant, file pages of a binary shared by two processes counted twice (as ps "
               "sums them). A runtime's helpers it reaped itself are folded into its ru_maxrss "
               "as a max by the kernel, not added. The ru_maxrss row alone is what /usr/bin/time "
               "reports. Cgroup rows: memory.max_usage_in_bytes (and memory.kmem.max_usage_in_bytes) "
               "of a v1 memory cgroup holding the runtime, with the container's cgroup nested in "
               "it, reset before each `create`: each page once, but with kernel memory (the "
               "floor column shows what its namespaces, mounts and page tables alone cost) and "
               "without binaries already in the page cache; memcg charges in batches of 64 pages "
               "per CPU, so a figure can hold up to 0.25 MiB per CPU of charged but unused "
               "stock: at this scale these rows are coarse. Every row includes the helper's few pages; the floor shows that offset. "
               "Floor ratios for the burst rows use "
               f"{a.many}× the floor's median `run`.")
    if any(isinstance(ck, dict) and not all(ck.values()) for ck in checks.values()):
        out.append("- ⚠not applied: the runtime ran the container but did not apply that row's "
                   "setting (see the last row), so that figure is not comparable.")
    for label, ck in checks.items():
        if isinstance(ck, str):
            out.append(f"- {label}: {ck}")
    for s in skips:
        out.append(f"- {s}")
    for (label, metric), e in sorted(errors.items()):
        out.append(f"- not measured: {label} {metric} (last error): {e}")
    return "\n".join(out)


def _task_of(key):
    kind = key.split(" ")[-1]
    if key.startswith(("create", "start", "delete", "c+s+d")):
        return f"cycle {kind}"
    if key.startswith(("peak", "maxrss", "tree", "kmem")):
        return "rss"
    if key.startswith(("pss", "rss now", "uniq")):
        return "pss"
    if key.startswith("many"):
        return "many"
    if key.startswith("cpu"):
        return "run " + kind
    return key


if __name__ == "__main__":
    sys.exit(main())
