/* promql_parse.c — recursive-descent / precedence-climbing PromQL parser.
 *
 * Prometheus parses with a goyacc grammar (promql/parser/generated_parser.y);
 * we parse by hand and reproduce its observable behaviour:
 *
 *   - precedence, lowest first: or; and unless; == != <= < >= >; + -;
 *     * / % atan2; ^ (right-associative). Unary +/- binds like * (so -2^2
 *     is -(2^2) and -a*b is (-a)*b). offset, @ and [..] bind tightest, to
 *     the operand just before them.
 *   - a unary sign on a number literal folds into the literal.
 *   - the errors the grammar's `error` rules produce, with their context
 *     ("unexpected identifier \"x\" in grouping opts, expected \"(\"");
 *     a syntax error anywhere inside an aggregation's parentheses that no
 *     closer rule catches is reported "in aggregation", because that is
 *     where goyacc's error recovery lands.
 *   - semantic errors raised during parsing (offset twice, ranges on
 *     non-selectors, unknown functions, aggregation arity) in parse order;
 *     type checking runs afterwards (promql_check.c) only when the syntax is
 *     clean, as Prometheus's checkAST does.
 *
 * Only the first error is kept: Prometheus reports only the first, too.
 * All nodes live in the arena; compiled matchers are tracked so a failed
 * parse can release them before returning. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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
    int in_agg;            /* inside an aggregation's parentheses */
    const char *dur_ctx, *dur_expected; /* error context inside a duration */
    int rdepth;            /* recursion depth of parse_expr/parse_dur */
    bool failed;
    struct scry_err *err;
    struct mlist *matchers; /* every compiled matcher array, for cleanup */
};

/* ---- errors ------------------------------------------------------------ */

int pql__error_at(struct scry_err *err, const char *q, size_t len, size_t pos, const char *msg)
{
    if (!err)
        return SCRY_EPARSE;
    int line = 1;
    size_t last_nl = (size_t)-1;
    if (pos > len)
        pos = len;
    for (size_t i = 0; i < pos; i++) {
        if (q[i] == '\n') {
            last_nl = i;
            line++;
        }
    }
    int col = (int)(pos - last_nl); /* wraps correctly when last_nl is (size_t)-1 */
    if (len == 0)
        scry_err_set(err, SCRY_EPARSE, "unknown position: parse error: %s", msg);
    else
        scry_err_set(err, SCRY_EPARSE, "%d:%d: parse error: %s", line, col, msg);
    err->line = line;
    err->col = col;
    err->offset = pos;
    return SCRY_EPARSE;
}

static void failf(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void failf(struct parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return;
    char buf[SCRY_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    p->failed = true;
    pql__error_at(p->err, p->q, p->len, pos, buf);
}

/* ---- tokens ------------------------------------------------------------ */

static struct pql_token *peek(struct parser *p)
{
    if (!p->have_tok) {
        do {
            pql__lex_next(&p->lex, &p->tok);
        } while (p->tok.type == PQL_T_COMMENT);
        p->have_tok = true;
        if (p->tok.type == PQL_T_ERROR)
            failf(p, p->tok.pos, "%s", p->tok.msg);
    }
    return &p->tok;
}

static enum pql_tok peek_type(struct parser *p) { return peek(p)->type; }

static struct pql_token consume(struct parser *p)
{
    struct pql_token t = *peek(p);
    assert(t.type != PQL_T_COMMENT);
    p->have_tok = false;
    switch (t.type) {
    case PQL_T_RPAREN: case PQL_T_RBRACE: case PQL_T_RBRACKET: case PQL_T_DURATION:
    case PQL_T_NUMBER:
        p->last_closing = t.pos + t.len;
        break;
    default:
        break;
    }
    return t;
}

/* Prometheus's parser.unexpected(): about the current lookahead token. */
static void *unexpected(struct parser *p, const char *context, const char *expected)
{
    struct pql_token *t = peek(p);
    if (p->failed)
        return NULL;
    if (!context && p->in_agg > 0)
        context = "aggregation";
    struct scry_buf b = { 0 };
    scry_buf_puts(&b, "unexpected ");
    pql__tok_desc(&p->lex, t, &b);
    if (context)
        scry_buf_printf(&b, " in %s", context);
    if (expected)
        scry_buf_printf(&b, ", expected %s", expected);
    failf(p, t->pos, "%s", b.p);
    scry_buf_fini(&b);
    return NULL;
}

static const char *tok_text(struct parser *p, const struct pql_token *t)
{
    return scry_arena_strndup(p->a, p->q + t->pos, t->len);
}

/* ---- nodes ------------------------------------------------------------- */

static struct pql_expr *node(struct parser *p, enum pql_kind kind, enum pql_type type,
                             uint32_t start, uint32_t end)
{
    struct pql_expr *e = scry_arena_calloc(p->a, 1, sizeof(*e));
    e->kind = kind;
    e->type = type;
    e->pos.start = start;
    e->pos.end = end;
    e->depth = 1;
    return e;
}

/* Records that child hangs below parent; false (with the error set) when
 * the tree gets deeper than PQL_MAX_DEPTH. */
static bool grow(struct parser *p, struct pql_expr *parent, const struct pql_expr *child)
{
    if (child && child->depth + 1 > parent->depth)
        parent->depth = child->depth + 1;
    if (parent->depth <= PQL_MAX_DEPTH)
        return true;
    failf(p, parent->pos.start, "query is nested too deeply (more than %d levels)", PQL_MAX_DEPTH);
    return false;
}

/* Growable pointer arrays in the arena (lists here are short). */
struct vec {
    void **v;
    size_t n, cap;
};
static void vec_push(struct parser *p, struct vec *v, void *x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        void **nv = scry_arena_alloc(p->a, cap * sizeof(void *));
        if (v->n)
            memcpy(nv, v->v, v->n * sizeof(void *));
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}

/* ---- literals ---------------------------------------------------------- */

static bool number_value(struct parser *p, const struct pql_token *t, double *out)
{
    bool range_err;
    if (pql__parse_number(p->q + t->pos, t->len, out, &range_err))
        return true;
    struct scry_buf b = { 0 };
    pql_quote(p->q + t->pos, t->len, &b);
    failf(p, t->pos, "error parsing number: strconv.ParseFloat: parsing %s: %s", b.p,
          range_err ? "value out of range" : "invalid syntax");
    scry_buf_fini(&b);
    return false;
}

static bool duration_value(struct parser *p, const struct pql_token *t, int64_t *out_ms)
{
    char why[200];
    if (pql__parse_duration(p->q + t->pos, t->len, out_ms, why, sizeof(why)))
        return true;
    failf(p, t->pos, "%s", why);
    return false;
}

static struct pql_expr *string_literal(struct parser *p)
{
    struct pql_token t = consume(p);
    struct pql_expr *e = node(p, PQL_STRING, PQL_TYPE_STRING, t.pos, t.pos + t.len);
    struct scry_err uerr = { 0 };
    if (pql_unquote(p->a, p->q + t.pos, t.len, &e->u.string.val, &e->u.string.len, &uerr) != 0) {
        struct scry_buf b = { 0 };
        pql_quote(p->q + t.pos, t.len, &b);
        failf(p, t.pos, "error unquoting string %s: invalid syntax", b.p);
        scry_buf_fini(&b);
        return NULL;
    }
    return e;
}

/* ---- selectors --------------------------------------------------------- */

struct mspec {
    enum scry_match_type type;
    const char *name, *value;
    uint32_t pos;
};

static bool is_match_op(enum pql_tok t)
{
    return t == PQL_T_EQL || t == PQL_T_NEQ || t == PQL_T_EQL_REGEX || t == PQL_T_NEQ_REGEX;
}

static enum scry_match_type match_type(enum pql_tok t)
{
    switch (t) {
    case PQL_T_NEQ: return SCRY_MATCH_NEQ;
    case PQL_T_EQL_REGEX: return SCRY_MATCH_RE;
    case PQL_T_NEQ_REGEX: return SCRY_MATCH_NRE;
    default: return SCRY_MATCH_EQ;
    }
}

static const char *unquote_tok(struct parser *p, const struct pql_token *t)
{
    const char *v;
    size_t n;
    if (pql_unquote(p->a, p->q + t->pos, t->len, &v, &n, NULL) != 0) {
        failf(p, t->pos, "error unquoting string: invalid syntax");
        return NULL;
    }
    return v;
}

/* One label matcher: name op "value", "quoted name" op "value", or a bare
 * "metric name" (Prometheus 3 UTF-8 syntax). */
static bool parse_matcher(struct parser *p, struct mspec *m)
{
    enum pql_tok ty = peek_type(p);
    if (ty != PQL_T_IDENT && ty != PQL_T_STRING) {
        unexpected(p, "label matching", "identifier or \"}\"");
        return false;
    }
    struct pql_token name = consume(p);
    m->pos = name.pos;
    m->name = ty == PQL_T_IDENT ? tok_text(p, &name) : unquote_tok(p, &name);
    if (!m->name)
        return false;
    if (ty == PQL_T_STRING && (peek_type(p) == PQL_T_COMMA || peek_type(p) == PQL_T_RBRACE)) {
        m->type = SCRY_MATCH_EQ;
        m->value = m->name;
        m->name = SCRY_METRIC_NAME;
        return true;
    }
    if (!is_match_op(peek_type(p))) {
        unexpected(p, "label matching", "label matching operator");
        return false;
    }
    m->type = match_type(consume(p).type);
    if (peek_type(p) != PQL_T_STRING) {
        unexpected(p, "label matching", "string");
        return false;
    }
    struct pql_token v = consume(p);
    m->value = unquote_tok(p, &v);
    return m->value != NULL;
}

static struct pql_expr *parse_selector(struct parser *p, const struct pql_token *name_tok)
{
    uint32_t start = name_tok ? name_tok->pos : peek(p)->pos;
    uint32_t end = name_tok ? name_tok->pos + name_tok->len : start;
    struct mspec specs[64];
    struct mspec *ms = specs;
    size_t n = 0, cap = 64;
    if (peek_type(p) == PQL_T_LBRACE) {
        consume(p);
        for (;;) {
            if (peek_type(p) == PQL_T_RBRACE)
                break;
            if (n + 1 >= cap) {
                struct mspec *nm = scry_arena_alloc(p->a, cap * 2 * sizeof(*nm));
                memcpy(nm, ms, n * sizeof(*nm));
                ms = nm, cap *= 2;
            }
            if (!parse_matcher(p, &ms[n]))
                return NULL;
            n++;
            if (peek_type(p) == PQL_T_COMMA) {
                consume(p);
                continue;
            }
            if (peek_type(p) != PQL_T_RBRACE)
                return unexpected(p, "label matching", "\",\" or \"}\"");
        }
        end = consume(p).pos + 1;
    }
    if (p->failed)
        return NULL;
    struct pql_expr *e = node(p, PQL_VECTOR_SEL, PQL_TYPE_VECTOR, start, end);
    struct pql_vector_sel *vs = &e->u.vs;
    if (name_tok) {
        vs->name = tok_text(p, name_tok);
        ms[n].type = SCRY_MATCH_EQ;
        ms[n].name = SCRY_METRIC_NAME;
        ms[n].value = vs->name;
        ms[n].pos = name_tok->pos;
        n++;
    }
    vs->matchers = scry_arena_calloc(p->a, n ? n : 1, sizeof(struct scry_matcher));
    struct mlist *ml = scry_arena_calloc(p->a, 1, sizeof(*ml));
    ml->m = vs->matchers;
    ml->next = p->matchers;
    p->matchers = ml;
    for (size_t i = 0; i < n; i++) {
        struct scry_err merr = { 0 };
        if (scry_matcher_init(&vs->matchers[i], ms[i].type, ms[i].name, ms[i].value, &merr) != 0) {
            failf(p, ms[i].pos, "%s", merr.msg);
            return NULL;
        }
        ml->n = vs->n_matchers = i + 1;
    }
    return e;
}

/* ---- expressions ------------------------------------------------------- */

static struct pql_expr *parse_expr(struct parser *p, int min_prec);

static int binop_prec(enum pql_tok t)
{
    switch (t) {
    case PQL_T_LOR: return 1;
    case PQL_T_LAND: case PQL_T_LUNLESS: return 2;
    case PQL_T_EQLC: case PQL_T_NEQ: case PQL_T_LTE: case PQL_T_LSS: case PQL_T_GTE:
    case PQL_T_GTR: return 3;
    case PQL_T_ADD: case PQL_T_SUB: return 4;
    case PQL_T_MUL: case PQL_T_DIV: case PQL_T_MOD: case PQL_T_ATAN2: case PQL_T_TRIM_UPPER:
    case PQL_T_TRIM_LOWER: return 5;
    case PQL_T_POW: return 6;
    default: return 0;
    }
}
#define PREC_POW 6

static enum pql_op binop(enum pql_tok t)
{
    switch (t) {
    case PQL_T_ADD: return PQL_OP_ADD;
    case PQL_T_SUB: return PQL_OP_SUB;
    case PQL_T_MUL: return PQL_OP_MUL;
    case PQL_T_DIV: return PQL_OP_DIV;
    case PQL_T_MOD: return PQL_OP_MOD;
    case PQL_T_POW: return PQL_OP_POW;
    case PQL_T_ATAN2: return PQL_OP_ATAN2;
    case PQL_T_EQLC: return PQL_OP_EQLC;
    case PQL_T_NEQ: return PQL_OP_NEQ;
    case PQL_T_GTR: return PQL_OP_GTR;
    case PQL_T_LSS: return PQL_OP_LSS;
    case PQL_T_GTE: return PQL_OP_GTE;
    case PQL_T_LTE: return PQL_OP_LTE;
    case PQL_T_LAND: return PQL_OP_AND;
    case PQL_T_LOR: return PQL_OP_OR;
    case PQL_T_TRIM_UPPER: return PQL_OP_TRIM_UPPER;
    case PQL_T_TRIM_LOWER: return PQL_OP_TRIM_LOWER;
    default: return PQL_OP_UNLESS;
    }
}

static bool is_keyword_tok(enum pql_tok t)
{
    return (t > PQL_T_OPS_BEGIN && t < PQL_T_OPS_END && (t == PQL_T_LAND || t == PQL_T_LOR ||
                                                         t == PQL_T_LUNLESS || t == PQL_T_ATAN2)) ||
           (t > PQL_T_AGG_BEGIN && t < PQL_T_AGG_END) || (t > PQL_T_KW_BEGIN && t < PQL_T_KW_END) ||
           (t >= PQL_T_START && t <= PQL_T_MIN_OF);
}

/* grouping_labels: "(" [label {"," label}] [","] ")" */
static bool parse_grouping(struct parser *p, const char ***out, size_t *n_out)
{
    struct vec v = { 0 };
    if (peek_type(p) != PQL_T_LPAREN) {
        unexpected(p, "grouping opts", "\"(\"");
        return false;
    }
    consume(p);
    while (peek_type(p) != PQL_T_RPAREN) {
        enum pql_tok ty = peek_type(p);
        const char *label = NULL;
        if (ty == PQL_T_IDENT || is_keyword_tok(ty)) {
            struct pql_token t = consume(p);
            label = tok_text(p, &t);
        } else if (ty == PQL_T_STRING) {
            struct pql_token t = consume(p);
            label = unquote_tok(p, &t);
        }
        if (!label) {
            unexpected(p, "grouping opts", "label");
            return false;
        }
        vec_push(p, &v, (void *)label);
        if (peek_type(p) == PQL_T_COMMA) {
            consume(p);
            continue;
        }
        if (peek_type(p) != PQL_T_RPAREN) {
            unexpected(p, "grouping opts", "\",\" or \")\"");
            return false;
        }
    }
    consume(p);
    *out = (const char **)v.v;
    *n_out = v.n;
    return !p->failed;
}

/* function_call_body: "(" [expr {"," expr}] ")" */
static bool parse_call_body(struct parser *p, struct vec *args)
{
    if (peek_type(p) != PQL_T_LPAREN) {
        unexpected(p, NULL, NULL);
        return false;
    }
    consume(p);
    if (peek_type(p) == PQL_T_RPAREN) {
        consume(p);
        return true;
    }
    for (;;) {
        struct pql_expr *e = parse_expr(p, 0);
        if (!e)
            return false;
        vec_push(p, args, e);
        if (peek_type(p) == PQL_T_COMMA) {
            struct pql_token comma = consume(p);
            if (peek_type(p) == PQL_T_RPAREN) {
                failf(p, comma.pos, "trailing commas not allowed in function call args");
                return false;
            }
            continue;
        }
        if (peek_type(p) != PQL_T_RPAREN) {
            unexpected(p, NULL, NULL);
            return false;
        }
        consume(p);
        return !p->failed;
    }
}

static struct pql_expr *parse_call(struct parser *p)
{
    struct pql_token name = consume(p);
    struct vec args = { 0 };
    if (!parse_call_body(p, &args))
        return NULL;
    char fname[128];
    snprintf(fname, sizeof(fname), "%.*s", (int)name.len, p->q + name.pos);
    const struct pql_func *f = pql_function(fname);
    if (!f) {
        failf(p, name.pos, "unknown function with name \"%s\"", fname);
        return NULL;
    }
    struct pql_expr *e = node(p, PQL_CALL, f->ret, name.pos, p->last_closing);
    e->u.call.func = f;
    e->u.call.args = (struct pql_expr **)args.v;
    e->u.call.n_args = args.n;
    for (size_t i = 0; i < args.n; i++)
        if (!grow(p, e, args.v[i]))
            return NULL;
    return e;
}

static bool parse_agg_modifier(struct parser *p, struct pql_aggregate *agg)
{
    agg->without = consume(p).type == PQL_T_WITHOUT;
    return parse_grouping(p, &agg->grouping, &agg->n_grouping);
}

static struct pql_expr *parse_aggregate(struct parser *p)
{
    struct pql_token op = consume(p);
    struct pql_expr *e = node(p, PQL_AGGREGATE, PQL_TYPE_VECTOR, op.pos, op.pos + op.len);
    struct pql_aggregate *agg = &e->u.agg;
    agg->op = (enum pql_agg)(op.type - PQL_T_SUM);
    bool modifier_first = peek_type(p) == PQL_T_BY || peek_type(p) == PQL_T_WITHOUT;
    if (modifier_first && !parse_agg_modifier(p, agg))
        return NULL;
    struct vec args = { 0 };
    if (peek_type(p) != PQL_T_LPAREN)
        return unexpected(p, "aggregation", NULL);
    p->in_agg++;
    bool ok = parse_call_body(p, &args);
    p->in_agg--;
    if (!ok)
        return NULL;
    if (!modifier_first && (peek_type(p) == PQL_T_BY || peek_type(p) == PQL_T_WITHOUT) &&
        !parse_agg_modifier(p, agg))
        return NULL;
    e->pos.end = p->last_closing;
    if (args.n == 0) {
        failf(p, op.pos, "no arguments for aggregate expression provided");
        return NULL;
    }
    size_t want = pql_agg_has_param(agg->op) ? 2 : 1;
    if (args.n != want) {
        failf(p, op.pos,
              "wrong number of arguments for aggregate expression provided, expected %zu, got %zu",
              want, args.n);
        return NULL;
    }
    if (want == 2)
        agg->param = args.v[0];
    agg->expr = args.v[want - 1];
    if (!grow(p, e, agg->param) || !grow(p, e, agg->expr))
        return NULL;
    return e;
}

static struct pql_expr *parse_paren(struct parser *p)
{
    struct pql_token lp = consume(p);
    struct pql_expr *inner = parse_expr(p, 0);
    if (!inner)
        return NULL;
    if (peek_type(p) != PQL_T_RPAREN)
        return unexpected(p, NULL, NULL);
    struct pql_token rp = consume(p);
    struct pql_expr *e = node(p, PQL_PAREN, inner->type, lp.pos, rp.pos + 1);
    e->u.paren = inner;
    return grow(p, e, inner) ? e : NULL;
}

static struct pql_expr *parse_primary(struct parser *p)
{
    struct pql_token *t = peek(p);
    if (p->failed)
        return NULL;
    enum pql_tok ty = t->type;
    switch (ty) {
    case PQL_T_NUMBER: case PQL_T_DURATION: {
        struct pql_token nt = consume(p);
        struct pql_expr *e = node(p, PQL_NUMBER, PQL_TYPE_SCALAR, nt.pos, nt.pos + nt.len);
        if (ty == PQL_T_NUMBER) {
            if (!number_value(p, &nt, &e->u.number.val))
                return NULL;
        } else {
            int64_t ms;
            if (!duration_value(p, &nt, &ms))
                return NULL;
            e->u.number.val = (double)ms / 1000.0;
            e->u.number.duration = true;
        }
        return e;
    }
    case PQL_T_STRING:
        return string_literal(p);
    case PQL_T_LPAREN:
        return parse_paren(p);
    case PQL_T_LBRACE:
        return parse_selector(p, NULL);
    case PQL_T_IDENT: case PQL_T_METRIC_IDENT: case PQL_T_START: case PQL_T_END:
    case PQL_T_STEP: case PQL_T_RANGE: case PQL_T_MAX_OF: case PQL_T_MIN_OF: {
        struct pql_token nt = *t;
        if (ty != PQL_T_METRIC_IDENT) {
            /* Only an identifier (or one of the keyword-named experimental
             * functions) followed by "(" is a call. Look one token ahead
             * without losing this one: the lexer is cheap to copy. */
            struct pql_lexer save = p->lex;
            struct pql_token after;
            do {
                pql__lex_next(&p->lex, &after);
            } while (after.type == PQL_T_COMMENT);
            p->lex = save;
            if (after.type == PQL_T_LPAREN)
                return parse_call(p);
        }
        consume(p);
        return parse_selector(p, &nt);
    }
    default:
        break;
    }
    if (ty > PQL_T_AGG_BEGIN && ty < PQL_T_AGG_END) {
        struct pql_lexer save = p->lex;
        struct pql_token after;
        do {
            pql__lex_next(&p->lex, &after);
        } while (after.type == PQL_T_COMMENT);
        p->lex = save;
        if (after.type == PQL_T_LPAREN || after.type == PQL_T_BY || after.type == PQL_T_WITHOUT)
            return parse_aggregate(p);
        if (after.type == PQL_T_LBRACE || after.type == PQL_T_EOF || binop_prec(after.type) ||
            after.type == PQL_T_RPAREN || after.type == PQL_T_COMMA ||
            after.type == PQL_T_LBRACKET || after.type == PQL_T_OFFSET || after.type == PQL_T_AT) {
            struct pql_token nt = consume(p);
            return parse_selector(p, &nt);
        }
        /* goyacc reduces the aggregator to a metric name first, so the
         * error is about the next token, without context. */
        consume(p);
        return unexpected(p, NULL, NULL);
    }
    if (ty == PQL_T_LAND || ty == PQL_T_LOR || ty == PQL_T_LUNLESS || ty == PQL_T_BY ||
        ty == PQL_T_WITHOUT || ty == PQL_T_OFFSET || ty == PQL_T_ANCHORED ||
        ty == PQL_T_SMOOTHED || ty == PQL_T_FILL || ty == PQL_T_FILL_LEFT ||
        ty == PQL_T_FILL_RIGHT) {
        struct pql_token nt = consume(p);
        return parse_selector(p, &nt);
    }
    return unexpected(p, NULL, NULL);
}

/* ---- duration expressions (experimental) -------------------------------- */

/* Go's time.Duration holds ±2^63 ns: Prometheus rejects longer literals. */
#define MAX_DURATION_S 9223372036.854775807

static struct pql_dur_expr *parse_dur(struct parser *p, int min_prec);

static struct pql_dur_expr *dur_node(struct parser *p, enum pql_dur_kind kind, uint32_t pos)
{
    struct pql_dur_expr *d = scry_arena_calloc(p->a, 1, sizeof(*d));
    d->kind = kind;
    d->pos = pos;
    d->depth = 1;
    return d;
}

static bool dur_grow(struct parser *p, struct pql_dur_expr *parent, const struct pql_dur_expr *child)
{
    if (child && child->depth + 1 > parent->depth)
        parent->depth = child->depth + 1;
    if (parent->depth <= PQL_MAX_DEPTH)
        return true;
    failf(p, parent->pos, "query is nested too deeply (more than %d levels)", PQL_MAX_DEPTH);
    return false;
}

static bool dur_atom_start(struct parser *p)
{
    enum pql_tok t = peek_type(p);
    return t == PQL_T_NUMBER || t == PQL_T_DURATION || t == PQL_T_STEP || t == PQL_T_RANGE ||
           t == PQL_T_LPAREN || t == PQL_T_MIN_OF || t == PQL_T_MAX_OF;
}

/* A syntax error inside a duration: reported in the context of the
 * enclosing bracket or offset, as the grammar's error rules do. */
static void *dur_unexpected(struct parser *p)
{
    return unexpected(p, p->dur_ctx, p->dur_expected);
}

static bool expect_tok(struct parser *p, enum pql_tok ty)
{
    if (peek_type(p) != ty) {
        dur_unexpected(p);
        return false;
    }
    consume(p);
    return true;
}

static bool dur_literal_in_range(struct parser *p, const struct pql_dur_expr *d, uint32_t pos)
{
    if (isfinite(d->val) && fabs(d->val) <= MAX_DURATION_S)
        return true;
    failf(p, pos, "duration out of range");
    return false;
}

/* number | duration | step() | range() | min_of(d, d) | max_of(d, d) | (d) */
static struct pql_dur_expr *parse_dur_atom(struct parser *p)
{
    struct pql_token *t = peek(p);
    if (p->failed)
        return NULL;
    struct pql_dur_expr *d;
    switch (t->type) {
    case PQL_T_NUMBER: case PQL_T_DURATION: {
        struct pql_token nt = consume(p);
        d = dur_node(p, PQL_DUR_NUMBER, nt.pos);
        if (nt.type == PQL_T_NUMBER) {
            if (!number_value(p, &nt, &d->val))
                return NULL;
        } else {
            int64_t ms;
            if (!duration_value(p, &nt, &ms))
                return NULL;
            d->val = (double)ms / 1000.0;
            d->duration = true;
        }
        return dur_literal_in_range(p, d, nt.pos) ? d : NULL;
    }
    case PQL_T_STEP: case PQL_T_RANGE: {
        struct pql_token kt = consume(p);
        d = dur_node(p, kt.type == PQL_T_STEP ? PQL_DUR_STEP : PQL_DUR_RANGE, kt.pos);
        if (!expect_tok(p, PQL_T_LPAREN) || !expect_tok(p, PQL_T_RPAREN))
            return NULL;
        return d;
    }
    case PQL_T_MIN_OF: case PQL_T_MAX_OF: {
        struct pql_token kt = consume(p);
        d = dur_node(p, kt.type == PQL_T_MIN_OF ? PQL_DUR_MIN_OF : PQL_DUR_MAX_OF, kt.pos);
        if (!expect_tok(p, PQL_T_LPAREN) || !(d->lhs = parse_dur(p, 0)) ||
            !expect_tok(p, PQL_T_COMMA) || !(d->rhs = parse_dur(p, 0)) ||
            !expect_tok(p, PQL_T_RPAREN))
            return NULL;
        return dur_grow(p, d, d->lhs) && dur_grow(p, d, d->rhs) ? d : NULL;
    }
    case PQL_T_LPAREN: {
        struct pql_token lp = consume(p);
        d = dur_node(p, PQL_DUR_PAREN, lp.pos);
        if (!(d->lhs = parse_dur(p, 0)) || !expect_tok(p, PQL_T_RPAREN))
            return NULL;
        return dur_grow(p, d, d->lhs) ? d : NULL;
    }
    default:
        return dur_unexpected(p);
    }
}

/* A sign folds into a number literal (checking its range at the sign), is
 * dropped when it is +, and wraps anything else when it is -. */
static struct pql_dur_expr *apply_sign(struct parser *p, const struct pql_token *op,
                                       struct pql_dur_expr *x)
{
    if (x->kind == PQL_DUR_NUMBER) {
        if (op->type == PQL_T_SUB)
            x->val = -x->val;
        x->pos = op->pos;
        return dur_literal_in_range(p, x, op->pos) ? x : NULL;
    }
    if (op->type == PQL_T_ADD)
        return x;
    struct pql_dur_expr *d = dur_node(p, PQL_DUR_UNARY, op->pos);
    d->op = PQL_OP_SUB;
    d->lhs = x;
    return dur_grow(p, d, x) ? d : NULL;
}

static struct pql_dur_expr *parse_dur_unary(struct parser *p)
{
    enum pql_tok ty = peek_type(p);
    if (ty != PQL_T_ADD && ty != PQL_T_SUB)
        return parse_dur_atom(p);
    struct pql_token op = consume(p);
    struct pql_dur_expr *x = parse_dur(p, PREC_POW);
    return x ? apply_sign(p, &op, x) : NULL;
}

static int dur_prec(enum pql_tok t)
{
    switch (t) {
    case PQL_T_ADD: case PQL_T_SUB: return 4;
    case PQL_T_MUL: case PQL_T_DIV: case PQL_T_MOD: return 5;
    case PQL_T_POW: return 6;
    default: return 0;
    }
}

static struct pql_dur_expr *parse_dur_at(struct parser *p, int min_prec)
{
    struct pql_dur_expr *lhs = parse_dur_unary(p);
    while (lhs && !p->failed) {
        enum pql_tok ty = peek_type(p);
        int prec = dur_prec(ty);
        if (prec == 0 || prec < min_prec)
            break;
        struct pql_token op = consume(p);
        struct pql_dur_expr *d = dur_node(p, PQL_DUR_BINARY, lhs->pos);
        d->op = binop(ty);
        d->lhs = lhs;
        if (!(d->rhs = parse_dur(p, ty == PQL_T_POW ? prec : prec + 1)))
            return NULL;
        if ((ty == PQL_T_DIV || ty == PQL_T_MOD) && d->rhs->kind == PQL_DUR_NUMBER &&
            d->rhs->val == 0) {
            failf(p, op.pos, ty == PQL_T_DIV ? "division by zero" : "modulo by zero");
            return NULL;
        }
        if (!dur_grow(p, d, d->lhs) || !dur_grow(p, d, d->rhs))
            return NULL;
        lhs = d;
    }
    return p->failed ? NULL : lhs;
}

static struct pql_dur_expr *parse_dur(struct parser *p, int min_prec)
{
    if (++p->rdepth > PQL_MAX_DEPTH) {
        failf(p, peek(p)->pos, "query is nested too deeply (more than %d levels)", PQL_MAX_DEPTH);
        return NULL;
    }
    struct pql_dur_expr *d = parse_dur_at(p, min_prec);
    p->rdepth--;
    return d;
}

/* A duration in brackets: a literal gives *ms and *expr = NULL; an
 * expression gives *expr and, when it is constant, its value in *ms. A
 * literal must be positive (Prometheus's positive_duration_expr). */
static bool parse_bracket_duration(struct parser *p, int64_t *ms, struct pql_dur_expr **expr)
{
    struct pql_dur_expr *d = parse_dur(p, 0);
    if (!d)
        return false;
    *ms = 0;
    *expr = NULL;
    if (d->kind == PQL_DUR_NUMBER) {
        if (d->val <= 0) {
            failf(p, d->pos, "duration must be greater than 0");
            return false;
        }
        *ms = (int64_t)llround(d->val * 1000.0);
        return true;
    }
    *expr = d;
    if (pql_dur_is_const(d) && pql_dur_eval(d, 0, 0, ms) != 0) {
        failf(p, d->pos, "duration out of range");
        return false;
    }
    return true;
}

static struct pql_expr *parse_bracket(struct parser *p, struct pql_expr *e)
{
    struct pql_token lb = consume(p);
    int64_t range_ms;
    struct pql_dur_expr *range_expr;
    p->dur_ctx = "subquery or range selector";
    p->dur_expected = "number, duration, step(), or range()";
    if (!parse_bracket_duration(p, &range_ms, &range_expr))
        return NULL;
    if (peek_type(p) == PQL_T_RBRACKET) {
        struct pql_token rb = consume(p);
        const char *msg = NULL;
        if (e->kind != PQL_VECTOR_SEL)
            msg = "ranges only allowed for vector selectors";
        else if (e->u.vs.offset_ms != 0 || e->u.vs.offset_expr)
            msg = "no offset modifiers allowed before range";
        else if (e->u.vs.at != PQL_AT_NONE)
            msg = "no @ modifiers allowed before range";
        if (msg) {
            failf(p, lb.pos, "%s", msg);
            return NULL;
        }
        struct pql_expr *m = node(p, PQL_MATRIX_SEL, PQL_TYPE_MATRIX, e->pos.start, rb.pos + 1);
        m->u.ms.vs = e;
        m->u.ms.range_ms = range_ms;
        m->u.ms.range_expr = range_expr;
        return grow(p, m, e) ? m : NULL;
    }
    if (peek_type(p) != PQL_T_COLON)
        return unexpected(p, "subquery or range", "\":\" or \"]\"");
    consume(p);
    int64_t step_ms = 0;
    struct pql_dur_expr *step_expr = NULL;
    if (peek_type(p) != PQL_T_RBRACKET) {
        p->dur_ctx = "subquery selector";
        p->dur_expected = "number, duration, step(), range(), or \"]\"";
        if (!parse_bracket_duration(p, &step_ms, &step_expr))
            return NULL;
        if (peek_type(p) != PQL_T_RBRACKET)
            return unexpected(p, "subquery selector", "\"]\"");
    }
    struct pql_token rb = consume(p);
    struct pql_expr *s = node(p, PQL_SUBQUERY, PQL_TYPE_MATRIX, e->pos.start, rb.pos + 1);
    s->u.sq.expr = e;
    s->u.sq.range_ms = range_ms;
    s->u.sq.range_expr = range_expr;
    s->u.sq.step_ms = step_ms;
    s->u.sq.step_expr = step_expr;
    return grow(p, s, e) ? s : NULL;
}

/* ---- postfix modifiers: [range], [range:step], offset, @ --------------- */

static struct pql_vector_sel *offset_target(struct parser *p, struct pql_expr *e, int64_t **off,
                                            const char *what)
{
    switch (e->kind) {
    case PQL_VECTOR_SEL:
        *off = &e->u.vs.offset_ms;
        return &e->u.vs;
    case PQL_MATRIX_SEL:
        *off = &e->u.ms.vs->u.vs.offset_ms;
        return &e->u.ms.vs->u.vs;
    case PQL_SUBQUERY:
        *off = &e->u.sq.offset_ms;
        return NULL;
    default:
        failf(p, e->pos.start,
              "%s modifier must be preceded by an instant vector selector or range vector "
              "selector or a subquery",
              what);
        *off = NULL;
        return NULL;
    }
}

/* offset <d>, where <d> is one atom with an optional sign: a number, a
 * duration, step(), range(), min_of/max_of(…) or a parenthesised duration
 * expression. Arithmetic after it belongs to the enclosing expression:
 * `x offset -2 ^ 2` is `(x offset -2s) ^ 2` (Prometheus's
 * offset_duration_expr). */
static bool parse_offset(struct parser *p, struct pql_expr *e)
{
    consume(p);
    p->dur_ctx = "offset";
    p->dur_expected = "number, duration, step(), or range()";
    struct pql_token sign = { .type = PQL_T_EOF };
    if (peek_type(p) == PQL_T_SUB || peek_type(p) == PQL_T_ADD)
        sign = consume(p);
    if (!dur_atom_start(p)) {
        dur_unexpected(p);
        return false;
    }
    struct pql_dur_expr *d = parse_dur_atom(p);
    if (d && sign.type != PQL_T_EOF)
        d = apply_sign(p, &sign, d);
    if (!d)
        return false;
    int64_t ms = 0;
    struct pql_dur_expr *dexpr = NULL;
    if (d->kind == PQL_DUR_NUMBER) {
        ms = (int64_t)llround(d->val * 1000.0);
    } else {
        dexpr = d;
        if (pql_dur_is_const(d) && pql_dur_eval(d, 0, 0, &ms) != 0) {
            failf(p, d->pos, "duration out of range");
            return false;
        }
    }
    int64_t *off;
    offset_target(p, e, &off, "offset");
    if (!off)
        return false;
    struct pql_dur_expr **offx = e->kind == PQL_VECTOR_SEL   ? &e->u.vs.offset_expr
                                 : e->kind == PQL_MATRIX_SEL ? &e->u.ms.vs->u.vs.offset_expr
                                                             : &e->u.sq.offset_expr;
    if (*off != 0 || *offx) {
        failf(p, e->pos.start, "offset may not be set multiple times");
        return false;
    }
    *off = ms;
    *offx = dexpr;
    e->pos.end = p->last_closing;
    return true;
}

static bool parse_at(struct parser *p, struct pql_expr *e)
{
    consume(p);
    enum pql_at kind = PQL_AT_TIMESTAMP;
    double ts = 0;
    enum pql_tok ty = peek_type(p);
    if (ty == PQL_T_START || ty == PQL_T_END) {
        kind = consume(p).type == PQL_T_START ? PQL_AT_START : PQL_AT_END;
        if (peek_type(p) != PQL_T_LPAREN)
            return unexpected(p, NULL, NULL), false;
        consume(p);
        if (peek_type(p) != PQL_T_RPAREN)
            return unexpected(p, NULL, NULL), false;
        consume(p);
    } else {
        bool neg = false, signed_ = false;
        if (ty == PQL_T_ADD || ty == PQL_T_SUB) {
            neg = consume(p).type == PQL_T_SUB;
            signed_ = true;
        }
        if (peek_type(p) == PQL_T_DURATION) { /* @ 100s: a duration used as a number */
            struct pql_token t = consume(p);
            int64_t ms;
            if (!duration_value(p, &t, &ms))
                return false;
            ts = (double)(neg ? -ms : ms) / 1000.0;
            goto have_ts;
        }
        if (peek_type(p) != PQL_T_NUMBER) {
            if (signed_)
                return unexpected(p, NULL, NULL), false;
            unexpected(p, "@", "timestamp");
            return false;
        }
        struct pql_token t = consume(p);
        if (!number_value(p, &t, &ts))
            return false;
        if (neg)
            ts = -ts;
    have_ts:
        if (!isfinite(ts) || ts >= 9223372036854775807.0 || ts <= -9223372036854775808.0) {
            char v[64];
            if (isnan(ts))
                snprintf(v, sizeof(v), "NaN");
            else if (isinf(ts))
                snprintf(v, sizeof(v), "%sInf", ts > 0 ? "+" : "-");
            else
                snprintf(v, sizeof(v), "%f", ts);
            failf(p, e->pos.start, "timestamp out of bounds for @ modifier: %s", v);
            return false;
        }
    }
    enum pql_at *atp;
    int64_t *msp;
    switch (e->kind) {
    case PQL_VECTOR_SEL:
        atp = &e->u.vs.at, msp = &e->u.vs.at_ms;
        break;
    case PQL_MATRIX_SEL:
        atp = &e->u.ms.vs->u.vs.at, msp = &e->u.ms.vs->u.vs.at_ms;
        break;
    case PQL_SUBQUERY:
        atp = &e->u.sq.at, msp = &e->u.sq.at_ms;
        break;
    default:
        failf(p, e->pos.start,
              "@ modifier must be preceded by an instant vector selector or range vector "
              "selector or a subquery");
        return false;
    }
    if (*atp != PQL_AT_NONE) {
        failf(p, e->pos.start, "@ <timestamp> may not be set multiple times");
        return false;
    }
    *atp = kind;
    /* timestamp.FromFloatSeconds: seconds to ms, rounded half away from 0 */
    *msp = kind == PQL_AT_TIMESTAMP ? (int64_t)llround(ts * 1000.0) : 0;
    e->pos.end = p->last_closing;
    return true;
}

static bool set_anchored_smoothed(struct parser *p, struct pql_expr *e, bool anchored)
{
    const char *what = anchored ? "anchored" : "smoothed";
    consume(p);
    struct pql_vector_sel *vs = NULL;
    if (e->kind == PQL_VECTOR_SEL)
        vs = &e->u.vs;
    else if (e->kind == PQL_MATRIX_SEL)
        vs = &e->u.ms.vs->u.vs;
    else if (e->kind == PQL_SUBQUERY)
        failf(p, e->pos.start, "%s modifier is not supported for subqueries", what);
    else
        failf(p, e->pos.start, "%s modifier not implemented", what);
    if (!vs)
        return false;
    if (anchored)
        vs->anchored = true;
    else
        vs->smoothed = true;
    if (vs->anchored && vs->smoothed) {
        failf(p, e->pos.start, "anchored and smoothed modifiers cannot be used together");
        return false;
    }
    e->pos.end = p->last_closing > e->pos.end ? p->last_closing : e->pos.end;
    return true;
}

static struct pql_expr *parse_postfix(struct parser *p, struct pql_expr *e)
{
    while (e && !p->failed) {
        switch (peek_type(p)) {
        case PQL_T_LBRACKET:
            e = parse_bracket(p, e);
            break;
        case PQL_T_OFFSET:
            if (!parse_offset(p, e))
                return NULL;
            break;
        case PQL_T_AT:
            if (!parse_at(p, e))
                return NULL;
            break;
        case PQL_T_ANCHORED: case PQL_T_SMOOTHED:
            if (!set_anchored_smoothed(p, e, peek_type(p) == PQL_T_ANCHORED))
                return NULL;
            break;
        default:
            return e;
        }
    }
    return p->failed ? NULL : e;
}

/* ---- unary and binary ------------------------------------------------- */

static struct pql_expr *parse_unary(struct parser *p)
{
    enum pql_tok ty = peek_type(p);
    if (ty != PQL_T_ADD && ty != PQL_T_SUB)
        return parse_postfix(p, parse_primary(p));
    struct pql_token op = consume(p);
    struct pql_expr *x = parse_expr(p, PREC_POW);
    if (!x)
        return NULL;
    if (x->kind == PQL_NUMBER) {
        if (ty == PQL_T_SUB)
            x->u.number.val = -x->u.number.val;
        x->pos.start = op.pos;
        return x;
    }
    struct pql_expr *e = node(p, PQL_UNARY, x->type, op.pos, x->pos.end);
    e->u.unary.op = ty == PQL_T_SUB ? PQL_OP_SUB : PQL_OP_ADD;
    e->u.unary.expr = x;
    return grow(p, e, x) ? e : NULL;
}

/* "(" [+-] number ")" after fill, fill_left or fill_right. */
static bool parse_fill_value(struct parser *p, double *v)
{
    if (peek_type(p) != PQL_T_LPAREN)
        return unexpected(p, "fill modifier", "\"(\""), false;
    consume(p);
    bool neg = false;
    if (peek_type(p) == PQL_T_SUB || peek_type(p) == PQL_T_ADD)
        neg = consume(p).type == PQL_T_SUB;
    if (peek_type(p) != PQL_T_NUMBER)
        return unexpected(p, "fill modifier", "number"), false;
    struct pql_token t = consume(p);
    if (!number_value(p, &t, v))
        return false;
    if (neg)
        *v = -*v;
    if (peek_type(p) != PQL_T_RPAREN)
        return unexpected(p, "fill modifier", "\")\""), false;
    consume(p);
    return true;
}

static bool parse_bin_modifiers(struct parser *p, struct pql_binary *b)
{
    struct pql_vector_matching *vm = scry_arena_calloc(p->a, 1, sizeof(*vm));
    vm->card = PQL_CARD_ONE_TO_ONE;
    b->vm = vm;
    if (peek_type(p) == PQL_T_BOOL) {
        consume(p);
        b->return_bool = true;
    }
    enum pql_tok ty = peek_type(p);
    if (ty == PQL_T_ON || ty == PQL_T_IGNORING) {
        consume(p);
        vm->on = ty == PQL_T_ON;
        if (!parse_grouping(p, &vm->labels, &vm->n_labels))
            return false;
        ty = peek_type(p);
        if (ty == PQL_T_GROUP_LEFT || ty == PQL_T_GROUP_RIGHT) {
            consume(p);
            vm->card = ty == PQL_T_GROUP_LEFT ? PQL_CARD_MANY_TO_ONE : PQL_CARD_ONE_TO_MANY;
            if (peek_type(p) == PQL_T_LPAREN &&
                !parse_grouping(p, &vm->include, &vm->n_include))
                return false;
        }
    }
    for (ty = peek_type(p); ty == PQL_T_FILL || ty == PQL_T_FILL_LEFT || ty == PQL_T_FILL_RIGHT;
         ty = peek_type(p)) {
        consume(p);
        double v;
        if (!parse_fill_value(p, &v))
            return false;
        if (ty != PQL_T_FILL_RIGHT)
            vm->fill_lhs_set = true, vm->fill_lhs = v;
        if (ty != PQL_T_FILL_LEFT)
            vm->fill_rhs_set = true, vm->fill_rhs = v;
    }
    return !p->failed;
}

static struct pql_expr *parse_expr_at(struct parser *p, int min_prec)
{
    struct pql_expr *lhs = parse_unary(p);
    while (lhs && !p->failed) {
        enum pql_tok ty = peek_type(p);
        int prec = binop_prec(ty);
        if (prec == 0 || prec < min_prec)
            break;
        struct pql_token op = consume(p);
        struct pql_expr *e = node(p, PQL_BINARY, PQL_TYPE_VECTOR, lhs->pos.start, 0);
        struct pql_binary *b = &e->u.bin;
        b->op = binop(ty);
        b->op_pos = op.pos;
        if (!parse_bin_modifiers(p, b))
            return NULL;
        struct pql_expr *rhs = parse_expr(p, ty == PQL_T_POW ? prec : prec + 1);
        if (!rhs)
            return NULL;
        assert(rhs->pos.start >= op.pos + op.len && lhs->pos.end <= op.pos);
        b->lhs = lhs;
        b->rhs = rhs;
        e->pos.end = rhs->pos.end;
        if (!grow(p, e, lhs) || !grow(p, e, rhs))
            return NULL;
        if (lhs->type == PQL_TYPE_SCALAR && rhs->type == PQL_TYPE_SCALAR)
            e->type = PQL_TYPE_SCALAR;
        lhs = e;
    }
    return p->failed ? NULL : lhs;
}

/* Bounds the recursion of the descent itself (deep parentheses never build
 * a node before they return). */
static struct pql_expr *parse_expr(struct parser *p, int min_prec)
{
    if (++p->rdepth > PQL_MAX_DEPTH) {
        failf(p, peek(p)->pos, "query is nested too deeply (more than %d levels)", PQL_MAX_DEPTH);
        return NULL;
    }
    struct pql_expr *e = parse_expr_at(p, min_prec);
    p->rdepth--;
    return e;
}

/* ---- entry points ------------------------------------------------------- */

static void release_matchers(struct mlist *ml)
{
    for (; ml; ml = ml->next)
        for (size_t i = 0; i < ml->n; i++)
            scry_matcher_fini(&ml->m[i]);
}

int pql_parse(struct scry_arena *a, const char *q, size_t len, struct pql_expr **out,
              struct scry_err *err)
{
    if (!a || (!q && len) || !out)
        return scry_err_set(err, SCRY_EINVAL, "pql_parse: bad arguments");
    if (len > UINT32_MAX - 1)
        return scry_err_set(err, SCRY_ELIMIT, "query too long");
    struct parser p = { .a = a, .q = q ? q : "", .len = len, .err = err };
    pql__lex_init(&p.lex, a, p.q, len);
    struct pql_expr *e = NULL;
    if (peek_type(&p) == PQL_T_EOF) {
        failf(&p, 0, "no expression found in input");
    } else {
        e = parse_expr(&p, 0);
        if (e && peek_type(&p) != PQL_T_EOF)
            unexpected(&p, NULL, NULL);
    }
    if (!p.failed && pql__check(p.q, len, e, err) != 0)
        p.failed = true;
    if (p.failed) {
        assert(!err || err->code == SCRY_EPARSE);
        release_matchers(p.matchers);
        return SCRY_EPARSE;
    }
    assert(e && e->pos.end <= len);
    *out = e;
    return 0;
}

static int fini_one(struct pql_expr *e, void *ud)
{
    (void)ud;
    if (e->kind == PQL_VECTOR_SEL) {
        for (size_t i = 0; i < e->u.vs.n_matchers; i++)
            scry_matcher_fini(&e->u.vs.matchers[i]);
        e->u.vs.n_matchers = 0;
    }
    return 0;
}

void pql_expr_fini(struct pql_expr *e)
{
    if (e)
        pql_expr_walk(e, fini_one, NULL);
}

int pql_expr_walk(struct pql_expr *e, int (*fn)(struct pql_expr *e, void *ud), void *ud)
{
    if (!e)
        return 0;
    int rc = fn(e, ud);
    if (rc)
        return rc;
    switch (e->kind) {
    case PQL_MATRIX_SEL: return pql_expr_walk(e->u.ms.vs, fn, ud);
    case PQL_SUBQUERY: return pql_expr_walk(e->u.sq.expr, fn, ud);
    case PQL_UNARY: return pql_expr_walk(e->u.unary.expr, fn, ud);
    case PQL_PAREN: return pql_expr_walk(e->u.paren, fn, ud);
    case PQL_BINARY:
        rc = pql_expr_walk(e->u.bin.lhs, fn, ud);
        return rc ? rc : pql_expr_walk(e->u.bin.rhs, fn, ud);
    case PQL_AGGREGATE:
        rc = pql_expr_walk(e->u.agg.param, fn, ud);
        return rc ? rc : pql_expr_walk(e->u.agg.expr, fn, ud);
    case PQL_CALL:
        for (size_t i = 0; i < e->u.call.n_args; i++)
            if ((rc = pql_expr_walk(e->u.call.args[i], fn, ud)) != 0)
                return rc;
        return 0;
    default:
        return 0;
    }
}
