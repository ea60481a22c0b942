/* promql_parse_sel.c — vector selectors and their matchers, and the postfix
 * modifiers that bind to the operand before them: [range], [range:step]
 * subqueries, offset, @, anchored/smoothed.
 * Part of the PromQL parser (promql_parse.c has the overview). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "query/promql_parse_internal.h"

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

const char *pql__unquote_tok(struct parser *p, const struct pql_token *t)
{
    const char *v;
    size_t n;
    if (pql_unquote(p->a, p->q + t->pos, t->len, &v, &n, NULL) != 0) {
        pql__failf(p, t->pos, "error unquoting string: invalid syntax");
        return NULL;
    }
    return v;
}

/* One label matcher: name op "value", "quoted name" op "value", or a bare
 * "metric name" (Prometheus 3 UTF-8 syntax). */
static bool parse_matcher(struct parser *p, struct mspec *m)
{
    enum pql_tok ty = pql__peek_type(p);
    if (ty != PQL_T_IDENT && ty != PQL_T_STRING) {
        pql__unexpected(p, "label matching", "identifier or \"}\"");
        return false;
    }
    struct pql_token name = pql__consume(p);
    m->pos = name.pos;
    m->name = ty == PQL_T_IDENT ? pql__tok_text(p, &name) : pql__unquote_tok(p, &name);
    if (!m->name)
        return false;
    if (ty == PQL_T_STRING && (pql__peek_type(p) == PQL_T_COMMA || pql__peek_type(p) == PQL_T_RBRACE)) {
        m->type = SCRY_MATCH_EQ;
        m->value = m->name;
        m->name = SCRY_METRIC_NAME;
        return true;
    }
    if (!is_match_op(pql__peek_type(p))) {
        pql__unexpected(p, "label matching", "label matching operator");
        return false;
    }
    m->type = match_type(pql__consume(p).type);
    if (pql__peek_type(p) != PQL_T_STRING) {
        pql__unexpected(p, "label matching", "string");
        return false;
    }
    struct pql_token v = pql__consume(p);
    m->value = pql__unquote_tok(p, &v);
    return m->value != NULL;
}

struct pql_expr *pql__parse_selector(struct parser *p, const struct pql_token *name_tok)
{
    uint32_t start = name_tok ? name_tok->pos : pql__peek(p)->pos;
    uint32_t end = name_tok ? name_tok->pos + name_tok->len : start;
    struct mspec specs[64];
    struct mspec *ms = specs;
    size_t n = 0, cap = 64;
    if (pql__peek_type(p) == PQL_T_LBRACE) {
        pql__consume(p);
        for (;;) {
            if (pql__peek_type(p) == PQL_T_RBRACE)
                break;
            if (n + 1 >= cap) {
                struct mspec *nm = scry_arena_alloc(p->a, cap * 2 * sizeof(*nm));
                memcpy(nm, ms, n * sizeof(*nm));
                ms = nm, cap *= 2;
            }
            if (!parse_matcher(p, &ms[n]))
                return NULL;
            n++;
            if (pql__peek_type(p) == PQL_T_COMMA) {
                pql__consume(p);
                continue;
            }
            if (pql__peek_type(p) != PQL_T_RBRACE)
                return pql__unexpected(p, "label matching", "\",\" or \"}\"");
        }
        end = pql__consume(p).pos + 1;
    }
    if (p->failed)
        return NULL;
    struct pql_expr *e = pql__node(p, PQL_VECTOR_SEL, PQL_TYPE_VECTOR, start, end);
    struct pql_vector_sel *vs = &e->u.vs;
    if (name_tok) {
        vs->name = pql__tok_text(p, name_tok);
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
            pql__failf(p, ms[i].pos, "%s", merr.msg);
            return NULL;
        }
        ml->n = vs->n_matchers = i + 1;
    }
    return e;
}

static struct pql_expr *parse_bracket(struct parser *p, struct pql_expr *e)
{
    struct pql_token lb = pql__consume(p);
    int64_t range_ms;
    struct pql_dur_expr *range_expr;
    p->dur_ctx = "subquery or range selector";
    p->dur_expected = "number, duration, step(), or range()";
    if (!pql__parse_bracket_duration(p, &range_ms, &range_expr))
        return NULL;
    if (pql__peek_type(p) == PQL_T_RBRACKET) {
        struct pql_token rb = pql__consume(p);
        const char *msg = NULL;
        if (e->kind != PQL_VECTOR_SEL)
            msg = "ranges only allowed for vector selectors";
        else if (e->u.vs.offset_ms != 0 || e->u.vs.offset_expr)
            msg = "no offset modifiers allowed before range";
        else if (e->u.vs.at != PQL_AT_NONE)
            msg = "no @ modifiers allowed before range";
        if (msg) {
            pql__failf(p, lb.pos, "%s", msg);
            return NULL;
        }
        struct pql_expr *m = pql__node(p, PQL_MATRIX_SEL, PQL_TYPE_MATRIX, e->pos.start, rb.pos + 1);
        m->u.ms.vs = e;
        m->u.ms.range_ms = range_ms;
        m->u.ms.range_expr = range_expr;
        return pql__grow(p, m, e) ? m : NULL;
    }
    if (pql__peek_type(p) != PQL_T_COLON)
        return pql__unexpected(p, "subquery or range", "\":\" or \"]\"");
    pql__consume(p);
    int64_t step_ms = 0;
    struct pql_dur_expr *step_expr = NULL;
    if (pql__peek_type(p) != PQL_T_RBRACKET) {
        p->dur_ctx = "subquery selector";
        p->dur_expected = "number, duration, step(), range(), or \"]\"";
        if (!pql__parse_bracket_duration(p, &step_ms, &step_expr))
            return NULL;
        if (pql__peek_type(p) != PQL_T_RBRACKET)
            return pql__unexpected(p, "subquery selector", "\"]\"");
    }
    struct pql_token rb = pql__consume(p);
    struct pql_expr *s = pql__node(p, PQL_SUBQUERY, PQL_TYPE_MATRIX, e->pos.start, rb.pos + 1);
    s->u.sq.expr = e;
    s->u.sq.range_ms = range_ms;
    s->u.sq.range_expr = range_expr;
    s->u.sq.step_ms = step_ms;
    s->u.sq.step_expr = step_expr;
    return pql__grow(p, s, e) ? s : NULL;
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
        pql__failf(p, e->pos.start,
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
    pql__consume(p);
    p->dur_ctx = "offset";
    p->dur_expected = "number, duration, step(), or range()";
    struct pql_token sign = { .type = PQL_T_EOF };
    if (pql__peek_type(p) == PQL_T_SUB || pql__peek_type(p) == PQL_T_ADD)
        sign = pql__consume(p);
    if (!pql__dur_atom_start(p)) {
        pql__dur_unexpected(p);
        return false;
    }
    struct pql_dur_expr *d = pql__parse_dur_atom(p);
    if (d && sign.type != PQL_T_EOF)
        d = pql__apply_sign(p, &sign, d);
    if (!d)
        return false;
    int64_t ms = 0;
    struct pql_dur_expr *dexpr = NULL;
    if (d->kind == PQL_DUR_NUMBER) {
        ms = (int64_t)llround(d->val * 1000.0);
    } else {
        dexpr = d;
        if (pql_dur_is_const(d) && pql_dur_eval(d, 0, 0, &ms) != 0) {
            pql__failf(p, d->pos, "duration out of range");
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
        pql__failf(p, e->pos.start, "offset may not be set multiple times");
        return false;
    }
    *off = ms;
    *offx = dexpr;
    e->pos.end = p->last_closing;
    return true;
}

static bool parse_at(struct parser *p, struct pql_expr *e)
{
    pql__consume(p);
    enum pql_at kind = PQL_AT_TIMESTAMP;
    double ts = 0;
    enum pql_tok ty = pql__peek_type(p);
    if (ty == PQL_T_START || ty == PQL_T_END) {
        kind = pql__consume(p).type == PQL_T_START ? PQL_AT_START : PQL_AT_END;
        if (pql__peek_type(p) != PQL_T_LPAREN)
            return pql__unexpected(p, NULL, NULL), false;
        pql__consume(p);
        if (pql__peek_type(p) != PQL_T_RPAREN)
            return pql__unexpected(p, NULL, NULL), false;
        pql__consume(p);
    } else {
        bool neg = false, signed_ = false;
        if (ty == PQL_T_ADD || ty == PQL_T_SUB) {
            neg = pql__consume(p).type == PQL_T_SUB;
            signed_ = true;
        }
        if (pql__peek_type(p) == PQL_T_DURATION) { /* @ 100s: a duration used as a number */
            struct pql_token t = pql__consume(p);
            int64_t ms;
            if (!pql__duration_value(p, &t, &ms))
                return false;
            ts = (double)(neg ? -ms : ms) / 1000.0;
            goto have_ts;
        }
        if (pql__peek_type(p) != PQL_T_NUMBER) {
            if (signed_)
                return pql__unexpected(p, NULL, NULL), false;
            pql__unexpected(p, "@", "timestamp");
            return false;
        }
        struct pql_token t = pql__consume(p);
        if (!pql__number_value(p, &t, &ts))
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
            pql__failf(p, e->pos.start, "timestamp out of bounds for @ modifier: %s", v);
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
        pql__failf(p, e->pos.start,
              "@ modifier must be preceded by an instant vector selector or range vector "
              "selector or a subquery");
        return false;
    }
    if (*atp != PQL_AT_NONE) {
        pql__failf(p, e->pos.start, "@ <timestamp> may not be set multiple times");
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
    pql__consume(p);
    struct pql_vector_sel *vs = NULL;
    if (e->kind == PQL_VECTOR_SEL)
        vs = &e->u.vs;
    else if (e->kind == PQL_MATRIX_SEL)
        vs = &e->u.ms.vs->u.vs;
    else if (e->kind == PQL_SUBQUERY)
        pql__failf(p, e->pos.start, "%s modifier is not supported for subqueries", what);
    else
        pql__failf(p, e->pos.start, "%s modifier not implemented", what);
    if (!vs)
        return false;
    if (anchored)
        vs->anchored = true;
    else
        vs->smoothed = true;
    if (vs->anchored && vs->smoothed) {
        pql__failf(p, e->pos.start, "anchored and smoothed modifiers cannot be used together");
        return false;
    }
    e->pos.end = p->last_closing > e->pos.end ? p->last_closing : e->pos.end;
    return true;
}

struct pql_expr *pql__parse_postfix(struct parser *p, struct pql_expr *e)
{
    while (e && !p->failed) {
        switch (pql__peek_type(p)) {
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
            if (!set_anchored_smoothed(p, e, pql__peek_type(p) == PQL_T_ANCHORED))
                return NULL;
            break;
        default:
            return e;
        }
    }
    return p->failed ? NULL : e;
}
