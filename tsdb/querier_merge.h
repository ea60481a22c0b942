/* querier_merge.h — one querier over several: the head and the blocks.
 *
 * The database answers a selection by asking every part that overlaps the
 * time range (blocks, oldest first, then the head) and merging: series come
 * out in label order, a series present in several parts appears once, and
 * its samples are merged by timestamp. Parts normally do not overlap in
 * time; where they do (out-of-order data, a block written while the head
 * still holds the same range), equal timestamps are deduplicated and the
 * earliest part in the list wins, so callers put the most authoritative
 * part first. */
#ifndef SCRY_TSDB_QUERIER_MERGE_H
#define SCRY_TSDB_QUERIER_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/querier.h"

/* Builds a querier over subs[0..n). Takes ownership of every sub querier
 * (closing the merged one closes them, also on failure). n may be 0 (an
 * empty store) or 1 (returned as is, with no wrapping). */
int tsdb_merge_querier(struct scry_querier **subs, size_t n, struct scry_querier **out,
                       struct scry_err *err);

/* A sample iterator over n sub-iterators merged by timestamp, equal
 * timestamps deduplicated (the lowest index wins). Caller-owned: init once,
 * reset for each series (the sub-iterators are borrowed and must outlive
 * that use), fini at the end. Grows its arrays on reset; never allocates
 * while iterating.
 *
 * It has next_batch: the part with the smallest timestamp hands out its run
 * of samples below every other part's current timestamp by its own
 * next_batch (or next/at when it has none), so a series held by a block and
 * the head costs about what a single part costs. The samples such a read
 * brings past that bound wait in the part's read-ahead buffer. */
#define TSDB_MERGE_AHEAD 128
struct tsdb_merge_part {
    struct scry_sample_iter *it;
    int64_t t; /* the part's current sample, when have */
    double v;
    bool have;
    bool done;         /* it reported its end; only the read-ahead is left */
    unsigned pos, len; /* read ahead, after t: buf_t/buf_v[pos..len) */
    int64_t buf_t[TSDB_MERGE_AHEAD];
    double buf_v[TSDB_MERGE_AHEAD];
};
struct tsdb_merge_iter {
    struct scry_sample_iter base;
    struct tsdb_merge_part *parts;
    size_t n, cap, cur;
    int state; /* 0 before the first call, 1 positioned, 2 exhausted */
};
void tsdb_merge_iter_init(struct tsdb_merge_iter *it);
void tsdb_merge_iter_reset(struct tsdb_merge_iter *it, struct scry_sample_iter *const *its,
                           size_t n);
void tsdb_merge_iter_fini(struct tsdb_merge_iter *it);

#endif
