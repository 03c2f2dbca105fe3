/*
 * maxrss OUT CMD [ARG...]: run CMD, write to the file OUT "MAXRSS TREE" (KiB) and exit with
 * its status.
 *   MAXRSS: CMD's ru_maxrss from wait4 (the largest RSS of CMD or of a child it waited for).
 *   TREE:   the peak RSS of every process of CMD's tree, summed: MAXRSS, plus each orphan
 *           left behind (a container init waiting on its exec fifo, an intermediate
 *           process) by its own high-water mark: VmHWM from /proc while it lives,
 *           ru_maxrss from wait4 once it has exited. This helper is a child subreaper, so
 *           those orphans are its children. An upper bound of the tree's simultaneous
 *           RSS (file pages shared between processes count once per process, as ps shows).
 * maxrss --pss OUT CMD [ARG...]: run CMD traced (ptrace, every process and thread it starts
 *   follows automatically) and write "PSS RSS UNIQ" (KiB): the largest value of each, over
 *   snapshots of the whole live tree taken whenever one of its processes is about to exit
 *   (PTRACE_EVENT_EXIT: its memory is still mapped, everything it started is still there,
 *   e.g. `create`'s parent right before it exits, with the init waiting on the exec fifo)
 *   and once more after CMD has exited (the processes it left behind).
 *     PSS:  sum of Pss of /proc/PID/smaps_rollup: a page shared by n processes counts 1/n in
 *           each, so pages shared inside the tree count once. A page also mapped outside
 *           the tree (a dynamic peer's libc, used by every process on the host) counts
 *           only its share: PSS is low for dynamically linked runtimes.
 *     RSS:  sum of Rss at the same instants (shared pages once per process, as ps).
 *     UNIQ: distinct physical pages mapped by the tree's processes (PFNs from
 *           /proc/PID/pagemap; root only): each page once, and whole, whoever else maps it:
 *           the tree's RSS as if it were one process.
 *   Tracing only delays the tree at its exits; the figures are for memory, never for time.
 *   MAXRSS_DEBUG=1 in the environment prints each snapshot's processes and mappings.
 * A small static helper because a process started by vfork/fork from the (large) Python
 * driver would report the driver's RSS: at execve the kernel keeps the old mm's high-water
 * mark in the process's maxrss. This helper's own mm is a few pages.
 * Build: musl-gcc -static -O2 -o maxrss maxrss.c   (tests/bench/run does it)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* VmHWM of a live process in KiB, 0 if unreadable. */
static long vmhwm(pid_t pid)
{
	char path[64], line[256];
	long kb = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

/* Sum of VmHWM over our live children (the orphans reparented to us) and of their live
 * children in turn. */
static long live_children_hwm(pid_t parent)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	long sum = 0;

	d = opendir("/proc");
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char stat[512];
		FILE *f;
		pid_t pid = (pid_t)atoi(e->d_name), ppid;
		char *p;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(stat, sizeof stat, f)) {
			fclose(f);
			continue;
		}
		fclose(f);
		p = strrchr(stat, ')');
		/* ") S PPID": a zombie (Z) has no mm left; it is reaped and counted below. */
		if (!p || p[2] == 'Z' || sscanf(p + 4, "%d", &ppid) != 1 || ppid != parent)
			continue;
		sum += vmhwm(pid) + live_children_hwm(pid);
	}
	closedir(d);
	return sum;
}


/* ---------------------------------------------------------------- --pss mode */

#define MAXT 4096
static pid_t tids[MAXT];	/* every live traced task (threads included) */
static int ntids;
static long best_pss, best_rss, best_uniq;
static uint64_t *pfns;
static size_t npfn, cappfn;

static void track(pid_t t)
{
	for (int i = 0; i < ntids; i++)
		if (tids[i] == t)
			return;
	if (ntids < MAXT)
		tids[ntids++] = t;
}

static void untrack(pid_t t)
{
	for (int i = 0; i < ntids; i++)
		if (tids[i] == t) {
			tids[i] = tids[--ntids];
			return;
		}
}

/* "Key:  N kB" from a /proc file, -1 if missing. */
static long proc_field(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, n) == 0) {
			v = strtol(line + n, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void add_pfn(uint64_t p)
{
	if (npfn == cappfn) {
		cappfn = cappfn ? 2 * cappfn : 65536;
		pfns = realloc(pfns, cappfn * sizeof *pfns);
		if (!pfns) {
			perror("maxrss: realloc");
			exit(125);
		}
	}
	pfns[npfn++] = p;
}

/* Present pages of pid's mappings, appended to pfns. */
static void collect_pfns(pid_t pid)
{
	char path[64], line[512];
	static uint64_t buf[4096];
	FILE *maps;
	int pm;

	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
	pm = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	if (pm < 0 || !maps) {
		if (pm >= 0)
			close(pm);
		if (maps)
			fclose(maps);
		return;
	}
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || strstr(line, "[vsyscall]"))
			continue;
		for (unsigned long pg = lo / 4096; pg < hi / 4096;) {
			size_t want = hi / 4096 - pg;
			ssize_t got;

			if (want > 4096)
				want = 4096;
			got = pread(pm, buf, want * 8, (off_t)pg * 8);
			if (got <= 0)
				break;
			for (ssize_t i = 0; i < got / 8; i++)
				if (buf[i] >> 63)
					add_pfn(buf[i] & ((1ULL << 55) - 1));
			pg += (unsigned long)got / 8;
		}
	}
	fclose(maps);
	close(pm);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* One snapshot of the live tree: each process (thread group) once. */
static void snapshot(void)
{
	pid_t seen[MAXT];
	int nseen = 0;
	long pss = 0, rss = 0, uniq = 0;

	npfn = 0;
	for (int i = 0; i < ntids; i++) {
		long tg = proc_field(tids[i], "status", "Tgid:");
		int dup = 0;

		if (tg <= 0)
			continue;
		for (int j = 0; j < nseen; j++)
			dup |= seen[j] == (pid_t)tg;
		if (dup)
			continue;
		seen[nseen++] = (pid_t)tg;
		long p = proc_field((pid_t)tg, "smaps_rollup", "Pss:");
		long r = proc_field((pid_t)tg, "smaps_rollup", "Rss:");
		if (getenv("MAXRSS_DEBUG")) {
			char cmd[96];
			fprintf(stderr, "maxrss: pid %ld rss %ld pss %ld\n", tg, r, p);
			snprintf(cmd, sizeof cmd, "awk '/^[0-9a-f]+-/{m=$0} /^Rss:/{if ($2) print \"  \" $2, m}' /proc/%ld/smaps >&2", tg);
			if (system(cmd) != 0)
				fprintf(stderr, "maxrss: smaps of %ld unreadable\n", tg);
		}
		if (p > 0)
			pss += p;
		if (r > 0)
			rss += r;
		collect_pfns((pid_t)tg);
	}
	qsort(pfns, npfn, sizeof *pfns, cmp_u64);
	if (getenv("MAXRSS_DEBUG"))
		fprintf(stderr, "maxrss: snapshot of %d processes\n", nseen);
	for (size_t i = 0; i < npfn; i++)
		uniq += (i == 0 || pfns[i] != pfns[i - 1]);
	uniq *= 4;
	if (pss > best_pss)
		best_pss = pss;
	if (rss > best_rss)
		best_rss = rss;
	if (uniq > best_uniq)
		best_uniq = uniq;
}

static int pss_main(int argc, char **argv)
{
	const long opts = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
			  PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT;
	int status = 0, st, done = 0;
	pid_t pid, t;
	FILE *out;

	if (argc < 4) {
		fprintf(stderr, "usage: maxrss --pss OUT CMD [ARG...]\n");
		return 2;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	pid = fork();
	if (pid < 0) {
		perror("maxrss: fork");
		return 125;
	}
	if (pid == 0) {
		raise(SIGSTOP); /* until the parent has seized us */
		execv(argv[3], argv + 3);
		perror("maxrss: execv");
		_exit(127);
	}
	if (waitpid(pid, &st, WUNTRACED) < 0 || !WIFSTOPPED(st) ||
	    ptrace(PTRACE_SEIZE, pid, 0, (void *)opts) < 0) {
		perror("maxrss: seize");
		kill(pid, SIGKILL);
		return 125;
	}
	track(pid);
	kill(pid, SIGCONT);
	while (!done) {
		t = waitpid(-1, &st, __WALL);
		if (t < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: nothing left */
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			untrack(t);
			if (t == pid) {
				status = st;
				done = 1;
			}
			continue;
		}
		if (!WIFSTOPPED(st))
			continue;
		int ev = st >> 16, sig = WSTOPSIG(st), inject = 0;
		unsigned long msg;

		switch (ev) {
		case PTRACE_EVENT_FORK:
		case PTRACE_EVENT_VFORK:
		case PTRACE_EVENT_CLONE:
			if (ptrace(PTRACE_GETEVENTMSG, t, 0, &msg) == 0)
				track((pid_t)msg);
			break;
		case PTRACE_EVENT_EXIT:
			if (proc_field(t, "status", "Tgid:") == t)
				snapshot();
			break;
		case PTRACE_EVENT_EXEC:
		case PTRACE_EVENT_STOP: /* a new task's first stop, or a group stop */
			break;
		default:
			inject = sig; /* a signal on its way: deliver it */
		}
		/* A new task's first stop can come before its parent's fork event. */
		track(t);
		ptrace(PTRACE_CONT, t, 0, (void *)(long)inject);
	}
	/* What CMD left behind (the init on the exec fifo); tracees detach when we exit. */
	snapshot();
	out = fopen(argv[2], "w");
	if (!out || fprintf(out, "%ld %ld %ld\n", best_pss, best_rss, best_uniq) < 0 || fclose(out)) {
		perror("maxrss: write");
		return 125;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	struct rusage ru, oru;
	int status, ost;
	pid_t pid, o;
	long tree;
	FILE *out;

	if (argc > 1 && strcmp(argv[1], "--pss") == 0)
		return pss_main(argc, argv);
	if (argc < 3) {
		fprintf(stderr, "usage: maxrss OUT CMD [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		perror("maxrss: PR_SET_CHILD_SUBREAPER (tree figure misses orphans)");
	pid = fork();
	if (pid < 0) {
		perror("maxrss: fork");
		return 125;
	}
	if (pid == 0) {
		execv(argv[2], argv + 2);
		perror("maxrss: execv");
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("maxrss: wait4");
		return 125;
	}
	tree = ru.ru_maxrss;
	/* Orphans that already exited, then the ones still running (the container's init). */
	while ((o = wait4(-1, &ost, WNOHANG, &oru)) > 0)
		tree += oru.ru_maxrss;
	tree += live_children_hwm(getpid());
	out = fopen(argv[1], "w");
	if (!out || fprintf(out, "%ld %ld\n", ru.ru_maxrss, tree) < 0 || fclose(out)) {
		perror("maxrss: write");
		return 125;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
