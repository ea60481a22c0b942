/* loki_spool.c — the agent's log spool: one batch in flight, on disk.
 *
 * The forwarder writes the batch it is about to send (the pushes, already
 * protobuf, with the timestamps the tailer gave the lines) and the tail
 * positions the batch advances to, before the first byte goes out. After a
 * kill -9, the next start resends exactly these bytes (the server ignores
 * what it already holds) and then moves the positions; reading the files
 * again could not reproduce a batch whose file was truncated meanwhile.
 *
 * Layout (little-endian), collector/README.md "Agent: log forwarding":
 *
 *     0   8  magic "SCRYLSP1"
 *     8   4  n_pos
 *     12  4  n_push
 *     16  8  body_len: bytes from 24 to the CRC
 *     24     n_pos x { u64 dev | u64 ino | u64 fp | i64 fp_len | i64 off |
 *                      i64 next_t_ns | i64 last_t_ns | u8 pinned |
 *                      u32 path_len | path }
 *            n_push x { u32 len | len bytes: PushRequest, not compressed }
 *     24+body_len  4  crc32c of everything before it
 *
 * The file is written beside its name and renamed after an fsync, so a
 * crash leaves the old spool or the new one; the CRC and exact lengths
 * still reject a torn or damaged file (SCRY_ECORRUPT), which the caller
 * deletes: nothing of a batch is sent before its spool is complete. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/loki_send.h"
#include "core/crc32c.h"
#include "core/mem.h"

#define MAGIC "SCRYLSP1"
#define HEADER_BYTES 24
#define POS_FIXED_BYTES 61
#define MAX_PATH_BYTES 4096

static void put32(struct scry_buf *b, uint32_t v)
{
    unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24) };
    scry_buf_put(b, x, 4);
}

static void put64(struct scry_buf *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static uint32_t get32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static uint64_t get64(const char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *path)
{
    char *copy = scry_strdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int col_loki_spool_write(const char *path, const struct col_tail_position *pos, size_t n_pos,
                         const char *pushes, size_t pushes_len, uint32_t n_push,
                         struct scry_err *err)
{
    assert(n_pos <= UINT32_MAX && (pushes_len == 0 || pushes));
    struct scry_buf b = { 0 };
    scry_buf_put(&b, MAGIC, 8);
    put32(&b, (uint32_t)n_pos);
    put32(&b, n_push);
    put64(&b, 0); /* body_len, patched below */
    for (size_t i = 0; i < n_pos; i++) {
        const struct col_tail_position *p = &pos[i];
        size_t pl = p->path ? strlen(p->path) : 0;
        if (pl > MAX_PATH_BYTES)
            pl = MAX_PATH_BYTES; /* PATH_MAX is 4096 on Linux: cannot happen */
        put64(&b, p->dev);
        put64(&b, p->ino);
        put64(&b, p->fp);
        put64(&b, (uint64_t)p->fp_len);
        put64(&b, (uint64_t)p->off);
        put64(&b, (uint64_t)p->next_t_ns);
        put64(&b, (uint64_t)p->last_t_ns);
        scry_buf_putc(&b, p->pinned ? 1 : 0);
        put32(&b, (uint32_t)pl);
        if (pl)
            scry_buf_put(&b, p->path, pl);
    }
    if (pushes_len)
        scry_buf_put(&b, pushes, pushes_len);
    uint64_t body = b.len - HEADER_BYTES;
    for (int i = 0; i < 8; i++)
        b.p[16 + i] = (char)(body >> (8 * i));
    put32(&b, scry_crc32c(0, b.p, b.len));

    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = scry_err_sys(err, SCRY_EIO, "spool %s: open", tmp);
    } else {
        if (write_all(fd, b.p, b.len) != 0 || fsync(fd) != 0)
            rc = scry_err_sys(err, SCRY_EIO, "spool %s: write", tmp);
        close(fd);
        if (rc == 0 && rename(tmp, path) != 0)
            rc = scry_err_sys(err, SCRY_EIO, "spool %s: rename", path);
        if (rc == 0 && fsync_dir(path) != 0)
            rc = scry_err_sys(err, SCRY_EIO, "spool %s: fsync of the folder", path);
    }
    scry_buf_fini(&b);
    return rc;
}

static int corrupt(struct scry_err *err, size_t off, const char *what)
{
    int rc = scry_err_set(err, SCRY_ECORRUPT, "spool: byte %zu: %s", off, what);
    if (err)
        err->offset = off;
    return rc;
}

static int parse_positions(const char *p, size_t end, size_t *at, struct col_loki_spool *out,
                           struct scry_err *err)
{
    size_t o = *at, strs = 0;
    /* First pass: bounds and the room the NUL-terminated paths need. */
    for (size_t i = 0; i < out->n_pos; i++) {
        if (end - o < POS_FIXED_BYTES)
            return corrupt(err, o, "position cut short");
        if ((unsigned char)p[o + 56] > 1)
            return corrupt(err, o + 56, "pinned is not 0 or 1");
        uint32_t pl = get32(p + o + 57);
        if (pl > MAX_PATH_BYTES || end - o - POS_FIXED_BYTES < pl)
            return corrupt(err, o + 57, "path length out of range");
        o += POS_FIXED_BYTES + pl;
        strs += pl + 1;
    }
    out->pos = scry_calloc(out->n_pos ? out->n_pos : 1, sizeof *out->pos);
    char *s = out->strs = scry_malloc(strs ? strs : 1);
    o = *at;
    for (size_t i = 0; i < out->n_pos; i++) {
        struct col_tail_position *q = &out->pos[i];
        q->dev = get64(p + o);
        q->ino = get64(p + o + 8);
        q->fp = get64(p + o + 16);
        q->fp_len = (int64_t)get64(p + o + 24);
        q->off = (int64_t)get64(p + o + 32);
        q->next_t_ns = (int64_t)get64(p + o + 40);
        q->last_t_ns = (int64_t)get64(p + o + 48);
        q->pinned = p[o + 56] != 0;
        uint32_t pl = get32(p + o + 57);
        memcpy(s, p + o + POS_FIXED_BYTES, pl);
        s[pl] = 0;
        q->path = s;
        s += pl + 1;
        o += POS_FIXED_BYTES + pl;
    }
    *at = o;
    return 0;
}

int col_loki_spool_parse(const char *p, size_t len, struct col_loki_spool *out,
                         struct scry_err *err)
{
    *out = (struct col_loki_spool){ 0 };
    if (len < HEADER_BYTES + 4)
        return corrupt(err, len, "shorter than a header");
    if (memcmp(p, MAGIC, 8) != 0)
        return corrupt(err, 0, "bad magic");
    uint64_t body = get64(p + 16);
    if (body != len - HEADER_BYTES - 4)
        return corrupt(err, 16, "body length does not match the file size (torn write)");
    if (scry_crc32c(0, p, len - 4) != get32(p + len - 4))
        return corrupt(err, len - 4, "crc mismatch");
    size_t end = len - 4, o = HEADER_BYTES;
    assert(end >= o);
    out->n_pos = get32(p + 8);
    out->n_push = get32(p + 12);
    /* Counts bounded by what the body could hold, before allocating. */
    if (out->n_pos > (end - o) / POS_FIXED_BYTES || out->n_push > (end - o) / 4) {
        out->n_pos = out->n_push = 0;
        return corrupt(err, 8, "counts larger than the body");
    }
    int rc = parse_positions(p, end, &o, out, err);
    if (rc != 0) {
        col_loki_spool_fini(out);
        return rc;
    }
    out->push = scry_calloc(out->n_push ? out->n_push : 1, sizeof *out->push);
    for (size_t i = 0; i < out->n_push; i++) {
        if (end - o < 4 || end - o - 4 < get32(p + o)) {
            rc = corrupt(err, o, "push cut short");
            col_loki_spool_fini(out);
            return rc;
        }
        out->push[i] = (struct scry_str){ p + o + 4, get32(p + o) };
        o += 4 + out->push[i].len;
    }
    if (o != end) {
        rc = corrupt(err, o, "bytes after the last push");
        col_loki_spool_fini(out);
        return rc;
    }
    return 0;
}

int col_loki_spool_read(const char *path, struct col_loki_spool *out, struct scry_err *err)
{
    *out = (struct col_loki_spool){ 0 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return SCRY_ENOTFOUND;
        return scry_err_sys(err, SCRY_EIO, "spool %s: open", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return scry_err_sys(err, SCRY_EIO, "spool %s: stat", path);
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *buf = scry_malloc(len ? len : 1);
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int rc = col_loki_spool_parse(buf, got, out, err);
    if (rc != 0) {
        free(buf);
        scry_err_prefix(err, "%s", path);
        return rc;
    }
    out->buf = buf;
    return 0;
}

void col_loki_spool_fini(struct col_loki_spool *s)
{
    free(s->pos);
    free(s->strs);
    free(s->push);
    free(s->buf);
    *s = (struct col_loki_spool){ 0 };
}
