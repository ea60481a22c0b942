/* promql_parse.c — recursive-descent / precedence-climbing PromQL parser:
 * the parser state, tokens, nodes and literals, operators and precedence,
 * primary expressions, and the entry points. Selectors and postfix
 * modifiers live in promql_parse_sel.c, duration expressions in
 * promql_parse_dur.c, calls and aggregations in promql_parse_agg.c; they
 * share the declarations in promql_parse_internal.h.
 *
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
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "query/promql_parse_internal.h"

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

void pql__failf(struct parser *p, size_t pos, const char *fmt, ...)
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

struct pql_token *pql__peek(struct parser *p)
{
    if (!p->have_tok) {
        do {
            pql__lex_next(&p->lex, &p->tok);
        } while (p->tok.type == PQL_T_COMMENT);
        p->have_tok = true;
        if (p->tok.type == PQL_T_ERROR)
            pql__failf(p, p->tok.pos, "%s", p->tok.msg);
    }
    return &p->tok;
}

enum pql_tok pql__peek_type(struct parser *p) { return pql__peek(p)->type; }

struct pql_token pql__consume(struct parser *p)
{
    struct pql_token t = *pql__peek(p);
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
void *pql__unexpected(struct parser *p, const char *context, const char *expected)
{
    struct pql_token *t = pql__peek(p);
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
    pql__failf(p, t->pos, "%s", b.p);
    scry_buf_fini(&b);
    return NULL;
}

const char *pql__tok_text(struct parser *p, const struct pql_token *t)
{
    return scry_arena_strndup(p->a, p->q + t->pos, t->len);
}

/* ---- nodes ------------------------------------------------------------- */

struct pql_expr *pql__node(struct parser *p, enum pql_kind kind, enum pql_type type,
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
bool pql__grow(struct parser *p, struct pql_expr *parent, const struct pql_expr *child)
{
    if (child && child->depth + 1 > parent->depth)
        parent->depth = child->depth + 1;
    if (parent->depth <= PQL_MAX_DEPTH)
        return true;
    pql__failf(p, parent->pos.start, "query is nested too deeply (more than %d levels)", PQL_MAX_DEPTH);
    return false;
}

void pql__vec_push(struct parser *p, struct vec *v, void *x)
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

bool pql__number_value(struct parser *p, const struct pql_token *t, double *out)
{
    bool range_err;
    if (pql__parse_number(p->q + t->pos, t->len, out, &range_err))
        return true;
    struct scry_buf b = { 0 };
    pql_quote(p->q + t->pos, t->len, &b);
    pql__failf(p, t->pos, "error parsing number: strconv.ParseFloat: parsing %s: %s", b.p,
          range_err ? "value out of range" : "invalid syntax");
    scry_buf_fini(&b);
    return false;
}

bool pql__duration_value(struct parser *p, const struct pql_token *t, int64_t *out_ms)
{
    char why[200];
    if (pql__parse_duration(p->q + t->pos, t->len, out_ms, why, sizeof(why)))
        return true;
    pql__failf(p, t->pos, "%s", why);
    return false;
}

static struct pql_expr *string_literal(struct parser *p)
{
    struct pql_token t = pql__consume(p);
    struct pql_expr *e = pql__node(p, PQL_STRING, PQL_TYPE_STRING, t.pos, t.pos + t.len);
    struct scry_err uerr = { 0 };
    if (pql_unquote(p->a, p->q + t.pos, t.len, &e->u.string.val, &e->u.string.len, &uerr) != 0) {
        struct scry_buf b = { 0 };
        pql_quote(p->q + t.pos, t.len, &b);
        pql__failf(p, t.pos, "error unquoting string %s: invalid syntax", b.p);
        scry_buf_fini(&b);
        return NULL;
    }
    return e;
}


/* ---- expressions ------------------------------------------------------- */

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

enum pql_op pql__binop(enum pql_tok t)
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

static struct pql_expr *parse_paren(struct parser *p)
{
    struct pql_token lp = pql__consume(p);
    struct pql_expr *inner = pql__parse_expr(p, 0);
    if (!inner)
        return NULL;
    if (pql__peek_type(p) != PQL_T_RPAREN)
        return pql__unexpected(p, NULL, NULL);
    struct pql_token rp = pql__consume(p);
    struct pql_expr *e = pql__node(p, PQL_PAREN, inner->type, lp.pos, rp.pos + 1);
    e->u.paren = inner;
    return pql__grow(p, e, inner) ? e : NULL;
}

static struct pql_expr *parse_primary(struct parser *p)
{
    struct pql_token *t = pql__peek(p);
    if (p->failed)
        return NULL;
    enum pql_tok ty = t->type;
    switch (ty) {
    case PQL_T_NUMBER: case PQL_T_DURATION: {
        struct pql_token nt = pql__consume(p);
        struct pql_expr *e = pql__node(p, PQL_NUMBER, PQL_TYPE_SCALAR, nt.pos, nt.pos + nt.len);
        if (ty == PQL_T_NUMBER) {
            if (!pql__number_value(p, &nt, &e->u.number.val))
                return NULL;
        } else {
            int64_t ms;
            if (!pql__duration_value(p, &nt, &ms))
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
        return pql__parse_selector(p, NULL);
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
                return pql__parse_call(p);
        }
        pql__consume(p);
        return pql__parse_selector(p, &nt);
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
            return pql__parse_aggregate(p);
        if (after.type == PQL_T_LBRACE || after.type == PQL_T_EOF || binop_prec(after.type) ||
            after.type == PQL_T_RPAREN || after.type == PQL_T_COMMA ||
            after.type == PQL_T_LBRACKET || after.type == PQL_T_OFFSET || after.type == PQL_T_AT) {
            struct pql_token nt = pql__consume(p);
            return pql__parse_selector(p, &nt);
        }
        /* goyacc reduces the aggregator to a metric name first, so the
         * error is about the next token, without context. */
        pql__consume(p);
        return pql__unexpected(p, NULL, NULL);
    }
    if (ty == PQL_T_LAND || ty == PQL_T_LOR || ty == PQL_T_LUNLESS || ty == PQL_T_BY ||
        ty == PQL_T_WITHOUT || ty == PQL_T_OFFSET || ty == PQL_T_ANCHORED ||
        ty == PQL_T_SMOOTHED || ty == PQL_T_FILL || ty == PQL_T_FILL_LEFT ||
        ty == PQL_T_FILL_RIGHT) {
        struct pql_token nt = pql__consume(p);
        return pql__parse_selector(p, &nt);
    }
    return pql__unexpected(p, NULL, NULL);
}

/* ---- unary and binary ------------------------------------------------- */

static struct pql_expr *parse_unary(struct parser *p)
{
    enum pql_tok ty = pql__peek_type(p);
    if (ty != PQL_T_ADD && ty != PQL_T_SUB)
        return pql__parse_postfix(p, parse_primary(p));
    struct pql_token op = pql__consume(p);
    struct pql_expr *x = pql__parse_expr(p, PREC_POW);
    if (!x)
        return NULL;
    if (x->kind == PQL_NUMBER) {
        if (ty == PQL_T_SUB)
            x->u.number.val = -x->u.number.val;
        x->pos.start = op.pos;
        return x;
    }
    struct pql_expr *e = pql__node(p, PQL_UNARY, x->type, op.pos, x->pos.end);
    e->u.unary.op = ty == PQL_T_SUB ? PQL_OP_SUB : PQL_OP_ADD;
    e->u.unary.expr = x;
    return pql__grow(p, e, x) ? e : NULL;
}

/* "(" [+-] number ")" after fill, fill_left or fill_right. */
static bool parse_fill_value(struct parser *p, double *v)
{
    if (pql__peek_type(p) != PQL_T_LPAREN)
        return pql__unexpected(p, "fill modifier", "\"(\""), false;
    pql__consume(p);
    bool neg = false;
    if (pql__peek_type(p) == PQL_T_SUB || pql__peek_type(p) == PQL_T_ADD)
        neg = pql__consume(p).type == PQL_T_SUB;
    if (pql__peek_type(p) != PQL_T_NUMBER)
        return pql__unexpected(p, "fill modifier", "number"), false;
    struct pql_token t = pql__consume(p);
    if (!pql__number_value(p, &t, v))
        return false;
    if (neg)
        *v = -*v;
    if (pql__peek_type(p) != PQL_T_RPAREN)
        return pql__unexpected(p, "fill modifier", "\")\""), false;
    pql__consume(p);
    return true;
}

static bool parse_bin_modifiers(struct parser *p, struct pql_binary *b)
{
    struct pql_vector_matching *vm = scry_arena_calloc(p->a, 1, sizeof(*vm));
    vm->card = PQL_CARD_ONE_TO_ONE;
    b->vm = vm;
    if (pql__peek_type(p) == PQL_T_BOOL) {
        pql__consume(p);
        b->return_bool = true;
    }
    enum pql_tok ty = pql__peek_type(p);
    if (ty == PQL_T_ON || ty == PQL_T_IGNORING) {
        pql__consume(p);
        vm->on = ty == PQL_T_ON;
        if (!pql__parse_grouping(p, &vm->labels, &vm->n_labels))
            return false;
        ty = pql__peek_type(p);
        if (ty == PQL_T_GROUP_LEFT || ty == PQL_T_GROUP_RIGHT) {
            pql__consume(p);
            vm->card = ty == PQL_T_GROUP_LEFT ? PQL_CARD_MANY_TO_ONE : PQL_CARD_ONE_TO_MANY;
            if (pql__peek_type(p) == PQL_T_LPAREN &&
                !pql__parse_grouping(p, &vm->include, &vm->n_include))
                return false;
        }
    }
    for (ty = pql__peek_type(p); ty == PQL_T_FILL || ty == PQL_T_FILL_LEFT || ty == PQL_T_FILL_RIGHT;
         ty = pql__peek_type(p)) {
        pql__consume(p);
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
        enum pql_tok ty = pql__peek_type(p);
        int prec = binop_prec(ty);
        if (prec == 0 || prec < min_prec)
            break;
        struct pql_token op = pql__consume(p);
        struct pql_expr *e = pql__node(p, PQL_BINARY, PQL_TYPE_VECTOR, lhs->pos.start, 0);
        struct pql_binary *b = &e->u.bin;
        b->op = pql__binop(ty);
        b->op_pos = op.pos;
        if (!parse_bin_modifiers(p, b))
            return NULL;
        struct pql_expr *rhs = pql__parse_expr(p, ty == PQL_T_POW ? prec : prec + 1);
        if (!rhs)
            return NULL;
        assert(rhs->pos.start >= op.pos + op.len && lhs->pos.end <= op.pos);
        b->lhs = lhs;
        b->rhs = rhs;
        e->pos.end = rhs->pos.end;
        if (!pql__grow(p, e, lhs) || !pql__grow(p, e, rhs))
            return NULL;
        if (lhs->type == PQL_TYPE_SCALAR && rhs->type == PQL_TYPE_SCALAR)
            e->type = PQL_TYPE_SCALAR;
        lhs = e;
    }
    return p->failed ? NULL : lhs;
}

/* Bounds the recursion of the descent itself (deep parentheses never build
 * a node before they return). */
struct pql_expr *pql__parse_expr(struct parser *p, int min_prec)
{
    if (++p->rdepth > PQL_MAX_DEPTH) {
        pql__failf(p, pql__peek(p)->pos, "query is nested too deeply (more than %d levels)", PQL_MAX_DEPTH);
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
    if (pql__peek_type(&p) == PQL_T_EOF) {
        pql__failf(&p, 0, "no expression found in input");
    } else {
        e = pql__parse_expr(&p, 0);
        if (e && pql__peek_type(&p) != PQL_T_EOF)
            pql__unexpected(&p, NULL, NULL);
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
