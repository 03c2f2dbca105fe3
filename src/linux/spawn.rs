//! fork + exec of a helper program (OCI hooks, newuidmap/newgidmap, ps) without
//! `std::process::Command`, whose spawn machinery (~9 KiB of the static binary: env maps,
//! posix_spawn fallbacks, its own pipes) reno needs nowhere else. Everything the child needs
//! is allocated before the fork, so it is also sound in a multithreaded test binary: the
//! child only dup2s, resets signals and execs.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::pipe::{pipe_with, PipeFlags};
use rustix::process::{Pid, WaitOptions, WaitStatus};

use super::process::{exit_now, fork, Forked};

/// A program and what it gets, ready to exec.
pub struct Cmd {
    /// Paths to try in order: the program itself when it has a '/', else each PATH entry.
    candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

/// Where the child's stdin / stdout+stderr go.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Io {
    Inherit,
    Null,
    Pipe,
}

pub struct Child {
    pub pid: Pid,
    /// Write end of the child's stdin (`Io::Pipe`).
    pub stdin: Option<OwnedFd>,
    /// Read ends of the child's stdout and stderr (`Io::Pipe`).
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

fn cstring(s: impl Into<Vec<u8>>) -> Result<CString, Errno> {
    CString::new(s).map_err(|_| Errno::INVAL)
}

impl Cmd {
    /// `prog` with `argv` (argv[0] included) and `env` (None: this process's environment).
    /// A `prog` without '/' is looked up in PATH as execvp(3) does.
    pub fn new(prog: &OsStr, argv: &[OsString], env: Option<&[OsString]>) -> Result<Cmd, Errno> {
        let candidates = if prog.as_bytes().contains(&b'/') {
            vec![cstring(prog.as_bytes())?]
        } else {
            let path =
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/bin:/usr/bin".into());
            let mut c = Vec::new();
            for dir in path.as_bytes().split(|b| *b == b':') {
                let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
                let mut p = dir.to_vec();
                p.push(b'/');
                p.extend_from_slice(prog.as_bytes());
                c.push(cstring(p)?);
            }
            c
        };
        let argv = argv
            .iter()
            .map(|a| cstring(a.as_bytes()))
            .collect::<Result<_, _>>()?;
        let envp = match env {
            Some(e) => e
                .iter()
                .map(|kv| cstring(kv.as_bytes()))
                .collect::<Result<_, _>>()?,
            None => std::env::vars_os()
                .map(|(k, v)| {
                    let mut kv = k.into_vec();
                    kv.push(b'=');
                    kv.extend_from_slice(v.as_bytes());
                    cstring(kv)
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Cmd {
            candidates,
            argv,
            envp,
        })
    }

    /// Start it. An exec failure (no such program, not executable) is this call's error, as
    /// with `Command::spawn`: the child reports its errno through a close-on-exec pipe.
    pub fn spawn(&self, stdin: Io, output: Io) -> Result<Child, Errno> {
        let mut argv: Vec<*const u8> = self.argv.iter().map(|s| s.as_ptr().cast()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const u8> = self.envp.iter().map(|s| s.as_ptr().cast()).collect();
        envp.push(std::ptr::null());
        let null = if stdin == Io::Null || output == Io::Null {
            Some(rustix::fs::open(
                "/dev/null",
                rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )?)
        } else {
            None
        };
        let pipe = |io: Io| -> Result<Option<(OwnedFd, OwnedFd)>, Errno> {
            Ok(if io == Io::Pipe {
                Some(pipe_with(PipeFlags::CLOEXEC)?)
            } else {
                None
            })
        };
        let inp = pipe(stdin)?;
        let out = pipe(output)?;
        let err = pipe(output)?;
        let (status_r, status_w) = pipe_with(PipeFlags::CLOEXEC)?;
        match fork()? {
            Forked::Child => {
                let mut ok = true;
                if let Some((r, _)) = &inp {
                    ok &= rustix::stdio::dup2_stdin(r).is_ok();
                } else if let (Io::Null, Some(n)) = (stdin, &null) {
                    ok &= rustix::stdio::dup2_stdin(n).is_ok();
                }
                if let (Some((_, o)), Some((_, e))) = (&out, &err) {
                    ok &= rustix::stdio::dup2_stdout(o).is_ok()
                        && rustix::stdio::dup2_stderr(e).is_ok();
                } else if let (Io::Null, Some(n)) = (output, &null) {
                    ok &= rustix::stdio::dup2_stdout(n).is_ok()
                        && rustix::stdio::dup2_stderr(n).is_ok();
                }
                // What std's Command does too: the program starts with SIGPIPE at its default
                // and nothing blocked.
                let _ = super::signal::set_default(13);
                let _ = super::signal::set_mask(0);
                let mut errno = if ok { Errno::NOENT } else { Errno::IO };
                let mut denied = false;
                for c in self.candidates.iter().filter(|_| ok) {
                    errno = super::process::execve_ptrs(c, &argv, &envp);
                    match errno {
                        Errno::NOENT | Errno::NOTDIR => continue,
                        Errno::ACCESS => denied = true,
                        _ => break,
                    }
                }
                if denied && matches!(errno, Errno::NOENT | Errno::NOTDIR) {
                    errno = Errno::ACCESS;
                }
                let _ = rustix::io::write(&status_w, &errno.raw_os_error().to_le_bytes());
                exit_now(127)
            }
            Forked::Parent(pid) => {
                drop(status_w);
                let mut buf = [0u8; 4];
                let mut n = 0;
                while n < 4 {
                    match rustix::io::read(&status_r, &mut buf[n..]) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(Errno::INTR) => continue,
                        Err(_) => break,
                    }
                }
                if n == 4 {
                    let _ = wait(pid);
                    return Err(Errno::from_raw_os_error(i32::from_le_bytes(buf)));
                }
                Ok(Child {
                    pid,
                    stdin: inp.map(|(_, w)| w),
                    stdout: out.map(|(r, _)| r),
                    stderr: err.map(|(r, _)| r),
                })
            }
        }
    }

    /// Run to completion with stdin on /dev/null, collecting stdout and stderr (both read as
    /// they come, so neither pipe can fill up and stall the child).
    pub fn output(&self) -> Result<(WaitStatus, Vec<u8>, Vec<u8>), Errno> {
        use rustix::event::{poll, PollFd, PollFlags};
        let mut c = self.spawn(Io::Null, Io::Pipe)?;
        let mut fds = [c.stdout.take(), c.stderr.take()];
        for f in fds.iter().flatten() {
            rustix::fs::fcntl_setfl(f, rustix::fs::OFlags::NONBLOCK)?;
        }
        let mut bufs = [Vec::new(), Vec::new()];
        let mut chunk = [0u8; 4096];
        while fds.iter().any(Option::is_some) {
            let mut polled: Vec<PollFd> = fds
                .iter()
                .flatten()
                .map(|f| PollFd::new(f, PollFlags::IN))
                .collect();
            match poll(&mut polled, None) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
            drop(polled);
            for (slot, buf) in fds.iter_mut().zip(bufs.iter_mut()) {
                let Some(f) = slot else { continue };
                match rustix::io::read(&*f, &mut chunk) {
                    Ok(0) => *slot = None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(Errno::AGAIN | Errno::INTR) => {}
                    Err(_) => *slot = None,
                }
            }
        }
        let [out, err] = bufs;
        Ok((wait(c.pid)?, out, err))
    }
}

/// `waitpid(pid, 0)`, retried on EINTR.
pub fn wait(pid: Pid) -> Result<WaitStatus, Errno> {
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, s))) => return Ok(s),
            Ok(None) | Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// As std's `ExitStatus` prints it: "exit status: 1", "signal: 9".
pub fn describe(s: WaitStatus) -> String {
    match (s.exit_status(), s.terminating_signal()) {
        (Some(c), _) => format!("exit status: {c}"),
        (None, Some(sig)) => format!("signal: {sig}"),
        _ => "unknown status".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn output_status_and_path_lookup() {
        let c = Cmd::new(
            "sh".as_ref(),
            &args(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
            None,
        )
        .unwrap();
        let (s, out, err) = c.output().unwrap();
        assert_eq!(
            (s.exit_status(), &out[..], &err[..]),
            (Some(3), &b"out\n"[..], &b"err\n"[..])
        );
        assert_eq!(describe(s), "exit status: 3");
    }

    #[test]
    fn exact_environment_and_argv0() {
        let c = Cmd::new(
            "/bin/sh".as_ref(),
            &args(&["name0", "-c", "echo \"$0 $A\"; env | grep -c ."]),
            Some(&args(&["A=1"])),
        )
        .unwrap();
        let (_, out, _) = c.output().unwrap();
        // The shell may add PWD/SHLVL/_ of its own; nothing of ours leaks in.
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("name0 1\n"), "{text}");
        assert!(
            text.lines().nth(1).unwrap().parse::<u32>().unwrap() <= 4,
            "{text}"
        );
    }

    #[test]
    fn exec_errors_are_the_spawn_error() {
        let c = Cmd::new("/nonexistent/x".as_ref(), &args(&["x"]), None).unwrap();
        assert_eq!(c.spawn(Io::Null, Io::Null).err(), Some(Errno::NOENT));
        let c = Cmd::new("no-such-program-reno".as_ref(), &args(&["x"]), None).unwrap();
        assert_eq!(c.output().err(), Some(Errno::NOENT));
        let c = Cmd::new("/etc/passwd".as_ref(), &args(&["x"]), None).unwrap();
        assert_eq!(c.output().err(), Some(Errno::ACCESS));
    }

    #[test]
    fn stdin_pipe_reaches_the_child() {
        let c = Cmd::new(
            "/bin/sh".as_ref(),
            &args(&["sh", "-c", "read l; exit $l"]),
            None,
        )
        .unwrap();
        let ch = c.spawn(Io::Pipe, Io::Null).unwrap();
        rustix::io::write(ch.stdin.as_ref().unwrap(), b"7\n").unwrap();
        drop(ch.stdin);
        assert_eq!(wait(ch.pid).unwrap().exit_status(), Some(7));
    }
}
