//! Foreground terminal without a console socket: reno itself holds the pty master and
//! copies between it and its own stdin/stdout, with the user's terminal in raw mode, the
//! window size passed on at start and on SIGWINCH, and the terminal restored at exit.

use rustix::event::{PollFd, PollFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::process::Pid;

use crate::error::{Error, Result};
use crate::linux::{self, pty, signal};

/// How long one poll waits before pending signals are looked at.
const TICK_MS: i32 = 50;
/// How often the EOF of a non-terminal stdin is passed on again.
const EOF_REPEAT: std::time::Duration = std::time::Duration::from_millis(500);

/// Relay until the process exits and the pty has no more output; its exit code.
pub fn relay_and_wait(master: &OwnedFd, pid: Pid, mask: signal::SigMask) -> Result<i32> {
    let stdin = rustix::stdio::stdin();
    let stdout = rustix::stdio::stdout();
    let saved = if pty::is_tty(stdin) {
        copy_winsize(stdin, master.as_fd());
        pty::make_raw(stdin).ok()
    } else {
        None
    };
    let r = pump(master, pid, mask, stdin, stdout);
    if let Some(t) = &saved {
        let _ = pty::restore(stdin, t);
    }
    r
}

fn copy_winsize(from: BorrowedFd<'_>, to: BorrowedFd<'_>) {
    if let Ok(ws) = pty::winsize(from) {
        let _ = pty::set_winsize(to, ws.ws_row, ws.ws_col);
    }
}

fn pump(
    master: &OwnedFd,
    pid: Pid,
    mask: signal::SigMask,
    stdin: BorrowedFd<'_>,
    stdout: BorrowedFd<'_>,
) -> Result<i32> {
    let raw = pid.as_raw_nonzero().get();
    let mut stdin_open = true;
    let mut master_open = true;
    let mut exited: Option<i32> = None;
    let mut forward_eof = false;
    let mut last_eof: Option<std::time::Instant> = None;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if exited.is_none() {
            match linux::process::try_wait(pid) {
                Ok(Some(code)) => exited = Some(code),
                // Never loop on a child we can no longer wait for.
                Err(Errno::CHILD) => {
                    return Err(Error::failed(
                        "wait for the container process",
                        "it is not our child any more (SIGCHLD ignored by our caller?)",
                    ))
                }
                _ => {}
            }
        }
        if forward_eof && last_eof.is_none_or(|t| t.elapsed() >= EOF_REPEAT) {
            // VEOF at the start of a line reads as EOF. Repeated: a program that sets up the
            // terminal with TCSAFLUSH (a shell at its first prompt) discards earlier input.
            write_all(master.as_fd(), b"\x04");
            last_eof = Some(std::time::Instant::now());
        }
        if let Some(code) = exited {
            // Drain what the process left in the pty without blocking on other holders.
            let _ = rustix::fs::fcntl_setfl(master, rustix::fs::OFlags::NONBLOCK);
            while master_open {
                match rustix::io::read(master, &mut buf) {
                    Ok(n) if n > 0 => write_all(stdout, &buf[..n]),
                    _ => master_open = false,
                }
            }
            return Ok(code);
        }
        let mut fds = Vec::with_capacity(2);
        if master_open {
            fds.push(PollFd::new(master, PollFlags::IN));
        }
        if stdin_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        let ts = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: TICK_MS as i64 * 1_000_000,
        };
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::sys("poll pty", e)),
        }
        let revents: Vec<PollFlags> = fds.iter().map(|f| f.revents()).collect();
        drop(fds);
        let mut i = 0;
        if master_open {
            let ev = revents[i];
            i += 1;
            if ev.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
                match rustix::io::read(master, &mut buf) {
                    Ok(0) | Err(Errno::IO) => master_open = false,
                    Ok(n) => write_all(stdout, &buf[..n]),
                    Err(Errno::INTR | Errno::AGAIN) => {}
                    Err(_) => master_open = false,
                }
            }
        }
        if stdin_open {
            let ev = revents[i];
            if ev.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
                match rustix::io::read(stdin, &mut buf) {
                    Ok(0) => {
                        stdin_open = false;
                        // Our input ended: pass the EOF on, unless a terminal is in front of
                        // us (it never "ends").
                        forward_eof = !pty::is_tty(stdin);
                    }
                    Ok(n) => write_all(master.as_fd(), &buf[..n]),
                    Err(Errno::INTR | Errno::AGAIN) => {}
                    Err(_) => stdin_open = false,
                }
            }
        }
        while let Ok(Some(sig)) = signal::wait(mask, Some(0)) {
            match sig {
                signal::SIGCHLD => {}
                signal::SIGWINCH => copy_winsize(stdin, master.as_fd()),
                s => {
                    let _ = signal::kill(raw, s);
                }
            }
        }
        if !master_open && exited.is_none() {
            // Every holder of the slave is gone: only the exit is left to wait for.
            return linux::process::wait_exit_code(pid).map_err(|e| Error::sys("wait", e));
        }
    }
}

fn write_all(fd: impl AsFd, mut data: &[u8]) {
    let fd = fd.as_fd();
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(0) => return,
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                let mut p = [PollFd::new(&fd, PollFlags::OUT)];
                let _ = rustix::event::poll(&mut p, None);
            }
            Err(_) => return,
        }
    }
}

/// `run` in the foreground with process.terminal and no --console-socket: reno listens on
/// a private socket of its own, passes it to create as the console socket, and relays.
pub struct Console {
    listener: std::os::unix::net::UnixListener,
    path: std::path::PathBuf,
}

impl Console {
    /// A console to relay, when `run` needs one (foreground, terminal, no socket given).
    /// `run` in the foreground only.
    pub fn for_run(o: &super::CreateOpts, spec: &crate::spec::Spec) -> Result<Option<Console>> {
        if o.console_socket.is_some() {
            return Ok(None);
        }
        let terminal = spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
        if !terminal {
            return Ok(None);
        }
        let path = std::env::temp_dir().join(format!("reno-console-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path)
            .map_err(|e| Error::failed("listen on console socket", e.to_string()).path(&path))?;
        Ok(Some(Console { listener, path }))
    }

    /// The create options with our socket as the console socket.
    pub fn opts(&self, o: &super::CreateOpts) -> super::CreateOpts {
        let mut o = o.clone();
        o.console_socket = Some(self.path.clone());
        o
    }

    /// Take the master the init sent and relay until the init exits.
    pub fn relay(self, pid: Pid, mask: signal::SigMask) -> Result<i32> {
        let (stream, _) = self
            .listener
            .accept()
            .map_err(|e| Error::failed("accept console connection", e.to_string()))?;
        let master = pty::recv_fd(&stream).map_err(|e| Error::sys("receive pty master", e))?;
        drop(stream);
        relay_and_wait(&master, pid, mask)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
