//! Device access rules: `linux.resources.devices` plus runc's default allow list, rendered as
//! v1 `devices.allow`/`devices.deny` lines or compiled into a cgroup v2 BPF device program.
//!
//! Semantics are v1's: everything is denied, then the rules apply in order and a later
//! rule overrides an earlier one for the accesses it names.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{Error, Result};
use crate::linux::bpf::Insn;

/// One rule, validated. `None` major/minor/type are wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// 'b' or 'c'; `None` for 'a' (all).
    pub typ: Option<char>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Subset of "rwm", never empty.
    pub access: String,
}

impl Rule {
    const fn allow_c(major: Option<u32>, minor: Option<u32>, access: &'static str) -> RuleSpec {
        RuleSpec {
            typ: 'c',
            major,
            minor,
            access,
        }
    }

    /// The v1 line: `c 1:3 rwm`, `a *:* rwm`.
    pub fn v1_line(&self) -> String {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        match self.typ {
            None => format!("a {}:{} {}", n(self.major), n(self.minor), self.access),
            Some(t) => format!("{t} {}:{} {}", n(self.major), n(self.minor), self.access),
        }
    }
}

/// A constant default rule (always "allow").
pub struct RuleSpec {
    typ: char,
    major: Option<u32>,
    minor: Option<u32>,
    access: &'static str,
}

/// runc's `AllowedDevices`: mknod of anything, the standard nodes, /dev/pts/*, /dev/ptmx.
/// They come after the config's rules, so they win, as in runc.
pub const DEFAULT_ALLOWED: &[RuleSpec] = &[
    Rule::allow_c(None, None, "m"),
    RuleSpec {
        typ: 'b',
        major: None,
        minor: None,
        access: "m",
    },
    Rule::allow_c(Some(1), Some(3), "rwm"), // null
    Rule::allow_c(Some(1), Some(8), "rwm"), // random
    Rule::allow_c(Some(1), Some(7), "rwm"), // full
    Rule::allow_c(Some(5), Some(0), "rwm"), // tty
    Rule::allow_c(Some(1), Some(5), "rwm"), // zero
    Rule::allow_c(Some(1), Some(9), "rwm"), // urandom
    Rule::allow_c(Some(136), None, "rwm"),  // pts
    Rule::allow_c(Some(5), Some(2), "rwm"), // ptmx
];

fn num(v: Option<i64>, what: &str) -> Result<Option<u32>> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) if (0..=u32::MAX as i64).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(Error::invalid(
            "linux.resources.devices",
            format!("{what} {n} is out of range"),
        )),
    }
}

/// Validate one config rule.
pub fn from_spec(d: &LinuxDeviceCgroup) -> Result<Rule> {
    let typ = match d.typ() {
        None | Some(LinuxDeviceType::A) => None,
        Some(LinuxDeviceType::B) => Some('b'),
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some('c'),
        Some(t) => {
            return Err(Error::invalid(
                "linux.resources.devices",
                format!(
                    "device type {:?} cannot be controlled (a, b or c)",
                    t.as_str()
                ),
            ))
        }
    };
    let access = d.access().clone().unwrap_or_else(|| "rwm".into());
    let access = if access.is_empty() {
        "rwm".into()
    } else {
        access
    };
    if access.chars().any(|c| !"rwm".contains(c)) {
        return Err(Error::invalid(
            "linux.resources.devices",
            format!("access {access:?} must be made of r, w and m"),
        ));
    }
    let mut a = String::new();
    for c in ['r', 'w', 'm'] {
        if access.contains(c) {
            a.push(c);
        }
    }
    Ok(Rule {
        allow: d.allow(),
        typ,
        major: num(d.major(), "major")?,
        minor: num(d.minor(), "minor")?,
        access: a,
    })
}

/// The full rule list: the config's, then one "rwm" allow per `linux.devices` node, then the
/// defaults (runc's order).
pub fn rules(config: &[LinuxDeviceCgroup], nodes: &[(char, u32, u32)]) -> Result<Vec<Rule>> {
    let mut out = config.iter().map(from_spec).collect::<Result<Vec<_>>>()?;
    for &(typ, major, minor) in nodes {
        out.push(Rule {
            allow: true,
            typ: Some(typ),
            major: Some(major),
            minor: Some(minor),
            access: "rwm".into(),
        });
    }
    for d in DEFAULT_ALLOWED {
        out.push(Rule {
            allow: true,
            typ: Some(d.typ),
            major: d.major,
            minor: d.minor,
            access: d.access.into(),
        });
    }
    Ok(out)
}

/// v1 writes in order: `a` to devices.deny first, then each rule to allow/deny.
pub fn v1_writes(rules: &[Rule]) -> Vec<(&'static str, String)> {
    let mut w = vec![("devices.deny", "a".to_string())];
    for r in rules {
        let f = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        w.push((f, r.v1_line()));
    }
    w
}

// eBPF opcodes (<linux/bpf_common.h>, <linux/bpf.h>).
const LDX_MEM_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JMP_JNE_K: u8 = 0x55;
const JMP_JNE_X: u8 = 0x5d;
const JMP_JEQ_K: u8 = 0x15;
const JMP_EXIT: u8 = 0x95;

/// `bpf_cgroup_dev_ctx.access_type` bits.
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0xf),
        off,
        imm,
    }
}

fn access_bits(a: &str) -> i32 {
    let mut b = 0;
    for (c, bit) in [('m', ACC_MKNOD), ('r', ACC_READ), ('w', ACC_WRITE)] {
        if a.contains(c) {
            b |= bit;
        }
    }
    b
}

/// Compile the rules into a BPF_PROG_TYPE_CGROUP_DEVICE program: R2 = type, R3 = access,
/// R4 = major, R5 = minor; rules are tested last first and the first match decides
/// (an allow rule matches when it covers every requested access, a deny rule when it
/// covers any); nothing matching means deny.
pub fn bpf_program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        ins(LDX_MEM_W, 2, 1, 0, 0),
        ins(ALU32_AND_K, 2, 0, 0, 0xffff),
        ins(LDX_MEM_W, 3, 1, 0, 0),
        ins(ALU32_RSH_K, 3, 0, 0, 16),
        ins(LDX_MEM_W, 4, 1, 4, 0),
        ins(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        let mut block: Vec<Insn> = Vec::new();
        // Each test jumps to the end of this block; offsets are patched once its length is known.
        if let Some(t) = r.typ {
            let t = if t == 'b' { DEV_BLOCK } else { DEV_CHAR };
            block.push(ins(JMP_JNE_K, 2, 0, 0, t));
        }
        let bits = access_bits(&r.access);
        if bits != ACC_MKNOD | ACC_READ | ACC_WRITE {
            block.push(ins(ALU32_MOV_X, 1, 3, 0, 0));
            block.push(ins(ALU32_AND_K, 1, 0, 0, bits));
            if r.allow {
                // requested & bits != requested: something asked is not covered.
                block.push(ins(JMP_JNE_X, 1, 3, 0, 0));
            } else {
                // requested & bits == 0: nothing asked is denied here.
                block.push(ins(JMP_JEQ_K, 1, 0, 0, 0));
            }
        }
        if let Some(m) = r.major {
            block.push(ins(JMP_JNE_K, 4, 0, 0, m as i32));
        }
        if let Some(m) = r.minor {
            block.push(ins(JMP_JNE_K, 5, 0, 0, m as i32));
        }
        block.push(ins(ALU64_MOV_K, 0, 0, 0, r.allow as i32));
        block.push(ins(JMP_EXIT, 0, 0, 0, 0));
        let n = block.len();
        let mut tests = 0;
        for (i, insn) in block.iter_mut().enumerate() {
            if matches!(insn.code, JMP_JNE_K | JMP_JNE_X | JMP_JEQ_K) {
                insn.off = (n - i - 1) as i16;
                tests += 1;
            }
        }
        p.extend(block);
        if tests == 0 {
            // Matches everything: what follows could never run, and the verifier refuses
            // unreachable instructions.
            return p;
        }
    }
    p.push(ins(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(ins(JMP_EXIT, 0, 0, 0, 0));
    p
}

/// Run the program the way the kernel would (for tests): 1 = allow.
pub fn interpret(prog: &[Insn], typ: char, major: u32, minor: u32, access: &str) -> Option<i64> {
    let t = if typ == 'b' { DEV_BLOCK } else { DEV_CHAR } as u64;
    let ctx = [
        (access_bits(access) as u64) << 16 | t,
        major as u64,
        minor as u64,
    ];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    while pc < prog.len() {
        let i = prog[pc];
        let (d, s) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        let imm = i.imm as i64 as u64;
        pc += 1;
        let mut jump = |cond: bool| {
            if cond {
                pc = (pc as i64 + i.off as i64) as usize;
            }
        };
        match i.code {
            LDX_MEM_W => r[d] = ctx[(i.off / 4) as usize] & 0xffff_ffff,
            ALU32_AND_K => r[d] = (r[d] & imm) & 0xffff_ffff,
            ALU32_RSH_K => r[d] = (r[d] & 0xffff_ffff) >> imm,
            ALU32_MOV_X => r[d] = r[s] & 0xffff_ffff,
            ALU64_MOV_K => r[d] = imm,
            JMP_JNE_K => jump(r[d] != imm),
            JMP_JNE_X => jump(r[d] != r[s]),
            JMP_JEQ_K => jump(r[d] == imm),
            JMP_EXIT => return Some(r[0] as i64),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, typ: Option<char>, maj: Option<u32>, min: Option<u32>, a: &str) -> Rule {
        Rule {
            allow,
            typ,
            major: maj,
            minor: min,
            access: a.into(),
        }
    }

    #[test]
    fn v1_deny_all_first_then_rules_in_order() {
        let rs = rules(&[], &[('c', 10, 229)]).unwrap();
        let w = v1_writes(&rs);
        assert_eq!(w[0], ("devices.deny", "a".to_string()));
        assert_eq!(w[1], ("devices.allow", "c 10:229 rwm".to_string()));
        assert_eq!(w[2], ("devices.allow", "c *:* m".to_string()));
        assert!(w.contains(&("devices.allow", "c 136:* rwm".to_string())));
    }

    #[test]
    fn bpf_default_list() {
        let deny_all = rule(false, None, None, None, "rwm");
        let mut rs = vec![deny_all];
        rs.extend(rules(&[], &[]).unwrap());
        let p = bpf_program(&rs);
        let run = |t, ma, mi, a| interpret(&p, t, ma, mi, a).unwrap();
        assert_eq!(run('c', 1, 3, "rw"), 1, "/dev/null");
        assert_eq!(run('c', 136, 4, "rw"), 1, "/dev/pts/4");
        assert_eq!(run('b', 8, 0, "r"), 0, "/dev/sda read");
        assert_eq!(run('b', 8, 0, "m"), 1, "mknod of a block device");
        assert_eq!(run('c', 10, 229, "rwm"), 0, "fuse: m yes but rw no");
    }

    /// The verifier refuses unreachable instructions: nothing after a catch-all rule.
    #[test]
    fn bpf_stops_at_a_catch_all_rule() {
        let mut rs = vec![rule(false, None, None, None, "rwm")];
        rs.extend(rules(&[], &[]).unwrap());
        let p = bpf_program(&rs);
        assert_eq!(p[p.len() - 2], ins(ALU64_MOV_K, 0, 0, 0, 0));
        assert_eq!(p.iter().filter(|i| i.code == JMP_EXIT).count(), 11);
        assert_eq!(interpret(&p, 'c', 10, 200, "r"), Some(0));
        assert_eq!(interpret(&p, 'c', 1, 3, "rw"), Some(1));
        let all = bpf_program(&[rule(true, None, None, None, "rwm")]);
        assert_eq!(all.len(), 8);
        assert_eq!(interpret(&all, 'b', 8, 0, "rwm"), Some(1));
    }

    #[test]
    fn bpf_later_rules_win_and_partial_deny() {
        let rs = vec![
            rule(true, None, None, None, "rwm"),
            rule(false, Some('c'), Some(1), Some(3), "w"),
        ];
        let p = bpf_program(&rs);
        assert_eq!(interpret(&p, 'c', 1, 3, "r"), Some(1));
        assert_eq!(interpret(&p, 'c', 1, 3, "w"), Some(0));
        assert_eq!(interpret(&p, 'c', 1, 3, "rw"), Some(0));
        assert_eq!(interpret(&p, 'b', 1, 3, "w"), Some(1));
        assert_eq!(interpret(&bpf_program(&[]), 'c', 1, 3, "r"), Some(0));
    }

    #[test]
    fn bad_rules_are_rejected() {
        let d: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":true,"type":"c","access":"rwx"}"#).unwrap();
        assert!(from_spec(&d).is_err());
        let d: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":true,"type":"p","access":"r"}"#).unwrap();
        assert!(from_spec(&d).is_err());
        let d: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":true,"type":"c","major":-7}"#).unwrap();
        assert!(from_spec(&d).is_err());
    }
}
