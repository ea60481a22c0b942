/* jsonbench.c — scry_json_parse throughput on OTLP-metrics-like JSON.
 *
 *   ninja -C build bench/jsonbench && ./build/bench/jsonbench [-m MB] [-r runs] [-f file] [-c] [-w]
 *
 * Generates a compact OTLP/JSON ExportMetricsServiceRequest of about MB
 * megabytes (default 10) with the writer: resources with attributes, gauges
 * and sums whose data points carry 3 attributes, a "timeUnixNano" string and
 * an "asDouble" (half small decimals, half full-precision doubles), and
 * histograms with string bucket counts — the shape OTel SDKs send. Or -f
 * parses a file instead. Prints MB/s, the median of `runs` (default 5)
 * parses into a fresh arena each, and the DOM bytes per input byte.
 *
 * Each run parses into a fresh arena ("cold": the kernel faults in every
 * DOM page, which on a loaded VM costs as much as parsing); -w reuses one
 * big arena ("warm"), a long-lived ingest worker's steady state.
 *
 * -c: callgrind mode. Generates, then parses exactly once without timing, so
 *   valgrind --tool=callgrind --toggle-collect=scry_json_parse ./jsonbench -c
 * profiles the parser alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/json_read.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long rng = 88172645463325252ull;

static unsigned long long rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void attr(struct scry_json *j, const char *k, const char *v)
{
    scry_json_obj_begin(j);
    scry_json_key(j, "key");
    scry_json_str(j, k);
    scry_json_key(j, "value");
    scry_json_obj_begin(j);
    scry_json_key(j, "stringValue");
    scry_json_str(j, v);
    scry_json_obj_end(j);
    scry_json_obj_end(j);
}

static void u64str(struct scry_json *j, unsigned long long v)
{
    char t[24];
    snprintf(t, sizeof t, "%llu", v);
    scry_json_str(j, t);
}

static void data_point(struct scry_json *j, unsigned long long t_ns, int i)
{
    static const char *methods[] = { "GET", "POST", "PUT", "DELETE" };
    char route[32], code[8];
    snprintf(route, sizeof route, "/api/v1/items/%d", i % 50);
    snprintf(code, sizeof code, "%d", 200 + (int)(rnd() % 5) * 100);
    scry_json_obj_begin(j);
    scry_json_key(j, "attributes");
    scry_json_arr_begin(j);
    attr(j, "http.request.method", methods[rnd() % 4]);
    attr(j, "http.route", route);
    attr(j, "http.response.status_code", code);
    scry_json_arr_end(j);
    scry_json_key(j, "startTimeUnixNano");
    u64str(j, t_ns - 60000000000ull);
    scry_json_key(j, "timeUnixNano");
    u64str(j, t_ns);
    scry_json_key(j, "asDouble");
    if (rnd() % 2)
        scry_json_double(j, (double)(rnd() % 1000000) / 100.0);
    else
        scry_json_double(j, (double)rnd() / 3.0e9);
    scry_json_obj_end(j);
}

static void histogram(struct scry_json *j, unsigned long long t_ns)
{
    static const double bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
    size_t nb = sizeof bounds / sizeof bounds[0];
    scry_json_key(j, "histogram");
    scry_json_obj_begin(j);
    scry_json_key(j, "aggregationTemporality");
    scry_json_int(j, 2);
    scry_json_key(j, "dataPoints");
    scry_json_arr_begin(j);
    for (int p = 0; p < 4; p++) {
        scry_json_obj_begin(j);
        scry_json_key(j, "attributes");
        scry_json_arr_begin(j);
        attr(j, "http.route", p % 2 ? "/cart" : "/checkout");
        scry_json_arr_end(j);
        scry_json_key(j, "startTimeUnixNano");
        u64str(j, t_ns - 60000000000ull);
        scry_json_key(j, "timeUnixNano");
        u64str(j, t_ns);
        scry_json_key(j, "count");
        u64str(j, rnd() % 100000);
        scry_json_key(j, "sum");
        scry_json_double(j, (double)(rnd() % 10000000) / 1000.0);
        scry_json_key(j, "bucketCounts");
        scry_json_arr_begin(j);
        for (size_t b = 0; b <= nb; b++)
            u64str(j, rnd() % 5000);
        scry_json_arr_end(j);
        scry_json_key(j, "explicitBounds");
        scry_json_arr_begin(j);
        for (size_t b = 0; b < nb; b++)
            scry_json_double(j, bounds[b]);
        scry_json_arr_end(j);
        scry_json_obj_end(j);
    }
    scry_json_arr_end(j);
    scry_json_obj_end(j);
}

static void metric(struct scry_json *j, int m, unsigned long long t_ns)
{
    char name[64];
    snprintf(name, sizeof name, "app.requests.metric_%d", m);
    scry_json_obj_begin(j);
    scry_json_key(j, "name");
    scry_json_str(j, name);
    scry_json_key(j, "description");
    scry_json_str(j, "Measures the duration of inbound HTTP requests.");
    scry_json_key(j, "unit");
    scry_json_str(j, m % 3 ? "1" : "s");
    if (m % 5 == 4) {
        histogram(j, t_ns);
    } else {
        scry_json_key(j, m % 2 ? "sum" : "gauge");
        scry_json_obj_begin(j);
        if (m % 2) {
            scry_json_key(j, "aggregationTemporality");
            scry_json_int(j, 2);
            scry_json_key(j, "isMonotonic");
            scry_json_bool(j, true);
        }
        scry_json_key(j, "dataPoints");
        scry_json_arr_begin(j);
        for (int i = 0; i < 8; i++)
            data_point(j, t_ns, m * 8 + i);
        scry_json_arr_end(j);
        scry_json_obj_end(j);
    }
    scry_json_obj_end(j);
}

static void generate(struct scry_buf *b, size_t target)
{
    struct scry_json j;
    scry_json_init(&j, b);
    unsigned long long t_ns = 1700000000000000000ull;
    scry_json_obj_begin(&j);
    scry_json_key(&j, "resourceMetrics");
    scry_json_arr_begin(&j);
    for (int r = 0; b->len < target; r++) {
        char svc[32], inst[48];
        snprintf(svc, sizeof svc, "service-%d", r % 20);
        snprintf(inst, sizeof inst, "%08llx-%04x-host", rnd() & 0xffffffffull, r);
        scry_json_obj_begin(&j);
        scry_json_key(&j, "resource");
        scry_json_obj_begin(&j);
        scry_json_key(&j, "attributes");
        scry_json_arr_begin(&j);
        attr(&j, "service.name", svc);
        attr(&j, "service.instance.id", inst);
        attr(&j, "telemetry.sdk.language", "go");
        scry_json_arr_end(&j);
        scry_json_obj_end(&j);
        scry_json_key(&j, "scopeMetrics");
        scry_json_arr_begin(&j);
        scry_json_obj_begin(&j);
        scry_json_key(&j, "scope");
        scry_json_obj_begin(&j);
        scry_json_key(&j, "name");
        scry_json_str(&j, "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp");
        scry_json_key(&j, "version");
        scry_json_str(&j, "0.49.0");
        scry_json_obj_end(&j);
        scry_json_key(&j, "metrics");
        scry_json_arr_begin(&j);
        for (int m = 0; m < 20; m++)
            metric(&j, m, t_ns + (unsigned long long)r * 1000);
        scry_json_arr_end(&j);
        scry_json_obj_end(&j);
        scry_json_arr_end(&j);
        scry_json_obj_end(&j);
    }
    scry_json_arr_end(&j);
    scry_json_obj_end(&j);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    struct scry_buf b = { 0 };
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        scry_buf_put(&b, tmp, n);
    fclose(f);
    *len = b.len;
    return scry_buf_take(&b);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
    double mb = 10;
    int runs = 5, opt;
    const char *file = NULL;
    int callgrind = 0, warm_arena = 0;
    while ((opt = getopt(argc, argv, "m:r:f:cw")) != -1) {
        switch (opt) {
        case 'm': mb = atof(optarg); break;
        case 'r': runs = atoi(optarg); break;
        case 'f': file = optarg; break;
        case 'c': callgrind = 1; break;
        case 'w': warm_arena = 1; break;
        default:
            fprintf(stderr, "usage: jsonbench [-m MB] [-r runs] [-f file] [-c] [-w]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 1000)
        runs = 5;
    size_t len;
    char *doc;
    if (file) {
        doc = read_file(file, &len);
    } else {
        struct scry_buf b = { 0 };
        generate(&b, (size_t)(mb * 1e6));
        len = b.len;
        doc = scry_buf_take(&b);
    }
    if (callgrind)
        runs = 1;
    double *mbs = calloc((size_t)runs, sizeof *mbs);
    size_t dom_bytes = 0;
    /* -w: one arena whose first block holds the whole DOM, reset between
     * runs — a long-lived ingest worker's steady state, no page faults. */
    struct scry_arena *warm = NULL;
    if (warm_arena) {
        warm = scry_arena_create(len * 5 + (1 << 20));
        struct scry_jval *v;
        if (scry_json_parse(warm, doc, len, NULL, &v, NULL) != 0)
            return 1;
    }
    for (int r = 0; r < runs; r++) {
        struct scry_arena *a = warm ? warm : scry_arena_create(0);
        if (warm)
            scry_arena_reset(warm);
        struct scry_jval *v;
        struct scry_err err = { 0 };
        double t0 = now_s();
        int rc = scry_json_parse(a, doc, len, NULL, &v, &err);
        double t = now_s() - t0;
        if (rc != 0) {
            fprintf(stderr, "jsonbench: %d:%d: %s\n", err.line, err.col, err.msg);
            return 1;
        }
        mbs[r] = (double)len / 1e6 / t;
        dom_bytes = scry_arena_used(a);
        if (!warm)
            scry_arena_destroy(a);
    }
    scry_arena_destroy(warm);
    if (!callgrind) {
        qsort(mbs, (size_t)runs, sizeof *mbs, cmp_double);
        printf("jsonbench: %zu bytes, %s arena, %d runs: median %.0f MB/s (min %.0f, max %.0f), "
               "arena %.2f bytes per input byte\n",
               len, warm ? "warm" : "cold", runs, mbs[runs / 2], mbs[0], mbs[runs - 1], (double)dom_bytes / (double)len);
    }
    free(mbs);
    free(doc);
    return 0;
}
