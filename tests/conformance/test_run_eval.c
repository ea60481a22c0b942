/* Tests run_eval.c and compare.c end to end with a toy evaluator that knows
 * only literals, parentheses, unary minus on scalars, and instant and range
 * selectors (5m lookback, offset, @, stale markers). Every eval of a few
 * Prometheus test files that uses nothing else must pass through all the
 * Go runner's variants (@-pinned re-prints, range-mode re-check) — which
 * checks the harness, the memstore, and the series parser against
 * Prometheus's own expectations. The data folder comes from argv[1]. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "tests/conformance/conformance.h"

static const char *data_dir;

/* ---- the toy engine ------------------------------------------------------- */

static bool supported(const struct pql_expr *e)
{
    switch (e->kind) {
    case PQL_NUMBER: case PQL_STRING:
        return true;
    case PQL_VECTOR_SEL:
        return !e->u.vs.offset_expr;
    case PQL_MATRIX_SEL: return !e->u.ms.range_expr && supported(e->u.ms.vs);
    case PQL_PAREN: return supported(e->u.paren);
    case PQL_UNARY: return e->u.unary.expr->type == PQL_TYPE_SCALAR && supported(e->u.unary.expr);
    default: return false;
    }
}

static int select_points(struct scry_queryable *store, const struct pql_vector_sel *vs,
                         int64_t mint, int64_t maxt, bool latest_only, int64_t out_t,
                         struct scry_arena *a, struct conf_result *out)
{
    struct scry_querier *q;
    struct scry_series_set *ss;
    store->querier(store, NULL, mint, maxt, &q, NULL);
    struct scry_select_hints h = { .mint = mint, .maxt = maxt };
    q->ops->select_series(q, vs->matchers, vs->n_matchers, &h, &ss, NULL);
    size_t cap = 64;
    out->series = scry_arena_calloc(a, cap, sizeof(*out->series));
    while (ss->ops->next(ss)) {
        struct scry_sample_iter *it = ss->ops->samples(ss);
        struct conf_point *pts = scry_arena_calloc(a, 256, sizeof(*pts));
        size_t n = 0;
        int64_t t;
        double v;
        while (it->ops->next(it) && n < 256) {
            it->ops->at(it, &t, &v);
            if (latest_only) {
                n = 1;
                pts[0] = (struct conf_point){ out_t, v, NULL };
            } else if (!pql_is_stale_nan(v)) {
                pts[n++] = (struct conf_point){ t, v, NULL };
            }
        }
        if (latest_only && n == 1 && pql_is_stale_nan(pts[0].v))
            n = 0;
        if (n == 0 || out->n_series == cap)
            continue;
        struct conf_result_series *s = &out->series[out->n_series++];
        const struct scry_labels *ls = ss->ops->labels(ss);
        struct scry_label *lv = scry_arena_alloc(a, (ls->n ? ls->n : 1) * sizeof(*lv));
        memcpy(lv, ls->v, ls->n * sizeof(*lv));
        s->labels.v = lv;
        s->labels.n = ls->n;
        s->points = pts;
        s->n_points = n;
    }
    ss->ops->close(ss);
    q->ops->close(q);
    return 0;
}

static int toy_eval(struct scry_queryable *store, const struct pql_expr *e, int64_t t,
                    struct scry_arena *a, struct conf_result *out, struct scry_err *err)
{
    memset(out, 0, sizeof(*out));
    switch (e->kind) {
    case PQL_NUMBER:
        out->type = PQL_TYPE_SCALAR;
        out->scalar = e->u.number.val;
        return 0;
    case PQL_STRING:
        out->type = PQL_TYPE_STRING;
        out->string = e->u.string.val;
        return 0;
    case PQL_PAREN:
        return toy_eval(store, e->u.paren, t, a, out, err);
    case PQL_UNARY: {
        int rc = toy_eval(store, e->u.unary.expr, t, a, out, err);
        if (e->u.unary.op == PQL_OP_SUB)
            out->scalar = -out->scalar;
        return rc;
    }
    case PQL_VECTOR_SEL: {
        const struct pql_vector_sel *vs = &e->u.vs;
        int64_t ts = (vs->at == PQL_AT_TIMESTAMP ? vs->at_ms : t) - vs->offset_ms;
        out->type = PQL_TYPE_VECTOR;
        return select_points(store, vs, ts - 300000 + 1, ts, true, t, a, out);
    }
    case PQL_MATRIX_SEL: {
        const struct pql_vector_sel *vs = &e->u.ms.vs->u.vs;
        int64_t ts = (vs->at == PQL_AT_TIMESTAMP ? vs->at_ms : t) - vs->offset_ms;
        out->type = PQL_TYPE_MATRIX;
        return select_points(store, vs, ts - e->u.ms.range_ms + 1, ts, false, 0, a, out);
    }
    default:
        return scry_err_set(err, SCRY_EINVAL, "toy engine: unsupported");
    }
}

static int toy_instant(void *ud, struct scry_queryable *store, const struct pql_expr *e,
                       const char *q, int64_t t, struct scry_arena *a, struct conf_result *out,
                       struct scry_err *err)
{
    return toy_eval(store, e, t, a, out, err);
}

static int cmp_series(const void *x, const void *y)
{
    return scry_labels_cmp(&((const struct conf_result_series *)x)->labels,
                           &((const struct conf_result_series *)y)->labels);
}

static int toy_range(void *ud, struct scry_queryable *store, const struct pql_expr *e,
                     const char *q, int64_t start, int64_t end, int64_t step,
                     struct scry_arena *a, struct conf_result *out, struct scry_err *err)
{
    memset(out, 0, sizeof(*out));
    out->type = PQL_TYPE_MATRIX;
    size_t cap = 64, steps = (size_t)((end - start) / step) + 1;
    out->series = scry_arena_calloc(a, cap, sizeof(*out->series));
    for (int64_t t = start; t <= end; t += step) {
        struct conf_result r;
        int rc = toy_eval(store, e, t, a, &r, err);
        if (rc != 0)
            return rc;
        if (r.type == PQL_TYPE_SCALAR) {
            static const struct conf_point none;
            r.series = scry_arena_calloc(a, 1, sizeof(*r.series));
            r.series[0].points = scry_arena_alloc(a, sizeof(none));
            r.series[0].points[0] = (struct conf_point){ t, r.scalar, NULL };
            r.series[0].n_points = 1;
            r.n_series = 1;
        } else if (r.type != PQL_TYPE_VECTOR) {
            return scry_err_set(err, SCRY_EINVAL, "range query of a %s", pql_type_name(r.type));
        }
        for (size_t i = 0; i < r.n_series; i++) {
            struct conf_result_series *s = NULL;
            for (size_t k = 0; k < out->n_series && !s; k++)
                if (scry_labels_equal(&out->series[k].labels, &r.series[i].labels))
                    s = &out->series[k];
            if (!s) {
                if (out->n_series == cap)
                    continue;
                s = &out->series[out->n_series++];
                s->labels = r.series[i].labels;
                s->points = scry_arena_calloc(a, steps, sizeof(*s->points));
            }
            s->points[s->n_points++] = r.series[i].points[0];
        }
    }
    qsort(out->series, out->n_series, sizeof(*out->series), cmp_series);
    return 0;
}

static const struct conf_engine toy = { .instant = toy_instant, .range = toy_range };

/* ---- the test ------------------------------------------------------------- */

static void run_file(const char *name, size_t min_checked)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", data_dir, name);
    struct scry_arena *a = scry_arena_create(1 << 20);
    struct conf_file f;
    struct scry_err err = { 0 };
    if (conf_file_parse(a, path, &f, &err) != 0)
        fail_msg("%s", err.msg);
    struct conf_memstore *ms = conf_memstore_create();
    size_t checked = 0;
    for (size_t i = 0; i < f.n_cmds; i++) {
        const struct conf_cmd *c = &f.cmds[i];
        if (c->kind == CONF_CLEAR) {
            conf_memstore_clear(ms);
        } else if (c->kind == CONF_LOAD) {
            for (size_t k = 0; k < c->n_series; k++)
                if (!c->series[k].start_ts)
                    assert_int_equal(conf_memstore_load(ms, &c->series[k], c->step_ms, NULL), 0);
        } else {
            struct pql_expr *e;
            if (pql_parse(a, c->query, strlen(c->query), &e, NULL) != 0)
                continue;
            bool ok = supported(e);
            pql_expr_fini(e);
            if (!ok)
                continue;
            char why[600];
            if (!conf_run_eval(&toy, conf_memstore_queryable(ms), c, a, why, sizeof(why)))
                fail_msg("%s:%d %s: %s", name, c->line, c->query, why);
            checked++;
        }
    }
    conf_memstore_destroy(ms);
    scry_arena_destroy(a);
    print_message("%s: %zu evals checked with the toy engine\n", name, checked);
    if (checked < min_checked)
        fail_msg("%s: only %zu evals checked", name, checked);
}

static void test_run_eval_literals(void **state) { run_file("literals.test", 5); }
static void test_run_eval_selectors(void **state) { run_file("selectors.test", 10); }
static void test_run_eval_staleness(void **state) { run_file("staleness.test", 5); }
static void test_run_eval_at_modifier(void **state) { run_file("at_modifier.test", 5); }

/* A wrong engine must be caught: values, labels and errors. */
static void test_run_eval_detects_wrong_results(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct conf_series_line exp = { .line = 2 };
    const char *line = "m{a=\"1\"} 5";
    assert_int_equal(pql_series_parse(a, line, strlen(line), &exp.desc, NULL), 0);
    struct conf_cmd c = { .kind = CONF_EVAL_INSTANT, .query = "m", .results = &exp, .n_results = 1 };
    struct scry_label l = { "a", "1" }, l2 = { "a", "2" };
    struct conf_point p = { 0, 5, NULL };
    struct conf_result_series s = { { &l, 1 }, &p, 1 };
    struct conf_result r = { .type = PQL_TYPE_VECTOR, .series = &s, .n_series = 1 };
    char why[300];
    /* the expected line has __name__="m": our series lacks it */
    assert_false(conf_check_result(&c, &r, false, 0, 0, 0, why, sizeof(why)));
    struct scry_label both[2] = { { "__name__", "m" }, { "a", "1" } };
    s.labels.v = both;
    s.labels.n = 2;
    assert_true(conf_check_result(&c, &r, false, 0, 0, 0, why, sizeof(why)));
    p.v = 5.1;
    assert_false(conf_check_result(&c, &r, false, 0, 0, 0, why, sizeof(why)));
    p.v = 5;
    r.type = PQL_TYPE_SCALAR;
    assert_false(conf_check_result(&c, &r, false, 0, 0, 0, why, sizeof(why)));
    (void)l2;
    struct conf_expect fx = { .kind = CONF_EXP_FAIL, .regex = "^many-to-many" };
    c.expects = &fx;
    c.n_expects = 1;
    assert_true(conf_check_error(&c, SCRY_EINVAL, "many-to-many matching not allowed", why, sizeof(why)));
    assert_false(conf_check_error(&c, SCRY_EINVAL, "other error", why, sizeof(why)));
    assert_false(conf_check_error(&c, 0, "", why, sizeof(why)));
    const char *warns[] = { "PromQL warning: x (1:1)" };
    struct conf_expect wx = { .kind = CONF_EXP_NO_WARN };
    c.expects = &wx;
    struct conf_result rw = { .warnings = warns, .n_warnings = 1 };
    assert_false(conf_check_annotations(&c, &rw, why, sizeof(why)));
    wx.kind = CONF_EXP_WARN;
    wx.msg = "PromQL warning: x (1:1)";
    assert_true(conf_check_annotations(&c, &rw, why, sizeof(why)));
    scry_arena_destroy(a);
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : "../shared/conformance/promql/testdata";
    struct stat st;
    if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("conformance data not found: %s (skipped)\n", data_dir);
        return 77; /* meson: skipped */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_eval_literals),
        cmocka_unit_test(test_run_eval_selectors),
        cmocka_unit_test(test_run_eval_staleness),
        cmocka_unit_test(test_run_eval_at_modifier),
        cmocka_unit_test(test_run_eval_detects_wrong_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
