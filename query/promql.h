/* promql.h — the PromQL front end: parser, typed AST, printer, function table.
 *
 * pql_parse() turns a query into a tree of struct pql_expr that lives in the
 * caller's arena (one arena per query, STYLE.md §6). The tree is what the
 * evaluator walks: every node carries its static result type and its byte
 * position range in the query (for annotations and errors), selectors carry
 * compiled matchers, calls point at their entry in the function table.
 *
 * The parser accepts the grammar of Prometheus 3.x with the experimental
 * parser features the conformance suite enables (limitk/limit_ratio,
 * experimental functions, anchored/smoothed, durations as numbers). Errors
 * read like Prometheus's: "1:8: parse error: unexpected right parenthesis ')'"
 * with err->line/col/offset set. See query/README.md, "PromQL front end". */
#ifndef SCRY_QUERY_PROMQL_H
#define SCRY_QUERY_PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/matcher.h"

/* Static result types; the numbering is ours, the names Prometheus's. */
enum pql_type {
    PQL_TYPE_NONE,
    PQL_TYPE_SCALAR,
    PQL_TYPE_VECTOR, /* instant vector */
    PQL_TYPE_MATRIX, /* range vector */
    PQL_TYPE_STRING,
};
/* "scalar", "instant vector", "range vector", "string", "none" */
const char *pql_type_name(enum pql_type t);

enum pql_kind {
    PQL_NUMBER,     /* 1, 0x1f, Inf, 5m (a duration used as a number: seconds) */
    PQL_STRING,     /* "foo", 'foo', `foo` */
    PQL_VECTOR_SEL, /* foo{a="b"} offset 5m @ 100 */
    PQL_MATRIX_SEL, /* foo[5m] (offset/@ live on the inner vector selector) */
    PQL_SUBQUERY,   /* expr[30m:1m] offset 5m @ end() */
    PQL_UNARY,      /* -expr (never around a number literal: that is folded) */
    PQL_BINARY,     /* a + on(x) group_left(y) b */
    PQL_AGGREGATE,  /* sum by (job) (x), topk(3, x) */
    PQL_CALL,       /* rate(x[5m]) */
    PQL_PAREN,      /* (expr) — kept, so printing round-trips */
};

/* Binary (and unary: ADD/SUB) operators. */
enum pql_op {
    PQL_OP_ADD, PQL_OP_SUB, PQL_OP_MUL, PQL_OP_DIV, PQL_OP_MOD, PQL_OP_POW, PQL_OP_ATAN2,
    PQL_OP_EQLC, PQL_OP_NEQ, PQL_OP_GTR, PQL_OP_LSS, PQL_OP_GTE, PQL_OP_LTE,
    PQL_OP_AND, PQL_OP_OR, PQL_OP_UNLESS,
    PQL_OP_TRIM_UPPER, /* </ : native histogram trim (experimental) */
    PQL_OP_TRIM_LOWER, /* >/ */
};
const char *pql_op_str(enum pql_op op);        /* "+", "==", "and", "atan2" */
bool pql_op_is_comparison(enum pql_op op);
bool pql_op_is_set(enum pql_op op);

enum pql_agg {
    PQL_AGG_SUM, PQL_AGG_AVG, PQL_AGG_COUNT, PQL_AGG_MIN, PQL_AGG_MAX, PQL_AGG_GROUP,
    PQL_AGG_STDDEV, PQL_AGG_STDVAR, PQL_AGG_TOPK, PQL_AGG_BOTTOMK, PQL_AGG_COUNT_VALUES,
    PQL_AGG_QUANTILE, PQL_AGG_LIMITK, PQL_AGG_LIMIT_RATIO,
};
const char *pql_agg_str(enum pql_agg op);      /* "sum", "count_values" */
bool pql_agg_has_param(enum pql_agg op);

enum pql_card { PQL_CARD_ONE_TO_ONE, PQL_CARD_MANY_TO_ONE, PQL_CARD_ONE_TO_MANY, PQL_CARD_MANY_TO_MANY };

/* The @ modifier. */
enum pql_at { PQL_AT_NONE, PQL_AT_TIMESTAMP, PQL_AT_START, PQL_AT_END };

/* Byte offsets into the query, [start, end). */
struct pql_pos {
    uint32_t start, end;
};

/* A function of the PromQL library (promql_functions.c), with Prometheus's
 * arity rule: variadic 0 means exactly n_args arguments; otherwise at least
 * n_args - 1, at most n_args - 1 + variadic (unbounded when variadic is -1),
 * the extra ones of the last argument's type. */
#define PQL_FUNC_MAX_ARGS 6
struct pql_func {
    const char *name;
    enum pql_type arg_types[PQL_FUNC_MAX_ARGS];
    int n_args;
    int variadic;
    enum pql_type ret;
    bool experimental;
};
/* The entry for name, or NULL. The table is const and sorted by name. */
const struct pql_func *pql_function(const char *name);
/* The whole table (for docs and tests). */
const struct pql_func *pql_functions(size_t *n_out);

struct pql_expr;

/* Experimental duration expressions: `[5m+step()]`, `offset min_of(step(), 1s)`,
 * `[30m:2*15s]`. Values are seconds (a duration literal 5m is 300); step()
 * and range() are the query's step and end-start. A selector or subquery
 * whose duration is written this way keeps the expression (for printing and
 * for evaluation); when it uses neither step() nor range() the parser also
 * folds it into the plain *_ms field. */
enum pql_dur_kind {
    PQL_DUR_NUMBER,  /* val (seconds, a sign folded in); duration: written as 5m, not 300 */
    PQL_DUR_STEP,    /* step() */
    PQL_DUR_RANGE,   /* range() */
    PQL_DUR_UNARY,   /* -lhs (a unary + is dropped, as Prometheus does) */
    PQL_DUR_BINARY,  /* lhs op rhs with op ADD SUB MUL DIV MOD POW */
    PQL_DUR_MIN_OF,  /* min_of(lhs, rhs) */
    PQL_DUR_MAX_OF,  /* max_of(lhs, rhs) */
    PQL_DUR_PAREN,   /* (lhs) */
};
struct pql_dur_expr {
    enum pql_dur_kind kind;
    double val;
    bool duration;
    enum pql_op op;
    struct pql_dur_expr *lhs, *rhs;
    uint32_t pos;    /* byte offset where it starts in the query */
    uint32_t depth;  /* height of the subtree, 1 for a leaf (≤ PQL_MAX_DEPTH) */
};
/* Evaluates d for a query with the given step and range (end - start), into
 * ms (rounded like Go's time.Duration conversion). SCRY_EINVAL when the
 * result is not finite. */
int pql_dur_eval(const struct pql_dur_expr *d, int64_t step_ms, int64_t range_ms, int64_t *out_ms);
bool pql_dur_is_const(const struct pql_dur_expr *d);
void pql_dur_print(const struct pql_dur_expr *d, struct scry_buf *out);

struct pql_vector_sel {
    const char *name;            /* metric name written outside the braces, or NULL */
    struct scry_matcher *matchers; /* compiled; with a name, the last is __name__="name" */
    size_t n_matchers;
    int64_t offset_ms;           /* offset 5m → 300000; negative allowed */
    struct pql_dur_expr *offset_expr; /* offset written as a duration expression, or NULL */
    enum pql_at at;
    int64_t at_ms;               /* when at == PQL_AT_TIMESTAMP */
    bool anchored, smoothed;     /* experimental range-selector modifiers */
};

struct pql_matrix_sel {
    struct pql_expr *vs;         /* a PQL_VECTOR_SEL (carries offset and @) */
    int64_t range_ms;
    struct pql_dur_expr *range_expr; /* or NULL */
};

struct pql_subquery {
    struct pql_expr *expr;
    int64_t range_ms, step_ms;   /* step 0: the default evaluation interval */
    int64_t offset_ms;
    struct pql_dur_expr *range_expr, *step_expr, *offset_expr; /* or NULL */
    enum pql_at at;
    int64_t at_ms;
};

struct pql_unary {
    enum pql_op op;              /* PQL_OP_ADD or PQL_OP_SUB */
    struct pql_expr *expr;
};

struct pql_vector_matching {
    enum pql_card card;
    bool on;                     /* on(...) rather than ignoring(...) */
    const char **labels;         /* the on/ignoring labels */
    size_t n_labels;
    const char **include;        /* group_left/group_right labels */
    size_t n_include;
    /* Experimental fill modifiers: fill(v) sets both sides, fill_left(v) /
     * fill_right(v) one: the value a missing series on that side takes. */
    bool fill_lhs_set, fill_rhs_set;
    double fill_lhs, fill_rhs;
};

struct pql_binary {
    enum pql_op op;
    struct pql_expr *lhs, *rhs;
    bool return_bool;
    /* NULL unless both sides are instant vectors. For set operators the
     * card is MANY_TO_MANY. */
    struct pql_vector_matching *vm;
    uint32_t op_pos;             /* byte offset of the operator */
};

struct pql_aggregate {
    enum pql_agg op;
    struct pql_expr *expr;
    struct pql_expr *param;      /* topk/bottomk/quantile/count_values/limitk/limit_ratio */
    const char **grouping;
    size_t n_grouping;
    bool without;
};

struct pql_call {
    const struct pql_func *func;
    struct pql_expr **args;
    size_t n_args;
};

/* Queries nest at most this deep (parentheses, calls, operators): the
 * parser, checker, printer and evaluator recurse over the tree, and a
 * bound keeps a hostile query from exhausting the stack. */
#define PQL_MAX_DEPTH 1000

struct pql_expr {
    enum pql_kind kind;
    enum pql_type type;          /* static result type */
    struct pql_pos pos;
    uint32_t depth;              /* height of the subtree, 1 for a leaf */
    union {
        struct {
            double val;
            bool duration;       /* written as a duration: print it as one */
        } number;
        struct {
            const char *val;     /* unquoted, NUL-terminated (may contain NULs: use len) */
            size_t len;
        } string;
        struct pql_vector_sel vs;
        struct pql_matrix_sel ms;
        struct pql_subquery sq;
        struct pql_unary unary;
        struct pql_binary bin;
        struct pql_aggregate agg;
        struct pql_call call;
        struct pql_expr *paren;
    } u;
};

/* Parses q[0..len) into *out (nodes, strings and matcher names in a).
 * Returns 0, or SCRY_EPARSE with err->msg like Prometheus's error
 * ("1:8: parse error: unexpected right parenthesis ')'"), err->line/col
 * (1-based, column in bytes) and err->offset (byte) set. On success the
 * caller must call pql_expr_fini(*out) before destroying the arena (it
 * frees the compiled regexes); on failure nothing needs releasing. */
int pql_parse(struct scry_arena *a, const char *q, size_t len, struct pql_expr **out,
              struct scry_err *err);

/* Releases what the tree owns outside the arena (compiled matchers).
 * NULL is a no-op. The nodes themselves stay in the arena. */
void pql_expr_fini(struct pql_expr *e);

/* Appends the canonical text of e, as Prometheus's String() (and so
 * /api/v1/format_query) writes it: `sum by (job) (rate(x{a="b"}[5m]))`.
 * Printing, parsing and printing again gives the same text. */
void pql_expr_print(const struct pql_expr *e, struct scry_buf *out);

/* Calls fn on e and then its children, depth first, in source order; stops
 * and returns the first non-zero value fn returns. */
int pql_expr_walk(struct pql_expr *e, int (*fn)(struct pql_expr *e, void *ud), void *ud);

/* Go's strconv.Quote for s[0..len): "a\"b\n" — used by the printer for
 * strings and matcher values, and by the test runner. */
void pql_quote(const char *s, size_t len, struct scry_buf *out);

/* Go's strconv.Unquote for a "…", '…' or `…` literal (with the quotes),
 * into the arena. SCRY_EPARSE on a bad escape. */
int pql_unquote(struct scry_arena *a, const char *s, size_t len, const char **out,
                size_t *out_len, struct scry_err *err);

#endif
