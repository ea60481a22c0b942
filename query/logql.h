/* logql.h — LogQL: parser, printer, pipeline and evaluator.
 *
 * lql_parse builds an AST in the caller's arena (compiled regexes live
 * outside it: lql_expr_fini releases them). lql_expr_print writes the
 * canonical text (print → parse → print is stable). lql_eval_logs answers a
 * log query (streams), lql_eval_metric a metric query (matrix, vector or
 * scalar) over a queryable store (core/querier.h). Design and the supported
 * subset: query/README.md, "LogQL". Errors read like Loki's:
 * "parse error at line 1, col 8: syntax error: unexpected IDENTIFIER". */
#ifndef SCRY_QUERY_LOGQL_H
#define SCRY_QUERY_LOGQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/labels.h"
#include "core/matcher.h"
#include "core/querier.h"

#define LQL_MAX_DEPTH 256

/* ---- the AST ---- */

enum lql_filter_op { LQL_CONTAINS, LQL_NOT_CONTAINS, LQL_MATCH, LQL_NOT_MATCH, LQL_PATTERN,
                     LQL_NOT_PATTERN };

/* One value of a line filter: a literal, a regex or ip("cidr"). */
struct lql_fval {
    const char *s; /* unquoted (may hold NULs: use len) */
    size_t len;
    bool ip;       /* ip("...") */
    void *re;      /* pcre2_code* for MATCH/NOT_MATCH */
    void *md;      /* pcre2_match_data* */
    uint8_t ip_addr[16], ip_hi[16]; /* ip: the range [ip_addr, ip_hi], v6-mapped */
    struct lql_pat_part *pat;       /* PATTERN/NOT_PATTERN: the compiled pattern */
    size_t n_pat;
};

enum lql_lf_kind { LQL_LF_AND, LQL_LF_OR, LQL_LF_STR, LQL_LF_NUM, LQL_LF_DUR, LQL_LF_BYTES,
                   LQL_LF_IP };
enum lql_cmp { LQL_EQ, LQL_NE, LQL_GT, LQL_GE, LQL_LT, LQL_LE };

/* A label filter tree: `a="x" and (b > 5 or c=ip("10.0.0.0/8"))`. */
struct lql_lf {
    enum lql_lf_kind kind;
    struct lql_lf *l, *r;   /* AND, OR */
    struct scry_matcher m;  /* STR (name and value borrowed from the arena) */
    const char *name;       /* NUM, DUR, BYTES, IP */
    enum lql_cmp cmp;       /* NUM, DUR, BYTES (EQ/NE for IP) */
    double num;             /* NUM; DUR in seconds; BYTES in bytes */
    const char *text;       /* the literal as written (printing) */
    struct lql_fval ip;     /* IP */
    bool paren;             /* written in parentheses (printing) */
};

struct lql_tmpl; /* a compiled Go-template subset (logql_template.c) */

struct lql_kv {
    const char *name;
    const char *value;   /* json: the path expression; label_format: the source */
    bool is_tmpl;        /* label_format: value is a template, not a label name */
    struct lql_tmpl *tmpl;
    struct scry_matcher *m; /* drop/keep with a matcher, else NULL */
};

enum lql_stage_kind {
    LQL_ST_FILTER,       /* line filter */
    LQL_ST_JSON, LQL_ST_LOGFMT, LQL_ST_REGEXP, LQL_ST_PATTERN, LQL_ST_UNPACK,
    LQL_ST_LABEL_FILTER, LQL_ST_LINE_FORMAT, LQL_ST_LABEL_FORMAT,
    LQL_ST_DROP, LQL_ST_KEEP, LQL_ST_DECOLORIZE,
    LQL_ST_UNWRAP,
};

enum lql_unwrap_conv { LQL_CONV_NONE, LQL_CONV_DURATION, LQL_CONV_DURATION_SECONDS,
                       LQL_CONV_BYTES };

struct lql_pat_part; /* pattern parser pieces */

struct lql_stage {
    enum lql_stage_kind kind;
    union {
        struct {
            enum lql_filter_op op;
            struct lql_fval *vals; /* `or`-joined */
            size_t n_vals;
        } filter;
        struct lql_lf *lf;
        struct {
            struct lql_kv *kv; /* json params, label_format, drop, keep */
            size_t n_kv;
            bool strict, keep_empty; /* logfmt */
        } kv;
        struct {
            const char *src; /* regexp / pattern / line_format source */
            size_t len;
            void *re, *md;   /* regexp */
            const char **names; /* regexp: group names by number (NULL: unnamed) */
            uint32_t n_groups;
            struct lql_pat_part *parts; /* pattern */
            size_t n_parts;
            struct lql_tmpl *tmpl;      /* line_format */
        } text;
        struct {
            const char *label;
            enum lql_unwrap_conv conv;
        } unwrap;
    } u;
};

/* A log pipeline: a stream selector and its stages. */
struct lql_log {
    struct scry_matcher *matchers;
    size_t n_matchers;
    struct lql_stage *stages;
    size_t n_stages;
    /* The query names detected_level somewhere: entries get it, derived
     * as Loki does at ingest (logql_level.c). */
    bool detect_level;
};

enum lql_kind { LQL_LOG, LQL_RANGE, LQL_VAGG, LQL_BINARY, LQL_NUMBER, LQL_VECTOR,
                LQL_LABEL_REPLACE, LQL_PAREN };

enum lql_range_op {
    LQL_COUNT_OVER_TIME, LQL_RATE, LQL_RATE_COUNTER, LQL_BYTES_OVER_TIME, LQL_BYTES_RATE,
    LQL_ABSENT_OVER_TIME, LQL_SUM_OVER_TIME, LQL_AVG_OVER_TIME, LQL_MIN_OVER_TIME,
    LQL_MAX_OVER_TIME, LQL_STDDEV_OVER_TIME, LQL_STDVAR_OVER_TIME, LQL_QUANTILE_OVER_TIME,
    LQL_FIRST_OVER_TIME, LQL_LAST_OVER_TIME, LQL_N_RANGE_OPS
};

enum lql_vagg_op { LQL_SUM, LQL_AVG, LQL_MIN, LQL_MAX, LQL_COUNT, LQL_STDDEV, LQL_STDVAR,
                   LQL_TOPK, LQL_BOTTOMK, LQL_SORT, LQL_SORT_DESC, LQL_N_VAGG_OPS };

enum lql_binop { LQL_OR, LQL_AND, LQL_UNLESS, LQL_CMP_EQ, LQL_CMP_NE, LQL_CMP_GT, LQL_CMP_GE,
                 LQL_CMP_LT, LQL_CMP_LE, LQL_ADD, LQL_SUB, LQL_MUL, LQL_DIV, LQL_MOD,
                 LQL_POW };

struct lql_grouping {
    const char **labels;
    size_t n;
    bool without;
    bool present; /* by/without was written (even empty: `by ()`) */
};

struct lql_expr {
    enum lql_kind kind;
    size_t pos; /* byte offset of the node's first token */
    union {
        struct lql_log log;
        struct {
            enum lql_range_op op;
            struct lql_log log;   /* the pipeline, unwrap included */
            int64_t range_ns, offset_ns;
            double param;         /* quantile_over_time's φ */
            struct lql_grouping grouping; /* `max_over_time(...) by (x)` */
        } range;
        struct {
            enum lql_vagg_op op;
            struct lql_expr *inner;
            double param;         /* topk/bottomk k */
            struct lql_grouping grouping;
        } vagg;
        struct {
            enum lql_binop op;
            bool return_bool;
            struct lql_expr *lhs, *rhs;
            bool on, ignoring;         /* vector matching */
            const char **match;        /* on/ignoring labels */
            size_t n_match;
            int card;                  /* 0 one-to-one, 1 group_left, 2 group_right */
            const char **include;      /* group_x labels */
            size_t n_include;
        } bin;
        double num;                    /* NUMBER, VECTOR */
        struct {
            struct lql_expr *inner;
            const char *dst, *repl, *src, *regex;
            struct scry_matcher re;    /* anchored regex over src's value */
        } lrep;
        struct lql_expr *paren;
    } u;
};

/* true for log queries (streams), false for metric queries. */
bool lql_is_log(const struct lql_expr *e);

/* Parses q[0..len) into *out (arena a). SCRY_EPARSE with err->msg like
 * Loki's "parse error at line L, col C: syntax error: ..." and err->offset. */
int lql_parse(struct scry_arena *a, const char *q, size_t len, struct lql_expr **out,
              struct scry_err *err);
/* Releases compiled regexes; the nodes go with the arena. NULL is a no-op. */
void lql_expr_fini(struct lql_expr *e);
/* Canonical text; parses back to an equivalent tree. */
void lql_expr_print(const struct lql_expr *e, struct scry_buf *out);

/* The lower-case words every line matching the leading `|=` filters of log
 * must contain as whole tokens (logstore/README.md, "Tokens"): the words of
 * each literal that are delimited inside the literal on both sides. Strings
 * live in a. */
void lql_required_tokens(const struct lql_log *log, struct scry_arena *a,
                         struct scry_str **out, size_t *n_out);

/* ---- evaluation ---- */

struct lql_opts {
    int64_t timeout_ms;   /* 0 → 2 min */
    const char *tenant;   /* NULL in single-tenant mode */
    uint64_t max_series;  /* series of a range aggregation; 0 → 500 (Loki's default) */
    bool categorize;      /* streams: keep stream labels apart (categorize-labels) */
    int64_t interval_ns;  /* log queries: entries at least this far apart (0: all) */
};

struct lql_out_entry {
    int64_t t_ns;
    struct scry_str line;
    struct scry_labels meta;   /* categorize: structured metadata */
    struct scry_labels parsed; /* categorize: parsed labels */
};

struct lql_out_stream {
    struct scry_labels labels;
    struct lql_out_entry *entries; /* in the query's direction */
    size_t n_entries;
};

struct lql_point {
    int64_t t_ns;
    double v;
};

struct lql_out_series {
    struct scry_labels labels;
    struct lql_point *points;
    size_t n_points;
};

enum lql_result_type { LQL_RES_STREAMS, LQL_RES_MATRIX, LQL_RES_VECTOR, LQL_RES_SCALAR };

struct lql_result {
    enum lql_result_type type;
    struct lql_out_stream *streams;
    size_t n_streams;
    struct lql_out_series *series;
    size_t n_series;
    double scalar;
    int64_t t_ns;
    uint64_t lines_processed, bytes_processed, entries_returned;
};

/* A log query over [start_ns, end_ns]: at most limit entries over all
 * streams, the newest for backward, the oldest for forward; streams
 * grouped by their final label set. Everything lives in a. */
int lql_eval_logs(const struct lql_opts *opts, struct scry_queryable *store,
                  const struct lql_expr *e, int64_t start_ns, int64_t end_ns, uint64_t limit,
                  bool backward, struct scry_arena *a, struct lql_result *out,
                  struct scry_err *err);

/* A metric query: a matrix with one point per step in [start, end] (range)
 * or, when start == end and instant, a vector/scalar at start.
 * SCRY_ETIMEOUT, SCRY_ELIMIT, SCRY_EINVAL (execution), store errors. */
int lql_eval_metric(const struct lql_opts *opts, struct scry_queryable *store,
                    const struct lql_expr *e, int64_t start_ns, int64_t end_ns, int64_t step_ns,
                    bool instant, struct scry_arena *a, struct lql_result *out,
                    struct scry_err *err);

#endif
