/* wal_checkpoint.c — writing checkpoint.N: the records a caller keeps from
 * segments <= N, in the same segment format.
 *
 * Core does not know which records matter (tsdb keeps SERIES of live series
 * and recent SAMPLES; the log store will keep other things), so the caller
 * reads the old WAL with scry_wal_replay(last_segment = N) and appends what
 * it keeps. Atomicity comes from the file system: everything is written and
 * fsynced under checkpoint.N.tmp, renamed, and the parent fsynced, so replay
 * sees the old checkpoint or the new one, never half of one. */
#include "core/wal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/wal_internal.h"

/* Batches of this size go to write(2); a checkpoint is written once, so
 * bigger buffers buy nothing. */
#define FLUSH_BYTES (1u << 20)

struct scry_wal_checkpoint {
    char *dir;
    char tmp[SCRY__WAL_NAME_MAX], final[SCRY__WAL_NAME_MAX];
    uint32_t upto, seg;
    int fd;
    uint64_t seg_bytes;
    struct scry_buf buf;
};

static int flush(struct scry_wal_checkpoint *cp, struct scry_err *err)
{
    assert(cp->fd >= 0);
    const char *p = cp->buf.p;
    size_t len = cp->buf.len;
    while (len > 0) {
        ssize_t n = write(cp->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return scry_err_sys(err, SCRY_EIO, "wal checkpoint %s: write", cp->tmp);
        p += n;
        len -= (size_t)n;
    }
    cp->seg_bytes += cp->buf.len;
    scry_buf_reset(&cp->buf);
    return 0;
}

/* Closes the current checkpoint segment (fsynced) and opens the next. */
static int next_segment(struct scry_wal_checkpoint *cp, struct scry_err *err)
{
    if (cp->fd >= 0) {
        int rc = flush(cp, err);
        if (rc)
            return rc;
        if (fsync(cp->fd) != 0)
            return scry_err_sys(err, SCRY_EIO, "wal checkpoint %s: fsync", cp->tmp);
        close(cp->fd);
        cp->fd = -1;
        cp->seg++;
    }
    char path[SCRY__WAL_NAME_MAX];
    int rc = scry__wal_segment_path(path, cp->tmp, cp->seg, err);
    if (rc)
        return rc;
    cp->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (cp->fd < 0)
        return scry_err_sys(err, SCRY_EIO, "wal checkpoint: create %s", path);
    uint8_t h[SCRY_WAL_SEGMENT_HEADER_BYTES];
    scry__wal_segment_header(h);
    cp->seg_bytes = 0;
    scry_buf_put(&cp->buf, h, sizeof h);
    return 0;
}

/* Deletes leftovers of interrupted checkpoints; refuses if one at or past
 * upto already exists (the caller lost track). */
static int prepare_dir(const char *dir, uint32_t upto, struct scry_err *err)
{
    uint32_t last;
    int rc = scry__wal_last_checkpoint(dir, &last, err);
    if (rc)
        return rc;
    if (last >= upto)
        return scry_err_set(err, SCRY_EEXIST, "wal %s: checkpoint %08u already exists", dir, last);
    char tmp[SCRY__WAL_NAME_MAX];
    snprintf(tmp, sizeof tmp, "%s/checkpoint.%08u.tmp", dir, upto);
    return scry__wal_remove_dir(tmp, err);
}

int scry_wal_checkpoint_begin(struct scry_wal_checkpoint **out, const char *dir, uint32_t upto,
                              struct scry_err *err)
{
    if (!out || !dir || upto == 0)
        return scry_err_set(err, SCRY_EINVAL, "wal checkpoint: bad arguments");
    if (strlen(dir) + 40 > SCRY__WAL_NAME_MAX)
        return scry_err_set(err, SCRY_EINVAL, "wal checkpoint: path too long");
    int rc = prepare_dir(dir, upto, err);
    if (rc)
        return rc;
    struct scry_wal_checkpoint *cp = scry_calloc(1, sizeof *cp);
    cp->dir = scry_strdup(dir);
    cp->upto = upto;
    cp->fd = -1;
    snprintf(cp->tmp, sizeof cp->tmp, "%s/checkpoint.%08u.tmp", dir, upto);
    snprintf(cp->final, sizeof cp->final, "%s/checkpoint.%08u", dir, upto);
    if (mkdir(cp->tmp, 0755) != 0)
        rc = scry_err_sys(err, SCRY_EIO, "wal checkpoint: mkdir %s", cp->tmp);
    if (rc == 0)
        rc = next_segment(cp, err);
    if (rc) {
        scry_wal_checkpoint_rollback(cp);
        return rc;
    }
    *out = cp;
    return 0;
}

int scry_wal_checkpoint_append(struct scry_wal_checkpoint *cp, uint8_t type, const void *payload,
                               size_t len, struct scry_err *err)
{
    if (!cp || type == 0 || (len && !payload))
        return scry_err_set(err, SCRY_EINVAL, "wal checkpoint append: bad arguments");
    if (len > SCRY_WAL_RECORD_MAX_BYTES)
        return scry_err_set(err, SCRY_ELIMIT, "wal checkpoint append: record too big");
    uint64_t at = cp->seg_bytes + cp->buf.len;
    size_t rlen = SCRY_WAL_RECORD_HEADER_BYTES + len;
    int rc = 0;
    if (at + rlen > SCRY_WAL_SEGMENT_DEFAULT_BYTES && at > SCRY_WAL_SEGMENT_HEADER_BYTES)
        rc = next_segment(cp, err);
    if (rc)
        return rc;
    assert(cp->fd >= 0 && cp->upto > 0);
    uint8_t h[SCRY_WAL_RECORD_HEADER_BYTES];
    scry__wal_record_header(h, type, payload, (uint32_t)len);
    scry_buf_put(&cp->buf, h, sizeof h);
    if (len)
        scry_buf_put(&cp->buf, payload, len);
    return cp->buf.len >= FLUSH_BYTES ? flush(cp, err) : 0;
}

/* Only the newest checkpoint counts; older ones are dead weight. Failure to
 * delete them is harmless (the next checkpoint retries), so it is ignored. */
static void delete_older(struct scry_wal_checkpoint *cp)
{
    uint32_t *cps = NULL;
    size_t n = 0;
    char path[SCRY__WAL_NAME_MAX];
    if (scry__wal_list(cp->dir, true, &cps, &n, NULL) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (cps[i] >= cp->upto)
            continue;
        snprintf(path, sizeof path, "%s/checkpoint.%08u", cp->dir, cps[i]);
        scry__wal_remove_dir(path, NULL);
    }
    free(cps);
}

int scry_wal_checkpoint_commit(struct scry_wal_checkpoint *cp, struct scry_err *err)
{
    if (!cp)
        return scry_err_set(err, SCRY_EINVAL, "wal checkpoint commit: no checkpoint");
    int rc = flush(cp, err);
    if (rc == 0 && fsync(cp->fd) != 0)
        rc = scry_err_sys(err, SCRY_EIO, "wal checkpoint %s: fsync", cp->tmp);
    if (rc == 0)
        rc = scry__wal_fsync_dir(cp->tmp, err);
    if (rc == 0 && rename(cp->tmp, cp->final) != 0)
        rc = scry_err_sys(err, SCRY_EIO, "wal checkpoint: rename %s", cp->tmp);
    if (rc == 0)
        rc = scry__wal_fsync_dir(cp->dir, err);
    if (rc) {
        scry_wal_checkpoint_rollback(cp);
        return rc;
    }
    delete_older(cp);
    close(cp->fd);
    scry_buf_fini(&cp->buf);
    free(cp->dir);
    free(cp);
    return 0;
}

void scry_wal_checkpoint_rollback(struct scry_wal_checkpoint *cp)
{
    if (!cp)
        return;
    if (cp->fd >= 0)
        close(cp->fd);
    scry__wal_remove_dir(cp->tmp, NULL);
    scry_buf_fini(&cp->buf);
    free(cp->dir);
    free(cp);
}
