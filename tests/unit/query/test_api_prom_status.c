/* Tests query/api_prom_status.c: the exact bytes of GET /api/v1/status/tsdb
 * for a small head and an empty one (shape of Prometheus 2.42's
 * serveTSDBStatus), and the limit parameter's parsing (newer Prometheus's
 * strconv.Atoi rules and messages). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "query/api_prom_status.h"
#include "tsdb/head.h"
#include "tests/unit/tsdb/head_fixture.h"

/* One sample, committed; the fixture's append1 with the checks. */
#define add(h, ls, t, v) assert_int_equal(append1(h, &(ls), t, v, NULL), 0)

/* The JSON for h with limit; arena-owned string. */
static const char *status_json(struct tsdb_head *h, size_t limit, struct scry_arena *a)
{
    struct tsdb_status st;
    struct scry_buf b = { 0 };
    assert_int_equal(tsdb_head_status(h, limit, a, &st), 0);
    pql_tsdb_status_json(&b, &st);
    const char *z = scry_arena_strndup(a, b.p, b.len);
    scry_buf_fini(&b);
    return z;
}

static struct tsdb_head *small_head(void)
{
    struct tsdb_head *h;
    assert_int_equal(tsdb_head_create(&h, &(struct tsdb_head_opts){ 0 }, NULL), 0);
    add(h, L({ "__name__", "up" }, { "instance", "x" }, { "job", "a" }), 1000, 1);
    add(h, L({ "__name__", "up" }, { "instance", "x" }, { "job", "b" }), 2000, 1);
    add(h, L({ "__name__", "go_goroutines" }, { "instance", "x" }, { "job", "a" }), 1500, 7);
    add(h, L({ "__name__", "go_goroutines" }, { "instance", "x" }, { "job", "a" }), 3000, 8);
    return h;
}

static void test_api_prom_status_small_head_exact_bytes(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct tsdb_head *h = small_head();
    /* Equal values are ordered by name (Prometheus: map order). The bytes
     * of memoryInBytesByLabelName are the values' lengths: up + go_goroutines. */
    assert_string_equal(
        status_json(h, 10, a),
        "{\"status\":\"success\",\"data\":{"
        "\"headStats\":{\"numSeries\":3,\"numLabelPairs\":5,\"chunkCount\":3,"
        "\"minTime\":1000,\"maxTime\":3000},"
        "\"seriesCountByMetricName\":[{\"name\":\"up\",\"value\":2},"
        "{\"name\":\"go_goroutines\",\"value\":1}],"
        "\"labelValueCountByLabelName\":[{\"name\":\"__name__\",\"value\":2},"
        "{\"name\":\"job\",\"value\":2},{\"name\":\"instance\",\"value\":1}],"
        "\"memoryInBytesByLabelName\":[{\"name\":\"__name__\",\"value\":15},"
        "{\"name\":\"job\",\"value\":2},{\"name\":\"instance\",\"value\":1}],"
        "\"seriesCountByLabelValuePair\":[{\"name\":\"instance=x\",\"value\":3},"
        "{\"name\":\"__name__=up\",\"value\":2},{\"name\":\"job=a\",\"value\":2},"
        "{\"name\":\"__name__=go_goroutines\",\"value\":1},{\"name\":\"job=b\",\"value\":1}]}}");
    /* limit cuts every list to its best entries; headStats are unchanged. */
    assert_string_equal(
        status_json(h, 1, a),
        "{\"status\":\"success\",\"data\":{"
        "\"headStats\":{\"numSeries\":3,\"numLabelPairs\":5,\"chunkCount\":3,"
        "\"minTime\":1000,\"maxTime\":3000},"
        "\"seriesCountByMetricName\":[{\"name\":\"up\",\"value\":2}],"
        "\"labelValueCountByLabelName\":[{\"name\":\"__name__\",\"value\":2}],"
        "\"memoryInBytesByLabelName\":[{\"name\":\"__name__\",\"value\":15}],"
        "\"seriesCountByLabelValuePair\":[{\"name\":\"instance=x\",\"value\":3}]}}");
    tsdb_head_destroy(h);
    scry_arena_destroy(a);
}

static void test_api_prom_status_empty_head_keeps_sentinels(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct tsdb_head *h;
    assert_int_equal(tsdb_head_create(&h, &(struct tsdb_head_opts){ 0 }, NULL), 0);
    /* Prometheus prints math.MaxInt64 / math.MinInt64 and empty lists. */
    assert_string_equal(
        status_json(h, 10, a),
        "{\"status\":\"success\",\"data\":{"
        "\"headStats\":{\"numSeries\":0,\"numLabelPairs\":0,\"chunkCount\":0,"
        "\"minTime\":9223372036854775807,\"maxTime\":-9223372036854775808},"
        "\"seriesCountByMetricName\":[],\"labelValueCountByLabelName\":[],"
        "\"memoryInBytesByLabelName\":[],\"seriesCountByLabelValuePair\":[]}}");
    tsdb_head_destroy(h);
    scry_arena_destroy(a);
}

static void limit_is(const char *s, size_t want)
{
    size_t got = 0;
    struct scry_err err = { 0 };
    assert_int_equal(pql_tsdb_status_limit(s, &got, &err), 0);
    assert_int_equal(got, want);
}

static void limit_fails(const char *s, const char *msg)
{
    size_t got = 0;
    struct scry_err err = { 0 };
    assert_int_equal(pql_tsdb_status_limit(s, &got, &err), SCRY_EINVAL);
    assert_string_equal(err.msg, msg);
}

static void test_api_prom_status_limit_parses_as_prometheus(void **state)
{
    limit_is(NULL, 10);
    limit_is("", 10);
    limit_is("1", 1);
    limit_is("+7", 7);
    limit_is("0010", 10);
    limit_is("10000", 10000);
    const char *pos = "limit must be a positive number";
    limit_fails("0", pos);
    limit_fails("-0", pos);
    limit_fails("-5", pos);
    limit_fails("+", pos);
    limit_fails("5x", pos);
    limit_fails(" 5", pos);
    limit_fails("1.5", pos);
    limit_fails("99999999999999999999", pos); /* beyond int64: Atoi fails */
    limit_fails("10001", "limit must not exceed 10000");
    limit_fails("9223372036854775807", "limit must not exceed 10000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_prom_status_small_head_exact_bytes),
        cmocka_unit_test(test_api_prom_status_empty_head_keeps_sentinels),
        cmocka_unit_test(test_api_prom_status_limit_parses_as_prometheus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
