//! `process.terminal`: a pty made *inside* the container (its devpts, after the root
//! switch), the master handed to whoever listens on the console socket, the slave made our
//! stdio and controlling terminal. Same steps and order as runc's setupConsole.

use std::path::Path;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{Context, Error, Result};
use crate::linux::{self, pty};
use crate::spec::Process;

/// The name runc sends with the master (its `pty.Name()`); receivers ignore it.
const SENT_NAME: &str = "/dev/ptmx";

/// Make the pty, send the master over `socket`, become a session leader with the slave as
/// controlling tty and stdio. `mount_console`: bind the slave onto /dev/console (the init;
/// an exec'd process leaves /dev/console alone).
pub fn setup_console(socket: BorrowedFd<'_>, process: &Process, mount_console: bool) -> Result<()> {
    let p = pty::open().ctx_path("open pty in the container", "/dev/ptmx")?;
    if let Some(size) = process.console_size() {
        let rows = size.height().min(u16::MAX as u64) as u16;
        let cols = size.width().min(u16::MAX as u64) as u16;
        if rows > 0 && cols > 0 {
            pty::set_winsize(&p.master, rows, cols).ctx("set console size")?;
        }
    }
    if mount_console {
        mount_console_node(&p.slave)?;
    }
    pty::send_fd(socket, p.master.as_fd(), SENT_NAME).ctx("send pty master to console socket")?;
    drop(p.master);
    let slave = pty::open_slave(&p.slave).ctx_path("open pty slave", &p.slave)?;
    // The process's user must own its terminal (runc's fixStdioPermissions); best effort,
    // the fd works either way.
    let u = process.user();
    let _ = rustix::fs::fchown(
        &slave,
        Some(rustix::fs::Uid::from_raw(u.uid())),
        Some(rustix::fs::Gid::from_raw(u.gid())),
    );
    become_session_leader()?;
    rustix::stdio::dup2_stdin(&slave).ctx("dup pty onto stdin")?;
    rustix::stdio::dup2_stdout(&slave).ctx("dup pty onto stdout")?;
    rustix::stdio::dup2_stderr(&slave).ctx("dup pty onto stderr")?;
    pty::set_controlling(rustix::stdio::stdin()).ctx("ioctl(TIOCSCTTY)")?;
    Ok(())
}

/// The console socket for `create`: connected by the parent (it names a host path, which
/// the init can't reach after the root switch), only when process.terminal is set.
pub fn connect_socket(spec: &crate::spec::Spec, path: Option<&Path>) -> Result<Option<OwnedFd>> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    match path {
        Some(p) if terminal => pty::connect(p)
            .ctx_path("connect to console socket", p)
            .map(Some),
        _ => Ok(None),
    }
}

/// setsid(), tolerating that we already lead a session (EPERM).
pub fn become_session_leader() -> Result<()> {
    match rustix::process::setsid() {
        Ok(_) => Ok(()),
        Err(rustix::io::Errno::PERM) => Ok(()),
        Err(e) => Err(Error::sys("setsid", e)),
    }
}

/// /dev/console: a bind mount of the slave, so `/dev/console` in the container is its tty.
fn mount_console_node(slave: &Path) -> Result<()> {
    let console = Path::new("/dev/console");
    match rustix::fs::open(
        console,
        rustix::fs::OFlags::CREATE
            | rustix::fs::OFlags::WRONLY
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::from_raw_mode(0o600),
    ) {
        Ok(_) => {}
        // An existing device node or file (O_CREAT on a char device without permission to
        // open it is fine: it exists, so it can be mounted over).
        Err(rustix::io::Errno::EXIST | rustix::io::Errno::NXIO | rustix::io::Errno::ACCESS) => {}
        Err(e) => return Err(Error::sys("create /dev/console", e).path(console)),
    }
    linux::mount::mount(
        &slave.to_string_lossy(),
        console,
        "",
        linux::mount::MS_BIND,
        None,
    )
    .ctx_path("bind pty onto /dev/console", console)
}
