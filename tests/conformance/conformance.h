/* conformance.h — the PromQL conformance runner: the model of a parsed
 * .test file, the in-memory store the evaluator runs against, and the
 * seam through which an evaluator plugs in.
 *
 * File semantics: /work/shared/conformance/promql/FORMAT.md. A file is
 * parsed whole first (conf_file_parse), then its commands run in order
 * against one memstore. Without an evaluator (or with --parse-only) the
 * runner only checks that every load, query and expected result parses. */
#ifndef SCRY_TESTS_CONFORMANCE_H
#define SCRY_TESTS_CONFORMANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/labels.h"
#include "core/querier.h"
#include "query/promql.h"
#include "query/promql_series.h"

/* ---- the test file ------------------------------------------------------ */

enum conf_cmd_kind { CONF_LOAD, CONF_CLEAR, CONF_EVAL_INSTANT, CONF_EVAL_RANGE };

struct conf_series_line {
    int line;                      /* 1-based line in the file */
    const char *text;
    struct pql_series_desc desc;   /* parsed; valid when parse_rc == 0 */
    int parse_rc;
    struct scry_err err;
    bool start_ts;                 /* an `@st` line (start timestamps, experimental) */
};

enum conf_expect_kind { CONF_EXP_FAIL, CONF_EXP_WARN, CONF_EXP_INFO, CONF_EXP_NO_WARN,
                        CONF_EXP_NO_INFO, CONF_EXP_ORDERED };

struct conf_expect {
    enum conf_expect_kind kind;
    const char *msg;               /* exact message (msg:), or NULL */
    const char *regex;             /* RE2 pattern (regex:), unanchored, or NULL */
};

struct conf_cmd {
    enum conf_cmd_kind kind;
    int line;
    /* load */
    int64_t step_ms;
    bool with_nhcb;
    struct conf_series_line *series;
    size_t n_series;
    /* eval */
    const char *query;
    int64_t at_ms;                 /* instant */
    int64_t start_ms, end_ms, step_eval_ms; /* range */
    struct conf_expect *expects;
    size_t n_expects;
    bool expect_fail, ordered;
    bool has_range_vector;         /* expect range vector from .. to .. step .. */
    int64_t rv_start_ms, rv_end_ms, rv_step_ms;
    bool has_string;
    const char *string_val;
    bool has_scalar;
    double scalar;
    struct conf_series_line *results; /* expected series */
    size_t n_results;
};

struct conf_file {
    const char *path, *name;       /* name: the base name, as EVAL_TIERS.md uses */
    struct conf_cmd *cmds;
    size_t n_cmds;
};

/* Parses the whole file into f (allocated in a). A structural error (an
 * unknown command, a bad header) fails with SCRY_EPARSE and "file:line: …";
 * series lines that do not parse are recorded per line (parse_rc) so the
 * caller can report them one by one. */
int conf_file_parse(struct scry_arena *a, const char *path, struct conf_file *f,
                    struct scry_err *err);

/* Prometheus config-style durations for headers ("0", "5m", "1h30m"). */
int conf_parse_duration(const char *s, size_t len, int64_t *out_ms);

/* ---- the in-memory store (memstore.c) ----------------------------------- */

struct conf_sample {
    int64_t t_ms;
    double v;
    const struct pql_histogram *h; /* non-NULL: a histogram sample (v unused) */
};

struct conf_series {
    struct scry_labels labels;     /* sorted; strings owned by the store */
    struct conf_sample *samples;   /* sorted by time, unique timestamps */
    size_t n_samples, cap;
};

struct conf_memstore;

/* A store of float (and histogram) samples, sorted by label set, that
 * implements scry_queryable/scry_querier: select_series with matchers,
 * label_names, label_values. create/destroy; not thread-safe. */
struct conf_memstore *conf_memstore_create(void);
void conf_memstore_destroy(struct conf_memstore *ms); /* NULL is a no-op */
void conf_memstore_clear(struct conf_memstore *ms);
/* Appends one sample; SCRY_EINVAL for an out-of-order timestamp or a
 * different value at an existing timestamp (as the Go TSDB refuses). */
int conf_memstore_append(struct conf_memstore *ms, const struct scry_labels *ls, int64_t t_ms,
                         double v, const struct pql_histogram *h, struct scry_err *err);
/* Replaces the series of ls by exactly these samples of one load block. */
int conf_memstore_load(struct conf_memstore *ms, const struct conf_series_line *line,
                       int64_t step_ms, struct scry_err *err);
struct scry_queryable *conf_memstore_queryable(struct conf_memstore *ms);
size_t conf_memstore_n_series(const struct conf_memstore *ms);
const struct conf_series *conf_memstore_series(const struct conf_memstore *ms, size_t i);

/* ---- the evaluator seam --------------------------------------------------- */

struct conf_point {
    int64_t t_ms;
    double v;
    const struct pql_histogram *h;
};

struct conf_result_series {
    struct scry_labels labels;
    struct conf_point *points;     /* one for an instant vector */
    size_t n_points;
};

struct conf_result {
    enum pql_type type;            /* SCALAR, VECTOR, MATRIX or STRING */
    double scalar;
    const char *string;
    struct conf_result_series *series;
    size_t n_series;
    const char **warnings;         /* "PromQL warning: … (1:5)" */
    size_t n_warnings;
    const char **infos;
    size_t n_infos;
};

/* What an evaluator implements. Results live in the arena a. Return 0, or
 * a negative SCRY_E* with err->msg the query error text that `expect fail
 * msg:` lines are compared against. */
struct conf_engine {
    int (*instant)(void *ud, struct scry_queryable *store, const struct pql_expr *e,
                   const char *query, int64_t t_ms, struct scry_arena *a, struct conf_result *out,
                   struct scry_err *err);
    int (*range)(void *ud, struct scry_queryable *store, const struct pql_expr *e,
                 const char *query, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                 struct scry_arena *a, struct conf_result *out, struct scry_err *err);
    void *ud;
};

/* The engine linked into this runner, or NULL while there is none. */
const struct conf_engine *conf_engine_default(void);

/* ---- checks (compare.c) and running an eval (run_eval.c) ---------------- */

/* FORMAT.md §6.1 float equality (relative 1e-6; exact against 0; NaN ==
 * NaN; stale only equals stale). */
bool conf_float_eq(double actual, double expected);
/* §6.4: schema, counts, sum, zero bucket, non-zero buckets by index, custom
 * bounds when expected has them, the reset hint when it was written. */
bool conf_histogram_eq(const struct pql_histogram *actual, const struct pql_histogram *expected);
/* §5.2: rc/msg of an evaluation against the eval's `expect fail`. */
bool conf_check_error(const struct conf_cmd *c, int rc, const char *msg, char *why, size_t n);
/* §5.4: warnings and infos against expect warn/info/no_warn/no_info. */
bool conf_check_annotations(const struct conf_cmd *c, const struct conf_result *r, char *why,
                            size_t n);
/* §6: a result against the expected scalar/string/series. matrix: compare
 * as a range result with points at start + i*step (up to end). */
bool conf_check_result(const struct conf_cmd *c, const struct conf_result *r, bool matrix,
                       int64_t start_ms, int64_t end_ms, int64_t step_ms, char *why, size_t n);

/* Runs one eval with the engine against the store, with every variant the
 * Go runner runs (§5.3: the query as written, the @-pinned re-prints at five
 * times, the range-mode re-check). Returns true when all pass; otherwise
 * false with the first reason in why. */
bool conf_run_eval(const struct conf_engine *eng, struct scry_queryable *store,
                   const struct conf_cmd *c, struct scry_arena *a, char *why, size_t n);

#endif
