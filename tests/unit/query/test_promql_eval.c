/* Tests query/promql_eval*.c for what Prometheus's .test files do not cover:
 * the limits (timeout → SCRY_ETIMEOUT, max_samples → SCRY_ELIMIT with
 * Prometheus's message), the arena (memory grows with the points selected,
 * never with a malloc per sample), a few exact results, and argument
 * validation. The store is a synthetic one written here against
 * core/querier.h: n_series counters x{i="0".."n-1"}, one sample every 15 s
 * from t=0 whose value is t in seconds (so every rate is exactly 1/s); with
 * two_names the odd ones are y{i=...}. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "query/engine.h"

/* ---- a synthetic store ------------------------------------------------------ */

struct syn_store {
    struct scry_queryable qa;
    struct scry_querier q;
    struct scry_series_set ss;
    struct scry_sample_iter it;
    size_t n_series, n_samples;
    long sleep_ns;           /* per sample, to make queries slow */
    bool two_names;          /* odd series are y{i=...} instead of x */
    /* state of the one open series set / iterator */
    const struct scry_matcher *ms;
    size_t n_ms;
    int64_t mint, maxt;
    long cur;                /* series index */
    long k;                  /* sample index */
    char val[32];
    struct scry_label lv[2];
    struct scry_labels ls;
};

#define STORE(p, field) ((struct syn_store *)((char *)(p) - offsetof(struct syn_store, field)))

static void set_labels(struct syn_store *s)
{
    snprintf(s->val, sizeof(s->val), "%ld", s->cur);
    s->lv[0] = (struct scry_label){ "__name__", s->two_names && s->cur % 2 ? "y" : "x" };
    s->lv[1] = (struct scry_label){ "i", s->val };
    s->ls = (struct scry_labels){ s->lv, 2 };
}

static bool it_next(struct scry_sample_iter *it)
{
    struct syn_store *s = STORE(it, it);
    if (s->sleep_ns) {
        struct timespec ts = { 0, s->sleep_ns };
        nanosleep(&ts, NULL);
    }
    s->k++;
    return s->k < (long)s->n_samples && s->k * 15000 <= s->maxt;
}
static bool it_seek(struct scry_sample_iter *it, int64_t t)
{
    struct syn_store *s = STORE(it, it);
    if (s->k < 0)
        s->k = 0;
    while (s->k < (long)s->n_samples && s->k * 15000 < t)
        s->k++;
    return s->k < (long)s->n_samples && s->k * 15000 <= s->maxt;
}
static void it_at(const struct scry_sample_iter *it, int64_t *t, double *v)
{
    const struct syn_store *s = STORE(it, it);
    *t = s->k * 15000;
    *v = (double)(s->k * 15);
}
static int it_err(const struct scry_sample_iter *it, struct scry_err *err)
{
    return 0;
}
static const struct scry_sample_iter_ops it_ops = { it_next, it_seek, it_at, it_err, NULL };

static bool ss_next(struct scry_series_set *ss)
{
    struct syn_store *s = STORE(ss, ss);
    while (++s->cur < (long)s->n_series) {
        set_labels(s);
        bool ok = true;
        for (size_t i = 0; i < s->n_ms && ok; i++)
            ok = scry_matcher_matches_labels(&s->ms[i], &s->ls);
        if (ok) {
            s->k = -1;
            return true;
        }
    }
    return false;
}
static const struct scry_labels *ss_labels(const struct scry_series_set *ss)
{
    return &STORE(ss, ss)->ls;
}
static struct scry_sample_iter *ss_samples(struct scry_series_set *ss)
{
    return &STORE(ss, ss)->it;
}
static int ss_err(const struct scry_series_set *ss, struct scry_err *err)
{
    return 0;
}
static void ss_close(struct scry_series_set *ss)
{
}
static const struct scry_series_set_ops ss_ops = { ss_next, ss_labels, ss_samples, ss_err, ss_close };

static int q_select(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                    const struct scry_select_hints *h, struct scry_series_set **out,
                    struct scry_err *err)
{
    struct syn_store *s = STORE(q, q);
    s->ms = ms;
    s->n_ms = n_ms;
    s->mint = h->mint;
    s->maxt = h->maxt;
    s->cur = -1;
    *out = &s->ss;
    return 0;
}
static void q_close(struct scry_querier *q)
{
}
static const struct scry_querier_ops q_ops = { .select_series = q_select, .close = q_close };

static int qa_querier(struct scry_queryable *qa, const char *tenant, int64_t mint, int64_t maxt,
                      struct scry_querier **out, struct scry_err *err)
{
    *out = &STORE(qa, qa)->q;
    return 0;
}

static void store_init(struct syn_store *s, size_t n_series, size_t n_samples)
{
    memset(s, 0, sizeof(*s));
    s->qa.querier = qa_querier;
    s->q.ops = &q_ops;
    s->ss.ops = &ss_ops;
    s->it.ops = &it_ops;
    s->n_series = n_series;
    s->n_samples = n_samples;
}

/* ---- helpers ------------------------------------------------------------------- */

static struct scry_arena *arena;

static int setup(void **state)
{
    arena = scry_arena_create(0);
    return 0;
}

static int teardown(void **state)
{
    scry_arena_destroy(arena);
    return 0;
}

static struct pql_expr *P(const char *q)
{
    struct pql_expr *e;
    struct scry_err err = { 0 };
    if (pql_parse(arena, q, strlen(q), &e, &err) != 0)
        fail_msg("%s: %s", q, err.msg);
    return e;
}

static int instant(struct syn_store *s, const struct pql_engine_opts *o, const char *q, int64_t t,
                   struct pql_result *r, struct scry_err *err)
{
    struct pql_expr *e = P(q);
    int rc = pql_eval_instant(o, &s->qa, e, t, arena, r, err);
    pql_expr_fini(e);
    return rc;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_exact_results(void **state)
{
    struct syn_store s;
    store_init(&s, 3, 1000);
    struct pql_result r;
    struct scry_err err = { 0 };
    assert_int_equal(instant(&s, NULL, "sum(rate(x[5m]))", 600000, &r, &err), 0);
    assert_int_equal(r.type, PQL_TYPE_VECTOR);
    assert_int_equal(r.n_series, 1);
    assert_int_equal(r.series[0].labels.n, 0);
    assert_true(fabs(r.series[0].points[0].v - 3) < 1e-12);

    assert_int_equal(instant(&s, NULL, "x{i=\"1\"} offset 1m", 600000, &r, &err), 0);
    assert_int_equal(r.n_series, 1);
    assert_true(r.series[0].points[0].v == 540);
    assert_int_equal(r.series[0].points[0].t_ms, 600000);

    /* the lookback window is left-open: 5 m after the last sample it is gone */
    store_init(&s, 1, 5); /* samples at 0..60 s */
    assert_int_equal(instant(&s, NULL, "x", 60000 + 299999, &r, &err), 0);
    assert_int_equal(r.n_series, 1);
    assert_int_equal(instant(&s, NULL, "x", 60000 + 300000, &r, &err), 0);
    assert_int_equal(r.n_series, 0);

    /* a scalar as a range query is a one-series matrix */
    struct pql_expr *e = P("1 + 1");
    assert_int_equal(pql_eval_range(NULL, &s.qa, e, 0, 60000, 15000, arena, &r, &err), 0);
    assert_int_equal(r.type, PQL_TYPE_MATRIX);
    assert_int_equal(r.n_series, 1);
    assert_int_equal(r.series[0].n_points, 5);
    assert_true(r.series[0].points[4].v == 2);
    pql_expr_fini(e);
}

/* The "i" labels of r's series (each prefixed "x" or "-" for a dropped
 * name), in result order. */
static void i_list(const struct pql_result *r, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t k = 0; k < r->n_series; k++) {
        const char *i = scry_labels_get(&r->series[k].labels, "i");
        bool name = scry_labels_get(&r->series[k].labels, "__name__") != NULL;
        len += (size_t)snprintf(out + len, cap - len, "%s%c%s", k ? "," : "", name ? 'x' : '-',
                                i ? i : "?");
    }
}

/* topk/bottomk keep only k per step while scanning: ties keep input
 * order, and one that does not beat the last kept is skipped. */
/* q evaluated at 600 s over s: its series' i_list is want. */
static void expect_i_list(struct syn_store *s, const char *q, const char *want)
{
    struct pql_result r;
    struct scry_err err = { 0 };
    char got[128];
    assert_int_equal(instant(s, NULL, q, 600000, &r, &err), 0);
    i_list(&r, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got %s, want %s", q, got, want);
}

static void test_topk_ties(void **state)
{
    struct syn_store s;
    store_init(&s, 6, 100);
    /* all six tie at 600: the first two in input order */
    expect_i_list(&s, "topk(2, x)", "x0,x1");
    /* {i="4"} (1200) comes first and is the largest */
    expect_i_list(&s, "topk(1, x{i=\"4\"} * 2 or x)", "-4");
    expect_i_list(&s, "topk(3, x{i=\"4\"} * 2 or x)", "-4,x0,x1");
    /* ... and the one pushed out of bottomk's full buffer */
    expect_i_list(&s, "bottomk(3, x{i=\"4\"} * 2 or x)", "x0,x1,x2");
    /* k above the number of series keeps all, sorted, ties in input order */
    expect_i_list(&s, "bottomk(10, x{i=\"4\"} * 2 or x{i=~\"[0-2]\"})", "x0,x1,x2,-4");
    /* NaN sorts last for both ("or" ignores the name: x1 is left out) */
    expect_i_list(&s, "topk(2, (x{i=\"1\"} * 0 / 0) or x{i=~\"[0-2]\"})", "x0,x2");
    expect_i_list(&s, "bottomk(3, (x{i=\"1\"} * 0 / 0) or x{i=~\"[0-2]\"})", "x0,x2,-1");
}

static void test_errors(void **state)
{
    struct syn_store s;
    store_init(&s, 2, 100);
    struct pql_result r;
    struct scry_err err = { 0 };
    assert_int_equal(instant(&s, NULL, "x + on() x", 60000, &r, &err), SCRY_EINVAL);
    assert_string_equal(err.msg,
        "found duplicate series for the match group {} on the right hand-side of the operation: "
        "[{__name__=\"x\", i=\"0\"}, {__name__=\"x\", i=\"1\"}];many-to-many matching not allowed: "
        "matching labels must be unique on one side");
    assert_int_equal(instant(&s, NULL, "topk(NaN, x)", 60000, &r, &err), SCRY_EINVAL);
    assert_string_equal(err.msg, "Parameter value is NaN");
    /* invalid arguments */
    struct pql_expr *e = P("x");
    assert_int_equal(pql_eval_range(NULL, &s.qa, e, 10, 0, 1, arena, &r, &err), SCRY_EINVAL);
    assert_int_equal(pql_eval_range(NULL, &s.qa, e, 0, 10, 0, arena, &r, &err), SCRY_EINVAL);
    pql_expr_fini(e);
    e = P("x[5m]");
    assert_int_equal(pql_eval_range(NULL, &s.qa, e, 0, 10, 1, arena, &r, &err), SCRY_EINVAL);
    pql_expr_fini(e);
}

static void test_max_samples(void **state)
{
    struct syn_store s;
    store_init(&s, 4, 1000);
    struct pql_result r;
    struct scry_err err = { 0 };
    struct pql_engine_opts o = { .max_samples = 50 };
    /* 4 series x 20 samples in 5 m: 80 > 50 */
    assert_int_equal(instant(&s, &o, "rate(x[5m])", 600000, &r, &err), SCRY_ELIMIT);
    assert_string_equal(err.msg,
        "query processing would load too many samples into memory in query execution");
    /* 4 x 3 = 12 fit */
    assert_int_equal(instant(&s, &o, "rate(x[45s])", 600000, &r, &err), 0);
    assert_int_equal(r.n_series, 4);
    /* subquery results count too: 4 series x 61 inner steps */
    o.max_samples = 100;
    assert_int_equal(instant(&s, &o, "max_over_time(x[1h:1m])", 3600000, &r, &err), SCRY_ELIMIT);
}

static void test_timeout(void **state)
{
    struct syn_store s;
    store_init(&s, 200, 2000);
    s.sleep_ns = 20000; /* 20 µs per sample: the query would take ~2 s */
    struct pql_result r;
    struct scry_err err = { 0 };
    struct pql_engine_opts o = { .timeout_ms = 20 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(instant(&s, &o, "sum(count_over_time(x[10h]))", 30000000, &r, &err),
                     SCRY_ETIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_string_equal(err.msg, "query timed out in query execution");
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(took < 1.0);
}

/* The evaluator allocates from the query's arena only (plus one reused
 * scratch buffer per query for reading a series): a range function over a
 * selector reads each series' points into the scratch buffer, so the arena
 * grows by a fixed part per series and per step — not per point, and
 * never a block per sample. */
static void test_arena_per_query(void **state)
{
    struct syn_store s;
    store_init(&s, 1, 100001);
    struct pql_result r;
    struct scry_err err = { 0 };
    struct pql_engine_opts o = { 0 };
    struct scry_arena *a = scry_arena_create(0);
    struct pql_expr *e;
    assert_int_equal(pql_parse(a, "sum_over_time(x[2000000s])", 26, &e, &err), 0);
    size_t before = scry_arena_used(a);
    assert_int_equal(pql_eval_instant(&o, &s.qa, e, 1500000000, a, &r, &err), 0);
    size_t used = scry_arena_used(a) - before;
    assert_int_equal(r.n_series, 1);
    /* the fixed part only: the 100001 points (1.6 MB) are not copied */
    assert_true(used > 0);
    assert_true(used < 4096);
    pql_expr_fini(e);
    scry_arena_destroy(a);
}

/* __name__ removal: at once by default (Prometheus's default), at the end of
 * the query with delayed_name_removal (its feature flag; the conformance
 * suite's setting). */
static void test_name_removal(void **state)
{
    struct syn_store s;
    store_init(&s, 3, 1000);
    s.two_names = true; /* x{i="0"}, y{i="1"}, x{i="2"} */
    struct pql_engine_opts now = { 0 }, late = { .delayed_name_removal = true };
    const struct pql_engine_opts *modes[] = { &now, &late };
    struct pql_result r;
    struct scry_err err = { 0 };
    for (int m = 0; m < 2; m++) {
        /* rate(x[5m]): the name is gone from the result either way */
        assert_int_equal(instant(&s, modes[m], "rate(x[5m])", 600000, &r, &err), 0);
        assert_int_equal(r.n_series, 2);
        assert_int_equal(r.series[0].labels.n, 1);
        assert_string_equal(r.series[0].labels.v[0].name, "i");
        /* aggregation by __name__ of raw series keeps it */
        assert_int_equal(instant(&s, modes[m], "sum by (__name__) (x)", 600000, &r, &err), 0);
        assert_int_equal(r.n_series, 1);
        assert_string_equal(r.series[0].labels.v[0].value, "x");
        assert_true(r.series[0].points[0].v == 1200);
        /* label_replace onto __name__ after rate sets a name that stays */
        assert_int_equal(instant(&s, modes[m], "label_replace(rate(x[5m]), \"__name__\", \"r\", \"\", \"\")",
                                 600000, &r, &err), 0);
        assert_int_equal(r.n_series, 2);
        assert_string_equal(r.series[0].labels.v[0].name, "__name__");
        assert_string_equal(r.series[0].labels.v[0].value, "r");
    }

    /* the name is gone before sum by (__name__) sees it: one {} group */
    const char *q = "sum by (__name__) (rate({__name__=~\"x|y\"}[5m]))";
    assert_int_equal(instant(&s, &now, q, 600000, &r, &err), 0);
    assert_int_equal(r.n_series, 1);
    assert_int_equal(r.series[0].labels.n, 0);
    assert_true(fabs(r.series[0].points[0].v - 3) < 1e-12);
    /* label sets that collide once rate drops the name: the streamed
     * aggregation falls back to the generic path, which reports it */
    const char *q2 = "sum(rate(label_replace({__name__=~\"x|y\"}, \"i\", \"\", \"\", \"\")[5m:1m]))";
    assert_int_equal(instant(&s, &now, q2, 600000, &r, &err), SCRY_EINVAL);
    assert_string_equal(err.msg, "vector cannot contain metrics with the same labelset");
    q2 = "count(rate(label_replace({__name__=~\"x|y\"}, \"i\", \"1\", \"\", \"\")[5m:1m]))";
    assert_int_equal(instant(&s, &now, q2, 600000, &r, &err), SCRY_EINVAL);
    /* without the collision the same shape streams: 3 series counted */
    q2 = "count(rate(label_replace({__name__=~\"x|y\"}, \"j\", \"1\", \"\", \"\")[5m:1m]))";
    assert_int_equal(instant(&s, &now, q2, 600000, &r, &err), 0);
    assert_int_equal(r.n_series, 1);
    assert_true(r.series[0].points[0].v == 3);
    /* delayed: groups x and y both end as {} */
    assert_int_equal(instant(&s, &late, q, 600000, &r, &err), SCRY_EINVAL);
    assert_string_equal(err.msg, "vector cannot contain metrics with the same labelset");

    /* copying __name__ after rate: nothing to copy, or the old name */
    q = "label_replace(rate(x[5m]), \"n\", \"$1\", \"__name__\", \"(.*)\")";
    assert_int_equal(instant(&s, &now, q, 600000, &r, &err), 0);
    assert_int_equal(r.n_series, 2);
    assert_int_equal(r.series[0].labels.n, 1);
    assert_int_equal(instant(&s, &late, q, 600000, &r, &err), 0);
    assert_int_equal(r.n_series, 2);
    assert_int_equal(r.series[0].labels.n, 2);
    assert_string_equal(r.series[0].labels.v[0].name, "i");
    assert_string_equal(r.series[0].labels.v[1].value, "x");

    /* x{i="0"} and y{i="0"} collide at abs() at once; delayed, the rename
     * to zx / zy comes first and nothing collides */
    store_init(&s, 2, 1000);
    s.two_names = true;
    q = "label_replace(abs(label_replace({__name__=~\"x|y\"}, \"i\", \"0\", \"\", \"\")), "
        "\"__name__\", \"z$1\", \"__name__\", \"(.*)\")";
    assert_int_equal(instant(&s, &now, q, 600000, &r, &err), SCRY_EINVAL);
    assert_string_equal(err.msg, "vector cannot contain metrics with the same labelset");
    assert_int_equal(instant(&s, &late, q, 600000, &r, &err), 0);
    assert_int_equal(r.n_series, 2);
    assert_string_equal(r.series[0].labels.v[0].value, "zx");
    assert_string_equal(r.series[1].labels.v[0].value, "zy");

    /* comparison without bool keeps the name; with bool drops it */
    assert_int_equal(instant(&s, &now, "sum by (__name__) (x > 0)", 600000, &r, &err), 0);
    assert_int_equal(r.n_series, 1);
    assert_string_equal(r.series[0].labels.v[0].value, "x");
    assert_int_equal(instant(&s, &now, "sum by (__name__) (x > bool 0)", 600000, &r, &err), 0);
    assert_int_equal(r.n_series, 1);
    assert_int_equal(r.series[0].labels.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topk_ties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arena_per_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_removal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
