/* Tests the head's label names and values over a time range
 * (tsdb/head_index.c, "label names and values over a time range"): a
 * series contributes only when its samples reach into [mint, maxt], with
 * and without matchers, out-of-order samples included, series without
 * samples never. The model-based test in test_head.c checks the same rule
 * on random data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/matcher.h"
#include "tsdb/head.h"

#define L(...) ((struct scry_labels){ (const struct scry_label[]){ __VA_ARGS__ }, \
    sizeof((const struct scry_label[]){ __VA_ARGS__ }) / sizeof(struct scry_label) })

static struct tsdb_head *head_new(int64_t window)
{
    struct tsdb_head *h;
    struct tsdb_head_opts o = { .out_of_order_window_ms = window };
    assert_int_equal(tsdb_head_create(&h, &o, NULL), 0);
    return h;
}

static void append(struct tsdb_head *h, const struct scry_labels *ls, int64_t t0, int64_t t1)
{
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(tsdb_head_appendable(h), NULL, &app, NULL), 0);
    uint64_t ref = 0;
    for (int64_t t = t0; t <= t1; t += 100)
        assert_int_equal(scry_append_sample(app, &ref, ls, t, 1.0, NULL), 0);
    assert_int_equal(scry_appender_commit(app, NULL), 0);
}

/* label_values (name != NULL) or label_names over [mint, maxt], joined by
 * commas, with an optional matcher job=~".+". */
static void labels(struct tsdb_head *h, const char *name, bool matcher, int64_t mint,
                   int64_t maxt, char *out, size_t cap)
{
    struct scry_querier *q;
    assert_int_equal(tsdb_head_querier(h, INT64_MIN, INT64_MAX, &q, NULL), 0);
    struct scry_matcher m;
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_RE, "job", ".+", NULL), 0);
    struct scry_arena *a = scry_arena_create(0);
    const char **v;
    size_t n;
    size_t n_ms = matcher ? 1 : 0;
    if (name)
        assert_int_equal(q->ops->label_values(q, name, &m, n_ms, mint, maxt, a, &v, &n, NULL), 0);
    else
        assert_int_equal(q->ops->label_names(q, &m, n_ms, mint, maxt, a, &v, &n, NULL), 0);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, v[i], cap - strlen(out) - 1);
        if (i + 1 < n)
            strncat(out, ",", cap - strlen(out) - 1);
    }
    scry_arena_destroy(a);
    scry_matcher_fini(&m);
    q->ops->close(q);
}

static void check(struct tsdb_head *h, const char *name, int64_t mint, int64_t maxt,
                  const char *want)
{
    char got[256];
    for (int matcher = 0; matcher < 2; matcher++) {
        labels(h, name, matcher, mint, maxt, got, sizeof got);
        if (strcmp(got, want) != 0)
            fail_msg("%s [%lld, %lld] matcher %d: got \"%s\", want \"%s\"", name ? name : "names",
                     (long long)mint, (long long)maxt, matcher, got, want);
    }
}

static void test_head_labels_follow_the_range(void **state)
{
    (void)state;
    struct tsdb_head *h = head_new(0);
    append(h, &L({ "__name__", "up" }, { "a", "1" }, { "job", "x" }), 1000, 2000);
    append(h, &L({ "__name__", "up" }, { "b", "2" }, { "job", "y" }), 5000, 6000);
    check(h, "job", INT64_MIN, INT64_MAX, "x,y");
    check(h, "job", 0, 999, "");
    check(h, "job", 0, 1000, "x");
    check(h, "job", 2000, 4999, "x");
    check(h, "job", 2001, 4999, "");
    check(h, "job", 1500, 5500, "x,y");
    check(h, "job", 6000, 7000, "y");
    check(h, "job", 6001, 7000, "");
    check(h, NULL, INT64_MIN, INT64_MAX, "__name__,a,b,job");
    check(h, NULL, 0, 3000, "__name__,a,job");
    check(h, NULL, 4000, 9000, "__name__,b,job");
    check(h, NULL, 3000, 4000, "");
    /* a range inside a series' span counts, even between its samples */
    check(h, "job", 1050, 1060, "x");
    tsdb_head_destroy(h);
}

static void test_head_labels_count_out_of_order_samples(void **state)
{
    (void)state;
    struct tsdb_head *h = head_new(10000);
    append(h, &L({ "job", "late" }), 9000, 9000);
    append(h, &L({ "job", "late" }), 500, 500); /* out of order, in the window */
    check(h, "job", 0, 600, "late");
    check(h, "job", 600, 8999, "late");
    check(h, "job", 0, 499, "");
    tsdb_head_destroy(h);
}

static void test_head_labels_skip_series_without_samples(void **state)
{
    (void)state;
    struct tsdb_head *h = head_new(0);
    append(h, &L({ "job", "kept" }), 1000, 1000);
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(tsdb_head_appendable(h), NULL, &app, NULL), 0);
    uint64_t ref = 0;
    assert_int_equal(scry_append_sample(app, &ref, &L({ "job", "gone" }), 1000, 1.0, NULL), 0);
    scry_appender_rollback(app); /* the series exists, empty, until truncate */
    check(h, "job", INT64_MIN, INT64_MAX, "kept");
    check(h, NULL, INT64_MIN, INT64_MAX, "job");
    tsdb_head_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_labels_follow_the_range),
        cmocka_unit_test(test_head_labels_count_out_of_order_samples),
        cmocka_unit_test(test_head_labels_skip_series_without_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
