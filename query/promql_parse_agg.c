/* promql_parse_agg.c — function calls and aggregations: grouping labels,
 * argument lists, by/without, and the arity checks done while parsing.
 * Part of the PromQL parser (promql_parse.c has the overview). */
#include <stdio.h>

#include "query/promql_parse_internal.h"

static bool is_keyword_tok(enum pql_tok t)
{
    return (t > PQL_T_OPS_BEGIN && t < PQL_T_OPS_END && (t == PQL_T_LAND || t == PQL_T_LOR ||
                                                         t == PQL_T_LUNLESS || t == PQL_T_ATAN2)) ||
           (t > PQL_T_AGG_BEGIN && t < PQL_T_AGG_END) || (t > PQL_T_KW_BEGIN && t < PQL_T_KW_END) ||
           (t >= PQL_T_START && t <= PQL_T_MIN_OF);
}

/* grouping_labels: "(" [label {"," label}] [","] ")" */
bool pql__parse_grouping(struct parser *p, const char ***out, size_t *n_out)
{
    struct vec v = { 0 };
    if (pql__peek_type(p) != PQL_T_LPAREN) {
        pql__unexpected(p, "grouping opts", "\"(\"");
        return false;
    }
    pql__consume(p);
    while (pql__peek_type(p) != PQL_T_RPAREN) {
        enum pql_tok ty = pql__peek_type(p);
        const char *label = NULL;
        if (ty == PQL_T_IDENT || is_keyword_tok(ty)) {
            struct pql_token t = pql__consume(p);
            label = pql__tok_text(p, &t);
        } else if (ty == PQL_T_STRING) {
            struct pql_token t = pql__consume(p);
            label = pql__unquote_tok(p, &t);
        }
        if (!label) {
            pql__unexpected(p, "grouping opts", "label");
            return false;
        }
        pql__vec_push(p, &v, (void *)label);
        if (pql__peek_type(p) == PQL_T_COMMA) {
            pql__consume(p);
            continue;
        }
        if (pql__peek_type(p) != PQL_T_RPAREN) {
            pql__unexpected(p, "grouping opts", "\",\" or \")\"");
            return false;
        }
    }
    pql__consume(p);
    *out = (const char **)v.v;
    *n_out = v.n;
    return !p->failed;
}

/* function_call_body: "(" [expr {"," expr}] ")" */
static bool parse_call_body(struct parser *p, struct vec *args)
{
    if (pql__peek_type(p) != PQL_T_LPAREN) {
        pql__unexpected(p, NULL, NULL);
        return false;
    }
    pql__consume(p);
    if (pql__peek_type(p) == PQL_T_RPAREN) {
        pql__consume(p);
        return true;
    }
    for (;;) {
        struct pql_expr *e = pql__parse_expr(p, 0);
        if (!e)
            return false;
        pql__vec_push(p, args, e);
        if (pql__peek_type(p) == PQL_T_COMMA) {
            struct pql_token comma = pql__consume(p);
            if (pql__peek_type(p) == PQL_T_RPAREN) {
                pql__failf(p, comma.pos, "trailing commas not allowed in function call args");
                return false;
            }
            continue;
        }
        if (pql__peek_type(p) != PQL_T_RPAREN) {
            pql__unexpected(p, NULL, NULL);
            return false;
        }
        pql__consume(p);
        return !p->failed;
    }
}

struct pql_expr *pql__parse_call(struct parser *p)
{
    struct pql_token name = pql__consume(p);
    struct vec args = { 0 };
    if (!parse_call_body(p, &args))
        return NULL;
    char fname[128];
    snprintf(fname, sizeof(fname), "%.*s", (int)name.len, p->q + name.pos);
    const struct pql_func *f = pql_function(fname);
    if (!f) {
        pql__failf(p, name.pos, "unknown function with name \"%s\"", fname);
        return NULL;
    }
    struct pql_expr *e = pql__node(p, PQL_CALL, f->ret, name.pos, p->last_closing);
    e->u.call.func = f;
    e->u.call.args = (struct pql_expr **)args.v;
    e->u.call.n_args = args.n;
    for (size_t i = 0; i < args.n; i++)
        if (!pql__grow(p, e, args.v[i]))
            return NULL;
    return e;
}

static bool parse_agg_modifier(struct parser *p, struct pql_aggregate *agg)
{
    agg->without = pql__consume(p).type == PQL_T_WITHOUT;
    return pql__parse_grouping(p, &agg->grouping, &agg->n_grouping);
}

struct pql_expr *pql__parse_aggregate(struct parser *p)
{
    struct pql_token op = pql__consume(p);
    struct pql_expr *e = pql__node(p, PQL_AGGREGATE, PQL_TYPE_VECTOR, op.pos, op.pos + op.len);
    struct pql_aggregate *agg = &e->u.agg;
    agg->op = (enum pql_agg)(op.type - PQL_T_SUM);
    bool modifier_first = pql__peek_type(p) == PQL_T_BY || pql__peek_type(p) == PQL_T_WITHOUT;
    if (modifier_first && !parse_agg_modifier(p, agg))
        return NULL;
    struct vec args = { 0 };
    if (pql__peek_type(p) != PQL_T_LPAREN)
        return pql__unexpected(p, "aggregation", NULL);
    p->in_agg++;
    bool ok = parse_call_body(p, &args);
    p->in_agg--;
    if (!ok)
        return NULL;
    if (!modifier_first && (pql__peek_type(p) == PQL_T_BY || pql__peek_type(p) == PQL_T_WITHOUT) &&
        !parse_agg_modifier(p, agg))
        return NULL;
    e->pos.end = p->last_closing;
    if (args.n == 0) {
        pql__failf(p, op.pos, "no arguments for aggregate expression provided");
        return NULL;
    }
    size_t want = pql_agg_has_param(agg->op) ? 2 : 1;
    if (args.n != want) {
        pql__failf(p, op.pos,
              "wrong number of arguments for aggregate expression provided, expected %zu, got %zu",
              want, args.n);
        return NULL;
    }
    if (want == 2)
        agg->param = args.v[0];
    agg->expr = args.v[want - 1];
    if (!pql__grow(p, e, agg->param) || !pql__grow(p, e, agg->expr))
        return NULL;
    return e;
}
