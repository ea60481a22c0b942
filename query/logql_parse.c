/* logql_parse.c — LogQL expressions: metric queries (range and vector
 * aggregations), binary operators, literals, label_replace; the pipeline
 * is in logql_parse_log.c.
 *
 * Hand-written recursive descent with precedence climbing, the same
 * precedence as PromQL (or < and/unless < comparisons < + - < * / % < ^).
 * Errors read like Loki's goyacc ones: "parse error at line 1, col 8:
 * syntax error: unexpected IDENTIFIER". */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "query/logql_internal.h"
#include "query/promql.h"
#include "query/promql_internal.h"

void lql__advance(struct lql_parser *p) { lql__lex_next(&p->lx, &p->tok); }

int lql__fail(struct lql_parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return SCRY_EPARSE;
    p->failed = true;
    int line = 1, col = 1;
    for (size_t i = 0; i < pos && i < p->len; i++) {
        if (p->q[i] == '\n')
            line++, col = 1;
        else
            col++;
    }
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    scry_err_set(p->err, SCRY_EPARSE, "parse error at line %d, col %d: %s", line, col, msg);
    if (p->err) {
        p->err->line = line;
        p->err->col = col;
        p->err->offset = pos;
    }
    return SCRY_EPARSE;
}

static const char *tok_name(const struct lql_parser *p, char *buf, size_t cap)
{
    switch (p->tok.t) {
    case T_EOF: return "$end";
    case T_IDENT: return "IDENTIFIER";
    case T_STRING: return "STRING";
    case T_NUMBER: return "NUMBER";
    case T_DURATION: return "DURATION";
    case T_BYTES: return "BYTES";
    case T_ERR: return "invalid character";
    default:
        snprintf(buf, cap, "%.*s", (int)p->tok.len, p->q + p->tok.pos);
        return buf;
    }
}

int lql__unexpected(struct lql_parser *p, const char *expecting)
{
    char b[32];
    if (p->tok.t == T_ERR && p->tok.len > 0 && (p->q[p->tok.pos] == '"' || p->q[p->tok.pos] == '`'))
        return lql__fail(p, p->tok.pos, "syntax error: unterminated string");
    if (p->tok.t == T_ERR && p->tok.len > 1)
        return lql__fail(p, p->tok.pos, "syntax error: invalid literal %.*s", (int)p->tok.len,
                         p->q + p->tok.pos);
    if (expecting)
        return lql__fail(p, p->tok.pos, "syntax error: unexpected %s, expecting %s",
                         tok_name(p, b, sizeof b), expecting);
    return lql__fail(p, p->tok.pos, "syntax error: unexpected %s", tok_name(p, b, sizeof b));
}

bool lql__tok_is(const struct lql_parser *p, const char *word)
{
    return p->tok.t == T_IDENT && strlen(word) == p->tok.len &&
           !strncasecmp(p->q + p->tok.pos, word, p->tok.len);
}

int lql__expect(struct lql_parser *p, enum lql_tok t, const char *what)
{
    if (p->tok.t != t)
        return lql__unexpected(p, what);
    lql__advance(p);
    return 0;
}

int lql__string(struct lql_parser *p, const char **out, size_t *len)
{
    if (p->tok.t != T_STRING)
        return lql__unexpected(p, "STRING");
    struct scry_err e = { 0 };
    if (pql_unquote(p->a, p->q + p->tok.pos, p->tok.len, out, len, &e) != 0)
        return lql__fail(p, p->tok.pos, "syntax error: %s", e.msg);
    /* label values, matchers and templates are C strings: a NUL would cut
     * them silently */
    if (memchr(*out, 0, *len))
        return lql__fail(p, p->tok.pos, "syntax error: string contains a NUL byte");
    lql__advance(p);
    return 0;
}

int lql__duration(struct lql_parser *p, int64_t *out_ns)
{
    const char *s = p->q + p->tok.pos;
    size_t n = p->tok.len;
    double secs;
    int64_t ms;
    char why[64];
    if (p->tok.t == T_DURATION && lql__parse_go_duration(s, n, &secs)) {
        *out_ns = (int64_t)llround(secs * 1e9);
    } else if (p->tok.t == T_DURATION && pql__parse_duration(s, n, &ms, why, sizeof why)) {
        *out_ns = ms * 1000000;
    } else {
        return lql__unexpected(p, "DURATION");
    }
    lql__advance(p);
    return 0;
}

/* ---- names ---- */

static const char *const range_names[LQL_N_RANGE_OPS] = {
    [LQL_COUNT_OVER_TIME] = "count_over_time", [LQL_RATE] = "rate",
    [LQL_RATE_COUNTER] = "rate_counter", [LQL_BYTES_OVER_TIME] = "bytes_over_time",
    [LQL_BYTES_RATE] = "bytes_rate", [LQL_ABSENT_OVER_TIME] = "absent_over_time",
    [LQL_SUM_OVER_TIME] = "sum_over_time", [LQL_AVG_OVER_TIME] = "avg_over_time",
    [LQL_MIN_OVER_TIME] = "min_over_time", [LQL_MAX_OVER_TIME] = "max_over_time",
    [LQL_STDDEV_OVER_TIME] = "stddev_over_time", [LQL_STDVAR_OVER_TIME] = "stdvar_over_time",
    [LQL_QUANTILE_OVER_TIME] = "quantile_over_time", [LQL_FIRST_OVER_TIME] = "first_over_time",
    [LQL_LAST_OVER_TIME] = "last_over_time",
};
static const char *const vagg_names[LQL_N_VAGG_OPS] = {
    [LQL_SUM] = "sum", [LQL_AVG] = "avg", [LQL_MIN] = "min", [LQL_MAX] = "max",
    [LQL_COUNT] = "count", [LQL_STDDEV] = "stddev", [LQL_STDVAR] = "stdvar",
    [LQL_TOPK] = "topk", [LQL_BOTTOMK] = "bottomk", [LQL_SORT] = "sort",
    [LQL_SORT_DESC] = "sort_desc",
};
static const char *const binop_names[] = {
    [LQL_OR] = "or", [LQL_AND] = "and", [LQL_UNLESS] = "unless", [LQL_CMP_EQ] = "==",
    [LQL_CMP_NE] = "!=", [LQL_CMP_GT] = ">", [LQL_CMP_GE] = ">=", [LQL_CMP_LT] = "<",
    [LQL_CMP_LE] = "<=", [LQL_ADD] = "+", [LQL_SUB] = "-", [LQL_MUL] = "*", [LQL_DIV] = "/",
    [LQL_MOD] = "%", [LQL_POW] = "^",
};

const char *lql__range_op_name(enum lql_range_op op) { return range_names[op]; }
const char *lql__vagg_op_name(enum lql_vagg_op op) { return vagg_names[op]; }
const char *lql__binop_name(enum lql_binop op) { return binop_names[op]; }

static int find_name(const struct lql_parser *p, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (lql__tok_is(p, names[i]))
            return i;
    return -1;
}

/* ---- expressions ---- */

static int parse_expr(struct lql_parser *p, int min_prec, struct lql_expr **out);

static struct lql_expr *node(struct lql_parser *p, enum lql_kind k, size_t pos)
{
    struct lql_expr *e = scry_arena_calloc(p->a, 1, sizeof *e);
    e->kind = k;
    e->pos = pos;
    return e;
}

static int parse_label_list(struct lql_parser *p, const char ***out, size_t *n_out)
{
    if (lql__expect(p, T_LPAREN, "("))
        return SCRY_EPARSE;
    size_t cap = 4, n = 0;
    const char **v = scry_arena_alloc(p->a, cap * sizeof *v);
    while (p->tok.t != T_RPAREN) {
        if (p->tok.t != T_IDENT)
            return lql__unexpected(p, "IDENTIFIER or )");
        if (n == cap) {
            const char **w = scry_arena_alloc(p->a, 2 * cap * sizeof *w);
            memcpy(w, v, n * sizeof *v);
            v = w, cap *= 2;
        }
        v[n++] = scry_arena_strndup(p->a, p->q + p->tok.pos, p->tok.len);
        lql__advance(p);
        if (p->tok.t == T_COMMA)
            lql__advance(p);
        else if (p->tok.t != T_RPAREN)
            return lql__unexpected(p, ", or )");
    }
    lql__advance(p);
    *out = v;
    *n_out = n;
    return 0;
}

static int parse_grouping(struct lql_parser *p, struct lql_grouping *g)
{
    if (g->present)
        return lql__unexpected(p, NULL);
    g->without = lql__tok_is(p, "without");
    g->present = true;
    lql__advance(p);
    return parse_label_list(p, &g->labels, &g->n);
}

static bool at_grouping(const struct lql_parser *p)
{
    return lql__tok_is(p, "by") || lql__tok_is(p, "without");
}

static int parse_signed_number(struct lql_parser *p, double *out)
{
    double sign = 1;
    if (p->tok.t == T_SUB || p->tok.t == T_ADD) {
        sign = p->tok.t == T_SUB ? -1 : 1;
        lql__advance(p);
    }
    bool range_err;
    if (p->tok.t != T_NUMBER ||
        !pql__parse_number(p->q + p->tok.pos, p->tok.len, out, &range_err))
        return lql__unexpected(p, "NUMBER");
    *out *= sign;
    lql__advance(p);
    return 0;
}

/* op([param,] {sel} pipeline [range] [offset d]) [by/without (...)] */
static int parse_range(struct lql_parser *p, enum lql_range_op op, struct lql_expr **out)
{
    struct lql_expr *e = node(p, LQL_RANGE, p->tok.pos);
    e->u.range.op = op;
    lql__advance(p);
    if (lql__expect(p, T_LPAREN, "("))
        return SCRY_EPARSE;
    if (op == LQL_QUANTILE_OVER_TIME) {
        if (parse_signed_number(p, &e->u.range.param) || lql__expect(p, T_COMMA, ","))
            return SCRY_EPARSE;
    }
    *out = e; /* so that a failure below still releases what was compiled */
    bool parens = p->tok.t == T_LPAREN;
    if (parens)
        lql__advance(p);
    if (p->tok.t != T_LBRACE)
        return lql__unexpected(p, "{");
    struct lql_log *log = &e->u.range.log;
    if (lql__parse_log(p, log, true))
        return SCRY_EPARSE;
    if (parens && lql__expect(p, T_RPAREN, ")"))
        return SCRY_EPARSE;
    bool have_range = false;
    if (p->tok.t == T_LBRACK) {
        lql__advance(p);
        if (lql__duration(p, &e->u.range.range_ns) || lql__expect(p, T_RBRACK, "]"))
            return SCRY_EPARSE;
        have_range = true;
        /* `{a="b"}[5m] | json | unwrap x` — stages after the range */
        if (lql__parse_stages(p, log, true) || lql__check_unwrap(p, log))
            return SCRY_EPARSE;
    }
    if (!have_range)
        return lql__unexpected(p, "RANGE");
    if (lql__tok_is(p, "offset")) {
        lql__advance(p);
        if (lql__duration(p, &e->u.range.offset_ns))
            return SCRY_EPARSE;
    }
    if (e->u.range.range_ns <= 0)
        return lql__fail(p, e->pos, "syntax error: range must be positive");
    if (lql__expect(p, T_RPAREN, ")"))
        return SCRY_EPARSE;
    if (at_grouping(p) && parse_grouping(p, &e->u.range.grouping))
        return SCRY_EPARSE;
    bool unwrapped = false;
    for (size_t i = 0; i < log->n_stages; i++)
        if (log->stages[i].kind == LQL_ST_UNWRAP)
            unwrapped = true;
    bool needs = op >= LQL_SUM_OVER_TIME || op == LQL_RATE_COUNTER;
    if (needs && !unwrapped)
        return lql__fail(p, e->pos, "invalid aggregation %s without unwrap", range_names[op]);
    if (!needs && unwrapped && op != LQL_RATE)
        return lql__fail(p, e->pos, "invalid aggregation %s with unwrap", range_names[op]);
    if (e->u.range.grouping.present && !needs)
        return lql__fail(p, e->pos, "grouping not allowed for %s aggregation", range_names[op]);
    return 0;
}

static int parse_vagg(struct lql_parser *p, enum lql_vagg_op op, struct lql_expr **out)
{
    struct lql_expr *e = node(p, LQL_VAGG, p->tok.pos);
    e->u.vagg.op = op;
    *out = e;
    lql__advance(p);
    if (at_grouping(p) && parse_grouping(p, &e->u.vagg.grouping))
        return SCRY_EPARSE;
    if (lql__expect(p, T_LPAREN, "("))
        return SCRY_EPARSE;
    if (op == LQL_TOPK || op == LQL_BOTTOMK) {
        if (parse_signed_number(p, &e->u.vagg.param) || lql__expect(p, T_COMMA, ","))
            return SCRY_EPARSE;
        if (e->u.vagg.param < 1 || e->u.vagg.param != floor(e->u.vagg.param))
            return lql__fail(p, e->pos, "syntax error: invalid parameter %s(%g,",
                             vagg_names[op], e->u.vagg.param);
    }
    if (parse_expr(p, 0, &e->u.vagg.inner) || lql__expect(p, T_RPAREN, ")"))
        return SCRY_EPARSE;
    if (at_grouping(p) && parse_grouping(p, &e->u.vagg.grouping))
        return SCRY_EPARSE;
    if ((op == LQL_SORT || op == LQL_SORT_DESC) && e->u.vagg.grouping.present)
        return lql__fail(p, e->pos, "syntax error: grouping not allowed for %s", vagg_names[op]);
    if (lql_is_log(e->u.vagg.inner))
        return lql__fail(p, e->u.vagg.inner->pos, "syntax error: unexpected log query in "
                         "aggregation, expecting a metric query");
    return 0;
}

static int parse_label_replace(struct lql_parser *p, struct lql_expr **out)
{
    struct lql_expr *e = node(p, LQL_LABEL_REPLACE, p->tok.pos);
    *out = e;
    lql__advance(p);
    if (lql__expect(p, T_LPAREN, "(") || parse_expr(p, 0, &e->u.lrep.inner))
        return SCRY_EPARSE;
    const char **dst[4] = { &e->u.lrep.dst, &e->u.lrep.repl, &e->u.lrep.src, &e->u.lrep.regex };
    for (int i = 0; i < 4; i++) {
        size_t len;
        if (lql__expect(p, T_COMMA, ",") || lql__string(p, dst[i], &len))
            return SCRY_EPARSE;
    }
    if (lql__expect(p, T_RPAREN, ")"))
        return SCRY_EPARSE;
    struct scry_err er = { 0 };
    if (scry_matcher_init(&e->u.lrep.re, SCRY_MATCH_RE, e->u.lrep.src, e->u.lrep.regex, &er))
        return lql__fail(p, e->pos, "invalid regex in label_replace: %s", er.msg);
    if (!scry_label_name_valid(e->u.lrep.dst, strlen(e->u.lrep.dst)))
        return lql__fail(p, e->pos, "invalid destination label name in label_replace(): %s",
                         e->u.lrep.dst);
    return 0;
}

static int parse_primary(struct lql_parser *p, struct lql_expr **out)
{
    *out = NULL;
    if (++p->depth > LQL_MAX_DEPTH)
        return lql__fail(p, p->tok.pos, "syntax error: query is nested too deeply");
    int rc = 0;
    size_t pos = p->tok.pos;
    switch (p->tok.t) {
    case T_LPAREN: {
        lql__advance(p);
        struct lql_expr *e = node(p, LQL_PAREN, pos);
        *out = e;
        rc = parse_expr(p, 0, &e->u.paren);
        if (!rc)
            rc = lql__expect(p, T_RPAREN, ")");
        break;
    }
    case T_LBRACE: {
        struct lql_expr *e = node(p, LQL_LOG, pos);
        *out = e;
        rc = lql__parse_log(p, &e->u.log, false);
        break;
    }
    case T_NUMBER:
    case T_SUB:
    case T_ADD: {
        struct lql_expr *e = node(p, LQL_NUMBER, pos);
        *out = e;
        if (p->tok.t != T_NUMBER) {
            /* unary sign: only on numbers and (parenthesised) metric exprs */
            bool neg = p->tok.t == T_SUB;
            lql__advance(p);
            if (p->tok.t == T_NUMBER) {
                rc = parse_signed_number(p, &e->u.num);
                e->u.num = neg ? -e->u.num : e->u.num;
            } else {
                /* -x is 0 - x, +x is x */
                struct lql_expr *inner;
                rc = parse_primary(p, &inner);
                if (!rc && lql_is_log(inner)) {
                    e->kind = LQL_PAREN; /* so that fini reaches inner */
                    e->u.paren = inner;
                    rc = lql__fail(p, pos, "syntax error: unexpected sign before a log query");
                } else if (!rc && neg) {
                    e->kind = LQL_BINARY;
                    e->u.bin.op = LQL_MUL;
                    e->u.bin.lhs = node(p, LQL_NUMBER, pos);
                    e->u.bin.lhs->u.num = -1;
                    e->u.bin.rhs = inner;
                } else {
                    *out = inner;
                }
            }
        } else {
            rc = parse_signed_number(p, &e->u.num);
        }
        break;
    }
    case T_IDENT: {
        int i;
        if ((i = find_name(p, range_names, LQL_N_RANGE_OPS)) >= 0) {
            rc = parse_range(p, (enum lql_range_op)i, out);
        } else if ((i = find_name(p, vagg_names, LQL_N_VAGG_OPS)) >= 0) {
            rc = parse_vagg(p, (enum lql_vagg_op)i, out);
        } else if (lql__tok_is(p, "vector")) {
            struct lql_expr *e = node(p, LQL_VECTOR, pos);
            *out = e;
            lql__advance(p);
            if (!(rc = lql__expect(p, T_LPAREN, "(")) && !(rc = parse_signed_number(p, &e->u.num)))
                rc = lql__expect(p, T_RPAREN, ")");
        } else if (lql__tok_is(p, "label_replace")) {
            rc = parse_label_replace(p, out);
        } else {
            rc = lql__unexpected(p, NULL);
        }
        break;
    }
    default:
        rc = lql__unexpected(p, NULL);
    }
    p->depth--;
    return rc;
}

static int binop_at(const struct lql_parser *p, enum lql_binop *op)
{
    switch (p->tok.t) {
    case T_ADD: *op = LQL_ADD; return 4;
    case T_SUB: *op = LQL_SUB; return 4;
    case T_MUL: *op = LQL_MUL; return 5;
    case T_DIV: *op = LQL_DIV; return 5;
    case T_MOD: *op = LQL_MOD; return 5;
    case T_POW: *op = LQL_POW; return 6;
    case T_EQEQ: *op = LQL_CMP_EQ; return 3;
    case T_NEQ: *op = LQL_CMP_NE; return 3;
    case T_GT: *op = LQL_CMP_GT; return 3;
    case T_GE: *op = LQL_CMP_GE; return 3;
    case T_LT: *op = LQL_CMP_LT; return 3;
    case T_LE: *op = LQL_CMP_LE; return 3;
    case T_IDENT:
        if (lql__tok_is(p, "or")) { *op = LQL_OR; return 1; }
        if (lql__tok_is(p, "and")) { *op = LQL_AND; return 2; }
        if (lql__tok_is(p, "unless")) { *op = LQL_UNLESS; return 2; }
        return 0;
    default:
        return 0;
    }
}

static bool is_scalar_expr(const struct lql_expr *e)
{
    while (e->kind == LQL_PAREN)
        e = e->u.paren;
    if (e->kind == LQL_NUMBER)
        return true;
    if (e->kind == LQL_BINARY)
        return is_scalar_expr(e->u.bin.lhs) && is_scalar_expr(e->u.bin.rhs);
    return false;
}

static int parse_binary_mods(struct lql_parser *p, struct lql_expr *e)
{
    enum lql_binop op = e->u.bin.op;
    if (lql__tok_is(p, "bool")) {
        if (op < LQL_CMP_EQ || op > LQL_CMP_LE)
            return lql__fail(p, p->tok.pos, "syntax error: bool modifier can only be used on "
                             "comparison operators");
        e->u.bin.return_bool = true;
        lql__advance(p);
    }
    if (lql__tok_is(p, "on") || lql__tok_is(p, "ignoring")) {
        e->u.bin.on = lql__tok_is(p, "on");
        e->u.bin.ignoring = !e->u.bin.on;
        lql__advance(p);
        if (parse_label_list(p, &e->u.bin.match, &e->u.bin.n_match))
            return SCRY_EPARSE;
        if (lql__tok_is(p, "group_left") || lql__tok_is(p, "group_right")) {
            e->u.bin.card = lql__tok_is(p, "group_left") ? 1 : 2;
            lql__advance(p);
            if (p->tok.t == T_LPAREN &&
                parse_label_list(p, &e->u.bin.include, &e->u.bin.n_include))
                return SCRY_EPARSE;
        }
    }
    return 0;
}

static int parse_expr(struct lql_parser *p, int min_prec, struct lql_expr **out)
{
    struct lql_expr *lhs;
    int rc = parse_primary(p, &lhs);
    *out = lhs;
    if (rc)
        return rc;
    for (;;) {
        enum lql_binop op;
        int prec = binop_at(p, &op);
        if (!prec || prec < min_prec)
            break;
        struct lql_expr *e = node(p, LQL_BINARY, p->tok.pos);
        e->u.bin.op = op;
        e->u.bin.lhs = lhs;
        *out = e;
        lql__advance(p);
        if (parse_binary_mods(p, e))
            return SCRY_EPARSE;
        /* ^ is right-associative */
        rc = parse_expr(p, op == LQL_POW ? prec : prec + 1, &e->u.bin.rhs);
        if (rc)
            return rc;
        if (lql_is_log(e->u.bin.lhs) || lql_is_log(e->u.bin.rhs))
            return lql__fail(p, e->pos, "syntax error: unexpected binary operation between "
                             "log queries");
        if (op >= LQL_CMP_EQ && op <= LQL_CMP_LE && !e->u.bin.return_bool &&
            is_scalar_expr(e->u.bin.lhs) && is_scalar_expr(e->u.bin.rhs))
            return lql__fail(p, e->pos, "syntax error: comparisons between scalars must use "
                             "BOOL modifier");
        if (op <= LQL_UNLESS && (is_scalar_expr(e->u.bin.lhs) || is_scalar_expr(e->u.bin.rhs)))
            return lql__fail(p, e->pos, "syntax error: set operator %s not allowed in binary "
                             "scalar expression", binop_names[op]);
        lhs = e;
    }
    return 0;
}

bool lql_is_log(const struct lql_expr *e)
{
    while (e && e->kind == LQL_PAREN)
        e = e->u.paren;
    return e && e->kind == LQL_LOG;
}

int lql_parse(struct scry_arena *a, const char *q, size_t len, struct lql_expr **out,
              struct scry_err *err)
{
    struct lql_parser p = { .a = a, .q = q, .len = len, .err = err };
    p.lx = (struct lql_lexer){ .in = q, .len = len };
    *out = NULL;
    lql__advance(&p);
    if (p.tok.t == T_EOF) {
        scry_err_set(err, SCRY_EPARSE, "parse error : syntax error: unexpected $end");
        return SCRY_EPARSE;
    }
    struct lql_expr *e = NULL;
    int rc = parse_expr(&p, 0, &e);
    if (!rc && p.tok.t != T_EOF)
        rc = lql__unexpected(&p, NULL);
    if (rc) {
        lql_expr_fini(e);
        return SCRY_EPARSE;
    }
    *out = e;
    return 0;
}

/* ---- cleanup ---- */

void lql_expr_fini(struct lql_expr *e)
{
    if (!e)
        return;
    switch (e->kind) {
    case LQL_LOG: lql__log_fini(&e->u.log); break;
    case LQL_RANGE: lql__log_fini(&e->u.range.log); break;
    case LQL_VAGG: lql_expr_fini(e->u.vagg.inner); break;
    case LQL_BINARY:
        lql_expr_fini(e->u.bin.lhs);
        lql_expr_fini(e->u.bin.rhs);
        break;
    case LQL_LABEL_REPLACE:
        lql_expr_fini(e->u.lrep.inner);
        scry_matcher_fini(&e->u.lrep.re);
        break;
    case LQL_PAREN: lql_expr_fini(e->u.paren); break;
    default: break;
    }
}
