//! A classic-BPF interpreter for seccomp programs, so tests can check a filter for any
//! architecture without loading it. It accepts what the kernel's seccomp_check_filter
//! accepts and counts the instructions it executes.

use super::bpf::*;

/// `struct seccomp_data`, as the kernel fills it (little-endian layout).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    pub fn new(arch: u32, nr: u32, args: [u64; 6]) -> Self {
        SeccompData {
            nr: nr as i32,
            arch,
            instruction_pointer: 0,
            args,
        }
    }

    fn word(&self, off: u32) -> Option<u32> {
        if off % 4 != 0 || off + 4 > SECCOMP_DATA_LEN {
            return None;
        }
        let mut bytes = [0u8; SECCOMP_DATA_LEN as usize];
        bytes[0..4].copy_from_slice(&self.nr.to_le_bytes());
        bytes[4..8].copy_from_slice(&self.arch.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.instruction_pointer.to_le_bytes());
        for (i, a) in self.args.iter().enumerate() {
            bytes[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let o = off as usize;
        Some(u32::from_le_bytes([
            bytes[o],
            bytes[o + 1],
            bytes[o + 2],
            bytes[o + 3],
        ]))
    }
}

/// The value a program returned and how many instructions it executed to get there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub action: u32,
    pub steps: usize,
}

/// Run `prog` on `data`. Errors name the instruction that the kernel would refuse or that
/// would run off the end.
pub fn run(prog: &[SockFilter], data: &SeccompData) -> Result<Run, String> {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    let mut steps = 0usize;
    loop {
        let ins = prog
            .get(pc)
            .ok_or_else(|| format!("ran off the end at {pc}"))?;
        steps += 1;
        let k = ins.k;
        let at = pc;
        let bad = || format!("invalid instruction {:#06x} at {at}", ins.code);
        let class = ins.code & 0x07;
        pc += 1;
        match class {
            LD => match ins.code {
                c if c == LD | W | ABS => a = data.word(k).ok_or_else(bad)?,
                c if c == LD | W | LEN => a = SECCOMP_DATA_LEN,
                c if c == LD | IMM => a = k,
                c if c == LD | MEM => a = *mem.get(k as usize).ok_or_else(bad)?,
                _ => return Err(bad()),
            },
            LDX => match ins.code {
                c if c == LDX | W | LEN => x = SECCOMP_DATA_LEN,
                c if c == LDX | IMM => x = k,
                c if c == LDX | MEM => x = *mem.get(k as usize).ok_or_else(bad)?,
                _ => return Err(bad()),
            },
            ST => *mem.get_mut(k as usize).ok_or_else(bad)? = a,
            STX => *mem.get_mut(k as usize).ok_or_else(bad)? = x,
            ALU => {
                let src = if ins.code & X != 0 { x } else { k };
                a = match ins.code & 0xf0 {
                    ADD => a.wrapping_add(src),
                    SUB => a.wrapping_sub(src),
                    MUL => a.wrapping_mul(src),
                    DIV => a.checked_div(src).ok_or_else(bad)?,
                    MOD => a.checked_rem(src).ok_or_else(bad)?,
                    OR => a | src,
                    AND => a & src,
                    XOR => a ^ src,
                    LSH => a.checked_shl(src).unwrap_or(0),
                    RSH => a.checked_shr(src).unwrap_or(0),
                    NEG => a.wrapping_neg(),
                    _ => return Err(bad()),
                };
            }
            JMP => {
                let op = ins.code & 0xf0;
                if op == JA {
                    pc += k as usize;
                    continue;
                }
                let src = if ins.code & X != 0 { x } else { k };
                let taken = match op {
                    JEQ => a == src,
                    JGT => a > src,
                    JGE => a >= src,
                    JSET => a & src != 0,
                    _ => return Err(bad()),
                };
                pc += if taken { ins.jt } else { ins.jf } as usize;
            }
            RET => {
                let action = match ins.code {
                    c if c == RET | K => k,
                    c if c == RET | A => a,
                    _ => return Err(bad()),
                };
                return Ok(Run { action, steps });
            }
            MISC => match ins.code {
                c if c == MISC | TAX => x = a,
                c if c == MISC | TXA => a = x,
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    #[test]
    fn runs_a_hand_written_filter() {
        // if (nr == 5) return ERRNO(7); return ALLOW;
        let prog = [
            i(LD | W | ABS, 0, 0, OFF_NR),
            i(JMP | JEQ | K, 0, 1, 5),
            i(RET | K, 0, 0, ret::ERRNO | 7),
            i(RET | K, 0, 0, ret::ALLOW),
        ];
        let r = run(&prog, &SeccompData::new(0, 5, [0; 6])).unwrap();
        assert_eq!(
            r,
            Run {
                action: ret::ERRNO | 7,
                steps: 3
            }
        );
        let r = run(&prog, &SeccompData::new(0, 6, [0; 6])).unwrap();
        assert_eq!(r.action, ret::ALLOW);
    }

    #[test]
    fn reads_args_in_halves() {
        let d = SeccompData::new(0, 0, [0, 0x1122_3344_5566_7788, 0, 0, 0, 0]);
        assert_eq!(d.word(OFF_ARGS + 8), Some(0x5566_7788));
        assert_eq!(d.word(OFF_ARGS + 12), Some(0x1122_3344));
        assert_eq!(d.word(62), None);
    }

    #[test]
    fn refuses_running_off_the_end() {
        let prog = [i(LD | W | ABS, 0, 0, OFF_NR)];
        assert!(run(&prog, &SeccompData::default()).is_err());
    }
}
