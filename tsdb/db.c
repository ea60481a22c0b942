/* db.c — the database: opening (WAL replay), the maintenance loop, flush,
 * snapshot, and the queryable that merges blocks with the head.
 *
 * Layout: data/catalog.db (the blocks, in sqlite), data/tsdb/wal/ (the
 * head's WAL) and data/tsdb/blocks/<ID>/ — see tsdb/README.md "Database".
 *
 * The block set changes under queries: compaction and retention close and
 * delete blocks that a running query may be reading. A gate orders the two:
 * every querier holds a pass from creation to close, and a change to the
 * block set waits until no pass is out (new queriers wait while a change is
 * pending, so maintenance is not starved). It is a reader-writer lock built
 * from a mutex and a condition variable, because a querier may be closed by
 * another thread than the one that opened it, which pthread rwlocks forbid.
 * Changes are short (swapping pointers, unlinking); writing a block happens
 * before its change, while queries run.
 *
 * Cutting: the head is cut when it spans 1.5 block durations, the oldest
 * whole block range at a time (as Prometheus does), so a block never holds
 * samples that later out-of-order appends would still change; a flush cuts
 * everything regardless. After a cut the head drops what the block holds,
 * and the WAL is checkpointed to match (db_checkpoint.c). */
#include "tsdb/tsdb.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/mem.h"
#include "core/wal.h"
#include "tsdb/block.h"
#include "tsdb/db_internal.h"
#include "tsdb/head.h"
#include "tsdb/querier_merge.h"
#include "tsdb/status.h"

/* ---- the gate ------------------------------------------------------------- */

static void gate_enter(struct tsdb *db)
{
    pthread_mutex_lock(&db->gate_mu);
    while (db->gate_writer || db->gate_writers_waiting)
        pthread_cond_wait(&db->gate_cv, &db->gate_mu);
    db->gate_readers++;
    pthread_mutex_unlock(&db->gate_mu);
}

static void gate_leave(struct tsdb *db)
{
    pthread_mutex_lock(&db->gate_mu);
    assert(db->gate_readers > 0);
    if (--db->gate_readers == 0)
        pthread_cond_broadcast(&db->gate_cv);
    pthread_mutex_unlock(&db->gate_mu);
}

void tsdb__gate_lock(struct tsdb *db)
{
    pthread_mutex_lock(&db->gate_mu);
    db->gate_writers_waiting++;
    while (db->gate_writer || db->gate_readers)
        pthread_cond_wait(&db->gate_cv, &db->gate_mu);
    db->gate_writers_waiting--;
    db->gate_writer = true;
    pthread_mutex_unlock(&db->gate_mu);
}

void tsdb__gate_unlock(struct tsdb *db)
{
    pthread_mutex_lock(&db->gate_mu);
    db->gate_writer = false;
    pthread_cond_broadcast(&db->gate_cv);
    pthread_mutex_unlock(&db->gate_mu);
}

/* ---- querying ------------------------------------------------------------- */

/* Wraps the merged querier so that closing it gives the gate pass back. */
struct db_querier {
    struct scry_querier base;
    struct scry_querier *inner;
    struct tsdb *db;
};

static int dq_select_series(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                            const struct scry_select_hints *h, struct scry_series_set **out,
                            struct scry_err *err)
{
    struct db_querier *d = (struct db_querier *)q;
    return d->inner->ops->select_series(d->inner, ms, n_ms, h, out, err);
}

static int dq_label_names(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                          int64_t mint, int64_t maxt, struct scry_arena *a, const char ***out,
                          size_t *n_out, struct scry_err *err)
{
    struct db_querier *d = (struct db_querier *)q;
    return d->inner->ops->label_names(d->inner, ms, n_ms, mint, maxt, a, out, n_out, err);
}

static int dq_label_values(struct scry_querier *q, const char *name, const struct scry_matcher *ms,
                           size_t n_ms, int64_t mint, int64_t maxt, struct scry_arena *a,
                           const char ***out, size_t *n_out, struct scry_err *err)
{
    struct db_querier *d = (struct db_querier *)q;
    return d->inner->ops->label_values(d->inner, name, ms, n_ms, mint, maxt, a, out, n_out, err);
}

static void dq_close(struct scry_querier *q)
{
    struct db_querier *d = (struct db_querier *)q;
    d->inner->ops->close(d->inner);
    gate_leave(d->db);
    free(d);
}

static const struct scry_querier_ops db_querier_ops = {
    .select_series = dq_select_series,
    .label_names = dq_label_names,
    .label_values = dq_label_values,
    .close = dq_close,
};

static int db_querier(struct scry_queryable *qa, const char *tenant, int64_t mint, int64_t maxt,
                      struct scry_querier **out, struct scry_err *err)
{
    struct tsdb *db = (struct tsdb *)((char *)qa - offsetof(struct tsdb, queryable));
    gate_enter(db);
    size_t nb = tsdb_blocks_count(db->blocks), n = 0;
    struct scry_querier **subs = scry_calloc(nb + 1, sizeof *subs);
    int rc = 0;
    /* Blocks oldest first, then the head: on a duplicate timestamp the
     * block, which is what a compaction settled, wins. */
    for (size_t i = 0; i < nb && rc == 0; i++) {
        struct tsdb_block *b = tsdb_blocks_at(db->blocks, i);
        const struct tsdb_block_meta *m = tsdb_block_meta(b);
        if (m->maxt_ms < mint || m->mint_ms > maxt)
            continue;
        rc = tsdb_block_querier(b, mint, maxt, &subs[n], err);
        if (rc == 0)
            n++;
    }
    if (rc == 0) {
        rc = tsdb_head_querier(db->head, mint, maxt, &subs[n], err);
        if (rc == 0)
            n++;
    }
    struct scry_querier *merged = NULL;
    if (rc == 0)
        rc = tsdb_merge_querier(subs, n, &merged, err);
    else
        for (size_t i = 0; i < n; i++)
            subs[i]->ops->close(subs[i]);
    free(subs);
    if (rc) {
        gate_leave(db);
        return rc;
    }
    struct db_querier *d = scry_calloc(1, sizeof *d);
    d->base.ops = &db_querier_ops;
    d->inner = merged;
    d->db = db;
    *out = &d->base;
    return 0;
}

/* ---- cutting the head into blocks ----------------------------------------- */

/* Adapts the head's chunk set to the block writer's source. */
struct head_source {
    struct tsdb_head_chunk_set *cs;
};

static int head_source_next(void *ud, struct tsdb_block_series *out, struct scry_err *err)
{
    struct head_source *hs = ud;
    if (!tsdb_head_chunk_set_next(hs->cs))
        return 0;
    size_t n;
    bool complete;
    const struct tsdb_chunk_meta *c = tsdb_head_chunk_set_chunks(hs->cs, &n, &complete);
    out->ls = *tsdb_head_chunk_set_labels(hs->cs);
    if (complete) {
        out->chunks = c;
        out->n_chunks = n;
        return 1;
    }
    /* Out-of-order samples, deletions or an open chunk in range: the
     * writer encodes the series' samples of the range itself. Encoding them
     * here first cost as much again as the writer's own encoding. */
    (void)err;
    out->chunks = NULL;
    out->n_chunks = 0;
    out->samples = tsdb_head_chunk_set_samples(hs->cs);
    return 1;
}

int tsdb__write_head_block(struct tsdb *db, const char *blocks_dir, int64_t mint, int64_t maxt,
                           bool catalogue, struct tsdb_block_meta *meta, struct scry_err *err)
{
    struct head_source hs = { 0 };
    int rc = tsdb_head_chunk_set_open(db->head, mint, maxt, &hs.cs, err);
    if (rc)
        return rc;
    struct tsdb_block_source src = { .next = head_source_next };
    if (catalogue) {
        rc = tsdb_blocks_add(db->blocks, &src, &hs, mint, maxt, meta, err);
    } else {
        char id[TSDB_BLOCK_ID_LEN + 1];
        struct tsdb_block_write_opts o = { .rechunk = true };
        rc = tsdb_block_write(blocks_dir, &src, &hs, mint, maxt, &o, id, meta, err);
    }
    tsdb_head_chunk_set_close(hs.cs);
    return rc;
}

/* Cuts [mint, maxt] of the head into a catalogued block, then drops it from
 * the head and the WAL. Called with maintain_mu held. */
static int cut(struct tsdb *db, int64_t mint, int64_t maxt, struct scry_err *err)
{
    struct tsdb_block_meta meta;
    double t0 = scry_mono_s();
    tsdb__gate_lock(db);
    int rc = tsdb__write_head_block(db, NULL, mint, maxt, true, &meta, err);
    tsdb__gate_unlock(db);
    if (rc == SCRY_ENOTFOUND)
        rc = 0; /* nothing in range */
    else if (rc)
        return scry_err_prefix(err, "cut head [%" PRId64 ", %" PRId64 "]", mint, maxt);
    else
        tsdb__log_block(db, "head cut into a block", &meta, scry_mono_s() - t0);
    size_t gone = tsdb_head_truncate(db->head, maxt + 1);
    (void)gone;
    return tsdb__checkpoint(db, maxt + 1, err);
}

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;
    if (t % step < 0)
        q--;
    return q * step;
}

int tsdb_flush(struct tsdb *db, struct scry_err *err)
{
    pthread_mutex_lock(&db->maintain_mu);
    struct tsdb_head_stats hs;
    tsdb_head_stats(db->head, &hs);
    int rc = 0;
    if (hs.samples > 0)
        rc = cut(db, hs.mint_ms, hs.maxt_ms, err);
    pthread_mutex_unlock(&db->maintain_mu);
    return rc;
}

int tsdb_maintain(struct tsdb *db, struct scry_err *err)
{
    pthread_mutex_lock(&db->maintain_mu);
    int64_t bd = db->opts.storage.block_duration_ms;
    int rc = 0;
    for (;;) {
        struct tsdb_head_stats hs;
        tsdb_head_stats(db->head, &hs);
        if (hs.samples == 0 || hs.maxt_ms - hs.mint_ms < bd + bd / 2)
            break;
        int64_t mint = floor_to(hs.mint_ms, bd);
        rc = cut(db, mint, mint + bd - 1, err);
        if (rc)
            break;
    }
    size_t n = 0;
    if (rc == 0) {
        tsdb__gate_lock(db);
        rc = tsdb_blocks_compact(db->blocks, &n, err);
        if (rc == 0)
            rc = tsdb_blocks_retention(db->blocks, &n, err);
        tsdb__gate_unlock(db);
    }
    pthread_mutex_unlock(&db->maintain_mu);
    return rc;
}

static void *maintain_thread(void *ud)
{
    struct tsdb *db = ud;
    pthread_mutex_lock(&db->stop_mu);
    while (!db->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (db->opts.maintain_interval_ms % 1000) * 1000000;
        ts.tv_sec += db->opts.maintain_interval_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&db->stop_cv, &db->stop_mu, &ts);
        if (db->stopping)
            break;
        pthread_mutex_unlock(&db->stop_mu);
        struct scry_err err = { 0 };
        if (tsdb_maintain(db, &err) != 0)
            SCRY_LOG(db->opts.log, SCRY_LOG_ERROR, "tsdb", "maintenance failed", "err", err.msg);
        pthread_mutex_lock(&db->stop_mu);
    }
    pthread_mutex_unlock(&db->stop_mu);
    return NULL;
}

/* ---- open and close -------------------------------------------------------- */

static int mkdirs(const char *base, const char *sub, char *out, size_t len, struct scry_err *err)
{
    snprintf(out, len, "%s/%s", base, sub);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/tsdb", base);
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return scry_err_sys(err, SCRY_EIO, "mkdir %s", tmp);
    if (mkdir(out, 0755) != 0 && errno != EEXIST)
        return scry_err_sys(err, SCRY_EIO, "mkdir %s", out);
    return 0;
}

static int open_parts(struct tsdb *db, struct scry_err *err)
{
    const struct scry_storage_config *st = &db->opts.storage;
    struct tsdb_blocks_opts bo = {
        .retention_ms = st->retention_ms,
        .retention_size_bytes = st->retention_size_bytes,
        .block_duration_ms = st->block_duration_ms,
        .now_ms = db->opts.clock ? db->opts.clock->now_ms : NULL,
        .clock_ud = db->opts.clock ? db->opts.clock->ud : NULL,
    };
    int rc = tsdb_blocks_open(&db->blocks, db->opts.data_dir, &bo, err);
    if (rc)
        return scry_err_prefix(err, "open blocks");
    struct tsdb_head_opts ho = {
        .out_of_order_window_ms = st->out_of_order_window_ms,
        .block_duration_ms = st->block_duration_ms,
        .clock = db->opts.clock,
        .metrics = db->opts.metrics,
    };
    rc = tsdb_head_create(&db->head, &ho, err);
    if (rc)
        return rc;
    rc = tsdb__replay(db, err);
    if (rc || db->opts.read_only)
        return rc;
    struct scry_wal_opts wo = {
        .segment_bytes = (uint64_t)st->wal_segment_bytes,
        .fsync = st->wal_fsync,
        .fsync_interval_ms = st->wal_fsync_interval_ms,
    };
    rc = scry_wal_open(&db->wal, db->wal_dir, &wo, err);
    if (rc)
        return scry_err_prefix(err, "open WAL");
    tsdb_head_set_wal(db->head, db->wal);
    return 0;
}

int tsdb_open(struct tsdb **out, const struct tsdb_opts *opts, struct scry_err *err)
{
    if (!out || !opts || !opts->data_dir)
        return scry_err_set(err, SCRY_EINVAL, "tsdb: no data dir");
    struct tsdb *db = scry_calloc(1, sizeof *db);
    db->opts = *opts;
    db->opts.data_dir = scry_strdup(opts->data_dir);
    if (db->opts.storage.block_duration_ms <= 0)
        db->opts.storage.block_duration_ms = 2 * 3600 * 1000;
    if (db->opts.maintain_interval_ms == 0)
        db->opts.maintain_interval_ms = 60 * 1000;
    pthread_mutex_init(&db->gate_mu, NULL);
    pthread_cond_init(&db->gate_cv, NULL);
    pthread_mutex_init(&db->maintain_mu, NULL);
    pthread_mutex_init(&db->stop_mu, NULL);
    pthread_cond_init(&db->stop_cv, NULL);
    db->queryable.querier = db_querier;
    int rc = mkdirs(db->opts.data_dir, "tsdb/wal", db->wal_dir, sizeof db->wal_dir, err);
    if (rc == 0)
        rc = open_parts(db, err);
    if (rc == 0 && db->opts.maintain_interval_ms > 0 && !db->opts.read_only) {
        if (pthread_create(&db->thread, NULL, maintain_thread, db) != 0)
            rc = scry_err_sys(err, SCRY_EIO, "tsdb: start maintenance thread");
        else
            db->thread_started = true;
    }
    if (rc) {
        tsdb_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

void tsdb_close(struct tsdb *db)
{
    if (!db)
        return;
    if (db->thread_started) {
        pthread_mutex_lock(&db->stop_mu);
        db->stopping = true;
        pthread_cond_broadcast(&db->stop_cv);
        pthread_mutex_unlock(&db->stop_mu);
        pthread_join(db->thread, NULL);
    }
    if (db->wal) {
        struct scry_err err = { 0 };
        if (scry_wal_close(db->wal, &err) != 0)
            SCRY_LOG(db->opts.log, SCRY_LOG_ERROR, "tsdb", "closing the WAL failed", "err",
                     err.msg);
    }
    tsdb_head_destroy(db->head);
    tsdb_blocks_close(db->blocks);
    pthread_mutex_destroy(&db->gate_mu);
    pthread_cond_destroy(&db->gate_cv);
    pthread_mutex_destroy(&db->maintain_mu);
    pthread_mutex_destroy(&db->stop_mu);
    pthread_cond_destroy(&db->stop_cv);
    free((char *)db->opts.data_dir);
    free(db);
}

struct scry_appendable *tsdb_appendable(struct tsdb *db) { return tsdb_head_appendable(db->head); }
struct scry_queryable *tsdb_queryable(struct tsdb *db) { return &db->queryable; }

int tsdb_status(struct tsdb *db, size_t limit, struct scry_arena *a, struct tsdb_status *out)
{
    /* Head only, as in Prometheus: blocks have their own meta. */
    return db ? tsdb_head_status(db->head, limit, a, out) : SCRY_EINVAL;
}

void tsdb_stats(struct tsdb *db, struct tsdb_stats *out)
{
    memset(out, 0, sizeof *out);
    struct tsdb_head_stats hs;
    tsdb_head_stats(db->head, &hs);
    out->head_series = hs.series;
    out->head_samples = hs.samples;
    out->head_chunks = hs.chunks;
    out->head_mint_ms = hs.mint_ms;
    out->head_maxt_ms = hs.maxt_ms;
    gate_enter(db);
    out->blocks = tsdb_blocks_count(db->blocks);
    for (size_t i = 0; i < out->blocks; i++) {
        const struct tsdb_block_meta *m = tsdb_block_meta(tsdb_blocks_at(db->blocks, i));
        out->block_series += m->n_series;
        out->block_samples += m->n_samples;
        out->block_bytes += m->bytes;
    }
    gate_leave(db);
    if (db->wal) {
        struct scry_wal_stats ws;
        scry_wal_stats(db->wal, &ws);
        out->wal_fsyncs = ws.fsyncs;
    }
}
