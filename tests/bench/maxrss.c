/*
 * maxrss OUT CMD [ARG...]: run CMD, write its ru_maxrss (KiB) to the file OUT, exit with
 * its status. A small static helper because a process started by vfork/fork from the
 * (large) Python driver would report the driver's RSS: at execve the kernel keeps the old
 * mm's high-water mark in the process's maxrss. This helper's own mm is a few pages.
 * Build: musl-gcc -static -O2 -o maxrss maxrss.c   (tests/bench/run does it)
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr, "usage: maxrss OUT CMD [ARG...]\n");
		return 2;
	}
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
	out = fopen(argv[1], "w");
	if (!out || fprintf(out, "%ld\n", ru.ru_maxrss) < 0 || fclose(out)) {
		perror("maxrss: write");
		return 125;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
