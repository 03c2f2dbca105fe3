"""seccomp in a booted kernel: the filter reno compiles must match the running
architecture's AUDIT_ARCH and syscall numbers (issue 4). The unit tests run every arch's
BPF through an interpreter; this checks the kernel agrees, which qemu-user cannot (it
does not run a container at all, targets/README.md) and which matters most where reno's
tables are least exercised (riscv64, armv7).

One profile for every arch (default allow, all four SCMP_ARCH_* listed, like Docker's):
- mkdir/mkdirat -> EPERM (x86_64's busybox calls mkdir, the others have only mkdirat);
- kill with signal SIGUSR1 -> EPERM (an argument comparison; SIGUSR1 is 10 on all four),
  kill with signal 0 still works;
- sethostname -> kill: `hostname x` dies by SIGSYS (exit 159) instead of the EPERM it gets
  without CAP_SYS_ADMIN.
If the filter's arch check or numbers were wrong, either the container dies before its
first line or the denials do not happen.
"""

import scenarios as SC

for _a in ("mkdir",):
    if _a not in SC.APPLETS:
        SC.APPLETS.append(_a)

SCRIPT = ("echo seccomp start; "
          "mkdir /tmp/shut 2>&1; echo mkdir: exit $?; "
          "kill -USR1 $$ 2>&1; echo kill USR1: exit $?; "
          "kill -0 $$ && echo kill 0: ok; "
          "sh -c 'hostname x'; echo hostname: exit $?; "
          "exec sleep 1000")

PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_RISCV64"],
    "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]},
        {"names": ["sethostname"], "action": "SCMP_ACT_KILL"},
    ],
}


class SeccompBundle(SC.Bundle):
    def config(self):
        c = super().config()
        c["linux"]["seccomp"] = PROFILE
        return c


SCENARIOS = [
    SC.Scenario(
        "seccomp", "a seccomp profile in the kernel: an argument-matched EPERM and a SIGSYS kill",
        board={"containers": [SC.service("sc", restart="never")]},
        bundles=[SeccompBundle("sc", SCRIPT)],
        expect=[r"\] sc: seccomp start",
                r"\] sc: mkdir: can't create directory '/tmp/shut': Operation not permitted", r"\] sc: mkdir: exit 1",
                r"\] sc: .*kill.*Operation not permitted", r"\] sc: kill USR1: exit 1", r"\] sc: kill 0: ok",
                r"\] sc: hostname: exit 159"],
    ),
]
