/* Tests tsdb/head_status.c: the cardinality statistics of
 * GET /api/v1/status/tsdb — the limit cut and its tie order, the shown
 * order of name=value pairs, out-of-order samples outside the time range,
 * series gone after truncate, names that outlive the head, bad limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tsdb/head.h"
#include "head_fixture.h"

/* One sample, committed; the fixture's append1 with the checks. */
#define add(h, ls, t, v) assert_int_equal(append1(h, &(ls), t, v, NULL), 0)

static void stat_is(const struct tsdb_stat_list *l, size_t i, const char *name, uint64_t value)
{
    assert_true(i < l->n);
    assert_string_equal(l->v[i].name, name);
    assert_int_equal(l->v[i].value, value);
}

/* Metric mK has K+1 series (label id); the top 3 are the largest, and 12
 * one-series metrics tie: the cut keeps the first names in byte order. */
static void test_head_status_limit_keeps_largest_then_first_names(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct tsdb_head *h = head_new(0, 0, 0);
    char name[16], id[16];
    for (int k = 0; k < 12; k++)
        for (int i = 0; i <= k; i++) {
            snprintf(name, sizeof name, "m%02d", k);
            snprintf(id, sizeof id, "%d", i);
            add(h, L({ "__name__", name }, { "id", id }), 1000 + k, 1);
        }
    for (int k = 0; k < 12; k++) {
        snprintf(name, sizeof name, "one%02d", 11 - k); /* created in reverse order */
        add(h, L({ "__name__", name }), 1000, 1);
    }
    struct tsdb_status st;
    assert_int_equal(tsdb_head_status(h, 3, a, &st), 0);
    assert_int_equal(st.num_series, 12 * 13 / 2 + 12);
    assert_int_equal(st.num_label_pairs, 24 + 12); /* __name__ values + id 0..11 */
    assert_int_equal(st.series_by_metric.n, 3);
    stat_is(&st.series_by_metric, 0, "m11", 12);
    stat_is(&st.series_by_metric, 1, "m10", 11);
    stat_is(&st.series_by_metric, 2, "m09", 10);
    stat_is(&st.series_by_pair, 0, "__name__=m11", 12); /* '_' < 'i' */
    stat_is(&st.series_by_pair, 1, "id=0", 12);
    stat_is(&st.series_by_pair, 2, "__name__=m10", 11);
    assert_int_equal(st.values_by_name.n, 2);
    stat_is(&st.values_by_name, 0, "__name__", 24);
    stat_is(&st.values_by_name, 1, "id", 12);
    stat_is(&st.value_bytes_by_name, 0, "__name__", 12 * 3 + 12 * 5);
    stat_is(&st.value_bytes_by_name, 1, "id", 10 + 2 * 2);
    assert_int_equal(st.min_time_ms, 1000);
    assert_int_equal(st.max_time_ms, 1011);
    /* Truncate removes m00..m05 (t 1000..1005) and the one-series metrics:
     * their names and pairs leave the statistics. */
    assert_int_equal(tsdb_head_truncate(h, 1006), 21 + 12);
    assert_int_equal(tsdb_head_status(h, 10, a, &st), 0);
    assert_int_equal(st.num_series, 7 + 8 + 9 + 10 + 11 + 12);
    assert_int_equal(st.num_label_pairs, 6 + 12);
    assert_int_equal(st.min_time_ms, 1006);
    assert_int_equal(st.series_by_metric.n, 6);
    stat_is(&st.series_by_metric, 5, "m06", 7);
    stat_is(&st.values_by_name, 0, "id", 12);
    stat_is(&st.values_by_name, 1, "__name__", 6);
    tsdb_head_destroy(h);
    scry_arena_destroy(a);
}

static void test_head_status_ties_in_shown_order(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct tsdb_head *h = head_new(0, 0, 0);
    for (int k = 0; k < 12; k++) {
        char name[16];
        snprintf(name, sizeof name, "one%02d", 11 - k);
        add(h, L({ "__name__", name }), 1000, 1);
    }
    /* "a0=y" sorts before "a=z" ('0' < '='), though "a" < "a0". */
    add(h, L({ "__name__", "p" }, { "a", "z" }), 1000, 1);
    add(h, L({ "__name__", "p" }, { "a0", "y" }), 1000, 1);
    struct tsdb_status st;
    assert_int_equal(tsdb_head_status(h, 10, a, &st), 0);
    stat_is(&st.series_by_metric, 0, "p", 2);
    for (int k = 0; k < 9; k++) {
        char name[16];
        snprintf(name, sizeof name, "one%02d", k);
        stat_is(&st.series_by_metric, 1 + k, name, 1);
    }
    stat_is(&st.series_by_pair, 0, "__name__=p", 2);
    stat_is(&st.series_by_pair, 1, "__name__=one00", 1);
    assert_int_equal(tsdb_head_status(h, 10000, a, &st), 0);
    assert_int_equal(st.series_by_pair.n, 13 + 2);
    stat_is(&st.series_by_pair, 13, "a0=y", 1);
    stat_is(&st.series_by_pair, 14, "a=z", 1);
    tsdb_head_destroy(h);
    scry_arena_destroy(a);
}

/* Prometheus's head range is in-order only; the chunks count both. */
static void test_head_status_out_of_order_outside_range(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct tsdb_head *h = head_new(3600 * 1000, 0, 0);
    add(h, L({ "__name__", "x" }), 5000, 1);
    add(h, L({ "__name__", "x" }), 6000, 1);
    add(h, L({ "__name__", "x" }), 1000, 1); /* out of order */
    struct tsdb_status st;
    assert_int_equal(tsdb_head_status(h, 10, a, &st), 0);
    assert_int_equal(st.min_time_ms, 5000);
    assert_int_equal(st.max_time_ms, 6000);
    assert_int_equal(st.chunk_count, 2);
    tsdb_head_destroy(h);
    scry_arena_destroy(a);
}

/* The names are the arena's: the head may go away. Bad limits fail. */
static void test_head_status_names_outlive_head(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct tsdb_head *h = head_new(0, 0, 0);
    add(h, L({ "__name__", "up" }, { "job", "node" }), 1000, 1);
    struct tsdb_status st;
    assert_int_equal(tsdb_head_status(h, 0, a, &st), SCRY_EINVAL);
    assert_int_equal(tsdb_head_status(h, TSDB_STATUS_MAX_LIMIT + 1, a, &st), SCRY_EINVAL);
    assert_int_equal(tsdb_head_status(h, 10, a, &st), 0);
    tsdb_head_destroy(h);
    stat_is(&st.series_by_pair, 0, "__name__=up", 1);
    stat_is(&st.series_by_pair, 1, "job=node", 1);
    stat_is(&st.value_bytes_by_name, 0, "job", 4);
    scry_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_status_limit_keeps_largest_then_first_names),
        cmocka_unit_test(test_head_status_ties_in_shown_order),
        cmocka_unit_test(test_head_status_out_of_order_outside_range),
        cmocka_unit_test(test_head_status_names_outlive_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
