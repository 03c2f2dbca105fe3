//! The pipes between `reno create` and the container's init: a small typed message set,
//! one message per line (`tag payload\n`, newlines in the payload escaped).

use std::io::{Read, Write};

use rustix::fd::OwnedFd;

use crate::error::{Context, Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// parent → child: the id maps are written and the cgroup is ready to join.
    Continue,
    /// child → parent: mounts are done; run prestart/createRuntime hooks now (sent only
    /// when the config has such hooks).
    MountsReady,
    /// parent → child: hooks ran (or there are none, and it follows `Continue` at once);
    /// carries the state JSON for createContainer hooks.
    Go(String),
    /// child → parent: set-up finished, waiting on the exec fifo.
    Created,
    /// child → parent: set-up failed with this message.
    Failed(String),
    /// child → parent: the seccomp notify listener is this fd number in the child; the
    /// parent takes it with pidfd_getfd and hands it to `listenerPath`.
    SeccompFd(i32),
    /// parent → child: the listener went to the agent; the child may close its copy.
    SeccompDone,
}

impl Msg {
    fn encode(&self) -> String {
        let (tag, payload) = match self {
            Msg::Continue => ("continue", ""),
            Msg::MountsReady => ("mounts-ready", ""),
            Msg::Go(s) => ("go", s.as_str()),
            Msg::Created => ("created", ""),
            Msg::Failed(s) => ("failed", s.as_str()),
            Msg::SeccompFd(n) => return format!("seccomp-fd {n}\n"),
            Msg::SeccompDone => ("seccomp-done", ""),
        };
        let mut out = String::with_capacity(tag.len() + payload.len() + 2);
        out.push_str(tag);
        out.push(' ');
        for c in payload.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('\n');
        out
    }

    fn decode(line: &str) -> Option<Msg> {
        let (tag, raw) = line.split_once(' ').unwrap_or((line, ""));
        let mut payload = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => payload.push('\n'),
                    Some(o) => payload.push(o),
                    None => {}
                }
            } else {
                payload.push(c);
            }
        }
        Some(match tag {
            "continue" => Msg::Continue,
            "mounts-ready" => Msg::MountsReady,
            "go" => Msg::Go(payload),
            "created" => Msg::Created,
            "failed" => Msg::Failed(payload),
            "seccomp-fd" => Msg::SeccompFd(payload.parse().ok()?),
            "seccomp-done" => Msg::SeccompDone,
            _ => return None,
        })
    }
}

/// One end of a pipe pair: we read from `rx` and write to `tx`.
pub struct Channel {
    rx: std::fs::File,
    tx: std::fs::File,
    /// Bytes read past the last message: the peer may write several messages before it
    /// waits for an answer (`create` sends `continue` and `go` together when no hook runs
    /// between them), so what one read returns can hold more than one line.
    buf: Vec<u8>,
}

impl Channel {
    pub fn new(rx: OwnedFd, tx: OwnedFd) -> Channel {
        Channel {
            rx: std::fs::File::from(rx),
            tx: std::fs::File::from(tx),
            buf: Vec::new(),
        }
    }

    /// The two fd numbers (read end, write end), for code that closes every other fd.
    pub fn raw_fds(&self) -> [i32; 2] {
        use std::os::fd::AsRawFd;
        [self.rx.as_raw_fd(), self.tx.as_raw_fd()]
    }

    pub fn send(&mut self, m: &Msg) -> Result<()> {
        self.tx
            .write_all(m.encode().as_bytes())
            .ctx("write to init pipe")
    }

    /// The next message; `None` at EOF (the other side exited).
    pub fn recv(&mut self) -> Result<Option<Msg>> {
        // Read what the pipe holds in chunks (one read per message as a rule, not one per
        // byte); a partial line stays in `buf` for the next read.
        let mut chunk = [0u8; 512];
        let end = loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                break i;
            }
            match self.rx.read(&mut chunk) {
                Ok(0) => {
                    return if self.buf.is_empty() {
                        Ok(None)
                    } else {
                        Err(Error::failed("read init pipe", "truncated message"))
                    };
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).ctx("read init pipe"),
            }
        };
        let line: Vec<u8> = self.buf.drain(..=end).collect();
        let s = String::from_utf8_lossy(&line[..end]);
        Msg::decode(&s)
            .map(Some)
            .ok_or_else(|| Error::failed("read init pipe", format!("unknown message {s:?}")))
    }
}

/// A pair of pipes and the two channel ends made from them.
pub fn pair() -> Result<(Channel, Channel)> {
    use rustix::pipe::{pipe_with, PipeFlags};
    let (a_rx, b_tx) = pipe_with(PipeFlags::CLOEXEC).ctx("create pipe")?;
    let (b_rx, a_tx) = pipe_with(PipeFlags::CLOEXEC).ctx("create pipe")?;
    Ok((Channel::new(a_rx, a_tx), Channel::new(b_rx, b_tx)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_escapes() {
        for m in [
            Msg::Continue,
            Msg::Go("{\"a\":\"b\\\\n\"}\nx".into()),
            Msg::Failed("x\\y\nz".into()),
            Msg::Created,
            Msg::SeccompFd(7),
            Msg::SeccompDone,
        ] {
            let e = m.encode();
            assert_eq!(e.matches('\n').count(), 1);
            assert_eq!(Msg::decode(e.trim_end_matches('\n')), Some(m));
        }
    }

    #[test]
    fn over_pipes() {
        let (mut a, mut b) = pair().unwrap();
        a.send(&Msg::Go("s".into())).unwrap();
        a.send(&Msg::Created).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::Go("s".into())));
        assert_eq!(b.recv().unwrap(), Some(Msg::Created));
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }

    #[test]
    fn messages_written_together_and_split_lines() {
        let (mut a, mut b) = pair().unwrap();
        let long = "x".repeat(2000);
        a.send(&Msg::Continue).unwrap();
        a.send(&Msg::Go(long.clone())).unwrap();
        a.send(&Msg::Failed("y\nz".into())).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::Continue));
        assert_eq!(b.recv().unwrap(), Some(Msg::Go(long)));
        assert_eq!(b.recv().unwrap(), Some(Msg::Failed("y\nz".into())));
        // A half-written message at EOF is an error, not a message.
        use std::io::Write;
        a.tx.write_all(b"crea").unwrap();
        drop(a);
        assert!(b.recv().is_err());
    }
}
