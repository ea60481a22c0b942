/* headbench.c — the head's ingest speed and memory per series.
 *
 *   ninja -C build bench/headbench
 *   ./build/bench/headbench [-n series] [-s samples] [-t threads] [-w waldir]
 *                           [-j jitter_ms] [-select] [-callgrind]
 *
 * Ingest: n series (default 100 000) in targets of 1 000 (one appender per
 * target per round, refs cached like a scrape loop) × s rounds (default 480:
 * 2 h at 15 s) of node_exporter-like values: 40 % constant, 20 % integer
 * gauges (memory bytes), 20 % integer counters (bytes), 10 % float counters
 * with two decimals (cpu seconds), 10 % small float gauges (load).
 * Timestamps are 15 s apart plus 0..j ms of jitter per target (default 2).
 * Reports samples per CPU-second and per wall-second (also without the
 * generator's own CPU, measured by running its loop again without the
 * head), and peak RSS per
 * series: VmHWM after ingest minus VmRSS before the head was created (the
 * label strings of the generator are in the baseline), divided by n.
 * With -w the head logs to a WAL in that directory (fsync never).
 *
 * -select: n series (use 1 000 000) with one sample each, then times
 * select {__name__="node_metric_07", job="node"} (n/100 series) — the
 * "10k of 1M by two matchers" target — median of 21 runs, set iterated.
 * -callgrind: no timing output, small defaults (n 2000), for
 *   valgrind --tool=callgrind ./build/bench/headbench -callgrind */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/matcher.h"
#include "core/wal.h"
#include "tsdb/head.h"

#define PER_TARGET 1000
#define STEP_MS 15000

struct gen {
    struct scry_label (*lv)[4];
    uint64_t *ref;
    double *v;
    uint64_t *rng;
    size_t n;
};

static double now_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0)
            kb = atol(line + kl + 1);
    if (f)
        fclose(f);
    return kb;
}

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int kind(size_t i) { return (int)((i * 2654435761u >> 8) % 10); }

static double next_value(struct gen *g, size_t i)
{
    double v = g->v[i];
    uint64_t r = xs(&g->rng[i]);
    switch (kind(i)) {
    case 0: case 1: case 2: case 3: return v;                       /* constant */
    case 4: case 5: return v + (double)((int)(r % 2001) - 1000) * 4096; /* memory bytes */
    case 6: case 7: return v + (double)(r % 100000);                /* byte counter */
    case 8: return round((v + (double)(r % 1500) / 100) * 100) / 100; /* cpu seconds */
    default: return (double)(r % 400) / 100;                         /* load */
    }
}

static void gen_init(struct gen *g, size_t n, struct scry_arena *a)
{
    g->n = n;
    g->lv = calloc(n, sizeof *g->lv);
    g->ref = calloc(n, sizeof *g->ref);
    g->v = calloc(n, sizeof *g->v);
    g->rng = calloc(n, sizeof *g->rng);
    char *names[100];
    for (int i = 0; i < 100; i++)
        names[i] = scry_arena_printf(a, "node_metric_%02d", i);
    static const char *const cpus[] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" };
    char *inst = NULL;
    for (size_t i = 0; i < n; i++) {
        if (i % PER_TARGET == 0) {
            size_t tg = i / PER_TARGET;
            inst = scry_arena_printf(a, "10.%zu.%zu.%zu:9100", tg >> 16 & 255, tg >> 8 & 255,
                                     tg & 255);
        }
        /* sorted: __name__ < cpu < instance < job */
        g->lv[i][0] = (struct scry_label){ "__name__", names[i % 100] };
        g->lv[i][1] = (struct scry_label){ "cpu", cpus[(i / 100) % 10] };
        g->lv[i][2] = (struct scry_label){ "instance", inst };
        g->lv[i][3] = (struct scry_label){ "job", "node" };
        g->rng[i] = i * 0x9e3779b97f4a7c15ull + 1;
        int k = kind(i);
        g->v[i] = k < 2 ? 1 : k < 4 ? 8.0e9 + (double)(i % 7) * 4096 : k < 6 ? 4.0e9 : k < 8 ? 1e6 : k == 8 ? 12345.67 : 0.5;
    }
}

struct worker {
    struct tsdb_head *h;
    struct gen *g;
    size_t t_from, t_to; /* targets */
    size_t rounds;
    int64_t jitter_ms;
    uint64_t appended;
    int dry; /* generate only: the generator's own cost, to subtract */
};

static void *ingest(void *arg)
{
    struct worker *w = arg;
    struct gen *g = w->g;
    struct scry_err err;
    for (size_t r = 0; r < w->rounds; r++) {
        for (size_t tg = w->t_from; tg < w->t_to; tg++) {
            struct scry_appender *app = NULL;
            if (!w->dry)
                scry_appender_begin(tsdb_head_appendable(w->h), NULL, &app, NULL);
            int64_t t = 1700000000000ll + (int64_t)r * STEP_MS +
                        (w->jitter_ms ? (int64_t)((tg * 7 + r * 13) % (uint64_t)(w->jitter_ms + 1)) : 0);
            size_t from = tg * PER_TARGET, to = from + PER_TARGET < g->n ? from + PER_TARGET : g->n;
            for (size_t i = from; i < to; i++) {
                struct scry_labels ls = { g->lv[i], 4 };
                g->v[i] = next_value(g, i);
                if (w->dry) {
                    __asm__ volatile("" : : "r"(&ls), "r"(t) : "memory");
                    w->appended++;
                } else if (scry_append_sample(app, &g->ref[i], &ls, t, g->v[i], &err) == 0) {
                    w->appended++;
                }
            }
            if (!w->dry && scry_appender_commit(app, &err)) {
                fprintf(stderr, "commit: %s\n", err.msg);
                exit(1);
            }
        }
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench_select(struct tsdb_head *h, size_t n)
{
    struct scry_matcher ms[2];
    scry_matcher_init(&ms[0], SCRY_MATCH_EQ, "__name__", "node_metric_07", NULL);
    scry_matcher_init(&ms[1], SCRY_MATCH_EQ, "job", "node", NULL);
    double d[21], c[21], sel[21];
    int loops = getenv("HEADBENCH_SELECT_LOOPS") ? atoi(getenv("HEADBENCH_SELECT_LOOPS")) : 1;
    for (int l = 1; l < loops; l++) { /* for profiles */
        struct scry_querier *q;
        tsdb_head_querier(h, INT64_MIN, INT64_MAX, &q, NULL);
        struct scry_series_set *ss;
        q->ops->select_series(q, ms, 2, NULL, &ss, NULL);
        ss->ops->close(ss);
        q->ops->close(q);
    }
    size_t got = 0;
    for (int k = 0; k < 21; k++) {
        double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
        struct scry_querier *q;
        tsdb_head_querier(h, INT64_MIN, INT64_MAX, &q, NULL);
        struct scry_series_set *ss;
        q->ops->select_series(q, ms, 2, NULL, &ss, NULL);
        sel[k] = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        got = 0;
        while (ss->ops->next(ss)) {
            struct scry_sample_iter *it = ss->ops->samples(ss);
            while (it->ops->next(it))
                ;
            got++;
        }
        ss->ops->close(ss);
        q->ops->close(q);
        d[k] = now_s(CLOCK_MONOTONIC) - t0;
        c[k] = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    }
    qsort(d, 21, sizeof *d, cmp_d);
    qsort(c, 21, sizeof *c, cmp_d);
    qsort(sel, 21, sizeof *sel, cmp_d);
    printf("select 2 matchers + iterate: %zu of %zu series, median %.2f ms wall (min %.2f, max "
           "%.2f), %.2f ms CPU (select alone %.2f ms CPU)\n", got, n, d[10] * 1e3, d[0] * 1e3,
           d[20] * 1e3, c[10] * 1e3, sel[10] * 1e3);
    scry_matcher_fini(&ms[0]);
    scry_matcher_fini(&ms[1]);
}

int main(int argc, char **argv)
{
    size_t n = 100000, rounds = 480;
    int threads = 1;
    int64_t jitter = 2;
    const char *waldir = NULL;
    int sel = 0, cg = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            rounds = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-j") && i + 1 < argc)
            jitter = atoll(argv[++i]);
        else if (!strcmp(argv[i], "-w") && i + 1 < argc)
            waldir = argv[++i];
        else if (!strcmp(argv[i], "-select"))
            sel = 1;
        else if (!strcmp(argv[i], "-callgrind"))
            cg = 1;
        else {
            fprintf(stderr, "usage: %s [-n series] [-s samples] [-t threads] [-w waldir] "
                            "[-j jitter_ms] [-select] [-callgrind]\n", argv[0]);
            return 2;
        }
    }
    if (cg && n == 100000)
        n = 2000;
    if (sel)
        rounds = 1;
    struct scry_arena *a = scry_arena_create(0);
    struct gen g;
    gen_init(&g, n, a);
    long base_kb = status_kb("VmRSS:");

    struct tsdb_head *h;
    if (tsdb_head_create(&h, &(struct tsdb_head_opts){ 0 }, NULL))
        return 1;
    struct scry_wal *wal = NULL;
    if (waldir) {
        struct scry_err err;
        struct scry_wal_opts wo = { .fsync = SCRY_WAL_FSYNC_NEVER };
        if (scry_wal_open(&wal, waldir, &wo, &err)) {
            fprintf(stderr, "wal: %s\n", err.msg);
            return 1;
        }
        tsdb_head_set_wal(h, wal);
    }
    size_t n_targets = (n + PER_TARGET - 1) / PER_TARGET;
    struct worker w[16];
    pthread_t th[16];
    if (threads < 1 || threads > 16)
        threads = 1;
    double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC);
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){ h, &g, n_targets * (size_t)i / (size_t)threads,
                                n_targets * (size_t)(i + 1) / (size_t)threads, rounds, jitter, 0, 0 };
        pthread_create(&th[i], NULL, ingest, &w[i]);
    }
    uint64_t appended = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        appended += w[i].appended;
    }
    double cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = now_s(CLOCK_MONOTONIC) - w0;
    long hwm_kb = status_kb("VmHWM:");
    /* The same loop without the head: what the generator itself costs. */
    double gen_cpu = 0;
    if (!cg) {
        struct worker dw = { h, &g, 0, n_targets, rounds, jitter, 0, 1 };
        double d0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        ingest(&dw);
        gen_cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - d0;
    }
    if (!cg) {
        struct tsdb_head_stats st;
        tsdb_head_stats(h, &st);
        printf("series %zu, samples %llu (%zu per series), threads %d, wal %s, jitter %lld ms\n",
               n, (unsigned long long)appended, rounds, threads, waldir ? "on" : "off",
               (long long)jitter);
        printf("ingest: %.2f M samples/CPU-s, %.2f M samples/s wall (cpu %.2f s, wall %.2f s)\n",
               (double)appended / cpu / 1e6, (double)appended / wall / 1e6, cpu, wall);
        printf("ingest without the generator's %.2f CPU-s: %.2f M samples/CPU-s in the head\n",
               gen_cpu, (double)appended / (cpu - gen_cpu) / 1e6);
        printf("memory: peak RSS %.0f bytes/series (VmHWM %ld kB - baseline %ld kB)\n",
               (double)(hwm_kb - base_kb) * 1024 / (double)n, hwm_kb, base_kb);
        printf("head: %llu sealed chunks, %.1f bytes/sealed sample, open buffers %.0f bytes/series, "
               "%.2f bytes/sample overall in chunks\n",
               (unsigned long long)st.chunks,
               st.chunks ? (double)st.chunk_bytes / (double)(st.samples - 0) : 0.0,
               (double)st.open_bytes / (double)n,
               (double)(st.chunk_bytes + st.open_bytes) / (double)st.samples);
        if (sel)
            bench_select(h, n);
    }
    tsdb_head_destroy(h);
    if (wal)
        scry_wal_close(wal, NULL);
    free(g.lv);
    free(g.ref);
    free(g.v);
    free(g.rng);
    scry_arena_destroy(a);
    return 0;
}
