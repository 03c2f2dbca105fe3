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
 * A small static helper because a process started by vfork/fork from the (large) Python
 * driver would report the driver's RSS: at execve the kernel keeps the old mm's high-water
 * mark in the process's maxrss. This helper's own mm is a few pages.
 * Build: musl-gcc -static -O2 -o maxrss maxrss.c   (tests/bench/run does it)
 */
#include <dirent.h>
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

int main(int argc, char **argv)
{
	struct rusage ru, oru;
	int status, ost;
	pid_t pid, o;
	long tree;
	FILE *out;

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
