/* querier.h — the seam through which everything leaves a store.
 *
 * select(matchers, mint, maxt) returns a series set sorted by label set;
 * each series gives a sample iterator that streams across chunk boundaries
 * and can seek. Nothing is materialised unless the query needs it. Sets and
 * iterators keep the first error (sticky): loop with next(), then check
 * err() once. Timestamps are milliseconds for samples and nanoseconds for
 * log entries. A querier is a snapshot over [mint, maxt] and is used by one
 * query (one thread); close releases what it pinned. */
#ifndef SCRY_CORE_QUERIER_H
#define SCRY_CORE_QUERIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/appender.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/labels.h"
#include "core/matcher.h"

/* ---- samples ---- */

struct scry_sample_iter;
struct scry_sample_iter_ops {
    bool (*next)(struct scry_sample_iter *it);
    /* Advances to the first sample with t >= t_ms (never backwards). */
    bool (*seek)(struct scry_sample_iter *it, int64_t t_ms);
    void (*at)(const struct scry_sample_iter *it, int64_t *t_ms, double *v);
    int (*err)(const struct scry_sample_iter *it, struct scry_err *err);
    /* Optional (NULL: call next and at): like up to cap calls of next()
     * and at(), storing the samples after the current one in t[] and v[];
     * returns how many, fewer than cap only at the end or on error. */
    size_t (*next_batch)(struct scry_sample_iter *it, int64_t *t_ms, double *v, size_t cap);
};
struct scry_sample_iter {
    const struct scry_sample_iter_ops *ops;
};

struct scry_series_set;
struct scry_series_set_ops {
    bool (*next)(struct scry_series_set *ss);
    const struct scry_labels *(*labels)(const struct scry_series_set *ss);
    /* The samples of the current series; valid until the next call to next(). */
    struct scry_sample_iter *(*samples)(struct scry_series_set *ss);
    int (*err)(const struct scry_series_set *ss, struct scry_err *err);
    void (*close)(struct scry_series_set *ss);
};
struct scry_series_set {
    const struct scry_series_set_ops *ops;
};

/* ---- log entries ---- */

struct scry_entry_iter;
struct scry_entry_iter_ops {
    bool (*next)(struct scry_entry_iter *it);
    void (*at)(const struct scry_entry_iter *it, struct scry_log_entry *out);
    int (*err)(const struct scry_entry_iter *it, struct scry_err *err);
    /* Optional (NULL: always 0). 0 for an entry; n > 0 when the current
     * entry stands for n entries that the store counted without decoding
     * them (scry_select_hints.count_only): its t_ns lies in their time
     * range, its line is empty and it has no metadata. */
    uint64_t (*counted)(const struct scry_entry_iter *it);
};
struct scry_entry_iter {
    const struct scry_entry_iter_ops *ops;
};

struct scry_stream_set;
struct scry_stream_set_ops {
    bool (*next)(struct scry_stream_set *ss);
    const struct scry_labels *(*labels)(const struct scry_stream_set *ss);
    struct scry_entry_iter *(*entries)(struct scry_stream_set *ss);
    int (*err)(const struct scry_stream_set *ss, struct scry_err *err);
    void (*close)(struct scry_stream_set *ss);
};
struct scry_stream_set {
    const struct scry_stream_set_ops *ops;
};

/* ---- the querier ---- */

struct scry_select_hints {
    int64_t mint, maxt;   /* inclusive bounds; ms for samples, ns for logs */
    bool backward;        /* logs: newest first */
    /* Lower-case runs of ASCII letters and digits that every returned log
     * line contains, each inside one of its tokens (logstore/tokenize.h):
     * the run may be a whole token or any part of one, so a store with a
     * token index must match by containment. It may use them to skip
     * chunks. Advisory: callers still filter. */
    const struct scry_str *required_tokens;
    size_t n_required_tokens;
    /* Byte strings (exact, case-sensitive, non-empty) that every returned
     * log line contains: a store may drop entries whose line lacks one
     * before handing them out. Advisory: callers still filter. */
    const struct scry_str *line_contains;
    size_t n_line_contains;
    /* Logs: the caller only counts the entries in [mint, maxt] whose line
     * contains line_contains[0] (n_line_contains is 1), with no other
     * filter, and no metadata in its result. A store may then hand out one
     * entry standing for all such entries of a chunk lying wholly inside
     * [mint, maxt] (scry_entry_iter_ops.counted). */
    bool count_only;
    /* Logs, backward: the caller keeps only the newest newest_limit (> 0)
     * entries in [mint, maxt] whose line contains line_contains[0]
     * (n_line_contains is 1), with no other filter. A store that knows
     * how many such entries some chunks hold may skip the chunks older
     * than enough of them. */
    uint64_t newest_limit;
};

struct scry_querier;
struct scry_querier_ops {
    int (*select_series)(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                         const struct scry_select_hints *h, struct scry_series_set **out,
                         struct scry_err *err);
    int (*select_streams)(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                          const struct scry_select_hints *h, struct scry_stream_set **out,
                          struct scry_err *err);
    /* Sorted, unique; strings live in a. */
    int (*label_names)(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                       int64_t mint, int64_t maxt, struct scry_arena *a, const char ***out,
                       size_t *n_out, struct scry_err *err);
    int (*label_values)(struct scry_querier *q, const char *name, const struct scry_matcher *ms,
                        size_t n_ms, int64_t mint, int64_t maxt, struct scry_arena *a,
                        const char ***out, size_t *n_out, struct scry_err *err);
    void (*close)(struct scry_querier *q);
};
struct scry_querier {
    const struct scry_querier_ops *ops;
};

/* Hands out queriers; a store embeds this. */
struct scry_queryable {
    int (*querier)(struct scry_queryable *store, const char *tenant, int64_t mint, int64_t maxt,
                   struct scry_querier **out, struct scry_err *err);
};

#endif
