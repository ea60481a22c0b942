/* Tests collector/otlp_logs*.c: both decoders (the JSON form and its
 * protobuf twin give the same entries), the mapping to stream labels,
 * structured metadata and lines, and POST /v1/logs against a real
 * core/http server and a real log store (JSON, protobuf, gzip, chunked,
 * partial success, the error statuses). */
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

#include "collector/otlp.h"
#include "collector/proto/otlp_logs_service.pb-c.h"
#include "core/arena.h"
#include "logs_fixture.h"

typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest ot_logs_req;

/* The contract's §5.3 example, with the fields the mapping reads. */
static const char example[] =
    "{\"resourceLogs\":[{\"resource\":{\"attributes\":["
    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"my.service\"}},"
    "{\"key\":\"k8s.pod.name\",\"value\":{\"stringValue\":\"pod-1\"}},"
    "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"h1\"}},"
    "{\"key\":\"process.pid\",\"value\":{\"intValue\":\"42\"}}]},"
    "\"scopeLogs\":[{\"scope\":{\"name\":\"my.library\",\"version\":\"1.0.0\","
    "\"attributes\":[{\"key\":\"my.scope.attribute\",\"value\":{\"stringValue\":\"s\"}}]},"
    "\"logRecords\":["
    "{\"timeUnixNano\":\"1544712660300000000\",\"observedTimeUnixNano\":1544712660300000001,"
    "\"severityNumber\":10,\"severityText\":\"Information\","
    "\"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"EEE19B7EC3C1B174\","
    "\"body\":{\"stringValue\":\"Example log record\"},"
    "\"attributes\":[{\"key\":\"string.attribute\",\"value\":{\"stringValue\":\"some string\"}},"
    "{\"key\":\"boolean.attribute\",\"value\":{\"boolValue\":true}},"
    "{\"key\":\"double.attribute\",\"value\":{\"doubleValue\":637.704}},"
    "{\"key\":\"array.attribute\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"many\"},{\"intValue\":2}]}}},"
    "{\"key\":\"map.attribute\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"some.map.key\",\"value\":{\"stringValue\":\"some value\"}}]}}}]},"
    "{\"observedTimeUnixNano\":\"1544712660400000000\",\"severityNumber\":\"SEVERITY_NUMBER_WARN2\","
    "\"flags\":1,\"eventName\":\"ev\","
    "\"body\":{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":{\"arrayValue\":{\"values\":[{\"boolValue\":false},{\"bytesValue\":\"AQI=\"}]}}}]}}}"
    "]}]},"
    "{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":5,\"body\":{\"intValue\":\"-7\"}},{\"timeUnixNano\":6}]}]}]}";

static const char example_entries[] =
    "{k8s_pod_name=\"pod-1\", service_name=\"my.service\"} 1544712660300000000 Example log record "
    "{array_attribute=\"[\\\"many\\\",2]\", boolean_attribute=\"true\", double_attribute=\"637.704\", "
    "host_name=\"h1\", map_attribute_some_map_key=\"some value\", my_scope_attribute=\"s\", "
    "observed_timestamp=\"1544712660300000001\", process_pid=\"42\", "
    "scope_name=\"my.library\", scope_version=\"1.0.0\", "
    "severity_number=\"10\", severity_text=\"Information\", span_id=\"eee19b7ec3c1b174\", "
    "string_attribute=\"some string\", trace_id=\"5b8efff798038103d269b633813fc60c\"}\n"
    "{k8s_pod_name=\"pod-1\", service_name=\"my.service\"} 1544712660400000000 "
    "{\"k\":[false,\"AQI=\"]} "
    "{event_name=\"ev\", flags=\"1\", host_name=\"h1\", my_scope_attribute=\"s\", "
    "process_pid=\"42\", scope_name=\"my.library\", scope_version=\"1.0.0\", "
    "severity_number=\"14\"}\n"
    "{service_name=\"unknown_service\"} 5 -7 \n"
    "{service_name=\"unknown_service\"} 6  \n";

/* Collects translated entries as text lines in order (labels sorted). */
static int collect(void *ud, const struct scry_labels *stream, const struct scry_log_entry *e,
                   struct scry_err *err)
{
    (void)err;
    struct scry_buf *b = ud, ls = { 0 }, md = { 0 };
    scry_buf_puts(&md, "");
    scry_labels_format(stream, &ls);
    if (e->metadata.n)
        scry_labels_format(&e->metadata, &md);
    scry_buf_printf(b, "%s %lld %.*s %s\n", ls.p, (long long)e->t_ns, (int)e->line.len,
                    e->line.p, md.p);
    scry_buf_fini(&ls);
    scry_buf_fini(&md);
    return 0;
}

static char *translate(const ot_logs_req *r, const char *const *attrs)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_buf b = { 0 };
    scry_buf_puts(&b, "");
    struct col_otlp_logs_result res = { 0 };
    struct scry_err err = { 0 };
    assert_int_equal(col_otlp_logs_translate(a, r, attrs, 99, collect, &b, &res, &err), 0);
    scry_buf_fini(&res.first);
    scry_arena_destroy(a);
    return scry_buf_take(&b);
}

/* scry_labels_format sorts nothing: metadata arrive sorted by name, so
 * the expectation lists them in strcmp order. */
static void test_otlp_logs_mapping_json_and_proto(void **state)
{
    (void)state;
    struct scry_arena *a = scry_arena_create(0);
    ot_logs_req *r;
    struct scry_err err = { 0 };
    if (col_otlp_logs_decode_json(a, example, sizeof example - 1, &r, &err) != 0)
        fail_msg("decode: %s", err.msg);
    char *got = translate(r, NULL);
    if (strcmp(got, example_entries) != 0)
        fail_msg("got:\n%s\nwant:\n%s", got, example_entries);
    free(got);
    /* the protobuf twin gives the same entries */
    size_t n = opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(r);
    uint8_t *buf = malloc(n);
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(r, buf);
    ot_logs_req *r2;
    assert_int_equal(col_otlp_logs_decode_proto(a, (const char *)buf, n, &r2, &err), 0);
    got = translate(r2, NULL);
    assert_string_equal(got, example_entries);
    free(got);
    free(buf);
    /* a custom allow-list: host.name becomes a label, k8s.pod.name metadata */
    static const char *const attrs[] = { "host.name", NULL };
    got = translate(r, attrs);
    assert_non_null(strstr(got, "{host_name=\"h1\", service_name=\"unknown_service\"} 1544712660300000000"));
    assert_non_null(strstr(got, "k8s_pod_name=\"pod-1\""));
    free(got);
    scry_arena_destroy(a);
}

/* b = tag, varint(len(b)), b: one more level of nesting. */
static void wrap(struct scry_buf *b, uint8_t tag)
{
    struct scry_buf o = { 0 };
    scry_buf_putc(&o, (char)tag);
    for (size_t v = b->len; ; v >>= 7) {
        scry_buf_putc(&o, (char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
        if (v < 0x80)
            break;
    }
    scry_buf_put(&o, b->p, b->len);
    scry_buf_fini(b);
    *b = o;
}

static void expect_decode_error(const char *json, const char *want)
{
    struct scry_arena *a = scry_arena_create(0);
    ot_logs_req *r;
    struct scry_err err = { 0 };
    assert_int_equal(col_otlp_logs_decode_json(a, json, strlen(json), &r, &err), SCRY_EPARSE);
    if (!strstr(err.msg, want))
        fail_msg("\"%s\" does not contain \"%s\"", err.msg, want);
    scry_arena_destroy(a);
}

static void test_otlp_logs_decode_errors(void **state)
{
    (void)state;
    expect_decode_error("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"spanId\":\"ee\"}]}]}]}",
                        "resourceLogs[0].scopeLogs[0].logRecords[0].spanId: want 16 hex digits");
    expect_decode_error("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"x\"}]}]}]}",
                        "logRecords[0].timeUnixNano: want an unsigned 64-bit integer");
    expect_decode_error("{\"resourceLogs\":{}}", "resourceLogs: want an array");
    expect_decode_error("{\"resourceLogs\":[", "otlp json");
    struct scry_arena *a = scry_arena_create(0);
    ot_logs_req *r;
    struct scry_err err = { 0 };
    assert_int_equal(col_otlp_logs_decode_proto(a, "\x0a\x05\x0a", 3, &r, &err), SCRY_EPARSE);
    /* AnyValue nesting past the limit is refused before protobuf-c sees it */
    struct scry_buf deep = { 0 };
    scry_buf_puts(&deep, "");
    for (int i = 0; i < 100; i++) {
        wrap(&deep, 0x0a); /* ArrayValue.values */
        wrap(&deep, 0x2a); /* AnyValue.array_value */
    }
    wrap(&deep, 0x2a); /* LogRecord.body */
    wrap(&deep, 0x12); /* ScopeLogs.log_records */
    wrap(&deep, 0x12); /* ResourceLogs.scope_logs */
    wrap(&deep, 0x0a); /* request.resource_logs */
    assert_int_equal(col_otlp_logs_decode_proto(a, deep.p, deep.len, &r, &err), SCRY_EPARSE);
    assert_non_null(strstr(err.msg, "nested deeper than 64 levels"));
    scry_buf_fini(&deep);
    scry_arena_destroy(a);
}

/* ---- the handler -------------------------------------------------------- */

static struct lfx *logs_fx(struct scry_appendable *store)
{
    struct lfx *f = lfx_open();
    struct col_otlp_opts o = { .metrics = f->m, .retry_after_s = 3,
                               .logs = store ? store : ls_appendable(f->st) };
    struct scry_err err = { 0 };
    struct col_otlp *ot;
    assert_int_equal(col_otlp_register(&ot, f->srv, ls_appendable(f->st), &o, &err), 0);
    f->recv = ot;
    lfx_start(f);
    return f;
}

static void logs_fx_close(struct lfx *f)
{
    lfx_stop(f);
    col_otlp_destroy(f->recv);
    lfx_close(f);
}

static const char *const H_JSON[] = { "Content-Type: application/json", NULL };
static const char *const H_PROTO[] = { "Content-Type: application/x-protobuf", NULL };
static const char *const H_JSON_GZ[] = { "Content-Type: application/json",
                                         "Content-Encoding: gzip", NULL };

static void test_otlp_logs_http(void **state)
{
    (void)state;
    struct lfx *f = logs_fx(NULL);
    /* JSON, gzip and chunked, as the JS exporter sends it */
    size_t n;
    char *g = gzip_of(example, sizeof example - 1, &n);
    struct reply r = lfx_post(f, "/v1/logs", g, n, H_JSON_GZ, true);
    reply_expect(&r, 200, "{}");
    assert_non_null(strcasestr(r.hdrs.p, "Content-Type: application/json"));
    reply_fini(&r);
    free(g);
    char *got = lfx_dump(f);
    assert_non_null(strstr(got, "{service_name=\"unknown_service\"} 5 -7 \n"));
    assert_non_null(strstr(got, "{k8s_pod_name=\"pod-1\", service_name=\"my.service\"} "
                                "1544712660300000000 Example log record {"));
    free(got);
    /* protobuf; the alias path; an older record is refused (partial success),
     * the newer one stored */
    const char *js = "{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
                     "\"value\":{\"stringValue\":\"p\"}}]},\"scopeLogs\":[{\"logRecords\":["
                     "{\"timeUnixNano\":\"200\",\"body\":{\"stringValue\":\"new\"}},"
                     "{\"timeUnixNano\":\"100\",\"body\":{\"stringValue\":\"old\"}}]}]}]}";
    struct scry_arena *a = scry_arena_create(0);
    ot_logs_req *req;
    assert_int_equal(col_otlp_logs_decode_json(a, js, strlen(js), &req, NULL), 0);
    n = opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(req);
    uint8_t *buf = malloc(n);
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(req, buf);
    r = lfx_post(f, "/otlp/v1/logs", buf, n, H_PROTO, false);
    assert_int_equal(r.status, 200);
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse *resp =
        opentelemetry__proto__collector__logs__v1__export_logs_service_response__unpack(
            NULL, r.body.len, (const uint8_t *)r.body.p);
    assert_non_null(resp);
    assert_non_null(resp->partial_success);
    assert_int_equal(resp->partial_success->rejected_log_records, 1);
    assert_string_equal(resp->partial_success->error_message,
                        "1 of 2 log records rejected; first: log record 1: entry out of order: "
                        "t_ns 100 is older than the stream's newest entry");
    opentelemetry__proto__collector__logs__v1__export_logs_service_response__free_unpacked(resp, NULL);
    reply_fini(&r);
    /* the same again in JSON: 200 duplicates the stored entry (ignored,
     * as Loki does), 100 is still out of order */
    r = lfx_post(f, "/v1/logs", js, strlen(js), H_JSON, false);
    reply_expect(&r, 200, "{\"partialSuccess\":{\"rejectedLogRecords\":\"1\",\"errorMessage\":"
                          "\"1 of 2 log records rejected; first: log record 1: entry out of order: "
                          "t_ns 100 is older than the stream's newest entry\"}}");
    reply_fini(&r);
    got = lfx_dump(f);
    assert_non_null(strstr(got, "{service_name=\"p\"} 200 new \n"));
    assert_null(strstr(got, " old "));
    free(got);
    /* an empty protobuf request is a zero-length 200 */
    r = lfx_post(f, "/v1/logs", "", 0, H_PROTO, false);
    reply_expect(&r, 200, "");
    reply_fini(&r);
    /* errors */
    r = lfx_post(f, "/v1/logs", "{", 1, H_JSON, false);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.p, "{\"code\":3,\"message\":\"undecodable ExportLogsServiceRequest: otlp json"));
    reply_fini(&r);
    static const char *const h_text[] = { "Content-Type: text/plain", NULL };
    r = lfx_post(f, "/v1/logs", "x", 1, h_text, false);
    assert_int_equal(r.status, 415);
    reply_fini(&r);
    free(buf);
    scry_arena_destroy(a);
    logs_fx_close(f);
}

static int not_ready(struct scry_appendable *a, const char *tenant, struct scry_appender **out,
                     struct scry_err *err)
{
    (void)a, (void)tenant, (void)out;
    return scry_err_set(err, SCRY_ETIMEOUT, "scry is starting up (WAL replay); retry");
}

static void test_otlp_logs_http_not_ready(void **state)
{
    (void)state;
    struct scry_appendable starting = { .begin = not_ready };
    struct lfx *f = logs_fx(&starting);
    struct reply r = lfx_post(f, "/v1/logs", example, sizeof example - 1, H_JSON, false);
    reply_expect(&r, 503, "{\"code\":14,\"message\":\"log store: scry is starting up (WAL replay); retry\"}");
    assert_non_null(strstr(r.hdrs.p, "Retry-After: 3"));
    reply_fini(&r);
    lfx_expect(f, "");
    logs_fx_close(f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_otlp_logs_mapping_json_and_proto),
        cmocka_unit_test(test_otlp_logs_decode_errors),
        cmocka_unit_test(test_otlp_logs_http),
        cmocka_unit_test(test_otlp_logs_http_not_ready),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
