/* store.c — the log store: open (catalog, segments, WAL replay), flush (the
 * head into one segment, catalogued in one transaction, then the WAL
 * truncated), retention, close. One mutex (mu) guards the head, the frozen
 * head and the segment list. A flush holds mu only to swap the head out (into
 * st->frozen, immutable from then on) and to publish the segment: the
 * segment write itself runs without it, so appends and queries go on
 * (README "Flush"). flush_mu serialises flushes: one frozen head at most. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "logstore/ls_internal.h"

static const char *const ls_migrations[] = {
    "CREATE TABLE segments ("
    "  id TEXT PRIMARY KEY,"
    "  min_t_ns INTEGER NOT NULL, max_t_ns INTEGER NOT NULL,"
    "  n_streams INTEGER NOT NULL, n_chunks INTEGER NOT NULL, n_entries INTEGER NOT NULL,"
    "  raw_bytes INTEGER NOT NULL, bytes INTEGER NOT NULL, level INTEGER NOT NULL,"
    "  wal_upto INTEGER NOT NULL, created_ms INTEGER NOT NULL);",
};

static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = scry_malloc(la + lb + 2);
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

static int mkdir_p(const char *d, struct scry_err *err)
{
    if (mkdir(d, 0755) != 0 && errno != EEXIST)
        return scry_err_sys(err, SCRY_EIO, "mkdir %s", d);
    return 0;
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char *p = path_join(dir, de->d_name);
            unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static void segs_push(struct ls_store *st, struct ls_segment *s)
{
    st->segs = scry_realloc(st->segs, (st->n_segs + 1) * sizeof *st->segs);
    st->segs[st->n_segs++] = s;
}

static bool in_catalog(char **ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ids[i], id))
            return true;
    return false;
}

/* Opens every catalogued segment; deletes directories without a row. */
static int load_segments(struct ls_store *st, struct scry_err *err)
{
    sqlite3 *db = scry_catalog_db(st->cat);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT id, wal_upto FROM segments ORDER BY min_t_ns, id", -1, &q,
                           NULL) != SQLITE_OK)
        return scry_catalog_err(st->cat, err, "list segments");
    char **ids = NULL;
    size_t n = 0;
    int rc = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        ids = scry_realloc(ids, (n + 1) * sizeof *ids);
        ids[n++] = scry_strdup((const char *)sqlite3_column_text(q, 0));
        uint32_t upto = (uint32_t)sqlite3_column_int64(q, 1);
        if (upto > st->wal_upto)
            st->wal_upto = upto;
    }
    sqlite3_finalize(q);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *dir = path_join(st->seg_dir, ids[i]);
        struct ls_segment *s;
        rc = ls__segment_open(&s, dir, err);
        if (rc == 0)
            segs_push(st, s);
        free(dir);
    }
    DIR *d = opendir(st->seg_dir);
    struct dirent *de;
    while (rc == 0 && d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || in_catalog(ids, n, de->d_name))
            continue;
        char *dir = path_join(st->seg_dir, de->d_name);
        rm_rf(dir); /* an unfinished write (README "Segments") */
        free(dir);
    }
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    return rc;
}

/* Each segment stream's newest t_ns: the floor for the streams the WAL and
 * new appends bring back (their newest line is not known: an equal t_ns is
 * then accepted, not taken for a duplicate). */
static void seed_floor(struct ls_store *st)
{
    for (size_t i = 0; i < st->n_segs; i++) {
        const struct ls_segment *s = st->segs[i];
        for (uint32_t k = 0; k < s->n_streams; k++) {
            const struct ls_seg_stream *ss = &s->streams[k];
            int64_t t = INT64_MIN;
            for (uint32_t c = 0; c < ss->n_chunks; c++)
                if (s->chunks[ss->first_chunk + c].maxt > t)
                    t = s->chunks[ss->first_chunk + c].maxt;
            ls__floor_set(&st->floor, scry_labels_hash(&ss->ls), t, 0, SIZE_MAX);
        }
    }
}

static int appendable_begin(struct scry_appendable *s, const char *tenant,
                            struct scry_appender **out, struct scry_err *err)
{
    return ls__appender_begin(s, tenant, out, err);
}

static int queryable_querier(struct scry_queryable *q, const char *tenant, int64_t mint,
                             int64_t maxt, struct scry_querier **out, struct scry_err *err)
{
    (void)tenant;
    struct ls_store *st = (struct ls_store *)((char *)q - offsetof(struct ls_store, queryable));
    return ls__querier_new(st, mint, maxt, out, err);
}

int ls_open(struct ls_store **out, const struct ls_opts *opts, struct scry_err *err)
{
    if (!out || !opts || !opts->data_dir)
        return scry_err_set(err, SCRY_EINVAL, "ls_open: data_dir is required");
    struct ls_store *st = scry_calloc(1, sizeof *st);
    st->appendable.begin = appendable_begin;
    st->queryable.querier = queryable_querier;
    st->opts = *opts;
    st->data_dir = scry_strdup(opts->data_dir);
    st->opts.data_dir = st->data_dir;
    st->logs_dir = path_join(st->data_dir, "logs");
    st->wal_dir = path_join(st->logs_dir, "wal");
    st->seg_dir = path_join(st->logs_dir, "segments");
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->flush_mu, NULL);
    ls__head_init(&st->head, 1);
    st->head.floor = &st->floor;
    int rc = mkdir_p(st->data_dir, err);
    if (!rc)
        rc = mkdir_p(st->logs_dir, err);
    if (!rc)
        rc = mkdir_p(st->seg_dir, err);
    char *cat = path_join(st->data_dir, "catalog.db");
    if (!rc)
        rc = scry_catalog_open(&st->cat, cat, err);
    free(cat);
    if (!rc)
        rc = scry_catalog_migrate(st->cat, "logstore", ls_migrations,
                                  sizeof ls_migrations / sizeof ls_migrations[0], err);
    if (!rc)
        rc = load_segments(st, err);
    if (!rc)
        seed_floor(st);
    if (!rc)
        rc = ls__wal_replay(st, err);
    if (!rc) {
        struct scry_wal_opts wo = { .segment_bytes = (uint64_t)opts->wal_segment_bytes,
                                    .fsync = opts->wal_fsync };
        rc = scry_wal_open(&st->wal, st->wal_dir, &wo, err);
    }
    if (rc) {
        ls_close(st);
        return scry_err_prefix(err, "logstore");
    }
    *out = st;
    return 0;
}

void ls_close(struct ls_store *st)
{
    if (!st)
        return;
    /* A flush still running (from another thread) finishes first. A frozen
     * head left by a failed flush is still in the WAL: freeing it loses
     * nothing. */
    pthread_mutex_lock(&st->flush_mu);
    pthread_mutex_unlock(&st->flush_mu);
    if (st->frozen) {
        ls__head_fini(st->frozen);
        free(st->frozen);
    }
    scry_wal_close(st->wal, NULL);
    for (size_t i = 0; i < st->n_segs; i++)
        ls__segment_release(st->segs[i]);
    free(st->segs);
    scry_catalog_close(st->cat);
    ls__head_fini(&st->head);
    ls__floor_fini(&st->floor);
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->flush_mu);
    free(st->data_dir);
    free(st->logs_dir);
    free(st->wal_dir);
    free(st->seg_dir);
    free(st);
}

struct scry_appendable *ls_appendable(struct ls_store *st) { return &st->appendable; }
struct scry_queryable *ls_queryable(struct ls_store *st) { return &st->queryable; }

static int catalog_insert(struct ls_store *st, const char *id, const struct ls_segment_stats *s,
                          uint32_t wal_upto, struct scry_err *err)
{
    int rc = scry_catalog_begin(st->cat, err);
    if (rc)
        return rc;
    sqlite3_stmt *q;
    sqlite3 *db = scry_catalog_db(st->cat);
    if (sqlite3_prepare_v2(db, "INSERT INTO segments VALUES (?,?,?,?,?,?,?,?,0,?,?)", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = scry_catalog_err(st->cat, err, "insert segment");
        scry_catalog_rollback(st->cat);
        return rc;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC); /* id outlives the statement */
    sqlite3_bind_int64(q, 2, s->mint);
    sqlite3_bind_int64(q, 3, s->maxt);
    sqlite3_bind_int64(q, 4, s->n_streams);
    sqlite3_bind_int64(q, 5, s->n_chunks);
    sqlite3_bind_int64(q, 6, (int64_t)s->n_entries);
    sqlite3_bind_int64(q, 7, (int64_t)s->raw_bytes);
    sqlite3_bind_int64(q, 8, (int64_t)s->bytes);
    sqlite3_bind_int64(q, 9, wal_upto);
    sqlite3_bind_int64(q, 10, scry_clock_now_ms(st->opts.clock));
    if (sqlite3_step(q) != SQLITE_DONE) {
        rc = scry_catalog_err(st->cat, err, "insert segment");
        sqlite3_finalize(q);
        scry_catalog_rollback(st->cat);
        return rc;
    }
    sqlite3_finalize(q);
    return scry_catalog_commit(st->cat, err);
}

/* Writes st->frozen into a segment and publishes it. flush_mu held, mu not:
 * the frozen head is immutable (its streams were all cut at the swap, so
 * ls__segment_write's cut is a no-op) and read concurrently by queriers.
 * On failure the frozen head stays (queryable, and still in the WAL, which
 * is truncated only on success); the next flush writes it first. */
static int write_frozen(struct ls_store *st, struct scry_err *err)
{
    struct ls_head *h = st->frozen;
    uint32_t closed = st->frozen_upto;
    struct ls_stream **ss = scry_malloc((h->n_streams + 1) * sizeof *ss);
    size_t n = 0;
    for (size_t i = 0; i < h->n_buckets; i++)
        for (struct ls_stream *s = h->hb[i]; s; s = s->hnext)
            if (s->n_chunks || s->open_n)
                ss[n++] = s;
    char id[24];
    snprintf(id, sizeof id, "%016" PRIx64,
             ((uint64_t)scry_clock_now_ms(st->opts.clock) << 16) | (st->seq++ & 0xffff));
    char *dir = path_join(st->seg_dir, id);
    struct ls_segment_stats sst;
    int level = st->opts.zstd_level ? st->opts.zstd_level : LS_SEGMENT_ZSTD_LEVEL;
    int rc = ls__segment_write(dir, ss, n, level, st->opts.index_kv_values, &sst, err);
    free(ss);
    struct ls_segment *seg = NULL;
    if (rc == 0)
        rc = ls__segment_open(&seg, dir, err);
    pthread_mutex_lock(&st->mu);
    if (rc == 0)
        rc = catalog_insert(st, id, &sst, closed, err);
    if (rc == 0) {
        /* One lock hold: a querier sees the entries in the segment or in
         * the frozen head, never in both or neither. */
        segs_push(st, seg);
        st->wal_upto = closed;
        st->frozen = NULL;
    }
    pthread_mutex_unlock(&st->mu);
    if (rc) {
        ls__segment_release(seg);
        rm_rf(dir);
        free(dir);
        return scry_err_prefix(err, "flush segment %s", id);
    }
    free(dir);
    ls__head_fini(h);
    free(h);
    return scry_wal_truncate_before(st->wal, closed + 1, err);
}

/* Under mu: cuts the WAL and moves the head into st->frozen. The floor
 * keeps the frozen streams' newest entries, so appends to the new head are
 * still checked for order against them. Cutting every open chunk here (a
 * copy of at most one open chunk per stream into the head's slab, see
 * head.c) makes the frozen head immutable. */
static int swap_head(struct ls_store *st, bool *swapped, struct scry_err *err)
{
    *swapped = false;
    struct ls_head *h = &st->head;
    if (h->n_entries == 0)
        return 0;
    uint32_t closed = 0;
    int rc = scry_wal_cut(st->wal, &closed, err);
    if (rc)
        return rc;
    ls__head_save_floor(h);
    for (size_t i = 0; i < h->n_buckets; i++)
        for (struct ls_stream *s = h->hb[i]; s; s = s->hnext)
            ls__head_cut(s);
    struct ls_head *f = scry_malloc(sizeof *f);
    *f = *h;
    f->floor = NULL;
    ls__head_init(h, f->next_ref);
    h->floor = &st->floor;
    st->frozen = f;
    st->frozen_upto = closed;
    *swapped = true;
    return 0;
}

int ls_flush(struct ls_store *st, struct scry_err *err)
{
    pthread_mutex_lock(&st->flush_mu);
    int rc = 0;
    if (st->frozen) /* left by a failed flush: it goes first (segments in time order) */
        rc = write_frozen(st, err);
    bool swapped = false;
    if (rc == 0) {
        pthread_mutex_lock(&st->mu);
        rc = swap_head(st, &swapped, err);
        pthread_mutex_unlock(&st->mu);
    }
    if (rc == 0 && swapped) {
        if (st->opts.flush_hook)
            st->opts.flush_hook(st->opts.flush_hook_ud);
        rc = write_frozen(st, err);
    }
    pthread_mutex_unlock(&st->flush_mu);
    return rc;
}

static int drop_segment(struct ls_store *st, size_t i, struct scry_err *err)
{
    struct ls_segment *s = st->segs[i];
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(scry_catalog_db(st->cat), "DELETE FROM segments WHERE id = ?", -1, &q,
                           NULL) != SQLITE_OK)
        return scry_catalog_err(st->cat, err, "delete segment");
    sqlite3_bind_text(q, 1, s->id, -1, SQLITE_STATIC);
    int ok = sqlite3_step(q) == SQLITE_DONE;
    sqlite3_finalize(q);
    if (!ok)
        return scry_catalog_err(st->cat, err, "delete segment");
    /* Open queriers keep their mmap; the files go now (unlink semantics). */
    rm_rf(s->dir);
    memmove(&st->segs[i], &st->segs[i + 1], (st->n_segs - i - 1) * sizeof *st->segs);
    st->n_segs--;
    ls__segment_release(s);
    return 0;
}

int ls_maintain(struct ls_store *st, struct scry_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    if (st->opts.retention_ms > 0) {
        int64_t cutoff_ns = (scry_clock_now_ms(st->opts.clock) - st->opts.retention_ms) * 1000000;
        for (size_t i = 0; i < st->n_segs && rc == 0;)
            if (st->segs[i]->maxt < cutoff_ns)
                rc = drop_segment(st, i, err);
            else
                i++;
    }
    if (st->opts.retention_size_bytes > 0) {
        uint64_t total = 0;
        for (size_t i = 0; i < st->n_segs; i++)
            total += st->segs[i]->len;
        while (rc == 0 && st->n_segs > 0 && total > (uint64_t)st->opts.retention_size_bytes) {
            total -= st->segs[0]->len; /* the oldest: segments are in time order */
            rc = drop_segment(st, 0, err);
        }
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void ls_stats(struct ls_store *st, struct ls_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&st->mu);
    out->head_streams = st->head.n_streams;
    out->head_entries = st->head.n_entries;
    out->head_raw_bytes = st->head.raw_bytes;
    if (st->frozen) { /* not in a segment yet: counted with the head */
        out->head_streams += st->frozen->n_streams;
        out->head_entries += st->frozen->n_entries;
        out->head_raw_bytes += st->frozen->raw_bytes;
    }
    out->segments = st->n_segs;
    for (size_t i = 0; i < st->n_segs; i++) {
        out->segment_bytes += st->segs[i]->len;
        out->segment_entries += st->segs[i]->n_entries;
    }
    out->dropped_out_of_order = st->dropped_out_of_order;
    pthread_mutex_unlock(&st->mu);
}

int ls__cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}
