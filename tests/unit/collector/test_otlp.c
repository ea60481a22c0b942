/* Tests collector/otlp*.c: the naming tables, translation of every metric
 * type (through the JSON decoder, the protobuf decoder and both compared),
 * delta → cumulative, exponential histogram buckets, the contract's §5.4
 * example and decoder errors. The HTTP handler's tests are in
 * test_otlp_http.c. */
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

#include "otlp_fixture.h"

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

static void test_otlp_contract_example_json(void **state)
{
    (void)state;
    struct col_otlp_translator *tr = new_tr();
    struct lines l = { .n = 0 };
    assert_int_equal(run_json(tr, otlp_contract_metrics, &l, NULL), 0);
    expect_lines(&l, contract_series);
    lines_fini(&l);
    /* the same bytes through protobuf give the same series (fresh delta state) */
    struct col_otlp_translator *tr2 = new_tr();
    assert_int_equal(run_proto_of_json(tr2, otlp_contract_metrics, &l), 0);
    expect_lines(&l, contract_series);
    lines_fini(&l);
    col_otlp_translator_destroy(tr);
    col_otlp_translator_destroy(tr2);
}

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
    };
    curl_global_init(CURL_GLOBAL_ALL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
