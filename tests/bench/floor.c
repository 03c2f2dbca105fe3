/*
 * The floor: the least a runtime must do to run a program in a container, so
 * that every runtime's figure can be read as "how far above the floor".
 *
 *   floor ROOTFS [--no-netns] [--proc-cgroups|--config-mounts|--service-config]
 *         [CMD ARG...]
 *                                                (CMD: /bin/true by default)
 *
 *   without options  clone(NEWPID|NEWNS|NEWUTS|NEWIPC|NEWNET), make / private,
 *                    bind ROOTFS, pivot_root, execve. Where / is an initramfs
 *                    (pivot_root: EINVAL) it moves ROOTFS onto / and chroots
 *                    instead, as reno does there.
 *   --no-netns       no new network namespace: for containers that share the
 *                    host's network (tests/vm's services).
 *   --proc-cgroups   as above, plus: mount /proc in the container, and create +
 *                    join + remove the container's cgroup (what runtimes do for a
 *                    container). On cgroup v1 (this host: hybrid) one in each of
 *                    the 8 v1 hierarchies; the child joins by writing "0" into
 *                    each `tasks` file (opened by the parent): the cheapest way
 *                    there is, as reno does. Writing its pid into cgroup.procs
 *                    instead takes the kernel's global threadgroup lock, whose
 *                    writer waits for an RCU grace period (5-20 ms when idle). On
 *                    a pure cgroup v2 host (tests/vm's booted kernels) one
 *                    directory, cloned into (clone3 CLONE_INTO_CGROUP), as reno
 *                    does.
 *   --config-mounts  as --proc-cgroups, plus every other mount `runc spec`'s
 *                    default config asks for, the cheapest way: /dev (tmpfs, the
 *                    6 device nodes and 5 links), /dev/pts, /dev/shm, /dev/mqueue,
 *                    /sys (ro), /sys/fs/cgroup (a tmpfs with a bind of the
 *                    container's cgroup per hierarchy, made read-only in one
 *                    mount_setattr; v2: a bind of its directory), the masked
 *                    paths (/dev/null or a read-only tmpfs over each), the
 *                    read-only paths (bind + remount) and the read-only root: the
 *                    kernel's share of the default config, without which a
 *                    runtime's figure for it can't be read against the floor.
 *   --service-config as --proc-cgroups, plus the kernel's share of the rest of
 *                    tests/vm's service bundle (scenarios.py: Bundle.config), the
 *                    cheapest way: /dev (tmpfs, the 6 device nodes and 5 links), a
 *                    /tmp tmpfs, 3 masked and 2 read-only /proc paths, the
 *                    read-only root, the hostname, a bounding set of 3 capabilities
 *                    (one PR_CAPBSET_DROP per other capability: there is no batch
 *                    call), capset and no_new_privs; on an initramfs root also
 *                    detaching the host's mounts before the chroot, as runc's and
 *                    reno's move + chroot do (else a chroot escape reaches them).
 *
 * Build: musl-gcc -static -O2 -o floor floor.c   (tests/bench/run does it;
 *        tests/vm/run builds it with gcc -static for the booted x86_64 kernel)
 * Exit status: the container's, or 100+step on a failure (message on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)
static unsigned long ns_flags = NS_FLAGS;
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* The kernel's struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2). */
struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
		tls, set_tid, set_tid_size, cgroup;
};

static const char *const hierarchies[] = {
	"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
};
#define NH (sizeof(hierarchies) / sizeof(hierarchies[0]))

static const char *rootfs;
static int with_proc_cgroups, config_mounts, service_config;
static char cgroup_dirs[NH][256]; /* the container's, for the /sys/fs/cgroup binds */
static size_t n_cgroup_dirs;
static int v2; /* a pure cgroup v2 host */
static int tasks_fds[NH];
static char **command;
static char *default_command[] = {"/bin/true", NULL};

static void die(const char *what, const char *arg, int code)
{
	fprintf(stderr, "floor: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
	_exit(code);
}

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
struct mount_attr_arg {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static void mnt(const char *src, const char *rel, const char *type, unsigned long flags,
		const char *data)
{
	char path[4096];
	snprintf(path, sizeof path, "%s%s", rootfs, rel);
	if (mount(src, path, type, flags, data))
		die("mount on", path, 120);
}

static void mkdir_in(const char *rel)
{
	char path[4096];
	snprintf(path, sizeof path, "%s%s", rootfs, rel);
	if (mkdir(path, 0755) && errno != EEXIST)
		die("mkdir", path, 121);
}

/* A /dev tmpfs with the default devices and links, under ROOTFS. */
static void mount_dev(void)
{
	static const struct { const char *name; unsigned maj, min; } devs[] = {
		{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
		{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
	};
	static const char *const links[][2] = {
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
	};
	char path[4096];
	int dev;
	mnt("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
	snprintf(path, sizeof path, "%s/dev", rootfs);
	if ((dev = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		die("open", path, 122);
	for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
		if (mknodat(dev, devs[i].name, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)))
			die("mknod", devs[i].name, 123);
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (symlinkat(links[i][0], dev, links[i][1]))
			die("symlink", links[i][1], 124);
	close(dev);
}

/* The default config's file systems, under ROOTFS before the root switch. */
static void mount_config_fs(void)
{
	char path[4096];
	mount_dev();
	mkdir_in("/dev/pts");
	mnt("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	    "newinstance,ptmxmode=0666,mode=0620,gid=5");
	mkdir_in("/dev/shm");
	mnt("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k");
	mkdir_in("/dev/mqueue");
	mnt("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
	mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL);
	if (v2) {
		mnt(cgroup_dirs[0], "/sys/fs/cgroup", NULL, MS_BIND, NULL);
	} else {
		mnt("tmpfs", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=755");
		for (size_t i = 0; i < n_cgroup_dirs; i++) {
			char rel[300];
			snprintf(rel, sizeof rel, "/sys/fs/cgroup/%s", hierarchies[i]);
			mkdir_in(rel);
			mnt(cgroup_dirs[i], rel, NULL, MS_BIND, NULL);
		}
	}
	struct mount_attr_arg ro = {
		.attr_set = 1 | 2 | 4 | 8, /* MOUNT_ATTR_RDONLY | NOSUID | NODEV | NOEXEC */
	};
	snprintf(path, sizeof path, "%s/sys/fs/cgroup", rootfs);
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &ro, sizeof ro))
		die("mount_setattr read-only", path, 125);
}

/* tests/vm's service bundle: /dev with its nodes and links, and /tmp. */
static void mount_service_fs(void)
{
	mount_dev();
	mnt("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

/* Whether mount point a is b or below it. */
static int below(const char *a, const char *b)
{
	size_t n = strlen(b);
	return !strncmp(a, b, n) && (a[n] == '/' || a[n] == 0 || !strcmp(b, "/"));
}

/* Before a move + chroot: lazily unmount the outermost host mounts outside ROOTFS (one
 * RCU grace period each), so none stays reachable from the container. */
static void detach_host_mounts(void)
{
	static char info[16384], points[64][256];
	size_t n = 0, len = 0;
	ssize_t r;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", "/proc/self/mountinfo", 129);
	while ((r = read(fd, info + len, sizeof info - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	info[len] = 0;
	for (char *line = strtok(info, "\n"); line && n < 64; line = strtok(NULL, "\n")) {
		char *f = line;
		for (int i = 0; i < 4 && f; i++)
			f = strchr(f + 1, ' ');
		if (!f)
			continue;
		char *end = strchr(++f, ' ');
		if (end)
			*end = 0;
		if (!strcmp(f, "/") || below(f, rootfs) || below(rootfs, f))
			continue;
		snprintf(points[n++], sizeof points[0], "%s", f);
	}
	/* A point listed n times has n mounts stacked on it: each listing detaches one. */
	for (size_t i = 0; i < n; i++) {
		int inner = 0;
		for (size_t j = 0; j < n && !inner; j++)
			inner = strcmp(points[i], points[j]) && below(points[i], points[j]);
		if (!inner && umount2(points[i], MNT_DETACH))
			die("detach", points[i], 129);
	}
}

/* After the root switch: masked and read-only paths, then the read-only root. */
static void mask_and_protect(void)
{
	static const char *const runc_masked[] = {
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
		"/proc/scsi", NULL,
	};
	static const char *const runc_readonly[] = {
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
	};
	static const char *const service_masked[] = {
		"/proc/kcore", "/proc/keys", "/proc/timer_list", NULL,
	};
	static const char *const service_readonly[] = {"/proc/sys", "/proc/sysrq-trigger", NULL};
	const char *const *masked = service_config ? service_masked : runc_masked;
	const char *const *readonly = service_config ? service_readonly : runc_readonly;
	for (size_t i = 0; masked[i]; i++) {
		if (mount("/dev/null", masked[i], NULL, MS_BIND, NULL) == 0 || errno == ENOENT)
			continue;
		if (errno != ENOTDIR || mount("tmpfs", masked[i], "tmpfs", MS_RDONLY, NULL))
			die("mask", masked[i], 126);
	}
	for (size_t i = 0; readonly[i]; i++) {
		if (mount(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL)) {
			if (errno == ENOENT)
				continue;
			die("bind", readonly[i], 127);
		}
		if (mount(NULL, readonly[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL))
			die("remount read-only", readonly[i], 127);
	}
	if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL))
		die("remount / read-only", NULL, 128);
}

/* The service bundle's process: its hostname, a bounding set of CAP_AUDIT_WRITE, CAP_KILL
 * and CAP_NET_BIND_SERVICE (the same in effective and permitted), no_new_privs. */
static void service_process(void)
{
	static const int keep[] = {29 /* AUDIT_WRITE */, 5 /* KILL */, 10 /* NET_BIND_SERVICE */};
	uint32_t set = 0;
	char buf[16] = {0};
	int last = 40, fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && read(fd, buf, sizeof buf - 1) > 0)
		last = atoi(buf);
	if (fd >= 0)
		close(fd);
	if (sethostname("floor", 5))
		die("sethostname", NULL, 130);
	for (int cap = 0; cap <= last; cap++) {
		int kept = 0;
		for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
			kept |= keep[i] == cap;
		if (!kept && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			die("PR_CAPBSET_DROP", NULL, 131);
	}
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
		set |= 1u << keep[i];
	struct { uint32_t version; int pid; } hdr = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
	struct { uint32_t effective, permitted, inheritable; } data[2] = {{set, set, 0}, {0, 0, 0}};
	if (syscall(SYS_capset, &hdr, data))
		die("capset", NULL, 132);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("no_new_privs", NULL, 133);
}

static int child(void *arg)
{
	char path[4096];
	(void)arg;
	if (with_proc_cgroups && !v2)
		for (size_t i = 0; i < NH; i++)
			if (write(tasks_fds[i], "0", 1) != 1)
				die("join cgroup", hierarchies[i], 101);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("make / private", NULL, 102);
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL))
		die("bind", rootfs, 103);
	if (with_proc_cgroups) {
		snprintf(path, sizeof path, "%s/proc", rootfs);
		if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
			die("mount proc on", path, 104);
	}
	if (config_mounts)
		mount_config_fs();
	if (service_config)
		mount_service_fs();
	if (chdir(rootfs))
		die("chdir", rootfs, 105);
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH))
			die("umount old root", NULL, 107);
	} else if (errno == EINVAL) {
		/* An initramfs root can't be pivoted away from: move + chroot. */
		if (service_config)
			detach_host_mounts();
		if (mount(".", "/", NULL, MS_MOVE, NULL))
			die("move onto /", rootfs, 106);
		if (chroot(".") || chdir("/"))
			die("chroot", rootfs, 106);
	} else {
		die("pivot_root", rootfs, 106);
	}
	if (config_mounts || service_config)
		mask_and_protect();
	if (service_config)
		service_process();
	char *envp[] = {"PATH=/bin", NULL};
	execve(command[0], command, envp);
	die("execve", command[0], 108);
	return 0;
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		die("write", path, 110);
	close(fd);
}

static void copy_file(const char *from, const char *to)
{
	char buf[256];
	int fd = open(from, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0 || (n = read(fd, buf, sizeof buf - 1)) < 0)
		die("read", from, 111);
	close(fd);
	buf[n] = 0;
	write_file(to, buf);
}

int main(int argc, char **argv)
{
	static char stack[64 * 1024];
	char dirs[NH][256], path[4096];
	int status, v2_fd = -1;
	size_t i, ndirs = 0;
	pid_t c;

	if (argc < 2) {
		fprintf(stderr, "usage: floor ROOTFS [--no-netns] [--proc-cgroups|--config-mounts|--service-config] [CMD ARG...]\n");
		return 2;
	}
	rootfs = argv[1];
	for (i = 2; i < (size_t)argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--no-netns"))
			ns_flags &= ~(unsigned long)CLONE_NEWNET;
		else if (!strcmp(argv[i], "--config-mounts"))
			config_mounts = with_proc_cgroups = 1;
		else if (!strcmp(argv[i], "--service-config"))
			service_config = with_proc_cgroups = 1;
		else if (!strcmp(argv[i], "--proc-cgroups"))
			with_proc_cgroups = 1;
		else {
			fprintf(stderr, "floor: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	command = i < (size_t)argc ? argv + i : default_command;
	v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;

	if (with_proc_cgroups && v2) {
		snprintf(dirs[0], sizeof dirs[0], "/sys/fs/cgroup/reno-bench-floor-%d", getpid());
		if (mkdir(dirs[0], 0755) && errno != EEXIST)
			die("mkdir", dirs[0], 112);
		ndirs = 1;
		if ((v2_fd = open(dirs[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			die("open", dirs[0], 113);
	} else if (with_proc_cgroups) {
		for (i = 0; i < NH; i++) {
			snprintf(dirs[i], sizeof dirs[i], "/sys/fs/cgroup/%s/reno-bench-floor-%d",
				 hierarchies[i], getpid());
			if (mkdir(dirs[i], 0755) && errno != EEXIST)
				die("mkdir", dirs[i], 112);
		}
		ndirs = NH;
		/* A v1 cpuset cgroup starts with no cpus/mems: nothing can join it. */
		for (i = 0; i < NH; i++) {
			if (strcmp(hierarchies[i], "cpuset"))
				continue;
			snprintf(path, sizeof path, "%s/cpuset.cpus", dirs[i]);
			copy_file("/sys/fs/cgroup/cpuset/cpuset.cpus", path);
			snprintf(path, sizeof path, "%s/cpuset.mems", dirs[i]);
			copy_file("/sys/fs/cgroup/cpuset/cpuset.mems", path);
		}
		for (i = 0; i < NH; i++) {
			snprintf(path, sizeof path, "%s/tasks", dirs[i]);
			if ((tasks_fds[i] = open(path, O_WRONLY | O_CLOEXEC)) < 0)
				die("open", path, 113);
		}
	}

	for (i = 0; i < ndirs; i++)
		memcpy(cgroup_dirs[i], dirs[i], sizeof cgroup_dirs[i]);
	n_cgroup_dirs = ndirs;
	if (v2_fd >= 0) {
		struct clone3_args a = {
			.flags = ns_flags | CLONE_INTO_CGROUP,
			.exit_signal = SIGCHLD,
			.cgroup = (uint64_t)v2_fd,
		};
		c = syscall(SYS_clone3, &a, sizeof a);
		if (c == 0)
			_exit(child(NULL));
		close(v2_fd);
	} else {
		c = clone(child, stack + sizeof stack, (int)ns_flags | SIGCHLD, NULL);
		if (with_proc_cgroups)
			for (i = 0; i < NH; i++)
				close(tasks_fds[i]);
	}
	if (c < 0)
		die("clone", NULL, 114);

	if (waitpid(c, &status, 0) < 0)
		die("waitpid", NULL, 116);
	for (i = 0; i < ndirs; i++)
		if (rmdir(dirs[i]))
			die("rmdir", dirs[i], 117);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
