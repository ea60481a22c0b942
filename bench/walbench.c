/* walbench.c — WAL append+commit throughput per fsync policy and thread
 * count, and the size of tsdb SAMPLES records.
 *
 *   ninja -C build bench/walbench && ./build/bench/walbench [dir] [seconds] [record_bytes]
 *
 * Each run opens a fresh WAL under dir (default /tmp), and every thread
 * loops append(one record) + commit for `seconds` (default 1): the worst
 * case of one commit per request; bigger batches only get faster. A
 * 500-sample scrape is one SAMPLES record of about 2.7 KB: pass 2700. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/wal.h"
#include "tsdb/wal_record.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct worker {
    struct scry_wal *w;
    size_t rec_bytes;
    double until;
    unsigned long long n;
};

static void *work(void *arg)
{
    struct worker *k = arg;
    unsigned char *p = malloc(k->rec_bytes);
    memset(p, 'x', k->rec_bytes);
    while (now_s() < k->until) {
        for (int i = 0; i < 64; i++) {
            if (scry_wal_append(k->w, 2, p, k->rec_bytes, NULL) != 0 ||
                scry_wal_commit(k->w, NULL) != 0) {
                fprintf(stderr, "walbench: append/commit failed\n");
                exit(1);
            }
            k->n++;
        }
    }
    free(p);
    return NULL;
}

static void run(const char *root, enum scry_wal_fsync fs, const char *name, int threads,
                double secs, size_t rec_bytes)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/walbench-%d-%s-%d", root, (int)getpid(), name, threads);
    struct scry_wal_opts o = { .fsync = fs };
    struct scry_wal *w;
    struct scry_err err = { 0 };
    if (scry_wal_open(&w, dir, &o, &err) != 0) {
        fprintf(stderr, "walbench: %s\n", err.msg);
        exit(1);
    }
    pthread_t th[8];
    struct worker k[8];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        k[i] = (struct worker){ .w = w, .rec_bytes = rec_bytes, .until = t0 + secs };
        pthread_create(&th[i], NULL, work, &k[i]);
    }
    unsigned long long n = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        n += k[i].n;
    }
    double dt = now_s() - t0;
    struct scry_wal_stats st;
    scry_wal_stats(w, &st);
    scry_wal_close(w, NULL);
    printf("%-8s threads=%d  %10.0f commits/s  %7.1f MB/s  fsyncs=%llu writes=%llu "
           "(%.2f commits/fsync)\n",
           name, threads, (double)n / dt, (double)st.record_bytes / dt / 1e6,
           (unsigned long long)st.fsyncs, (unsigned long long)st.writes,
           st.fsyncs ? (double)st.commits / (double)st.fsyncs : 0.0);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "walbench: could not remove %s\n", dir);
}

/* 500 node-exporter-like series x 10 scrapes at 15 s, in scrape order. */
static void samples_size(void)
{
    enum { S = 500, K = 10 };
    struct tsdb_wal_sample *s = malloc(sizeof *s * S * K);
    size_t n = 0;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < S; i++) {
            double v;
            switch (i % 5) {
            case 0: v = round((1000 + i * 7.5 + k * 14.93) * 100) / 100; break; /* cpu seconds */
            case 1: v = 1.2e10 + i * 4096.0 + k * 123456.0; break;              /* bytes */
            case 2: v = (double)(i % 2); break;                                  /* up, flags */
            case 3: v = round((0.4 + i * 0.01 + k * 0.03) * 100) / 100; break;  /* load */
            default: v = 1e6 + i * 31.0 + k * 17.0; break;                       /* counts */
            }
            s[n++] = (struct tsdb_wal_sample){ (uint64_t)(1000 + i), 1700000000000 + k * 15000, v };
        }
    struct scry_buf b = { 0 };
    tsdb_wal_samples_encode(&b, s, n);
    printf("SAMPLES one record of %zu: %zu bytes + 9 header = %.2f bytes/sample "
           "(Prometheus WAL ~7.7)\n", n, b.len, (double)(b.len + 9) / (double)n);
    size_t one = 0;
    for (int k = 0; k < K; k++) { /* one record per scrape, as the head commits */
        scry_buf_reset(&b);
        tsdb_wal_samples_encode(&b, s + (size_t)k * S, S);
        one += b.len + 9;
    }
    printf("SAMPLES one record per scrape (%d x %d): %.2f bytes/sample\n", K, S,
           (double)one / (double)n);
    struct scry_arena *a = scry_arena_create(0);
    double t0 = now_s();
    int reps = 200;
    for (int r = 0; r < reps; r++) {
        scry_buf_reset(&b);
        tsdb_wal_samples_encode(&b, s, n);
    }
    double t1 = now_s();
    for (int r = 0; r < reps; r++) {
        struct tsdb_wal_sample *out;
        size_t m;
        scry_arena_reset(a);
        tsdb_wal_samples_decode(b.p, b.len, a, &out, &m, NULL);
    }
    double t2 = now_s();
    printf("SAMPLES encode %.0f ns/sample, decode %.0f ns/sample\n",
           (t1 - t0) / reps / (double)n * 1e9, (t2 - t1) / reps / (double)n * 1e9);
    scry_arena_destroy(a);
    scry_buf_fini(&b);
    free(s);
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : "/tmp";
    double secs = argc > 2 ? atof(argv[2]) : 1.0;
    size_t rec = argc > 3 ? (size_t)atol(argv[3]) : 100;
    printf("walbench: dir=%s %.1f s per run, %zu-byte records, one record per commit\n", root,
           secs, rec);
    const struct { enum scry_wal_fsync fs; const char *name; } pol[] = {
        { SCRY_WAL_FSYNC_NEVER, "never" },
        { SCRY_WAL_FSYNC_INTERVAL, "interval" },
        { SCRY_WAL_FSYNC_ALWAYS, "always" },
    };
    for (size_t p = 0; p < 3; p++)
        for (int t = 1; t <= 2; t++)
            run(root, pol[p].fs, pol[p].name, t, secs, rec);
    run(root, SCRY_WAL_FSYNC_ALWAYS, "always", 8, secs, rec); /* group commit at work */
    samples_size();
    return 0;
}
