/* api_prom_ast.c — the tree /api/v1/parse_query returns, as Prometheus 3's
 * web/api/v1/translate_ast.go builds it. Go marshals those maps with their
 * keys sorted, so every object below writes its keys in alphabetical order;
 * absent children are null, absent lists []. The experimental duration
 * expressions are written as their folded values. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/api_prom_internal.h"

static const char *vt_name(enum pql_type t)
{
    switch (t) {
    case PQL_TYPE_SCALAR: return "scalar";
    case PQL_TYPE_VECTOR: return "vector";
    case PQL_TYPE_MATRIX: return "matrix";
    case PQL_TYPE_STRING: return "string";
    default: return "none";
    }
}

static const char *card_name(enum pql_card c)
{
    switch (c) {
    case PQL_CARD_MANY_TO_ONE: return "many-to-one";
    case PQL_CARD_ONE_TO_MANY: return "one-to-many";
    case PQL_CARD_MANY_TO_MANY: return "many-to-many";
    default: return "one-to-one";
    }
}

static void list(struct scry_json *j, const char *key, const char **v, size_t n)
{
    scry_json_key(j, key);
    scry_json_arr_begin(j);
    for (size_t i = 0; i < n; i++)
        scry_json_str(j, v[i]);
    scry_json_arr_end(j);
}

static void type(struct scry_json *j, const char *t)
{
    scry_json_key(j, "type");
    scry_json_str(j, t);
}

/* matchers, name, offset (the selector's part of the keys, in order). */
static void selector_head(struct scry_json *j, const struct pql_vector_sel *vs)
{
    scry_json_key(j, "matchers");
    scry_json_arr_begin(j);
    for (size_t i = 0; i < vs->n_matchers; i++) {
        const struct scry_matcher *m = &vs->matchers[i];
        scry_json_obj_begin(j);
        scry_json_key(j, "name");
        scry_json_str(j, m->name);
        type(j, scry_match_type_str(m->type));
        scry_json_key(j, "value");
        scry_json_str(j, m->value);
        scry_json_obj_end(j);
    }
    scry_json_arr_end(j);
    scry_json_key(j, "name");
    scry_json_str(j, vs->name ? vs->name : "");
    scry_json_key(j, "offset");
    scry_json_int(j, vs->offset_ms);
}

static void at(struct scry_json *j, enum pql_at a, int64_t at_ms, bool start_or_end)
{
    if (start_or_end) {
        scry_json_key(j, "startOrEnd");
        if (a == PQL_AT_START)
            scry_json_str(j, "start");
        else if (a == PQL_AT_END)
            scry_json_str(j, "end");
        else
            scry_json_null(j);
    } else {
        scry_json_key(j, "timestamp");
        if (a == PQL_AT_TIMESTAMP)
            scry_json_int(j, at_ms);
        else
            scry_json_null(j);
    }
}

/* Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that
 * round-trip, never in exponent form (1e21 is "1000000000000000000000"). */
static void go_fixed(double v, struct scry_buf *b)
{
    if (isnan(v) || isinf(v)) {
        scry_buf_puts(b, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char e[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e is [-]d[.ddd]e±XX: split into sign, digits and exponent. */
    const char *p = e;
    if (*p == '-')
        scry_buf_putc(b, *p++);
    char digits[24];
    size_t n = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[n++] = *p;
    int exp = atoi(p + 1);
    while (n > 1 && digits[n - 1] == '0')
        n--;
    if (exp < 0) {
        scry_buf_puts(b, "0.");
        for (int i = -1; i > exp; i--)
            scry_buf_putc(b, '0');
        scry_buf_put(b, digits, n);
    } else if ((size_t)exp + 1 >= n) {
        scry_buf_put(b, digits, n);
        for (size_t i = n; i < (size_t)exp + 1; i++)
            scry_buf_putc(b, '0');
    } else {
        scry_buf_put(b, digits, (size_t)exp + 1);
        scry_buf_putc(b, '.');
        scry_buf_put(b, digits + exp + 1, n - (size_t)exp - 1);
    }
}

static void number(struct scry_json *j, double v)
{
    struct scry_buf b = { 0 };
    go_fixed(v, &b);
    scry_json_strn(j, b.p, b.len);
    scry_buf_fini(&b);
}

static void binary(struct scry_json *j, const struct pql_binary *b)
{
    scry_json_key(j, "bool");
    scry_json_bool(j, b->return_bool);
    scry_json_key(j, "lhs");
    pql__api_write_ast(j, b->lhs);
    scry_json_key(j, "matching");
    if (b->vm) {
        scry_json_obj_begin(j);
        scry_json_key(j, "card");
        scry_json_str(j, card_name(b->vm->card));
        list(j, "include", b->vm->include, b->vm->n_include);
        list(j, "labels", b->vm->labels, b->vm->n_labels);
        scry_json_key(j, "on");
        scry_json_bool(j, b->vm->on);
        scry_json_obj_end(j);
    } else {
        scry_json_null(j);
    }
    scry_json_key(j, "op");
    scry_json_str(j, pql_op_str(b->op));
    scry_json_key(j, "rhs");
    pql__api_write_ast(j, b->rhs);
    type(j, "binaryExpr");
}

static void call(struct scry_json *j, const struct pql_call *c)
{
    scry_json_key(j, "args");
    scry_json_arr_begin(j);
    for (size_t i = 0; i < c->n_args; i++)
        pql__api_write_ast(j, c->args[i]);
    scry_json_arr_end(j);
    scry_json_key(j, "func");
    scry_json_obj_begin(j);
    scry_json_key(j, "argTypes");
    scry_json_arr_begin(j);
    for (int i = 0; i < c->func->n_args; i++)
        scry_json_str(j, vt_name(c->func->arg_types[i]));
    scry_json_arr_end(j);
    scry_json_key(j, "name");
    scry_json_str(j, c->func->name);
    scry_json_key(j, "returnType");
    scry_json_str(j, vt_name(c->func->ret));
    scry_json_key(j, "variadic");
    scry_json_int(j, c->func->variadic);
    scry_json_obj_end(j);
    type(j, "call");
}

void pql__api_write_ast(struct scry_json *j, const struct pql_expr *e)
{
    if (!e) {
        scry_json_null(j);
        return;
    }
    scry_json_obj_begin(j);
    switch (e->kind) {
    case PQL_NUMBER:
        type(j, "numberLiteral");
        scry_json_key(j, "val");
        number(j, e->u.number.val);
        break;
    case PQL_STRING:
        type(j, "stringLiteral");
        scry_json_key(j, "val");
        scry_json_strn(j, e->u.string.val, e->u.string.len);
        break;
    case PQL_VECTOR_SEL:
        selector_head(j, &e->u.vs);
        at(j, e->u.vs.at, e->u.vs.at_ms, true);
        at(j, e->u.vs.at, e->u.vs.at_ms, false);
        type(j, "vectorSelector");
        break;
    case PQL_MATRIX_SEL: {
        const struct pql_vector_sel *vs = &e->u.ms.vs->u.vs;
        selector_head(j, vs);
        scry_json_key(j, "range");
        scry_json_int(j, e->u.ms.range_ms);
        at(j, vs->at, vs->at_ms, true);
        at(j, vs->at, vs->at_ms, false);
        type(j, "matrixSelector");
        break;
    }
    case PQL_SUBQUERY:
        scry_json_key(j, "expr");
        pql__api_write_ast(j, e->u.sq.expr);
        scry_json_key(j, "offset");
        scry_json_int(j, e->u.sq.offset_ms);
        scry_json_key(j, "range");
        scry_json_int(j, e->u.sq.range_ms);
        at(j, e->u.sq.at, e->u.sq.at_ms, true);
        scry_json_key(j, "step");
        scry_json_int(j, e->u.sq.step_ms);
        at(j, e->u.sq.at, e->u.sq.at_ms, false);
        type(j, "subquery");
        break;
    case PQL_UNARY:
        scry_json_key(j, "expr");
        pql__api_write_ast(j, e->u.unary.expr);
        scry_json_key(j, "op");
        scry_json_str(j, pql_op_str(e->u.unary.op));
        type(j, "unaryExpr");
        break;
    case PQL_BINARY:
        binary(j, &e->u.bin);
        break;
    case PQL_AGGREGATE:
        scry_json_key(j, "expr");
        pql__api_write_ast(j, e->u.agg.expr);
        list(j, "grouping", e->u.agg.grouping, e->u.agg.n_grouping);
        scry_json_key(j, "op");
        scry_json_str(j, pql_agg_str(e->u.agg.op));
        scry_json_key(j, "param");
        pql__api_write_ast(j, e->u.agg.param);
        type(j, "aggregation");
        scry_json_key(j, "without");
        scry_json_bool(j, e->u.agg.without);
        break;
    case PQL_CALL:
        call(j, &e->u.call);
        break;
    case PQL_PAREN:
        scry_json_key(j, "expr");
        pql__api_write_ast(j, e->u.paren);
        type(j, "parenExpr");
        break;
    }
    scry_json_obj_end(j);
}
