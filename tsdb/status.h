/* status.h — the head's cardinality statistics, read side of the store, as
 * Prometheus's GET /api/v1/status/tsdb reports them (its head.Stats and
 * index.MemPostings.Stats; tsdb/README.md "Head status" has the semantics
 * and where scry differs). Plain numbers and strings: the HTTP encoding is
 * query/'s (query/api_prom_status.h). */
#ifndef SCRY_TSDB_STATUS_H
#define SCRY_TSDB_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

struct tsdb;

#define TSDB_STATUS_DEFAULT_LIMIT 10 /* Prometheus 2.42 always reports 10 */
#define TSDB_STATUS_MAX_LIMIT 10000  /* newer Prometheus's cap on ?limit= */

struct tsdb_stat {
    const char *name; /* arena-owned; "name=value" in by_pair */
    uint64_t value;
};

/* At most limit entries, value descending, equal values by name ascending
 * (byte order; Prometheus leaves ties in hash-map order). */
struct tsdb_stat_list {
    struct tsdb_stat *v;
    size_t n;
};

struct tsdb_status {
    uint64_t num_series;
    uint64_t num_label_pairs;  /* distinct name=value pairs */
    uint64_t chunk_count;      /* sealed + open + out-of-order chunks */
    int64_t min_time_ms;       /* oldest in-order sample; INT64_MAX when empty */
    int64_t max_time_ms;       /* newest sample; INT64_MIN when empty */
    struct tsdb_stat_list series_by_metric;     /* series per __name__ value */
    struct tsdb_stat_list values_by_name;       /* distinct values per label name */
    struct tsdb_stat_list value_bytes_by_name;  /* sum of the distinct values' lengths */
    struct tsdb_stat_list series_by_pair;       /* series per name=value */
};

/* Fills *out from the head of db: one pass over the postings (map lock
 * shared: series creation waits) and one over the series (each under its
 * stripe lock). limit 1..TSDB_STATUS_MAX_LIMIT, else SCRY_EINVAL. The lists
 * and their names are allocated from a; nothing else is allocated.
 * Thread-safe. */
int tsdb_status(struct tsdb *db, size_t limit, struct scry_arena *a, struct tsdb_status *out);

#endif
