/* tombstones.h — deleted time ranges: intervals, the per-block tombstones
 * table and file, and a sample iterator that skips deleted samples.
 *
 * A tombstone is (series, [mint, maxt]) inclusive: the samples of the series
 * in the range are deleted. The head keeps intervals per series (logged as
 * WAL TOMBSTONES records); a block keeps them per series number in its
 * `tombstones` file (tsdb/FORMAT.md "tombstones file"). Both apply them at
 * query time; cutting the head, compaction and tsdb_clean_tombstones write
 * blocks without the deleted samples. Internal to tsdb/. */
#ifndef SCRY_TSDB_TOMBSTONES_H
#define SCRY_TSDB_TOMBSTONES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/querier.h"

#define TSDB_TOMBS_FILE "tombstones"
/* Timestamps in a tombstones file lie in ±2^62 ms, like samples. */
#define TSDB_TOMBS_MAX_ABS_T ((int64_t)1 << 62)

struct tsdb_interval {
    int64_t mint, maxt; /* inclusive */
};

/* A sorted list of disjoint, non-adjacent intervals (canonical: [1,5] and
 * [6,9] are stored as [1,9]). */
struct tsdb_intervals {
    struct tsdb_interval *v;
    uint32_t n, cap;
};

/* Adds [mint, maxt] (mint <= maxt), merging what it overlaps or touches. */
void tsdb_intervals_add(struct tsdb_intervals *iv, int64_t mint, int64_t maxt);
/* Removes the intervals wholly below mint. */
void tsdb_intervals_drop_below(struct tsdb_intervals *iv, int64_t mint);
void tsdb_intervals_fini(struct tsdb_intervals *iv);
/* Whether [mint, maxt] lies inside one interval of v[0..n) (sorted). */
bool tsdb_intervals_cover(const struct tsdb_interval *v, size_t n, int64_t mint, int64_t maxt);

/* Whether t is deleted, for t that never decreases between calls: *i is a
 * cursor into v (start at 0), so a walk over a series costs O(samples + n). */
static inline bool tsdb_intervals_skip(const struct tsdb_interval *v, size_t n, size_t *i,
                                       int64_t t)
{
    while (*i < n && v[*i].maxt < t)
        (*i)++;
    return *i < n && v[*i].mint <= t;
}

/* ---- a table of tombstones: series ref → intervals ---------------------- */

struct tsdb_stone {
    uint64_t ref;
    int64_t mint, maxt;
};

struct tsdb_tombs {
    uint64_t *refs;   /* strictly increasing */
    uint32_t *first;  /* n_refs + 1: the intervals of refs[i] are iv[first[i] .. first[i+1]) */
    struct tsdb_interval *iv;
    size_t n_refs, n_iv;
};

/* Builds a canonical table from stones (sorted in place; any order, overlaps
 * allowed). out must be empty (zeroed or finalised). */
void tsdb_tombs_build(struct tsdb_tombs *out, struct tsdb_stone *stones, size_t n);
/* The stones of t appended to *v (grown with scry_realloc), for merging. */
void tsdb_tombs_stones(const struct tsdb_tombs *t, struct tsdb_stone **v, size_t *n,
                       size_t *cap);
/* The intervals of ref, or NULL (n = 0). */
const struct tsdb_interval *tsdb_tombs_get(const struct tsdb_tombs *t, uint64_t ref, size_t *n);
void tsdb_tombs_fini(struct tsdb_tombs *t);

/* The file image (FORMAT.md "tombstones file"). */
void tsdb_tombs_encode(const struct tsdb_tombs *t, struct scry_buf *out);
/* Validates everything (magic, version, CRC unless no_crc, refs strictly
 * increasing and below n_series, intervals canonical and within ±2^62,
 * exact length): SCRY_ECORRUPT naming the offset. Never crashes. */
int tsdb_tombs_decode(const uint8_t *p, size_t len, uint64_t n_series, bool no_crc,
                      struct tsdb_tombs *out, struct scry_err *err);
/* Reads dir/tombstones (absent: an empty table). Errors name the path. */
int tsdb_tombs_read_file(const char *dir, uint64_t n_series, struct tsdb_tombs *out,
                         struct scry_err *err);
/* Writes dir/tombstones atomically: tombstones.tmp, fsync, rename, fsync
 * dir. An empty table removes the file. */
int tsdb_tombs_write_file(const char *dir, const struct tsdb_tombs *t, struct scry_err *err);

/* ---- a sample iterator without the deleted samples ----------------------- */

struct tsdb_del_iter {
    struct scry_sample_iter base;
    struct scry_sample_iter *in; /* borrowed */
    const struct tsdb_interval *v;
    size_t n, i;
};
/* Wraps in (borrowed); v[0..n) must outlive the iterator. */
void tsdb_del_iter_init(struct tsdb_del_iter *it, struct scry_sample_iter *in,
                        const struct tsdb_interval *v, size_t n);

#endif
