/* promql_check.c — static type checking of a parsed PromQL tree.
 *
 * A port of checkAST in Prometheus's promql/parser/parse.go. It runs only
 * when the syntax is clean and visits nodes in the same order (children
 * before the node's own rules for binary expressions; arity before argument
 * types for calls), so the first error — the only one reported — matches.
 * It also normalises vector matching exactly as checkAST does: set
 * operators become many-to-many, and the matching is dropped when a side
 * is not an instant vector. */
#include <stdio.h>
#include <string.h>

#include "query/promql_internal.h"

struct checker {
    const char *q;
    size_t len;
    struct scry_err *err;
    bool failed;
};

static void failf(struct checker *c, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void failf(struct checker *c, size_t pos, const char *fmt, ...)
{
    if (c->failed)
        return;
    char buf[SCRY_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    c->failed = true;
    pql__error_at(c->err, c->q, c->len, pos, buf);
}

static enum pql_type check(struct checker *c, struct pql_expr *e);

static void expect_type(struct checker *c, struct pql_expr *e, enum pql_type want,
                        const char *context)
{
    enum pql_type t = check(c, e);
    if (t != want)
        failf(c, e->pos.start, "expected type %s in %s, got %s", pql_type_name(want), context,
              pql_type_name(t));
}

/* The operator's position: the first non-space after the left operand. */
static size_t op_pos(struct checker *c, const struct pql_expr *e)
{
    size_t i = e->u.bin.lhs->pos.end;
    while (i < c->len && strchr(" \t\r\n", c->q[i]))
        i++;
    return i;
}

static void check_binary(struct checker *c, struct pql_expr *e)
{
    struct pql_binary *b = &e->u.bin;
    enum pql_type lt = check(c, b->lhs);
    enum pql_type rt = check(c, b->rhs);
    if (b->return_bool && !pql_op_is_comparison(b->op))
        failf(c, op_pos(c, e), "bool modifier can only be used on comparison operators");
    if (pql_op_is_comparison(b->op) && !b->return_bool && lt == PQL_TYPE_SCALAR &&
        rt == PQL_TYPE_SCALAR)
        failf(c, op_pos(c, e), "comparisons between scalars must use BOOL modifier");
    struct pql_vector_matching *vm = b->vm;
    if (vm && pql_op_is_set(b->op) && vm->card == PQL_CARD_ONE_TO_ONE)
        vm->card = PQL_CARD_MANY_TO_MANY;
    if (vm && vm->on)
        for (size_t i = 0; i < vm->n_labels; i++)
            for (size_t j = 0; j < vm->n_include; j++)
                if (strcmp(vm->labels[i], vm->include[j]) == 0)
                    failf(c, op_pos(c, e), "label \"%s\" must not occur in ON and GROUP clause at once",
                          vm->labels[i]);
    if (lt != PQL_TYPE_SCALAR && lt != PQL_TYPE_VECTOR)
        failf(c, b->lhs->pos.start, "binary expression must contain only scalar and instant vector types");
    if (rt != PQL_TYPE_SCALAR && rt != PQL_TYPE_VECTOR)
        failf(c, b->rhs->pos.start, "binary expression must contain only scalar and instant vector types");
    bool fill = vm && (vm->fill_lhs_set || vm->fill_rhs_set);
    if ((lt != PQL_TYPE_VECTOR || rt != PQL_TYPE_VECTOR) && vm) {
        if (vm->n_labels > 0)
            failf(c, e->pos.start, "vector matching only allowed between instant vectors");
        if (fill)
            failf(c, e->pos.start, "filling in missing series only allowed between instant vectors");
        b->vm = NULL;
    } else if (vm && pql_op_is_set(b->op)) {
        if (vm->card == PQL_CARD_ONE_TO_MANY || vm->card == PQL_CARD_MANY_TO_ONE)
            failf(c, e->pos.start, "no grouping allowed for \"%s\" operation", pql_op_str(b->op));
        if (vm->card != PQL_CARD_MANY_TO_MANY)
            failf(c, e->pos.start, "set operations must always be many-to-many");
        if (fill)
            failf(c, e->pos.start, "filling in missing series not allowed for set operators");
    }
    if ((lt == PQL_TYPE_SCALAR || rt == PQL_TYPE_SCALAR) && pql_op_is_set(b->op))
        failf(c, e->pos.start, "set operator \"%s\" not allowed in binary scalar expression",
              pql_op_str(b->op));
}

static void check_vector_sel(struct checker *c, struct pql_expr *e, bool bypass_empty);

static void check_call(struct checker *c, struct pql_expr *e)
{
    const struct pql_func *f = e->u.call.func;
    size_t n = e->u.call.n_args;
    int nargs = f->n_args;
    if (f->variadic == 0) {
        if ((size_t)nargs != n)
            failf(c, e->pos.start, "expected %d argument(s) in call to \"%s\", got %zu", nargs,
                  f->name, n);
    } else {
        int na = nargs - 1;
        if ((size_t)na > n)
            failf(c, e->pos.start, "expected at least %d argument(s) in call to \"%s\", got %zu",
                  na, f->name, n);
        else if (f->variadic > 0 && (size_t)(na + f->variadic) < n)
            failf(c, e->pos.start, "expected at most %d argument(s) in call to \"%s\", got %zu",
                  na + f->variadic, f->name, n);
    }
    if (strcmp(f->name, "info") == 0 && n > 1) {
        struct pql_expr *a1 = e->u.call.args[1];
        if (a1->type != PQL_TYPE_VECTOR)
            failf(c, e->pos.start, "expected type %s in call to function \"%s\", got %s",
                  pql_type_name(PQL_TYPE_VECTOR), f->name, pql_type_name(a1->type));
        if (a1->kind == PQL_VECTOR_SEL && a1->u.vs.name)
            failf(c, a1->pos.start, "expected label selectors only, got vector selector instead");
        else if (a1->kind != PQL_VECTOR_SEL)
            failf(c, a1->pos.start, "expected label selectors only");
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = i;
        if (k >= (size_t)nargs) {
            if (f->variadic == 0)
                break;
            k = (size_t)nargs - 1;
        }
        struct pql_expr *arg = e->u.call.args[i];
        enum pql_type t;
        if (i == 1 && strcmp(f->name, "info") == 0 && arg->kind == PQL_VECTOR_SEL &&
            !arg->u.vs.name) {
            /* info()'s label selector may be all-empty matchers (Prometheus
             * sets BypassEmptyMatcherCheck on it). */
            check_vector_sel(c, arg, true);
            t = arg->type;
        } else {
            t = check(c, arg);
        }
        if (t != f->arg_types[k])
            failf(c, e->u.call.args[i]->pos.start,
                  "expected type %s in call to function \"%s\", got %s",
                  pql_type_name(f->arg_types[k]), f->name, pql_type_name(t));
    }
}

static void check_vector_sel(struct checker *c, struct pql_expr *e, bool bypass_empty)
{
    struct pql_vector_sel *vs = &e->u.vs;
    if (vs->name) {
        for (size_t i = 0; i + 1 < vs->n_matchers; i++)
            if (strcmp(vs->matchers[i].name, SCRY_METRIC_NAME) == 0)
                failf(c, e->pos.start, "metric name must not be set twice: \"%s\" or \"%s\"",
                      vs->name, vs->matchers[i].value);
        return;
    }
    if (bypass_empty)
        return;
    for (size_t i = 0; i < vs->n_matchers; i++)
        if (!scry_matcher_matches(&vs->matchers[i], "", 0))
            return;
    failf(c, e->pos.start, "vector selector must contain at least one non-empty matcher");
}

static enum pql_type check(struct checker *c, struct pql_expr *e)
{
    if (!e)
        return PQL_TYPE_NONE;
    switch (e->kind) {
    case PQL_AGGREGATE:
        expect_type(c, e->u.agg.expr, PQL_TYPE_VECTOR, "aggregation expression");
        switch (e->u.agg.op) {
        case PQL_AGG_TOPK: case PQL_AGG_BOTTOMK: case PQL_AGG_QUANTILE: case PQL_AGG_LIMITK:
        case PQL_AGG_LIMIT_RATIO:
            expect_type(c, e->u.agg.param, PQL_TYPE_SCALAR, "aggregation parameter");
            break;
        case PQL_AGG_COUNT_VALUES:
            expect_type(c, e->u.agg.param, PQL_TYPE_STRING, "aggregation parameter");
            break;
        default:
            break;
        }
        break;
    case PQL_BINARY:
        check_binary(c, e);
        break;
    case PQL_CALL:
        check_call(c, e);
        break;
    case PQL_PAREN:
        check(c, e->u.paren);
        break;
    case PQL_UNARY: {
        enum pql_type t = check(c, e->u.unary.expr);
        if (t != PQL_TYPE_SCALAR && t != PQL_TYPE_VECTOR)
            failf(c, e->pos.start,
                  "unary expression only allowed on expressions of type scalar or instant vector, got \"%s\"",
                  pql_type_name(t));
        break;
    }
    case PQL_SUBQUERY: {
        enum pql_type t = check(c, e->u.sq.expr);
        if (t != PQL_TYPE_VECTOR)
            failf(c, e->pos.start, "subquery is only allowed on instant vector, got %s instead",
                  t == PQL_TYPE_MATRIX ? "matrix" : t == PQL_TYPE_SCALAR ? "scalar"
                  : t == PQL_TYPE_STRING ? "string" : "none");
        break;
    }
    case PQL_MATRIX_SEL:
        check(c, e->u.ms.vs);
        break;
    case PQL_VECTOR_SEL:
        check_vector_sel(c, e, false);
        break;
    case PQL_NUMBER: case PQL_STRING:
        break;
    }
    return e->type;
}

int pql__check(const char *q, size_t len, struct pql_expr *e, struct scry_err *err)
{
    struct checker c = { .q = q, .len = len, .err = err };
    check(&c, e);
    return c.failed ? SCRY_EPARSE : 0;
}
