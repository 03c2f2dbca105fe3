/* A tiny static helper for tests/security_lsm_vm.sh, run inside the test containers:
 *   probe read PATH | write PATH   -> "ok" or "errno=NAME" (open(2)'s answer)
 *   probe xattr PATH NAME          -> the attribute's value, or "errno=NAME"
 *   probe keylabel                 -> the session keyring's LSM label, or "errno=NAME"
 * busybox has no getfattr, and its messages don't name the errno. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *name(int e) {
    switch (e) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EROFS: return "EROFS";
    case ENODATA: return "ENODATA";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EINVAL: return "EINVAL";
    default: return strerror(e);
    }
}

int main(int argc, char **argv) {
    if (argc >= 3 && (!strcmp(argv[1], "read") || !strcmp(argv[1], "write"))) {
        int w = !strcmp(argv[1], "write");
        int fd = open(argv[2], w ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY, 0644);
        if (fd < 0) { printf("errno=%s\n", name(errno)); return 1; }
        char buf[64];
        ssize_t n = w ? write(fd, "x\n", 2) : read(fd, buf, sizeof buf);
        if (n < 0) { printf("errno=%s\n", name(errno)); return 1; }
        printf("ok\n");
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "xattr")) {
        char buf[256];
        ssize_t n = getxattr(argv[2], argv[3], buf, sizeof buf - 1);
        if (n < 0) { printf("errno=%s\n", name(errno)); return 1; }
        while (n > 0 && buf[n - 1] == '\0') n--;
        buf[n] = '\0';
        printf("%s\n", buf);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "keylabel")) {
        char buf[256];
        /* keyctl(KEYCTL_GET_SECURITY, KEY_SPEC_SESSION_KEYRING, buf, len) */
        long n = syscall(SYS_keyctl, 17, -3, buf, sizeof buf - 1);
        if (n < 0) { printf("errno=%s\n", name(errno)); return 1; }
        if (n > (long)sizeof buf - 1) n = sizeof buf - 1;
        while (n > 0 && buf[n - 1] == '\0') n--;
        buf[n] = '\0';
        printf("%s\n", buf);
        return 0;
    }
    fprintf(stderr, "usage: probe read|write PATH | xattr PATH NAME | keylabel\n");
    return 2;
}
