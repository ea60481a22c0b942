/* datadir.c — owning the data directory.
 *
 * Two servers writing one WAL would corrupt it, so the first one to start
 * takes an exclusive flock(2) on data/LOCK and keeps the fd open for its
 * whole life; the kernel drops the lock if the process dies, even by
 * kill -9, so a crash never leaves a stale lock behind (a pid file would). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof tmp)
        return (errno = ENAMETOOLONG), -1;
    memcpy(tmp, dir, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int scry__datadir_lock(const char *dir, char *errbuf, size_t errlen)
{
    char path[4200];
    if (mkdir_p(dir) != 0) {
        snprintf(errbuf, errlen, "cannot create data dir %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(errbuf, errlen, "data dir %s is not writable: %s", dir, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        if (errno == EWOULDBLOCK)
            snprintf(errbuf, errlen,
                     "data dir %s is in use by another scry process (pid %s); "
                     "stop it or pick another --data",
                     dir, pid[0] ? pid : "unknown");
        else
            snprintf(errbuf, errlen, "cannot lock %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        snprintf(errbuf, errlen, "data dir %s is not writable: %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    /* Probe that the directory itself takes new files (a read-only mount
     * can still let us open an existing LOCK). */
    snprintf(path, sizeof path, "%s/.write-probe", dir);
    int probe = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (probe < 0) {
        snprintf(errbuf, errlen, "data dir %s is not writable: %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    close(probe);
    unlink(path);
    return fd;
}
