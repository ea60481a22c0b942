/* tail_file.c — one tailed file: identity, labels, reading.
 *
 * Identity is (dev, inode) plus a fingerprint of the first bytes. The
 * inode follows a file through a rename (rotation), and the fingerprint
 * tells a file rewritten in place (copytruncate, then new lines longer than
 * our offset by the time we look) or a reused inode from the file we were
 * reading. Reads use pread at our own offset, so an open descriptor keeps
 * draining a renamed or deleted file until it stops growing. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/relabel.h"
#include "collector/tail_internal.h"
#include "core/mem.h"

/* Bytes read per file per round: bounds a round's memory and latency when
 * a big backlog is read (first start, catching up after downtime). */
#define READ_CAP_BYTES (4u << 20)

int64_t col__tail_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t col__tail_now_ms(void)
{
    return col__tail_now_ns() / 1000000;
}

int col_tail_fingerprint(int fd, int64_t n, uint64_t *fp, struct scry_err *err)
{
    char b[COL_TAIL_FP_BYTES];
    if (n < 0 || n > COL_TAIL_FP_BYTES)
        return scry_err_set(err, SCRY_EINVAL, "fingerprint of %lld bytes", (long long)n);
    size_t got = 0;
    while (got < (size_t)n) {
        ssize_t r = pread(fd, b + got, (size_t)n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return scry_err_sys(err, SCRY_EIO, "fingerprint: read");
        if (r == 0)
            return scry_err_set(err, SCRY_ENOTFOUND, "file has fewer than %lld bytes",
                                (long long)n);
        got += (size_t)r;
    }
    *fp = scry_xxh64(b, (size_t)n, 0);
    return 0;
}

/* An exclude glob with a '/' matches the whole path; one without matches
 * the file name, so `exclude: ["*.gz"]` does what it says. */
static bool exclude_match(const char *pattern, const char *path)
{
    if (strchr(pattern, '/'))
        return fnmatch(pattern, path, FNM_PATHNAME) == 0;
    const char *base = strrchr(path, '/');
    return fnmatch(pattern, base ? base + 1 : path, 0) == 0;
}

int col__tail_match(const struct scry_config *cfg, const char *path)
{
    for (size_t i = 0; cfg && i < cfg->n_logs; i++) {
        const struct scry_logs_config *l = &cfg->logs[i];
        bool in = false;
        for (size_t k = 0; k < l->n_paths && !in; k++)
            in = fnmatch(l->paths[k], path, FNM_PATHNAME) == 0;
        for (size_t k = 0; k < l->n_exclude && in; k++)
            in = !exclude_match(l->exclude[k], path);
        if (in)
            return (int)i;
    }
    return -1;
}

/* Static labels, filename and __path__, then relabel_configs; labels that
 * start with "__" are internal and dropped afterwards (Promtail's rule). */
bool col__tail_file_label(struct col_tail_manager *m, struct col__tail_file *f)
{
    const struct scry_logs_config *l = &m->cfg->logs[f->cfg_idx];
    scry_arena_destroy(f->a);
    f->a = scry_arena_create(1024);
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, f->a);
    scry_labels_builder_reset(&b, &l->labels);
    scry_labels_builder_set(&b, "filename", f->path);
    scry_labels_builder_set(&b, "__path__", f->path);
    bool keep = true;
    col_relabel(l->relabel_configs, l->n_relabel_configs, &b, &keep);
    if (!keep)
        return false;
    struct scry_labels ls = scry_labels_builder_labels(&b);
    for (size_t i = 0; i < ls.n; i++)
        if (!strncmp(ls.v[i].name, "__", 2))
            scry_labels_builder_del(&b, ls.v[i].name);
    f->labels = scry_labels_builder_labels(&b);
    struct scry_err err = { 0 };
    if (f->labels.n == 0 || scry_labels_validate(&f->labels, &err) != 0) {
        SCRY_LOG(m->o.log, SCRY_LOG_WARN, "tail", "file not tailed: invalid stream labels",
                 "path", f->path, "err", f->labels.n ? err.msg : "no labels left");
        return false;
    }
    f->lhash = scry_labels_hash(&f->labels);
    f->ref = 0;
    return true;
}

void col__tail_file_retarget(struct col_tail_manager *m, struct col__tail_file *f)
{
    const struct scry_logs_config *l = &m->cfg->logs[f->cfg_idx];
    struct col_tail_lines *ln = &f->lines;
    if (ln->md)
        pcre2_match_data_free(ln->md);
    ln->md = NULL;
    ln->firstline_re = (size_t)f->cfg_idx < m->n_firstline ? m->firstline[f->cfg_idx] : NULL;
    if (ln->firstline_re)
        ln->md = pcre2_match_data_create_from_pattern((const pcre2_code *)ln->firstline_re, NULL);
    ln->max_bytes = l->max_line_bytes < 4 ? 4 : (size_t)l->max_line_bytes;
}

void col__tail_file_close(struct col__tail_file *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    col_tail_lines_fini(&f->lines);
    scry_arena_destroy(f->a);
    scry_buf_fini(&f->rb);
    free(f->recs);
    free(f->path);
    free(f);
}

void col__tail_file_pos(const struct col__tail_file *f, struct col__tail_pos *p)
{
    *p = (struct col__tail_pos){ f->dev, f->ino, f->path, f->fp, f->fp_len, f->ck_off,
                                 f->next_t_ns, f->pinned, f->last_t_ns };
}

/* Starts over at offset 0 with a fresh timestamp: the file was truncated
 * or replaced under the same inode. */
static void restart(struct col_tail_manager *m, struct col__tail_file *f, const char *why)
{
    SCRY_LOG(m->o.log, SCRY_LOG_INFO, "tail", "file truncated or replaced; reading from the start",
             "path", f->path, "why", why);
    scry_metric_inc(m->met.rot_truncate);
    col_tail_lines_reset(&f->lines, 0);
    f->ck_off = 0;
    f->pinned = false;
    f->fp = 0;
    f->fp_len = 0;
}

/* Re-checks identity when the size moved, and extends the fingerprint
 * while the file is shorter than COL_TAIL_FP_BYTES. */
static void check_identity(struct col_tail_manager *m, struct col__tail_file *f, int64_t size)
{
    struct scry_err err = { 0 };
    if (size < f->lines.off) {
        restart(m, f, "size below offset");
    } else if (size != f->size_seen && f->fp_len > 0) {
        uint64_t fp;
        if (col_tail_fingerprint(f->fd, f->fp_len, &fp, &err) != 0 || fp != f->fp)
            restart(m, f, "first bytes changed");
    }
    if (f->fp_len < COL_TAIL_FP_BYTES && size > f->fp_len) {
        int64_t n = size < COL_TAIL_FP_BYTES ? size : COL_TAIL_FP_BYTES;
        uint64_t fp;
        if (col_tail_fingerprint(f->fd, n, &fp, &err) == 0) {
            f->fp = fp;
            f->fp_len = n;
        }
    }
    f->size_seen = size;
}

static void on_record(void *ud, const struct col_tail_record *r)
{
    struct col__tail_file *f = ud;
    if (f->n_recs == f->cap_recs) {
        f->cap_recs = f->cap_recs ? f->cap_recs * 2 : 64;
        f->recs = scry_realloc(f->recs, f->cap_recs * sizeof *f->recs);
    }
    f->recs[f->n_recs++] = (struct col__tail_rec){ 0, f->rb.len, r->len, r->truncated, r->end_off };
    scry_buf_put(&f->rb, r->p, r->len);
}

void col__tail_file_read(struct col_tail_manager *m, struct col__tail_file *f, int64_t now_ms)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0) {
        scry_metric_inc(m->met.errors);
        return;
    }
    if (st.st_nlink == 0 && !f->gone) {
        f->gone = true; /* deleted: what is left is drained, then dropped */
        SCRY_LOG(m->o.log, SCRY_LOG_INFO, "tail", "file deleted; draining", "path", f->path);
    }
    check_identity(m, f, (int64_t)st.st_size);
    char *buf = m->rbuf; /* READ_CHUNK bytes; only the manager's thread reads */
    size_t total = 0;
    while (f->lines.off < (int64_t)st.st_size && total < READ_CAP_BYTES) {
        ssize_t r = pread(f->fd, buf, COL__TAIL_READ_CHUNK, (off_t)f->lines.off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0)
                scry_metric_inc(m->met.errors);
            break;
        }
        col_tail_lines_feed(&f->lines, buf, (size_t)r, on_record, f);
        total += (size_t)r;
    }
    f->at_eof = f->lines.off >= (int64_t)st.st_size;
    if (total > 0) {
        f->last_growth_ms = now_ms;
        scry_metric_add(m->met.bytes, (double)total);
    }
    /* A partial last line waits for its newline, except in a file that
     * nobody writes any more; an open multiline record waits for the next
     * first line, but not for ever. */
    bool idle = f->at_eof && now_ms - f->last_growth_ms >= m->o.idle_flush_ms;
    if (idle && col_tail_lines_pending(&f->lines))
        col_tail_lines_flush(&f->lines, f->gone, on_record, f);
}

void col__tail_file_rewind(struct col__tail_file *f)
{
    col_tail_lines_reset(&f->lines, f->ck_off);
    f->at_eof = false; /* what was read is not stored: not done, not droppable */
    f->n_recs = 0;
    scry_buf_reset(&f->rb);
}

struct col__tail_file *col__tail_file_open(struct col_tail_manager *m, const char *path,
                                           int cfg_idx)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct col__tail_file *f = scry_calloc(1, sizeof *f);
    f->fd = fd;
    f->path = scry_strdup(path);
    f->dev = (uint64_t)st.st_dev;
    f->ino = (uint64_t)st.st_ino;
    f->cfg_idx = cfg_idx;
    f->last_growth_ms = col__tail_now_ms();
    col_tail_lines_init(&f->lines, 4, NULL, 0);
    if (!col__tail_file_label(m, f)) {
        col__tail_file_close(f);
        return NULL;
    }
    col__tail_file_retarget(m, f);

    /* Resume from the checkpoint when the first bytes still match it; a
     * new file (or a replaced one) starts at 0, like Promtail. */
    struct col__tail_pos p;
    struct scry_err err = { 0 };
    int rc = col__tail_db_get(m->cat, f->dev, f->ino, &p, NULL, &err);
    if (rc == 0) {
        f->last_t_ns = p.last_t_ns; /* keeps the stream's timestamps rising */
        uint64_t fp = 0;
        bool same = p.fp_len == 0 ||
                    (col_tail_fingerprint(fd, p.fp_len, &fp, &err) == 0 && fp == p.fp);
        if (same && p.off <= (int64_t)st.st_size) {
            f->ck_off = p.off;
            f->next_t_ns = p.next_t_ns;
            f->pinned = p.pinned;
            f->fp = p.fp;
            f->fp_len = p.fp_len;
            col_tail_lines_reset(&f->lines, p.off);
        }
    } else if (rc != SCRY_ENOTFOUND) {
        SCRY_LOG(m->o.log, SCRY_LOG_ERROR, "tail", "cannot read the checkpoint", "path", path,
                 "err", err.msg);
        scry_metric_inc(m->met.errors);
    }
    f->size_seen = -1;
    return f;
}
