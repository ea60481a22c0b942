/* head.h — the in-memory head of the tsdb: recent samples of every active
 * series, the label index over them, the appender and the querier.
 *
 * Internal to tsdb/ (db.c wires it to the WAL, blocks and the API). The
 * design, the locking and the measured memory per series are in
 * tsdb/README.md, "Head".
 *
 * Lifecycle: tsdb_head_create; optionally tsdb_head_replay(wal_dir) while
 * nothing else uses the head; then tsdb_head_set_wal(wal) once the WAL is
 * open; appenders and queriers from any threads; tsdb_head_truncate after a
 * block was written; tsdb_head_destroy when no appender or querier is left.
 *
 * Appender (core/appender.h) semantics, per sample, checked in this order:
 *   - t > the series' newest t: stored.
 *   - t < newest - out_of_order_window_ms (window 0: any t < newest):
 *     rejected, "out of order sample" (scry_tsdb_out_of_order_samples_total),
 *     even when a sample with that t and value is stored.
 *   - t equal to a stored sample's t with bit-identical value (NaN payloads
 *     compare as bits): ignored, counted as a duplicate
 *     (scry_tsdb_duplicate_samples_total{result="ignored"}); with another
 *     value: rejected, "duplicate sample for timestamp" ({result="rejected"}).
 *   - otherwise (in the window, a new t): stored.
 * append_sample buffers the sample and returns 0. It returns SCRY_EINVAL for
 * invalid labels, a timestamp beyond ±2^62 ms, or a sample it can already
 * see is outside the window;
 * that sample is dropped, the appender stays usable and the batch may still
 * be committed. commit writes one SAMPLES record and commits the WAL, then
 * applies the samples (so what a query sees is durable). It returns:
 *   0            every buffered sample was stored or ignored as a duplicate;
 *   SCRY_EINVAL  some samples were rejected when applied (the message gives
 *                the counts and the first reason); ALL OTHERS ARE STORED AND
 *                DURABLE — the partial write of Prometheus's remote_write;
 *   SCRY_EIO     the WAL failed: nothing of the batch was applied.
 * Series are created (and their SERIES record appended to the WAL) by
 * append_sample, and stay even when the batch is rolled back; truncate
 * collects them when they hold no samples.
 * An appender pins the series it touched from begin to commit/rollback, so
 * a thread must not hold two head appenders at once, nor call
 * tsdb_head_truncate while it holds one (both would deadlock).
 *
 * Thread-safety: everything except create/destroy/replay/set_wal may be
 * called from any threads concurrently. */
#ifndef SCRY_TSDB_HEAD_H
#define SCRY_TSDB_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/appender.h"
#include "core/err.h"
#include "core/labels.h"
#include "core/metrics.h"
#include "core/querier.h"
#include "core/timeparse.h"
#include "core/wal.h"
#include "tsdb/chunk.h"
#include "tsdb/status.h"

struct tsdb_head;

struct tsdb_head_opts {
    int64_t out_of_order_window_ms; /* 0: reject every sample older than the newest */
    uint32_t chunk_samples;         /* cut size: 0 → 120; at most TSDB_CHUNK_MAX_SAMPLES */
    int64_t block_duration_ms;      /* chunks never cross a multiple of it; 0 → 2 h */
    const struct scry_clock *clock; /* NULL → real time; borrowed (kept for
                                     * staleness and age limits; unused today) */
    struct scry_metrics *metrics;   /* NULL → no self-metrics; borrowed */
};

/* Creates an empty head. SCRY_EINVAL for bad opts. Destroy with
 * tsdb_head_destroy (NULL is a no-op) after every appender and querier ended. */
int tsdb_head_create(struct tsdb_head **out, const struct tsdb_head_opts *opts,
                     struct scry_err *err);
void tsdb_head_destroy(struct tsdb_head *h);

/* The appendable (begin → struct scry_appender) and queryable of the head. */
struct scry_appendable *tsdb_head_appendable(struct tsdb_head *h);
struct scry_queryable *tsdb_head_queryable(struct tsdb_head *h);

/* Logs every new series and committed batch to wal (borrowed; NULL stops
 * logging). Call before any appender begins, after tsdb_head_replay. */
void tsdb_head_set_wal(struct tsdb_head *h, struct scry_wal *wal);

/* ---- WAL replay ---- */

struct tsdb_head_replay_opts {
    scry_wal_progress_fn on_progress; /* may be NULL */
    void *ud;
    bool skip_corrupt; /* see scry_wal_replay_opts */
};

struct tsdb_head_replay_stats {
    struct scry_wal_replay_stats wal;
    uint64_t series, samples;      /* records' entries applied */
    uint64_t unknown_refs;         /* samples of series no SERIES record named */
    uint64_t rejected;             /* samples out of order or duplicate on replay */
    uint64_t tombstones;           /* deleted ranges applied */
};

/* Rebuilds the head from the WAL in dir (checkpoint then segments), keeping
 * the series refs of the records; new series get refs after the largest.
 * Must run before tsdb_head_set_wal and before any appender. A torn tail is
 * cut off (in stats->wal), not an error; corruption returns SCRY_ECORRUPT
 * naming the file and offset, with everything before it applied. opts and
 * stats may be NULL. */
int tsdb_head_replay(struct tsdb_head *h, const char *dir, const struct tsdb_head_replay_opts *opts,
                     struct tsdb_head_replay_stats *stats, struct scry_err *err);

/* ---- querying ---- */

/* A querier over [mint, maxt] (struct scry_querier): select_series,
 * label_names and label_values; select_streams is NULL. Series are sorted
 * by label set and only those with a sample in the range are returned. The
 * querier snapshots each selected series when select returns; appends made
 * later are not seen. Close it with q->ops->close. */
int tsdb_head_querier(struct tsdb_head *h, int64_t mint, int64_t maxt, struct scry_querier **out,
                      struct scry_err *err);

/* ---- deletion ---- */

/* Marks the samples in [mint, maxt] of every series matching ms deleted:
 * each range is clamped to the series' current samples (later appends are
 * not deleted, as in Prometheus), logged in one TOMBSTONES record and
 * committed to the WAL, then applied. Queriers and the chunk set skip
 * deleted samples (a series with none left in range is not returned);
 * truncate forgets ranges below its bound. *n_series (may be NULL) counts
 * the series that got a range. Not concurrently with tsdb_head_truncate. */
int tsdb_head_delete(struct tsdb_head *h, const struct scry_matcher *ms, size_t n_ms,
                     int64_t mint, int64_t maxt, uint64_t *n_series, struct scry_err *err);

/* ---- for the block writer ---- */


struct tsdb_head_chunk_set;

/* Every series with a sample in [mint, maxt] (inclusive: pass maxt - 1 for a
 * block's half-open range), in label order,
 * as for a block: the sealed chunks overlapping the range and, for any
 * series, a sample iterator over exactly its samples in the range. */
int tsdb_head_chunk_set_open(struct tsdb_head *h, int64_t mint, int64_t maxt,
                             struct tsdb_head_chunk_set **out, struct scry_err *err);
bool tsdb_head_chunk_set_next(struct tsdb_head_chunk_set *cs);
const struct scry_labels *tsdb_head_chunk_set_labels(const struct tsdb_head_chunk_set *cs);
/* The in-order sealed chunks overlapping the range. *complete is true when
 * they hold exactly the series' samples in the range (each chunk inside it,
 * no open-chunk or out-of-order sample in it): the writer may copy them
 * verbatim; otherwise it must re-encode from the sample iterator. */
const struct tsdb_chunk_meta *tsdb_head_chunk_set_chunks(const struct tsdb_head_chunk_set *cs,
                                                              size_t *n, bool *complete);
/* Valid until the next call to next(). */
struct scry_sample_iter *tsdb_head_chunk_set_samples(struct tsdb_head_chunk_set *cs);
void tsdb_head_chunk_set_close(struct tsdb_head_chunk_set *cs); /* NULL is a no-op */

/* Drops every chunk (and out-of-order sample) wholly below mint and removes
 * series left without samples from the maps, the postings and the string
 * table. Waits for in-flight appenders and excludes queries while it runs
 * (chunks pinned by open queriers stay alive until they close). Returns the
 * number of series removed. */
size_t tsdb_head_truncate(struct tsdb_head *h, int64_t mint);

/* ---- stats ---- */

struct tsdb_head_stats {
    uint64_t series;
    uint64_t samples;         /* stored (in chunks, open chunks, out-of-order buffers) */
    uint64_t chunks;          /* sealed, in-order and out-of-order */
    uint64_t chunk_bytes;     /* sealed chunk bytes, headers included */
    uint64_t open_bytes;      /* open-chunk buffers (capacity) */
    uint64_t ooo_samples;     /* in out-of-order buffers and chunks */
    int64_t mint_ms, maxt_ms; /* INT64_MAX / INT64_MIN when empty */
    uint64_t appended, out_of_order, duplicates_ignored, duplicates_rejected; /* totals */
};

uint64_t tsdb_head_series_count(struct tsdb_head *h);
/* Whether the series with ref is still in the head (the WAL checkpoint
 * keeps only those). Lock-free; not while tsdb_head_truncate runs. */
bool tsdb_head_series_alive(struct tsdb_head *h, uint64_t ref);
/* Walks every series under its lock: O(series). */
void tsdb_head_stats(struct tsdb_head *h, struct tsdb_head_stats *out);

/* The cardinality statistics of GET /api/v1/status/tsdb (tsdb/status.h,
 * tsdb_status): SCRY_EINVAL for a limit outside 1..TSDB_STATUS_MAX_LIMIT. */
int tsdb_head_status(struct tsdb_head *h, size_t limit, struct scry_arena *a,
                     struct tsdb_status *out);

#endif
