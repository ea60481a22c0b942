/* promql_print.c — canonical PromQL text for an AST, as Prometheus's
 * String() methods (promql/parser/printer.go) write it; this is what
 * /api/v1/format_query returns.
 *
 * The rules, node by node: numbers in Go's %v form (1e+06, +Inf, NaN) or,
 * when written as a duration, as one (5m); strings double-quoted with Go
 * escapes; matchers sorted as text and joined by ","; the metric name in
 * front, its own __name__ matcher dropped; "@ 123.000" before
 * "offset 5m"; one space around binary operators; aggregations as
 * `sum by (a, b) (x)`; parentheses exactly where the query had them (the
 * parser keeps paren nodes), so reparsing the output gives the same tree
 * and printing it again gives the same text. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/labels.h"
#include "core/timeparse.h"
#include "query/promql_internal.h"

static void print(const struct pql_expr *e, struct scry_buf *out);

static void put_duration(int64_t ms, struct scry_buf *out)
{
    if (ms < 0) {
        scry_buf_putc(out, '-');
        ms = -ms;
    }
    scry_duration_format(ms, out);
}

/* A label name as Prometheus 3 prints it: bare when it is a legacy name,
 * quoted otherwise. */
static void put_label_name(const char *name, struct scry_buf *out)
{
    size_t n = strlen(name);
    if (n > 0 && scry_label_name_valid(name, n))
        scry_buf_put(out, name, n);
    else
        pql_quote(name, n, out);
}

static void put_label_list(const char **v, size_t n, struct scry_buf *out)
{
    scry_buf_putc(out, '(');
    for (size_t i = 0; i < n; i++) {
        if (i)
            scry_buf_puts(out, ", ");
        put_label_name(v[i], out);
    }
    scry_buf_putc(out, ')');
}

static void put_range(int64_t ms, const struct pql_dur_expr *d, struct scry_buf *out)
{
    if (d)
        pql_dur_print(d, out);
    else
        put_duration(ms, out);
}

static void put_at_offset(enum pql_at at, int64_t at_ms, int64_t offset_ms,
                          const struct pql_dur_expr *offset_expr, struct scry_buf *out)
{
    switch (at) {
    case PQL_AT_TIMESTAMP:
        scry_buf_printf(out, " @ %.3f", (double)at_ms / 1000.0);
        break;
    case PQL_AT_START:
        scry_buf_puts(out, " @ start()");
        break;
    case PQL_AT_END:
        scry_buf_puts(out, " @ end()");
        break;
    case PQL_AT_NONE:
        break;
    }
    if (offset_expr) {
        scry_buf_puts(out, " offset ");
        pql_dur_print(offset_expr, out);
    } else if (offset_ms != 0) {
        scry_buf_puts(out, " offset ");
        put_duration(offset_ms, out);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The selector without its @ and offset. */
static void print_selector_body(const struct pql_vector_sel *vs, struct scry_buf *out)
{
    size_t n = 0;
    char **strs = calloc(vs->n_matchers ? vs->n_matchers : 1, sizeof(char *));
    for (size_t i = 0; i < vs->n_matchers; i++) {
        const struct scry_matcher *m = &vs->matchers[i];
        if (vs->name && m->type == SCRY_MATCH_EQ && strcmp(m->name, SCRY_METRIC_NAME) == 0 &&
            strcmp(m->value, vs->name) == 0 && m->value[0])
            continue;
        struct scry_buf b = { 0 };
        put_label_name(m->name, &b);
        scry_buf_puts(&b, scry_match_type_str(m->type));
        pql_quote(m->value, strlen(m->value), &b);
        strs[n++] = scry_buf_take(&b);
    }
    if (vs->name)
        scry_buf_puts(out, vs->name);
    if (n > 0 || !vs->name) {
        qsort(strs, n, sizeof(char *), cmp_str);
        scry_buf_putc(out, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                scry_buf_putc(out, ',');
            scry_buf_puts(out, strs[i]);
        }
        scry_buf_putc(out, '}');
    }
    for (size_t i = 0; i < n; i++)
        free(strs[i]);
    free(strs);
}

static void put_modifiers(const struct pql_vector_sel *vs, struct scry_buf *out)
{
    if (vs->anchored)
        scry_buf_puts(out, " anchored");
    else if (vs->smoothed)
        scry_buf_puts(out, " smoothed");
}

/* A number that prints with a sign ("-1", "+Inf") as the left operand of ^
 * would reparse as a unary sign applied to the whole power (-(1 ^ x)), so
 * it is parenthesised. Prometheus prints it bare (and so does not
 * round-trip); this corner is the one place our text differs. */
static bool signed_pow_operand(const struct pql_binary *b)
{
    const struct pql_expr *l = b->lhs;
    return b->op == PQL_OP_POW && l->kind == PQL_NUMBER &&
           (signbit(l->u.number.val) || (isinf(l->u.number.val) && !l->u.number.duration));
}

static void print_binary(const struct pql_binary *b, struct scry_buf *out)
{
    if (signed_pow_operand(b)) {
        scry_buf_putc(out, '(');
        print(b->lhs, out);
        scry_buf_putc(out, ')');
    } else {
        print(b->lhs, out);
    }
    scry_buf_printf(out, " %s", pql_op_str(b->op));
    if (b->return_bool)
        scry_buf_puts(out, " bool");
    const struct pql_vector_matching *vm = b->vm;
    bool grouped = vm && (vm->card == PQL_CARD_MANY_TO_ONE || vm->card == PQL_CARD_ONE_TO_MANY);
    if (vm && (vm->n_labels > 0 || vm->on || grouped)) {
        scry_buf_puts(out, vm->on ? " on " : " ignoring ");
        put_label_list(vm->labels, vm->n_labels, out);
        if (grouped) {
            scry_buf_puts(out, vm->card == PQL_CARD_MANY_TO_ONE ? " group_left " : " group_right ");
            put_label_list(vm->include, vm->n_include, out);
        }
    }
    if (vm && vm->fill_lhs_set && vm->fill_rhs_set &&
        memcmp(&vm->fill_lhs, &vm->fill_rhs, sizeof(double)) == 0) {
        scry_buf_puts(out, " fill (");
        scry_buf_put_double(out, vm->fill_lhs);
        scry_buf_putc(out, ')');
    } else {
        if (vm && vm->fill_lhs_set) {
            scry_buf_puts(out, " fill_left (");
            scry_buf_put_double(out, vm->fill_lhs);
            scry_buf_putc(out, ')');
        }
        if (vm && vm->fill_rhs_set) {
            scry_buf_puts(out, " fill_right (");
            scry_buf_put_double(out, vm->fill_rhs);
            scry_buf_putc(out, ')');
        }
    }
    scry_buf_putc(out, ' ');
    print(b->rhs, out);
}

static void print_aggregate(const struct pql_aggregate *agg, struct scry_buf *out)
{
    scry_buf_puts(out, pql_agg_str(agg->op));
    if (agg->without || agg->n_grouping > 0) {
        scry_buf_puts(out, agg->without ? " without " : " by ");
        put_label_list(agg->grouping, agg->n_grouping, out);
        scry_buf_putc(out, ' ');
    }
    scry_buf_putc(out, '(');
    if (agg->param) {
        print(agg->param, out);
        scry_buf_puts(out, ", ");
    }
    print(agg->expr, out);
    scry_buf_putc(out, ')');
}

static void print(const struct pql_expr *e, struct scry_buf *out)
{
    assert(e != NULL);
    switch (e->kind) {
    case PQL_NUMBER:
        if (e->u.number.duration)
            put_duration((int64_t)llround(e->u.number.val * 1000.0), out);
        else
            pql__put_float_f(out, e->u.number.val);
        break;
    case PQL_STRING:
        pql_quote(e->u.string.val, e->u.string.len, out);
        break;
    case PQL_VECTOR_SEL:
        /* a vector selector prints @ before anchored/smoothed, a matrix after */
        print_selector_body(&e->u.vs, out);
        put_at_offset(e->u.vs.at, e->u.vs.at_ms, 0, NULL, out);
        put_modifiers(&e->u.vs, out);
        put_at_offset(PQL_AT_NONE, 0, e->u.vs.offset_ms, e->u.vs.offset_expr, out);
        break;
    case PQL_MATRIX_SEL: {
        const struct pql_vector_sel *vs = &e->u.ms.vs->u.vs;
        print_selector_body(vs, out);
        scry_buf_putc(out, '[');
        put_range(e->u.ms.range_ms, e->u.ms.range_expr, out);
        scry_buf_putc(out, ']');
        put_modifiers(vs, out);
        put_at_offset(vs->at, vs->at_ms, vs->offset_ms, vs->offset_expr, out);
        break;
    }
    case PQL_SUBQUERY:
        print(e->u.sq.expr, out);
        scry_buf_putc(out, '[');
        put_range(e->u.sq.range_ms, e->u.sq.range_expr, out);
        scry_buf_putc(out, ':');
        if (e->u.sq.step_expr || e->u.sq.step_ms != 0)
            put_range(e->u.sq.step_ms, e->u.sq.step_expr, out);
        scry_buf_putc(out, ']');
        put_at_offset(e->u.sq.at, e->u.sq.at_ms, e->u.sq.offset_ms, e->u.sq.offset_expr, out);
        break;
    case PQL_UNARY:
        scry_buf_puts(out, pql_op_str(e->u.unary.op));
        print(e->u.unary.expr, out);
        break;
    case PQL_BINARY:
        print_binary(&e->u.bin, out);
        break;
    case PQL_AGGREGATE:
        print_aggregate(&e->u.agg, out);
        break;
    case PQL_CALL:
        scry_buf_puts(out, e->u.call.func->name);
        scry_buf_putc(out, '(');
        for (size_t i = 0; i < e->u.call.n_args; i++) {
            if (i)
                scry_buf_puts(out, ", ");
            print(e->u.call.args[i], out);
        }
        scry_buf_putc(out, ')');
        break;
    case PQL_PAREN:
        scry_buf_putc(out, '(');
        print(e->u.paren, out);
        scry_buf_putc(out, ')');
        break;
    }
}

void pql_expr_print(const struct pql_expr *e, struct scry_buf *out)
{
    if (e)
        print(e, out);
}
