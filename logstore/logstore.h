/* logstore.h — the log store: head + WAL + segments behind the two seams.
 *
 * ls_open replays the WAL (data/logs/wal) into the head and opens the
 * segments recorded in the catalog (data/catalog.db, table `segments`).
 * Entries enter through ls_appendable (core/appender.h, append_log) and leave
 * through ls_queryable (core/querier.h, select_streams with required_tokens
 * pruning by the token index). Design: logstore/README.md; bytes:
 * logstore/FORMAT.md.
 *
 * Lifecycle: open, then appenders and queriers from any threads, then close
 * after every appender and querier ended. Thread-safe otherwise (one store
 * lock; a flush holds it only to swap the head out and to publish the segment). */
#ifndef SCRY_LOGSTORE_LOGSTORE_H
#define SCRY_LOGSTORE_LOGSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/appender.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/querier.h"
#include "core/timeparse.h"

struct ls_store;

struct ls_opts {
    const char *data_dir;            /* holds catalog.db and logs/{wal,segments} */
    int64_t retention_ms;            /* 0: keep forever */
    int64_t retention_size_bytes;    /* 0: unlimited */
    enum scry_wal_fsync wal_fsync;   /* default (0) INTERVAL */
    int64_t wal_segment_bytes;       /* 0 → core default */
    int zstd_level;                  /* sealed segments; 0 → LS_SEGMENT_ZSTD_LEVEL */
    bool index_kv_values;            /* key the values of key=value pairs (README "Token index") */
    struct scry_log *log;            /* may be NULL; borrowed */
    struct scry_metrics *metrics;    /* may be NULL; borrowed */
    const struct scry_clock *clock;  /* NULL → wall clock; borrowed */
    /* Tests: called by ls_flush after the head swap, before the segment
     * write, with no store lock held (appends and queries may run). */
    void (*flush_hook)(void *ud);
    void *flush_hook_ud;
};

/* Opens or creates. SCRY_EEXIST when another process holds the WAL;
 * SCRY_ECORRUPT when a catalogued segment fails validation. */
int ls_open(struct ls_store **out, const struct ls_opts *opts, struct scry_err *err);
/* Syncs and closes the WAL (the head stays in it), frees. NULL is a no-op. */
void ls_close(struct ls_store *st);

struct scry_appendable *ls_appendable(struct ls_store *st);
struct scry_queryable *ls_queryable(struct ls_store *st);

/* Cuts the whole head into one segment, on disk and in the catalog, and
 * truncates the WAL. An empty head is not an error. The head is swapped out
 * under the lock and written without it: appends and queries do not wait
 * for the segment write. Concurrent flushes run one after the other. */
int ls_flush(struct ls_store *st, struct scry_err *err);
/* Applies retention (time, then size): drops whole segments. */
int ls_maintain(struct ls_store *st, struct scry_err *err);

struct ls_stats {
    uint64_t head_streams, head_entries, head_raw_bytes;
    uint64_t segments, segment_bytes, segment_raw_bytes, segment_entries;
    uint64_t dropped_out_of_order;
};
void ls_stats(struct ls_store *st, struct ls_stats *out);

#endif
