/* postings.h — iterators over sorted series references, and their algebra.
 *
 * A postings list is a strictly increasing sequence of u64 series refs (the
 * head's, or a block's). Intersect, merge (union) and without (subtract)
 * combine iterators lazily with seek, as Prometheus's index.Postings, so the
 * head and the block reader share one implementation. Iterators live in the
 * caller's arena and never allocate while iterating; the lists they wrap
 * must outlive them. Errors are sticky: loop, then check err once. */
#ifndef SCRY_TSDB_POSTINGS_H
#define SCRY_TSDB_POSTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"

struct tsdb_postings_iter;
struct tsdb_postings_ops {
    bool (*next)(struct tsdb_postings_iter *it);
    /* Advances to the first ref >= ref (never backwards; stays if at() >= ref). */
    bool (*seek)(struct tsdb_postings_iter *it, uint64_t ref);
    uint64_t (*at)(const struct tsdb_postings_iter *it);
    int (*err)(const struct tsdb_postings_iter *it);
};
struct tsdb_postings_iter {
    const struct tsdb_postings_ops *ops;
};

static inline bool tsdb_postings_next(struct tsdb_postings_iter *it) { return it->ops->next(it); }
static inline bool tsdb_postings_seek(struct tsdb_postings_iter *it, uint64_t ref)
{
    return it->ops->seek(it, ref);
}
static inline uint64_t tsdb_postings_at(const struct tsdb_postings_iter *it)
{
    return it->ops->at(it);
}
static inline int tsdb_postings_err(const struct tsdb_postings_iter *it) { return it->ops->err(it); }

/* Over refs[0..n) (sorted, unique; borrowed). Seek gallops. */
struct tsdb_postings_iter *tsdb_postings_list(struct scry_arena *a, const uint64_t *refs, size_t n);
struct tsdb_postings_iter *tsdb_postings_empty(struct scry_arena *a);
/* Refs in every one of its[0..n); n == 0 gives the empty list. */
struct tsdb_postings_iter *tsdb_postings_intersect(struct scry_arena *a,
                                                   struct tsdb_postings_iter **its, size_t n);
/* Refs in any of its[0..n), each once (a heap over the children). */
struct tsdb_postings_iter *tsdb_postings_merge(struct scry_arena *a,
                                               struct tsdb_postings_iter **its, size_t n);
/* Refs of full that are not in drop. */
struct tsdb_postings_iter *tsdb_postings_without(struct scry_arena *a,
                                                 struct tsdb_postings_iter *full,
                                                 struct tsdb_postings_iter *drop);
/* Drains it into a sorted array in a. Returns 0 or the iterator's error. */
int tsdb_postings_expand(struct tsdb_postings_iter *it, struct scry_arena *a, uint64_t **out,
                         size_t *n, struct scry_err *err);

#endif
