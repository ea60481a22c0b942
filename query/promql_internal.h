/* promql_internal.h — shared by the PromQL lexer, parser, checker and
 * printer; not API. */
#ifndef SCRY_QUERY_PROMQL_INTERNAL_H
#define SCRY_QUERY_PROMQL_INTERNAL_H

#include "query/promql.h"

/* Token types. The groups matter for error text: Prometheus describes an
 * operator as <op:+>, an aggregator as <aggr:sum>, a keyword as <by>. */
enum pql_tok {
    PQL_T_EOF, PQL_T_ERROR, PQL_T_COMMENT,
    PQL_T_IDENT, PQL_T_METRIC_IDENT, PQL_T_NUMBER, PQL_T_DURATION, PQL_T_STRING,
    PQL_T_LPAREN, PQL_T_RPAREN, PQL_T_LBRACE, PQL_T_RBRACE, PQL_T_LBRACKET, PQL_T_RBRACKET,
    PQL_T_COMMA, PQL_T_EQL, PQL_T_COLON, PQL_T_DOUBLE_COLON,
    /* operators */
    PQL_T_OPS_BEGIN,
    PQL_T_ADD, PQL_T_SUB, PQL_T_MUL, PQL_T_DIV, PQL_T_MOD, PQL_T_POW,
    PQL_T_EQLC, PQL_T_NEQ, PQL_T_LSS, PQL_T_LTE, PQL_T_GTR, PQL_T_GTE,
    PQL_T_EQL_REGEX, PQL_T_NEQ_REGEX, PQL_T_LAND, PQL_T_LOR, PQL_T_LUNLESS,
    PQL_T_ATAN2, PQL_T_AT, PQL_T_TRIM_UPPER, PQL_T_TRIM_LOWER,
    PQL_T_OPS_END,
    /* aggregators, in enum pql_agg order */
    PQL_T_AGG_BEGIN,
    PQL_T_SUM, PQL_T_AVG, PQL_T_COUNT, PQL_T_MIN, PQL_T_MAX, PQL_T_GROUP, PQL_T_STDDEV,
    PQL_T_STDVAR, PQL_T_TOPK, PQL_T_BOTTOMK, PQL_T_COUNT_VALUES, PQL_T_QUANTILE,
    PQL_T_LIMITK, PQL_T_LIMIT_RATIO,
    PQL_T_AGG_END,
    /* keywords */
    PQL_T_KW_BEGIN,
    PQL_T_OFFSET, PQL_T_BY, PQL_T_WITHOUT, PQL_T_ON, PQL_T_IGNORING, PQL_T_GROUP_LEFT,
    PQL_T_GROUP_RIGHT, PQL_T_BOOL, PQL_T_ANCHORED, PQL_T_SMOOTHED, PQL_T_FILL,
    PQL_T_FILL_LEFT, PQL_T_FILL_RIGHT,
    PQL_T_KW_END,
    /* "preprocessors" (neither keyword nor operator in Prometheus's lexer) */
    PQL_T_START, PQL_T_END, PQL_T_STEP, PQL_T_RANGE, PQL_T_MAX_OF, PQL_T_MIN_OF,
};

struct pql_token {
    enum pql_tok type;
    uint32_t pos;        /* byte offset of the first byte */
    uint32_t len;        /* bytes of text (0 for EOF and ERROR) */
    const char *msg;     /* ERROR: the message (arena) */
};

enum pql_lex_state { PQL_LEX_STATEMENTS, PQL_LEX_DURATION_EXPR, PQL_LEX_DONE };

/* The lexer mirrors Prometheus's state machine (promql/parser/lex.go) so
 * that errors come out at the same place with the same words, e.g.
 * "unclosed left parenthesis" is the lexer's verdict at end of input. */
struct pql_lexer {
    struct scry_arena *a;
    const char *in;
    size_t len;
    size_t pos, start, width;
    int paren_depth;
    bool brace_open, bracket_open, got_colon, got_duration;
    enum pql_lex_state state;
};

void pql__lex_init(struct pql_lexer *l, struct scry_arena *a, const char *in, size_t len);
void pql__lex_next(struct pql_lexer *l, struct pql_token *t);
/* Prometheus's Item.desc(): `identifier "foo"`, `<op:+>`, `"("`, `end of input`. */
void pql__tok_desc(const struct pql_lexer *l, const struct pql_token *t, struct scry_buf *out);

/* Go %q of one code point: 'a', '\n', '\x00', 'é'. */
void pql__quote_rune(uint32_t r, struct scry_buf *out);
/* Decodes one UTF-8 sequence at s (n bytes available); *w = bytes used.
 * Returns 0xFFFD with *w = 1 for invalid input, like Go's DecodeRune. */
uint32_t pql__utf8_decode(const char *s, size_t n, size_t *w);
void pql__utf8_encode(uint32_t r, struct scry_buf *out);

/* Go's strconv.ParseInt(s, 0, 64) then ParseFloat(s, 64): 010 is 8, 0x1f is
 * 31, 1_000 is 1000, Inf/NaN any case. false when neither accepts s; then
 * *range_err tells "value out of range" from "invalid syntax". */
bool pql__parse_number(const char *s, size_t len, double *out, bool *range_err);
/* Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an
 * exponent (1e6 is "1000000"), "+Inf", "-Inf", "NaN". */
void pql__put_float_f(struct scry_buf *out, double v);
/* Prometheus duration syntax (model.ParseDuration) into ms. */
bool pql__parse_duration(const char *s, size_t len, int64_t *out_ms, char *why, size_t why_len);

/* Type checking after a successful parse, in the order of Prometheus's
 * checkAST, so the first error reported is the same. Records the first
 * error in err (formatted with the position) and returns SCRY_EPARSE. */
int pql__check(const char *q, size_t len, struct pql_expr *e, struct scry_err *err);

/* Formats "<line>:<col>: parse error: <msg>" into err with the position of
 * byte offset pos in q. */
int pql__error_at(struct scry_err *err, const char *q, size_t len, size_t pos, const char *msg);

#endif
