/* flushbench.c — how long POST /api/v1/admin/tsdb/flush takes: a head full
 * of an rwgen data set cut into a persisted block (tsdb_flush).
 *
 *   flushbench RWFILE DIR [REPS]
 *
 * RWFILE from `rwgen gen` (e.g. -s 20000: 20 000 series x 480 samples at
 * 15 s). Each of REPS rounds (default 3) opens a fresh tsdb in DIR/rN
 * (DIR is created; rN must not exist), appends every sample time-major in
 * batches of 10 samples per series (as remote_write delivers them), then
 * times tsdb_flush, which is the block write, the head truncate and the WAL
 * checkpoint. The tsdb's own log lines (stderr) split the time into "head
 * cut into a block" and "WAL checkpointed". Prints each round and the
 * median; the blocks stay in DIR/rN/tsdb/blocks/ so two builds can be
 * compared (bench/blockcmp.py). Commands and numbers: bench/README.md
 * "Flush". */
#include <errno.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "bench/rwgen_read.h"
#include "core/labels.h"
#include "core/log.h"
#include "tsdb/tsdb.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct labs {
    struct scry_label (*l)[32];
    size_t *n;
};

static void ingest(struct tsdb *db, const struct dataset *d, const struct labs *lb)
{
    struct scry_err err;
    size_t max_n = 0;
    for (size_t i = 0; i < d->n_series; i++)
        if (d->s[i].n > max_n)
            max_n = d->s[i].n;
    uint64_t *refs = scry_calloc(d->n_series, sizeof *refs);
    for (size_t j = 0; j < max_n; j += 10) {
        struct scry_appender *app;
        if (scry_appender_begin(tsdb_appendable(db), NULL, &app, &err))
            die(err.msg);
        for (size_t i = 0; i < d->n_series; i++) {
            struct scry_labels ls = {lb->l[i], lb->n[i]};
            for (size_t k = j; k < j + 10 && k < d->s[i].n; k++)
                if (scry_append_sample(app, &refs[i], &ls, d->s[i].t[k], d->s[i].v[k], &err))
                    die(err.msg);
        }
        if (scry_appender_commit(app, &err))
            die(err.msg);
    }
    free(refs);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: flushbench RWFILE DIR [REPS]\n");
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    if (reps < 1 || reps > 64)
        die("REPS must be 1..64");
    struct dataset d = {0};
    load(&d, argv[1]);
    int64_t maxt = INT64_MIN;
    for (size_t i = 0; i < d.n_series; i++)
        if (d.s[i].n && d.s[i].t[d.s[i].n - 1] > maxt)
            maxt = d.s[i].t[d.s[i].n - 1];
    struct labs lb = {scry_calloc(d.n_series, sizeof *lb.l), scry_calloc(d.n_series, sizeof *lb.n)};
    for (size_t i = 0; i < d.n_series; i++)
        lb.n[i] = parse_labels(&d.s[i], lb.l[i], 32);
    if (mkdir(argv[2], 0755) && errno != EEXIST)
        die("cannot create DIR");
    struct scry_log *log = scry_log_create(2, SCRY_LOG_INFO, SCRY_LOG_LOGFMT);
    double wall[64], cpu[64];
    printf("%zu series, %" PRIu64 " samples\n", d.n_series, d.n_samples);
    for (int r = 0; r < reps; r++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/r%d", argv[2], r);
        if (mkdir(dir, 0755))
            die("cannot create DIR/rN (it must not exist)");
        int64_t clock_ms = maxt;
        struct scry_clock clk = {.now_ms = fixed_clock, .ud = &clock_ms};
        struct tsdb_opts o = {.data_dir = dir, .maintain_interval_ms = -1, .clock = &clk,
                              .log = log};
        o.storage.retention_ms = 100LL * 365 * 86400000;
        o.storage.block_duration_ms = 2 * 3600000;
        o.storage.wal_fsync = SCRY_WAL_FSYNC_NEVER;
        struct tsdb *db;
        struct scry_err err;
        if (tsdb_open(&db, &o, &err))
            die(err.msg);
        double t0 = now_s();
        ingest(db, &d, &lb);
        double t1 = now_s(), c1 = cpu_s();
        if (tsdb_flush(db, &err))
            die(err.msg);
        wall[r] = now_s() - t1;
        cpu[r] = cpu_s() - c1;
        tsdb_close(db);
        printf("round %d: ingest %.2f s, flush %.3f s wall, %.3f s CPU\n", r, t1 - t0, wall[r],
               cpu[r]);
        fflush(stdout);
    }
    qsort(wall, (size_t)reps, sizeof *wall, cmp_double);
    qsort(cpu, (size_t)reps, sizeof *cpu, cmp_double);
    printf("flush median of %d: %.3f s wall, %.3f s CPU\n", reps, wall[reps / 2], cpu[reps / 2]);
    scry_log_destroy(log);
    return 0;
}
