/* promql_parse_internal.h — shared by the promql_parse*.c files only: the
 * parser state and the helpers each part calls in the others. */
#ifndef SCRY_QUERY_PROMQL_PARSE_INTERNAL_H
#define SCRY_QUERY_PROMQL_PARSE_INTERNAL_H

#include "query/promql_internal.h"

struct mlist {
    struct scry_matcher *m;
    size_t n;
    struct mlist *next;
};

struct parser {
    struct scry_arena *a;
    struct pql_lexer lex;
    const char *q;
    size_t len;
    struct pql_token tok;
    bool have_tok;
    uint32_t last_closing;
    int in_agg;                         /* inside an aggregation's parentheses */
    const char *dur_ctx, *dur_expected; /* error context inside a duration */
    int rdepth;                         /* recursion depth of parse_expr/parse_dur */
    bool failed;
    struct scry_err *err;
    struct mlist *matchers; /* every compiled matcher array, for cleanup */
};

/* Growable pointer arrays in the arena (lists here are short). */
struct vec {
    void **v;
    size_t n, cap;
};

/* The precedence of ^ (binop_prec in promql_parse.c); unary signs bind
 * just below it. */
#define PREC_POW 6

/* promql_parse.c */
enum pql_op pql__binop(enum pql_tok t);
struct pql_token pql__consume(struct parser *p);
bool pql__duration_value(struct parser *p, const struct pql_token *t, int64_t *out_ms);
void pql__failf(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool pql__grow(struct parser *p, struct pql_expr *parent, const struct pql_expr *child);
struct pql_expr *pql__node(struct parser *p, enum pql_kind kind, enum pql_type type, uint32_t start,
                           uint32_t end);
bool pql__number_value(struct parser *p, const struct pql_token *t, double *out);
struct pql_expr *pql__parse_expr(struct parser *p, int min_prec);
struct pql_token *pql__peek(struct parser *p);
enum pql_tok pql__peek_type(struct parser *p);
const char *pql__tok_text(struct parser *p, const struct pql_token *t);
void *pql__unexpected(struct parser *p, const char *context, const char *expected);
void pql__vec_push(struct parser *p, struct vec *v, void *x);

/* promql_parse_sel.c */
struct pql_expr *pql__parse_postfix(struct parser *p, struct pql_expr *e);
struct pql_expr *pql__parse_selector(struct parser *p, const struct pql_token *name_tok);
const char *pql__unquote_tok(struct parser *p, const struct pql_token *t);

/* promql_parse_dur.c */
struct pql_dur_expr *pql__apply_sign(struct parser *p, const struct pql_token *op,
                                     struct pql_dur_expr *x);
bool pql__dur_atom_start(struct parser *p);
void *pql__dur_unexpected(struct parser *p);
bool pql__parse_bracket_duration(struct parser *p, int64_t *ms, struct pql_dur_expr **expr);
struct pql_dur_expr *pql__parse_dur(struct parser *p, int min_prec);
struct pql_dur_expr *pql__parse_dur_atom(struct parser *p);

/* promql_parse_agg.c */
struct pql_expr *pql__parse_aggregate(struct parser *p);
struct pql_expr *pql__parse_call(struct parser *p);
bool pql__parse_grouping(struct parser *p, const char ***out, size_t *n_out);

#endif
