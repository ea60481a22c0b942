/* tail_manager.c — the tail manager's thread: config, globs, inotify.
 *
 * One thread does everything (file I/O, the appender, the catalog), so a
 * round is a simple sequence and its catalog handle is its own. It wakes on
 * inotify events (IN_MODIFY, IN_CREATE, IN_MOVED_FROM/TO, IN_DELETE on the
 * directories the globs name) or after poll_ms, the polling fallback when
 * inotify is unavailable or out of watches (and a safety net otherwise: a
 * round is a cheap fstat per file when nothing changed). After a round that
 * committed, it waits min_round_ms, so a busy writer costs at most a few
 * commits per second instead of one per write.
 *
 * Globs are expanded every rescan_ms and on directory events. A file is
 * tracked by (dev, inode): the same inode at a new name is the same file; a
 * tracked inode that no matched name points at any more was rotated away or
 * deleted, and is drained to its end, then dropped with its checkpoint once
 * it has been idle for idle_flush_ms. Files present at the first start are
 * read from their beginning (new files too), as Promtail does. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <pcre2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/tail_internal.h"
#include "core/mem.h"

/* ---- the file list ---------------------------------------------------- */

static struct col__tail_file *find(struct col_tail_manager *m, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < m->n_files; i++)
        if (m->files[i]->dev == dev && m->files[i]->ino == ino)
            return m->files[i];
    return NULL;
}

static void insert(struct col_tail_manager *m, struct col__tail_file *f, bool front)
{
    if (m->n_files == m->cap_files) {
        m->cap_files = m->cap_files ? m->cap_files * 2 : 16;
        m->files = scry_realloc(m->files, m->cap_files * sizeof *m->files);
    }
    if (front) {
        memmove(m->files + 1, m->files, m->n_files * sizeof *m->files);
        m->files[0] = f;
    } else {
        m->files[m->n_files] = f;
    }
    m->n_files++;
}

static void remove_at(struct col_tail_manager *m, size_t i)
{
    col__tail_file_close(m->files[i]);
    memmove(m->files + i, m->files + i + 1, (m->n_files - i - 1) * sizeof *m->files);
    m->n_files--;
}

/* ---- inotify ---------------------------------------------------------- */

static void inotify_off(struct col_tail_manager *m, const char *why)
{
    if (m->ifd < 0)
        return;
    close(m->ifd);
    m->ifd = -1;
    SCRY_LOG(m->o.log, SCRY_LOG_WARN, "tail", "inotify unavailable; polling", "why", why);
}

static void watch_dir(struct col_tail_manager *m, const char *dir)
{
    uint32_t mask = IN_MODIFY | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE |
                    IN_CLOSE_WRITE | IN_ONLYDIR;
    if (m->ifd >= 0 && inotify_add_watch(m->ifd, dir, mask) < 0 && errno == ENOSPC)
        inotify_off(m, "out of inotify watches");
}

/* Watches the directory part of pattern (itself a glob, possibly). */
static void watch_pattern(struct col_tail_manager *m, const char *pattern)
{
    const char *slash = strrchr(pattern, '/');
    if (m->ifd < 0 || !slash)
        return;
    char *dir = scry_strdup(pattern);
    dir[slash == pattern ? 1 : slash - pattern] = '\0';
    if (!strpbrk(dir, "*?[")) {
        watch_dir(m, dir);
    } else {
        glob_t g;
        if (glob(dir, GLOB_ONLYDIR | GLOB_NOSORT, NULL, &g) == 0)
            for (size_t i = 0; i < g.gl_pathc; i++)
                watch_dir(m, g.gl_pathv[i]);
        globfree(&g);
    }
    free(dir);
}

/* Drains the events; returns whether a directory changed (a rescan). */
static bool drain_inotify(struct col_tail_manager *m)
{
    bool rescan = false;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(m->ifd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->mask & (IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_Q_OVERFLOW))
                rescan = true;
            p += sizeof *ev + ev->len;
        }
    }
    return rescan;
}

/* ---- rescans ---------------------------------------------------------- */

static void scan_path(struct col_tail_manager *m, const char *path, int cfg_idx)
{
    struct stat st;
    if (col__tail_match(m->cfg, path) != cfg_idx || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    struct col__tail_file *f = find(m, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    if (f) {
        f->seen = true;
        f->gone = false; /* renamed to another matched name: still ours */
        return;
    }
    f = col__tail_file_open(m, path, cfg_idx);
    if (!f)
        return;
    f->seen = true;
    insert(m, f, false);
    SCRY_LOG(m->o.log, SCRY_LOG_INFO, "tail", "tailing", "path", path);
}

struct row_list {
    struct col__tail_pos *v;
    size_t n, cap;
};

static void collect_row(void *ud, const struct col__tail_pos *p)
{
    struct row_list *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = scry_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n] = *p;
    l->v[l->n++].path = scry_strdup(p->path ? p->path : "");
}

/* Looks for inode ino in the directory of path: a file rotated by rename
 * while we were down still has lines we have not read. */
static char *find_renamed(const char *path, uint64_t dev, uint64_t ino)
{
    char *dir = scry_strdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        free(dir);
        return NULL;
    }
    *slash = '\0';
    const char *d = dir[0] ? dir : "/";
    DIR *dp = opendir(d);
    char *hit = NULL;
    struct dirent *de;
    while (dp && !hit && (de = readdir(dp))) {
        struct stat st;
        if ((uint64_t)de->d_ino != ino || fstatat(dirfd(dp), de->d_name, &st, 0) != 0)
            continue;
        if ((uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino && S_ISREG(st.st_mode)) {
            size_t n = strlen(d) + strlen(de->d_name) + 2;
            hit = scry_malloc(n);
            snprintf(hit, n, "%s/%s", d, de->d_name);
        }
    }
    if (dp)
        closedir(dp);
    free(dir);
    return hit;
}

/* Once, after the first scan: checkpoints of files that left their path
 * while scry was down. A renamed one is drained (before its successor,
 * which shares its stream); one that is gone is forgotten. */
static void recover_rotated(struct col_tail_manager *m)
{
    struct row_list rows = { 0 };
    struct scry_err err = { 0 };
    if (col__tail_db_each(m->cat, collect_row, &rows, &err) != 0)
        SCRY_LOG(m->o.log, SCRY_LOG_ERROR, "tail", "cannot list checkpoints", "err", err.msg);
    for (size_t i = rows.n; i-- > 0;) {
        struct col__tail_pos *p = &rows.v[i];
        struct stat st;
        if (find(m, p->dev, p->ino))
            continue;
        if (stat(p->path, &st) == 0 && (uint64_t)st.st_dev == p->dev &&
            (uint64_t)st.st_ino == p->ino)
            continue; /* still there, just not matched now: keep its place */
        int idx = col__tail_match(m->cfg, p->path);
        char *at = idx >= 0 ? find_renamed(p->path, p->dev, p->ino) : NULL;
        struct col__tail_file *f = at ? col__tail_file_open(m, at, idx) : NULL;
        if (f && f->dev == p->dev && f->ino == p->ino && f->ck_off == p->off) {
            free(f->path);
            f->path = scry_strdup(p->path); /* its stream is the old name's */
            if (col__tail_file_label(m, f)) {
                f->gone = true;
                f->seen = true;
                insert(m, f, true);
                SCRY_LOG(m->o.log, SCRY_LOG_INFO, "tail", "draining a file rotated while down",
                         "path", p->path, "now", at);
                f = NULL;
            }
        } else if (idx >= 0) {
            col__tail_db_del(m->cat, p->dev, p->ino, &err);
        }
        col__tail_file_close(f);
        free(at);
    }
    for (size_t i = 0; i < rows.n; i++)
        free((char *)rows.v[i].path);
    free(rows.v);
}

static void rescan(struct col_tail_manager *m, int64_t now_ms)
{
    for (size_t i = 0; i < m->n_files; i++)
        m->files[i]->seen = false;
    for (size_t i = 0; i < m->cfg->n_logs; i++) {
        const struct scry_logs_config *l = &m->cfg->logs[i];
        for (size_t k = 0; k < l->n_paths; k++) {
            watch_pattern(m, l->paths[k]);
            glob_t g;
            if (glob(l->paths[k], 0, NULL, &g) == 0)
                for (size_t j = 0; j < g.gl_pathc; j++)
                    scan_path(m, g.gl_pathv[j], (int)i);
            globfree(&g);
        }
    }
    if (!m->first_scan_done) {
        m->first_scan_done = true;
        recover_rotated(m);
    }
    for (size_t i = 0; i < m->n_files; i++) {
        struct col__tail_file *f = m->files[i];
        if (!f->seen && !f->gone) {
            f->gone = true;
            scry_metric_inc(m->met.rot_rename);
            SCRY_LOG(m->o.log, SCRY_LOG_INFO, "tail", "file rotated or removed; draining", "path",
                     f->path);
        }
    }
    m->last_scan_ms = now_ms;
    m->need_rescan = false;
}

/* Drops drained files that nobody writes: their checkpoint goes too, so a
 * new file that reuses the inode starts at 0 (the fingerprint would catch
 * it anyway). */
static void drop_finished(struct col_tail_manager *m, int64_t now_ms)
{
    for (size_t i = m->n_files; i-- > 0;) {
        struct col__tail_file *f = m->files[i];
        if (!f->gone || !f->at_eof || col_tail_lines_pending(&f->lines) ||
            now_ms - f->last_growth_ms < m->o.idle_flush_ms)
            continue;
        struct scry_err err = { 0 };
        if (col__tail_db_del(m->cat, f->dev, f->ino, &err) != 0) {
            scry_metric_inc(m->met.errors);
            continue;
        }
        SCRY_LOG(m->o.log, SCRY_LOG_INFO, "tail", "done with rotated file", "path", f->path);
        remove_at(m, i);
    }
    scry_metric_set(m->met.files, (double)m->n_files);
}

/* ---- the thread ------------------------------------------------------- */

static void wait_fd(struct col_tail_manager *m, int64_t timeout_ms, bool with_inotify)
{
    struct pollfd p[2] = { { m->efd, POLLIN, 0 }, { m->ifd, POLLIN, 0 } };
    int n = with_inotify && m->ifd >= 0 ? 2 : 1;
    if (poll(p, (nfds_t)n, (int)timeout_ms) > 0 && (p[0].revents & POLLIN)) {
        uint64_t v;
        if (read(m->efd, &v, sizeof v) < 0) {
            /* nothing: the flag under the lock is what counts */
        }
    }
}

static void *run(void *arg)
{
    struct col_tail_manager *m = arg;
    struct scry_err err = { 0 };
    if (scry_catalog_open(&m->cat, m->catalog_path, &err) != 0 ||
        col__tail_db_migrate(m->cat, &err) != 0) {
        SCRY_LOG(m->o.log, SCRY_LOG_ERROR, "tail", "cannot open the catalog; not tailing", "err",
                 err.msg);
        scry_metric_inc(m->met.errors);
        return NULL;
    }
    bool backlog = false;
    for (;;) {
        /* A backlog (a round stopped at the read cap) sends no events:
         * go on at once; otherwise sleep until an event or the poll. */
        wait_fd(m, backlog ? 0 : m->o.poll_ms, true);
        bool dir_event = m->ifd >= 0 && drain_inotify(m);
        int64_t now_ms = col__tail_now_ms();
        pthread_mutex_lock(&m->mu);
        if (m->stop) {
            pthread_mutex_unlock(&m->mu);
            break;
        }
        size_t n = 0;
        if (m->cfg) {
            if (dir_event || m->need_rescan || now_ms - m->last_scan_ms >= m->o.rescan_ms)
                rescan(m, now_ms);
            n = col__tail_round(m, now_ms);
            drop_finished(m, now_ms);
            backlog = false;
            for (size_t i = 0; i < m->n_files; i++)
                backlog |= !m->files[i]->at_eof;
        }
        pthread_mutex_unlock(&m->mu);
        if (n > 0 && !backlog)
            wait_fd(m, m->o.min_round_ms, false); /* batch what arrives meanwhile */
    }
    return NULL;
}

/* ---- the API ---------------------------------------------------------- */

static void register_metrics(struct col_tail_manager *m)
{
    struct scry_metrics *r = m->o.metrics;
    if (!r)
        r = scry_metrics_create(); /* never rendered; keeps the code free of NULL checks */
    m->met.files = scry_metrics_gauge(r, "scry_tail_files", "Files being tailed.");
    m->met.lines = scry_metrics_counter(r, "scry_tail_lines_total",
                                        "Records read from tailed files and stored.");
    m->met.bytes = scry_metrics_counter(r, "scry_tail_bytes_total",
                                        "Bytes read from tailed files.");
    m->met.truncated = scry_metrics_counter(
        r, "scry_tail_lines_truncated_total",
        "Records cut at max_line_bytes (stored with metadata truncated=\"true\").");
    const char *kl[] = { "kind" };
    struct scry_metric_family *rot = scry_metrics_family(
        r, SCRY_METRIC_COUNTER, "scry_tail_rotations_total",
        "Rotations seen: rename (or removal) and truncate (copytruncate or rewrite).", kl, 1,
        NULL, 0);
    const char *rn[] = { "rename" }, *tr[] = { "truncate" };
    m->met.rot_rename = scry_metric_with(rot, rn);
    m->met.rot_truncate = scry_metric_with(rot, tr);
    m->met.errors = scry_metrics_counter(r, "scry_tail_errors_total",
                                         "Read, append, commit and catalog errors.");
    m->met.replayed = scry_metrics_counter(
        r, "scry_tail_replayed_lines_total",
        "Records re-read after a restart that the store already held (skipped).");
    m->met.commits = scry_metrics_counter(r, "scry_tail_commits_total",
                                          "Rounds committed to the store.");
    m->own_metrics = m->o.metrics ? NULL : r;
}

int col_tail_manager_create(const struct col_tail_opts *o, struct col_tail_manager **out,
                            struct scry_err *err)
{
    if (!o || !o->appendable || !o->catalog_path)
        return scry_err_set(err, SCRY_EINVAL, "tail: appendable and catalog_path are required");
    struct col_tail_manager *m = scry_calloc(1, sizeof *m);
    m->o = *o;
    m->o.rescan_ms = o->rescan_ms > 0 ? o->rescan_ms : 3000;
    m->o.poll_ms = o->poll_ms > 0 ? o->poll_ms : 1000;
    m->o.min_round_ms = o->min_round_ms > 0 ? o->min_round_ms : 200;
    m->o.idle_flush_ms = o->idle_flush_ms > 0 ? o->idle_flush_ms : 5000;
    m->catalog_path = scry_strdup(o->catalog_path);
    m->rbuf = scry_malloc(COL__TAIL_READ_CHUNK);
    m->o.catalog_path = m->catalog_path;
    pthread_mutex_init(&m->mu, NULL);
    scry_log_limit_init(&m->lim, 10000);
    register_metrics(m);
    m->ifd = o->no_inotify ? -1 : inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (m->ifd < 0 && !o->no_inotify)
        SCRY_LOG(m->o.log, SCRY_LOG_WARN, "tail", "inotify unavailable; polling");
    m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m->efd < 0 || pthread_create(&m->thread, NULL, run, m) != 0) {
        int rc = scry_err_sys(err, SCRY_EIO, "tail: cannot start the thread");
        if (m->efd >= 0)
            close(m->efd);
        m->efd = -1;
        m->thread_failed = true;
        col_tail_manager_destroy(m);
        return rc;
    }
    *out = m;
    return 0;
}

static void wake(struct col_tail_manager *m)
{
    uint64_t one = 1;
    if (m->efd >= 0 && write(m->efd, &one, sizeof one) < 0) {
        /* the counter is saturated: the thread is awake anyway */
    }
}

static void free_firstline(void **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pcre2_code_free(v[i]);
    free(v);
}

int col_tail_manager_apply_config(struct col_tail_manager *m, const struct scry_config *cfg,
                                  struct scry_err *err)
{
    /* The config's own firstline regex is anchored (^(?:re)$, as relabel
     * regexes are); Promtail searches the line, so compile it again. */
    void **fl = scry_calloc(cfg->n_logs + 1, sizeof *fl);
    for (size_t i = 0; i < cfg->n_logs; i++) {
        const char *src = cfg->logs[i].multiline_firstline;
        if (!src)
            continue;
        int code;
        PCRE2_SIZE off;
        fl[i] = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off, NULL);
        if (!fl[i]) {
            free_firstline(fl, cfg->n_logs);
            return scry_err_set(err, SCRY_EINVAL, "logs[%zu].multiline.firstline: bad regex", i);
        }
    }
    pthread_mutex_lock(&m->mu);
    void **old = m->firstline;
    size_t n_old = m->n_firstline;
    m->cfg = cfg;
    m->firstline = fl;
    m->n_firstline = cfg->n_logs;
    /* Nothing may point into the old config once we return. */
    for (size_t i = m->n_files; i-- > 0;) {
        struct col__tail_file *f = m->files[i];
        f->cfg_idx = col__tail_match(cfg, f->path);
        if (f->cfg_idx < 0 || !col__tail_file_label(m, f)) {
            remove_at(m, i); /* its checkpoint stays: it resumes if matched again */
            continue;
        }
        col__tail_file_retarget(m, f);
    }
    m->need_rescan = true;
    pthread_mutex_unlock(&m->mu);
    free_firstline(old, n_old);
    wake(m);
    return 0;
}

void col_tail_manager_destroy(struct col_tail_manager *m)
{
    if (!m)
        return;
    if (!m->thread_failed) {
        pthread_mutex_lock(&m->mu);
        m->stop = true;
        pthread_mutex_unlock(&m->mu);
        wake(m);
        pthread_join(m->thread, NULL);
    }
    while (m->n_files > 0)
        remove_at(m, m->n_files - 1);
    free(m->files);
    scry_catalog_close(m->cat);
    if (m->ifd >= 0)
        close(m->ifd);
    if (m->efd >= 0)
        close(m->efd);
    free_firstline(m->firstline, m->n_firstline);
    scry_log_limit_fini(&m->lim);
    scry_metrics_destroy(m->own_metrics);
    pthread_mutex_destroy(&m->mu);
    free(m->catalog_path);
    free(m->rbuf);
    free(m);
}
