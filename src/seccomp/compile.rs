//! `linux.seccomp` → one classic BPF program covering every requested architecture.
//!
//! Layout of the program:
//! ```text
//!   A = arch;  JEQ arch_1 → section_1;  JEQ arch_2 → section_2; …;  RET KILL_PROCESS
//! section:  A = nr;  [x86_64: nr >= 0x40000000 → x32 section or KILL_PROCESS]
//!           binary search over the section's number intervals → outcome
//! outcomes: RET action  |  argument checks, rule after rule, then RET default
//! ```
//! The numbers 0..2^32 of a section are cut into intervals with one outcome each (adjacent
//! syscalls with the same action share one), so a lookup costs about log2(intervals) jumps
//! instead of one compare per syscall. The search only loads `nr` and `arch` and uses
//! JEQ/JGE/JA, so the kernel's seccomp action cache (5.11+) can prove always-allowed
//! syscalls and skip the filter for them.
//!
//! Rule semantics, chosen to match libseccomp as runc and crun drive it (checked against
//! libseccomp 2.5.4 by tests/seccomp_libseccomp.rs):
//! - a rule whose action equals the default action is dropped (runc does this; libseccomp
//!   refuses such rules);
//! - an unconditional rule for a syscall wins over every conditional one, and the first
//!   unconditional rule in profile order wins over later ones (podman's profile relies on
//!   this for `setns`, listed as allowed and again as EPERM without CAP_SYS_ADMIN);
//! - otherwise the conditional rules are tried in profile order and the first whose
//!   conditions all hold (AND) decides; none holding → the default action. libseccomp
//!   builds a decision tree instead. Both agree on podman's profile and on disjoint or
//!   narrower-first rules, but not when conditional rules with different actions overlap:
//!   libseccomp then prefers the later rule for conditions on different arguments, the
//!   narrower range on one argument, and drops a rule whose conditions are a prefix of an
//!   earlier one's (tests/seccomp_libseccomp.rs pins these cases);
//! - arguments are compared as 64-bit values (both words) on 64-bit ABIs and by their low
//!   word only on x86, arm and x32, where the kernel zero-extends them (as libseccomp does);
//! - the native architecture is always filtered, like libseccomp's filter context; a
//!   syscall from an architecture outside the filter gets KILL_PROCESS; on x86_64, numbers
//!   with the x32 bit belong to the x32 section, or are a bad arch without one;
//! - when the default action is ERRNO, syscall numbers above the highest number the profile
//!   names for an architecture get ENOSYS, as runc patches in, so that programs fall back
//!   from syscalls newer than the profile. x32's compat block (512-547) and ARM's private
//!   syscalls (0xf0000+) do not count as "newest" and keep the default.

use std::collections::BTreeMap;

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Op,
};

use super::arch::{Arch, X32_SYSCALL_BIT};
use super::bpf::{self, ret, Asm, Label, SockFilter, Target};
use crate::error::{Error, Result};
use crate::linux::seccomp as sys;

const ENOSYS: u32 = 38;
const EPERM: u32 = 1;
/// What a syscall from an architecture outside the filter gets (libseccomp's default
/// "bad arch" action is to kill).
pub const BAD_ARCH: u32 = ret::KILL_PROCESS;

/// A compiled filter, ready for seccomp(2).
#[derive(Debug, Clone)]
pub struct Program {
    pub insns: Vec<SockFilter>,
    /// SECCOMP_FILTER_FLAG_* from `linux.seccomp.flags`.
    pub flags: u32,
    /// Some rule returns SECCOMP_RET_USER_NOTIF: a listener fd is needed.
    pub notify: bool,
}

/// One argument comparison, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cond {
    index: u32,
    op: Op,
    value: u64,
    value_two: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    conds: Vec<Cond>,
    action: u32,
}

/// What a syscall number leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ret(u32),
    /// Conditional rules, then the default; `wide` = compare 64-bit arguments.
    Rules {
        wide: bool,
        rules: Vec<Rule>,
        default: u32,
    },
}

/// The action value of `act`, with `errno` for ERRNO and TRACE. `field` names the JSON
/// field for errors.
fn action_value(act: Act, errno: Option<u32>, field: &str) -> Result<u32> {
    if let Some(e) = errno {
        if !matches!(act, Act::ScmpActErrno | Act::ScmpActTrace) {
            return Err(Error::invalid(
                field,
                format!("errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {act}"),
            ));
        }
        if e > ret::DATA {
            return Err(Error::invalid(
                field,
                format!("errnoRet {e} does not fit in 16 bits"),
            ));
        }
    }
    Ok(match act {
        Act::ScmpActKill | Act::ScmpActKillThread => ret::KILL_THREAD,
        Act::ScmpActKillProcess => ret::KILL_PROCESS,
        Act::ScmpActTrap => ret::TRAP,
        Act::ScmpActErrno => ret::ERRNO | errno.unwrap_or(EPERM),
        Act::ScmpActNotify => ret::USER_NOTIF,
        // runc (and oci-spec's as_u32) give the tracer EPERM as data by default.
        Act::ScmpActTrace => ret::TRACE | errno.unwrap_or(EPERM),
        Act::ScmpActLog => ret::LOG,
        Act::ScmpActAllow => ret::ALLOW,
    })
}

fn flag_value(f: Flag) -> u32 {
    match f {
        Flag::SeccompFilterFlagTsync => sys::FLAG_TSYNC,
        Flag::SeccompFilterFlagLog => sys::FLAG_LOG,
        Flag::SeccompFilterFlagSpecAllow => sys::FLAG_SPEC_ALLOW,
        Flag::SeccompFilterFlagWaitKillableRecv => sys::FLAG_WAIT_KILLABLE_RECV,
    }
}

/// The architectures to filter: the native one first, then the listed ones, deduplicated.
fn archs(seccomp: &LinuxSeccomp, native: Arch) -> Result<Vec<Arch>> {
    let mut out = vec![native];
    for (i, a) in seccomp.architectures().iter().flatten().enumerate() {
        let arch = Arch::from_spec(*a, native).ok_or_else(|| {
            let supported: Vec<&str> = Arch::ALL.iter().map(|a| a.spec_name()).collect();
            Error::invalid(
                format!("linux.seccomp.architectures[{i}]"),
                format!("{a} is not supported (supported: {})", supported.join(", ")),
            )
        })?;
        if !out.contains(&arch) {
            out.push(arch);
        }
    }
    Ok(out)
}

/// Validated rules in profile order, with their names.
fn rules(seccomp: &LinuxSeccomp, default: u32) -> Result<Vec<(Vec<String>, Rule)>> {
    let mut out = Vec::new();
    for (i, sc) in seccomp.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let action = action_value(sc.action(), sc.errno_ret(), &format!("{field}.action"))?;
        let mut conds = Vec::new();
        for (j, arg) in sc.args().iter().flatten().enumerate() {
            if arg.index() > 5 {
                return Err(Error::invalid(
                    format!("{field}.args[{j}].index"),
                    format!(
                        "{} is out of range (a syscall has arguments 0 to 5)",
                        arg.index()
                    ),
                ));
            }
            conds.push(Cond {
                index: arg.index() as u32,
                op: arg.op(),
                value: arg.value(),
                value_two: arg.value_two().unwrap_or(0),
            });
        }
        if action == default {
            log::debug!("seccomp: {field} has the default action, skipped");
            continue;
        }
        out.push((sc.names().clone(), Rule { conds, action }));
    }
    Ok(out)
}

/// Compile `seccomp` for `native` plus the architectures it lists.
pub fn compile(seccomp: &LinuxSeccomp, native: Arch) -> Result<Program> {
    if seccomp.default_action() == Act::ScmpActNotify {
        return Err(Error::invalid(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action",
        ));
    }
    let default = action_value(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
    )?;
    let enosys = seccomp.default_action() == Act::ScmpActErrno;
    let archs = archs(seccomp, native)?;
    let rules = rules(seccomp, default)?;
    let flags = seccomp
        .flags()
        .iter()
        .flatten()
        .fold(0, |f, x| f | flag_value(*x));
    let notify = rules.iter().any(|(_, r)| r.action == ret::USER_NOTIF);
    // The process hands its listener over with write(2) on the pipe: notified, that write
    // would wait for an agent that can't have the listener yet (runc refuses it too).
    if rules
        .iter()
        .any(|(names, r)| r.action == ret::USER_NOTIF && names.iter().any(|n| n == "write"))
    {
        return Err(Error::invalid(
            "linux.seccomp.syscalls",
            "SCMP_ACT_NOTIFY cannot be used for the write syscall",
        ));
    }

    for (names, _) in &rules {
        for n in names {
            if archs.iter().all(|a| a.syscall_nr(n).is_none()) {
                log::debug!("seccomp: syscall {n} is unknown on every filtered arch, ignored");
            }
        }
    }

    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut sections: Vec<(Arch, Vec<(u32, usize)>)> = Vec::new();
    for &arch in &archs {
        let intervals = intervals(arch, &rules, default, enosys, &mut outcomes);
        sections.push((arch, intervals));
    }
    let insns = emit(&sections, &outcomes).map_err(|e| Error::failed("compile seccomp", e))?;
    if insns.len() > sys::MAX_INSNS {
        return Err(Error::invalid(
            "linux.seccomp",
            format!(
                "the filter needs {} instructions, the kernel allows {}",
                insns.len(),
                sys::MAX_INSNS
            ),
        ));
    }
    Ok(Program {
        insns,
        flags,
        notify,
    })
}

fn outcome_index(outcomes: &mut Vec<Outcome>, o: Outcome) -> usize {
    match outcomes.iter().position(|x| *x == o) {
        Some(i) => i,
        None => {
            outcomes.push(o);
            outcomes.len() - 1
        }
    }
}

/// Cut 0..2^32 into intervals `(start, outcome)` for one architecture, sorted by start, the
/// first starting at 0, neighbours with the same outcome merged.
fn intervals(
    arch: Arch,
    rules: &[(Vec<String>, Rule)],
    default: u32,
    enosys: bool,
    outcomes: &mut Vec<Outcome>,
) -> Vec<(u32, usize)> {
    // Per syscall number: the first unconditional action, and the conditional rules.
    let mut per_nr: BTreeMap<u32, (Option<u32>, Vec<Rule>)> = BTreeMap::new();
    for (names, rule) in rules {
        for name in names {
            let Some(nr) = arch.syscall_nr(name) else {
                continue;
            };
            let entry = per_nr.entry(nr).or_default();
            if rule.conds.is_empty() {
                entry.0.get_or_insert(rule.action);
            } else {
                entry.1.push(rule.clone());
            }
        }
    }
    // The newest syscall the profile knows, among the regular numbers.
    let known_max = per_nr
        .keys()
        .copied()
        .filter(|nr| !arch.out_of_sequence(*nr))
        .max();

    // Numbers no rule names get ENOSYS above the newest named one (with an ERRNO default).
    let gets_enosys = |nr: u32| -> bool {
        known_max.is_some_and(|max| enosys && nr > max && !arch.out_of_sequence(nr))
    };
    // Every number where the outcome may change: named syscalls and the one after each,
    // the ENOSYS boundary, the out-of-sequence block edges.
    let mut cuts: Vec<u32> = vec![0];
    for &nr in per_nr.keys() {
        cuts.push(nr);
        cuts.extend(nr.checked_add(1));
    }
    if let Some(max) = known_max {
        cuts.extend(max.checked_add(1));
    }
    let oos: Vec<u32> = match arch {
        Arch::X32 => vec![X32_SYSCALL_BIT + 512, X32_SYSCALL_BIT + 548],
        Arch::Arm => vec![0xf_0000, 0xf_0007],
        _ => vec![],
    };
    cuts.extend(oos);
    cuts.sort_unstable();
    cuts.dedup();

    let mut out: Vec<(u32, usize)> = Vec::new();
    for start in cuts {
        let o = match per_nr.get(&start) {
            Some((Some(action), _)) => outcome_index(outcomes, Outcome::Ret(*action)),
            Some((None, conds)) => outcome_index(
                outcomes,
                Outcome::Rules {
                    wide: arch.wide_args(),
                    rules: conds.clone(),
                    default,
                },
            ),
            None if gets_enosys(start) => {
                outcome_index(outcomes, Outcome::Ret(ret::ERRNO | ENOSYS))
            }
            None => outcome_index(outcomes, Outcome::Ret(default)),
        };
        if out.last().map(|l| l.1) != Some(o) {
            out.push((start, o));
        }
    }
    out
}

fn emit(
    sections: &[(Arch, Vec<(u32, usize)>)],
    outcomes: &[Outcome],
) -> Result<Vec<SockFilter>, String> {
    let mut a = Asm::new();
    let has = |x: Arch| sections.iter().any(|s| s.0 == x);
    let section = |x: Arch| sections.iter().find(|s| s.0 == x).map(|s| s.1.as_slice());

    // Dispatch on seccomp_data.arch, native first. x86_64 and x32 share one AUDIT_ARCH.
    a.load(bpf::OFF_ARCH);
    let mut entries: Vec<(Arch, Label)> = Vec::new();
    for (arch, _) in sections {
        if *arch == Arch::X32 && has(Arch::X86_64) {
            continue;
        }
        entries.push((*arch, a.label()));
    }
    for (arch, l) in &entries {
        a.jump(bpf::JEQ, arch.audit(), Target::Label(*l), Target::Next);
    }
    a.ret(BAD_ARCH);
    // The x32 split comes later and jumps only forward: it needs its own copy.
    let late_bad_arch = a.label();

    // Per section: load the number, the search tree, then the section's own outcomes, so
    // that every jump stays short (no JA trampolines across sections).
    for (arch, l) in &entries {
        a.bind(*l);
        a.load(bpf::OFF_NR);
        match arch {
            Arch::X86_64 | Arch::X32 => {
                // libseccomp's x32 split: numbers with the x32 bit set are x32 syscalls.
                let x32 = a.label();
                let x32_target = Target::Label(if has(Arch::X32) { x32 } else { late_bad_arch });
                match section(Arch::X86_64) {
                    Some(ivs) => {
                        a.jump(bpf::JGE, X32_SYSCALL_BIT, x32_target, Target::Next);
                        section_code(&mut a, ivs, outcomes);
                    }
                    None => a.jump(
                        bpf::JGE,
                        X32_SYSCALL_BIT,
                        x32_target,
                        Target::Label(late_bad_arch),
                    ),
                }
                if let Some(ivs) = section(Arch::X32) {
                    a.bind(x32);
                    section_code(&mut a, ivs, outcomes);
                }
            }
            _ => {
                if let Some(ivs) = section(*arch) {
                    section_code(&mut a, ivs, outcomes);
                }
            }
        }
    }
    a.bind(late_bad_arch);
    a.ret(BAD_ARCH);
    a.finish()
}

/// One section's search tree followed by the outcomes it uses: plain returns first (one
/// instruction each, so most tree leaves stay near), argument checks after.
fn section_code(a: &mut Asm, ivs: &[(u32, usize)], outcomes: &[Outcome]) {
    let mut used: Vec<usize> = Vec::new();
    for (_, o) in ivs {
        if !used.contains(o) {
            used.push(*o);
        }
    }
    used.sort_by_key(|o| !matches!(outcomes[*o], Outcome::Ret(_)));
    // A label per outcome; only the used ones get bound (and only they are jumped to).
    let out: Vec<Label> = outcomes.iter().map(|_| a.label()).collect();
    tree(a, ivs, &out);
    for o in used {
        a.bind(out[o]);
        match &outcomes[o] {
            Outcome::Ret(v) => a.ret(*v),
            Outcome::Rules {
                wide,
                rules,
                default,
            } => {
                for r in rules {
                    let fail = a.label();
                    for c in &r.conds {
                        cond(a, c, *wide, fail);
                    }
                    a.ret(r.action);
                    a.bind(fail);
                }
                a.ret(*default);
            }
        }
    }
}

/// A binary search over `ivs`, entered at the top with the syscall number in A. Left
/// halves follow their jump directly, right halves come after them.
fn tree(a: &mut Asm, ivs: &[(u32, usize)], out: &[Label]) {
    if ivs.len() == 1 {
        a.ja(out[ivs[0].1]);
        return;
    }
    let mid = ivs.len() / 2;
    let (left, right) = ivs.split_at(mid);
    let rt = if right.len() == 1 {
        out[right[0].1]
    } else {
        a.label()
    };
    let lf = if left.len() == 1 {
        Target::Label(out[left[0].1])
    } else {
        Target::Next
    };
    a.jump(bpf::JGE, right[0].0, Target::Label(rt), lf);
    if left.len() > 1 {
        tree(a, left, out);
    }
    if right.len() > 1 {
        a.bind(rt);
        tree(a, right, out);
    }
}

/// Code for one condition: falls through when it holds, jumps to `fail` otherwise.
fn cond(a: &mut Asm, c: &Cond, wide: bool, fail: Label) {
    let (lo_off, hi_off) = bpf::arg_offsets(c.index);
    let f = Target::Label(fail);
    let n = Target::Next;
    let (v, v2) = (c.value, c.value_two);
    let (vlo, vhi) = (v as u32, (v >> 32) as u32);
    use bpf::{JEQ, JGE, JGT};
    if !wide {
        a.load(lo_off);
        match c.op {
            Op::ScmpCmpEq => a.jump(JEQ, vlo, n, f),
            Op::ScmpCmpNe => a.jump(JEQ, vlo, f, n),
            Op::ScmpCmpGt => a.jump(JGT, vlo, n, f),
            Op::ScmpCmpGe => a.jump(JGE, vlo, n, f),
            Op::ScmpCmpLt => a.jump(JGE, vlo, f, n),
            Op::ScmpCmpLe => a.jump(JGT, vlo, f, n),
            Op::ScmpCmpMaskedEq => {
                a.stmt(bpf::ALU | bpf::AND | bpf::K, vlo);
                a.jump(JEQ, v2 as u32, n, f);
            }
        }
        return;
    }
    let pass = a.label();
    let p = Target::Label(pass);
    a.load(hi_off);
    match c.op {
        Op::ScmpCmpEq => {
            a.jump(JEQ, vhi, n, f);
            a.load(lo_off);
            a.jump(JEQ, vlo, n, f);
        }
        Op::ScmpCmpNe => {
            a.jump(JEQ, vhi, n, p);
            a.load(lo_off);
            a.jump(JEQ, vlo, f, n);
        }
        Op::ScmpCmpGt | Op::ScmpCmpGe => {
            a.jump(JGT, vhi, p, n);
            a.jump(JEQ, vhi, n, f);
            a.load(lo_off);
            let op = if c.op == Op::ScmpCmpGt { JGT } else { JGE };
            a.jump(op, vlo, n, f);
        }
        Op::ScmpCmpLt | Op::ScmpCmpLe => {
            a.jump(JGT, vhi, f, n);
            a.jump(JEQ, vhi, n, p);
            a.load(lo_off);
            let op = if c.op == Op::ScmpCmpLt { JGE } else { JGT };
            a.jump(op, vlo, f, n);
        }
        Op::ScmpCmpMaskedEq => {
            a.stmt(bpf::ALU | bpf::AND | bpf::K, (v >> 32) as u32);
            a.jump(JEQ, (v2 >> 32) as u32, n, f);
            a.load(lo_off);
            a.stmt(bpf::ALU | bpf::AND | bpf::K, vlo);
            a.jump(JEQ, v2 as u32, n, f);
        }
    }
    a.bind(pass);
}
