/* Tests query/promql_print.c: Prometheus's canonical formatting (what
 * /api/v1/format_query returns) and print → parse → print stability over a
 * corpus of queries taken from Prometheus's own PromQL test files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "query/promql.h"

/* Parses q and returns its printed form (caller frees). */
static char *fmt(const char *q)
{
    struct scry_arena *a = scry_arena_create(0);
    struct pql_expr *e;
    struct scry_err err = { 0 };
    if (pql_parse(a, q, strlen(q), &e, &err) != 0)
        fail_msg("parse %s: %s", q, err.msg);
    struct scry_buf b = { 0 };
    pql_expr_print(e, &b);
    pql_expr_fini(e);
    scry_arena_destroy(a);
    return scry_buf_take(&b);
}

static void check_fmt(const char *q, const char *want)
{
    char *got = fmt(q);
    if (strcmp(got, want) != 0)
        fail_msg("format %s:\n  got  %s\n  want %s", q, got, want);
    free(got);
}

static void test_promql_print_canonical_forms(void **state)
{
    check_fmt("sum by(job)(rate(http_requests_total{job=\"api\"}[5m]))",
              "sum by (job) (rate(http_requests_total{job=\"api\"}[5m]))");
    check_fmt("sum(rate(x[5m])) by (a,b)", "sum by (a, b) (rate(x[5m]))");
    check_fmt("sum without(a)(x)", "sum without (a) (x)");
    check_fmt("sum by () (x)", "sum(x)");
    check_fmt("topk(3,x)", "topk(3, x)");
    check_fmt("a+b*c", "a + b * c");
    check_fmt("(a+b)*c", "(a + b) * c");
    check_fmt("a>bool on(x)group_left(y)b", "a > bool on (x) group_left (y) b");
    check_fmt("a / ignoring(x) group_right b", "a / ignoring (x) group_right () b");
    check_fmt("a * on() b", "a * on () b");
    check_fmt("a and b", "a and b");
    check_fmt("-x", "-x");
    check_fmt("- 1", "-1");
    check_fmt("-(1)", "-(1)");
    check_fmt("foo{b=\"1\",a=\"2\"}", "foo{a=\"2\",b=\"1\"}");
    check_fmt("{b=\"1\",__name__=\"foo\"}", "{__name__=\"foo\",b=\"1\"}");
    check_fmt("{__name__=~\"a|b\"}", "{__name__=~\"a|b\"}");
    check_fmt("foo{a!~'x',b!=`y`}", "foo{a!~\"x\",b!=\"y\"}");
    check_fmt("{\"a.b\"=\"c\"}", "{\"a.b\"=\"c\"}");
    check_fmt("foo offset 5m @ 1.5", "foo @ 1.500 offset 5m");
    check_fmt("foo @ start() offset -90m", "foo @ start() offset -1h30m");
    check_fmt("foo[90m] offset 1d", "foo[1h30m] offset 1d");
    check_fmt("foo[7d]", "foo[1w]");
    check_fmt("foo[8d]", "foo[8d]");
    check_fmt("foo[120]", "foo[2m]");
    check_fmt("rate(x[5m])[30m:1m] @ end()", "rate(x[5m])[30m:1m] @ end()");
    check_fmt("x[5m:]", "x[5m:]");
    check_fmt("1e6", "1000000"); /* FormatFloat 'f', not %v */
    check_fmt("123456", "123456");
    check_fmt("0.0001", "0.0001");
    check_fmt("0.00001", "0.00001");
    check_fmt("1.5e30 * 0", "1500000000000000000000000000000 * 0");
    check_fmt("foo @ 10 anchored offset 5m", "foo @ 10.000 anchored offset 5m");
    check_fmt("foo[5m] anchored @ 10", "foo[5m] anchored @ 10.000");
    check_fmt("0x10", "16");
    check_fmt("Inf", "+Inf");
    check_fmt("-Inf", "-Inf");
    check_fmt("NaN", "NaN");
    check_fmt("1h30m", "1h30m");
    check_fmt("-5m", "-5m");
    check_fmt("\"a\\nb\\\"c\\\\\"", "\"a\\nb\\\"c\\\\\"");
    check_fmt("`raw\"`", "\"raw\\\"\"");
    check_fmt("'x\\x01'", "\"x\\x01\"");
    check_fmt("count_values(\"v\", x)", "count_values(\"v\", x)");
    check_fmt("label_replace(x,\"a\",\"$1\",\"b\",\"(.*)\")",
              "label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")");
    check_fmt("foo # comment", "foo");
    check_fmt("time()", "time()");
    check_fmt("h </ 10", "h </ 10");
    check_fmt("inf ^ x", "(+Inf) ^ x"); /* unparenthesised it would reparse as +(Inf ^ x) */
    check_fmt("a + fill(0) b", "a + fill (0) b");
    check_fmt("a + on(x) fill_left(1) fill_right(NaN) b", "a + on (x) fill_left (1) fill_right (NaN) b");
    check_fmt("x[+(5m)]", "x[(5m)]"); /* a unary + is dropped, as Prometheus does */
    check_fmt("x[5m+step()]", "x[5m + step()]");
    check_fmt("x[30m:2*(15s)] offset -min_of(step(),1s)", "x[30m:2 * (15s)] offset -min_of(step(), 1s)");
}

/* From promql/promqltest/testdata (Apache-2.0), tiers 1–3. */
static const char *const corpus[] = {
    "SUM BY (group) (http_requests{job=\"api-server\"})",
    "sum without (instance) (http_requests{job=\"api-server\"} or foo)",
    "AVG(http_requests) BY (job)",
    "round(-1 * (0.005 * http_requests{group=\"production\",job=\"api-server\"}))",
    "stddev(http_requests)",
    "min({job=\"api-server\"})",
    "topk by (group) (1, http_requests)",
    "count(bottomk(scalar(foo), http_requests))",
    "topk(NaN, non_existent)",
    "quantile without(point)(0.8, {__name__=~\"data(_histogram)?\"})",
    "avg(data{test=\"inf\"})",
    "avg(data{test=\"bigzero\"})",
    "sum by (group) (data{test=\"nan\"})",
    "avg(topk(10, foo)) == 52",
    "stddev (series)",
    "metric @ 0 offset -50s",
    "sum_over_time(metric{job=\"1\"}[100s] offset 50s @ 100)",
    "sum_over_time(metric{job=\"1\"}[100s:1s] offset 20s @ 100)",
    "timestamp(timestamp(metric{job=\"1\"} @ 10))",
    "quantile_over_time(scalar(arg), metric[2m1s:30s] @ 2m)",
    "last_over_time({__name__=\"up\"}[1h:1m] @ 1111111)",
    "abs(metric @ 11)",
    "timestamp(abs(metric_missing @ 11))",
    "resets(metric[1m])",
    "resets(http_requests[20m])",
    "changes(http_requests[20m])",
    "increase(http_requests_total[50m])",
    "irate(http_requests_total[50m])",
    "irate(http_requests_histogram{path=\"/g\"}[20m])",
    "idelta(http_requests_histogram{path=\"/b\"}[6m])",
    "deriv(http_requests_mix{group=\"canary\", instance=\"1\", job=\"app-server\"}[110m])",
    "predict_linear(testcounter_reset_middle_mix[60m], 50m)",
    "label_replace(testmetric, \"dst\", \"value-$1\", \"src\", \"non-matching-regex\")",
    "label_join(testmetric, \"dst\", \"\", \"emptysrc\", \"emptysrc1\", \"emptysrc2\")",
    "clamp_max(clamp_min(test_clamp, -20), 70)",
    "sort(http_requests)",
    "sum_over_time(metric3[1m])/count_over_time(metric3[1m])",
    "avg_over_time(metric6[1m])",
    "sum_over_time(metric8[1m])/count_over_time(metric8[1m])",
    "sum_over_time(metric13[1m])",
    "avg_over_time(foo[130s]) - 52",
    "sum_over_time(metric[2000ms])",
    "stddev_over_time(metric[2m])",
    "quantile_over_time(0.5, data[2m])",
    "year()",
    "day_of_week()",
    "month(vector(1456790400)) + day_of_month(vector(1456790400)) / 100",
    "hour(histogram_sample)",
    "max_over_time(data[2m])",
    "floor(data)",
    "absent(http_requests_histogram)",
    "absent_over_time(http_requests_total{handler=\"/foo\"}[5m])",
    "absent_over_time(http_requests_total[16m])",
    "absent_over_time(rate(http_requests_histogram[5m])[5m:1m])",
    "present_over_time(http_requests_total[10m])",
    "exp({__name__=~\"exp_root_log(_h)?\"})",
    "sqrt(exp_root_log)",
    "log10(exp_root_log - 20)",
    "metric_for_at @ start()",
    "histogram_fraction(0, 4, testhistogram2)",
    "histogram_fraction(0, 0.2, rate(testhistogram3_bucket[10m]))",
    "histogram_fraction(-Inf, +Inf, lower_is_negative_Inf_and_upper_is_positive_Inf__negative_buckets__bucket)",
    "histogram_fraction(400, +Inf, upper_is_positive_Inf)",
    "histogram_fraction(2, 3.5, lower_exactly_on_bucket_boundary_bucket)",
    "histogram_fraction(-1, 1, range_crosses_zero)",
    "testhistogram3_bucket{le=\".2\"} / ignoring(le) testhistogram3_count",
    "histogram_quantile(0.75, testhistogram3_bucket)",
    "histogram_quantile(NaN, non_existent)",
    "histogram_quantile(0.8, testhistogram)",
    "histogram_quantile(1./6., testhistogram2_bucket)",
    "histogram_quantile(5./6., rate(testhistogram2[15m]))",
    "histogram_quantile(0.5, avg(rate(request_duration_seconds_bucket[10m])) by (le))",
    "histogram_quantile(0.3, sum(rate(request_duration_seconds[10m])) by (job, instance))",
    "sum(request_duration_seconds{job=\"job1\",instance=\"ins1\"} + ignoring(job,instance) request_duration_seconds{job=\"job1\",instance=\"ins2\"} + ignoring(job,instance) request_duration_seconds{job=\"job2\",instance=\"ins1\"} + ignoring(job,instance) request_duration_seconds{job=\"job2\",instance=\"ins2\"})",
    "histogram_quantile(0.5, rate(mixed_bucket[10m]))",
    "histogram_quantile(1.0, sum by (le) (rate(const_histogram_bucket[5m])))",
    "histogram_fraction(-Inf, 1, series)",
    "-0.2e-6",
    "-1 / 0",
    "-metric_total",
    "first_over_time(metric_total{env=\"1\"}[10m])",
    "sum(rate({env=\"1\"}[10m])) by (env)",
    "sum by (__name__) (rate(metric_total{env=\"3\"}[5m]) or metric_total{env=\"1\"})",
    "histogram_sum(single_histogram)",
    "histogram_quantile(0.5, multi_histogram)",
    "low_res_histogram",
    "histogram_quantile(0.5, single_zero_histogram)",
    "histogram_fraction(-2, -1, two_samples_histogram)",
    "rate(histogram_rate[45s])",
    "histogram_stddev(histogram_stddev_stdvar_4)",
    "histogram_quantile(1, histogram_quantile_1)",
    "histogram_quantile(1, histogram_quantile_2)",
    "histogram_quantile(0.99, histogram_quantile_3)",
    "histogram_quantile(0, histogram_quantile_3)",
    "histogram_fraction(-2, 0, var_res_histogram{schema=\"-1\"})",
    "histogram_fraction(-0.001, 0, histogram_fraction_2)",
    "histogram_fraction(1, 8, histogram_fraction_2)",
    "histogram_fraction(-6, -1.5, histogram_fraction_2)",
    "histogram_fraction(-Inf, +Inf, histogram_fraction_2)",
    "histogram_fraction(-inf, -0.001, histogram_fraction_3)",
    "histogram_fraction(-inf, -6, histogram_fraction_3)",
    "histogram_fraction(3.1415, NaN, histogram_fraction_3)",
    "histogram_fraction(-inf, 0.0005, histogram_fraction_4)",
    "histogram_fraction(1, 6, histogram_fraction_4)",
    "histogram_fraction(0.000001, 0.000001, histogram_fraction_4)",
    "histogram_mul_div*-1",
    "histogram_mul_div*0",
    "float_series_3/histogram_mul_div",
    "histogram_fraction(5, 10, custom_buckets_histogram)",
    "histogram_fraction(0.0, 1.0, rate(const_histogram[5m]))",
    "metric{series=\"1\"} and ignoring(series) metric{series=\"2\"}",
    "last_over_time(nhcb_metric[13m])",
    "sum(histogram_sum)",
    "avg_over_time(histogram_sum_over_time_2[8m:1m])",
    "sum_over_time(histogram_sum_over_time_incremental_3[7m:1m])",
    "histogram_sub_2{idx=\"0\"} - ignoring(idx) histogram_sub_2{idx=\"1\"}",
    "histogram_fraction(-Inf, 0.7071067811865475, histogram_nan)",
    "metric - 0.5 * metric",
    "histogram_count(avg(metric))",
    "increase(h[40m:9m])",
    "irate(nhcb_add_buckets[2m]) * 60",
    "h_test </ 1.4142135624",
    "h_test </ -1",
    "h_negative_buckets </ 0",
    "zero_bucket_only </ 0",
    "cbh </ 7.5",
    "cbh_has_neg </ -4",
    "cbh_one_bucket </ -Inf",
    "cbh_two_buckets_split_at_positive </ 0.0",
    "cbh_two_buckets_split_at_negative </ -10.0",
    "empty </ -5",
    "histogram_count(h_test </ 2)",
    "histogram_fraction(-Inf, 0, h_test) * histogram_count(h_test)",
    "histogram_count(h_test_2 >/ 1.13)",
    "histogram_fraction(13, +Inf, cbh) * histogram_count(cbh)",
    "-10^3 * - SUM(http_requests_total) BY (job) ^ -1",
    "SUM(http_requests_total) BY (job) % 2 ^ 3 ^ 2 ^ 2",
    "http_requests_total{job=\"api-server\", group=\"canary\"}",
    "(http_requests_total{group=\"canary\"} + 1) and ignoring(group, job) http_requests_total{instance=\"0\", group=\"production\"}",
    "http_requests_total{group=\"canary\"} unless ignoring(group, instance) http_requests_total{instance=\"0\"}",
    "SUM(http_requests_total) BY (job) == 1000",
    "http_requests_histogram > 80",
    "node_role * on (instance) group_right (role) node_var",
    "node_cpu / ignoring (mode) group_left sum without (mode)(node_cpu)",
    "node_cpu / 2",
    "test_total > test_smaller",
    "left_floats == does_not_match",
    "left_histograms != right_floats_for_histograms",
    "left_floats >= bool right_floats",
    "left_histograms < right_floats_for_histograms",
    "left_floats != 3",
    "left_floats == bool NaN",
    "left_histograms < 3",
    "left_histograms > bool 0",
    "3 < left_floats",
    "3 == left_histograms",
    "0 >= left_histograms",
    "foo > 2 or bar",
    "rate(http_requests_total[1m])",
    "http_requests_total{foo!~\"bar\", job=\"api-server\", instance=\"1\", x!=\"y\", z=\"\", group!=\"\"}",
};

static void test_promql_print_round_trip_corpus(void **state)
{
    size_t n = sizeof(corpus) / sizeof(corpus[0]);
    assert_true(n >= 100);
    for (size_t i = 0; i < n; i++) {
        char *p1 = fmt(corpus[i]);
        char *p2 = fmt(p1);
        if (strcmp(p1, p2) != 0)
            fail_msg("unstable: %s\n  1: %s\n  2: %s", corpus[i], p1, p2);
        free(p1);
        free(p2);
    }
}

/* Printing keeps the meaning: the reparsed tree has the same shape. */
static void test_promql_print_preserves_structure(void **state)
{
    const char *qs[] = { "-2^2", "2 ^ 3 ^ 2", "a - (b - c)", "a or b and c",
                         "-x offset 5m", "sum by (a) (x)[5m:1m]" };
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        struct scry_arena *a = scry_arena_create(0);
        struct pql_expr *e1, *e2;
        char *p = fmt(qs[i]);
        assert_int_equal(pql_parse(a, qs[i], strlen(qs[i]), &e1, NULL), 0);
        assert_int_equal(pql_parse(a, p, strlen(p), &e2, NULL), 0);
        assert_int_equal(e1->kind, e2->kind);
        assert_int_equal(e1->type, e2->type);
        if (e1->kind == PQL_BINARY) {
            assert_int_equal(e1->u.bin.lhs->kind, e2->u.bin.lhs->kind);
            assert_int_equal(e1->u.bin.rhs->kind, e2->u.bin.rhs->kind);
        }
        pql_expr_fini(e1);
        pql_expr_fini(e2);
        scry_arena_destroy(a);
        free(p);
    }
}

static void test_promql_print_quote_matches_go(void **state)
{
    struct scry_buf b = { 0 };
    pql_quote("a\"b\\\n\t\x01\xff\xc3\xa9", 10, &b);
    assert_string_equal(b.p, "\"a\\\"b\\\\\\n\\t\\x01\\xff\xc3\xa9\"");
    scry_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promql_print_canonical_forms),
        cmocka_unit_test(test_promql_print_round_trip_corpus),
        cmocka_unit_test(test_promql_print_preserves_structure),
        cmocka_unit_test(test_promql_print_quote_matches_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
