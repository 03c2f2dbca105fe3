#!/usr/bin/python3
"""Compile an OCI `linux.seccomp` object with libseccomp, the way runc does, and write the
raw BPF program libseccomp would load. Used by tests/seccomp_libseccomp.rs as an oracle.

usage: libseccomp_bpf.py PROFILE.json OUT.bpf
Needs Debian's python3-seccomp (libseccomp's own Python binding).
"""
import json
import sys

import seccomp

ARCHS = {
    "SCMP_ARCH_NATIVE": seccomp.Arch.NATIVE,
    "SCMP_ARCH_X86_64": seccomp.Arch.X86_64,
    "SCMP_ARCH_X86": seccomp.Arch.X86,
    "SCMP_ARCH_X32": seccomp.Arch.X32,
    "SCMP_ARCH_AARCH64": seccomp.Arch.AARCH64,
    "SCMP_ARCH_ARM": seccomp.Arch.ARM,
    "SCMP_ARCH_RISCV64": seccomp.Arch.RISCV64,
}
OPS = {
    "SCMP_CMP_NE": seccomp.NE,
    "SCMP_CMP_LT": seccomp.LT,
    "SCMP_CMP_LE": seccomp.LE,
    "SCMP_CMP_EQ": seccomp.EQ,
    "SCMP_CMP_GE": seccomp.GE,
    "SCMP_CMP_GT": seccomp.GT,
    "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ,
}


def action(name, errno):
    if name == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(1 if errno is None else errno)
    if name == "SCMP_ACT_TRACE":
        return seccomp.TRACE(1 if errno is None else errno)  # runc: EPERM
    return {
        "SCMP_ACT_ALLOW": seccomp.ALLOW,
        "SCMP_ACT_KILL": seccomp.KILL,
        "SCMP_ACT_KILL_THREAD": seccomp.KILL,
        "SCMP_ACT_KILL_PROCESS": seccomp.KILL_PROCESS,
        "SCMP_ACT_TRAP": seccomp.TRAP,
        "SCMP_ACT_LOG": seccomp.LOG,
        "SCMP_ACT_NOTIFY": seccomp.NOTIFY,
    }[name]


def main():
    prof = json.load(open(sys.argv[1]))
    default = action(prof["defaultAction"], prof.get("defaultErrnoRet"))
    f = seccomp.SyscallFilter(default)
    f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    for a in prof.get("architectures") or []:
        try:
            f.add_arch(ARCHS[a])
        except RuntimeError:
            pass  # the native arch is already there
    for rule in prof.get("syscalls") or []:
        act = action(rule["action"], rule.get("errnoRet"))
        if act == default:
            continue  # runc skips these; libseccomp refuses them
        args = [
            seccomp.Arg(a["index"], OPS[a["op"]], a["value"], a.get("valueTwo", 0))
            for a in rule.get("args") or []
        ]
        for name in rule["names"]:
            try:
                f.add_rule(act, name, *args)
            except (RuntimeError, ValueError) as e:
                print(f"skip {name}: {e}", file=sys.stderr)
    with open(sys.argv[2], "wb") as out:
        f.export_bpf(out)


main()
