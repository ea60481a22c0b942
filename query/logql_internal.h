/* logql_internal.h — shared by the logql*.c files only.
 *
 * logql_lex.c        tokens
 * logql_parse.c      expressions: metric queries, aggregations, binary ops
 * logql_parse_log.c  stream selectors and pipeline stages
 * logql_print.c      canonical text
 * logql_template.c   the Go text/template subset of line_format/label_format
 * logql_stage.c      running a pipeline over one entry (filters, formatters)
 * logql_parsers.c    json, logfmt, regexp, pattern, unpack
 * logql_eval.c       log queries and range aggregations
 * logql_eval_vec.c   vector aggregations, binary operators */
#ifndef SCRY_QUERY_LOGQL_INTERNAL_H
#define SCRY_QUERY_LOGQL_INTERNAL_H

#include "query/logql.h"

/* ---- lexer ---- */

enum lql_tok {
    T_EOF, T_ERR, T_IDENT, T_STRING, T_NUMBER, T_DURATION, T_BYTES, T_FLAG,
    T_LBRACE, T_RBRACE, T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA, T_DOT,
    T_PIPE, T_PIPE_EQ, T_PIPE_RE, T_NEQ, T_NRE, T_RE, T_EQ, T_EQEQ,
    T_GT, T_GE, T_LT, T_LE, T_ADD, T_SUB, T_MUL, T_DIV, T_MOD, T_POW,
    T_PIPE_PAT, T_NPAT, /* |> !> */
};

struct lql_token {
    enum lql_tok t;
    size_t pos, len; /* bytes of the token in the query */
};

struct lql_lexer {
    const char *in;
    size_t len, pos;
};

void lql__lex_next(struct lql_lexer *l, struct lql_token *t);

/* ---- parser state ---- */

struct lql_parser {
    struct scry_arena *a;
    const char *q;
    size_t len;
    struct lql_lexer lx;
    struct lql_token tok;  /* current */
    struct scry_err *err;
    int depth;
    bool failed;
};

void lql__advance(struct lql_parser *p);
/* Records "parse error at line L, col C: <msg>" at byte pos (first wins). */
int lql__fail(struct lql_parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "syntax error: unexpected X" at the current token. */
int lql__unexpected(struct lql_parser *p, const char *expecting);
bool lql__tok_is(const struct lql_parser *p, const char *word);
int lql__expect(struct lql_parser *p, enum lql_tok t, const char *what);
/* Unquotes the current T_STRING into the arena. */
int lql__string(struct lql_parser *p, const char **out, size_t *len);
int lql__duration(struct lql_parser *p, int64_t *out_ns);

/* The stream selector and pipeline at the current token ("{"). */
int lql__parse_log(struct lql_parser *p, struct lql_log *out, bool allow_unwrap);
/* Stages after the selector (may be none); stops at a token that starts none. */
int lql__parse_stages(struct lql_parser *p, struct lql_log *log, bool allow_unwrap);
void lql__log_fini(struct lql_log *log);
/* unwrap is the last stage but label filters, and appears once. */
int lql__check_unwrap(struct lql_parser *p, const struct lql_log *log);

/* Go's time.ParseDuration into seconds; false on bad syntax. */
bool lql__parse_go_duration(const char *s, size_t len, double *out_s);
/* humanize.ParseBytes: 1KB = 1000, 1KiB = 1024. */
bool lql__parse_bytes(const char *s, size_t len, double *out);
/* ip("...") literal: a single address, a CIDR or a range a-b. */
bool lql__ip_parse(const char *s, size_t len, struct lql_fval *out);
bool lql__ip_match(const struct lql_fval *f, const char *s, size_t len);
/* Line filter regex: unanchored PCRE2 (NULL and a message on failure). */
void *lql__re_compile(const char *src, size_t len, void **md, char *why, size_t why_len,
                      size_t *err_off);
bool lql__re_match(void *re, void *md, const char *s, size_t len);
void lql__re_free(void *re, void *md);

/* ---- templates ---- */

int lql__tmpl_compile(struct scry_arena *a, const char *src, size_t len, struct lql_tmpl **out,
                      char *why, size_t why_len);
void lql__tmpl_fini(struct lql_tmpl *t);

/* ---- the per-entry pipeline ---- */

enum lql_lbl_kind { LQL_LBL_STREAM, LQL_LBL_META, LQL_LBL_PARSED };

struct lql_lbl {
    const char *name;
    const char *val;
    size_t vlen;
    uint8_t kind; /* enum lql_lbl_kind */
    bool dead;    /* dropped or overridden */
};

/* The state of one entry as it moves through the stages. Strings live in
 * ea, a scratch arena reset for every entry (no malloc per entry once warm). */
struct lql_row {
    struct scry_arena *ea;
    struct lql_lbl *v;
    size_t n, cap;
    const char *line;
    size_t line_len;
    int64_t t_ns;
    double value;      /* unwrap */
    bool has_value;
    /* Parser hints: when want is set, parsers extract only these names
     * (Loki's parser hints); NULL: every field. */
    const char *const *want;
    size_t n_want;
};

/* Whether a parser should extract the field that becomes label name. */
bool lql__row_wants(const struct lql_row *r, const char *name, size_t len);
/* The labels a metric query grouped `by (g)` needs from parsers, or false
 * when a later stage may read any label (templates, keep, label_format). */
bool lql__parser_hints(const struct lql_log *log, const struct lql_grouping *g,
                       struct scry_arena *a, const char *const **out, size_t *n_out);

/* Label lookup (last live one wins); NULL when absent. */
const struct lql_lbl *lql__row_get(const struct lql_row *r, const char *name);
/* Sets (overrides) a label; val is copied into the scratch arena unless
 * borrowed is true, which promises val[vlen] == 0 and that val outlives the
 * row (label sets hand values out as C strings). */
void lql__row_set(struct lql_row *r, const char *name, size_t nlen, const char *val,
                  size_t vlen, enum lql_lbl_kind kind, bool borrowed);
void lql__row_del(struct lql_row *r, const char *name);

/* Adds detected_level to r, derived from its stream labels, structured
 * metadata and line as Loki 3 does at ingest (logql_level.c). */
void lql__detect_level(struct lql_row *r);
/* Runs stages [0, n) on r. false when the entry is filtered out. */
bool lql__run_stages(const struct lql_stage *st, size_t n, struct lql_row *r);
/* Renders a template for r into out (reset first). */
void lql__tmpl_exec(const struct lql_tmpl *t, const struct lql_row *r, struct scry_buf *out);

/* Parsers (logql_parsers.c): add labels to r; on failure set r->err. */
void lql__parse_json(const struct lql_stage *st, struct lql_row *r);
void lql__parse_logfmt(const struct lql_stage *st, struct lql_row *r);
void lql__parse_regexp(const struct lql_stage *st, struct lql_row *r);
void lql__parse_pattern(const struct lql_stage *st, struct lql_row *r);
int lql__pattern_compile(struct scry_arena *a, const char *src, size_t len,
                         struct lql_pat_part **out, size_t *n_out, char *why, size_t why_len);
/* The pattern of a `|>`/`!>` line filter: no named capture needed. */
int lql__pattern_compile_filter(struct scry_arena *a, const char *src, size_t len,
                                struct lql_pat_part **out, size_t *n_out, char *why,
                                size_t why_len);
/* Whether a line matches a `|>` pattern (Loki's pattern Matcher.Test). */
bool lql__pattern_test(const struct lql_pat_part *p, size_t n, const char *s, size_t len);

/* The label set of r (live labels, sorted, __error__ added), in a. With
 * only_kind >= 0, only labels of that kind. */
struct scry_labels lql__row_labels(const struct lql_row *r, struct scry_arena *a, int only_kind);
/* Hash of the live labels of r (same set → same hash), without allocating. */
uint64_t lql__row_hash(const struct lql_row *r);

/* ---- evaluator internals ---- */

/* A series over the query's steps: v[i] is valid where has[i]. */
struct lql_ser {
    struct scry_labels labels;
    double *v;
    uint8_t *has;
};

struct lql_vec {
    struct lql_ser *s;
    size_t n, cap;
    bool scalar; /* one series, no labels: a scalar per step */
};

struct lql_ctx {
    const struct lql_opts *opts;
    struct scry_queryable *store;
    struct scry_arena *a;
    struct scry_err *err;
    int64_t start_ns, step_ns;
    size_t n_steps;
    double deadline_s;
    uint64_t lines, bytes; /* processed (stats) */
};

/* A map from label sets to indexes (chained by hash). */
struct lql_smap {
    uint32_t *head; /* bucket → index + 1 */
    uint32_t *next; /* index → next index + 1 */
    uint64_t *hash;
    size_t n_buckets, cap;
};
void lql__smap_init(struct lql_smap *m);
void lql__smap_fini(struct lql_smap *m);
/* Index of ls among the first n labels of sets[] (stride-free accessor
 * get(ud, i)), or -1. */
long lql__smap_find(const struct lql_smap *m, uint64_t h, const struct scry_labels *ls,
                    const struct scry_labels *(*get)(void *ud, size_t i), void *ud);
void lql__smap_add(struct lql_smap *m, uint64_t h, size_t idx);

int lql__check_deadline(struct lql_ctx *c);

/* Running a selector (logql_eval.c): the querier, the stream set and a row
 * reused across entries. */
struct lql_scan {
    struct lql_ctx *c;
    const struct lql_log *log;
    struct scry_querier *q;
    struct scry_stream_set *ss;
    struct lql_row row;
    /* the current stream's labels as row labels (value lengths measured
     * once per stream, not per entry) */
    const struct scry_labels *cache_ls;
    struct lql_lbl *stream_lbls;
    size_t cap_lbls;
};

/* count_only: the caller counts the entries passing the pipeline, one `|=`
 * literal (scry_select_hints.count_only); entries may then stand for many
 * (scry_entry_iter_ops.counted). newest_limit > 0: a backward log query
 * keeps only that many entries (scry_select_hints.newest_limit). Both are
 * passed on only when the pipeline is exactly one `|=` literal. */
int lql__scan_open(struct lql_scan *s, struct lql_ctx *c, const struct lql_log *log,
                   int64_t mint, int64_t maxt, bool backward, bool count_only,
                   uint64_t newest_limit);
void lql__scan_close(struct lql_scan *s);
/* Loads entry e of a stream with labels ls into the row and runs the
 * pipeline; false when filtered out. */
bool lql__scan_entry(struct lql_scan *s, const struct scry_labels *ls,
                     const struct scry_log_entry *e);
int lql__scan_err(struct lql_scan *s, struct scry_entry_iter *it);
struct lql_ser *lql__vec_add(struct lql_ctx *c, struct lql_vec *v, struct scry_labels ls);
int lql__eval_node(struct lql_ctx *c, const struct lql_expr *e, struct lql_vec *out);
/* push: a grouping to apply to the samples before aggregating over time,
 * when the range aggregation has none of its own (`sum by (x) (count_over_time
 * (...))` groups by x while counting: the sum of additive per-series
 * aggregates is the aggregate of the union). NULL: none. */
int lql__eval_range(struct lql_ctx *c, const struct lql_expr *e, const struct lql_grouping *push,
                    struct lql_vec *out);
int lql__eval_vagg(struct lql_ctx *c, const struct lql_expr *e, struct lql_vec *out);
int lql__eval_binary(struct lql_ctx *c, const struct lql_expr *e, struct lql_vec *out);

/* A piece of a compiled pattern (logql_parsers.c). */
struct lql_pat_part {
    const char *lit;   /* literal text, or NULL for a capture */
    size_t len;
    const char *name;  /* capture name; "_" is unnamed */
};

/* The counting fast path (logql_eval_count.c): a `by` group key straight
 * from a pattern's captures. */
struct lql_fast {
    size_t lead;                   /* leading line filter stages */
    const struct lql_stage *pat;
    const struct lql_grouping *g;
    int *src;                      /* per `by` label: capture part index, -1: stream label */
    const char **sval;             /* per `by` label: the stream's value (src -1) */
    size_t *slen;
    const struct scry_labels *cur; /* the stream sval is for */
    bool stream_ok;
};
/* Whether log's pipeline and g allow the fast key; fills f. */
bool lql__fast_init(struct lql_fast *f, const struct lql_log *log, const struct lql_grouping *g,
                    struct scry_arena *a);
/* Sets the stream of the next entries; false when its entries must take
 * the full pipeline. */
bool lql__fast_stream(struct lql_fast *f, const struct scry_labels *ls);
/* The group key of a line (after the leading filters passed). */
void lql__fast_key(const struct lql_fast *f, const char *line, size_t len, struct scry_buf *key);

/* Labels of a series kept by `by` or left by `without`; in a. */
struct scry_labels lql__labels_group(const struct scry_labels *ls, const char *const *names,
                                     size_t n, bool without, struct scry_arena *a);

const char *lql__range_op_name(enum lql_range_op op);
const char *lql__vagg_op_name(enum lql_vagg_op op);
const char *lql__binop_name(enum lql_binop op);

#endif
