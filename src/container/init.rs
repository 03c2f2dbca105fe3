//! The container's init, child side of `create`: runs in the new namespaces, reports each
//! stage to the parent over the pipe, waits on the exec fifo, execs the user's program.
//!
//! Order (runc's): join namespaces → wait for the parent (id maps, cgroup) → cgroup ns →
//! mounts → [parent: prestart, createRuntime hooks] → createContainer hooks → root switch →
//! masks, read-only paths → hostname, sysctl, rlimits, personality, ioprio, scheduler →
//! capabilities bounding → user → capabilities → umask, cwd → no_new_privs → "created" →
//! fifo → startContainer hooks → seccomp → execve.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};

use super::channel::{Channel, Msg};
use super::hooks;
use super::rootfs::{self, MountCtx};
use crate::error::{Context, Error, Result};
use crate::linux::{self, caps, signal};
use crate::spec::{LinuxNamespaceType, PosixRlimitType, Process, Spec};

/// Everything the init needs, prepared by the parent before the clone.
pub struct InitCtx<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub fifo: &'a Path,
    pub cgroup_path: &'a str,
    pub no_pivot: bool,
    /// Existing namespaces to join (pid and time are joined by the parent for its children).
    pub joins: Vec<(LinuxNamespaceType, PathBuf)>,
    pub new_cgroupns: bool,
    pub new_userns: bool,
    /// The container has a mount namespace of its own (otherwise: chroot, host mounts
    /// untouched).
    pub new_mountns: bool,
    /// A new network namespace (not one joined by path): its `lo` is brought up.
    pub new_netns: bool,
    /// The caller's signal mask, restored before exec (`run` blocks signals to forward them).
    pub sigmask: linux::signal::SigMask,
    pub preserve_fds: u32,
    /// `--no-new-keyring`: keep the caller's session keyring.
    pub no_new_keyring: bool,
    /// The compiled `linux.seccomp` filter, loaded just before execve.
    pub seccomp: Option<&'a crate::seccomp::Program>,
    /// The connected `--console-socket` when process.terminal is set.
    pub console: Option<OwnedFd>,
    /// Detached idmapped trees for the mounts that ask for one, indexed like spec.mounts.
    pub idmapped: &'a [Option<OwnedFd>],
    /// The parent is real root (decided before the clone: in a new user namespace our own
    /// euid reads 0 as soon as the parent has written uid_map, a race with our first check).
    pub root_parent: bool,
    /// The cgroup files (v1 `tasks`, v2 `cgroup.procs` when not cloned into it) the init
    /// moves itself into: first thing, or with
    /// `cgroup_join_late` once the parent says their directories exist (`Msg::Continue`).
    pub cgroup_join: Vec<crate::cgroups::SelfJoin>,
    pub cgroup_join_late: bool,
}

/// Never returns: execs the container's program or exits.
pub fn run(mut ctx: InitCtx, mut ch: Channel) -> ! {
    // Root parent: be non-dumpable from the start (the parent's /proc/<pid> writes work
    // as root anyway); a container sharing our pid namespace sees us from the clone on.
    // An unprivileged parent needs us dumpable until it has written the id maps (below).
    if ctx.root_parent {
        if let Err(e) =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        {
            let _ = ch.send(&Msg::Failed(
                Error::sys("prctl(PR_SET_DUMPABLE, 0)", e).to_string(),
            ));
            linux::process::exit_now(1);
        }
    }
    // A parent killed mid-create must not leave us waiting on a pipe forever: EOF on the
    // channel ends us (recv returns None); SIGPIPE on write is ignored via the error path.
    let joins = std::mem::take(&mut ctx.cgroup_join);
    let (now, later) = if ctx.cgroup_join_late {
        (Vec::new(), joins)
    } else {
        (joins, Vec::new())
    };
    let joined = crate::cgroups::join_self(now);
    let ready = match joined.and_then(|()| setup(&ctx, &mut ch, later)) {
        Ok(r) => r,
        Err(e) => {
            let _ = ch.send(&Msg::Failed(e.to_string()));
            linux::process::exit_now(1);
        }
    };
    if ch.send(&Msg::Created).is_err() {
        linux::process::exit_now(1);
    }
    drop(ch);
    match wait_and_exec(&ctx, ready) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("reno: container init: {e}");
            linux::process::exit_now(127);
        }
    }
}

/// What set-up leaves for the last stage.
struct Ready {
    /// The state dir (O_PATH), kept across the root switch to open the fifo in it: after the
    /// switch to a non-root user, /proc/self/fd is no longer ours to traverse.
    state_dir: OwnedFd,
    /// Program, argv and envp; None for a container created without `process`.
    exec: Option<(CString, Vec<CString>, Vec<CString>)>,
    state_json: String,
}

fn wait_continue(ch: &mut Channel) -> Result<()> {
    match expect(ch, "the parent")? {
        Msg::Continue => Ok(()),
        m => Err(Error::failed("handshake", format!("unexpected {m:?}"))),
    }
}

/// With `cgroup_join_late`: wait until the parent has made our late cgroup directories, then
/// join them. Everything before it (set-up, mounts, /dev) needs no cgroup; a cgroup mount
/// (it binds our directories) or the end of the mounts calls it, whichever comes first.
fn join_late_cgroups(
    ctx: &InitCtx,
    ch: &mut Channel,
    late: &mut Option<Vec<crate::cgroups::SelfJoin>>,
) -> Result<()> {
    let Some(joins) = late.take() else {
        return Ok(());
    };
    wait_continue(ch)?;
    crate::cgroups::join_self(joins)?;
    if ctx.new_cgroupns {
        unshare_cgroupns()?;
    }
    Ok(())
}

/// After the init is in its cgroup, so that it becomes the namespace's root.
fn unshare_cgroupns() -> Result<()> {
    linux::process::unshare(linux::process::CLONE_NEWCGROUP).ctx("unshare cgroup namespace")
}

fn expect(ch: &mut Channel, what: &str) -> Result<Msg> {
    match ch.recv()? {
        Some(m) => Ok(m),
        None => Err(Error::failed(
            format!("wait for {what}"),
            "reno create went away",
        )),
    }
}

fn setup(
    ctx: &InitCtx,
    ch: &mut Channel,
    late_joins: Vec<crate::cgroups::SelfJoin>,
) -> Result<Ready> {
    // Every inherited fd but stdio and the preserved ones is closed at exec (reno's own are
    // all O_CLOEXEC already). Done first, before a seccomp profile could forbid close_range.
    linux::process::cloexec_from(3 + ctx.preserve_fds).ctx("mark inherited fds close-on-exec")?;
    let spec = ctx.spec;
    let process = spec.process().as_ref();
    let linux_cfg = spec.linux().as_ref();
    // A session (and process group) of its own, as runc's init has: the caller's terminal
    // signals (^C to a shell's job) must not reach the container, and conmon's --timeout
    // kills the container's process group, which would otherwise be conmon's own.
    super::terminal::become_session_leader()?;

    // Join a user namespace first: it owns the others we join.
    let mut joins: Vec<&(LinuxNamespaceType, PathBuf)> = ctx.joins.iter().collect();
    joins.sort_by_key(|(t, _)| *t != LinuxNamespaceType::User);
    for (t, path) in joins {
        let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .ctx_path(&format!("open {t} namespace"), path)?;
        linux::process::setns(&fd, *t as u64).ctx_path(&format!("join {t} namespace"), path)?;
    }

    if !ctx.cgroup_join_late {
        wait_continue(ch)?;
    }
    if ctx.new_userns {
        // Become root of the new user namespace now that the maps exist.
        rustix::thread::set_thread_res_gid(
            rustix::fs::Gid::ROOT,
            rustix::fs::Gid::ROOT,
            rustix::fs::Gid::ROOT,
        )
        .ctx("setresgid 0 in user namespace")?;
        rustix::thread::set_thread_res_uid(
            rustix::fs::Uid::ROOT,
            rustix::fs::Uid::ROOT,
            rustix::fs::Uid::ROOT,
        )
        .ctx("setresuid 0 in user namespace")?;
    }
    // Until execve this process is a copy of reno: keep every other process (one of the
    // container's, once it has some) from opening /proc/<pid>/exe or its memory
    // (CVE-2019-5736). execve makes the user's program dumpable again. Done after the
    // parent's writes to /proc/<pid>/{uid_map,oom_score_adj}, which this would block for
    // an unprivileged parent. A root parent's init did it first thing (`run`), and only a
    // credential change (the setresuid above) could have undone it since.
    if !ctx.root_parent || ctx.new_userns {
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .ctx("prctl(PR_SET_DUMPABLE, 0)")?;
    }
    if !ctx.no_new_keyring {
        // The new session keyring gets the process label (runc's SetKeyLabel).
        let key_label = process
            .and_then(|p| p.selinux_label().as_deref())
            .filter(|l| !l.is_empty() && super::lsm::selinux_enabled());
        if let Some(l) = key_label {
            super::lsm::set_key_label(l)?;
        }
        match linux::process::join_new_session_keyring() {
            // Kernels without keys, or a seccomp'd caller: carry on as runc does.
            Ok(()) | Err(rustix::io::Errno::NOSYS) | Err(rustix::io::Errno::ACCESS) => {}
            Err(e) => return Err(Error::sys("join a new session keyring", e)),
        }
        if key_label.is_some() {
            super::lsm::set_key_label("")?;
        }
    }
    if ctx.new_cgroupns && !ctx.cgroup_join_late {
        unshare_cgroupns()?;
    }

    if ctx.new_netns {
        // A new network namespace starts with `lo` down; runc (libcontainer's loopback
        // strategy) brings it up, and pods and local services rely on 127.0.0.1 working.
        match linux::netif::set_up("lo") {
            // A kernel without IPv4 (a tiny board's) has no socket to ask with; nothing to do.
            Ok(()) | Err(rustix::io::Errno::AFNOSUPPORT) => {}
            Err(e) => return Err(Error::sys("bring up lo in the new network namespace", e)),
        }
    }

    // Mounts.
    let propagation = linux_cfg.and_then(|l| l.rootfs_propagation().as_deref());
    let root = rootfs::prepare(ctx.rootfs, propagation, ctx.new_mountns)?;
    let mut late = ctx.cgroup_join_late.then_some(late_joins);
    let mounts = spec.mounts().clone().unwrap_or_default();
    let mctx = MountCtx {
        root: &root,
        bundle: ctx.bundle,
        cgroup_path: ctx.cgroup_path,
        new_cgroupns: ctx.new_cgroupns,
        mount_label: super::lsm::mount_label(spec),
    };
    for (i, mnt) in mounts.iter().enumerate() {
        if matches!(mnt.typ().as_deref(), Some("cgroup" | "cgroup2")) {
            join_late_cgroups(ctx, ch, &mut late)?;
        }
        let tree = ctx.idmapped.get(i).and_then(Option::as_ref);
        rootfs::mount_entry(&mctx, mnt, tree)?;
    }
    if !rootfs::dev_is_bound(&mounts) {
        let devices = linux_cfg
            .and_then(|l| l.devices().clone())
            .unwrap_or_default();
        rootfs::setup_dev(&root, &devices, ctx.new_userns)?;
    }
    // Namespaced sysctls: we are in the container's net/ipc/uts namespaces already.
    for (k, v) in linux_cfg
        .and_then(|l| l.sysctl().as_ref())
        .into_iter()
        .flatten()
    {
        let p = PathBuf::from("/proc/sys").join(k.replace('.', "/"));
        linux::fs::write_file(&p, v.as_bytes()).ctx_path(&format!("sysctl {k}"), &p)?;
    }
    join_late_cgroups(ctx, ch, &mut late)?;

    if crate::spec::has_runtime_hooks(spec) {
        ch.send(&Msg::MountsReady)?;
    }
    let state_json = match expect(ch, "prestart hooks")? {
        Msg::Go(s) => s,
        m => return Err(Error::failed("handshake", format!("unexpected {m:?}"))),
    };
    if let Some(h) = spec.hooks() {
        hooks::run_all(
            "createContainer",
            h.create_container().as_ref(),
            &state_json,
        )?;
    }

    let state_dir_path = ctx.fifo.parent().unwrap_or(Path::new("/"));
    let state_dir = rustix::fs::open(
        state_dir_path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ctx_path("open state dir", state_dir_path)?;

    switch_root(ctx, &root.path)?;
    drop(root);
    if let (Some(sock), Some(p)) = (&ctx.console, spec.process().as_ref()) {
        // Inside the container's devpts, before the root is made read-only (runc's order).
        super::terminal::setup_console(rustix::fd::AsFd::as_fd(sock), p, true)?;
    }

    if let Some(l) = linux_cfg {
        for p in l.masked_paths().iter().flatten() {
            rootfs::mask_path(p)?;
        }
        for p in l.readonly_paths().iter().flatten() {
            rootfs::readonly_path(p)?;
        }
        if let Some(flag) = rootfs::propagation_flag(l.rootfs_propagation().as_deref()) {
            linux::mount::set_propagation(Path::new("/"), flag)
                .ctx_path("set rootfs propagation", "/")?;
        }
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        rootfs::readonly_root()?;
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        rustix::system::sethostname(h.as_bytes()).ctx("sethostname")?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        rustix::system::setdomainname(d.as_bytes()).ctx("setdomainname")?;
    }
    let Some(process) = process else {
        // Created without a process (allowed by runtime-spec): `start` refuses it, so the
        // init just waits on the fifo until the container is deleted.
        return Ok(Ready {
            state_dir,
            exec: None,
            state_json,
        });
    };
    apply_process_attrs(spec, process)?;

    let (exe, argv, envp) = exec_args(process)?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    // The root switch left us in "/": a cwd of "/" is entered already.
    let cwd_entered = process.cwd() == Path::new("/") || enter_cwd_as_root(process.cwd())?;
    if !nnp {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it now, before
        // the capabilities are dropped (runc does the same); the profile must then allow
        // what the init still does (setuid, capset, the fifo, execve).
        if let Some(prog) = ctx.seccomp {
            super::notify::load_and_hand_over(prog, ch, !ctx.root_parent)?;
        }
    }
    switch_user(process, ctx.new_userns)?;
    if !cwd_entered {
        enter_cwd(process.cwd())?;
    }
    // AppArmor profile, SELinux label: both take effect at execve.
    super::lsm::apply_exec_attrs(process)?;
    if process.no_new_privileges().unwrap_or(false) {
        rustix::thread::set_no_new_privs(true).ctx("set no_new_privs")?;
        // A listener must reach the agent through `create`, gone once we report "created":
        // a profile with NOTIFY rules is loaded here (where runc loads every profile), the
        // others after the fifo, closer to execve.
        if let Some(prog) = ctx.seccomp.filter(|p| p.notify) {
            super::notify::load_and_hand_over(prog, ch, !ctx.root_parent)?;
        }
    }
    Ok(Ready {
        state_dir,
        exec: Some((exe, argv, envp)),
        state_json,
    })
}

/// chdir to process.cwd before the user switch, as runc does (the container's user then
/// starts in a cwd root could enter), and before an early seccomp profile could forbid the
/// getcwd check. Ok(false): permission denied to root (e.g. NFS root_squash); the caller
/// tries again as the container's user.
pub(crate) fn enter_cwd_as_root(cwd: &Path) -> Result<bool> {
    match enter_cwd(cwd) {
        Ok(()) => Ok(true),
        Err(e)
            if matches!(
                e.errno,
                Some(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// chdir to process.cwd, which must then be inside the container's root. A cwd such as
/// /proc/self/fd/N can name one of reno's own fds on a host directory (the state dir here,
/// the state lock in `exec`): the process would start with a host directory as its cwd
/// (CVE-2024-21626). getcwd(2) says "(unreachable)" for a cwd outside our root.
pub(crate) fn enter_cwd(cwd: &Path) -> Result<()> {
    rustix::process::chdir(cwd).ctx_path("chdir to process.cwd", cwd)?;
    match rustix::process::getcwd(Vec::new()) {
        Ok(p) if p.as_bytes().starts_with(b"/") => Ok(()),
        Ok(_) | Err(rustix::io::Errno::NOENT) => Err(Error::invalid(
            "process.cwd",
            format!("{}: outside the container's root", cwd.display()),
        )),
        Err(e) => Err(Error::sys("getcwd", e).path(cwd)),
    }
}

/// pivot_root, or where that can't work (initramfs root, `--no-pivot`) move + chroot.
fn switch_root(ctx: &InitCtx, rootfs: &Path) -> Result<()> {
    if !ctx.new_mountns {
        rustix::process::chroot(rootfs).ctx_path("chroot", rootfs)?;
        return rustix::process::chdir("/").ctx_path("chdir", "/");
    }
    if ctx.no_pivot {
        return linux::mount::move_root(rootfs).ctx_path("switch root (move + chroot)", rootfs);
    }
    if linux::mount::root_is_known_initramfs() {
        log::debug!("pivot_root: / is the initramfs, falling back to move + chroot");
        return linux::mount::move_root(rootfs).ctx_path("switch root (move + chroot)", rootfs);
    }
    match linux::mount::pivot_into(rootfs) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL) => {
            log::debug!("pivot_root: EINVAL (initramfs root?), falling back to move + chroot");
            linux::mount::move_root(rootfs).ctx_path("switch root (move + chroot)", rootfs)
        }
        Err(e) => Err(Error::sys("pivot_root", e).path(rootfs)),
    }
}

/// rlimits, personality, I/O priority, scheduler, umask: all before dropping privileges.
pub(crate) fn apply_process_attrs(spec: &Spec, p: &Process) -> Result<()> {
    for rl in p.rlimits().iter().flatten() {
        let res = rlimit_resource(rl.typ());
        let new = rustix::process::Rlimit {
            current: Some(rl.soft()),
            maximum: Some(rl.hard()),
        };
        rustix::process::setrlimit(res, new).map_err(|e| {
            Error::sys(
                format!(
                    "setrlimit {:?} soft={} hard={}",
                    rl.typ(),
                    rl.soft(),
                    rl.hard()
                ),
                e,
            )
        })?;
    }
    if let Some(pers) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        let domain = match pers.domain() {
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
            _ => 0x0000,
        };
        linux::process::personality(domain).ctx("personality")?;
    }
    if let Some(io) = p.io_priority() {
        use oci_spec::runtime::IOPriorityClass as C;
        let class = match io.class() {
            C::IoprioClassRt => 1,
            C::IoprioClassBe => 2,
            C::IoprioClassIdle => 3,
        };
        linux::process::ioprio_set(class, io.priority().clamp(0, 7) as u64).ctx("ioprio_set")?;
    }
    if let Some(s) = p.scheduler() {
        use oci_spec::runtime::{LinuxSchedulerFlag as F, LinuxSchedulerPolicy as P};
        let policy = match s.policy() {
            P::SchedOther => 0,
            P::SchedFifo => 1,
            P::SchedRr => 2,
            P::SchedBatch => 3,
            P::SchedIso => 4,
            P::SchedIdle => 5,
            P::SchedDeadline => 6,
        };
        let flags = s.flags().iter().flatten().fold(0u64, |acc, f| {
            acc | match f {
                F::SchedResetOnFork => 0x01,
                F::SchedFlagReclaim => 0x02,
                F::SchedFlagDLOverrun => 0x04,
                F::SchedFlagKeepPolicy => 0x08,
                F::SchedFlagKeepParams => 0x10,
                F::SchedFlagUtilClampMin => 0x20,
                F::SchedFlagUtilClampMax => 0x40,
            }
        });
        linux::process::sched_setattr(
            policy,
            flags,
            s.nice().unwrap_or(0),
            s.priority().unwrap_or(0) as u32,
            s.runtime().unwrap_or(0),
            s.deadline().unwrap_or(0),
            s.period().unwrap_or(0),
        )
        .ctx("sched_setattr")?;
    }
    if let Some(mask) = p.user().umask() {
        rustix::process::umask(Mode::from_raw_mode(mask & 0o777));
    }
    Ok(())
}

fn rlimit_resource(t: PosixRlimitType) -> rustix::process::Resource {
    use rustix::process::Resource as R;
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => R::Cpu,
        T::RlimitFsize => R::Fsize,
        T::RlimitData => R::Data,
        T::RlimitStack => R::Stack,
        T::RlimitCore => R::Core,
        T::RlimitRss => R::Rss,
        T::RlimitNproc => R::Nproc,
        T::RlimitNofile => R::Nofile,
        T::RlimitMemlock => R::Memlock,
        T::RlimitAs => R::As,
        T::RlimitLocks => R::Locks,
        T::RlimitSigpending => R::Sigpending,
        T::RlimitMsgqueue => R::Msgqueue,
        T::RlimitNice => R::Nice,
        T::RlimitRtprio => R::Rtprio,
        T::RlimitRttime => R::Rttime,
    }
}

/// The five capability sets of the config as masks.
pub fn cap_sets(p: &Process) -> Result<caps::CapSets> {
    let Some(c) = p.capabilities() else {
        return Ok(caps::CapSets::default());
    };
    let mask = |set: &Option<oci_spec::runtime::Capabilities>| -> Result<u64> {
        let mut m = 0u64;
        for cap in set.iter().flatten() {
            let name = cap.to_string();
            let name = if name.starts_with("CAP_") {
                name
            } else {
                format!("CAP_{}", name.to_uppercase())
            };
            match caps::number(&name) {
                Some(n) => m |= 1 << n,
                None => log::warn!("unknown capability {name}, ignored"),
            }
        }
        Ok(m)
    };
    Ok(caps::CapSets {
        bounding: mask(c.bounding())?,
        effective: mask(c.effective())?,
        permitted: mask(c.permitted())?,
        inheritable: mask(c.inheritable())?,
        ambient: mask(c.ambient())?,
    })
}

/// Bounding set, then uid/gid/groups keeping the permitted set, then the final sets.
pub(crate) fn switch_user(p: &Process, in_userns: bool) -> Result<()> {
    let sets = cap_sets(p)?;
    caps::apply_bounding(sets.bounding).ctx("drop capabilities from the bounding set")?;
    // Only a change from uid 0 to another clears the permitted set; execve resets the flag.
    let keep = p.user().uid() != 0;
    if keep {
        rustix::thread::set_keep_capabilities(true).ctx("prctl(PR_SET_KEEPCAPS)")?;
    }
    let u = p.user();
    let groups: Vec<rustix::fs::Gid> = u
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| rustix::fs::Gid::from_raw(*g))
        .collect();
    let setgroups_denied = in_userns
        && crate::linux::fs::read_small("/proc/self/setgroups")
            .map(|s| s.trim() == "deny")
            .unwrap_or(false);
    if !setgroups_denied {
        rustix::thread::set_thread_groups(&groups).ctx("setgroups")?;
    } else if !groups.is_empty() {
        return Err(Error::invalid("config", "process.user.additionalGids: cannot be set when setgroups is denied in the user namespace"));
    }
    let gid = rustix::fs::Gid::from_raw(u.gid());
    let uid = rustix::fs::Uid::from_raw(u.uid());
    rustix::thread::set_thread_res_gid(gid, gid, gid)
        .map_err(|e| Error::sys(format!("setresgid {}", u.gid()), e))?;
    rustix::thread::set_thread_res_uid(uid, uid, uid)
        .map_err(|e| Error::sys(format!("setresuid {}", u.uid()), e))?;
    if keep {
        rustix::thread::set_keep_capabilities(false).ctx("prctl(PR_SET_KEEPCAPS)")?;
    }
    caps::apply_sets(&sets).ctx("capset")?;
    Ok(())
}

/// Resolve args[0] against the container's PATH (now that we are in its root), as runc's
/// LookPath does, so a missing program fails `create`, not `start`.
pub(crate) fn exec_args(p: &Process) -> Result<(CString, Vec<CString>, Vec<CString>)> {
    let args = p.args().clone().unwrap_or_default();
    let arg0 = args
        .first()
        .ok_or_else(|| Error::invalid("config", "process.args: must not be empty"))?;
    let env = p.env().clone().unwrap_or_default();
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let exe = if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        // A directory or a file without x: EACCES now, as runc's LookPath, so the error
        // comes from `create` (podman maps "permission denied" to 126), not the exec.
        check_executable(&p).map_err(|e| Error::sys(format!("exec: {arg0:?}"), e))?;
        p
    } else {
        path_var
            .split(':')
            .map(|d| Path::new(if d.is_empty() { "." } else { d }).join(arg0))
            .find(|c| is_executable(c))
            .ok_or_else(|| {
                Error::failed(
                    format!("exec: {arg0:?}"),
                    "executable file not found in $PATH",
                )
            })?
    };
    let cstr = |s: &[u8]| {
        CString::new(s).map_err(|_| Error::invalid("config", "process: NUL byte in args or env"))
    };
    let argv = args
        .iter()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<Vec<_>>>()?;
    let envp = env
        .iter()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<Vec<_>>>()?;
    Ok((cstr(exe.as_os_str().as_bytes())?, argv, envp))
}

fn nnp_of(ctx: &InitCtx) -> bool {
    ctx.spec
        .process()
        .as_ref()
        .and_then(|p| p.no_new_privileges())
        .unwrap_or(false)
}

fn is_executable(p: &Path) -> bool {
    check_executable(p).is_ok()
}

/// `p` is a regular file we may execute: the stat's errno if it can't be looked up, EACCES
/// for a directory, another non-file or a file without x.
fn check_executable(p: &Path) -> std::result::Result<(), rustix::io::Errno> {
    let st = rustix::fs::stat(p)?;
    let file = rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile;
    if !file || rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_err() {
        return Err(rustix::io::Errno::ACCESS);
    }
    Ok(())
}

/// Block on the fifo until `reno start`, then startContainer hooks, then exec.
fn wait_and_exec(ctx: &InitCtx, r: Ready) -> Result<Infallible> {
    let fifo = rustix::fs::openat(
        &r.state_dir,
        crate::state::FIFO,
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ctx("open exec fifo for writing")?;
    rustix::io::write(&fifo, b"0").ctx("write exec fifo")?;
    // `fifo` stays open to the execve, which closes it (O_CLOEXEC): its hang-up tells
    // `start` the program is executed, so poststart hooks run after that (runtime-spec),
    // not side by side with the rest of this set-up.
    // Past the fifo: remove it ourselves too, so a `start` killed between its read and its
    // unlink can't leave the container looking "created" (and the next start waiting on a
    // fifo nobody will write again). Best effort: a non-root user may not be allowed to.
    let _ = rustix::fs::unlinkat(
        &r.state_dir,
        crate::state::FIFO,
        rustix::fs::AtFlags::empty(),
    );
    drop(r.state_dir);
    let Some((exe, argv, envp)) = r.exec else {
        return Err(Error::invalid(
            "start",
            "the container has no process to run",
        ));
    };
    if let Some(h) = ctx.spec.hooks() {
        hooks::run_all(
            "startContainer",
            h.start_container().as_ref(),
            &r.state_json,
        )?;
    }
    signal::set_mask(ctx.sigmask).ctx("restore signal mask")?;
    // reno runs with SIGPIPE ignored (Rust's default, and its pipes rely on EPIPE); an ignored
    // signal would stay ignored across execve.
    signal::set_default(signal::SIGPIPE).ctx("reset SIGPIPE")?;
    // As close to execve as possible, so the profile need allow little of reno's own work.
    if let Some(prog) = ctx.seccomp.filter(|p| nnp_of(ctx) && !p.notify) {
        let _listener = crate::seccomp::load(prog)?;
    }
    let e = linux::process::execve(&exe, &argv, &envp);
    let process = ctx.spec.process().as_ref();
    Err(exec_error(&exe, e, process, nnp_of(ctx)))
}

/// execve's error; EPERM with an SELinux label under no_new_privs is most likely the policy
/// refusing the domain transition, which the errno alone doesn't say.
pub(crate) fn exec_error(
    exe: &std::ffi::CStr,
    e: rustix::io::Errno,
    process: Option<&oci_spec::runtime::Process>,
    nnp: bool,
) -> Error {
    let err = Error::sys(format!("exec {exe:?}"), e);
    let labelled = process.is_some_and(|p| p.selinux_label().is_some());
    if e == rustix::io::Errno::PERM && nnp && labelled {
        err.detail("with no_new_privs, the SELinux policy must allow the transition to process.selinuxLabel (process2 nnp_transition)")
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_eperm_under_a_label_and_nnp_names_the_policy() {
        let labelled: oci_spec::runtime::Process = serde_json::from_value(serde_json::json!({
            "cwd": "/", "args": ["/bin/true"], "user": {"uid": 0, "gid": 0}, "selinuxLabel": "system_u:system_r:container_t:s0"
        }))
        .expect("process");
        let hint = |e, nnp| {
            exec_error(c"/bin/true", e, Some(&labelled), nnp)
                .to_string()
                .contains("nnp_transition")
        };
        assert!(hint(rustix::io::Errno::PERM, true));
        assert!(!hint(rustix::io::Errno::PERM, false));
        assert!(!hint(rustix::io::Errno::NOENT, true));
        let plain = exec_error(c"/bin/true", rustix::io::Errno::PERM, None, true).to_string();
        assert!(
            plain.contains("exec") && !plain.contains("nnp_transition"),
            "{plain}"
        );
    }
}
