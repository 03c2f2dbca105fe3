//! `reno exec`: start another process in a running container.
//!
//! reno (P) opens the init's namespaces (/proc/PID/ns/*) and root, switches its own pid
//! namespace *for children* to the container's, forks the process (G) there, puts G in the
//! container's cgroup, and lets it go. G joins the user namespace first, then the others,
//! chroots into the init's root and takes the same set-up path as the init (rlimits, user,
//! capabilities, no_new_privs, seccomp last) before execve. G's set-up errors come back over
//! a close-on-exec pipe, so EOF on it means the execve succeeded.
//!
//! Foreground: P forwards signals and exits with G's code (relaying the pty if G has one
//! and no console socket was given). `--detach`: P returns once G runs; the engine (conmon,
//! the shim), a subreaper, collects it.

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::process::Pid;

use super::channel::{self, Channel, Msg};
use super::create::write_pid_file;
use super::init;
use super::terminal;
use super::Globals;
use crate::cgroups::{self, Cgroup};
use crate::error::{Context, Error, Kind, Result};
use crate::linux::{self, process::Forked, pty, signal};
use crate::spec::{self, Process, Spec};
use crate::state::{self, Status};

/// What `exec` is asked to do (flags as runc's).
#[derive(Debug, Clone, Default)]
pub struct ExecOpts {
    pub id: String,
    /// `--process FILE`: the whole process.json; the other process flags are then ignored.
    pub process: Option<PathBuf>,
    pub args: Vec<String>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    pub user: Option<(u32, Option<u32>)>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub preserve_fds: u32,
    pub process_label: Option<String>,
    pub apparmor: Option<String>,
    pub ignore_paused: bool,
}

/// Namespace kinds in join order: user first (it owns the others), mnt last.
const NAMESPACES: &[(&str, u64)] = &[
    ("user", linux::process::CLONE_NEWUSER),
    ("ipc", linux::process::CLONE_NEWIPC),
    ("uts", linux::process::CLONE_NEWUTS),
    ("net", linux::process::CLONE_NEWNET),
    ("cgroup", linux::process::CLONE_NEWCGROUP),
    ("time", linux::process::CLONE_NEWTIME),
    ("mnt", linux::process::CLONE_NEWNS),
];

/// Run the exec; returns reno's exit code (the process's in the foreground).
pub fn exec(g: &Globals, o: &ExecOpts) -> Result<i32> {
    let (lock, saved) = state::open(&g.root, &o.id)?;
    let dir = state::dir(&g.root, &o.id);
    let status = state::status(&dir, &saved);
    match status {
        Status::Stopped => return Err(stopped()),
        Status::Paused if !o.ignore_paused => {
            return Err(Error::new(
                Kind::WrongState,
                "cannot exec in a paused container (use --ignore-paused to override)",
            ))
        }
        Status::Creating => {
            return Err(Error::new(
                Kind::WrongState,
                "cannot exec in a container that is still being created",
            ))
        }
        _ => {}
    }
    let copy = dir.join(state::CONFIG_COPY);
    let bytes = std::fs::read(&copy).ctx_path("read saved config", &copy)?;
    let spec = spec::parse(&bytes).map_err(|e| e.path(&copy))?;
    let process = build_process(&spec, o)?;
    spec::validate_process(&process)?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && o.detach && o.console_socket.is_none() {
        return Err(Error::invalid(
            "exec",
            "cannot allocate tty if runc will detach without setting console socket",
        ));
    }
    if !terminal && o.console_socket.is_some() {
        return Err(Error::invalid(
            "exec",
            "cannot use console socket if runc will not allocate tty",
        ));
    }
    super::lsm::validate_process(&process)?;
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(crate::seccomp::prepare(s)?),
        None => None,
    };
    let listener = super::notify::listener_of(&spec, seccomp.as_ref().is_some_and(|p| p.notify))?;
    let state_value = state::to_json(&saved, status);

    // Everything of the init's is opened now, from the host's view, before the pid check:
    // if the pid was reused after the check we would still hold the right namespaces only
    // if it was not, so check after opening.
    let pid = saved.pid;
    let mut joins = Vec::new();
    let mut pidns: Option<OwnedFd> = None;
    for &(name, flag) in NAMESPACES
        .iter()
        .chain([("pid", linux::process::CLONE_NEWPID)].iter())
    {
        let theirs = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
        let ours = PathBuf::from(format!("/proc/self/ns/{name}"));
        match (ns_id(&theirs), ns_id(&ours)) {
            (Some(t), Some(m)) if t == m => continue,
            (None, None) => continue, // a kind this kernel doesn't have
            _ => {}
        }
        let fd = match open_ro(&theirs) {
            Ok(fd) => fd,
            // The init is exiting: its namespaces are already gone.
            Err(rustix::io::Errno::NOENT) => return Err(stopped()),
            Err(e) => return Err(Error::sys(format!("open {name} namespace"), e).path(&theirs)),
        };
        if name == "pid" {
            pidns = Some(fd);
        } else {
            joins.push((name, flag, fd));
        }
    }
    let root_path = PathBuf::from(format!("/proc/{pid}/root"));
    let root = rustix::fs::open(
        &root_path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ctx_path("open container root", &root_path)?;
    if !linux::process::is_alive(saved.pid, saved.start_time) {
        return Err(stopped());
    }

    // The console: the caller's socket, or our own pair when we relay in the foreground.
    let (console_tx, console_rx) = match (&o.console_socket, terminal) {
        (Some(p), true) => (
            Some(pty::connect(p).ctx_path("connect to console socket", p)?),
            None,
        ),
        (None, true) => {
            let (a, b) = pty::pair().ctx("socketpair for the pty")?;
            (Some(a), Some(b))
        }
        _ => (None, None),
    };

    let fwd_mask = signal::forwardable() | signal::bit(signal::SIGCHLD);
    let old_mask = if o.detach {
        None
    } else {
        Some(signal::block(fwd_mask).ctx("block signals")?)
    };
    let restore_mask = || {
        if let Some(m) = old_mask {
            let _ = signal::set_mask(m);
        }
    };

    // Rootless: the container's pid namespace belongs to its user namespace, where we have
    // no capabilities, so our own setns(CLONE_NEWPID) would be refused.
    let via_userns = pidns.is_some()
        && !rustix::process::geteuid().is_root()
        && joins.iter().any(|j| j.0 == "user");
    let (mut parent_ch, child_ch) = channel::pair()?;
    // Where its directories exist: a rootless container's delegated hierarchies.
    let mut joining = if saved.cgroup.is_empty() {
        cgroups::Joining::default()
    } else {
        Cgroup::open_existing(&saved.cgroup).prepare_join(false)
    };
    let child = Child {
        cgroup_join: std::mem::take(&mut joining.by_self),
        userns_joined: via_userns,
        process: &process,
        spec: &spec,
        joins,
        root: Some(root),
        console: console_tx,
        sigmask: old_mask.unwrap_or(0),
        preserve_fds: o.preserve_fds,
        seccomp: seccomp.as_ref(),
        unprivileged_parent: !rustix::process::geteuid().is_root(),
    };
    let forked = match (&pidns, child.joins.iter().find(|j| j.0 == "user")) {
        (Some(pidns), Some(user)) if via_userns => {
            fork_via_userns(&user.2, pidns).map(|f| (f, false))
        }
        _ => fork_in_pidns(pidns.as_ref(), joining.v2_dir.as_ref()),
    };
    let (child_pid, in_v2) = match forked {
        Ok((Forked::Child, _)) => {
            // Nothing of the host's that the process doesn't need stays open in it (the
            // lock's flock is ours, the parent's copy keeps it; the cgroup directory).
            drop((lock, pidns, console_rx, parent_ch, joining));
            child.run(child_ch)
        }
        Ok((Forked::Parent(p), in_v2)) => (p, in_v2),
        Err(e) => {
            restore_mask();
            return Err(e);
        }
    };
    drop(child_ch);
    let Child {
        console,
        cgroup_join,
        ..
    } = child;
    drop((console, cgroup_join));
    drop(lock);
    let raw = child_pid.as_raw_nonzero().get();

    let started = (|| -> Result<()> {
        // The process joins its v1 hierarchies itself (see `Joining`).
        joining.add_rest(raw, in_v2)?;
        parent_ch.send(&Msg::Continue)?;
        // EOF: the process reached execve (the channel is close-on-exec).
        super::notify::wait_serving(
            &mut parent_ch,
            child_pid,
            None,
            listener.as_ref(),
            &state_value,
        )
    })();
    if let Err(e) = started {
        let _ = signal::kill(raw, signal::SIGKILL);
        let _ = linux::process::wait_exit_code(child_pid);
        restore_mask();
        return Err(e);
    }
    if let Some(pf) = &o.pid_file {
        write_pid_file(pf, raw)?;
    }
    if o.detach {
        return Ok(0);
    }
    let master = match console_rx {
        Some(rx) => Some(pty::recv_fd(&rx).ctx("receive pty master")?),
        None => None,
    };
    let code = match master {
        Some(m) => super::relay::relay_and_wait(&m, child_pid, fwd_mask),
        None => forward_and_wait(child_pid, fwd_mask),
    };
    restore_mask();
    code
}

/// runc's wording.
fn stopped() -> Error {
    Error::new(Kind::NotRunning, "cannot exec in a stopped container")
}

/// The process to run: process.json, or the container's own process with the flags applied
/// on top (runc's getProcess).
fn build_process(spec: &Spec, o: &ExecOpts) -> Result<Process> {
    if let Some(path) = &o.process {
        let bytes = std::fs::read(path).ctx_path("read process.json", path)?;
        return spec::parse_process(&bytes).map_err(|e| e.path(path));
    }
    let mut p = spec
        .process()
        .clone()
        .ok_or_else(|| Error::invalid("config", "process: missing"))?;
    if o.args.is_empty() {
        return Err(Error::invalid(
            "usage",
            "exec: give a command (ARGS…) or --process FILE",
        ));
    }
    p.set_args(Some(o.args.clone()));
    if let Some(c) = &o.cwd {
        p.set_cwd(c.clone());
    }
    if let Some(a) = &o.apparmor {
        p.set_apparmor_profile(Some(a.clone()));
    }
    if let Some(l) = &o.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    if !o.caps.is_empty() {
        let mut c = p.capabilities().clone().unwrap_or_default();
        let mut add = Vec::new();
        for name in &o.caps {
            // Through serde, which accepts every spelling config.json may use.
            let cap: oci_spec::runtime::Capability =
                serde_json::from_value(serde_json::Value::String(name.clone()))
                    .map_err(|_| Error::invalid("--cap", format!("unknown capability {name:?}")))?;
            add.push(cap);
        }
        let extend = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut s = set.clone().unwrap_or_default();
            s.extend(add.iter().cloned());
            Some(s)
        };
        let has_inheritable = c.inheritable().is_some();
        c.set_bounding(extend(c.bounding()));
        c.set_effective(extend(c.effective()));
        c.set_permitted(extend(c.permitted()));
        // Ambient needs inheritable, which --cap doesn't add (runc does the same).
        if has_inheritable {
            c.set_ambient(extend(c.ambient()));
        }
        p.set_capabilities(Some(c));
    }
    if !o.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(o.env.iter().cloned());
        p.set_env(Some(env));
    }
    p.set_terminal(Some(o.tty));
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some((uid, gid)) = o.user {
        let u = p.user_mut();
        u.set_uid(uid);
        if let Some(gid) = gid {
            u.set_gid(gid);
        }
    }
    if !o.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(o.additional_gids.clone()));
    }
    Ok(p)
}

/// (device, inode) of a namespace file: equal means the same namespace.
fn ns_id(p: &Path) -> Option<(u64, u64)> {
    rustix::fs::stat(p).ok().map(|s| (s.st_dev, s.st_ino))
}

fn open_ro(p: &Path) -> std::result::Result<OwnedFd, rustix::io::Errno> {
    rustix::fs::open(p, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
}

/// Fork with our pid namespace for children switched to `pidns` (if any), then switch back
/// (in the parent): setns(CLONE_NEWPID) only affects children, so the child lands in the
/// container's.
/// Fork, in the container's pid namespace when there is one, and straight into its cgroup
/// v2 directory `v2` when there is one (see `create::clone_init`). The flag says whether
/// the child is in that v2 cgroup already.
fn fork_in_pidns(pidns: Option<&OwnedFd>, v2: Option<&OwnedFd>) -> Result<(Forked, bool)> {
    let own = match pidns {
        Some(fd) => {
            let own = open_ro(Path::new("/proc/self/ns/pid")).ctx("open own pid namespace")?;
            linux::process::setns(fd, linux::process::CLONE_NEWPID)
                .ctx("join the container's pid namespace")?;
            Some(own)
        }
        None => None,
    };
    let (r, in_v2) = super::create::clone_init(0, v2);
    if let Ok(Forked::Child) = r {
        return Ok((Forked::Child, in_v2));
    }
    if let Some(own) = own {
        linux::process::setns(&own, linux::process::CLONE_NEWPID)
            .ctx("return to our pid namespace")?;
    }
    match r {
        // ENOMEM: the pid namespace has no init any more.
        Err(rustix::io::Errno::NOMEM) if pidns.is_some() => Err(stopped()),
        Err(e) => Err(Error::sys("fork exec process", e)),
        Ok(f) => Ok((f, in_v2)),
    }
}

/// The rootless way into the container's pid namespace (runc's): a first child joins the
/// user namespace, where it may then join the pid namespace for its children, and clones
/// the process that becomes the exec'd one as *our* child (CLONE_PARENT), so that we wait
/// for it as usual. It reports that pid (or -errno) over a pipe and exits.
fn fork_via_userns(userns: &OwnedFd, pidns: &OwnedFd) -> Result<Forked> {
    use rustix::pipe::{pipe_with, PipeFlags};
    let (rd, wr) = pipe_with(PipeFlags::CLOEXEC).ctx("create pipe")?;
    match linux::process::fork() {
        Ok(Forked::Child) => {
            drop(rd);
            let r = linux::process::setns(userns, linux::process::CLONE_NEWUSER)
                .and_then(|()| linux::process::setns(pidns, linux::process::CLONE_NEWPID))
                .and_then(|()| linux::process::clone_process(linux::process::CLONE_PARENT));
            let report = match r {
                Ok(Forked::Child) => return Ok(Forked::Child),
                Ok(Forked::Parent(pid)) => pid.as_raw_nonzero().get(),
                Err(e) => -e.raw_os_error(),
            };
            let _ = rustix::io::write(&wr, &report.to_le_bytes());
            linux::process::exit_now(0)
        }
        Ok(Forked::Parent(first)) => {
            drop(wr);
            let mut buf = [0u8; 4];
            let n = rustix::io::read(&rd, &mut buf).ctx("read the exec process's pid")?;
            let _ = linux::process::wait_exit_code(first);
            let v = i32::from_le_bytes(buf);
            if n != 4 || v == 0 {
                return Err(Error::failed(
                    "fork exec process",
                    "the helper joining the user namespace died",
                ));
            }
            if v < 0 {
                return Err(Error::sys(
                    "join the container's user and pid namespaces",
                    rustix::io::Errno::from_raw_os_error(-v),
                ));
            }
            Ok(Forked::Parent(
                linux::process::pid_from_raw(v).ctx("exec process pid")?,
            ))
        }
        Err(e) => Err(Error::sys("fork exec process", e)),
    }
}

/// Wait for the child while forwarding every signal we receive to it.
fn forward_and_wait(pid: Pid, mask: signal::SigMask) -> Result<i32> {
    let raw = pid.as_raw_nonzero().get();
    loop {
        match signal::wait(mask, None) {
            Ok(Some(signal::SIGCHLD)) | Ok(None) => {
                if let Ok(Some(code)) = linux::process::try_wait(pid) {
                    return Ok(code);
                }
            }
            Ok(Some(sig)) => {
                let _ = signal::kill(raw, sig);
            }
            Err(e) => return Err(Error::sys("wait for signals", e)),
        }
    }
}

/// What the forked process needs; everything host-side is already open.
struct Child<'a> {
    /// The user namespace is joined already (the rootless double fork).
    userns_joined: bool,
    process: &'a Process,
    spec: &'a Spec,
    joins: Vec<(&'static str, u64, OwnedFd)>,
    /// Taken (and closed) once used.
    root: Option<OwnedFd>,
    console: Option<OwnedFd>,
    sigmask: signal::SigMask,
    preserve_fds: u32,
    seccomp: Option<&'a crate::seccomp::Program>,
    /// We are not root: the listener hand-over needs this process dumpable for a moment.
    unprivileged_parent: bool,
    /// The v1 cgroup `tasks` files this process moves itself into, first thing.
    cgroup_join: Vec<cgroups::SelfJoin>,
}

impl Child<'_> {
    fn run(mut self, mut ch: Channel) -> ! {
        // Until execve this is reno, already visible in the container's pid namespace: keep
        // its processes out of /proc/<pid>/exe and /proc/<pid>/mem (CVE-2019-5736).
        if let Err(e) =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        {
            let _ = ch.send(&Msg::Failed(
                Error::sys("prctl(PR_SET_DUMPABLE, 0)", e).to_string(),
            ));
            linux::process::exit_now(1)
        }
        let joined = cgroups::join_self(std::mem::take(&mut self.cgroup_join));
        let e = match joined.and_then(|()| self.setup_and_exec(&mut ch)) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        let _ = ch.send(&Msg::Failed(e.to_string()));
        linux::process::exit_now(1)
    }

    /// Before a dumpable listener hand-over (notify.rs): close every fd the program won't
    /// get anyway (stdio and the preserved ones stay; the channel and the log until execve),
    /// so the container's processes, which may run as our uid, find nothing of the host's
    /// in this process (the state lock, the engine's fds, a console socket).
    fn hand_over(&mut self, prog: &crate::seccomp::Program, ch: &mut Channel) -> Result<()> {
        if self.unprivileged_parent && prog.notify {
            self.joins.clear();
            self.root = None;
            self.console = None;
            let mut keep = ch.raw_fds().to_vec();
            keep.extend(crate::log::file_fd());
            linux::process::close_from_except(3 + self.preserve_fds, &keep)
                .ctx("close fds before the seccomp listener hand-over")?;
        }
        super::notify::load_and_hand_over(prog, ch, self.unprivileged_parent)
    }

    fn setup_and_exec(&mut self, ch: &mut Channel) -> Result<Infallible> {
        match ch.recv()? {
            Some(Msg::Continue) => {}
            Some(m) => return Err(Error::failed("exec handshake", format!("unexpected {m:?}"))),
            None => linux::process::exit_now(1),
        }
        let mut in_userns = false;
        for (name, flag, fd) in std::mem::take(&mut self.joins) {
            if name == "user" && self.userns_joined {
                in_userns = true;
                continue;
            }
            linux::process::setns(&fd, flag)
                .ctx(&format!("join the container's {name} namespace"))?;
            in_userns |= name == "user";
        }
        let root = self
            .root
            .take()
            .ok_or_else(|| Error::failed("exec", "no container root"))?;
        rustix::process::fchdir(&root).ctx("chdir to the container's root")?;
        drop(root);
        rustix::process::chroot(".").ctx("chroot to the container's root")?;
        terminal::become_session_leader()?;
        if let Some(sock) = self.console.take() {
            terminal::setup_console(sock.as_fd(), self.process, false)?;
        }
        init::apply_process_attrs(self.spec, self.process)?;
        let (exe, argv, envp) = init::exec_args(self.process)?;
        let nnp = self.process.no_new_privileges().unwrap_or(false);
        let cwd_entered = init::enter_cwd_as_root(self.process.cwd())?;
        if !nnp {
            // Without no_new_privs a filter needs CAP_SYS_ADMIN: before the caps drop.
            if let Some(prog) = self.seccomp {
                self.hand_over(prog, ch)?;
            }
        }
        init::switch_user(self.process, in_userns)?;
        if !cwd_entered {
            init::enter_cwd(self.process.cwd())?;
        }
        super::lsm::apply_exec_attrs(self.process)?;
        if self.process.no_new_privileges().unwrap_or(false) {
            rustix::thread::set_no_new_privs(true).ctx("set no_new_privs")?;
        }
        signal::set_mask(self.sigmask).ctx("restore signal mask")?;
        signal::set_default(signal::SIGPIPE).ctx("reset SIGPIPE")?;
        linux::process::cloexec_from(3 + self.preserve_fds).ctx("close_range")?;
        if let Some(prog) = self.seccomp.filter(|_| nnp) {
            // The channel is close-on-exec: the parent sees EOF at execve.
            self.hand_over(prog, ch)?;
        }
        let e = linux::process::execve(&exe, &argv, &envp);
        Err(init::exec_error(&exe, e, Some(self.process), nnp))
    }
}
