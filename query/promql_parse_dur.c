/* promql_parse_dur.c — duration expressions (experimental): the arithmetic
 * Prometheus accepts inside [..] and after offset, with its range checks.
 * Part of the PromQL parser (promql_parse.c has the overview). */
#include <math.h>

#include "query/promql_parse_internal.h"

/* ---- duration expressions (experimental) -------------------------------- */

/* Go's time.Duration holds ±2^63 ns: Prometheus rejects longer literals. */
#define MAX_DURATION_S 9223372036.854775807


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
    pql__failf(p, parent->pos, "query is nested too deeply (more than %d levels)", PQL_MAX_DEPTH);
    return false;
}

bool pql__dur_atom_start(struct parser *p)
{
    enum pql_tok t = pql__peek_type(p);
    return t == PQL_T_NUMBER || t == PQL_T_DURATION || t == PQL_T_STEP || t == PQL_T_RANGE ||
           t == PQL_T_LPAREN || t == PQL_T_MIN_OF || t == PQL_T_MAX_OF;
}

/* A syntax error inside a duration: reported in the context of the
 * enclosing bracket or offset, as the grammar's error rules do. */
void *pql__dur_unexpected(struct parser *p)
{
    return pql__unexpected(p, p->dur_ctx, p->dur_expected);
}

static bool expect_tok(struct parser *p, enum pql_tok ty)
{
    if (pql__peek_type(p) != ty) {
        pql__dur_unexpected(p);
        return false;
    }
    pql__consume(p);
    return true;
}

static bool dur_literal_in_range(struct parser *p, const struct pql_dur_expr *d, uint32_t pos)
{
    if (isfinite(d->val) && fabs(d->val) <= MAX_DURATION_S)
        return true;
    pql__failf(p, pos, "duration out of range");
    return false;
}

/* number | duration | step() | range() | min_of(d, d) | max_of(d, d) | (d) */
struct pql_dur_expr *pql__parse_dur_atom(struct parser *p)
{
    struct pql_token *t = pql__peek(p);
    if (p->failed)
        return NULL;
    struct pql_dur_expr *d;
    switch (t->type) {
    case PQL_T_NUMBER: case PQL_T_DURATION: {
        struct pql_token nt = pql__consume(p);
        d = dur_node(p, PQL_DUR_NUMBER, nt.pos);
        if (nt.type == PQL_T_NUMBER) {
            if (!pql__number_value(p, &nt, &d->val))
                return NULL;
        } else {
            int64_t ms;
            if (!pql__duration_value(p, &nt, &ms))
                return NULL;
            d->val = (double)ms / 1000.0;
            d->duration = true;
        }
        return dur_literal_in_range(p, d, nt.pos) ? d : NULL;
    }
    case PQL_T_STEP: case PQL_T_RANGE: {
        struct pql_token kt = pql__consume(p);
        d = dur_node(p, kt.type == PQL_T_STEP ? PQL_DUR_STEP : PQL_DUR_RANGE, kt.pos);
        if (!expect_tok(p, PQL_T_LPAREN) || !expect_tok(p, PQL_T_RPAREN))
            return NULL;
        return d;
    }
    case PQL_T_MIN_OF: case PQL_T_MAX_OF: {
        struct pql_token kt = pql__consume(p);
        d = dur_node(p, kt.type == PQL_T_MIN_OF ? PQL_DUR_MIN_OF : PQL_DUR_MAX_OF, kt.pos);
        if (!expect_tok(p, PQL_T_LPAREN) || !(d->lhs = pql__parse_dur(p, 0)) ||
            !expect_tok(p, PQL_T_COMMA) || !(d->rhs = pql__parse_dur(p, 0)) ||
            !expect_tok(p, PQL_T_RPAREN))
            return NULL;
        return dur_grow(p, d, d->lhs) && dur_grow(p, d, d->rhs) ? d : NULL;
    }
    case PQL_T_LPAREN: {
        struct pql_token lp = pql__consume(p);
        d = dur_node(p, PQL_DUR_PAREN, lp.pos);
        if (!(d->lhs = pql__parse_dur(p, 0)) || !expect_tok(p, PQL_T_RPAREN))
            return NULL;
        return dur_grow(p, d, d->lhs) ? d : NULL;
    }
    default:
        return pql__dur_unexpected(p);
    }
}

/* A sign folds into a number literal (checking its range at the sign), is
 * dropped when it is +, and wraps anything else when it is -. */
struct pql_dur_expr *pql__apply_sign(struct parser *p, const struct pql_token *op,
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
    enum pql_tok ty = pql__peek_type(p);
    if (ty != PQL_T_ADD && ty != PQL_T_SUB)
        return pql__parse_dur_atom(p);
    struct pql_token op = pql__consume(p);
    struct pql_dur_expr *x = pql__parse_dur(p, PREC_POW);
    return x ? pql__apply_sign(p, &op, x) : NULL;
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
        enum pql_tok ty = pql__peek_type(p);
        int prec = dur_prec(ty);
        if (prec == 0 || prec < min_prec)
            break;
        struct pql_token op = pql__consume(p);
        struct pql_dur_expr *d = dur_node(p, PQL_DUR_BINARY, lhs->pos);
        d->op = pql__binop(ty);
        d->lhs = lhs;
        if (!(d->rhs = pql__parse_dur(p, ty == PQL_T_POW ? prec : prec + 1)))
            return NULL;
        if ((ty == PQL_T_DIV || ty == PQL_T_MOD) && d->rhs->kind == PQL_DUR_NUMBER &&
            d->rhs->val == 0) {
            pql__failf(p, op.pos, ty == PQL_T_DIV ? "division by zero" : "modulo by zero");
            return NULL;
        }
        if (!dur_grow(p, d, d->lhs) || !dur_grow(p, d, d->rhs))
            return NULL;
        lhs = d;
    }
    return p->failed ? NULL : lhs;
}

struct pql_dur_expr *pql__parse_dur(struct parser *p, int min_prec)
{
    if (++p->rdepth > PQL_MAX_DEPTH) {
        pql__failf(p, pql__peek(p)->pos, "query is nested too deeply (more than %d levels)", PQL_MAX_DEPTH);
        return NULL;
    }
    struct pql_dur_expr *d = parse_dur_at(p, min_prec);
    p->rdepth--;
    return d;
}

/* A duration in brackets: a literal gives *ms and *expr = NULL; an
 * expression gives *expr and, when it is constant, its value in *ms. A
 * literal must be positive (Prometheus's positive_duration_expr). */
bool pql__parse_bracket_duration(struct parser *p, int64_t *ms, struct pql_dur_expr **expr)
{
    struct pql_dur_expr *d = pql__parse_dur(p, 0);
    if (!d)
        return false;
    *ms = 0;
    *expr = NULL;
    if (d->kind == PQL_DUR_NUMBER) {
        if (d->val <= 0) {
            pql__failf(p, d->pos, "duration must be greater than 0");
            return false;
        }
        *ms = (int64_t)llround(d->val * 1000.0);
        return true;
    }
    *expr = d;
    if (pql_dur_is_const(d) && pql_dur_eval(d, 0, 0, ms) != 0) {
        pql__failf(p, d->pos, "duration out of range");
        return false;
    }
    return true;
}
