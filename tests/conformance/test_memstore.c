/* Tests tests/conformance/memstore.c through core/querier.h: series come
 * back sorted by labels and filtered by matchers, samples by time window,
 * label names/values are sorted and unique, and out-of-order or conflicting
 * appends are refused as the Go TSDB refuses them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "tests/conformance/conformance.h"

static struct conf_memstore *ms;
static struct scry_arena *a;

static void load(const char *line, int64_t step_ms)
{
    struct conf_series_line sl = { .line = 1, .text = line };
    assert_int_equal(pql_series_parse(a, line, strlen(line), &sl.desc, NULL), 0);
    struct scry_err err = { 0 };
    if (conf_memstore_load(ms, &sl, step_ms, &err) != 0)
        fail_msg("load %s: %s", line, err.msg);
}

static int setup(void **state)
{
    a = scry_arena_create(0);
    ms = conf_memstore_create();
    load("m{job=\"b\"} 1 2 _ 4", 60000);
    load("m{job=\"a\"} 10 stale 30", 60000);
    load("other{job=\"a\", x=\"y\"} 7", 60000);
    return 0;
}

static int teardown(void **state)
{
    conf_memstore_destroy(ms);
    scry_arena_destroy(a);
    return 0;
}

static void test_memstore_select_sorted_and_filtered(void **state)
{
    struct scry_queryable *qa = conf_memstore_queryable(ms);
    struct scry_querier *q;
    assert_int_equal(qa->querier(qa, NULL, 0, 1000000, &q, NULL), 0);
    struct scry_matcher m;
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_EQ, "__name__", "m", NULL), 0);
    struct scry_select_hints h = { .mint = 60000, .maxt = 180000 };
    struct scry_series_set *ss;
    assert_int_equal(q->ops->select_series(q, &m, 1, &h, &ss, NULL), 0);
    assert_true(ss->ops->next(ss));
    assert_string_equal(scry_labels_get(ss->ops->labels(ss), "job"), "a");
    struct scry_sample_iter *it = ss->ops->samples(ss);
    int64_t t;
    double v;
    assert_true(it->ops->next(it));
    it->ops->at(it, &t, &v);
    assert_int_equal(t, 60000);
    assert_true(pql_is_stale_nan(v)); /* the store keeps markers; the engine skips them */
    assert_true(it->ops->next(it));
    it->ops->at(it, &t, &v);
    assert_int_equal(t, 120000);
    assert_true(v == 30);
    assert_false(it->ops->next(it));
    assert_true(ss->ops->next(ss));
    assert_string_equal(scry_labels_get(ss->ops->labels(ss), "job"), "b");
    it = ss->ops->samples(ss);
    assert_true(it->ops->seek(it, 100000));
    it->ops->at(it, &t, &v);
    assert_int_equal(t, 180000); /* the gap at 120000 has no sample */
    assert_false(ss->ops->next(ss));
    ss->ops->close(ss);
    scry_matcher_fini(&m);
    q->ops->close(q);
}

static void test_memstore_label_names_and_values(void **state)
{
    struct scry_queryable *qa = conf_memstore_queryable(ms);
    struct scry_querier *q;
    assert_int_equal(qa->querier(qa, NULL, 0, 1000000, &q, NULL), 0);
    const char **v;
    size_t n;
    assert_int_equal(q->ops->label_names(q, NULL, 0, 0, 1000000, a, &v, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "__name__");
    assert_string_equal(v[2], "x");
    assert_int_equal(q->ops->label_values(q, "job", NULL, 0, 0, 1000000, a, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "b");
    q->ops->close(q);
}

static void test_memstore_refuses_out_of_order_and_conflicts(void **state)
{
    struct scry_labels ls = conf_memstore_series(ms, 0)->labels;
    struct scry_err err = { 0 };
    assert_int_equal(conf_memstore_append(ms, &ls, 0, 1, NULL, &err), SCRY_EINVAL);
    assert_int_equal(conf_memstore_append(ms, &ls, 120000, 31, NULL, &err), SCRY_EINVAL);
    assert_int_equal(conf_memstore_append(ms, &ls, 120000, 30, NULL, &err), 0); /* same value */
    assert_int_equal(conf_memstore_append(ms, &ls, 240000, 5, NULL, &err), 0);
    conf_memstore_clear(ms);
    assert_int_equal(conf_memstore_n_series(ms), 0);
}

static void test_conf_float_eq_rules(void **state)
{
    assert_true(conf_float_eq(1.0, 1.0 + 1e-9));
    assert_false(conf_float_eq(1.0, 1.0001));
    assert_false(conf_float_eq(1e-17, 0)); /* exact against zero */
    assert_true(conf_float_eq(NAN, NAN));
    assert_false(conf_float_eq(pql_stale_nan(), NAN));
    assert_true(conf_float_eq(pql_stale_nan(), pql_stale_nan()));
    assert_true(conf_float_eq(INFINITY, INFINITY));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memstore_select_sorted_and_filtered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memstore_label_names_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memstore_refuses_out_of_order_and_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conf_float_eq_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
