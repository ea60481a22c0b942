/* otlp_fixture.h — samples as text lines, shared by test_otlp.c (the
 * translator, through a capturing sink) and test_otlp_http.c (the handler,
 * through capture_appender.h), and the documents both send. Include
 * <cmocka.h> first. */
#ifndef SCRY_TEST_OTLP_FIXTURE_H
#define SCRY_TEST_OTLP_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/otlp.h"
#include "core/buf.h"
#include "core/labels.h"

struct lines {
    char *v[512];
    size_t n;
    int64_t reject_t; /* refuse samples at this time with SCRY_EINVAL (0: none) */
};

static inline void lines_fini(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

/* " <value> @<t>", or " stale @<t>" for Prometheus's staleness marker. */
static inline void format_value(struct scry_buf *b, int64_t t_ms, double v)
{
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

static inline void format_sample(struct scry_buf *b, const struct scry_labels *ls, int64_t t_ms, double v)
{
    scry_labels_format(ls, b);
    format_value(b, t_ms, v);
}

/* want: lines separated by '\n', in order. */
static inline void expect_lines(const struct lines *l, const char *want)
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
/* One delta sum and one delta histogram point at t_ns with value v. */
static inline char *delta_doc(const char *t_ns, const char *v)
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

/* ---- request documents and the series they give ------------------------ */

#include "tests/unit/otlp_contract.h"

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

#endif
