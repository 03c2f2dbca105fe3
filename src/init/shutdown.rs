//! The end of a device's life as PID 1 sees it: kill what is left, sync, unmount, reboot(2).
//! PID 1 never returns from here (the kernel panics when init exits).

use std::path::Path;

use rustix::process::WaitOptions;
use rustix::system::RebootCommand;

use crate::linux::mount as m;
use crate::linux::signal::{self, SIGKILL, SIGTERM};

use super::board::Action;
use super::log;

/// After the containers stopped: SIGTERM to every other process, SIGKILL after `grace`
/// seconds, then sync, unmount everything (read-only remount where busy) and reboot.
pub fn finish(action: Action, grace: u64) -> ! {
    log::info("sending SIGTERM to all processes");
    let _ = signal::kill(-1, SIGTERM);
    let deadline = log::boottime() + grace as f64;
    while log::boottime() < deadline && reap_some() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = signal::kill(-1, SIGKILL);
    while reap_some() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    rustix::fs::sync();
    unmount_all();
    rustix::fs::sync();
    power(action)
}

/// Reap whatever exited; false once no child is left.
fn reap_some() -> bool {
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some(_)) => continue,
            Ok(None) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

/// Unmount deepest first; what cannot be unmounted (busy, or `/`) is remounted read-only so
/// the filesystems are clean when the power goes.
fn unmount_all() {
    let Ok(info) = crate::linux::fs::read_small("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(m::unescape_mountinfo)
        .collect();
    points.reverse();
    for p in points {
        let path = Path::new(&p);
        // The API filesystems hold nothing to flush, and /proc is needed to the end.
        if ["/proc", "/sys", "/dev"]
            .iter()
            .any(|a| path.starts_with(a))
        {
            continue;
        }
        if p == "/" || rustix::mount::unmount(path, rustix::mount::UnmountFlags::empty()).is_err() {
            let _ = m::mount("", path, "", m::MS_REMOUNT | m::MS_RDONLY, None);
        }
    }
}

/// reboot(2). If the kernel refuses, there is nothing better to do than wait forever.
pub fn power(action: Action) -> ! {
    let cmd = match action {
        Action::Reboot => RebootCommand::Restart,
        Action::Poweroff => RebootCommand::PowerOff,
        Action::Halt => RebootCommand::Halt,
    };
    log::info(&format!("{action:?} now"));
    if let Err(e) = rustix::system::reboot(cmd) {
        log::error(&format!("reboot(2): {}", crate::error::errno_text(e)));
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
