/* Tests query/api_loki_query.c over HTTP: a real core/http server on
 * 127.0.0.1:0 with the Loki API over a real log store. The contract's
 * checklist (grafana-loki.md §9): the health exchange, query_range with
 * Grafana's parameters, the categorize-labels encoding (encodingFlags
 * before result, 3-tuples), plain-text 400s with Loki's messages, the
 * 11 000-point limit, the default step, matrix/scalar shapes, 504. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "core/http.h"
#include "http_fixture.h"
#include "logql_fixture.h"
#include "query/api_loki.h"

struct fixture {
    struct scry_http_server *srv;
    struct loki_api *api;
    int port;
};

static struct fixture *start(int64_t timeout_ms)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct scry_http_opts ho = { .listen = "127.0.0.1:0" };
    assert_int_equal(scry_http_server_create(&f->srv, &ho, NULL), 0);
    struct loki_api_opts lo = { .timeout_ms = timeout_ms };
    struct scry_err err = { 0 };
    assert_int_equal(loki_api_register(&f->api, f->srv, ls_queryable(fx_st), &lo, &err), 0);
    assert_int_equal(scry_http_server_start(f->srv, NULL), 0);
    f->port = scry_http_server_port(f->srv);
    return f;
}

static void stop(struct fixture *f)
{
    scry_http_server_stop(f->srv);
    scry_http_server_destroy(f->srv);
    loki_api_destroy(f->api);
    free(f);
}

static struct fixture *fx;

static int setup(void **state)
{
    if (fx_setup(state))
        return -1;
    fx_append("job=api", 1732440058000000000LL, "level=info msg=\"GET /cart\" status=200", NULL);
    fx_append("job=api", 1732440059123456789LL, "level=error msg=\"GET /cart\" status=500", NULL);
    fx_append("job=web", 1732440059500000000LL, "plain line", NULL);
    fx = start(0);
    return 0;
}

static int teardown(void **state)
{
    stop(fx);
    return fx_teardown(state);
}

static struct reply *get(struct fixture *f, const char *path, const char *header)
{
    struct reply *r = http_request(f->port, NULL, path, NULL, header);
    /* stats carry timings: cut them off for exact comparisons */
    char *st = strstr(r->body, ",\"stats\":");
    if (st)
        strcpy(st, "}}");
    return r;
}

static void expect(const char *path, const char *header, long status, const char *want)
{
    struct reply *r = get(fx, path, header);
    if (r->status != status || strcmp(r->body, want))
        print_error("GET %s\n got  %ld %s\n want %ld %s\n", path, r->status, r->body, status,
                    want);
    assert_int_equal(r->status, status);
    assert_string_equal(r->body, want);
    assert_string_equal(r->ctype, status == 200 ? "application/json"
                                                : "text/plain; charset=utf-8");
}

#define RANGE "start=1732440000000000000&end=1732440060000000000"

static void test_api_loki_query_health_check(void **state)
{
    (void)state;
    expect("/loki/api/v1/query?query=vector(1)%2Bvector(1)&time=4000000000&direction=backward",
           NULL, 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},"
           "\"value\":[4000000000,\"2\"]}]}}");
    expect("/loki/api/v1/query?query=1%2B1&time=4", NULL, 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}}");
}

static void test_api_loki_query_streams(void **state)
{
    (void)state;
    expect("/loki/api/v1/query_range?query=%7Bjob%3D%22api%22%7D&direction=backward&limit=1000&"
           RANGE "&step=15000ms",
           NULL, 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":[{\"stream\":"
           "{\"job\":\"api\"},\"values\":[[\"1732440059123456789\",\"level=error msg=\\\"GET "
           "/cart\\\" status=500\"],[\"1732440058000000000\",\"level=info msg=\\\"GET /cart\\\" "
           "status=200\"]]}]}}");
    /* limit across streams, forward: the oldest entries */
    expect("/loki/api/v1/query_range?query=%7Bjob%3D~%22.%2B%22%7D&direction=FORWARD&limit=2&"
           RANGE,
           NULL, 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":[{\"stream\":"
           "{\"job\":\"api\"},\"values\":[[\"1732440058000000000\",\"level=info msg=\\\"GET "
           "/cart\\\" status=200\"],[\"1732440059123456789\",\"level=error msg=\\\"GET /cart\\\" "
           "status=500\"]]}]}}");
    /* parsed labels are folded into the stream without the flag */
    expect("/loki/api/v1/query_range?query=%7Bjob%3D%22api%22%7D%20%7C%20logfmt%20%7C%20status%3D500%20%7C%20drop%20msg&"
           RANGE,
           NULL, 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":[{\"stream\":"
           "{\"job\":\"api\",\"level\":\"error\",\"status\":\"500\"},\"values\":[["
           "\"1732440059123456789\",\"level=error msg=\\\"GET /cart\\\" status=500\"]]}]}}");
}

static void test_api_loki_query_categorize_labels(void **state)
{
    (void)state;
    expect("/loki/api/v1/query_range?query=%7Bjob%3D~%22api%7Cweb%22%7D%20%7C%20logfmt%20%7C%20drop%20msg&limit=10&"
           RANGE,
           "X-Loki-Response-Encoding-Flags: other, categorize-labels", 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"encodingFlags\":["
           "\"categorize-labels\"],\"result\":[{\"stream\":{\"job\":\"api\"},\"values\":[["
           "\"1732440059123456789\",\"level=error msg=\\\"GET /cart\\\" status=500\",{\"parsed\":"
           "{\"level\":\"error\",\"status\":\"500\"}}],[\"1732440058000000000\",\"level=info "
           "msg=\\\"GET /cart\\\" status=200\",{\"parsed\":{\"level\":\"info\",\"status\":\"200\""
           "}}]]},{\"stream\":{\"job\":\"web\"},\"values\":[[\"1732440059500000000\",\"plain "
           "line\",{}]]}]}}");
    /* metric answers are the same with or without the flag */
    expect("/loki/api/v1/query?query=count_over_time(%7Bjob%3D%22web%22%7D%5B1m%5D)&time=1732440060",
           "X-Loki-Response-Encoding-Flags: categorize-labels", 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
           "{\"job\":\"web\"},\"value\":[1732440060,\"1\"]}]}}");
}

static void test_api_loki_query_matrix(void **state)
{
    (void)state;
    expect("/loki/api/v1/query_range?query=sum%20by%20(level)%20(count_over_time(%7Bjob%3D%22api%22%7D%20%7C%20logfmt%5B30s%5D))&"
           "start=1732440030&end=1732440090&step=30000ms",
           NULL, 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":"
           "{\"level\":\"error\"},\"values\":[[1732440060,\"1\"]]},{\"metric\":{\"level\":"
           "\"info\"},\"values\":[[1732440060,\"1\"]]}]}}");
    /* default step: max(floor(60 s / 250), 1 s) = 1 s → 61 points of vector(1) */
    struct reply *r = get(fx, "/loki/api/v1/query_range?query=vector(1)&start=1732440000&"
                              "end=1732440060", NULL);
    assert_int_equal(r->status, 200);
    size_t n = 0;
    for (const char *p = r->body; (p = strstr(p, ",\"1\"]")); p++)
        n++;
    assert_int_equal(n, 61);
    /* fractional timestamps */
    expect("/loki/api/v1/query?query=vector(2)&time=1732440000.5", NULL, 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},"
           "\"value\":[1732440000.5,\"2\"]}]}}");
}

static void test_api_loki_query_errors(void **state)
{
    (void)state;
    expect("/loki/api/v1/query?query=%7Bjob%3D%22api%22%7D&time=1732440060", NULL, 400,
           "log queries are not supported as an instant query type, please change your query "
           "to a range query type\n");
    expect("/loki/api/v1/query?query=sum(foo", NULL, 400,
           "parse error at line 1, col 5: syntax error: unexpected IDENTIFIER\n");
    expect("/loki/api/v1/query_range?query=vector(1)&start=0&end=11001&step=1", NULL, 400,
           "exceeded maximum resolution of 11,000 points per time series. Try increasing the "
           "value of the step parameter\n");
    assert_int_equal(get(fx, "/loki/api/v1/query_range?query=vector(1)&start=0&end=11000&step=1",
                         NULL)->status,
                     200);
    expect("/loki/api/v1/query_range?query=vector(1)&start=10&end=5", NULL, 400,
           "end timestamp must not be before or equal to start time\n");
    expect("/loki/api/v1/query_range?query=vector(1)&start=0&end=5&step=0", NULL, 400,
           "zero or negative query resolution step widths are not accepted. Try a positive "
           "integer\n");
    expect("/loki/api/v1/query_range?query=%7Bjob%3D%22api%22%7D&limit=0", NULL, 400,
           "limit must be a positive value\n");
    expect("/loki/api/v1/query_range?query=%7Bjob%3D%22api%22%7D&direction=up", NULL, 400,
           "invalid direction 'up'\n");
    expect("/loki/api/v1/query_range?query=sum(count_over_time(%7Bjob%3D%22api%22%7D%20%7C%20json%5B1m%5D))&"
           RANGE,
           NULL, 400,
           "pipeline error: 'JSONParserErr' for series: '{__error__=\"JSONParserErr\", "
           "__error_details__=\"invalid character 'l' looking "
           "for beginning of value\", job=\"api\"}'.\nUse a label filter to intentionally skip "
           "this error. (e.g | __error__!=\"JSONParserErr\").\nTo skip all potential errors you "
           "can match empty errors.(e.g __error__=\"\")\nThe label filter can also be specified "
           "after unwrap. (e.g | unwrap latency | __error__=\"\" )\n");
}

static void test_api_loki_query_timeout(void **state)
{
    (void)state;
    struct fixture *f = start(-1); /* every deadline has passed */
    struct reply *r = get(f, "/loki/api/v1/query_range?query=count_over_time(%7Bjob%3D%22api%22%7D%5B1m%5D)&"
                             RANGE, NULL);
    assert_int_equal(r->status, 504);
    assert_string_equal(r->ctype, "text/plain; charset=utf-8");
    assert_non_null(strstr(r->body, "context deadline exceeded"));
    stop(f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_loki_query_health_check),
        cmocka_unit_test(test_api_loki_query_streams),
        cmocka_unit_test(test_api_loki_query_categorize_labels),
        cmocka_unit_test(test_api_loki_query_matrix),
        cmocka_unit_test(test_api_loki_query_errors),
        cmocka_unit_test(test_api_loki_query_timeout),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    free(last_reply.body);
    curl_global_cleanup();
    return rc;
}
