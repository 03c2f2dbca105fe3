//! `reno create`, the parent side: validate, claim the id, make the cgroup and the fifo,
//! clone the init into its namespaces, drive it through the pipe, run the runtime-namespace
//! hooks, write state.json. Any failure undoes everything (`Undo`).

use std::path::{Path, PathBuf};

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::process::Pid;

use super::channel::{self, Msg};
use super::hooks;
use super::init::{self, InitCtx};
use super::{CreateOpts, Globals};
use crate::cgroups::{self, Cgroup};
use crate::error::{Context, Error, Kind, Result};
use crate::linux::{self, process::Forked, signal};
use crate::spec::{self, LinuxNamespaceType, Spec};
use crate::state::{self, Saved, Status};

/// A created container whose init is waiting on the fifo; the lock is held until dropped.
pub struct Created {
    pub pid: Pid,
    pub dir: PathBuf,
    pub saved: Saved,
    pub lock: state::Lock,
    /// The config as created (`run` starts and deletes with it instead of parsing the
    /// frozen copy again).
    pub spec: Box<Spec>,
    /// `run`: the exec fifo's read end, opened before the init reached the fifo.
    pub fifo_reader: Option<OwnedFd>,
}

pub fn create(g: &Globals, o: &CreateOpts) -> Result<()> {
    create_container(g, o, Config::load(o)?, None, false).map(|_| ())
}

/// The bundle's config.json, read and parsed once per command (`run` looks at it before
/// creating, to learn whether it must relay a terminal).
pub struct Config {
    /// The bundle directory, canonical.
    pub bundle: PathBuf,
    pub path: PathBuf,
    /// The file as read: `create` keeps a frozen copy of it in the state dir.
    pub bytes: Vec<u8>,
    pub spec: Box<Spec>,
}

impl Config {
    /// The first step of `create`/`run`, so a bad id is reported before a bad config.
    pub fn load(o: &CreateOpts) -> Result<Config> {
        state::validate_id(&o.id)?;
        let bundle = std::fs::canonicalize(&o.bundle).ctx_path("open bundle", &o.bundle)?;
        if let Some(c) = super::preparsed::take(&bundle) {
            log::debug!(
                "{}: as parsed ahead by init, unchanged since",
                c.path.display()
            );
            return Ok(c);
        }
        let path = bundle.join("config.json");
        let bytes = std::fs::read(&path).ctx_path("read config", &path)?;
        let spec = spec::parse(&bytes).map_err(|e| e.path(&path))?;
        Ok(Config {
            bundle,
            path,
            bytes,
            spec,
        })
    }
}

/// Tears down what a failed create made, in reverse order.
struct Undo {
    dir: Option<PathBuf>,
    cgroup: Option<Cgroup>,
    child: Option<Pid>,
}

impl Undo {
    fn disarm(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.child = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.child.take() {
            let _ = signal::kill(pid.as_raw_nonzero().get(), signal::SIGKILL);
            let _ = linux::process::wait_exit_code(pid);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.destroy();
        }
        if let Some(d) = self.dir.take() {
            let _ = state::remove(&d);
        }
    }
}

/// Create the container; `run_mask` is Some(the caller's mask) when `run` blocked signals
/// before the clone to forward them later. `then_start`: the caller starts it right away
/// (`run`), so the fifo's read end is opened before the init gets there (`fifo_reader`):
/// the init passes it without waiting for us to save the state and come back.
pub fn create_container(
    g: &Globals,
    o: &CreateOpts,
    config: Config,
    run_mask: Option<signal::SigMask>,
    then_start: bool,
) -> Result<Created> {
    let id = o.id.as_str();
    let Config {
        bundle,
        path: config_path,
        bytes: config_bytes,
        mut spec,
    } = config;
    // Socket activation: the fds systemd gave us go first, --preserve-fds after them.
    let listen_fds = super::activation::apply(&mut spec);
    let o = &CreateOpts {
        preserve_fds: o.preserve_fds + listen_fds,
        ..o.clone()
    };
    spec::validate(&spec, &bundle).map_err(|e| {
        if e.path.is_none() {
            e.path(&config_path)
        } else {
            e
        }
    })?;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && o.console_socket.is_none() {
        return Err(Error::invalid(
            "config",
            "process.terminal is true: a --console-socket is required (or set terminal to false)",
        ));
    }
    super::userns::validate_maps(&spec)?;
    if !terminal && o.console_socket.is_some() {
        // runc refuses this too: the caller waits on a socket nobody will ever write to.
        return Err(Error::invalid(
            "--console-socket",
            "cannot use console socket if runc will not allocate tty (process.terminal is false)",
        ));
    }
    let rootfs_raw = spec::rootfs(&spec, &bundle)?;
    let rootfs = std::fs::canonicalize(&rootfs_raw).ctx_path("open rootfs", &rootfs_raw)?;
    let linux_cfg = spec.linux().as_ref();
    let seccomp = match linux_cfg.and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(crate::seccomp::prepare(s)?),
        None => None,
    };
    let listener = super::notify::listener_of(&spec, seccomp.as_ref().is_some_and(|p| p.notify))?;
    super::lsm::validate(&spec)?;

    let dir = state::claim(&g.root, id)?;
    let mut undo = Undo {
        dir: Some(dir.clone()),
        cgroup: None,
        child: None,
    };
    let lock = state::lock(&dir)?;
    // Made once the init is under way (below): it needs the fifo only after `go`.
    let fifo = dir.join(state::FIFO);

    // Sort the namespaces: new ones become clone flags; pid and time are joined by us for
    // our children; the rest are joined by the child itself.
    let mut clone_flags = 0u64;
    let mut for_children: Vec<(LinuxNamespaceType, PathBuf)> = Vec::new();
    let mut joins = Vec::new();
    let (mut new_cgroupns, mut new_userns, mut new_timens, mut shared_pidns) =
        (false, false, false, true);
    for (t, path) in spec::namespaces(&spec) {
        match (t, path) {
            (LinuxNamespaceType::Time, None) => new_timens = true,
            (LinuxNamespaceType::Cgroup, None) => new_cgroupns = true,
            (LinuxNamespaceType::Pid, Some(p)) | (LinuxNamespaceType::Time, Some(p)) => {
                for_children.push((t, p))
            }
            (t, None) => {
                clone_flags |= spec::ns_flag(t);
                new_userns |= t == LinuxNamespaceType::User;
                shared_pidns &= t != LinuxNamespaceType::Pid;
            }
            (t, Some(p)) => joins.push((t, p)),
        }
    }
    let cg_path = cgroups::container_path(linux_cfg.and_then(|l| l.cgroups_path().as_deref()), id)?;
    // The v1 directories (one per hierarchy, ~0.3 ms for this host's nine), and the v2 one
    // where cgroup2 has favordynmods (0.7-0.9 ms under TCG with every controller), are
    // made after the clone, while the init sets itself up; it joins them once told they
    // exist (until then it is still in ours). Not with a new user namespace (the init
    // waits for its id maps before anything) nor rootless (the parent's credentials open
    // the `tasks` files there).
    let opened = Cgroup::open(&cg_path);
    let late_cgroup = !g.rootless && !new_userns && opened.can_join_late();
    let cg = if late_cgroup {
        Some(opened)
    } else {
        super::userns::create_cgroup(&cg_path, g.rootless, linux_cfg)?
    };
    undo.cgroup = cg.clone();
    if let (true, Some(cg)) = (late_cgroup, &cg) {
        cg.make_dirs(|h| !cgroups::joins_late(h))?;
    }
    let time_offsets = if new_timens {
        Some(time_offsets(&spec))
    } else {
        None
    };

    // Idmapped mounts are made here, in the host's user namespace (see `idmap`).
    let idmapped = super::idmap::prepare(&spec, &bundle, new_userns)?;
    let console = super::terminal::connect_socket(&spec, o.console_socket.as_deref())?;
    let (mut parent_ch, child_ch) = channel::pair()?;
    let mut joining = cg
        .as_ref()
        .map(|c| c.prepare_join(late_cgroup))
        .unwrap_or_default();
    let mut ctx = InitCtx {
        spec: &spec,
        bundle: &bundle,
        rootfs: &rootfs,
        fifo: &fifo,
        cgroup_path: &cg_path,
        no_pivot: o.no_pivot,
        joins,
        new_cgroupns,
        new_userns,
        new_mountns: clone_flags & linux::process::CLONE_NEWNS != 0,
        new_netns: clone_flags & linux::process::CLONE_NEWNET != 0,
        sigmask: run_mask.unwrap_or(0),
        preserve_fds: o.preserve_fds,
        no_new_keyring: o.no_new_keyring,
        seccomp: seccomp.as_ref(),
        console,
        idmapped: &idmapped,
        root_parent: rustix::process::geteuid().is_root(),
        cgroup_join: std::mem::take(&mut joining.by_self),
        cgroup_join_late: late_cgroup,
    };

    let entered = ChildNamespaces::enter(&for_children, time_offsets.as_deref())?;
    let (cloned, in_v2) = clone_init(clone_flags, joining.v2_dir.as_ref());
    let pid = match cloned {
        Ok(Forked::Child) => {
            // Our copy of the lock fd would hold the flock until exec, blocking `start`;
            // the cgroup directory is the host's, nothing for the container to find.
            drop(lock);
            drop(parent_ch);
            drop(joining);
            init::run(ctx, child_ch)
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            entered.leave()?;
            return Err(Error::sys("clone container init", e)
                .detail(format!("namespace flags {clone_flags:#x}")));
        }
    };
    entered.leave()?;
    undo.child = Some(pid);
    drop(child_ch);
    // Our copies: the init has its own.
    drop(std::mem::take(&mut ctx.cgroup_join));
    let raw_pid = pid.as_raw_nonzero().get();

    if new_userns {
        super::userns::write_id_maps(raw_pid, &spec, g.rootless)?;
    }
    if let Some(cg) = &cg {
        if late_cgroup {
            cg.make_late_dirs()?;
        }
        // The init joins the late ones itself (see `Joining`).
        joining.add_rest(raw_pid, in_v2)?;
        if g.rootless {
            // A delegated cgroup: limits yes, device rules no (they need privileges; runc
            // ignores them too).
            if let Some(r) = linux_cfg.and_then(|l| l.resources().as_ref()) {
                cg.update(r)?;
            }
        } else {
            cgroups::apply_config(cg, linux_cfg)?;
        }
    }
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        let f = PathBuf::from(format!("/proc/{raw_pid}/oom_score_adj"));
        linux::fs::write_file(&f, adj.to_string().as_bytes()).ctx_path("set oom_score_adj", &f)?;
    }
    send_or_why(&mut parent_ch, &Msg::Continue)?;
    // While the init mounts: these writes (to disk where the state root is not a tmpfs)
    // cost it nothing.
    let copy = dir.join(state::CONFIG_COPY);
    std::fs::write(&copy, &config_bytes).ctx_path("copy config", &copy)?;
    rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, Mode::from_raw_mode(0o622))
        .ctx_path("create exec fifo", &fifo)?;
    // Writable by the container's user, whoever that is (mkfifo applied our umask).
    rustix::fs::chmod(&fifo, Mode::from_raw_mode(0o622)).ctx_path("chmod exec fifo", &fifo)?;
    let fifo_reader = if then_start && spec.process().is_some() {
        Some(super::ops::open_fifo_reader(&fifo)?)
    } else {
        None
    };
    // Without prestart/createRuntime hooks nothing happens between the init's mounts and
    // its `go`: send `go` now and wait for no `mounts-ready`, so neither side stops for that
    // round trip (two cross-CPU wake-ups less). The state it carries does not depend on the
    // mounts.
    let runtime_hooks = spec::has_runtime_hooks(&spec);
    let saved = Saved {
        id: id.to_string(),
        oci_version: spec.version().clone(),
        bundle: bundle.clone(),
        rootfs,
        pid: raw_pid,
        start_time: linux::process::start_time(raw_pid).unwrap_or(0),
        created: state::rfc3339_now(),
        owner: String::new(),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        // Empty: no cgroup (rootless without delegation).
        cgroup: if cg.is_some() {
            cg_path.clone()
        } else {
            String::new()
        },
        shared_pidns,
    };
    let state_value = state::to_json(&saved, Status::Creating);
    let state_json = state_value.to_string();
    if !runtime_hooks {
        // An init that already failed hung up: its reason (or how it died) comes next.
        match parent_ch.send(&Msg::Go(state_json.clone())) {
            Err(e) if e.errno != Some(rustix::io::Errno::PIPE) => return Err(e),
            _ => {}
        }
    }
    if runtime_hooks {
        wait_for(&mut parent_ch, Msg::MountsReady).map_err(|e| how_init_died(&mut undo, pid, e))?;
        if let Some(h) = spec.hooks() {
            #[allow(deprecated)]
            hooks::run_all("prestart", h.prestart().as_ref(), &state_json)?;
            hooks::run_all("createRuntime", h.create_runtime().as_ref(), &state_json)?;
        }
        send_or_why(&mut parent_ch, &Msg::Go(state_json))?;
    }
    // The init hands over its seccomp listener (if any) before it reports "created".
    super::notify::wait_serving(
        &mut parent_ch,
        pid,
        Some(Msg::Created),
        listener.as_ref(),
        &state_value,
    )
    .map_err(|e| how_init_died(&mut undo, pid, e))?;

    state::save(&dir, &saved, Status::Created)?;
    if let Some(pf) = &o.pid_file {
        write_pid_file(pf, raw_pid)?;
    }
    undo.disarm();
    Ok(Created {
        pid,
        dir,
        saved,
        lock,
        spec,
        fifo_reader,
    })
}

/// Clone straight into the container's cgroup v2 directory `v2` when there is one
/// (CLONE_INTO_CGROUP): no write to cgroup.procs and no migration afterwards. Where that is
/// refused (kernels before 5.7, a seccomp profile without clone3, a cgroup that can't take
/// processes) a plain clone, whose error, if any, is the one reported. The flag says
/// whether the child is in the v2 cgroup already.
pub(super) fn clone_init(flags: u64, v2: Option<&OwnedFd>) -> (rustix::io::Result<Forked>, bool) {
    if let Some(fd) = v2 {
        if let Ok(f) = linux::process::clone_into_cgroup(flags, fd) {
            return (Ok(f), true);
        }
    }
    (linux::process::clone_process(flags), false)
}

/// Send to the init; if it has hung up (EPIPE), it failed first and said why: that error is
/// the one to report, not our broken pipe (which one wins is a matter of timing).
fn send_or_why(ch: &mut channel::Channel, m: &Msg) -> Result<()> {
    match ch.send(m) {
        Err(e) if e.errno == Some(rustix::io::Errno::PIPE) => match ch.recv() {
            Ok(Some(Msg::Failed(msg))) => Err(Error::new(Kind::Failed, msg)),
            _ => Err(e),
        },
        r => r,
    }
}

fn wait_for(ch: &mut channel::Channel, want: Msg) -> Result<()> {
    match ch.recv()? {
        Some(m) if m == want => Ok(()),
        // The init's message is a whole rendered error already.
        Some(Msg::Failed(msg)) => Err(Error::new(Kind::Failed, msg)),
        Some(m) => Err(Error::failed(
            "container init",
            format!("unexpected message {m:?}"),
        )),
        None => Err(Error::failed("container init", INIT_GONE)),
    }
}

/// The init hung up mid-set-up without a word: say how it ended. A SIGKILL there is
/// nearly always the cgroup's OOM killer (a memory limit too small for the set-up itself).
fn how_init_died(undo: &mut Undo, pid: Pid, e: Error) -> Error {
    if e.detail.as_deref() != Some(INIT_GONE) {
        return e;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        match linux::process::try_wait(pid) {
            Ok(Some(code)) => {
                undo.child = None;
                let how = match code {
                    137 => "killed by SIGKILL (out of memory in its cgroup?)".to_string(),
                    c if c > 128 => format!("killed by signal {}", c - 128),
                    c => format!("exit status {c}"),
                };
                return e.detail(format!("{INIT_GONE}: {how}"));
            }
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            _ => return e,
        }
    }
}

pub(super) const INIT_GONE: &str = "exited before finishing set-up";

/// `--pid-file`, written atomically; relative paths are taken from the caller's cwd.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    linux::fs::write_replace(path, pid.to_string().as_bytes()).ctx_path("write pid file", path)
}

/// "monotonic S N\nboottime S N\n" for /proc/self/timens_offsets.
fn time_offsets(spec: &Spec) -> String {
    let mut out = String::new();
    for (clock, off) in spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    out
}

/// Our pid/time namespace "for children" switched for the one clone, then restored, so the
/// init lands in a joined pid namespace or a new time namespace while reno itself (and the
/// hooks it runs) stays in the runtime's.
struct ChildNamespaces {
    restore: Vec<(OwnedFd, u64)>,
}

impl ChildNamespaces {
    fn enter(
        joins: &[(LinuxNamespaceType, PathBuf)],
        time_offsets: Option<&str>,
    ) -> Result<ChildNamespaces> {
        let mut restore = Vec::new();
        let open = |p: &Path| {
            rustix::fs::open(p, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .ctx_path("open namespace", p)
        };
        for (t, path) in joins {
            let own = match t {
                LinuxNamespaceType::Pid => "/proc/self/ns/pid",
                _ => "/proc/self/ns/time",
            };
            let own_fd = open(Path::new(own))?;
            let fd = open(path)?;
            linux::process::setns(&fd, *t as u64).ctx_path(&format!("join {t} namespace"), path)?;
            restore.push((own_fd, *t as u64));
        }
        if let Some(offsets) = time_offsets {
            let own_fd = open(Path::new("/proc/self/ns/time"))?;
            linux::process::unshare(linux::process::CLONE_NEWTIME).ctx("unshare time namespace")?;
            restore.push((own_fd, linux::process::CLONE_NEWTIME));
            if !offsets.is_empty() {
                let f = Path::new("/proc/self/timens_offsets");
                linux::fs::write_file(f, offsets.as_bytes()).ctx_path("write time offsets", f)?;
            }
        }
        Ok(ChildNamespaces { restore })
    }

    fn leave(self) -> Result<()> {
        for (fd, flag) in self.restore {
            linux::process::setns(&fd, flag).ctx("restore namespace for children")?;
        }
        Ok(())
    }
}
