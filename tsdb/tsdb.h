/* tsdb.h — the time-series database: head + WAL + blocks behind the two seams.
 *
 * tsdb_open replays the WAL into the head (this is the start-up work that
 * keeps /-/ready at 503), opens the blocks recorded in the catalog, and
 * starts a maintenance thread that cuts the head into a block once it spans
 * 1.5 block durations, checkpoints the WAL, compacts and applies retention.
 * Everything enters through tsdb_appendable (core/appender.h) and leaves
 * through tsdb_queryable (core/querier.h); a querier merges the blocks that
 * overlap its range with the head (tsdb/querier_merge.h).
 *
 * Lifecycle: open, then appenders and queriers from any threads, then close
 * after every appender and querier ended. Thread-safe otherwise. */
#ifndef SCRY_TSDB_TSDB_H
#define SCRY_TSDB_TSDB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/appender.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/querier.h"
#include "core/timeparse.h"

struct tsdb;

struct tsdb_opts {
    const char *data_dir;               /* holds catalog.db and tsdb/{wal,blocks} */
    struct scry_storage_config storage; /* copied */
    struct scry_log *log;               /* may be NULL; borrowed */
    struct scry_metrics *metrics;       /* may be NULL; borrowed */
    const struct scry_clock *clock;     /* NULL → wall clock; borrowed */
    /* Maintenance period; 0 → 60 s. Negative: no thread (tests drive
     * tsdb_maintain themselves). */
    int64_t maintain_interval_ms;
    /* Open for reading only (scry tsdb dump): the WAL is replayed but not
     * opened for writing, and there is no maintenance. Appends are not
     * durable; don't make any. */
    bool read_only;
};

/* Opens or creates the database. A corrupt WAL segment is logged with its
 * file and offset and skipped: everything readable is kept (the server
 * prefers to come up). SCRY_EEXIST when another process holds the WAL. */
int tsdb_open(struct tsdb **out, const struct tsdb_opts *opts, struct scry_err *err);
/* Stops maintenance, syncs and closes the WAL, frees everything. The head's
 * samples stay in the WAL for the next open. NULL is a no-op. */
void tsdb_close(struct tsdb *db);

struct scry_appendable *tsdb_appendable(struct tsdb *db);
struct scry_queryable *tsdb_queryable(struct tsdb *db);

/* Cuts everything in the head into a block now and returns when it is on
 * disk and in the catalog (POST /api/v1/admin/tsdb/flush). An empty head is
 * not an error. */
int tsdb_flush(struct tsdb *db, struct scry_err *err);

/* Deletes the samples in [mint, maxt] (inclusive, ms) of every series
 * matching all of ms (n >= 1), in the head and in the blocks, as
 * Prometheus's delete_series does: blocks get a tombstones file (written
 * atomically) and the head logs TOMBSTONES records to the WAL, so the
 * deletion survives a restart; queries skip deleted samples at once, and a
 * series with no sample left in a query's range is not selected. The
 * samples leave the disk when a block is compacted or rewritten by
 * tsdb_clean_tombstones, and the head's when it is cut. Head ranges are
 * clamped to each series' samples at the time: later appends stay. */
/* Like flush and maintenance, it waits for open queriers when blocks
 * change: the calling thread must not hold one. */
int tsdb_delete_series(struct tsdb *db, const struct scry_matcher *ms, size_t n, int64_t mint,
                       int64_t maxt, struct scry_err *err);

/* Rewrites every block that has tombstones without the deleted samples
 * (a block left empty is removed), each swapped in one catalog
 * transaction, and returns when all are done. */
int tsdb_clean_tombstones(struct tsdb *db, struct scry_err *err);

/* One round of maintenance: cut what is ready, checkpoint, compact, apply
 * retention. The thread calls it; tests may call it directly. */
int tsdb_maintain(struct tsdb *db, struct scry_err *err);

/* Writes a consistent copy into dir (created; must not exist): hard links
 * of every block and, unless skip_head, the head as one more block
 * (POST /api/v1/admin/tsdb/snapshot). The database is not changed. */
int tsdb_snapshot(struct tsdb *db, const char *dir, bool skip_head, struct scry_err *err);

struct tsdb_stats {
    uint64_t head_series, head_samples, head_chunks;
    int64_t head_mint_ms, head_maxt_ms;
    uint64_t blocks, block_series, block_samples, block_bytes;
    uint64_t wal_fsyncs;
};
void tsdb_stats(struct tsdb *db, struct tsdb_stats *out);

/* Prints every sample of the series matching ms (all when n_ms is 0) in
 * [mint, maxt] of a data directory, opened read-only as the server would
 * find it after a crash: blocks plus a replay of the WAL. One line per
 * sample: `{labels} value timestamp_ms` (promtool tsdb dump's shape). */
int tsdb_dump(const char *data_dir, const struct scry_matcher *ms, size_t n_ms, int64_t mint,
              int64_t maxt, FILE *out, struct scry_err *err);

#endif
