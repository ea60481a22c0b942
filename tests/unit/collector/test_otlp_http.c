/* Tests collector/otlp_http.c against a real core/http server on
 * 127.0.0.1:0 driven with libcurl (gzip, chunked uploads, every status
 * code, partial_success bodies), appending into a capturing store
 * (capture_appender.h). */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <zlib.h>

#include "collector/otlp.h"
#include "collector/proto/otlp_metrics_service.pb-c.h"
#include "core/appender.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/http.h"
#include "core/labels.h"
#include "core/metrics.h"

#include "capture_appender.h"
#include "http_client.h"
#include "otlp_fixture.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest ot_req;

/* ---- HTTP: what the store holds ----------------------------------------- */

/* The committed samples, formatted as the translator tests' lines. */
static void stored_line(struct capture_store *st, size_t i, struct scry_buf *b)
{
    scry_buf_reset(b);
    scry_buf_puts(b, st->got[i].labels);
    format_value(b, st->got[i].t_ms, st->got[i].v);
}

static void expect_stored(struct capture_store *st, const char *want)
{
    struct lines l = { .n = 0 };
    assert_true(st->n <= sizeof l.v / sizeof l.v[0]);
    for (size_t i = 0; i < st->n; i++) {
        struct scry_buf b = { 0 };
        stored_line(st, i, &b);
        l.v[l.n++] = scry_buf_take(&b);
    }
    expect_lines(&l, want);
    lines_fini(&l);
}

/* ---- HTTP: fixture and client ------------------------------------------- */

struct fx {
    struct capture_store *st;
    struct scry_metrics *m;
    struct scry_http_server *srv;
    struct col_otlp *o;
    int port;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->st = capture_store_create();
    f->m = scry_metrics_create();
    struct scry_http_opts o = { .listen = "127.0.0.1:0", .shutdown_timeout_ms = 5000 };
    struct scry_err err;
    assert_int_equal(scry_http_server_create(&f->srv, &o, &err), 0);
    struct col_otlp_opts oo = { .max_body_bytes = 256u << 10, .retry_after_s = 7, .metrics = f->m };
    assert_int_equal(col_otlp_register(&f->o, f->srv, &f->st->base, &oo, &err), 0);
    assert_int_equal(scry_http_server_start(f->srv, &err), 0);
    f->port = scry_http_server_port(f->srv);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    scry_http_server_stop(f->srv);
    scry_http_server_destroy(f->srv);
    col_otlp_destroy(f->o);
    scry_metrics_destroy(f->m);
    capture_store_destroy(f->st);
    free(f);
    return 0;
}

/* method NULL is POST (http_client.h). */
static struct reply request(struct fx *f, const char *method, const char *path, const void *body,
                            size_t len, const char *const *hdrs, bool chunked)
{
    return http_request(f->port, method, path, body, len, hdrs, chunked);
}

static const char *const H_JSON[] = { "Content-Type: application/json", NULL };
static const char *const H_PROTO[] = { "Content-Type: application/x-protobuf", NULL };

static void expect_reply(struct reply *r, long status, const char *ct, const char *body)
{
    char want_ct[128];
    snprintf(want_ct, sizeof want_ct, "Content-Type: %s\r\n", ct);
    if (r->status != status || !strcasestr(r->hdrs.p, want_ct) || (body && strcmp(r->body.p, body) != 0))
        fail_msg("got %ld \"%s\" (headers %s), want %ld %s \"%s\"", r->status, r->body.p, r->hdrs.p,
                 status, ct, body ? body : "");
}

static uint8_t *proto_of_json(const char *json, size_t *len)
{
    struct scry_arena *a = scry_arena_create(0);
    ot_req *r;
    assert_int_equal(col_otlp_metrics_decode_json(a, json, strlen(json), &r, NULL), 0);
    *len = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(r);
    uint8_t *buf = malloc(*len + 1);
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(r, buf);
    scry_arena_destroy(a);
    return buf;
}

static void test_otlp_http_json_and_proto(void **state)
{
    struct fx *f = *state;
    struct reply r = request(f, NULL, "/v1/metrics", all_types, strlen(all_types), H_JSON, false);
    expect_reply(&r, 200, "application/json", "{}");
    reply_fini(&r);
    expect_stored(f->st, all_types_series);
    capture_store_clear(f->st);
    size_t len;
    uint8_t *p = proto_of_json(all_types, &len);
    r = request(f, NULL, "/v1/metrics", p, len, H_PROTO, false);
    expect_reply(&r, 200, "application/x-protobuf", "");
    assert_int_equal(r.body.len, 0);
    reply_fini(&r);
    expect_stored(f->st, all_types_series);
    capture_store_clear(f->st);
    /* the Prometheus alias, and parameters after the media type */
    static const char *const h[] = { "Content-Type: application/x-protobuf; charset=utf-8", NULL };
    r = request(f, NULL, "/api/v1/otlp/v1/metrics", p, len, h, false);
    expect_reply(&r, 200, "application/x-protobuf", "");
    reply_fini(&r);
    expect_stored(f->st, all_types_series);
    free(p);
}

static void test_otlp_http_gzip_and_chunked(void **state)
{
    struct fx *f = *state;
    size_t len, glen;
    uint8_t *p = proto_of_json(otlp_contract_metrics, &len);
    char *g = gzip_of(p, len, &glen);
    static const char *const hg[] = { "Content-Type: application/x-protobuf",
                                      "Content-Encoding: gzip", NULL };
    /* chunked, gzip, protobuf: the OTel JS exporter's request */
    struct reply r = request(f, NULL, "/v1/metrics", g, glen, hg, true);
    expect_reply(&r, 200, "application/x-protobuf", "");
    reply_fini(&r);
    expect_stored(f->st, contract_series);
    capture_store_clear(f->st);
    free(g);
    free(p);
    /* chunked JSON without gzip; delta points at the same time are refused now */
    r = request(f, NULL, "/v1/metrics", otlp_contract_metrics, strlen(otlp_contract_metrics), H_JSON, true);
    expect_reply(&r, 200, "application/json", NULL);
    assert_non_null(strstr(r.body.p, "{\"partialSuccess\":{\"rejectedDataPoints\":\"3\",\"errorMessage\":\"3 of 4 data points rejected; first: delta point at 1544712660300 ms"));
    reply_fini(&r);
    expect_stored(f->st, "my_gauge_ratio{" SC "} 10 @1544712660300\n");
    capture_store_clear(f->st);
    /* gzip JSON */
    g = gzip_of(all_types, strlen(all_types), &glen);
    static const char *const hj[] = { "Content-Type: application/json", "Content-Encoding: gzip", NULL };
    r = request(f, NULL, "/v1/metrics", g, glen, hj, true);
    expect_reply(&r, 200, "application/json", "{}");
    reply_fini(&r);
    expect_stored(f->st, all_types_series);
    free(g);
}

static void test_otlp_http_errors(void **state)
{
    struct fx *f = *state;
    /* 400, Status in the request's encoding; nothing written */
    struct reply r = request(f, NULL, "/v1/metrics", "{\"resourceMetrics\":7}", 21, H_JSON, false);
    expect_reply(&r, 400, "application/json",
                 "{\"code\":3,\"message\":\"undecodable ExportMetricsServiceRequest: otlp json: "
                 "resourceMetrics: want an array\"}");
    reply_fini(&r);
    static const uint8_t bad[] = { 0x0a, 0x05, 0x0a };
    r = request(f, NULL, "/v1/metrics", bad, sizeof bad, H_PROTO, false);
    expect_reply(&r, 400, "application/x-protobuf", NULL);
    assert_true(r.body.len > 4);
    assert_int_equal((uint8_t)r.body.p[0], 0x08); /* code */
    assert_int_equal((uint8_t)r.body.p[1], 3);
    assert_int_equal((uint8_t)r.body.p[2], 0x12); /* message */
    assert_non_null(memmem(r.body.p, r.body.len, "invalid protobuf wire format", 28));
    reply_fini(&r);
    /* 415 text/plain */
    static const char *const text[] = { "Content-Type: text/plain", NULL };
    r = request(f, NULL, "/v1/metrics", "x", 1, text, false);
    expect_reply(&r, 415, "text/plain", NULL);
    assert_non_null(strstr(r.body.p, "unsupported media type"));
    reply_fini(&r);
    r = request(f, NULL, "/v1/metrics", "x", 1, NULL, false); /* curl's form default */
    expect_reply(&r, 415, "text/plain", NULL);
    reply_fini(&r);
    /* 405 text/plain with Allow */
    r = request(f, "GET", "/v1/metrics", NULL, 0, NULL, false);
    expect_reply(&r, 405, "text/plain", "405 method not allowed, supported: [POST]");
    assert_non_null(strcasestr(r.hdrs.p, "Allow: POST\r\n"));
    reply_fini(&r);
    /* 413 from core/http (body limit 256 KiB), also for a chunked body */
    size_t big = 300u << 10;
    char *z = calloc(1, big);
    r = request(f, NULL, "/v1/metrics", z, big, H_PROTO, true);
    assert_int_equal(r.status, 413);
    reply_fini(&r);
    free(z);
    assert_int_equal(f->st->n, 0);
}

static void test_otlp_http_backpressure(void **state)
{
    struct fx *f = *state;
    f->st->begin_rc = SCRY_ELIMIT;
    struct reply r = request(f, NULL, "/v1/metrics", all_types, strlen(all_types), H_JSON, false);
    expect_reply(&r, 429, "application/json", "{\"code\":8,\"message\":\"store: too many appenders\"}");
    assert_non_null(strcasestr(r.hdrs.p, "Retry-After: 7\r\n"));
    reply_fini(&r);
    f->st->begin_rc = SCRY_EIO;
    r = request(f, NULL, "/v1/metrics", all_types, strlen(all_types), H_JSON, false);
    expect_reply(&r, 503, "application/json", "{\"code\":14,\"message\":\"store: store closed\"}");
    assert_non_null(strcasestr(r.hdrs.p, "Retry-After: 7\r\n"));
    reply_fini(&r);
    f->st->begin_rc = 0;
    f->st->fail_commit = true;
    size_t len;
    uint8_t *p = proto_of_json(all_types, &len);
    r = request(f, NULL, "/v1/metrics", p, len, H_PROTO, false);
    expect_reply(&r, 503, "application/x-protobuf", NULL);
    assert_non_null(memmem(r.body.p, r.body.len, "store commit: fsync wal", 23));
    assert_non_null(strcasestr(r.hdrs.p, "Retry-After: 7\r\n"));
    reply_fini(&r);
    f->st->fail_commit = false;
    free(p);
    assert_int_equal(f->st->n, 0);
}

static void test_otlp_http_partial_success(void **state)
{
    struct fx *f = *state;
    f->st->reject_t[0] = 1700000001000; /* the stale temperature point */
    f->st->n_reject = 1;
    struct reply r = request(f, NULL, "/v1/metrics", all_types, strlen(all_types), H_JSON, false);
    expect_reply(&r, 200, "application/json",
                 "{\"partialSuccess\":{\"rejectedDataPoints\":\"1\",\"errorMessage\":\"1 of 7 data points "
                 "rejected; first: out of order sample: temperature_celsius{" "instance=\\\"host-1:8080\\\", "
                 "job=\\\"shop/api\\\", otel_scope_name=\\\"io.shop\\\"} @ 1700000001000\"}}");
    reply_fini(&r);
    /* the others were committed; target_info at the same time was refused too, but it is no data point */
    assert_int_equal(f->st->n, 13);
    capture_store_clear(f->st);
    size_t len;
    uint8_t *p = proto_of_json(all_types, &len);
    r = request(f, NULL, "/v1/metrics", p, len, H_PROTO, false);
    expect_reply(&r, 200, "application/x-protobuf", NULL);
    struct Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *resp =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
            NULL, r.body.len, (const uint8_t *)r.body.p);
    assert_non_null(resp);
    assert_non_null(resp->partial_success);
    assert_int_equal(resp->partial_success->rejected_data_points, 1);
    assert_non_null(strstr(resp->partial_success->error_message, "1 of 7 data points rejected"));
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(resp, NULL);
    reply_fini(&r);
    free(p);
    f->st->n_reject = 0;
    /* self-metrics */
    struct scry_buf m = { 0 };
    scry_metrics_render(f->m, &m);
    assert_non_null(strstr(m.p, "scry_otlp_datapoints_total{result=\"accepted\"} 12\n"));
    assert_non_null(strstr(m.p, "scry_otlp_datapoints_total{result=\"rejected\"} 2\n"));
    assert_non_null(strstr(m.p, "scry_otlp_requests_total{code=\"200\"} 2\n"));
    scry_buf_fini(&m);
}

static void test_otlp_http_empty_requests(void **state)
{
    struct fx *f = *state;
    struct reply r = request(f, NULL, "/v1/metrics", "", 0, H_PROTO, false);
    expect_reply(&r, 200, "application/x-protobuf", "");
    reply_fini(&r);
    r = request(f, NULL, "/v1/metrics", "{}", 2, H_JSON, true);
    expect_reply(&r, 200, "application/json", "{}");
    reply_fini(&r);
    static const char *const h[] = { "Content-Type: application/json", "Content-Encoding: gzip", NULL };
    size_t glen;
    char *g = gzip_of("{\"resourceMetrics\":[]}", 22, &glen);
    r = request(f, NULL, "/otlp/v1/metrics", g, glen, h, false);
    expect_reply(&r, 200, "application/json", "{}");
    reply_fini(&r);
    free(g);
    assert_int_equal(f->st->n, 0);
    assert_int_equal(f->st->n_commits, 3);
}

/* scry server listens on :9090 and :4318; both share one receiver, so a
 * delta series sent to either keeps one running total. */
static void test_otlp_http_two_listeners_share_state(void **state)
{
    struct fx *f = *state;
    struct scry_http_server *srv2;
    struct scry_http_opts o = { .listen = "127.0.0.1:0", .shutdown_timeout_ms = 5000 };
    assert_int_equal(scry_http_server_create(&srv2, &o, NULL), 0);
    col_otlp_add_server(f->o, srv2);
    assert_int_equal(scry_http_server_start(srv2, NULL), 0);
    struct fx f2 = *f;
    f2.port = scry_http_server_port(srv2);
    const char *d = delta_doc("1000000000", "3");
    struct reply r = request(f, NULL, "/v1/metrics", d, strlen(d), H_JSON, false);
    expect_reply(&r, 200, "application/json", "{}");
    reply_fini(&r);
    d = delta_doc("2000000000", "4");
    r = request(&f2, NULL, "/v1/metrics", d, strlen(d), H_JSON, false);
    expect_reply(&r, 200, "application/json", "{}");
    reply_fini(&r);
    scry_http_server_stop(srv2);
    scry_http_server_destroy(srv2);
    assert_int_equal(f->st->n, 10);
    struct scry_buf b = { 0 };
    stored_line(f->st, 0, &b);
    assert_string_equal(b.p, "req_total 3 @1000");
    stored_line(f->st, 5, &b);
    assert_string_equal(b.p, "req_total 7 @2000");
    scry_buf_fini(&b);
}

#define HTTP_TEST(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        HTTP_TEST(test_otlp_http_json_and_proto),
        HTTP_TEST(test_otlp_http_gzip_and_chunked),
        HTTP_TEST(test_otlp_http_errors),
        HTTP_TEST(test_otlp_http_backpressure),
        HTTP_TEST(test_otlp_http_partial_success),
        HTTP_TEST(test_otlp_http_empty_requests),
        HTTP_TEST(test_otlp_http_two_listeners_share_state),
    };
    curl_global_init(CURL_GLOBAL_ALL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
