/* otlpbench.c — OTLP metrics decode and translation cost per data point
 * (collector/README.md, "OTLP metrics").
 *
 *   otlpbench [-n RUNS] [-i ITERS] [-m MODE]
 *
 * Builds one ExportMetricsServiceRequest shaped like an instrumented HTTP
 * service's export: one resource with 8 attributes, one scope, 100 metrics
 * of 10 data points each (50 cumulative sums and 25 gauges with 3 attributes
 * per point, 25 histograms with 15 explicit buckets), 1000 data points and
 * 5000 samples. It is written as OTLP/JSON and packed to protobuf with
 * protobuf-c. Modes, each timed over ITERS decodes (default 200), median of
 * RUNS (default 5), CPU time:
 *   pbc-arena   col_otlp_metrics_decode_proto: depth pre-check + protobuf-c
 *               unpack allocating from an arena (what the receiver does)
 *   pbc-malloc  protobuf-c unpack with malloc, then free_unpacked
 *   json        col_otlp_metrics_decode_json (parse + fill the structs)
 *   translate   pbc-arena + col_otlp_translate into a sink that only counts */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/otlp.h"
#include "collector/proto/otlp_metrics_service.pb-c.h"
#include "core/arena.h"
#include "core/buf.h"

#define N_POINTS 10

static void attrs(struct scry_buf *b, int i, int k)
{
    static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };
    scry_buf_printf(b,
                    "\"attributes\":[{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"%s\"}},"
                    "{\"key\":\"http.route\",\"value\":{\"stringValue\":\"/api/v1/items/%d\"}},"
                    "{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"%d\"}}]",
                    methods[k % 4], i, 200 + k);
}

static void make_request(struct scry_buf *b)
{
    scry_buf_puts(b, "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[");
    static const char *const ra[][2] = {
        { "service.name", "checkout" }, { "service.namespace", "shop" },
        { "service.instance.id", "627cc493-f310-47de-96bd-71410b7dec09" },
        { "telemetry.sdk.name", "opentelemetry" }, { "telemetry.sdk.language", "nodejs" },
        { "telemetry.sdk.version", "2.12.0" }, { "host.name", "web-7f9c6d5b8-x2k4p" },
        { "process.runtime.name", "nodejs" },
    };
    for (size_t i = 0; i < 8; i++)
        scry_buf_printf(b, "%s{\"key\":\"%s\",\"value\":{\"stringValue\":\"%s\"}}", i ? "," : "",
                        ra[i][0], ra[i][1]);
    scry_buf_puts(b, "]},\"scopeMetrics\":[{\"scope\":{\"name\":\"@opentelemetry/instrumentation-http\","
                     "\"version\":\"0.57.0\"},\"metrics\":[");
    for (int m = 0; m < 100; m++) {
        scry_buf_printf(b, "%s{\"name\":\"app.metric.%d\",\"unit\":\"%s\",", m ? "," : "", m,
                        m < 50 ? "{request}" : m < 75 ? "By" : "ms");
        if (m < 50)
            scry_buf_puts(b, "\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":[");
        else if (m < 75)
            scry_buf_puts(b, "\"gauge\":{\"dataPoints\":[");
        else
            scry_buf_puts(b, "\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":[");
        for (int k = 0; k < N_POINTS; k++) {
            scry_buf_printf(b, "%s{\"startTimeUnixNano\":\"1700000000000000000\","
                               "\"timeUnixNano\":\"17000000%02d000000000\",", k ? "," : "", m % 100);
            attrs(b, m, k);
            if (m < 75) {
                scry_buf_printf(b, ",\"asDouble\":%d.5}", m * 1000 + k);
            } else {
                scry_buf_printf(b, ",\"count\":\"150\",\"sum\":%d.25,\"bucketCounts\":[", m * 7 + k);
                for (int j = 0; j < 15; j++)
                    scry_buf_printf(b, "%s\"10\"", j ? "," : "");
                scry_buf_puts(b, "],\"explicitBounds\":[0,5,10,25,50,75,100,250,500,750,1000,2500,5000,7500]}");
            }
        }
        scry_buf_puts(b, "]}}");
    }
    scry_buf_puts(b, "]}]}]}");
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count(void *ud, const struct scry_labels *ls, int64_t t, double v, struct scry_err *e)
{
    (void)ls, (void)t, (void)v, (void)e;
    ++*(size_t *)ud;
    return 0;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int runs = 5, iters = 200, opt;
    const char *only = NULL;
    while ((opt = getopt(argc, argv, "n:i:m:")) != -1) {
        if (opt == 'n')
            runs = atoi(optarg);
        else if (opt == 'i')
            iters = atoi(optarg);
        else if (opt == 'm')
            only = optarg;
        else
            return 2;
    }
    struct scry_buf json = { 0 };
    make_request(&json);
    struct scry_arena *a = scry_arena_create(1 << 20);
    struct col_otlp_metrics_req *r;
    struct scry_err err = { 0 };
    if (col_otlp_metrics_decode_json(a, json.p, json.len, &r, &err) != 0) {
        fprintf(stderr, "otlpbench: %s\n", err.msg);
        return 1;
    }
    size_t plen =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(r);
    uint8_t *proto = malloc(plen);
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(r, proto);
    scry_arena_reset(a);
    const size_t n_points = 100 * N_POINTS;
    struct col_otlp_translator *tr;
    col_otlp_translator_create(&tr, NULL, NULL);
    printf("request: %zu data points, %zu bytes protobuf (%.0f B/point), %zu bytes JSON\n", n_points,
           plen, (double)plen / (double)n_points, json.len);
    static const char *const modes[] = { "pbc-arena", "pbc-malloc", "json", "translate" };
    for (size_t mi = 0; mi < 4; mi++) {
        if (only && strcmp(only, modes[mi]) != 0)
            continue;
        double *t = calloc((size_t)runs, sizeof *t);
        size_t samples = 0;
        for (int run = 0; run < runs; run++) {
            double t0 = cpu_s();
            for (int i = 0; i < iters; i++) {
                if (mi == 1) {
                    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *u =
                        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
                            NULL, plen, proto);
                    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
                        u, NULL);
                    continue;
                }
                int rc = mi == 2 ? col_otlp_metrics_decode_json(a, json.p, json.len, &r, &err)
                                 : col_otlp_metrics_decode_proto(a, (const char *)proto, plen, &r, &err);
                if (rc != 0)
                    return 1;
                if (mi == 3) {
                    struct col_otlp_batch b;
                    col_otlp_batch_init(&b);
                    samples = 0;
                    col_otlp_translate(tr, a, r, count, &samples, &b, &err);
                    col_otlp_batch_fini(&b);
                }
                scry_arena_reset(a);
            }
            t[run] = (cpu_s() - t0) / iters;
        }
        qsort(t, (size_t)runs, sizeof *t, cmpd);
        double med = t[runs / 2];
        printf("%-11s %8.1f us/request %7.1f ns/data point", modes[mi], med * 1e6,
               med * 1e9 / (double)n_points);
        if (mi == 3)
            printf(" %6.1f ns/sample (%zu samples)", med * 1e9 / (double)samples, samples);
        printf("\n");
        free(t);
    }
    col_otlp_translator_destroy(tr);
    free(proto);
    scry_buf_fini(&json);
    scry_arena_destroy(a);
    return 0;
}
