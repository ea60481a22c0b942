/* wal.c — the WAL writer: buffering, group commit, rotation, fsync policy.
 *
 * Appenders frame records into one shared buffer under `mu` (a memcpy and a
 * CRC, no I/O). A committer that finds its records not yet durable becomes
 * the I/O leader if nobody is: it swaps the buffer for an empty spare,
 * drops `mu`, writes the whole batch (rotating segments on the way) and, for
 * ALWAYS, fsyncs once; then it publishes the new positions and wakes the
 * others. Committers that arrive while a leader is busy keep appending and
 * wait; the next leader takes all of their records at once, so N concurrent
 * committers share one write and one fsync (group commit). Positions are
 * logical byte counts (LSNs) of appended records, so "is my commit durable"
 * is one comparison and needs no per-thread state.
 *
 * The INTERVAL fsync thread fsyncs a dup() of the current segment's fd, so
 * it never holds `mu` or the leader role during the fsync: commits are not
 * delayed by it, and a busy leader cannot starve it past the interval. Segments closed by rotation are fsynced by the leader
 * before the next is created, so "everything before the current segment is
 * synced" holds for ALWAYS and INTERVAL.
 *
 * I/O errors are sticky (see wal.h). A failed batch is cut back off the
 * file, so a reopen replays exactly the records whose commit returned 0:
 * after a failed fsync the kernel may already have dropped the dirty pages
 * and a retry would lie ("fsyncgate"), so we stop rather than retry. */
#include "core/wal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/wal_internal.h"

struct scry_wal {
    char *dir;
    struct scry_wal_opts o;
    int lock_fd;

    pthread_mutex_t mu;
    pthread_cond_t io_done;   /* a leader finished; positions moved */
    struct scry_buf buf;      /* framed records not yet handed to a leader */
    struct scry_buf spare;    /* the batch a leader is writing */
    uint64_t appended_lsn, written_lsn, synced_lsn;
    bool io_busy;             /* a leader owns fd, seg, seg_bytes */
    int failed;               /* sticky SCRY_E* code, 0 when healthy */
    struct scry_err fail;

    /* Owned by the I/O leader (io_busy). fd and seg change only under
     * fd_mu, so the syncer can dup() fd while a leader writes. */
    pthread_mutex_t fd_mu;
    int fd;
    uint32_t seg, first_seg;
    uint64_t seg_bytes;

    pthread_t syncer;
    bool syncer_started, stopping;
    pthread_cond_t syncer_wake;

    struct scry_wal_stats st;
};

/* ---- I/O primitives, through the test hooks ---- */

static ssize_t do_write(struct scry_wal *w, const void *p, size_t len)
{
    return w->o.write_fn ? w->o.write_fn(w->fd, p, len, w->o.io_ud) : write(w->fd, p, len);
}

static int do_fsync(struct scry_wal *w, int fd)
{
    __atomic_add_fetch(&w->st.fsyncs, 1, __ATOMIC_RELAXED);
    return w->o.fsync_fn ? w->o.fsync_fn(fd, w->o.io_ud) : fsync(fd);
}

static int write_all(struct scry_wal *w, const uint8_t *p, size_t len, struct scry_err *err)
{
    assert(w->fd >= 0);
    while (len > 0) {
        ssize_t n = do_write(w, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* a regular file never legitimately writes 0 */
            return scry_err_sys(err, SCRY_EIO, "wal %s: write segment %08u", w->dir, w->seg);
        }
        assert((size_t)n <= len);
        p += n;
        len -= (size_t)n;
        w->seg_bytes += (uint64_t)n;
    }
    return 0;
}

/* Creates segment no with its header; on success w->fd/seg point to it. The
 * old segment (if any) has been fsynced and is closed here. */
static int start_segment(struct scry_wal *w, uint32_t no, struct scry_err *err)
{
    assert(no > w->seg); /* numbers only grow; replay relies on it */
    char path[SCRY__WAL_NAME_MAX];
    int rc = scry__wal_segment_path(path, w->dir, no, err);
    if (rc)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return scry_err_sys(err, SCRY_EIO, "wal: create %s", path);
    int old_fd = w->fd;
    uint32_t old_seg = w->seg;
    uint64_t old_bytes = w->seg_bytes;
    uint8_t h[SCRY_WAL_SEGMENT_HEADER_BYTES];
    scry__wal_segment_header(h);
    pthread_mutex_lock(&w->fd_mu);
    w->fd = fd;
    w->seg = no;
    pthread_mutex_unlock(&w->fd_mu);
    w->seg_bytes = 0;
    rc = write_all(w, h, sizeof h, err);
    if (rc == 0 && w->o.fsync != SCRY_WAL_FSYNC_NEVER)
        rc = scry__wal_fsync_dir(w->dir, err); /* the new name must survive power loss */
    if (rc) {
        pthread_mutex_lock(&w->fd_mu);
        w->fd = old_fd;
        w->seg = old_seg;
        pthread_mutex_unlock(&w->fd_mu);
        w->seg_bytes = old_bytes;
        close(fd);
        unlink(path);
        return rc;
    }
    if (old_fd >= 0)
        close(old_fd);
    return 0;
}

static int rotate(struct scry_wal *w, struct scry_err *err)
{
    assert(w->fd >= 0 && w->seg_bytes >= SCRY_WAL_SEGMENT_HEADER_BYTES);
    if (w->o.fsync != SCRY_WAL_FSYNC_NEVER && do_fsync(w, w->fd) != 0)
        return scry_err_sys(err, SCRY_EIO, "wal %s: fsync segment %08u", w->dir, w->seg);
    return start_segment(w, w->seg + 1, err);
}

/* Undoes a failed batch: deletes segments it created and cuts the first back
 * to where it started. Best effort; the sticky error stands either way. */
static void rollback(struct scry_wal *w, uint32_t seg0, uint64_t bytes0)
{
    char path[SCRY__WAL_NAME_MAX];
    if (w->seg != seg0) {
        int fd = -1;
        for (uint32_t s = w->seg; s > seg0; s--)
            if (scry__wal_segment_path(path, w->dir, s, NULL) == 0)
                unlink(path);
        if (scry__wal_segment_path(path, w->dir, seg0, NULL) == 0)
            fd = open(path, O_WRONLY | O_CLOEXEC);
        pthread_mutex_lock(&w->fd_mu);
        int old = w->fd;
        w->fd = fd;
        w->seg = seg0;
        pthread_mutex_unlock(&w->fd_mu);
        close(old);
    }
    if (w->fd >= 0 && ftruncate(w->fd, (off_t)bytes0) == 0 &&
        lseek(w->fd, (off_t)bytes0, SEEK_SET) >= 0)
        w->seg_bytes = bytes0;
}

/* Writes a batch of framed records, starting a new segment before any
 * record that would take the current one past segment_bytes. */
static int write_batch(struct scry_wal *w, const uint8_t *p, size_t len, struct scry_err *err)
{
    uint32_t seg0 = w->seg;
    uint64_t bytes0 = w->seg_bytes;
    size_t run = 0, i = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        assert(len - i >= SCRY_WAL_RECORD_HEADER_BYTES);
        uint32_t plen;
        memcpy(&plen, p + i + 1, 4);
        size_t rlen = SCRY_WAL_RECORD_HEADER_BYTES + (size_t)plen;
        assert(rlen <= len - i);
        uint64_t at = w->seg_bytes + (i - run);
        if (at + rlen > w->o.segment_bytes && at > SCRY_WAL_SEGMENT_HEADER_BYTES) {
            rc = write_all(w, p + run, i - run, err);
            if (rc == 0)
                rc = rotate(w, err);
            run = i;
        }
        i += rlen;
    }
    if (rc == 0)
        rc = write_all(w, p + run, len - run, err);
    if (rc == 0) {
        __atomic_add_fetch(&w->st.writes, 1, __ATOMIC_RELAXED);
        return 0;
    }
    rollback(w, seg0, bytes0);
    return rc;
}

/* ---- group commit ---- */

static void set_failed(struct scry_wal *w, const struct scry_err *e)
{
    if (w->failed)
        return;
    w->failed = e->code ? e->code : SCRY_EIO;
    w->fail = *e;
}

static int report_failed(struct scry_wal *w, struct scry_err *err)
{
    if (err)
        *err = w->fail;
    return w->failed;
}

/* Called with mu held and io_busy clear; returns with mu held. Writes
 * everything buffered (and fsyncs for ALWAYS) as the leader. */
static void lead_io(struct scry_wal *w)
{
    assert(!w->io_busy && w->spare.len == 0);
    w->io_busy = true;
    struct scry_buf t = w->buf;
    w->buf = w->spare;
    w->spare = t;
    uint64_t end = w->appended_lsn;
    uint32_t seg0 = w->seg;
    uint64_t bytes0 = w->seg_bytes;
    pthread_mutex_unlock(&w->mu);

    struct scry_err e = { 0 };
    int rc = write_batch(w, (const uint8_t *)w->spare.p, w->spare.len, &e);
    if (rc == 0 && w->o.fsync == SCRY_WAL_FSYNC_ALWAYS && do_fsync(w, w->fd) != 0) {
        rc = scry_err_sys(&e, SCRY_EIO, "wal %s: fsync segment %08u", w->dir, w->seg);
        /* Nobody was told these records are durable: take them back off. */
        rollback(w, seg0, bytes0);
    }

    pthread_mutex_lock(&w->mu);
    scry_buf_reset(&w->spare);
    if (rc) {
        set_failed(w, &e);
    } else {
        assert(end >= w->written_lsn);
        w->written_lsn = end;
        if (w->o.fsync == SCRY_WAL_FSYNC_ALWAYS)
            w->synced_lsn = end;
    }
    w->io_busy = false;
    pthread_cond_broadcast(&w->io_done);
}

/* With mu held: makes appended_lsn as of now durable per policy. */
static int commit_locked(struct scry_wal *w, struct scry_err *err)
{
    uint64_t target = w->appended_lsn;
    for (;;) {
        assert(w->synced_lsn <= w->written_lsn && w->written_lsn <= w->appended_lsn);
        if (w->failed)
            return report_failed(w, err);
        uint64_t have = w->o.fsync == SCRY_WAL_FSYNC_ALWAYS ? w->synced_lsn : w->written_lsn;
        if (have >= target)
            return 0;
        if (w->io_busy) {
            pthread_cond_wait(&w->io_done, &w->mu);
            continue;
        }
        assert(w->buf.len > 0); /* not durable, nobody writing: it is buffered */
        lead_io(w);
    }
}

int scry_wal_append(struct scry_wal *w, uint8_t type, const void *payload, size_t len,
                    struct scry_err *err)
{
    if (!w || type == 0 || (len > 0 && !payload))
        return scry_err_set(err, SCRY_EINVAL, "wal append: bad arguments");
    if (len > SCRY_WAL_RECORD_MAX_BYTES)
        return scry_err_set(err, SCRY_ELIMIT, "wal append: record of %zu bytes exceeds %u", len,
                            SCRY_WAL_RECORD_MAX_BYTES);
    uint8_t h[SCRY_WAL_RECORD_HEADER_BYTES];
    /* CRC outside the lock: it is the only per-byte work besides the copy. */
    scry__wal_record_header(h, type, payload, (uint32_t)len);
    pthread_mutex_lock(&w->mu);
    if (w->failed) {
        int rc = report_failed(w, err);
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    scry_buf_reserve(&w->buf, sizeof h + len);
    scry_buf_put(&w->buf, h, sizeof h);
    if (len)
        scry_buf_put(&w->buf, payload, len);
    w->appended_lsn += sizeof h + len;
    w->st.records++;
    w->st.record_bytes += sizeof h + len;
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int scry_wal_commit(struct scry_wal *w, struct scry_err *err)
{
    if (!w)
        return scry_err_set(err, SCRY_EINVAL, "wal commit: no wal");
    pthread_mutex_lock(&w->mu);
    int rc = commit_locked(w, err);
    if (rc == 0)
        w->st.commits++;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* ---- the INTERVAL fsync thread ---- */

static void *syncer_main(void *arg)
{
    struct scry_wal *w = arg;
    /* Ticks on a fixed cadence, not "interval after the last fsync", so a
     * record waits at most one interval plus one fsync to be synced. */
    struct timespec next;
    clock_gettime(CLOCK_REALTIME, &next);
    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        int64_t ns = next.tv_nsec + w->o.fsync_interval_ms * 1000000;
        next.tv_sec += (time_t)(ns / 1000000000);
        next.tv_nsec = (long)(ns % 1000000000);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec > next.tv_sec + 1)
            next = now; /* the clock jumped or we fell far behind: resync */
        while (!w->stopping &&
               pthread_cond_timedwait(&w->syncer_wake, &w->mu, &next) != ETIMEDOUT)
            ;
        if (w->stopping || w->failed || w->synced_lsn >= w->written_lsn)
            continue;
        /* Records up to `upto` are in the segment we dup below or in an
         * older one, which rotation fsynced before starting the next. We
         * do not wait for the leader: under steady load it is always busy
         * and waiting would starve this thread past the 1 s promise. */
        uint64_t upto = w->written_lsn;
        pthread_mutex_unlock(&w->mu);
        pthread_mutex_lock(&w->fd_mu);
        uint32_t seg = w->seg;
        int fd = w->fd >= 0 ? dup(w->fd) : -1;
        pthread_mutex_unlock(&w->fd_mu);
        struct scry_err e = { 0 };
        int rc = 0;
        if (fd < 0 || do_fsync(w, fd) != 0)
            rc = scry_err_sys(&e, SCRY_EIO, "wal %s: background fsync segment %08u", w->dir, seg);
        if (fd >= 0)
            close(fd);
        pthread_mutex_lock(&w->mu);
        if (rc)
            set_failed(w, &e);
        else if (upto > w->synced_lsn)
            w->synced_lsn = upto;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- open / close ---- */

static int check_opts(struct scry_wal_opts *o, struct scry_err *err)
{
    if (o->segment_bytes == 0)
        o->segment_bytes = SCRY_WAL_SEGMENT_DEFAULT_BYTES;
    if (o->fsync_interval_ms == 0)
        o->fsync_interval_ms = 1000;
    if (o->segment_bytes < SCRY_WAL_SEGMENT_MIN_BYTES || o->segment_bytes > (1ull << 40))
        return scry_err_set(err, SCRY_EINVAL, "wal: segment_bytes %llu out of range",
                            (unsigned long long)o->segment_bytes);
    if (o->fsync != SCRY_WAL_FSYNC_ALWAYS && o->fsync != SCRY_WAL_FSYNC_INTERVAL &&
        o->fsync != SCRY_WAL_FSYNC_NEVER)
        return scry_err_set(err, SCRY_EINVAL, "wal: bad fsync policy %d", (int)o->fsync);
    if (o->fsync_interval_ms < 1 || o->fsync_interval_ms > 1000)
        return scry_err_set(err, SCRY_EINVAL, "wal: fsync_interval_ms %lld not in 1..1000",
                            (long long)o->fsync_interval_ms);
    return 0;
}

static int take_lock(struct scry_wal *w, struct scry_err *err)
{
    char path[SCRY__WAL_NAME_MAX];
    if (snprintf(path, sizeof path, "%s/LOCK", w->dir) >= (int)sizeof path)
        return scry_err_set(err, SCRY_EINVAL, "wal: path too long");
    w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (w->lock_fd < 0)
        return scry_err_sys(err, SCRY_EIO, "wal: open %s", path);
    if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return scry_err_set(err, SCRY_EEXIST, "wal %s: already open by another writer",
                                w->dir);
        return scry_err_sys(err, SCRY_EIO, "wal: lock %s", path);
    }
    return 0;
}

/* Repairs the last segment's tail and starts the segment after it and
 * after any checkpoint. */
static int start_after_existing(struct scry_wal *w, struct scry_err *err)
{
    uint32_t *segs = NULL, cp = 0;
    size_t n = 0;
    int rc = scry_wal_segments(w->dir, &segs, &n, err);
    if (rc == 0)
        rc = scry__wal_last_checkpoint(w->dir, &cp, err);
    uint32_t last = n ? segs[n - 1] : 0;
    w->first_seg = n ? segs[0] : cp + 1;
    free(segs);
    if (rc)
        return rc;
    if (n) {
        char path[SCRY__WAL_NAME_MAX];
        uint64_t torn = 0;
        rc = scry__wal_segment_path(path, w->dir, last, err);
        if (rc == 0)
            rc = scry__wal_repair_tail(path, &torn, err);
        if (rc)
            return rc;
    }
    uint32_t next = (last > cp ? last : cp) + 1;
    if (next == 0)
        return scry_err_set(err, SCRY_ELIMIT, "wal %s: segment numbers exhausted", w->dir);
    if (!n)
        w->first_seg = next;
    return start_segment(w, next, err);
}

int scry_wal_open(struct scry_wal **out, const char *dir, const struct scry_wal_opts *opts,
                  struct scry_err *err)
{
    if (!out || !dir || !*dir)
        return scry_err_set(err, SCRY_EINVAL, "wal open: bad arguments");
    struct scry_wal_opts o = opts ? *opts : (struct scry_wal_opts){ 0 };
    int rc = check_opts(&o, err);
    if (rc)
        return rc;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return scry_err_sys(err, SCRY_EIO, "wal: mkdir %s", dir);

    struct scry_wal *w = scry_calloc(1, sizeof *w);
    w->dir = scry_strdup(dir);
    w->o = o;
    w->fd = -1;
    w->lock_fd = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->fd_mu, NULL);
    pthread_cond_init(&w->io_done, NULL);
    pthread_cond_init(&w->syncer_wake, NULL);
    rc = take_lock(w, err);
    if (rc == 0)
        rc = start_after_existing(w, err);
    if (rc == 0 && o.fsync == SCRY_WAL_FSYNC_INTERVAL) {
        if (pthread_create(&w->syncer, NULL, syncer_main, w) != 0)
            rc = scry_err_set(err, SCRY_EIO, "wal: cannot start the fsync thread");
        else
            w->syncer_started = true;
    }
    if (rc) {
        scry_wal_close(w, NULL);
        return rc;
    }
    *out = w;
    return 0;
}

int scry_wal_close(struct scry_wal *w, struct scry_err *err)
{
    if (!w)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    if (w->fd >= 0) {
        rc = commit_locked(w, err);
        while (w->io_busy)
            pthread_cond_wait(&w->io_done, &w->mu);
        if (rc == 0 && w->o.fsync != SCRY_WAL_FSYNC_NEVER && w->synced_lsn < w->written_lsn &&
            do_fsync(w, w->fd) != 0)
            rc = scry_err_sys(err, SCRY_EIO, "wal %s: fsync on close", w->dir);
    }
    w->stopping = true;
    pthread_cond_broadcast(&w->syncer_wake);
    pthread_cond_broadcast(&w->io_done);
    pthread_mutex_unlock(&w->mu);
    if (w->syncer_started)
        pthread_join(w->syncer, NULL);
    if (w->fd >= 0)
        close(w->fd);
    if (w->lock_fd >= 0)
        close(w->lock_fd); /* releases the flock */
    pthread_cond_destroy(&w->syncer_wake);
    pthread_cond_destroy(&w->io_done);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->fd_mu);
    scry_buf_fini(&w->buf);
    scry_buf_fini(&w->spare);
    free(w->dir);
    free(w);
    return rc;
}

/* ---- cut, truncate, stats ---- */

int scry_wal_cut(struct scry_wal *w, uint32_t *closed, struct scry_err *err)
{
    if (!w)
        return scry_err_set(err, SCRY_EINVAL, "wal cut: no wal");
    pthread_mutex_lock(&w->mu);
    int rc = commit_locked(w, err);
    while (rc == 0 && w->io_busy) {
        pthread_cond_wait(&w->io_done, &w->mu);
        rc = commit_locked(w, err);
    }
    if (rc == 0) {
        /* Rotating under mu: no leader is active (io_busy is clear) and none
         * can start, and the syncer needs mu to dup fd. Rare, so fine. */
        uint32_t seg = w->seg;
        struct scry_err e = { 0 };
        rc = rotate(w, &e);
        if (rc) {
            set_failed(w, &e);
            rc = report_failed(w, err);
        } else {
            if (w->o.fsync != SCRY_WAL_FSYNC_NEVER) /* rotate fsynced it all */
                w->synced_lsn = w->written_lsn;
            if (closed)
                *closed = seg;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int scry_wal_truncate_before(struct scry_wal *w, uint32_t segment, struct scry_err *err)
{
    if (!w)
        return scry_err_set(err, SCRY_EINVAL, "wal truncate: no wal");
    uint32_t *segs = NULL;
    size_t n = 0;
    int rc = scry_wal_segments(w->dir, &segs, &n, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&w->fd_mu);
    uint32_t cur = w->seg;
    pthread_mutex_unlock(&w->fd_mu);
    uint32_t first = cur;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[SCRY__WAL_NAME_MAX];
        if (segs[i] >= segment || segs[i] >= cur) {
            first = segs[i] < first ? segs[i] : first;
            continue;
        }
        rc = scry__wal_segment_path(path, w->dir, segs[i], err);
        if (rc == 0 && unlink(path) != 0 && errno != ENOENT)
            rc = scry_err_sys(err, SCRY_EIO, "wal: delete %s", path);
    }
    free(segs);
    pthread_mutex_lock(&w->mu);
    if (rc == 0)
        w->first_seg = first;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void scry_wal_stats(struct scry_wal *w, struct scry_wal_stats *out)
{
    assert(w && out);
    pthread_mutex_lock(&w->mu);
    out->records = w->st.records;
    out->record_bytes = w->st.record_bytes;
    out->commits = w->st.commits;
    /* Counted outside mu by the leader and the syncer. */
    out->fsyncs = __atomic_load_n(&w->st.fsyncs, __ATOMIC_RELAXED);
    out->writes = __atomic_load_n(&w->st.writes, __ATOMIC_RELAXED);
    pthread_mutex_lock(&w->fd_mu);
    out->segment = w->seg;
    pthread_mutex_unlock(&w->fd_mu);
    out->first_segment = w->first_seg;
    pthread_mutex_unlock(&w->mu);
}
