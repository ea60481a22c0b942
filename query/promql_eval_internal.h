/* promql_eval_internal.h — shared between the promql_eval*.c files only.
 *
 * The evaluator is step-wise, like Prometheus's rangeEval: every node is
 * evaluated once for all steps of its frame (start, end, step; an instant
 * query is a frame of one step). Values:
 *   scalar  one double per step;
 *   vector  series, each with one value slot and a presence bit per step;
 *   matrix  series with their raw points (stale markers removed) and, per
 *           step, the end of the window (t - range, end];
 *   string  a string.
 * All of it lives in the query's arena: a series gets its step arrays once,
 * raw points are read into one reused scratch buffer and, when a node needs
 * the whole matrix, copied into the arena at their exact size (never a
 * malloc per sample). The common plans skip that: see "streaming" below. */
#ifndef SCRY_QUERY_PROMQL_EVAL_INTERNAL_H
#define SCRY_QUERY_PROMQL_EVAL_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/labels.h"
#include "core/querier.h"
#include "query/engine.h"
#include "query/promql.h"

struct ev_series {
    struct scry_labels ls;
    bool drop_name;      /* delayed __name__ removal */
    double *v;           /* n_steps */
    uint8_t *ok;         /* n_steps: a value at this step */
};

struct ev_vec {
    struct ev_series *s;
    size_t n, cap;
};

struct ev_mseries {
    struct scry_labels ls;
    bool drop_name;
    int64_t *t;
    double *v;
    size_t n;
};

struct ev_matrix {
    struct ev_mseries *s;
    size_t n;
    int64_t range_ms;
    int64_t *win_end;    /* per step: the window is (win_end - range_ms, win_end] */
    /* experimental anchored/smoothed selectors: the points also reach
     * lookback before the window (and after it, smoothed) */
    bool anchored, smoothed;
    int64_t ext_ms;
};

struct ev_val {
    enum pql_type type;
    double *sc;          /* SCALAR: per step */
    struct ev_vec vec;   /* VECTOR */
    struct ev_matrix m;  /* MATRIX */
    const char *str;     /* STRING */
};

struct ev_ctx {
    const struct pql_engine_opts *opts;
    struct scry_queryable *store;
    struct scry_arena *a;
    struct scry_err *err;
    int64_t start, end, step;   /* the current frame */
    size_t n_steps;
    int64_t q_start, q_end, q_step; /* the query's (for @ start() / end(), step()) */
    int64_t lookback_ms;
    uint64_t max_samples, n_samples;
    int64_t deadline_ns;
    unsigned tick;
    bool is_range;              /* the outer query is a range query */
    /* scratch for one series' raw points while it is read (heap, grows by
     * doubling, reused for every series, freed at the end of the query);
     * the points are then copied into the arena at their exact size */
    int64_t *scratch_t;
    double *scratch_v;
    size_t scratch_cap;
    const char **warn, **info;
    size_t n_warn, n_info, cap_warn, cap_info;
};

static inline int64_t ev_ts(const struct ev_ctx *c, size_t i)
{
    return c->start + (int64_t)i * c->step;
}

/* promql_eval.c */
int pql__eval(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out);
int pql__check_limits(struct ev_ctx *c);            /* clock, every 64th call */
int pql__check_deadline(struct ev_ctx *c);          /* clock, now */
int pql__count_samples(struct ev_ctx *c, uint64_t n); /* max_samples */
struct ev_series *pql__vec_add(struct ev_ctx *c, struct ev_vec *v, const struct scry_labels *ls,
                               bool drop_name);
struct scry_labels pql__labels_copy(struct ev_ctx *c, const struct scry_labels *ls);
void pql__annot(struct ev_ctx *c, bool warning, const char *msg);
/* "PromQL warning: <text> (1:<col of at>)" */
void pql__annotf(struct ev_ctx *c, bool warning, const struct pql_expr *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *pql__fmt_g(struct ev_ctx *c, double v);      /* Go's %g */
const char *pql__fmt_labels(struct ev_ctx *c, const struct scry_labels *ls); /* Go's Labels.String() */
double *pql__scalar_const(struct ev_ctx *c, double v);
const struct pql_expr *pql__unparen(const struct pql_expr *e);

/* An output map: label set → series index in a vector, for results whose
 * label sets are computed per step (binary operators, count_values). */
struct ev_map {
    uint64_t *h;
    uint32_t *idx;       /* +1; 0 = empty */
    size_t cap;
};
void pql__map_init(struct ev_ctx *c, struct ev_map *m, size_t n_hint);
/* Rehashes m into a table twice its size (its entries keep their indexes). */
void pql__map_grow(struct ev_ctx *c, struct ev_map *m);
/* The series of ls in v (created when new; labels are copied). */
struct ev_series *pql__map_get(struct ev_ctx *c, struct ev_map *m, struct ev_vec *v,
                               const struct scry_labels *ls, bool drop_name);

/* promql_eval_select.c */
int pql__eval_vector_sel(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out);
/* timestamp(selector): the sample timestamps (s) as values */
int pql__eval_vector_sel_ts(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out);
int pql__eval_matrix_sel(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out);
int64_t pql__ref_time(const struct ev_ctx *c, enum pql_at at, int64_t at_ms, int64_t offset_ms,
                      size_t i);

/* A growable buffer of raw points (heap, doubled when full). */
struct ev_pts {
    int64_t *t;
    double *v;
    size_t n, cap;
};
void pql__pts_grow(struct ev_pts *b);
/* SCRY_ETIMEOUT into err once the clock passes deadline_ns, else 0. Any
 * thread (reads nothing of a query's context). */
int pql__deadline(int64_t deadline_ns, struct scry_err *err);
/* Appends the samples of it in [mint, maxt] to b (stale markers dropped
 * unless keep_stale). Returns 0, the iterator's error, or SCRY_ETIMEOUT
 * when the deadline passes while b grows. Touches no query state, so a
 * helper thread runs it too. */
int pql__read_series(struct scry_sample_iter *it, int64_t mint, int64_t maxt, bool keep_stale,
                     struct ev_pts *b, int64_t deadline_ns, struct scry_err *err);

/* promql_eval_prefetch.c: a helper thread reads the rest of a series set
 * ahead of the query's thread, a batch of series at a time. */
struct pql__prefetch;
/* Hands the rest of ss (its next series onwards) to an idle helper of pool;
 * NULL (nothing happened) when none is idle. From then on only the helper
 * touches ss, until pql__prefetch_finish returns. */
struct pql__prefetch *pql__prefetch_start(struct pql_pool *pool, struct scry_series_set *ss,
                                          int64_t mint, int64_t maxt, bool keep_stale,
                                          int64_t deadline_ns);
/* The next series, in ss's order: labels and points stay valid until the
 * next call. False at the end or when the helper failed. */
bool pql__prefetch_next(struct pql__prefetch *pf, struct scry_labels *ls, int64_t **t, double **v,
                        size_t *n);
/* Stops the helper, waits for it and frees pf. Returns the helper's error
 * (a store error or SCRY_ETIMEOUT, copied into err when err is not NULL), or 0. */
int pql__prefetch_finish(struct pql__prefetch *pf, struct scry_err *err);
/* promql_pool.c: runs fn(ud) on an idle worker; false when none is idle. */
bool pql__pool_try_run(struct pql_pool *p, void (*fn)(void *), void *ud);

/* promql_eval_range.c */
int pql__eval_subquery(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out);

/* promql_eval_binop.c */
int pql__eval_binary(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out);
/* promql_eval_agg.c */
int pql__eval_aggregate(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out);
/* Kahan-Neumaier step (Go's kahanSumInc); inline because sum's per-step
 * loop calls it once a series and step. */
static inline void pql__kahan_inc(double inc, double *sum, double *comp)
{
    double t = *sum + inc;
    if (isinf(t))
        *comp = 0;
    else if (fabs(*sum) >= fabs(inc))
        *comp += (*sum - t) + inc;
    else
        *comp += (inc - t) + *sum;
    *sum = t;
}
double pql__quantile(double q, double *vals, size_t n); /* sorts vals */
/* promql_eval_func.c */
int pql__eval_call(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out);
/* Evaluates a call's scalar arguments (all but the one at index skip, -1
 * for none) into sc[j]; non-scalar arguments leave sc[j] NULL. */
int pql__scalar_args(struct ev_ctx *c, const struct pql_call *call, double **sc, int skip);
/* The labels absent() and absent_over_time() give: the argument's equality
 * matchers other than __name__. */
int pql__absent_labels(struct ev_ctx *c, const struct pql_expr *arg, struct scry_labels *out);
/* promql_eval_frange.c: evaluates e when it calls a range-vector function
 * (*handled true), else leaves it to the caller (*handled false). */
int pql__eval_range_call(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out,
                         bool *handled);
/* promql_eval_hist.c: histogram_quantile (fraction false) or
 * histogram_fraction (true), and histogram_quantiles, over classic buckets. */
int pql__eval_histogram_classic(struct ev_ctx *c, const struct pql_expr *e, bool fraction,
                                struct ev_val *out);
int pql__eval_histogram_quantiles(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out);

/* ---- streaming (promql_eval_stream.c) ------------------------------------
 * The common plans (an aggregation over a selector or over a range function
 * of a selector; a range function over a selector or a subquery) need only
 * one series at a time: a source calls fn per series instead of building
 * the whole per-step vector or copying every raw point into the arena.
 * What fn gets (labels, points, step arrays) is only valid during the call.
 * A source that finds the generic path would behave differently (two
 * series whose label sets collide once __name__ is dropped) stops with
 * PQL__BAIL; the consumer then discards what it folded and evaluates the
 * generic way. */
#define PQL__BAIL 1
typedef int (*ev_vec_fn)(struct ev_ctx *c, const struct ev_series *s, void *ud);
typedef int (*ev_mat_fn)(struct ev_ctx *c, const struct ev_mseries *s, void *ud);
/* Whether e is a shape the stream functions below take (no side effects). */
bool pql__vec_streamable(const struct ev_ctx *c, const struct pql_expr *e);
bool pql__mat_streamable(const struct ev_ctx *c, const struct pql_expr *e);
int pql__stream_vec(struct ev_ctx *c, const struct pql_expr *e, ev_vec_fn fn, void *ud);
/* hdr gets the matrix's frame (range, windows, modifiers; no series) before
 * the first call of fn. */
int pql__mat_header(struct ev_ctx *c, const struct pql_expr *e, struct ev_matrix *hdr);
int pql__stream_mat(struct ev_ctx *c, const struct pql_expr *e, const struct ev_matrix *hdr,
                    ev_mat_fn fn, void *ud);
/* Copies a label set and its strings into the arena. */
struct scry_labels pql__labels_dup(struct ev_ctx *c, const struct scry_labels *ls);
/* The label set without __name__ (and __type__/__unit__), in the arena. */
struct scry_labels pql__drop_name(struct ev_ctx *c, const struct scry_labels *ls);
/* sources, in the files of the node they replace */
int pql__stream_vector_sel(struct ev_ctx *c, const struct pql_expr *e, ev_vec_fn fn, void *ud);
int pql__stream_matrix_sel(struct ev_ctx *c, const struct pql_expr *e, const struct ev_matrix *hdr,
                           ev_mat_fn fn, void *ud);
int pql__matrix_sel_header(struct ev_ctx *c, const struct pql_expr *e, struct ev_matrix *hdr);
bool pql__is_range_fn(const struct pql_expr *e, int *mat_arg);
int pql__stream_range_call(struct ev_ctx *c, const struct pql_expr *e, ev_vec_fn fn, void *ud);
int pql__subquery_header(struct ev_ctx *c, const struct pql_expr *e, struct ev_matrix *hdr);
int pql__stream_subquery(struct ev_ctx *c, const struct pql_expr *e, const struct ev_matrix *hdr,
                         ev_mat_fn fn, void *ud);
int pql__stream_label_replace(struct ev_ctx *c, const struct pql_expr *e, ev_vec_fn fn, void *ud);
/* label_replace(v, dst, repl, src, regex) and label_join(v, dst, sep,
 * src...) of a whole vector into v (promql_eval_label.c). */
int pql__eval_label_replace(struct ev_ctx *c, const struct pql_call *call, struct ev_val *v);
int pql__eval_label_join(struct ev_ctx *c, const struct pql_call *call, struct ev_val *v);

#endif
