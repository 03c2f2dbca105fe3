//! Classic BPF opcodes and a small assembler with forward labels.
//!
//! Conditional jumps in classic BPF have 8-bit offsets (at most 255 instructions ahead); only
//! `JA` has a 32-bit one. The assembler lets the compiler jump to any label and, where a
//! target ends up too far, routes the branch through a `JA` trampoline placed right after
//! the jump. All jumps are forward, as the kernel requires (no loops).

pub use crate::linux::seccomp::SockFilter;

// Instruction classes.
pub const LD: u16 = 0x00;
pub const LDX: u16 = 0x01;
pub const ST: u16 = 0x02;
pub const STX: u16 = 0x03;
pub const ALU: u16 = 0x04;
pub const JMP: u16 = 0x05;
pub const RET: u16 = 0x06;
pub const MISC: u16 = 0x07;
// Sizes and modes.
pub const W: u16 = 0x00;
pub const IMM: u16 = 0x00;
pub const ABS: u16 = 0x20;
pub const MEM: u16 = 0x60;
pub const LEN: u16 = 0x80;
// ALU operations.
pub const ADD: u16 = 0x00;
pub const SUB: u16 = 0x10;
pub const MUL: u16 = 0x20;
pub const DIV: u16 = 0x30;
pub const OR: u16 = 0x40;
pub const AND: u16 = 0x50;
pub const LSH: u16 = 0x60;
pub const RSH: u16 = 0x70;
pub const NEG: u16 = 0x80;
pub const MOD: u16 = 0x90;
pub const XOR: u16 = 0xa0;
// Jumps.
pub const JA: u16 = 0x00;
pub const JEQ: u16 = 0x10;
pub const JGT: u16 = 0x20;
pub const JGE: u16 = 0x30;
pub const JSET: u16 = 0x40;
// Operand source.
pub const K: u16 = 0x00;
pub const X: u16 = 0x08;
/// RET with the accumulator as return value.
pub const A: u16 = 0x10;
// MISC.
pub const TAX: u16 = 0x00;
pub const TXA: u16 = 0x80;

/// `SECCOMP_RET_*` action values (the high 16 bits; the low 16 carry data).
pub mod ret {
    pub const KILL_PROCESS: u32 = 0x8000_0000;
    pub const KILL_THREAD: u32 = 0x0000_0000;
    pub const TRAP: u32 = 0x0003_0000;
    pub const ERRNO: u32 = 0x0005_0000;
    pub const USER_NOTIF: u32 = 0x7fc0_0000;
    pub const TRACE: u32 = 0x7ff0_0000;
    pub const LOG: u32 = 0x7ffc_0000;
    pub const ALLOW: u32 = 0x7fff_0000;
    pub const DATA: u32 = 0x0000_ffff;
}

/// Offsets into `struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer;
/// __u64 args[6]; }`.
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub const OFF_ARGS: u32 = 16;
pub const SECCOMP_DATA_LEN: u32 = 64;

/// Offsets of the low and high 32-bit word of argument `i` in seccomp_data. Every
/// architecture reno filters is little-endian, so the low word comes first.
pub fn arg_offsets(i: u32) -> (u32, u32) {
    let base = OFF_ARGS + 8 * i;
    (base, base + 4)
}

/// A jump target: a label, or the instruction right after the jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Next,
    Label(Label),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

#[derive(Debug)]
enum Item {
    Stmt {
        code: u16,
        k: u32,
    },
    Jump {
        code: u16,
        k: u32,
        jt: Target,
        jf: Target,
    },
    Ja(Label),
    Bind(Label),
}

#[derive(Default, Debug)]
pub struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    pub fn new() -> Self {
        Asm::default()
    }

    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Place `label` at the current position.
    pub fn bind(&mut self, label: Label) {
        self.items.push(Item::Bind(label));
    }

    pub fn stmt(&mut self, code: u16, k: u32) {
        self.items.push(Item::Stmt { code, k });
    }

    /// `A = seccomp_data[off]` (one 32-bit word).
    pub fn load(&mut self, off: u32) {
        self.stmt(LD | W | ABS, off);
    }

    pub fn ret(&mut self, action: u32) {
        self.stmt(RET | K, action);
    }

    /// A conditional jump against the constant `k`; `op` is JEQ, JGT, JGE or JSET.
    pub fn jump(&mut self, op: u16, k: u32, jt: Target, jf: Target) {
        self.items.push(Item::Jump {
            code: JMP | op | K,
            k,
            jt,
            jf,
        });
    }

    pub fn ja(&mut self, to: Label) {
        self.items.push(Item::Ja(to));
    }

    /// Resolve labels into offsets, adding JA trampolines for branches beyond 255.
    /// Errors only on a compiler bug (unbound label, backward jump).
    pub fn finish(self) -> Result<Vec<SockFilter>, String> {
        // far[i] = (jt needs a trampoline, jf needs a trampoline) for item i.
        let mut far = vec![(false, false); self.items.len()];
        loop {
            let (pos, at) = self.layout(&far)?;
            let mut changed = false;
            for (i, item) in self.items.iter().enumerate() {
                if let Item::Jump { jt, jf, .. } = item {
                    let after = pos[i] + 1 + far[i].0 as usize + far[i].1 as usize;
                    for (branch, t) in [jt, jf].into_iter().enumerate() {
                        if let Target::Label(l) = t {
                            let dest = at[l.0].ok_or("unbound label")?;
                            if dest < after {
                                return Err(format!("backward jump at item {i}"));
                            }
                            let is_far = if branch == 0 {
                                &mut far[i].0
                            } else {
                                &mut far[i].1
                            };
                            // Distance counted from the instruction after the jump itself.
                            if !*is_far && dest - (pos[i] + 1) > 255 {
                                *is_far = true;
                                changed = true;
                            }
                        }
                    }
                }
            }
            if !changed {
                return self.emit(&far, &pos, &at);
            }
        }
    }

    /// Position of every item and every label, given the trampolines chosen so far.
    #[allow(clippy::type_complexity)]
    fn layout(&self, far: &[(bool, bool)]) -> Result<(Vec<usize>, Vec<Option<usize>>), String> {
        let mut pos = Vec::with_capacity(self.items.len());
        let mut at = vec![None; self.labels];
        let mut p = 0usize;
        for (i, item) in self.items.iter().enumerate() {
            pos.push(p);
            match item {
                Item::Stmt { .. } | Item::Ja(_) => p += 1,
                Item::Jump { .. } => p += 1 + far[i].0 as usize + far[i].1 as usize,
                Item::Bind(l) => {
                    if at[l.0].replace(p).is_some() {
                        return Err("label bound twice".into());
                    }
                }
            }
        }
        Ok((pos, at))
    }

    fn emit(
        &self,
        far: &[(bool, bool)],
        pos: &[usize],
        at: &[Option<usize>],
    ) -> Result<Vec<SockFilter>, String> {
        let dest = |t: &Target, next: usize| -> Result<usize, String> {
            match t {
                Target::Next => Ok(next),
                Target::Label(l) => at[l.0].ok_or_else(|| "unbound label".to_string()),
            }
        };
        let ja = |from: usize, to: usize| -> Result<SockFilter, String> {
            let off = to.checked_sub(from + 1).ok_or("backward JA")?;
            Ok(SockFilter {
                code: JMP | JA,
                jt: 0,
                jf: 0,
                k: off as u32,
            })
        };
        let mut out = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            match item {
                Item::Stmt { code, k } => out.push(SockFilter {
                    code: *code,
                    jt: 0,
                    jf: 0,
                    k: *k,
                }),
                Item::Ja(l) => {
                    let to = at[l.0].ok_or("unbound label")?;
                    out.push(ja(pos[i], to)?);
                }
                Item::Jump { code, k, jt, jf } => {
                    let p = pos[i];
                    let (ft, ff) = far[i];
                    let next = p + 1 + ft as usize + ff as usize;
                    let t = dest(jt, next)?;
                    let f = dest(jf, next)?;
                    // Trampolines sit right after the jump: jt's first, then jf's.
                    let jt_pos = if ft { p + 1 } else { t };
                    let jf_pos = if ff { p + 1 + ft as usize } else { f };
                    let off = |d: usize| -> Result<u8, String> {
                        u8::try_from(d - (p + 1)).map_err(|_| format!("jump too far at {p}"))
                    };
                    out.push(SockFilter {
                        code: *code,
                        jt: off(jt_pos)?,
                        jf: off(jf_pos)?,
                        k: *k,
                    });
                    if ft {
                        out.push(ja(p + 1, t)?);
                    }
                    if ff {
                        out.push(ja(p + 1 + ft as usize, f)?);
                    }
                }
                Item::Bind(_) => {}
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_branches_get_trampolines() {
        let mut a = Asm::new();
        let far = a.label();
        a.load(OFF_NR);
        a.jump(JEQ, 1, Target::Label(far), Target::Next);
        for _ in 0..300 {
            a.ret(ret::ALLOW);
        }
        a.bind(far);
        a.ret(ret::KILL_PROCESS);
        let p = a.finish().unwrap();
        // load, jeq, trampoline, 300 rets, far ret
        assert_eq!(p.len(), 304);
        assert_eq!((p[1].jt, p[1].jf), (0, 1));
        assert_eq!(p[2].code, JMP | JA);
        assert_eq!(2 + 1 + p[2].k as usize, 303);
    }

    #[test]
    fn near_branches_stay_direct() {
        let mut a = Asm::new();
        let l = a.label();
        a.jump(JEQ, 1, Target::Next, Target::Label(l));
        a.ret(ret::ALLOW);
        a.bind(l);
        a.ret(ret::LOG);
        let p = a.finish().unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!((p[0].jt, p[0].jf), (0, 1));
    }
}
