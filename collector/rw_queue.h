/* rw_queue.h — the agent's remote_write sender: a disk-backed queue.
 *
 * A queue is one remote_write target. It is a struct scry_appendable: the
 * scrape manager appends to it as to a store. Commit encodes the batch
 * (each sample as a ready-made protobuf TimeSeries with its labels) into
 * one record of a core/wal log under dir, so a scrape counts as done only
 * once it would survive kill -9. N sender shards (series hash -> shard, so
 * the samples of one series are sent in order) read the records, batch up
 * to max_samples_per_send or batch_send_deadline, POST snappy-compressed
 * WriteRequests, retry on 5xx/429/network errors with exponential backoff
 * (honouring Retry-After) and drop other 4xx (counted, body logged). The
 * position every shard has acknowledged is kept in dir/acked, so a restart
 * resends what was not acknowledged (at-least-once). Design and on-disk
 * format: collector/README.md, "Agent: remote_write queue".
 *
 * Lifecycle: col_rwq_open (replays dir, starts the shards), append through
 * col_rwq_appendable, optionally col_rwq_flush, then col_rwq_close.
 * Thread-safety: appenders may be used from any threads (one appender by
 * one thread at a time); stats, flush and close from any thread, close
 * once, after the last appender has ended. */
#ifndef SCRY_COLLECTOR_RW_QUEUE_H
#define SCRY_COLLECTOR_RW_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/appender.h"
#include "core/config.h"
#include "core/err.h"
#include "core/labels.h"
#include "core/log.h"
#include "core/metrics.h"

struct col_rwq;

struct col_rwq_opts {
    const struct scry_remote_write_config *cfg; /* required; borrowed, outlives the queue */
    const char *dir;                   /* required; created if missing */
    const struct scry_labels *external_labels; /* set on series that lack them; may be NULL */
    struct scry_metrics *metrics;      /* NULL: none */
    struct scry_log *log;              /* NULL: silent */
    const char *user_agent;            /* NULL: "scry/<version>" */
    uint32_t n_shards;                 /* 0: from cfg->queue (see README) */
    uint64_t segment_bytes;            /* 0: 16 MiB */
};

/* Replays dir (records after the acknowledged position are queued again),
 * opens its WAL and starts the shards. SCRY_EINVAL for bad opts, SCRY_EEXIST
 * when another process holds dir, SCRY_EIO/SCRY_ECORRUPT with the path. */
int col_rwq_open(struct col_rwq **out, const struct col_rwq_opts *o, struct scry_err *err);

/* The appendable the scrape manager appends to; lives as long as q. */
struct scry_appendable *col_rwq_appendable(struct col_rwq *q);

/* Makes the shards send partial batches at once and waits up to timeout_ms
 * for every queued sample to be acknowledged (or dropped). 0 when the queue
 * is empty, SCRY_ETIMEOUT otherwise (what is left stays on disk). */
int col_rwq_flush(struct col_rwq *q, int64_t timeout_ms);

/* Stops the shards (a batch being retried is abandoned, not acknowledged),
 * writes the acknowledged position, closes the WAL, frees. NULL is a no-op.
 * Returns the first error of closing. */
int col_rwq_close(struct col_rwq *q, struct scry_err *err);

struct col_rwq_stats {
    uint64_t samples_in;       /* appended and committed */
    uint64_t samples_sent;     /* acknowledged with 2xx */
    uint64_t samples_failed;   /* in failed attempts (each attempt counts) */
    uint64_t samples_retried;  /* in attempts that were retried */
    uint64_t samples_dropped;  /* refused with a 4xx other than a retried 429 */
    uint64_t samples_pending;  /* committed, not yet acknowledged or dropped */
    uint64_t requests;         /* HTTP attempts */
    uint64_t next_seq, acked_seq; /* records: every seq < acked_seq is done */
    uint64_t replayed_records;    /* queued again at open */
    uint64_t disk_loads;          /* backlog reads from disk (records beyond the memory bound) */
    uint64_t samples_in_memory;   /* pending samples whose records are in memory */
    uint32_t shards;
    int64_t highest_sent_ms;      /* newest sample timestamp acknowledged, 0 if none */
};
void col_rwq_stats(struct col_rwq *q, struct col_rwq_stats *out);

/* ---- exposed for tests --------------------------------------------------- */

enum col_rwq_outcome { COL_RWQ_OK, COL_RWQ_RETRY, COL_RWQ_DROP };

/* What to do with a response: transport_ok false (no response) retries;
 * 2xx is OK; 5xx retries; 429 retries when retry_429, else drops; any
 * other status (1xx, 3xx, 4xx) drops. */
enum col_rwq_outcome col_rwq_classify(long status, bool transport_ok, bool retry_429);

/* A Retry-After value in ms from now: delay-seconds or an HTTP-date
 * (RFC 7231 IMF-fixdate) compared with now_ms. -1 when absent or invalid,
 * 0 for a date in the past. */
int64_t col_rwq_retry_after_ms(const char *value, int64_t now_ms);

/* The queue's folder name under DIR/queue/: 16 hex digits of xxHash64(url). */
void col_rwq_dir_name(const char *url, char out[17]);

#endif
