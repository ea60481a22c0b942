/* postings.h — iterators over sorted series references, and their algebra.
 *
 * A postings list is a strictly increasing sequence of u64 series refs (the
 * head's, or a block's). Intersect, merge (union) and without (subtract)
 * combine iterators lazily with seek, as Prometheus's index.Postings, so the
 * head and the block reader share one implementation. Iterators live in the
 * caller's arena and never allocate while iterating; the lists they wrap
 * must outlive them. Errors are sticky: loop, then check err once. */
#ifndef SCRY_CORE_POSTINGS_H
#define SCRY_CORE_POSTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"

struct scry_postings_iter;
struct scry_postings_ops {
    bool (*next)(struct scry_postings_iter *it);
    /* Advances to the first ref >= ref (never backwards; stays if at() >= ref). */
    bool (*seek)(struct scry_postings_iter *it, uint64_t ref);
    uint64_t (*at)(const struct scry_postings_iter *it);
    int (*err)(const struct scry_postings_iter *it);
};
struct scry_postings_iter {
    const struct scry_postings_ops *ops;
};

static inline bool scry_postings_next(struct scry_postings_iter *it) { return it->ops->next(it); }
static inline bool scry_postings_seek(struct scry_postings_iter *it, uint64_t ref)
{
    return it->ops->seek(it, ref);
}
static inline uint64_t scry_postings_at(const struct scry_postings_iter *it)
{
    return it->ops->at(it);
}
static inline int scry_postings_err(const struct scry_postings_iter *it) { return it->ops->err(it); }

/* Over refs[0..n) (sorted, unique; borrowed). Seek gallops. */
struct scry_postings_iter *scry_postings_list(struct scry_arena *a, const uint64_t *refs, size_t n);
struct scry_postings_iter *scry_postings_empty(struct scry_arena *a);
/* Refs in every one of its[0..n); n == 0 gives the empty list. */
struct scry_postings_iter *scry_postings_intersect(struct scry_arena *a,
                                                   struct scry_postings_iter **its, size_t n);
/* Refs in any of its[0..n), each once (a heap over the children). */
struct scry_postings_iter *scry_postings_merge(struct scry_arena *a,
                                               struct scry_postings_iter **its, size_t n);
/* Refs of full that are not in drop. */
struct scry_postings_iter *scry_postings_without(struct scry_arena *a,
                                                 struct scry_postings_iter *full,
                                                 struct scry_postings_iter *drop);
/* Drains it into a sorted array in a. Returns 0 or the iterator's error. */
int scry_postings_expand(struct scry_postings_iter *it, struct scry_arena *a, uint64_t **out,
                         size_t *n, struct scry_err *err);

#endif
