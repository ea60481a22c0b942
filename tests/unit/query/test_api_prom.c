/* Tests query/api_prom*.c: a real core/http server on 127.0.0.1:0 with the
 * Prometheus API over the conformance memstore, driven with libcurl and
 * compared byte for byte with what Prometheus answers (the contract:
 * /work/shared/contracts/grafana-prometheus.md). The evaluator is
 * fake_engine.c (literals, scalar arithmetic, plain selectors). */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "core/arena.h"
#include "core/http.h"
#include "core/labels.h"
#include "core/metrics.h"
#include "query/api_prom.h"
#include "query/api_prom_client.h"
#include "http_fixture.h"
#include "query/api_prom_internal.h"
#include "tests/conformance/conformance.h"

#define T0_MS 1000000LL /* samples at 1000 s, 1015 s, ..., 1285 s */

/* ---- fixture ------------------------------------------------------------ */

struct fixture {
    struct conf_memstore *ms;
    struct scry_metrics *metrics;
    struct scry_http_server *srv;
    struct pql_api *api;
    int port;
    bool ready;
};

static void add(struct conf_memstore *ms, double v, ...)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, a);
    va_list ap;
    va_start(ap, v);
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL)
        scry_labels_builder_set(&b, k, va_arg(ap, const char *));
    va_end(ap);
    struct scry_labels ls = scry_labels_builder_labels(&b);
    for (int i = 0; i < 20; i++)
        assert_int_equal(conf_memstore_append(ms, &ls, T0_MS + i * 15000, v, NULL, NULL), 0);
    scry_arena_destroy(a);
}

static bool is_ready(void *ud)
{
    return ((struct fixture *)ud)->ready;
}

static struct fixture *start(const struct pql_api_opts *o)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->ready = true;
    f->ms = conf_memstore_create();
    add(f->ms, 1, "__name__", "up", "job", "node", "instance", "a:9100", NULL);
    add(f->ms, 0, "__name__", "up", "job", "api", "instance", "b:8080", NULL);
    add(f->ms, 3.25, "__name__", "http_requests_total", "http.status_code", "200", NULL);
    add(f->ms, NAN, "__name__", "weird", "kind", "nan", NULL);
    add(f->ms, INFINITY, "__name__", "weird", "kind", "pinf", NULL);
    add(f->ms, -INFINITY, "__name__", "weird", "kind", "ninf", NULL);
    add(f->ms, 1e-7, "__name__", "tiny", NULL);
    f->metrics = scry_metrics_create();
    struct scry_http_opts ho = { .listen = "127.0.0.1:0" };
    assert_int_equal(scry_http_server_create(&f->srv, &ho, NULL), 0);
    struct pql_api_opts po = { 0 };
    if (o)
        po = *o;
    po.metrics = f->metrics;
    if (!po.readiness) {
        po.readiness = is_ready;
        po.readiness_ud = f;
    }
    struct scry_err err = { 0 };
    assert_int_equal(
        pql_api_register(&f->api, f->srv, conf_memstore_queryable(f->ms), &po, &err), 0);
    assert_int_equal(scry_http_server_start(f->srv, NULL), 0);
    f->port = scry_http_server_port(f->srv);
    return f;
}

static void stop(struct fixture *f)
{
    scry_http_server_stop(f->srv);
    scry_http_server_destroy(f->srv);
    pql_api_destroy(f->api);
    scry_metrics_destroy(f->metrics);
    conf_memstore_destroy(f->ms);
    free(f);
}

static int setup(void **state)
{
    *state = start(NULL);
    return 0;
}

static int teardown(void **state)
{
    stop(*state);
    return 0;
}

/* ---- HTTP client ------------------------------------------------------------ */

static struct reply *http(struct fixture *f, const char *method, const char *path,
                          const char *body, const char *extra)
{
    return http_request(f->port, method, path, body, extra);
}

static void expect(struct fixture *f, const char *method, const char *path, const char *body,
                   long status, const char *want)
{
    struct reply *r = http(f, method, path, body, NULL);
    if (r->status != status || strcmp(r->body, want) != 0)
        print_error("%s %s [%s]\n got  %ld %s\n want %ld %s\n", method, path, body ? body : "",
                    r->status, r->body, status, want);
    assert_int_equal(r->status, status);
    assert_string_equal(r->body, want);
    assert_string_equal(r->ctype, "application/json");
}

static void expect_error(struct fixture *f, const char *method, const char *path,
                         const char *body, long status, const char *type, const char *msg)
{
    char want[2048];
    snprintf(want, sizeof want, "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":\"%s\"}",
             type, msg);
    expect(f, method, path, body, status, want);
}

#define OK(data) "{\"status\":\"success\",\"data\":" data "}"

/* ---- query ---------------------------------------------------------------- */

static void test_api_prom_health_check_post(void **state)
{
    expect(*state, "POST", "/api/v1/query", "query=1%2B1&time=4", 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}}");
}

static void test_api_prom_health_check_get_and_split(void **state)
{
    const char *want = OK("{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}");
    expect(*state, "GET", "/api/v1/query?query=1%2B1&time=4", NULL, 200, want);
    expect(*state, "POST", "/api/v1/query?time=4", "query=1%2B1", 200, want);
    /* body first, as Go's r.Form */
    expect(*state, "POST", "/api/v1/query?time=9", "query=1%2B1&time=4", 200, want);
    /* unknown and Grafana-only parameters are ignored */
    expect(*state, "POST", "/api/v1/query", "query=1%2B1&time=4&stats=all&foo=bar&timeout=60s",
           200, want);
}

static void test_api_prom_instant_vector(void **state)
{
    expect(*state, "GET", "/api/v1/query?query=up&time=1100", NULL, 200,
           OK("{\"resultType\":\"vector\",\"result\":["
              "{\"metric\":{\"__name__\":\"up\",\"instance\":\"a:9100\",\"job\":\"node\"},"
              "\"value\":[1100,\"1\"]},"
              "{\"metric\":{\"__name__\":\"up\",\"instance\":\"b:8080\",\"job\":\"api\"},"
              "\"value\":[1100,\"0\"]}]}"));
    expect(*state, "GET", "/api/v1/query?query=up%7Bjob%3D%22node%22%7D&time=1100&limit=1", NULL,
           200,
           OK("{\"resultType\":\"vector\",\"result\":["
              "{\"metric\":{\"__name__\":\"up\",\"instance\":\"a:9100\",\"job\":\"node\"},"
              "\"value\":[1100,\"1\"]}]}"));
}

static void test_api_prom_instant_limit_warns(void **state)
{
    expect(*state, "GET", "/api/v1/query?query=up&time=1100&limit=1", NULL, 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
           "{\"metric\":{\"__name__\":\"up\",\"instance\":\"a:9100\",\"job\":\"node\"},"
           "\"value\":[1100,\"1\"]}]},\"warnings\":[\"results truncated due to limit\"]}");
}

static void test_api_prom_warnings_and_infos(void **state)
{
    expect(*state, "GET", "/api/v1/query?query=7&time=1", NULL, 200,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"7\"]},"
           "\"warnings\":[\"PromQL warning: fake warning\"],"
           "\"infos\":[\"PromQL info: fake info\"]}");
}

/* timeout can only lower the configured maximum (2 min by default);
 * lookback_delta overrides the default 5 min. */
static void test_api_prom_engine_opts(void **state)
{
    struct fixture *f = *state;
    expect(f, "GET", "/api/v1/query?query=8&time=1", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1,\"120000\"]}"));
    expect(f, "GET", "/api/v1/query?query=8&time=1&timeout=1h", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1,\"120000\"]}"));
    expect(f, "GET", "/api/v1/query?query=8&time=1&timeout=5.5", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1,\"5500\"]}"));
    expect(f, "POST", "/api/v1/query_range", "query=8&start=1&end=1&step=1&timeout=1m0s", 200,
           OK("{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":"
              "[[1,\"60000\"]]}]}"));
    expect(f, "GET", "/api/v1/query?query=9&time=1", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1,\"300000\"]}"));
    expect(f, "GET", "/api/v1/query?query=9&time=1&lookback_delta=1m", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1,\"60000\"]}"));
    expect_error(f, "GET", "/api/v1/query?query=9&time=1&lookback_delta=x", NULL, 400,
                 "bad_data",
                 "invalid parameter \\\"lookback_delta\\\": cannot parse \\\"x\\\" to a valid "
                 "duration");
}

static void test_api_prom_empty_results(void **state)
{
    expect(*state, "GET", "/api/v1/query?query=nosuch&time=1100", NULL, 200,
           OK("{\"resultType\":\"vector\",\"result\":[]}"));
    expect(*state, "POST", "/api/v1/query_range", "query=nosuch&start=1000&end=1100&step=15", 200,
           OK("{\"resultType\":\"matrix\",\"result\":[]}"));
    expect(*state, "GET", "/api/v1/label/nosuch/values", NULL, 200, OK("[]"));
    expect(*state, "GET", "/api/v1/series?match[]=nosuch", NULL, 200, OK("[]"));
    expect(*state, "GET", "/api/v1/labels?match[]=nosuch", NULL, 200, OK("[]"));
}

static void test_api_prom_string_result(void **state)
{
    expect(*state, "GET", "/api/v1/query?query=%22a%5C%22b%22&time=5.5", NULL, 200,
           OK("{\"resultType\":\"string\",\"result\":[5.500,\"a\\\"b\"]}"));
}

static void test_api_prom_timestamp_format(void **state)
{
    struct fixture *f = *state;
    expect(f, "GET", "/api/v1/query?query=1&time=1435781451.781", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1435781451.781,\"1\"]}"));
    expect(f, "GET", "/api/v1/query?query=1&time=1435781451.05", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1435781451.050,\"1\"]}"));
    expect(f, "GET", "/api/v1/query?query=1&time=1435781451.5", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1435781451.500,\"1\"]}"));
    expect(f, "GET", "/api/v1/query?query=1&time=1435781451", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1435781451,\"1\"]}"));
    expect(f, "GET", "/api/v1/query?query=1&time=1435781451.0004", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1435781451,\"1\"]}"));
    expect(f, "GET", "/api/v1/query?query=1&time=2015-07-01T20:10:51.781Z", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1435781451.781,\"1\"]}"));
    expect(f, "GET", "/api/v1/query?query=1&time=-0.5", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[-0.500,\"1\"]}"));
    expect(f, "GET", "/api/v1/query?query=1&time=-1.25", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[-1.250,\"1\"]}"));

    struct scry_buf b = { 0 };
    pql__api_put_time(&b, INT64_MIN);
    assert_string_equal(b.p, "-9223372036854775.808");
    scry_buf_reset(&b);
    pql__api_put_time(&b, 7);
    assert_string_equal(b.p, "0.007");
    scry_buf_fini(&b);
}

static void test_api_prom_value_strings(void **state)
{
    struct fixture *f = *state;
    expect(f, "GET", "/api/v1/query?query=weird&time=1100", NULL, 200,
           OK("{\"resultType\":\"vector\",\"result\":["
              "{\"metric\":{\"__name__\":\"weird\",\"kind\":\"nan\"},\"value\":[1100,\"NaN\"]},"
              "{\"metric\":{\"__name__\":\"weird\",\"kind\":\"ninf\"},\"value\":[1100,\"-Inf\"]},"
              "{\"metric\":{\"__name__\":\"weird\",\"kind\":\"pinf\"},\"value\":[1100,\"+Inf\"]}"
              "]}"));
    expect(f, "GET", "/api/v1/query?query=tiny&time=1100", NULL, 200,
           OK("{\"resultType\":\"vector\",\"result\":["
              "{\"metric\":{\"__name__\":\"tiny\"},\"value\":[1100,\"1e-07\"]}]}"));
    expect(f, "GET", "/api/v1/query?query=123456789012%2B0.5&time=1", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1,\"123456789012.5\"]}"));
    expect(f, "GET", "/api/v1/query?query=1e21&time=1", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1,\"1e+21\"]}"));
    expect(f, "GET", "/api/v1/query?query=-Inf&time=1", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1,\"-Inf\"]}"));
}

static void test_api_prom_query_range_matrix(void **state)
{
    struct fixture *f = *state;
    const char *want =
        OK("{\"resultType\":\"matrix\",\"result\":["
           "{\"metric\":{\"__name__\":\"up\",\"instance\":\"a:9100\",\"job\":\"node\"},"
           "\"values\":[[1000,\"1\"],[1030,\"1\"],[1060,\"1\"]]}]}");
    expect(f, "POST", "/api/v1/query_range",
           "query=up%7Bjob%3D%22node%22%7D&start=1000&end=1060&step=30", 200, want);
    expect(f, "GET", "/api/v1/query_range?query=up%7Bjob%3D%22node%22%7D&start=1000&end=1060&step=30s",
           NULL, 200, want);
    expect(f, "GET", "/api/v1/query_range?query=2&start=0&end=1&step=0.5", NULL, 200,
           OK("{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":"
              "[[0,\"2\"],[0.500,\"2\"],[1,\"2\"]]}]}"));
    expect(f, "GET", "/api/v1/query_range?query=2&start=0&end=60&step=1m", NULL, 200,
           OK("{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":"
              "[[0,\"2\"],[60,\"2\"]]}]}"));
    /* exactly 11 000 points (plus the first) is allowed */
    struct reply *r = http(f, "GET", "/api/v1/query_range?query=2&start=0&end=11000&step=1",
                           NULL, NULL);
    assert_int_equal(r->status, 200);
}

/* A matrix of several MB goes out streamed (chunked for HTTP/1.1, to
 * connection close for HTTP/1.0) and must be byte for byte what the whole-
 * body encoding (pql__api_write_result into one buffer) writes. */
static void fetch_version(struct fixture *f, const char *path, long version, struct scry_buf *body,
                          struct scry_buf *hdrs)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f->port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, version);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, hdrs);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    curl_easy_cleanup(c);
    scry_buf_puts(hdrs, "");
}

static void test_api_prom_query_range_streamed_identical(void **state)
{
    struct fixture *f = *state;
    enum { N_SERIES = 6000 };
    for (int i = 0; i < N_SERIES; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        add(f->ms, i * 0.37 + 1e-7, "__name__", "big", "i", v, "job", "stream", NULL);
    }
    /* the whole-body encoding of the same evaluation */
    struct scry_arena *a = scry_arena_create(0);
    struct scry_err err = { 0 };
    struct pql_expr *e;
    assert_int_equal(pql_parse(a, "big", 3, &e, &err), 0);
    struct pql_engine_opts eo = { .lookback_delta_ms = 5 * 60 * 1000, .timeout_ms = 60000 };
    struct pql_result res;
    assert_int_equal(pql_eval_range(&eo, conf_memstore_queryable(f->ms), e, T0_MS,
                                    T0_MS + 285000, 5000, a, &res, &err),
                     0);
    assert_int_equal(res.n_series, N_SERIES);
    struct scry_http_resp resp = { 0 };
    struct pql_api_ctx c = { .api = f->api, .resp = &resp };
    struct scry_json j;
    pql__api_success_begin(&j, &resp.body);
    pql__api_write_result(&j, &res);
    pql__api_success_end(&c, &j, res.infos, res.n_infos);
    pql_expr_fini(e);
    assert_true(resp.body.len > (4u << 20));

    const char *path = "/api/v1/query_range?query=big&start=1000&end=1285&step=5";
    long versions[] = { CURL_HTTP_VERSION_1_1, CURL_HTTP_VERSION_1_0 };
    for (int k = 0; k < 2; k++) {
        struct scry_buf body = { 0 }, hdrs = { 0 };
        fetch_version(f, path, versions[k], &body, &hdrs);
        if (versions[k] == CURL_HTTP_VERSION_1_1)
            assert_non_null(strstr(hdrs.p, "Transfer-Encoding: chunked"));
        else
            assert_null(strstr(hdrs.p, "chunked"));
        assert_non_null(strstr(hdrs.p, "Content-Type: application/json"));
        assert_int_equal(body.len, resp.body.len);
        assert_memory_equal(body.p, resp.body.p, resp.body.len);
        scry_buf_fini(&body);
        scry_buf_fini(&hdrs);
    }
    scry_buf_fini(&resp.body);
    scry_arena_destroy(a);
}

static void test_api_prom_query_range_errors(void **state)
{
    struct fixture *f = *state;
    const char *p = "/api/v1/query_range";
    expect_error(f, "POST", p, "query=1&start=10&end=5&step=1", 400, "bad_data",
                 "end timestamp must not be before start time");
    expect_error(f, "POST", p, "query=1&start=0&end=5&step=0", 400, "bad_data",
                 "zero or negative query resolution step widths are not accepted. "
                 "Try a positive integer");
    expect_error(f, "POST", p, "query=1&start=0&end=5&step=-1", 400, "bad_data",
                 "zero or negative query resolution step widths are not accepted. "
                 "Try a positive integer");
    expect_error(f, "POST", p, "query=1&start=0&end=11001&step=1", 400, "bad_data",
                 "exceeded maximum resolution of 11,000 points per timeseries. "
                 "Try decreasing the query resolution (?step=XX)");
    expect_error(f, "POST", p, "query=1&end=5&step=1", 400, "bad_data",
                 "invalid parameter \\\"start\\\": cannot parse \\\"\\\" to a valid timestamp");
    expect_error(f, "POST", p, "query=1&start=0&step=1", 400, "bad_data",
                 "invalid parameter \\\"end\\\": cannot parse \\\"\\\" to a valid timestamp");
    expect_error(f, "POST", p, "query=1&start=x&end=5&step=1", 400, "bad_data",
                 "invalid parameter \\\"start\\\": cannot parse \\\"x\\\" to a valid timestamp");
    expect_error(f, "POST", p, "query=1&start=0&end=5&step=abc", 400, "bad_data",
                 "invalid parameter \\\"step\\\": cannot parse \\\"abc\\\" to a valid duration");
    expect_error(f, "POST", p, "query=1&start=0&end=5", 400, "bad_data",
                 "invalid parameter \\\"step\\\": cannot parse \\\"\\\" to a valid duration");
    expect_error(f, "POST", p, "query=1&start=0&end=5&step=1&timeout=soon", 400, "bad_data",
                 "invalid parameter \\\"timeout\\\": cannot parse \\\"soon\\\" to a valid duration");
    /* Refused before evaluation, as a bad parameter (test_prom_diff found
     * scry answering 422 execution). */
    expect_error(f, "POST", p, "query=%22hello%22&start=0&end=5&step=1", 400, "bad_data",
                 "invalid parameter \\\"query\\\": invalid expression type \\\"string\\\" for "
                 "range query, must be Scalar or instant Vector");
    expect_error(f, "POST", p, "query=(up%5B5m%5D)&start=0&end=5&step=1", 400, "bad_data",
                 "invalid parameter \\\"query\\\": invalid expression type \\\"range vector\\\" "
                 "for range query, must be Scalar or instant Vector");
}

static void test_api_prom_query_errors(void **state)
{
    struct fixture *f = *state;
    expect_error(f, "POST", "/api/v1/query", "query=sum(x))&time=1", 400, "bad_data",
                 "invalid parameter \\\"query\\\": 1:8: parse error: unexpected right "
                 "parenthesis ')'");
    expect_error(f, "GET", "/api/v1/query?query=1&time=yesterday", NULL, 400, "bad_data",
                 "invalid parameter \\\"time\\\": cannot parse \\\"yesterday\\\" to a valid "
                 "timestamp");
    expect_error(f, "GET", "/api/v1/query?query=1&limit=-1", NULL, 400, "bad_data",
                 "invalid parameter \\\"limit\\\": limit must be non-negative");
    expect_error(f, "GET", "/api/v1/query?query=422", NULL, 422, "execution",
                 "many-to-many matching not allowed");
    expect_error(f, "GET", "/api/v1/query?query=4220", NULL, 422, "execution",
                 "query processing would load too many samples into memory in query execution");
    expect_error(f, "GET", "/api/v1/query?query=503", NULL, 503, "timeout",
                 "query timed out in expression evaluation");
    expect_error(f, "GET", "/api/v1/query?query=500", NULL, 500, "internal",
                 "read chunk: input/output error");
    struct reply *r = http(f, "GET", "/api/v1/query", NULL, NULL);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->body, "\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
                                    "\\\"query\\\": "));
}

/* ---- metadata -------------------------------------------------------------- */

static void test_api_prom_series(void **state)
{
    struct fixture *f = *state;
    expect_error(f, "GET", "/api/v1/series", NULL, 400, "bad_data",
                 "no match[] parameter provided");
    expect_error(f, "POST", "/api/v1/series", "start=1", 400, "bad_data",
                 "no match[] parameter provided");
    const char *both = OK("[{\"__name__\":\"up\",\"instance\":\"a:9100\",\"job\":\"node\"},"
                          "{\"__name__\":\"up\",\"instance\":\"b:8080\",\"job\":\"api\"}]");
    expect(f, "GET", "/api/v1/series?match[]=up", NULL, 200, both);
    /* repeated match[] is a union, deduplicated */
    expect(f, "POST", "/api/v1/series",
           "match%5B%5D=up%7Bjob%3D%22node%22%7D&match%5B%5D=up%7Bjob%3D%22api%22%7D"
           "&match%5B%5D=up",
           200, both);
    expect(f, "GET", "/api/v1/series?match[]=up&limit=1", NULL, 200,
           "{\"status\":\"success\",\"data\":["
           "{\"__name__\":\"up\",\"instance\":\"a:9100\",\"job\":\"node\"}],"
           "\"warnings\":[\"results truncated due to limit\"]}");
    expect(f, "GET", "/api/v1/series?match[]=up&limit=2", NULL, 200, both);
    /* what Grafana sends when nothing is selected */
    struct reply *all = http(f, "GET", "/api/v1/series?match[]=%7B__name__%21%3D%22%22%7D&limit=40000",
                             NULL, NULL);
    assert_int_equal(all->status, 200);
    assert_non_null(strstr(all->body, "{\"__name__\":\"tiny\"}"));
    /* outside the data's time range: nothing */
    expect(f, "GET", "/api/v1/series?match[]=up&start=5000&end=6000", NULL, 200, OK("[]"));
    expect(f, "GET", "/api/v1/series?match[]=up&start=1285&end=6000", NULL, 200, both);
    expect_error(f, "GET", "/api/v1/series?match[]=%7Bjob%3D~%22.*%22%7D", NULL, 400, "bad_data",
                 "invalid parameter \\\"match[]\\\": 1:1: parse error: vector selector must "
                 "contain at least one non-empty matcher");
    struct reply *r = http(f, "GET", "/api/v1/series?match[]=up%7B", NULL, NULL);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->body, "invalid parameter \\\"match[]\\\": 1:"));
    r = http(f, "GET", "/api/v1/series?match[]=rate(up%5B5m%5D)", NULL, NULL);
    assert_int_equal(r->status, 400);
    r = http(f, "GET", "/api/v1/series?match[]=up&start=abc", NULL, NULL);
    assert_int_equal(r->status, 400);
}

static void test_api_prom_labels(void **state)
{
    struct fixture *f = *state;
    expect(f, "GET", "/api/v1/labels", NULL, 200,
           OK("[\"__name__\",\"http.status_code\",\"instance\",\"job\",\"kind\"]"));
    expect(f, "POST", "/api/v1/labels", "match%5B%5D=up&match%5B%5D=weird&start=1000&end=2000",
           200, OK("[\"__name__\",\"instance\",\"job\",\"kind\"]"));
    expect(f, "GET", "/api/v1/labels?limit=2", NULL, 200,
           "{\"status\":\"success\",\"data\":[\"__name__\",\"http.status_code\"],"
           "\"warnings\":[\"results truncated due to limit\"]}");
    expect(f, "GET", "/api/v1/labels?limit=40000&start=1732440000&end=1732443600", NULL, 200,
           OK("[]"));
    expect_error(f, "GET", "/api/v1/labels?match[]=%7Bjob%21~%22x%22%7D", NULL, 400, "bad_data",
                 "invalid parameter \\\"match[]\\\": 1:1: parse error: vector selector must "
                 "contain at least one non-empty matcher");
}

static void test_api_prom_label_values(void **state)
{
    struct fixture *f = *state;
    expect(f, "GET", "/api/v1/label/__name__/values?limit=40000", NULL, 200,
           OK("[\"http_requests_total\",\"tiny\",\"up\",\"weird\"]"));
    expect(f, "GET", "/api/v1/label/job/values", NULL, 200, OK("[\"api\",\"node\"]"));
    expect(f, "POST", "/api/v1/label/job/values", "match%5B%5D=up%7Binstance%3D%22a%3A9100%22%7D",
           200, OK("[\"node\"]"));
    expect(f, "GET", "/api/v1/label/__name__/values?limit=1", NULL, 200,
           "{\"status\":\"success\",\"data\":[\"http_requests_total\"],"
           "\"warnings\":[\"results truncated due to limit\"]}");
    expect(f, "GET", "/api/v1/label/U__http_2e_status__code/values", NULL, 200, OK("[\"200\"]"));
    expect(f, "GET", "/api/v1/label/http.status_code/values", NULL, 200, OK("[\"200\"]"));
}

static void test_api_prom_unescape_name(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    assert_string_equal(pql__api_unescape_name(a, "U__http_2e_status__code"), "http.status_code");
    assert_string_equal(pql__api_unescape_name(a, "job"), "job");
    assert_string_equal(pql__api_unescape_name(a, "U__a_E9_b"), "a\xc3\xa9" "b");
    assert_string_equal(pql__api_unescape_name(a, "U___1f600_"), "\xf0\x9f\x98\x80");
    /* malformed escapes leave the name as sent */
    assert_string_equal(pql__api_unescape_name(a, "U__a_zz_"), "U__a_zz_");
    assert_string_equal(pql__api_unescape_name(a, "U__a_2e"), "U__a_2e");
    assert_string_equal(pql__api_unescape_name(a, "U__a_"), "U__a_");
    assert_string_equal(pql__api_unescape_name(a, "U__a_00002e_"), "U__a_00002e_");
    assert_string_equal(pql__api_unescape_name(a, "U__a_d800_"), "U__a_d800_");
    scry_arena_destroy(a);
}

/* ---- the rest ------------------------------------------------------------ */

static void test_api_prom_exemplars(void **state)
{
    struct fixture *f = *state;
    expect(f, "POST", "/api/v1/query_exemplars",
           "query=test&start=1732440000000&end=1732443600000", 200, OK("[]"));
    expect(f, "GET", "/api/v1/query_exemplars?query=up&start=1000&end=1100", NULL, 200, OK("[]"));
    expect_error(f, "GET", "/api/v1/query_exemplars?query=sum(x))", NULL, 400, "bad_data",
                 "1:8: parse error: unexpected right parenthesis ')'");
    expect_error(f, "GET", "/api/v1/query_exemplars?query=up&start=10&end=5", NULL, 400,
                 "bad_data", "end timestamp must not be before start timestamp");
}

static void test_api_prom_format_query(void **state)
{
    struct fixture *f = *state;
    expect(f, "GET",
           "/api/v1/format_query?query=sum%20by(job)%20(rate(x%7Ba%3D%22b%22%7D%5B5m%5D))%2B1",
           NULL, 200, OK("\"sum by (job) (rate(x{a=\\\"b\\\"}[5m])) + 1\""));
    expect(f, "POST", "/api/v1/format_query",
           "query=sum+by+%28job%29+%28rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29%29+%2B+1", 200,
           OK("\"sum by (job) (rate(x{a=\\\"b\\\"}[5m])) + 1\""));
    /* Grafana's $__rate_interval substitutions are Go durations */
    expect(f, "GET", "/api/v1/format_query?query=rate(x%5B1m0s%5D)%2Brate(x%5B1h0m0s%5D)", NULL,
           200, OK("\"rate(x[1m]) + rate(x[1h])\""));
    expect_error(f, "GET", "/api/v1/format_query?query=sum(x))", NULL, 400, "bad_data",
                 "invalid parameter \\\"query\\\": 1:8: parse error: unexpected right "
                 "parenthesis ')'");
}

static void test_api_prom_parse_query(void **state)
{
    struct fixture *f = *state;
    expect(f, "GET", "/api/v1/parse_query?query=up%7Bjob%3D%22a%22%7D", NULL, 200,
           OK("{\"matchers\":[{\"name\":\"job\",\"type\":\"=\",\"value\":\"a\"},"
              "{\"name\":\"__name__\",\"type\":\"=\",\"value\":\"up\"}],\"name\":\"up\","
              "\"offset\":0,\"startOrEnd\":null,\"timestamp\":null,\"type\":\"vectorSelector\"}"));
    expect(f, "GET", "/api/v1/parse_query?query=1%2B2", NULL, 200,
           OK("{\"bool\":false,\"lhs\":{\"type\":\"numberLiteral\",\"val\":\"1\"},"
              "\"matching\":null,\"op\":\"+\",\"rhs\":{\"type\":\"numberLiteral\",\"val\":\"2\"},"
              "\"type\":\"binaryExpr\"}"));
    expect(f, "GET", "/api/v1/parse_query?query=1e21", NULL, 200,
           OK("{\"type\":\"numberLiteral\",\"val\":\"1000000000000000000000\"}"));
    expect(f, "GET", "/api/v1/parse_query?query=1.5e-7", NULL, 200,
           OK("{\"type\":\"numberLiteral\",\"val\":\"0.00000015\"}"));
    expect(f, "GET", "/api/v1/parse_query?query=-123.25", NULL, 200,
           OK("{\"type\":\"numberLiteral\",\"val\":\"-123.25\"}"));
    expect(f, "GET", "/api/v1/parse_query?query=0.1", NULL, 200,
           OK("{\"type\":\"numberLiteral\",\"val\":\"0.1\"}"));
    expect(f, "GET", "/api/v1/parse_query?query=120", NULL, 200,
           OK("{\"type\":\"numberLiteral\",\"val\":\"120\"}"));
    expect(f, "GET", "/api/v1/parse_query?query=0", NULL, 200,
           OK("{\"type\":\"numberLiteral\",\"val\":\"0\"}"));
    expect(f, "GET", "/api/v1/parse_query?query=Inf", NULL, 200,
           OK("{\"type\":\"numberLiteral\",\"val\":\"+Inf\"}"));
    struct reply *r = http(f, "GET",
                           "/api/v1/parse_query?query=sum%20by(job)(rate(x%5B5m%5D))%20%2F%20on(job)"
                           "%20group_left%20y",
                           NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "\"type\":\"aggregation\""));
    assert_non_null(strstr(r->body, "\"type\":\"matrixSelector\""));
    assert_non_null(strstr(r->body, "\"card\":\"many-to-one\""));
}

static void test_api_prom_rules_alerts(void **state)
{
    struct fixture *f = *state;
    expect(f, "GET", "/api/v1/rules", NULL, 200, OK("{\"groups\":[]}"));
    expect(f, "GET", "/api/v1/alerts", NULL, 200, OK("{\"alerts\":[]}"));
    /* /api/v1/metadata belongs to the scrape manager (collector/scrape_api.c). */
    expect(f, "GET", "/api/v1/metadata", NULL, 404,
           "{\"status\":\"error\",\"errorType\":\"not_found\",\"error\":\"no route for GET /api/v1/metadata\"}");
}

static void test_api_prom_readiness(void **state)
{
    struct fixture *f = *state;
    f->ready = false;
    expect_error(f, "POST", "/api/v1/query", "query=1", 503, "unavailable",
                 "service unavailable: the server is starting");
    f->ready = true;
    expect(f, "POST", "/api/v1/query", "query=1&time=1", 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1,\"1\"]}"));
}

static void test_api_prom_metrics(void **state)
{
    struct fixture *f = *state;
    http(f, "POST", "/api/v1/query", "query=1&time=1", NULL);
    http(f, "POST", "/api/v1/query", "query=sum(", NULL);
    struct scry_buf b = { 0 };
    scry_metrics_render(f->metrics, &b);
    assert_non_null(strstr(b.p, "scry_queries_total{endpoint=\"query\",code=\"200\"} 1"));
    assert_non_null(strstr(b.p, "scry_queries_total{endpoint=\"query\",code=\"400\"} 1"));
    assert_non_null(strstr(b.p, "scry_query_duration_seconds_count{endpoint=\"query\"} 2"));
    scry_buf_fini(&b);
}

static void test_api_prom_multi_tenant(void **state)
{
    struct pql_api_opts o = { .multi_tenant = true };
    struct fixture *f = start(&o);
    expect_error(f, "GET", "/api/v1/query?query=1&time=1", NULL, 401, "bad_data",
                 "no org id: missing X-Scope-OrgID header");
    struct reply *r = http(f, "GET", "/api/v1/query?query=1&time=1", NULL, "X-Scope-OrgID: t1");
    assert_int_equal(r->status, 200);
    stop(f);
}

static void test_api_prom_prefix(void **state)
{
    struct pql_api_opts o = { .prefix = "/prom" };
    struct fixture *f = start(&o);
    expect(f, "POST", "/prom/api/v1/query", "query=1%2B1&time=4", 200,
           OK("{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}"));
    expect(f, "POST", "/api/v1/query", "query=1%2B1&time=4", 200,
           OK("{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}"));
    stop(f);
    struct scry_http_server *srv;
    struct scry_http_opts ho = { .listen = "127.0.0.1:0" };
    assert_int_equal(scry_http_server_create(&srv, &ho, NULL), 0);
    struct conf_memstore *ms = conf_memstore_create();
    struct pql_api *api;
    struct pql_api_opts bad = { .prefix = "/prom/" };
    assert_int_equal(pql_api_register(&api, srv, conf_memstore_queryable(ms), &bad, NULL),
                     SCRY_EINVAL);
    conf_memstore_destroy(ms);
    scry_http_server_destroy(srv);
}

struct bg {
    struct fixture *f;
    long status;
};

static void *slow_query(void *ud)
{
    struct bg *b = ud;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/query?query=999&time=1", b->f->port);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    struct scry_buf body = { 0 };
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &b->status);
    curl_easy_cleanup(c);
    scry_buf_fini(&body);
    return NULL;
}

static void test_api_prom_concurrency_limit(void **state)
{
    struct pql_api_opts o = { .max_concurrent_queries = 1, .timeout_ms = 100 };
    struct fixture *f = start(&o);
    struct bg b = { f, 0 };
    pthread_t th;
    pthread_create(&th, NULL, slow_query, &b);
    /* Wait until the slow query holds the only slot (not a fixed sleep:
     * under a loaded test run the request may take a while to arrive). */
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&f->api->mu);
        unsigned n = f->api->n_running;
        pthread_mutex_unlock(&f->api->mu);
        if (n == 1)
            break;
        nanosleep(&(struct timespec){ 0, 1000000L }, NULL);
    }
    expect_error(f, "GET", "/api/v1/query?query=1&time=1", NULL, 503, "timeout",
                 "query timed out in query queue");
    /* metadata endpoints do not take a query slot */
    expect(f, "GET", "/api/v1/label/job/values", NULL, 200, OK("[\"api\",\"node\"]"));
    pthread_join(th, NULL);
    assert_int_equal(b.status, 200);
    expect(f, "GET", "/api/v1/query?query=1&time=1", NULL, 200,
           OK("{\"resultType\":\"scalar\",\"result\":[1,\"1\"]}"));
    stop(f);
}

static void test_api_prom_method_not_allowed(void **state)
{
    struct reply *r = http(*state, "PUT", "/api/v1/query", "query=1", NULL);
    assert_int_equal(r->status, 405);
    assert_non_null(strstr(r->body, "\"status\":\"error\""));
}

/* ---- api_prom_client.c: the text `scry query` prints ---------------------- */

static void render_expect(struct fixture *f, const char *method, const char *path,
                          const char *body, int want_rc, const char *want_out,
                          const char *want_notes)
{
    struct reply *rp = http(f, method, path, body, NULL);
    struct scry_buf out = { 0 }, notes = { 0 };
    struct scry_err err = { 0 };
    int rc = pql_api_client_render(rp->body, strlen(rp->body), &out, &notes, &err);
    if (rc != want_rc)
        print_error("render %s: rc %d (%s)\n", rp->body, rc, err.msg);
    assert_int_equal(rc, want_rc);
    assert_string_equal(rc == 0 ? (out.p ? out.p : "") : err.msg, want_out);
    assert_string_equal(notes.p ? notes.p : "", want_notes);
    scry_buf_fini(&out);
    scry_buf_fini(&notes);
}

static void test_api_prom_client_render(void **state)
{
    struct fixture *f = *state;
    render_expect(f, "GET", "/api/v1/query?query=up&time=1100.5", NULL, 0,
                  "SERIES                             VALUE  TIME\n"
                  "up{instance=\"a:9100\", job=\"node\"}  1      1100.500\n"
                  "up{instance=\"b:8080\", job=\"api\"}   0      1100.500\n",
                  "");
    render_expect(f, "GET", "/api/v1/query?query=weird%7Bkind%3D%22nan%22%7D&time=1100", NULL, 0,
                  "SERIES             VALUE  TIME\n"
                  "weird{kind=\"nan\"}  NaN    1100\n",
                  "");
    render_expect(f, "GET", "/api/v1/query_range?query=up%7Bjob%3D%22node%22%7D&start=1000&end=1030&step=30",
                  NULL, 0, "up{instance=\"a:9100\", job=\"node\"}\n  1 @1000\n  1 @1030\n", "");
    render_expect(f, "POST", "/api/v1/query", "query=1%2B1&time=4", 0, "2 @4\n", "");
    render_expect(f, "POST", "/api/v1/query", "query=%22hi%22&time=4", 0, "hi @4\n", "");
    render_expect(f, "POST", "/api/v1/query", "query=7&time=4", 0, "7 @4\n",
                  "warning: PromQL warning: fake warning\ninfo: PromQL info: fake info\n");
    render_expect(f, "POST", "/api/v1/query", "query=nosuch&time=4", 0, "(empty vector)\n", "");
    render_expect(f, "POST", "/api/v1/query", "query=sum(x))", SCRY_EINVAL,
                  "bad_data: invalid parameter \"query\": 1:8: parse error: unexpected right "
                  "parenthesis ')'",
                  "");
    struct scry_buf out = { 0 }, notes = { 0 };
    struct scry_err err = { 0 };
    assert_int_equal(pql_api_client_render("404 page not found", 18, &out, &notes, &err),
                     SCRY_EPARSE);
    const char *no_type = "{\"status\":\"success\",\"data\":[]}";
    assert_int_equal(pql_api_client_render(no_type, strlen(no_type), &out, &notes, &err),
                     SCRY_EPARSE);
    scry_buf_fini(&out);
    scry_buf_fini(&notes);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_api_prom_health_check_post),
        T(test_api_prom_health_check_get_and_split),
        T(test_api_prom_instant_vector),
        T(test_api_prom_instant_limit_warns),
        T(test_api_prom_warnings_and_infos),
        T(test_api_prom_engine_opts),
        T(test_api_prom_empty_results),
        T(test_api_prom_string_result),
        T(test_api_prom_timestamp_format),
        T(test_api_prom_value_strings),
        T(test_api_prom_query_range_matrix),
        T(test_api_prom_query_range_streamed_identical),
        T(test_api_prom_query_range_errors),
        T(test_api_prom_query_errors),
        T(test_api_prom_series),
        T(test_api_prom_labels),
        T(test_api_prom_label_values),
        cmocka_unit_test(test_api_prom_unescape_name),
        T(test_api_prom_exemplars),
        T(test_api_prom_format_query),
        T(test_api_prom_parse_query),
        T(test_api_prom_rules_alerts),
        T(test_api_prom_readiness),
        T(test_api_prom_metrics),
        cmocka_unit_test(test_api_prom_multi_tenant),
        cmocka_unit_test(test_api_prom_prefix),
        cmocka_unit_test(test_api_prom_concurrency_limit),
        T(test_api_prom_method_not_allowed),
        T(test_api_prom_client_render),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(last_reply.body);
    curl_global_cleanup();
    return rc;
}
