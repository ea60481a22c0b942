/* Tests collector/otlp*.c: the naming tables, translation of every metric
 * type (through the JSON decoder, the protobuf decoder and both compared),
 * delta → cumulative, exponential histogram buckets, the contract's §5.4
 * example, decoder errors, and collector/otlp_http.c against a real
 * core/http server on 127.0.0.1:0 driven with libcurl (gzip, chunked
 * uploads, every status code, partial_success bodies) appending into a
 * capturing store. */
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

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest ot_req;

/* ---- naming tables ------------------------------------------------------ */

static void expect_name(const char *name, const char *unit, enum col_otlp_kind k, const char *want)
{
    struct scry_buf b = { 0 };
    scry_buf_puts(&b, "");
    col_otlp_metric_name(name, unit, k, &b);
    if (strcmp(b.p, want) != 0)
        fail_msg("name(%s, %s, %d) = \"%s\", want \"%s\"", name, unit, k, b.p, want);
    scry_buf_fini(&b);
}

static void test_otlp_metric_names(void **state)
{
    (void)state;
    const enum col_otlp_kind G = COL_OTLP_GAUGE, C = COL_OTLP_COUNTER, H = COL_OTLP_HISTOGRAM,
                             S = COL_OTLP_SUMMARY;
    /* units (the UCUM map) */
    expect_name("http.server.duration", "s", H, "http_server_duration_seconds");
    expect_name("http.server.duration", "ms", H, "http_server_duration_milliseconds");
    expect_name("process.memory", "By", G, "process_memory_bytes");
    expect_name("disk.io", "KiBy", C, "disk_io_kibibytes_total");
    expect_name("temp", "Cel", G, "temp_celsius");
    expect_name("cpu.frequency", "Hz", G, "cpu_frequency_hertz");
    expect_name("utilization", "%", G, "utilization_percent");
    expect_name("odd", "furlongs", G, "odd_furlongs");             /* unknown: kept */
    expect_name("odd", "m.x", G, "odd_m_x");                       /* cleaned */
    /* annotations and per-units */
    expect_name("http.requests", "{request}", C, "http_requests_total");
    expect_name("speed", "m/s", G, "speed_meters_per_second");
    expect_name("throughput", "By/s", G, "throughput_bytes_per_second");
    expect_name("rate", "{packet}/s", G, "rate_per_second");
    expect_name("rate", "1/h", G, "rate_per_hour");
    expect_name("x", "s/{foo}", G, "x_seconds");
    /* suffixes already present, _total and _ratio */
    expect_name("request_duration_seconds", "s", H, "request_duration_seconds");
    expect_name("requests_total", "", C, "requests_total");
    expect_name("total_requests", "", C, "requests_total");
    expect_name("requests", "", G, "requests");                     /* gauge: no _total */
    expect_name("requests", "1", C, "requests_total");              /* "1" adds nothing */
    expect_name("cpu.utilization", "1", G, "cpu_utilization_ratio");
    expect_name("hit_ratio", "1", G, "hit_ratio");
    expect_name("ratio_of_hits", "1", G, "of_hits_ratio");
    expect_name("s", "1", S, "s");
    /* characters */
    expect_name("my.metric-name/with spaces", "", G, "my_metric_name_with_spaces");
    expect_name("a__b___c_", "", G, "a_b_c");
    expect_name("__private", "", G, "private");
    expect_name("ns:sub.metric", "", G, "ns:sub_metric");
    expect_name("2xx.responses", "", C, "_2xx_responses_total");
    expect_name("métrique", "", G, "m_trique");
    expect_name("...", "", G, "");
    expect_name("", "s", G, "seconds");
}

static void expect_label(const char *key, const char *want)
{
    struct scry_buf b = { 0 };
    scry_buf_puts(&b, "");
    col_otlp_label_name(key, &b);
    if (strcmp(b.p, want) != 0)
        fail_msg("label(%s) = \"%s\", want \"%s\"", key, b.p, want);
    scry_buf_fini(&b);
}

static void test_otlp_label_names(void **state)
{
    (void)state;
    expect_label("http.method", "http_method");
    expect_label("net.peer-name", "net_peer_name");
    expect_label("already_fine", "already_fine");
    expect_label("0day", "key_0day");
    expect_label("_private", "key_private");
    expect_label(".dot", "key_dot");
    expect_label("__reserved", "__reserved");
    expect_label("__name__", "__name__");
    expect_label("clé", "cl_");
    expect_label("a/b c", "a_b_c");
    expect_label("", "");
}

/* ---- translation through a capturing sink ------------------------------- */

struct lines {
    char *v[512];
    size_t n;
    int64_t reject_t; /* refuse samples at this time with SCRY_EINVAL (0: none) */
};

static void lines_fini(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

static void format_sample(struct scry_buf *b, const struct scry_labels *ls, int64_t t_ms, double v)
{
    scry_labels_format(ls, b);
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (bits == COL_OTLP_STALE_NAN_BITS)
        scry_buf_puts(b, " stale");
    else {
        scry_buf_putc(b, ' ');
        scry_buf_put_double(b, v);
    }
    scry_buf_printf(b, " @%lld", (long long)t_ms);
}

static int sink(void *ud, const struct scry_labels *ls, int64_t t_ms, double v,
                struct scry_err *err)
{
    struct lines *l = ud;
    assert_int_equal(scry_labels_validate(ls, NULL), 0);
    assert_non_null(scry_labels_get(ls, "__name__"));
    if (l->reject_t && t_ms == l->reject_t)
        return scry_err_set(err, SCRY_EINVAL, "out of order sample");
    struct scry_buf b = { 0 };
    format_sample(&b, ls, t_ms, v);
    assert_true(l->n < 512);
    l->v[l->n++] = scry_buf_take(&b);
    return 0;
}

/* want: lines separated by '\n', in order. */
static void expect_lines(const struct lines *l, const char *want)
{
    struct scry_buf got = { 0 };
    scry_buf_puts(&got, "");
    for (size_t i = 0; i < l->n; i++)
        scry_buf_printf(&got, "%s\n", l->v[i]);
    if (strcmp(got.p, want) != 0) {
        fprintf(stderr, "series differ.\n--- got\n%s--- want\n%s", got.p, want);
        fail();
    }
    scry_buf_fini(&got);
}

static struct col_otlp_translator *new_tr(void)
{
    struct col_otlp_translator *tr;
    struct col_otlp_translator_opts o = { .max_delta_series = 64 };
    assert_int_equal(col_otlp_translator_create(&tr, &o, NULL), 0);
    return tr;
}

/* Decodes JSON, translates into l, commits the batch; returns rejected points. */
static uint64_t run_json(struct col_otlp_translator *tr, const char *json, struct lines *l,
                         struct scry_buf *first)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_err err = { 0 };
    ot_req *r;
    if (col_otlp_metrics_decode_json(a, json, strlen(json), &r, &err) != 0)
        fail_msg("decode: %s", err.msg);
    struct col_otlp_batch b;
    col_otlp_batch_init(&b);
    assert_int_equal(col_otlp_translate(tr, a, r, sink, l, &b, &err), 0);
    col_otlp_batch_commit(tr, &b);
    uint64_t n = b.n_rejected_points;
    if (first) {
        scry_buf_reset(first);
        scry_buf_puts(first, b.first.p ? b.first.p : "");
    }
    col_otlp_batch_fini(&b);
    scry_arena_destroy(a);
    return n;
}

/* The same request through protobuf: JSON → structs → protobuf-c pack →
 * our protobuf decoder → translation. */
static uint64_t run_proto_of_json(struct col_otlp_translator *tr, const char *json, struct lines *l)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_err err = { 0 };
    ot_req *r, *r2;
    assert_int_equal(col_otlp_metrics_decode_json(a, json, strlen(json), &r, &err), 0);
    size_t len = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(r);
    uint8_t *buf = malloc(len + 1);
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(r, buf);
    if (col_otlp_metrics_decode_proto(a, (const char *)buf, len, &r2, &err) != 0)
        fail_msg("decode proto: %s", err.msg);
    struct col_otlp_batch b;
    col_otlp_batch_init(&b);
    assert_int_equal(col_otlp_translate(tr, a, r2, sink, l, &b, &err), 0);
    col_otlp_batch_commit(tr, &b);
    uint64_t n = b.n_rejected_points;
    col_otlp_batch_fini(&b);
    free(buf);
    scry_arena_destroy(a);
    return n;
}

/* shared/contracts/otlp-http.md §5.4, verbatim (upstream examples/metrics.json, trimmed). */
static const char contract_example[] =
    "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"my.service\"}}]},\n"
    " \"scopeMetrics\":[{\"scope\":{\"name\":\"my.library\",\"version\":\"1.0.0\"},\"metrics\":[\n"
    "  {\"name\":\"my.counter\",\"unit\":\"1\",\"sum\":{\"aggregationTemporality\":1,\"isMonotonic\":true,\n"
    "     \"dataPoints\":[{\"asDouble\":5,\"startTimeUnixNano\":\"1544712660300000000\",\"timeUnixNano\":\"1544712660300000000\"}]}},\n"
    "  {\"name\":\"my.gauge\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":[{\"asDouble\":10,\"timeUnixNano\":\"1544712660300000000\"}]}},\n"
    "  {\"name\":\"my.histogram\",\"unit\":\"1\",\"histogram\":{\"aggregationTemporality\":1,\"dataPoints\":[\n"
    "     {\"startTimeUnixNano\":\"1544712660300000000\",\"timeUnixNano\":\"1544712660300000000\",\n"
    "      \"count\":\"2\",\"sum\":2,\"bucketCounts\":[\"1\",\"1\"],\"explicitBounds\":[1],\"min\":0,\"max\":2}]}},\n"
    "  {\"name\":\"my.exponential.histogram\",\"unit\":\"1\",\"exponentialHistogram\":{\"aggregationTemporality\":1,\"dataPoints\":[\n"
    "     {\"startTimeUnixNano\":\"1544712660300000000\",\"timeUnixNano\":\"1544712660300000000\",\n"
    "      \"count\":\"3\",\"sum\":10,\"scale\":0,\"zeroCount\":\"1\",\"positive\":{\"offset\":1,\"bucketCounts\":[\"0\",\"2\"]},\n"
    "      \"min\":0,\"max\":5,\"zeroThreshold\":0}]}}]}]}]}\n";

#define SJ "job=\"my.service\""
#define SS "otel_scope_name=\"my.library\", otel_scope_version=\"1.0.0\""
#define SC SJ ", " SS
#define SLE(le) SJ ", le=\"" le "\", " SS
static const char contract_series[] =
    "my_counter_total{" SC "} 5 @1544712660300\n"
    "my_gauge_ratio{" SC "} 10 @1544712660300\n"
    "my_histogram_bucket{" SLE("1") "} 1 @1544712660300\n"
    "my_histogram_bucket{" SLE("+Inf") "} 2 @1544712660300\n"
    "my_histogram_sum{" SC "} 2 @1544712660300\n"
    "my_histogram_count{" SC "} 2 @1544712660300\n"
    "my_exponential_histogram_bucket{" SLE("0") "} 1 @1544712660300\n"
    "my_exponential_histogram_bucket{" SLE("4") "} 1 @1544712660300\n"
    "my_exponential_histogram_bucket{" SLE("8") "} 3 @1544712660300\n"
    "my_exponential_histogram_bucket{" SLE("+Inf") "} 3 @1544712660300\n"
    "my_exponential_histogram_sum{" SC "} 10 @1544712660300\n"
    "my_exponential_histogram_count{" SC "} 3 @1544712660300\n";

static void test_otlp_contract_example_json(void **state)
{
    (void)state;
    struct col_otlp_translator *tr = new_tr();
    struct lines l = { .n = 0 };
    assert_int_equal(run_json(tr, contract_example, &l, NULL), 0);
    expect_lines(&l, contract_series);
    lines_fini(&l);
    /* the same bytes through protobuf give the same series (fresh delta state) */
    struct col_otlp_translator *tr2 = new_tr();
    assert_int_equal(run_proto_of_json(tr2, contract_example, &l), 0);
    expect_lines(&l, contract_series);
    lines_fini(&l);
    col_otlp_translator_destroy(tr);
    col_otlp_translator_destroy(tr2);
}

/* Every metric type, cumulative, with resource identity and target_info. */
static const char all_types[] =
    "{\"resourceMetrics\":[{\"resource\":{\"attributes\":["
    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"api\"}},"
    "{\"key\":\"service.namespace\",\"value\":{\"stringValue\":\"shop\"}},"
    "{\"key\":\"service.instance.id\",\"value\":{\"stringValue\":\"host-1:8080\"}},"
    "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"host-1\"}},"
    "{\"key\":\"k8s.pod.uid\",\"value\":{\"intValue\":42}},"
    "{\"key\":\"tags\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},{\"boolValue\":true}]}}}]},"
    "\"scopeMetrics\":[{\"scope\":{\"name\":\"io.shop\"},\"metrics\":["
    "{\"name\":\"http.requests\",\"unit\":\"{request}\",\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,"
    "  \"dataPoints\":[{\"asInt\":\"7\",\"timeUnixNano\":1700000000123456789,\"attributes\":["
    "    {\"key\":\"http.method\",\"value\":{\"stringValue\":\"GET\"}},"
    "    {\"key\":\"http-method\",\"value\":{\"stringValue\":\"x\"}},"
    "    {\"key\":\"job\",\"value\":{\"stringValue\":\"overridden\"}},"
    "    {\"key\":\"code\",\"value\":{\"intValue\":200}},"
    "    {\"key\":\"ok\",\"value\":{\"boolValue\":true}},"
    "    {\"key\":\"ratio\",\"value\":{\"doubleValue\":0.25}},"
    "    {\"key\":\"empty\",\"value\":{\"stringValue\":\"\"}}]}]}},"
    "{\"name\":\"queue.size\",\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":false,"
    "  \"dataPoints\":[{\"asDouble\":-3.5,\"timeUnixNano\":\"1700000000000000000\"}]}},"
    "{\"name\":\"temperature\",\"unit\":\"Cel\",\"gauge\":{\"dataPoints\":["
    "  {\"asDouble\":\"NaN\",\"timeUnixNano\":\"1700000000000000000\"},"
    "  {\"asDouble\":21.5,\"timeUnixNano\":\"1700000001000000000\",\"flags\":1}]}},"
    "{\"name\":\"latency\",\"unit\":\"ms\",\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":["
    "  {\"timeUnixNano\":\"1700000000000000000\",\"count\":6,\"bucketCounts\":[1,2,3],\"explicitBounds\":[0.005,1e6]},"
    "  {\"timeUnixNano\":\"1700000000000000000\",\"count\":0}]}},"
    "{\"name\":\"rpc.duration\",\"unit\":\"s\",\"summary\":{\"dataPoints\":["
    "  {\"timeUnixNano\":\"1700000000000000000\",\"count\":\"4\",\"sum\":2.5,"
    "   \"quantileValues\":[{\"quantile\":0.5,\"value\":0.4},{\"quantile\":0.99,\"value\":1.5}]}]}}"
    "]}]}]}";

#define IJ "instance=\"host-1:8080\", job=\"shop/api\""
#define ID IJ ", otel_scope_name=\"io.shop\""
#define ILE(le) IJ ", le=\"" le "\", otel_scope_name=\"io.shop\""
static const char all_types_series[] =
    "http_requests_total{code=\"200\", http_method=\"x;GET\", " IJ ", ok=\"true\", otel_scope_name=\"io.shop\", ratio=\"0.25\"} 7 @1700000000123\n"
    "queue_size{" ID "} -3.5 @1700000000000\n"
    "temperature_celsius{" ID "} NaN @1700000000000\n"
    "temperature_celsius{" ID "} stale @1700000001000\n"
    "latency_milliseconds_bucket{" ILE("0.005") "} 1 @1700000000000\n"
    "latency_milliseconds_bucket{" ILE("1000000") "} 3 @1700000000000\n"
    "latency_milliseconds_bucket{" ILE("+Inf") "} 6 @1700000000000\n"
    "latency_milliseconds_count{" ID "} 6 @1700000000000\n"
    "latency_milliseconds_bucket{" ILE("+Inf") "} 0 @1700000000000\n"
    "latency_milliseconds_count{" ID "} 0 @1700000000000\n"
    "rpc_duration_seconds{" ID ", quantile=\"0.5\"} 0.4 @1700000000000\n"
    "rpc_duration_seconds{" ID ", quantile=\"0.99\"} 1.5 @1700000000000\n"
    "rpc_duration_seconds_sum{" ID "} 2.5 @1700000000000\n"
    "rpc_duration_seconds_count{" ID "} 4 @1700000000000\n"
    "target_info{host_name=\"host-1\", instance=\"host-1:8080\", job=\"shop/api\", "
    "k8s_pod_uid=\"42\", tags=\"[\\\"a\\\",true]\"} 1 @1700000001000\n";

static void test_otlp_translate_every_type(void **state)
{
    (void)state;
    struct col_otlp_translator *tr = new_tr();
    struct lines l = { .n = 0 };
    assert_int_equal(run_json(tr, all_types, &l, NULL), 0);
    expect_lines(&l, all_types_series);
    lines_fini(&l);
    assert_int_equal(run_proto_of_json(tr, all_types, &l), 0);
    expect_lines(&l, all_types_series);
    lines_fini(&l);
    col_otlp_translator_destroy(tr);
}

static void test_otlp_json_integers_as_strings_or_numbers(void **state)
{
    (void)state;
    struct col_otlp_translator *tr = new_tr();
    struct lines a = { .n = 0 }, b = { .n = 0 };
    const char *s = "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"h\",\"histogram\":{"
                    "\"aggregationTemporality\":\"2\",\"dataPoints\":[{\"timeUnixNano\":\"1700000000000000000\","
                    "\"count\":\"9007199254740993\",\"bucketCounts\":[\"9007199254740993\"],\"sum\":\"Infinity\"}]}},"
                    "{\"name\":\"g\",\"gauge\":{\"dataPoints\":[{\"asInt\":\"-9007199254740993\",\"timeUnixNano\":\"1700000000000000000\"}]}}]}]}]}";
    const char *n = "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"h\",\"histogram\":{"
                    "\"aggregationTemporality\":2,\"dataPoints\":[{\"timeUnixNano\":1700000000000000000,"
                    "\"count\":9007199254740993,\"bucketCounts\":[9007199254740993],\"sum\":\"Infinity\"}]}},"
                    "{\"name\":\"g\",\"gauge\":{\"dataPoints\":[{\"asInt\":-9007199254740993,\"timeUnixNano\":1.7e18}]}}]}]}]}";
    assert_int_equal(run_json(tr, s, &a, NULL), 0);
    assert_int_equal(run_json(tr, n, &b, NULL), 0);
    expect_lines(&a, "h_bucket{le=\"+Inf\"} 9.007199254740992e+15 @1700000000000\n"
                     "h_sum +Inf @1700000000000\n"
                     "h_count 9.007199254740992e+15 @1700000000000\n"
                     "g -9.007199254740992e+15 @1700000000000\n");
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        assert_string_equal(a.v[i], b.v[i]);
    lines_fini(&a);
    lines_fini(&b);
    col_otlp_translator_destroy(tr);
}

/* ---- delta → cumulative ------------------------------------------------- */

static char *delta_doc(const char *t_ns, const char *v)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":["
             "{\"name\":\"req\",\"sum\":{\"aggregationTemporality\":1,\"isMonotonic\":true,"
             "\"dataPoints\":[{\"asInt\":\"%s\",\"timeUnixNano\":\"%s\"}]}},"
             "{\"name\":\"lat\",\"histogram\":{\"aggregationTemporality\":1,\"dataPoints\":["
             "{\"timeUnixNano\":\"%s\",\"count\":\"%s\",\"sum\":1,\"bucketCounts\":[\"%s\",\"0\"],\"explicitBounds\":[1]}]}}"
             "]}]}]}", v, t_ns, t_ns, v, v);
    return buf;
}

static void test_otlp_delta_to_cumulative(void **state)
{
    (void)state;
    struct col_otlp_translator *tr = new_tr();
    struct lines l = { .n = 0 };
    struct scry_buf first = { 0 };
    assert_int_equal(run_json(tr, delta_doc("1000000000", "3"), &l, NULL), 0);
    assert_int_equal(run_json(tr, delta_doc("2000000000", "4"), &l, NULL), 0);
    expect_lines(&l, "req_total 3 @1000\n"
                     "lat_bucket{le=\"1\"} 3 @1000\n"
                     "lat_bucket{le=\"+Inf\"} 3 @1000\n"
                     "lat_sum 1 @1000\n"
                     "lat_count 3 @1000\n"
                     "req_total 7 @2000\n"
                     "lat_bucket{le=\"1\"} 7 @2000\n"
                     "lat_bucket{le=\"+Inf\"} 7 @2000\n"
                     "lat_sum 2 @2000\n"
                     "lat_count 7 @2000\n");
    lines_fini(&l);
    assert_int_equal(col_otlp_translator_delta_series(tr), 5);
    /* a point not after the last: rejected, the total stays */
    assert_int_equal(run_json(tr, delta_doc("2000000000", "100"), &l, &first), 2);
    assert_non_null(strstr(first.p, "not after the last one"));
    assert_int_equal(l.n, 0);
    /* a batch never committed does not advance the totals */
    struct scry_arena *a = scry_arena_create(0);
    ot_req *r;
    const char *d = delta_doc("3000000000", "10");
    assert_int_equal(col_otlp_metrics_decode_json(a, d, strlen(d), &r, NULL), 0);
    struct col_otlp_batch b;
    col_otlp_batch_init(&b);
    assert_int_equal(col_otlp_translate(tr, a, r, sink, &l, &b, NULL), 0);
    col_otlp_batch_fini(&b); /* as if the store's commit failed */
    scry_arena_destroy(a);
    lines_fini(&l);
    assert_int_equal(run_json(tr, delta_doc("3000000000", "10"), &l, NULL), 0);
    assert_string_equal(l.v[0], "req_total 17 @3000");
    lines_fini(&l);
    scry_buf_fini(&first);
    col_otlp_translator_destroy(tr);
}

static void test_otlp_delta_map_evicts_lru(void **state)
{
    (void)state;
    struct col_otlp_translator *tr;
    struct col_otlp_translator_opts o = { .max_delta_series = 2 };
    assert_int_equal(col_otlp_translator_create(&tr, &o, NULL), 0);
    struct lines l = { .n = 0 };
    char doc[512];
    const char *names[] = { "a", "b", "a", "c", "b" };
    for (int i = 0; i < 5; i++) {
        snprintf(doc, sizeof doc,
                 "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"%s\",\"sum\":{"
                 "\"aggregationTemporality\":1,\"isMonotonic\":true,\"dataPoints\":[{\"asInt\":1,"
                 "\"timeUnixNano\":%d000000}]}}]}]}]}", names[i], i + 1);
        assert_int_equal(run_json(tr, doc, &l, NULL), 0);
    }
    /* b was evicted by c (a was used more recently), so b restarts at 1 */
    expect_lines(&l, "a_total 1 @1\nb_total 1 @2\na_total 2 @3\nc_total 1 @4\nb_total 1 @5\n");
    assert_int_equal(col_otlp_translator_delta_series(tr), 2);
    lines_fini(&l);
    col_otlp_translator_destroy(tr);
}

/* ---- exponential histograms --------------------------------------------- */

static void test_otlp_exponential_buckets(void **state)
{
    (void)state;
    struct col_otlp_translator *tr = new_tr();
    struct lines l = { .n = 0 };
    /* scale 1: base sqrt(2); negatives, zero bucket with a threshold, positives */
    const char *d =
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"e\",\"exponentialHistogram\":{"
        "\"aggregationTemporality\":2,\"dataPoints\":[{\"timeUnixNano\":\"1000000\",\"count\":\"10\",\"sum\":3,"
        "\"scale\":1,\"zeroCount\":\"2\",\"zeroThreshold\":0.001,"
        "\"negative\":{\"offset\":0,\"bucketCounts\":[\"1\",\"2\"]},"
        "\"positive\":{\"offset\":-1,\"bucketCounts\":[\"1\",\"1\",\"3\"]}}]}},"
        "{\"name\":\"f\",\"exponentialHistogram\":{\"aggregationTemporality\":2,\"dataPoints\":["
        "{\"timeUnixNano\":\"1000000\",\"count\":\"2\",\"scale\":-1,\"positive\":{\"offset\":2,\"bucketCounts\":[1,1]}}]}},"
        "{\"name\":\"g\",\"exponentialHistogram\":{\"aggregationTemporality\":2,\"dataPoints\":["
        "{\"timeUnixNano\":\"1000000\",\"count\":\"1\",\"scale\":21}]}}"
        "]}]}]}";
    struct scry_buf first = { 0 };
    assert_int_equal(run_json(tr, d, &l, &first), 1);
    expect_lines(&l,
                 /* negative bucket 1 is [-2, -1.414..): le = -sqrt(2); bucket 0 [-1.414, -1): le = -1 */
                 "e_bucket{le=\"-1.4142135623730951\"} 2 @1\n"
                 "e_bucket{le=\"-1\"} 3 @1\n"
                 "e_bucket{le=\"0.001\"} 5 @1\n"
                 /* positive index -1: (0.707, 1]; 0: (1, 1.414]; 1: (1.414, 2] */
                 "e_bucket{le=\"1\"} 6 @1\n"
                 "e_bucket{le=\"1.4142135623730951\"} 7 @1\n"
                 "e_bucket{le=\"2\"} 10 @1\n"
                 "e_bucket{le=\"+Inf\"} 10 @1\n"
                 "e_sum 3 @1\n"
                 "e_count 10 @1\n"
                 /* scale -1: base 4; index 2: (16, 64], index 3: (64, 256] */
                 "f_bucket{le=\"0\"} 0 @1\n"
                 "f_bucket{le=\"64\"} 1 @1\n"
                 "f_bucket{le=\"256\"} 2 @1\n"
                 "f_bucket{le=\"+Inf\"} 2 @1\n"
                 "f_count 2 @1\n");
    assert_non_null(strstr(first.p, "scale 21"));
    lines_fini(&l);
    scry_buf_fini(&first);
    col_otlp_translator_destroy(tr);
}

/* ---- rejections --------------------------------------------------------- */

static void test_otlp_rejected_points(void **state)
{
    (void)state;
    struct col_otlp_translator *tr = new_tr();
    struct lines l = { .n = 0, .reject_t = 2000 };
    struct scry_buf first = { 0 };
    const char *d =
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":["
        "{\"name\":\"bad_buckets\",\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":["
        "{\"timeUnixNano\":\"1000000000\",\"count\":1,\"bucketCounts\":[1],\"explicitBounds\":[1,2]}]}},"
        "{\"name\":\"no_temporality\",\"sum\":{\"isMonotonic\":true,\"dataPoints\":[{\"asInt\":1,\"timeUnixNano\":\"1000000000\"}]}},"
        "{\"name\":\"no_time\",\"gauge\":{\"dataPoints\":[{\"asInt\":1}]}},"
        "{\"name\":\"...\",\"gauge\":{\"dataPoints\":[{\"asInt\":1,\"timeUnixNano\":\"1000000000\"}]}},"
        "{\"name\":\"refused\",\"gauge\":{\"dataPoints\":[{\"asInt\":1,\"timeUnixNano\":\"2000000000\"},"
        "                                       {\"asInt\":2,\"timeUnixNano\":\"3000000000\"}]}}"
        "]}]}]}";
    assert_int_equal(run_json(tr, d, &l, &first), 5);
    assert_string_equal(first.p, "histogram bad_buckets: 1 bucket counts for 2 explicit bounds (want bounds+1)");
    expect_lines(&l, "refused 2 @3000\n");
    lines_fini(&l);
    /* the store's reason names the series */
    const char *d2 = "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":["
                     "{\"name\":\"refused\",\"gauge\":{\"dataPoints\":[{\"asInt\":1,\"timeUnixNano\":\"2000000000\"}]}}]}]}]}";
    assert_int_equal(run_json(tr, d2, &l, &first), 1);
    assert_string_equal(first.p, "out of order sample: refused @ 2000");
    scry_buf_fini(&first);
    col_otlp_translator_destroy(tr);
}

/* ---- decoders ----------------------------------------------------------- */

static void expect_decode_error(bool json, const void *p, size_t len, const char *needle)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_err err = { 0 };
    ot_req *r = NULL;
    int rc = json ? col_otlp_metrics_decode_json(a, p, len, &r, &err)
                  : col_otlp_metrics_decode_proto(a, p, len, &r, &err);
    assert_int_equal(rc, SCRY_EPARSE);
    if (!strstr(err.msg, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
    scry_arena_destroy(a);
}

static void test_otlp_decode_errors(void **state)
{
    (void)state;
#define JERR(s, needle) expect_decode_error(true, s, strlen(s), needle)
    JERR("", "unexpected end of JSON input");
    JERR("[]", "(root): want an object");
    JERR("{\"resourceMetrics\":{}}", "resourceMetrics: want an array");
    JERR("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"sum\":{\"dataPoints\":[{\"asInt\":1.5}]}}]}]}]}",
         "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asInt: want a 64-bit integer");
    JERR("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"gauge\":{\"dataPoints\":[{\"exemplars\":[{\"traceId\":\"xyz\"}]}]}}]}]}]}",
         "exemplars[0].traceId: want 32 hex digits");
    JERR("{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":\"!!\"}}]}}]}",
         "attributes[0].value.bytesValue: invalid base64");
    JERR("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"sum\":{\"aggregationTemporality\":\"SOMETIMES\"}}]}]}]}",
         "unknown enum value");
    /* unknown keys and nulls are fine */
    struct scry_arena *a = scry_arena_create(0);
    ot_req *r;
    const char *ok = "{\"resourceMetrics\":[{\"future\":[1,2],\"resource\":null,\"scopeMetrics\":null}],\"x\":{}}";
    assert_int_equal(col_otlp_metrics_decode_json(a, ok, strlen(ok), &r, NULL), 0);
    assert_int_equal(r->n_resource_metrics, 1);
    /* an empty protobuf body is an empty request */
    assert_int_equal(col_otlp_metrics_decode_proto(a, "", 0, &r, NULL), 0);
    assert_int_equal(r->n_resource_metrics, 0);
    scry_arena_destroy(a);

    static const uint8_t trunc[] = { 0x0a, 0x05, 0x0a, 0x01 };
    expect_decode_error(false, trunc, sizeof trunc, "invalid protobuf wire format");
    static const uint8_t group[] = { 0x0b };
    expect_decode_error(false, group, sizeof group, "byte 0");
    /* resource_metrics (field 1) as a varint: wrong wire type, protobuf-c refuses */
    static const uint8_t wt[] = { 0x08, 0x01 };
    expect_decode_error(false, wt, sizeof wt, "cannot parse");
    /* AnyValue nested 200 deep (arrayValue → values → ...) */
    struct scry_buf deep = { 0 };
    size_t depth = 200;
    /* build from the inside out: AnyValue{int 1}, then wrap */
    scry_buf_put(&deep, "\x18\x01", 2);
    for (size_t i = 0; i < depth; i++) {
        struct scry_buf w = { 0 };
        uint8_t hdr[12];
        size_t n = 0, len = deep.len;
        /* ArrayValue{values: prev} */
        hdr[n++] = 0x0a;
        do { hdr[n] = (uint8_t)(len & 0x7f); len >>= 7; if (len) hdr[n] |= 0x80; n++; } while (len);
        scry_buf_put(&w, hdr, n);
        scry_buf_put(&w, deep.p, deep.len);
        /* AnyValue{array_value: ArrayValue} */
        n = 0;
        len = w.len;
        hdr[n++] = 0x2a;
        do { hdr[n] = (uint8_t)(len & 0x7f); len >>= 7; if (len) hdr[n] |= 0x80; n++; } while (len);
        scry_buf_reset(&deep);
        scry_buf_put(&deep, hdr, n);
        scry_buf_put(&deep, w.p, w.len);
        scry_buf_fini(&w);
    }
    /* KeyValue{value}, Resource{attributes}, ResourceMetrics{resource}, request */
    const uint8_t tags[] = { 0x12, 0x0a, 0x0a, 0x0a };
    for (size_t t = 0; t < sizeof tags; t++) {
        struct scry_buf w = { 0 };
        uint8_t hdr[12];
        size_t n = 0, len = deep.len;
        hdr[n++] = tags[t];
        do { hdr[n] = (uint8_t)(len & 0x7f); len >>= 7; if (len) hdr[n] |= 0x80; n++; } while (len);
        scry_buf_put(&w, hdr, n);
        scry_buf_put(&w, deep.p, deep.len);
        scry_buf_fini(&deep);
        deep = w;
    }
    expect_decode_error(false, deep.p, deep.len, "nested deeper than 64");
    scry_buf_fini(&deep);
}

/* ---- HTTP: a capturing store -------------------------------------------- */

#define CAP_MAX 1024

struct cap_store {
    struct scry_appendable base;
    pthread_mutex_t mu;
    char *got[CAP_MAX];
    size_t n;
    int64_t reject_t;
    int begin_rc;       /* begin fails with this when non-zero */
    bool fail_commit;
    int n_commits, n_rollbacks;
};

struct cap_app {
    struct scry_appender base;
    struct cap_store *st;
    char *pend[CAP_MAX];
    size_t n;
};

static int cap_append(struct scry_appender *app, uint64_t *ref, const struct scry_labels *ls,
                      int64_t t_ms, double v, struct scry_err *err)
{
    struct cap_app *a = (struct cap_app *)app;
    (void)ref;
    if (scry_labels_validate(ls, NULL) != 0 || !scry_labels_get(ls, "__name__"))
        return scry_err_set(err, SCRY_EIO, "handler passed an invalid label set");
    if (a->st->reject_t && t_ms == a->st->reject_t)
        return scry_err_set(err, SCRY_EINVAL, "out of order sample");
    if (a->n == CAP_MAX)
        return scry_err_set(err, SCRY_ELIMIT, "test store full");
    struct scry_buf b = { 0 };
    format_sample(&b, ls, t_ms, v);
    a->pend[a->n++] = scry_buf_take(&b);
    return 0;
}

static void cap_free(struct cap_app *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->pend[i]);
    free(a);
}

static int cap_commit(struct scry_appender *app, struct scry_err *err)
{
    struct cap_app *a = (struct cap_app *)app;
    struct cap_store *st = a->st;
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    if (st->fail_commit) {
        rc = scry_err_set(err, SCRY_EIO, "fsync wal: Input/output error");
    } else {
        for (size_t i = 0; i < a->n && st->n < CAP_MAX; i++) {
            st->got[st->n++] = a->pend[i];
            a->pend[i] = NULL;
        }
        st->n_commits++;
    }
    pthread_mutex_unlock(&st->mu);
    cap_free(a);
    return rc;
}

static void cap_rollback(struct scry_appender *app)
{
    struct cap_app *a = (struct cap_app *)app;
    pthread_mutex_lock(&a->st->mu);
    a->st->n_rollbacks++;
    pthread_mutex_unlock(&a->st->mu);
    cap_free(a);
}

static const struct scry_appender_ops cap_ops = {
    .append_sample = cap_append,
    .commit = cap_commit,
    .rollback = cap_rollback,
};

static int cap_begin(struct scry_appendable *store, const char *tenant,
                     struct scry_appender **out, struct scry_err *err)
{
    struct cap_store *st = (struct cap_store *)store;
    (void)tenant;
    if (st->begin_rc)
        return scry_err_set(err, st->begin_rc, st->begin_rc == SCRY_ELIMIT ? "too many appenders"
                                                                           : "store closed");
    struct cap_app *a = calloc(1, sizeof *a);
    a->base.ops = &cap_ops;
    a->st = st;
    *out = &a->base;
    return 0;
}

static void cap_clear(struct cap_store *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->got[i]);
    st->n = 0;
}

static void expect_stored(struct cap_store *st, const char *want)
{
    struct lines l = { .n = st->n };
    memcpy(l.v, st->got, st->n * sizeof *st->got);
    expect_lines(&l, want);
}

/* ---- HTTP: fixture and client ------------------------------------------- */

struct fx {
    struct cap_store *st;
    struct scry_metrics *m;
    struct scry_http_server *srv;
    struct col_otlp *o;
    int port;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->st = calloc(1, sizeof *f->st);
    f->st->base.begin = cap_begin;
    pthread_mutex_init(&f->st->mu, NULL);
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
    cap_clear(f->st);
    pthread_mutex_destroy(&f->st->mu);
    free(f->st);
    free(f);
    return 0;
}

struct reply {
    long status;
    struct scry_buf body, hdrs;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    scry_buf_put(ud, p, sz * n);
    return sz * n;
}

struct upload {
    const char *p;
    size_t len, off;
};

static size_t on_read(char *out, size_t sz, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = sz * n;
    if (k > 100)
        k = 100; /* many small chunks */
    if (k > u->len - u->off)
        k = u->len - u->off;
    memcpy(out, u->p + u->off, k);
    u->off += k;
    return k;
}

/* POSTs body to path with the given headers (NULL-terminated); chunked
 * sends it with Transfer-Encoding: chunked and no Content-Length, as the
 * OpenTelemetry JS exporters do. method NULL is POST. */
static struct reply request(struct fx *f, const char *method, const char *path, const void *body,
                            size_t len, const char *const *hdrs, bool chunked)
{
    struct reply r = { 0 };
    scry_buf_puts(&r.body, "");
    scry_buf_puts(&r.hdrs, "");
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f->port, path);
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    for (size_t k = 0; hdrs && hdrs[k]; k++)
        h = curl_slist_append(h, hdrs[k]);
    struct upload u = { body, len, 0 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (method) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (chunked) {
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &u);
    } else {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("curl: %s", curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
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

static void reply_fini(struct reply *r)
{
    scry_buf_fini(&r->body);
    scry_buf_fini(&r->hdrs);
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

static char *gzip_of(const void *p, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len) + 32;
    char *out = malloc(cap);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)len;
    z.next_out = (unsigned char *)out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

static void test_otlp_http_json_and_proto(void **state)
{
    struct fx *f = *state;
    struct reply r = request(f, NULL, "/v1/metrics", all_types, strlen(all_types), H_JSON, false);
    expect_reply(&r, 200, "application/json", "{}");
    reply_fini(&r);
    expect_stored(f->st, all_types_series);
    cap_clear(f->st);
    size_t len;
    uint8_t *p = proto_of_json(all_types, &len);
    r = request(f, NULL, "/v1/metrics", p, len, H_PROTO, false);
    expect_reply(&r, 200, "application/x-protobuf", "");
    assert_int_equal(r.body.len, 0);
    reply_fini(&r);
    expect_stored(f->st, all_types_series);
    cap_clear(f->st);
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
    uint8_t *p = proto_of_json(contract_example, &len);
    char *g = gzip_of(p, len, &glen);
    static const char *const hg[] = { "Content-Type: application/x-protobuf",
                                      "Content-Encoding: gzip", NULL };
    /* chunked, gzip, protobuf: the OTel JS exporter's request */
    struct reply r = request(f, NULL, "/v1/metrics", g, glen, hg, true);
    expect_reply(&r, 200, "application/x-protobuf", "");
    reply_fini(&r);
    expect_stored(f->st, contract_series);
    cap_clear(f->st);
    free(g);
    free(p);
    /* chunked JSON without gzip; delta points at the same time are refused now */
    r = request(f, NULL, "/v1/metrics", contract_example, strlen(contract_example), H_JSON, true);
    expect_reply(&r, 200, "application/json", NULL);
    assert_non_null(strstr(r.body.p, "{\"partialSuccess\":{\"rejectedDataPoints\":\"3\",\"errorMessage\":\"3 of 4 data points rejected; first: delta point at 1544712660300 ms"));
    reply_fini(&r);
    expect_stored(f->st, "my_gauge_ratio{" SC "} 10 @1544712660300\n");
    cap_clear(f->st);
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
    f->st->reject_t = 1700000001000; /* the stale temperature point */
    struct reply r = request(f, NULL, "/v1/metrics", all_types, strlen(all_types), H_JSON, false);
    expect_reply(&r, 200, "application/json",
                 "{\"partialSuccess\":{\"rejectedDataPoints\":\"1\",\"errorMessage\":\"1 of 7 data points "
                 "rejected; first: out of order sample: temperature_celsius{" "instance=\\\"host-1:8080\\\", "
                 "job=\\\"shop/api\\\", otel_scope_name=\\\"io.shop\\\"} @ 1700000001000\"}}");
    reply_fini(&r);
    /* the others were committed; target_info at the same time was refused too, but it is no data point */
    assert_int_equal(f->st->n, 13);
    cap_clear(f->st);
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
    f->st->reject_t = 0;
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
    assert_string_equal(f->st->got[0], "req_total 3 @1000");
    assert_string_equal(f->st->got[5], "req_total 7 @2000");
}

#define HTTP_TEST(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_otlp_metric_names),
        cmocka_unit_test(test_otlp_label_names),
        cmocka_unit_test(test_otlp_contract_example_json),
        cmocka_unit_test(test_otlp_translate_every_type),
        cmocka_unit_test(test_otlp_json_integers_as_strings_or_numbers),
        cmocka_unit_test(test_otlp_delta_to_cumulative),
        cmocka_unit_test(test_otlp_delta_map_evicts_lru),
        cmocka_unit_test(test_otlp_exponential_buckets),
        cmocka_unit_test(test_otlp_rejected_points),
        cmocka_unit_test(test_otlp_decode_errors),
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
