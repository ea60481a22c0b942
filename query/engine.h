/* engine.h — evaluating PromQL: the seam between the parser (promql.h),
 * the stores (core/querier.h) and the callers (the Prometheus HTTP API,
 * the conformance runner, `scry query`).
 *
 * An evaluation takes a parsed expression, a queryable store and a
 * per-query arena; the result, its label sets and its warnings live in the
 * arena. Errors follow the Prometheus API's classes:
 *   SCRY_ETIMEOUT  the query ran longer than opts.timeout_ms    → 503 timeout
 *   SCRY_ELIMIT    more than opts.max_samples samples loaded     → 422 execution
 *   SCRY_EINVAL    an execution error (many-to-many matching,
 *                  duplicate output series, bad function args…)  → 422 execution
 *   SCRY_EIO / SCRY_ECORRUPT  the store failed                   → 500 internal
 * with err->msg the text Prometheus gives (what `expect fail msg:` in the
 * conformance files compares against). Thread-safe: evaluations share
 * nothing but the store. */
#ifndef SCRY_QUERY_ENGINE_H
#define SCRY_QUERY_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/labels.h"
#include "core/querier.h"
#include "query/promql.h"

struct pql_engine_opts {
    int64_t lookback_delta_ms; /* 0 → 5 min */
    int64_t timeout_ms;        /* 0 → 2 min */
    uint64_t max_samples;      /* 0 → 50 000 000 */
    const char *tenant;        /* passed to the store; NULL in single-tenant mode */
    /* false (Prometheus's default): a function or operator that makes a new
     * value drops __name__ at once. true (Prometheus's feature flag
     * promql-delayed-name-removal, which its test harness enables): it only
     * marks the series and the name goes at the very end of the query. */
    bool delayed_name_removal;
    /* Helper threads (pql_pool_create); NULL: the query runs on the
     * caller's thread alone. Borrowed; shared by concurrent queries. */
    struct pql_pool *pool;
};

/* A pool of helper threads that queries share: while the query's thread
 * evaluates, a helper reads and decodes the next series from the store.
 * A query takes a helper only when one is idle (it never waits for one)
 * and only once it has read enough to pay for the hand-over; results are
 * identical to a run without the pool (same evaluation order). threads
 * counts the callers' thread too: 0 → pql_pool_default_threads(), 1 → no
 * pool (*out = NULL, which the engine takes as "one thread"). Destroy it
 * after every query that uses it has returned; NULL is a no-op. */
struct pql_pool;
int pql_pool_create(struct pql_pool **out, unsigned threads, struct scry_err *err);
void pql_pool_destroy(struct pql_pool *p);
/* How many times a query got a helper so far (0 for NULL). */
unsigned long pql_pool_jobs(struct pql_pool *p);
/* The online CPUs, at least 1, at most 16. */
unsigned pql_pool_default_threads(void);

struct pql_point {
    int64_t t_ms;
    double v;
};

struct pql_out_series {
    struct scry_labels labels;
    struct pql_point *points; /* one for an instant vector; sorted by time for a matrix */
    size_t n_points;
};

struct pql_result {
    enum pql_type type; /* PQL_TYPE_SCALAR, _VECTOR, _MATRIX or _STRING */
    double scalar;      /* scalar: the value at t */
    int64_t t_ms;       /* scalar and string: the evaluation time */
    const char *string;
    struct pql_out_series *series;
    size_t n_series;
    const char **warnings; /* "PromQL warning: …" texts, as Prometheus words them */
    size_t n_warnings;
    const char **infos;
    size_t n_infos;
};

/* An instant query at t_ms. */
int pql_eval_instant(const struct pql_engine_opts *opts, struct scry_queryable *store,
                     const struct pql_expr *e, int64_t t_ms, struct scry_arena *a,
                     struct pql_result *out, struct scry_err *err);

/* A range query: a matrix with one point per step from start to end (or a
 * scalar/string expression evaluated as a matrix, as Prometheus does). */
int pql_eval_range(const struct pql_engine_opts *opts, struct scry_queryable *store,
                   const struct pql_expr *e, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                   struct scry_arena *a, struct pql_result *out, struct scry_err *err);

#endif
