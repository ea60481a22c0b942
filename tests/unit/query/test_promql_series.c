/* Tests query/promql_series.c: the series descriptions of PromQL test files
 * (FORMAT.md §3): expansion counts, signs, blanks, stale markers, label
 * sets and native-histogram literals. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "query/promql_series.h"

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

static struct pql_series_desc S(const char *s)
{
    struct pql_series_desc d;
    struct scry_err err = { 0 };
    if (pql_series_parse(arena, s, strlen(s), &d, &err) != 0)
        fail_msg("%s: %s", s, err.msg);
    return d;
}

static void values_are(const char *s, const double *want, size_t n)
{
    struct pql_series_desc d = S(s);
    assert_int_equal(d.n_values, n);
    for (size_t i = 0; i < n; i++) {
        if (isnan(want[i]))
            assert_true(d.values[i].omitted);
        else
            assert_true(!d.values[i].omitted && d.values[i].v == want[i]);
    }
}

static void test_promql_series_expansions(void **state)
{
    const double a[] = { 1, 3, 5, 7 };
    values_are("m 1+2x3", a, 4);
    const double b[] = { 1, 0, -1, -2 };
    values_are("m 1-1x3", b, 4);
    const double c[] = { -2, 2, 6, 10 };
    values_are("m -2+4x3", c, 4);
    const double d[] = { 5, 5, 5 };
    values_are("m 5x2", d, 3);
    const double e[] = { 1, 2, 2, 2, 2 }; /* the sign belongs to the next item */
    values_are("m 1 +2x3", e, 5);
    const double f[] = { 1, NAN, NAN, NAN, 4 }; /* _x3 is three gaps, not four */
    values_are("m 1 _x3 4", f, 5);
    const double g[] = { 1000, 0.5, 2, 1e-3 };
    values_are("m 1_000 .5 2. 1e-3", g, 4);
}

static void test_promql_series_special_values(void **state)
{
    struct pql_series_desc d = S("m 0 1 stale 2 NaN -Inf inf");
    assert_int_equal(d.n_values, 7);
    assert_true(pql_is_stale_nan(d.values[2].v));
    assert_true(isnan(d.values[4].v) && !pql_is_stale_nan(d.values[4].v));
    assert_true(isinf(d.values[5].v) && d.values[5].v < 0);
    assert_true(isinf(d.values[6].v) && d.values[6].v > 0);
    struct scry_err err = { 0 };
    assert_int_equal(pql_series_parse(arena, "m Infx3", 7, &d, &err), SCRY_EPARSE);
    d = S("m 0x10"); /* no hex in series lines: 0 repeated, 11 values */
    assert_int_equal(d.n_values, 11);
    assert_true(d.values[10].v == 0);
    assert_int_equal(pql_series_parse(arena, "m 5m", 4, &d, &err), SCRY_EPARSE);
    assert_int_equal(pql_series_parse(arena, "m 1+2", 5, &d, &err), SCRY_EPARSE);
}

static void test_promql_series_labels(void **state)
{
    struct pql_series_desc d = S("http_requests{job=\"api\", instance='0', __unit__=\"\",} 1");
    assert_int_equal(d.labels.n, 4); /* sorted, empty value kept */
    assert_string_equal(d.labels.v[0].name, "__name__");
    assert_string_equal(d.labels.v[0].value, "http_requests");
    assert_string_equal(d.labels.v[1].name, "__unit__");
    assert_string_equal(d.labels.v[1].value, "");
    assert_string_equal(d.labels.v[3].name, "job");
    d = S("{} 5");
    assert_int_equal(d.labels.n, 0);
    d = S("{\"my.metric\", \"a.b\"=`c`} 1");
    assert_int_equal(d.labels.n, 2);
    assert_string_equal(d.labels.v[0].value, "my.metric");
    assert_string_equal(d.labels.v[1].name, "a.b");
    d = S("sum 1"); /* keywords are fine as names */
    assert_string_equal(d.labels.v[0].value, "sum");
}

static void test_promql_series_histograms(void **state)
{
    struct pql_series_desc d =
        S("h {{schema:1 sum:5 count:4 z_bucket:1 z_bucket_w:0.001 buckets:[1 2] offset:-1 "
          "n_buckets:[1] counter_reset_hint:gauge}} {{}}x1");
    assert_int_equal(d.n_values, 3);
    const struct pql_histogram *h = d.values[0].h;
    assert_non_null(h);
    assert_int_equal(h->schema, 1);
    assert_true(h->sum == 5 && h->count == 4 && h->zero_count == 1);
    assert_int_equal(h->n_buckets, 2);
    assert_int_equal(h->offset, -1);
    assert_int_equal(h->n_n_buckets, 1);
    assert_int_equal(h->hint, PQL_HINT_GAUGE);
    assert_true(h->hint_set);
    assert_false(d.values[1].h->hint_set);
    d = S("h {{count:1 buckets:[1]}}+{{count:2 buckets:[0 2]}}x2 5");
    assert_int_equal(d.n_values, 4);
    assert_true(d.values[2].h->count == 5);
    assert_int_equal(d.values[2].h->n_buckets, 2);
    assert_true(d.values[2].h->buckets[0] == 1 && d.values[2].h->buckets[1] == 4);
    assert_null(d.values[3].h);
    assert_true(d.values[3].v == 5);
    d = S("h {{schema:-53 custom_values:[1 2.5] buckets:[1 0 3]}}");
    assert_int_equal(d.values[0].h->n_custom_values, 2);
    struct scry_err err = { 0 };
    const char *dup = "h {{sum:1 sum:2}}";
    assert_int_equal(pql_series_parse(arena, dup, strlen(dup), &d, &err), SCRY_EPARSE);
    assert_non_null(strstr(err.msg, "duplicate key \"sum\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_promql_series_expansions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promql_series_special_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promql_series_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promql_series_histograms, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
