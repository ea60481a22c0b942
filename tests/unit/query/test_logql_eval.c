/* Tests LogQL metric queries over a real log store: range aggregations
 * (window (t-range, t], offset, unwrap with conversions), vector
 * aggregations, binary operators with matching, literals, label_replace,
 * instant vs range evaluation, pipeline errors and timeouts. */
#include "logql_fixture.h"

static int setup(void **state)
{
    if (fx_setup(state))
        return -1;
    char line[64];
    for (int i = 1; i <= 60; i++) {
        snprintf(line, sizeof line, "status=%d v=%d d=%dms", i % 3 == 0 ? 500 : 200, i, i * 10);
        fx_append("app=a", i * SEC, line, NULL);
    }
    for (int i = 10; i <= 60; i += 10)
        fx_append("app=b", i * SEC, "status=200 v=1", NULL);
    fx_append("app=h,level=info", 5 * SEC, "level=warn status=1 z=9", NULL);
    fx_append("app=j", 5 * SEC, "{\"req\":{\"code\":503,\"path\":\"/x\"},\"n\":2}", NULL);
    fx_append("app=j", 6 * SEC, "{\"req\":{\"code\":200},\"n\":3}", NULL);
    return 0;
}

#define AT(q, t) fx_metric(q, (t) * SEC, (t) * SEC, 0, true)

/* A metric query evaluated at one time (seconds), and its answer. */
struct at_case {
    const char *q;
    int64_t t;
    const char *want;
};

/* Evaluates each case; a wrong answer names its query. */
static void check_at(const struct at_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *got = AT(c[i].q, c[i].t);
        if (strcmp(got, c[i].want))
            fail_msg("%s at %llds: got\n%swant\n%s", c[i].q, (long long)c[i].t, got, c[i].want);
    }
}

#define CHECK_AT(tab) check_at(tab, sizeof tab / sizeof tab[0])

static void test_logql_eval_count_rate(void **state)
{
    (void)state;
    static const struct at_case tab[] = {
        { "count_over_time({app=\"a\"}[10s])", 10, "{app=a} 10=10\n" },
        { "rate({app=\"a\"}[10s])", 10, "{app=a} 10=1\n" },
        { "bytes_over_time({app=\"b\"}[10s])", 10, "{app=b} 10=14\n" },
        { "bytes_rate({app=\"b\"}[10s])", 10, "{app=b} 10=1.4\n" },
        /* the window's left edge is exclusive: (10, 20] holds b's entry at 20 only */
        { "count_over_time({app=\"b\"}[10s])", 20, "{app=b} 20=1\n" },
        { "count_over_time({app=\"a\"}[10s] offset 10s)", 30, "{app=a} 30=10\n" },
        { "count_over_time({app=\"a\"} |= \"status=500\" [1m])", 60, "{app=a} 60=20\n" },
    };
    CHECK_AT(tab);
    assert_string_equal(fx_metric("count_over_time({app=\"b\"}[10s])", 10 * SEC, 35 * SEC,
                                  10 * SEC, false),
                        "{app=b} 10=1 20=1 30=1\n");
    /* steps with an empty window have no point */
    assert_string_equal(fx_metric("count_over_time({app=\"b\"}[5s])", 10 * SEC, 20 * SEC,
                                  5 * SEC, false),
                        "{app=b} 10=1 20=1\n");
}

static void test_logql_eval_unwrap(void **state)
{
    (void)state;
    const char *p = "({app=\"a\"} | logfmt | drop d | unwrap v [10s])";
    char q[256];
    static const struct {
        const char *fn, *want;
    } cases[] = {
        { "sum_over_time", "{app=a,status=200} 10=37\n{app=a,status=500} 10=18\n" },
        { "max_over_time", "{app=a,status=200} 10=10\n{app=a,status=500} 10=9\n" },
        { "min_over_time", "{app=a,status=200} 10=1\n{app=a,status=500} 10=3\n" },
        { "avg_over_time", "{app=a,status=200} 10=5.28571\n{app=a,status=500} 10=6\n" },
        { "first_over_time", "{app=a,status=200} 10=1\n{app=a,status=500} 10=3\n" },
        { "last_over_time", "{app=a,status=200} 10=10\n{app=a,status=500} 10=9\n" },
        { "stdvar_over_time", "{app=a,status=200} 10=9.06122\n{app=a,status=500} 10=6\n" },
        { "rate", "{app=a,status=200} 10=3.7\n{app=a,status=500} 10=1.8\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(q, sizeof q, "%s%s", cases[i].fn, p);
        const char *got = AT(q, 10);
        if (strcmp(got, cases[i].want))
            fail_msg("%s: got\n%s", q, got);
    }
    static const struct at_case tab[] = {
        { "sum_over_time({app=\"a\"} | logfmt | unwrap v [10s]) by (app)", 10, "{app=a} 10=55\n" },
        { "quantile_over_time(0.5, {app=\"a\"} | logfmt | unwrap v [10s]) by (app)", 10, "{app=a} 10=5.5\n" },
        { "sum_over_time({app=\"a\"} | logfmt | unwrap duration(d) [10s]) without (status, v)", 10, "{app=a} 10=0.55\n" },
        { "stddev_over_time({app=\"a\"} | logfmt | unwrap v [10s]) by (app)", 10, "{app=a} 10=2.87228\n" },
    };
    CHECK_AT(tab);
}

static void test_logql_eval_aggregations(void **state)
{
    (void)state;
    static const struct at_case tab[] = {
        { "sum by (status) (count_over_time({app=~\"a|b\"} | logfmt [10s]))", 30, "{status=200} 30=7\n{status=500} 30=4\n" },
        { "sum(count_over_time({app=~\"a|b\"}[10s])) by (app)", 30, "{app=a} 30=10\n{app=b} 30=1\n" },
        { "count(count_over_time({app=~\"a|b\"}[10s]))", 30, "{} 30=2\n" },
        { "avg(count_over_time({app=~\"a|b\"}[10s]))", 30, "{} 30=5.5\n" },
        { "max without (app) (count_over_time({app=~\"a|b\"}[10s]))", 30, "{} 30=10\n" },
        { "min(count_over_time({app=~\"a|b\"}[10s]))", 30, "{} 30=1\n" },
        { "stddev(count_over_time({app=~\"a|b\"}[10s]))", 30, "{} 30=4.5\n" },
        { "stdvar(count_over_time({app=~\"a|b\"}[10s]))", 30, "{} 30=20.25\n" },
        { "topk(1, count_over_time({app=~\"a|b\"}[10s]))", 30, "{app=a} 30=10\n" },
        { "bottomk(1, count_over_time({app=~\"a|b\"}[10s]))", 30, "{app=b} 30=1\n" },
        { "sort(count_over_time({app=~\"a|b\"}[10s]))", 30, "{app=b} 30=1\n{app=a} 30=10\n" },
        { "sort_desc(count_over_time({app=~\"a|b\"}[10s]))", 30, "{app=a} 30=10\n{app=b} 30=1\n" },
        /* Grafana's logs volume query: a line with no level field nor keyword
         * is detected_level="unknown", as in Loki 3 (test_logql_level.c) */
        { "sum by (level, detected_level) (count_over_time({app=\"b\"} | drop __error__[10s]))", 30, "{detected_level=unknown} 30=1\n" },
    };
    CHECK_AT(tab);
}

static void test_logql_eval_binary(void **state)
{
    (void)state;
    assert_string_equal(AT("vector(1)+vector(1)", 4000000000LL), "{} 4000000000=2\n");
    static const struct at_case tab[] = {
        { "1 + 2 * 3", 10, "scalar 7" },
        { "2 ^ 3 ^ 2", 10, "scalar 512" },
        { "sum(count_over_time({app=\"a\"}[10s])) / sum(count_over_time({app=\"b\"}[10s]))", 20, "{} 20=10\n" },
        { "count_over_time({app=~\"a|b\"}[10s]) > 5", 20, "{app=a} 20=10\n" },
        { "count_over_time({app=~\"a|b\"}[10s]) > bool 5", 20, "{app=a} 20=1\n{app=b} 20=0\n" },
        { "10 - count_over_time({app=\"b\"}[10s])", 20, "{app=b} 20=9\n" },
        { "count_over_time({app=~\"a|b\"}[10s]) and on (app) count_over_time({app=\"b\"}[10s])", 20, "{app=b} 20=1\n" },
        { "count_over_time({app=~\"a|b\"}[10s]) unless count_over_time({app=\"b\"}[10s])", 20, "{app=a} 20=10\n" },
        { "count_over_time({app=\"zzz\"}[10s]) or vector(0)", 20, "{} 20=0\n" },
    };
    CHECK_AT(tab);
    assert_non_null(strstr(AT("sum by (app) (count_over_time({app=\"a\"} | logfmt [10s])) / ignoring (status) group_left sum by (app, status) (count_over_time({app=\"a\"} | logfmt [10s]))", 20),
                           "error: found duplicate series for the match group {app=\"a\"} on the right hand-side"));
    assert_string_equal(AT("sum by (app, status) (count_over_time({app=\"a\"} | logfmt [10s])) / ignoring (status) group_left sum by (app) (count_over_time({app=\"a\"} | logfmt [10s]))", 20),
                        "{app=a,status=200} 20=0.7\n{app=a,status=500} 20=0.3\n");
    assert_string_equal(AT("label_replace(count_over_time({app=\"b\"}[10s]), \"x\", \"$1-z\", \"app\", \"(.*)\")", 20),
                        "{app=b,x=b-z} 20=1\n");
    assert_string_equal(fx_metric("vector(1)", 0, 20 * SEC, 10 * SEC, false), "{} 0=1 10=1 20=1\n");
}

/* Parser hints (only the fields a grouped metric query reads are
 * extracted) must not change any answer. */
static void test_logql_eval_parser_hints(void **state)
{
    (void)state;
    char want[4096];
    /* label_format may read any label: no hints there */
    snprintf(want, sizeof want, "%s",
             AT("sum by (status) (count_over_time({app=\"a\"} | logfmt | label_format q=`{{.v}}` | v > 3 [10s]))", 10));
    assert_string_equal(AT("sum by (status) (count_over_time({app=\"a\"} | logfmt | v > 3 [10s]))", 10),
                        want);
    assert_string_equal(want, "{status=200} 10=5\n{status=500} 10=2\n");
    static const struct at_case tab[] = {
        { "sum by (level_extracted) (count_over_time({app=\"h\"} | logfmt [10s]))", 10, "{level_extracted=warn} 10=1\n" },
        { "sum by (level) (count_over_time({app=\"h\"} | logfmt [10s]))", 10, "{level=info} 10=1\n" },
        { "sum by (req_code) (count_over_time({app=\"j\"} | json | n > 2 [10s]))", 10, "{req_code=200} 10=1\n" },
        { "sum by (z) (sum_over_time({app=\"h\"} | logfmt | unwrap status [10s]))", 10, "{z=9} 10=1\n" },
    };
    CHECK_AT(tab);
}

static void test_logql_eval_absent_and_errors(void **state)
{
    (void)state;
    assert_string_equal(AT("absent_over_time({app=\"zzz\", x=~\"y\"}[10s])", 10), "{app=zzz} 10=1\n");
    assert_string_equal(AT("absent_over_time({app=\"a\"}[10s])", 10), "");
    assert_string_equal(fx_metric("absent_over_time({app=\"b\"}[5s])", 10 * SEC, 20 * SEC,
                                  5 * SEC, false),
                        "{app=b} 15=1\n");
    const char *got = AT("count_over_time({app=\"a\"} | json [10s])", 10);
    assert_non_null(strstr(got, "error: pipeline error: 'JSONParserErr'"));
    assert_string_equal(AT("count_over_time({app=\"a\"} | json | __error__=\"\" [10s])", 10), "");
    assert_string_equal(AT("sum(count_over_time({app=\"a\"} | json | drop __error__ [10s]))", 10),
                        "{} 10=10\n");
    /* a log query is not a metric query */
    assert_non_null(strstr(AT("{app=\"a\"}", 10), "log queries are not supported as an instant"));
    /* timeouts */
    struct scry_arena *a = scry_arena_create(0);
    struct lql_expr *e;
    struct scry_err err = { 0 };
    const char *q = "count_over_time({app=\"a\"}[10s])";
    assert_int_equal(lql_parse(a, q, strlen(q), &e, &err), 0);
    struct lql_opts o = { .timeout_ms = -1 };
    struct lql_result r;
    assert_int_equal(lql_eval_metric(&o, ls_queryable(fx_st), e, 0, 0, 0, true, a, &r, &err),
                     SCRY_ETIMEOUT);
    lql_expr_fini(e);
    /* the series limit: every entry of app=a is its own series after logfmt */
    q = "count_over_time({app=\"a\"} | logfmt [1m])";
    assert_int_equal(lql_parse(a, q, strlen(q), &e, &err), 0);
    o = (struct lql_opts){ .max_series = 10 };
    assert_int_equal(lql_eval_metric(&o, ls_queryable(fx_st), e, 60 * SEC, 60 * SEC, 0, true, a,
                                     &r, &err),
                     SCRY_ELIMIT);
    assert_string_equal(err.msg, "maximum of series (10) reached for a single query");
    o.max_series = 60;
    assert_int_equal(lql_eval_metric(&o, ls_queryable(fx_st), e, 60 * SEC, 60 * SEC, 0, true, a,
                                     &r, &err),
                     0);
    assert_int_equal(r.n_series, 60);
    lql_expr_fini(e);
    scry_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logql_eval_count_rate),
        cmocka_unit_test(test_logql_eval_unwrap),
        cmocka_unit_test(test_logql_eval_aggregations),
        cmocka_unit_test(test_logql_eval_binary),
        cmocka_unit_test(test_logql_eval_parser_hints),
        cmocka_unit_test(test_logql_eval_absent_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
