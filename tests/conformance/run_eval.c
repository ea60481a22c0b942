/* run_eval.c — running one eval block through an evaluator exactly as the
 * Go runner does (FORMAT.md §5.2, §5.3).
 *
 * Range evals run once. Instant evals run as written at the eval time, then
 * — unless the query reads the clock (time(), timestamp(), the date
 * functions, predict_linear, start/end/range/step) — re-printed with
 * "@ <t>" on every selector and subquery lacking one (nothing inside a
 * subquery is touched) and evaluated at -10t, 0, t/5, t and 10t (or -1s, 0,
 * 1s when t is 0); finally each of those is re-run as a range query from
 * T-1m to T+1m with a 1m step and the points at T compared again. Every
 * variant must meet the same expectations; this is what catches engines
 * whose instant and range paths disagree, or that are not step invariant. */
#include <stdio.h>
#include <string.h>

#include "tests/conformance/conformance.h"

static const char *const clock_functions[] = {
    "time", "timestamp", "minute", "hour", "day_of_month", "day_of_week", "day_of_year",
    "days_in_month", "month", "year", "predict_linear", "start", "end", "range", "step",
};

static int reads_clock(struct pql_expr *e, void *ud)
{
    (void)ud;
    if (e->kind != PQL_CALL)
        return 0;
    for (size_t i = 0; i < sizeof(clock_functions) / sizeof(clock_functions[0]); i++)
        if (strcmp(e->u.call.func->name, clock_functions[i]) == 0)
            return 1;
    return 0;
}

/* Adds @ t to selectors and subqueries without one; not inside subqueries. */
static void pin(struct pql_expr *e, int64_t t_ms)
{
    switch (e->kind) {
    case PQL_VECTOR_SEL:
        if (e->u.vs.at == PQL_AT_NONE)
            e->u.vs.at = PQL_AT_TIMESTAMP, e->u.vs.at_ms = t_ms;
        break;
    case PQL_MATRIX_SEL:
        pin(e->u.ms.vs, t_ms);
        break;
    case PQL_SUBQUERY:
        if (e->u.sq.at == PQL_AT_NONE)
            e->u.sq.at = PQL_AT_TIMESTAMP, e->u.sq.at_ms = t_ms;
        break;
    case PQL_UNARY: pin(e->u.unary.expr, t_ms); break;
    case PQL_PAREN: pin(e->u.paren, t_ms); break;
    case PQL_BINARY:
        pin(e->u.bin.lhs, t_ms);
        pin(e->u.bin.rhs, t_ms);
        break;
    case PQL_AGGREGATE:
        if (e->u.agg.param)
            pin(e->u.agg.param, t_ms);
        pin(e->u.agg.expr, t_ms);
        break;
    case PQL_CALL:
        for (size_t i = 0; i < e->u.call.n_args; i++)
            pin(e->u.call.args[i], t_ms);
        break;
    case PQL_NUMBER: case PQL_STRING:
        break;
    }
}

struct variant {
    struct pql_expr *e;
    const char *query;
    int64_t t_ms;
};

static bool check_instant(const struct conf_engine *eng, struct scry_queryable *store,
                          const struct conf_cmd *c, const struct variant *v,
                          struct scry_arena *a, char *why, size_t n)
{
    struct conf_result r = { 0 };
    struct scry_err err = { 0 };
    int rc = eng->instant(eng->ud, store, v->e, v->query, v->t_ms, a, &r, &err);
    if (!conf_check_error(c, rc, err.msg, why, n))
        return false;
    if (rc != 0)
        return true;
    if (!conf_check_annotations(c, &r, why, n))
        return false;
    if (c->has_range_vector)
        return conf_check_result(c, &r, true, c->rv_start_ms, c->rv_end_ms, c->rv_step_ms, why, n);
    return conf_check_result(c, &r, false, 0, 0, 0, why, n);
}

/* §5.3 step 3: the instant result must equal the range result's points at T. */
static bool check_range_mode(const struct conf_engine *eng, struct scry_queryable *store,
                             const struct conf_cmd *c, const struct variant *v,
                             struct scry_arena *a, char *why, size_t n)
{
    struct conf_result r = { 0 };
    struct scry_err err = { 0 };
    int64_t t = v->t_ms;
    if (eng->range(eng->ud, store, v->e, v->query, t - 60000, t + 60000, 60000, a, &r, &err) != 0) {
        snprintf(why, n, "range-mode re-check at %lld failed: %s", (long long)t, err.msg);
        return false;
    }
    for (size_t i = 1; i < r.n_series; i++)
        if (scry_labels_cmp(&r.series[i - 1].labels, &r.series[i].labels) >= 0) {
            snprintf(why, n, "range-mode re-check: result not sorted");
            return false;
        }
    if (c->ordered)
        return true;
    struct conf_result at = { .type = PQL_TYPE_VECTOR };
    at.series = scry_arena_calloc(a, r.n_series ? r.n_series : 1, sizeof(*at.series));
    for (size_t i = 0; i < r.n_series; i++)
        for (size_t k = 0; k < r.series[i].n_points; k++)
            if (r.series[i].points[k].t_ms == t) {
                struct conf_result_series *s = &at.series[at.n_series++];
                s->labels = r.series[i].labels;
                s->points = &r.series[i].points[k];
                s->n_points = 1;
                break;
            }
    if (c->has_scalar) {
        at.type = PQL_TYPE_SCALAR;
        if (at.n_series == 0) {
            snprintf(why, n, "range-mode re-check at %lld: no point", (long long)t);
            return false;
        }
        at.scalar = at.series[0].points[0].v;
    }
    if (!conf_check_result(c, &at, false, 0, 0, 0, why, n)) {
        char tmp[400];
        snprintf(tmp, sizeof(tmp), "range-mode re-check at %lld: %s", (long long)t, why);
        snprintf(why, n, "%s", tmp);
        return false;
    }
    return true;
}

static bool run_range(const struct conf_engine *eng, struct scry_queryable *store,
                      const struct conf_cmd *c, struct pql_expr *e, struct scry_arena *a,
                      char *why, size_t n)
{
    if (c->ordered) {
        snprintf(why, n, "expect ordered on a range eval (range results are always sorted)");
        return false;
    }
    struct conf_result r = { 0 };
    struct scry_err err = { 0 };
    int rc = eng->range(eng->ud, store, e, c->query, c->start_ms, c->end_ms, c->step_eval_ms, a,
                        &r, &err);
    if (!conf_check_error(c, rc, err.msg, why, n))
        return false;
    if (rc != 0)
        return true;
    return conf_check_annotations(c, &r, why, n) &&
           conf_check_result(c, &r, true, c->start_ms, c->end_ms, c->step_eval_ms, why, n);
}

bool conf_run_eval(const struct conf_engine *eng, struct scry_queryable *store,
                   const struct conf_cmd *c, struct scry_arena *a, char *why, size_t n)
{
    struct pql_expr *e;
    struct scry_err err = { 0 };
    if (pql_parse(a, c->query, strlen(c->query), &e, &err) != 0) {
        snprintf(why, n, "%s", err.msg);
        return false;
    }
    bool ok;
    if (c->kind == CONF_EVAL_RANGE) {
        ok = run_range(eng, store, c, e, a, why, n);
        pql_expr_fini(e);
        return ok;
    }
    int64_t t = c->has_range_vector ? c->rv_end_ms : c->at_ms;
    struct variant v[6];
    size_t nv = 0;
    v[nv++] = (struct variant){ e, c->query, t };
    struct pql_expr *pinned = NULL;
    if (pql_expr_walk(e, reads_clock, NULL) == 0) {
        struct pql_expr *p2;
        if (pql_parse(a, c->query, strlen(c->query), &p2, NULL) == 0) {
            pin(p2, t);
            struct scry_buf b = { 0 };
            pql_expr_print(p2, &b);
            const char *text = scry_arena_strndup(a, b.p, b.len);
            scry_buf_fini(&b);
            pql_expr_fini(p2);
            if (pql_parse(a, text, strlen(text), &pinned, NULL) == 0) {
                int64_t times[5] = { -10 * t, 0, t / 5, t, 10 * t };
                int64_t zero[3] = { -1000, 0, 1000 };
                const int64_t *ts = t == 0 ? zero : times;
                size_t nts = t == 0 ? 3 : 5;
                for (size_t i = 0; i < nts; i++)
                    v[nv++] = (struct variant){ pinned, text, ts[i] };
            }
        }
    }
    ok = true;
    for (size_t i = 0; i < nv && ok; i++)
        ok = check_instant(eng, store, c, &v[i], a, why, n);
    bool recheck = !c->has_range_vector && !c->has_string && !c->expect_fail &&
                   !strstr(c->query, "start()") && !strstr(c->query, "end()") &&
                   !strstr(c->query, "range()") && !strstr(c->query, "step()");
    for (size_t i = 0; i < nv && ok && recheck; i++)
        ok = check_range_mode(eng, store, c, &v[i], a, why, n);
    pql_expr_fini(e);
    pql_expr_fini(pinned);
    return ok;
}
