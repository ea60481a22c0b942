/* expfmtbench.c — exposition parser throughput, and relabel cost per sample.
 *
 *   ninja -C build bench/expfmtbench
 *   ./build/bench/expfmtbench [testdata_dir]          # samples/s, median of 5 runs
 *   valgrind --tool=callgrind --toggle-collect=parse_once \
 *       ./build/bench/expfmtbench --once synth-text   # instructions per sample
 *
 * Bodies: the checked-in node_exporter capture (512 samples, text and
 * OpenMetrics) repeated 200 times, and a synthetic 100 000-sample body of
 * counters with 3 labels and a mix of integer, decimal and exponent values,
 * in both formats. Each run parses the whole body until 0.2 s have passed
 * and reports samples/s; we print the median of 5 runs. The relabel part
 * applies one `drop` rule on __name__ (literal, then a real regex) to a
 * 6-label builder, the per-sample work metric_relabel_configs adds. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/expfmt.h"
#include "collector/relabel.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

__attribute__((noinline)) size_t parse_once(const char *b, size_t len, enum col_expfmt_format f)
{
    struct col_expfmt_parser p;
    col_expfmt_init(&p, b, len, f);
    size_t n = 0;
    int k;
    double sink = 0;
    while ((k = col_expfmt_next(&p)) > 0) {
        if (k == COL_EXPFMT_SAMPLE) {
            n++;
            sink += p.sample.value + (double)p.sample.n_labels;
        }
    }
    if (k < 0) {
        struct scry_err err;
        col_expfmt_err(&p, &err);
        fprintf(stderr, "parse error: %s\n", err.msg);
        exit(1);
    }
    col_expfmt_fini(&p);
    return n + (sink == -1.0); /* keep the loads */
}

static void load_file(struct scry_buf *out, const char *path, int times, int om)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    struct scry_buf one = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        scry_buf_put(&one, chunk, n);
    fclose(f);
    if (om) { /* drop "# EOF\n"; it goes once at the end */
        char *eof = strstr(one.p, "# EOF");
        one.len = (size_t)(eof - one.p);
    }
    for (int i = 0; i < times; i++)
        scry_buf_put(out, one.p, one.len);
    if (om)
        scry_buf_puts(out, "# EOF\n");
    scry_buf_fini(&one);
}

static void synth(struct scry_buf *out, int om)
{
    for (int fam = 0; fam < 1000; fam++) {
        scry_buf_printf(out, "# HELP app_requests_%d_total Requests handled by handler %d.\n", fam, fam);
        scry_buf_printf(out, "# TYPE app_requests_%d_total counter\n", fam);
        for (int s = 0; s < 100; s++) {
            scry_buf_printf(out, "app_requests_%d_total{instance=\"10.0.%d.%d:9100\",job=\"node\",code=\"%d\"} ",
                            fam, fam % 256, s, 200 + s % 5);
            switch (s % 4) {
            case 0: scry_buf_printf(out, "%d\n", fam * 1000 + s); break;
            case 1: scry_buf_printf(out, "%d.%03d\n", s, fam % 1000); break;
            case 2: scry_buf_printf(out, "%d.%de+0%d\n", s % 10, fam, s % 9); break;
            default: scry_buf_printf(out, "0.%06d\n", fam * 7 + s); break;
            }
        }
    }
    if (om)
        scry_buf_puts(out, "# EOF\n");
}

struct body {
    const char *name;
    enum col_expfmt_format fmt;
    struct scry_buf b;
};

static void bench_body(struct body *x)
{
    size_t n_samples = parse_once(x->b.p, x->b.len, x->fmt);
    double rate[5];
    for (int r = 0; r < 5; r++) {
        double t0 = now_s(), t;
        size_t n = 0;
        do {
            n += parse_once(x->b.p, x->b.len, x->fmt);
            t = now_s();
        } while (t - t0 < 0.2);
        rate[r] = (double)n / (t - t0);
    }
    qsort(rate, 5, sizeof rate[0], cmp_double);
    printf("%-12s %7zu samples %8.1f KiB  %6.2f M samples/s  %7.1f MB/s  (min %.2f, max %.2f)\n",
           x->name, n_samples, (double)x->b.len / 1024, rate[2] / 1e6,
           rate[2] * (double)x->b.len / (double)n_samples / 1e6, rate[0] / 1e6, rate[4] / 1e6);
}

static void bench_relabel(const char *name, const char *rule, bool once)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml, "scrape_configs:\n- job_name: j\n  metric_relabel_configs:\n  - %s\n",
             rule);
    struct scry_config *cfg;
    struct scry_err err;
    if (scry_config_load_string("bench", yaml, strlen(yaml), &cfg, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    const struct scry_scrape_config *sc = &cfg->scrape_configs[0];
    struct col_relabel_ctx ctx;
    col_relabel_ctx_init(&ctx, sc->metric_relabel_configs, sc->n_metric_relabel_configs);
    struct scry_arena *a = scry_arena_create(0);
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, a);
    static const char *const kv[] = { "__name__", "node_cpu_seconds_total", "cpu", "3",
                                      "instance", "10.0.0.1:9100", "job", "node",
                                      "mode", "idle", "zone", "eu-1" };
    for (int i = 0; i < 12; i += 2)
        scry_labels_builder_set(&b, kv[i], kv[i + 1]);
    if (once) { /* a fixed count, for callgrind: divide its Ir by 100 000 */
        bool keep;
        for (int i = 0; i < 100000; i++)
            col_relabel_apply(&ctx, &b, &keep);
        printf("relabel %s: 100000 applications\n", name);
    }
    double ns[5];
    for (int r = 0; r < (once ? 0 : 5); r++) {
        size_t n = 0, kept = 0;
        double t0 = now_s(), t;
        do {
            for (int i = 0; i < 10000; i++) {
                bool keep;
                col_relabel_apply(&ctx, &b, &keep);
                kept += keep;
            }
            n += 10000;
            t = now_s();
        } while (t - t0 < 0.2);
        ns[r] = (t - t0) / (double)n * 1e9;
        if (kept != n)
            exit(1);
    }
    if (!once) {
        qsort(ns, 5, sizeof ns[0], cmp_double);
        printf("relabel %-28s %6.1f ns/sample\n", name, ns[2]);
    }
    col_relabel_ctx_fini(&ctx);
    scry_arena_destroy(a);
    scry_config_destroy(cfg);
}

int main(int argc, char **argv)
{
    const char *once = NULL, *dir = "tests/unit/collector/testdata";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0 && i + 1 < argc)
            once = argv[++i];
        else
            dir = argv[i];
    }
    char path[1024];
    struct body bodies[4] = {
        { "node-text", COL_EXPFMT_TEXT, { 0 } },
        { "node-om", COL_EXPFMT_OPENMETRICS, { 0 } },
        { "synth-text", COL_EXPFMT_TEXT, { 0 } },
        { "synth-om", COL_EXPFMT_OPENMETRICS, { 0 } },
    };
    snprintf(path, sizeof path, "%s/node_exporter.prom", dir);
    load_file(&bodies[0].b, path, 200, 0);
    snprintf(path, sizeof path, "%s/node_exporter.om", dir);
    load_file(&bodies[1].b, path, 200, 1);
    synth(&bodies[2].b, 0);
    synth(&bodies[3].b, 1);
    for (int i = 0; i < 4; i++) {
        if (once && strcmp(once, bodies[i].name) != 0)
            continue;
        if (once)
            printf("%s: %zu samples in one pass\n", bodies[i].name,
                   parse_once(bodies[i].b.p, bodies[i].b.len, bodies[i].fmt));
        else
            bench_body(&bodies[i]);
    }
    static const char *const rules[][2] = {
        { "no-match-literal", "{source_labels: [x], regex: 'never', action: drop}" },
        { "drop-literal", "{source_labels: [__name__], regex: 'go_gc_duration_seconds|up', action: drop}" },
        { "drop-regex", "{source_labels: [__name__], regex: 'go_.*|process_.*', action: drop}" },
        { "replace-2-sources", "{source_labels: [job, instance], regex: '(.*);(.*):9100', target_label: host, replacement: '$2'}" },
    };
    for (int i = 0; i < 4; i++)
        if (!once || strcmp(once, rules[i][0]) == 0)
            bench_relabel(rules[i][0], rules[i][1], once != NULL);
    for (int i = 0; i < 4; i++)
        scry_buf_fini(&bodies[i].b);
    return 0;
}
