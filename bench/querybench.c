/* querybench.c — PromQL range queries over the peer benchmark's data set:
 * evaluation and the HTTP API's JSON encoding, per query.
 *
 *   querybench load RWFILE DIR
 *       RWFILE from `rwgen gen`; appends every sample to a tsdb in DIR
 *       (which must not exist) and flushes the head into a block. With
 *       QUERYBENCH_HEAD_TAIL=MIN the last MIN minutes are appended after
 *       the flush and stay in the head (WAL), as on a running server.
 *   querybench run DIR QUERIES [ID [STEP_S [REPS]]]
 *       QUERIES is shared/bench/peers/queries.txt ("ID  PromQL" lines).
 *       Every query (or only ID) runs as a range query over the data set's
 *       whole range aligned to minutes, as peerbench.sh does, at a 15 s and a
 *       60 s step (or only STEP_S), REPS times (default 5); prints the median
 *       of the evaluation (pql_eval_range) and of the encoding
 *       (pql__api_write_result into a buffer), the series, points and bytes.
 *
 * `run` with one ID, one step and REPS=1 is what callgrind gets (README.md).
 * The query phase's peak RSS is `/usr/bin/time -v querybench run ...`.
 * QUERYBENCH_DUMP=DIR writes each response to DIR/ID.STEP.json (to compare
 * the bytes of two builds). QUERYBENCH_THREADS=N evaluates with a pool of N
 * threads (pql_pool_create; default 1: no pool). cpu_s is the evaluation's
 * user+sys time summed over all threads, qcpu_s the query's own thread's
 * alone: on a loaded machine, where wall time says little, qcpu_s is the
 * critical path and cpu_s - qcpu_s what a helper did beside it. */
#include <inttypes.h>
#include <time.h>

#include "bench/rwgen_read.h"
#include "core/arena.h"
#include "core/json.h"
#include "core/labels.h"
#include "query/api_prom_internal.h"
#include "query/engine.h"
#include "query/promql.h"
#include "tsdb/tsdb.h"

static struct tsdb *open_db(const char *dir, int64_t *clock_ms, struct scry_clock *clk, bool ro)
{
    struct tsdb_opts o = {.data_dir = dir, .maintain_interval_ms = -1, .clock = clk, .read_only = ro};
    o.storage.retention_ms = 100LL * 365 * 86400000;
    o.storage.block_duration_ms = 2 * 3600000;
    o.storage.wal_fsync = SCRY_WAL_FSYNC_NEVER;
    clk->now_ms = fixed_clock;
    clk->ud = clock_ms;
    struct tsdb *db;
    struct scry_err err;
    if (tsdb_open(&db, &o, &err))
        die(err.msg);
    return db;
}

/* Appends the samples with lo < t <= hi, time-major, in batches, as the
 * remote_write sender delivers them. */
static void append_range(struct tsdb *db, const struct dataset *d, uint64_t *refs,
                         struct scry_label (*labs)[32], const size_t *n_labs, int64_t lo,
                         int64_t hi)
{
    struct scry_err err;
    size_t max_n = 0;
    for (size_t i = 0; i < d->n_series; i++)
        if (d->s[i].n > max_n)
            max_n = d->s[i].n;
    for (size_t j = 0; j < max_n; j += 10) {
        struct scry_appender *app;
        if (scry_appender_begin(tsdb_appendable(db), NULL, &app, &err))
            die(err.msg);
        for (size_t i = 0; i < d->n_series; i++) {
            struct scry_labels ls = {labs[i], n_labs[i]};
            for (size_t k = j; k < j + 10 && k < d->s[i].n; k++)
                if (d->s[i].t[k] > lo && d->s[i].t[k] <= hi &&
                    scry_append_sample(app, &refs[i], &ls, d->s[i].t[k], d->s[i].v[k], &err))
                    die(err.msg);
        }
        if (scry_appender_commit(app, &err))
            die(err.msg);
    }
}

static int cmd_load(const char *file, const char *dir)
{
    struct dataset d = {0};
    load(&d, file);
    int64_t mint = INT64_MAX, maxt = INT64_MIN;
    for (size_t i = 0; i < d.n_series; i++) {
        if (d.s[i].n && d.s[i].t[0] < mint)
            mint = d.s[i].t[0];
        if (d.s[i].n && d.s[i].t[d.s[i].n - 1] > maxt)
            maxt = d.s[i].t[d.s[i].n - 1];
    }
    int64_t clock_ms = maxt;
    struct scry_clock clk;
    struct tsdb *db = open_db(dir, &clock_ms, &clk, false);
    struct scry_err err;
    double t0 = now_s();
    uint64_t *refs = scry_calloc(d.n_series, sizeof *refs);
    struct scry_label (*labs)[32] = scry_calloc(d.n_series, sizeof *labs);
    size_t *n_labs = scry_calloc(d.n_series, sizeof *n_labs);
    for (size_t i = 0; i < d.n_series; i++)
        n_labs[i] = parse_labels(&d.s[i], labs[i], 32);
    /* QUERYBENCH_HEAD_TAIL=MIN: the last MIN minutes stay in the head (and
     * its WAL) instead of the block, as on a running server, so every
     * series is read from both (tsdb/querier_merge.c). */
    const char *tail = getenv("QUERYBENCH_HEAD_TAIL");
    int64_t cut = tail ? maxt - atoll(tail) * 60000 : maxt;
    append_range(db, &d, refs, labs, n_labs, INT64_MIN, cut);
    double t1 = now_s();
    if (tsdb_flush(db, &err))
        die(err.msg);
    double t2 = now_s();
    if (cut < maxt) {
        memset(refs, 0, d.n_series * sizeof *refs); /* the flush may drop them */
        append_range(db, &d, refs, labs, n_labs, cut, maxt);
    }
    free(refs);
    free(labs);
    free(n_labs);
    tsdb_close(db);
    char path[4096];
    snprintf(path, sizeof path, "%s/querybench.range", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the range file");
    fprintf(f, "%" PRId64 " %" PRId64 "\n", mint, maxt);
    fclose(f);
    printf("loaded %zu series, %" PRIu64 " samples in %.2f s, flushed in %.2f s; range %" PRId64
           "..%" PRId64 "\n",
           d.n_series, d.n_samples, t1 - t0, t2 - t1, mint, maxt);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* CPU time of the calling thread only, seconds */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void run_one(struct scry_queryable *store, struct pql_pool *pool, const char *id,
                    const char *q, int64_t start, int64_t end, int64_t step, int reps)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_buf b = {0};
    double te[64], tj[64], tc[64], tm[64];
    size_t n_series = 0, n_points = 0, bytes = 0;
    if (reps > 64)
        reps = 64;
    for (int r = 0; r < reps; r++) {
        struct pql_expr *e;
        struct scry_err err;
        if (pql_parse(a, q, strlen(q), &e, &err))
            die(err.msg);
        struct pql_engine_opts o = { .pool = pool };
        struct pql_result res;
        double c0 = cpu_s(), m0 = thread_cpu_s(), t0 = now_s();
        if (pql_eval_range(&o, store, e, start, end, step, a, &res, &err)) {
            fprintf(stderr, "%s: %s\n", id, err.msg);
            exit(1);
        }
        double t1 = now_s();
        tm[r] = thread_cpu_s() - m0;
        tc[r] = cpu_s() - c0;
        scry_buf_reset(&b);
        struct scry_json j;
        scry_json_init(&j, &b);
        scry_json_obj_begin(&j);
        scry_json_key(&j, "status");
        scry_json_str(&j, "success");
        scry_json_key(&j, "data");
        pql__api_write_result(&j, &res);
        scry_json_obj_end(&j);
        double t2 = now_s();
        te[r] = t1 - t0;
        tj[r] = t2 - t1;
        n_series = res.n_series;
        n_points = 0;
        for (size_t k = 0; k < res.n_series; k++)
            n_points += res.series[k].n_points;
        bytes = b.len;
        const char *dump = getenv("QUERYBENCH_DUMP"); /* DIR: the JSON of each query goes there */
        if (dump && r == 0) {
            char path[4096];
            int pn = snprintf(path, sizeof path, "%s/%s.%" PRId64 ".json", dump, id, step / 1000);
            FILE *f = pn > 0 && (size_t)pn < sizeof path ? fopen(path, "w") : NULL;
            if (!f || fwrite(b.p, 1, b.len, f) != b.len)
                die("cannot write the dump");
            fclose(f);
        }
        pql_expr_fini(e);
        scry_arena_reset(a);
    }
    double me = median(te, reps), mj = median(tj, reps), mc = median(tc, reps),
           mm = median(tm, reps);
    printf("%-14s %3" PRId64 "s %9.4f %9.4f %9.4f %7zu %8zu %10zu %9.4f %9.4f\n", id, step / 1000,
           me, mj, me + mj, n_series, n_points, bytes, mc, mm);
    fflush(stdout);
    scry_buf_fini(&b);
    scry_arena_destroy(a);
}

static int cmd_run(const char *dir, const char *qfile, const char *only, int64_t only_step, int reps)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/querybench.range", dir);
    FILE *f = fopen(path, "r");
    int64_t mint, maxt;
    if (!f || fscanf(f, "%" SCNd64 " %" SCNd64, &mint, &maxt) != 2)
        die("no querybench.range in DIR: run `querybench load` first");
    fclose(f);
    int64_t clock_ms = maxt;
    struct scry_clock clk;
    /* read-only: several runs (callgrind beside a timing run) may share DIR */
    struct tsdb *db = open_db(dir, &clock_ms, &clk, true);
    /* peerbench.sh: whole minutes inside the data's range */
    int64_t qs = (mint / 1000 + 59) / 60 * 60 * 1000, qe = maxt / 1000 / 60 * 60 * 1000;
    FILE *qf = fopen(qfile, "r");
    if (!qf)
        die("cannot open the queries file");
    const char *th = getenv("QUERYBENCH_THREADS");
    struct pql_pool *pool = NULL;
    struct scry_err err;
    if (pql_pool_create(&pool, th ? (unsigned)atoi(th) : 1, &err) != 0)
        die(err.msg);
    printf("%-14s %4s %9s %9s %9s %7s %8s %10s %9s %9s\n", "query", "step", "eval_s", "encode_s",
           "total_s", "series", "points", "bytes", "cpu_s", "qcpu_s");
    char line[4096];
    while (fgets(line, sizeof line, qf)) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        char *id = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        *p++ = 0;
        while (*p == ' ' || *p == '\t')
            p++;
        p[strcspn(p, "\n")] = 0;
        if (only && *only && strcmp(only, id) != 0)
            continue;
        static const int64_t steps[] = {15000, 60000};
        for (size_t k = 0; k < 2; k++)
            if (!only_step || only_step == steps[k])
                run_one(tsdb_queryable(db), pool, id, p, qs, qe, steps[k], reps);
    }
    fclose(qf);
    pql_pool_destroy(pool);
    tsdb_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "load") == 0)
        return cmd_load(argv[2], argv[3]);
    if (argc >= 4 && argc <= 7 && strcmp(argv[1], "run") == 0)
        return cmd_run(argv[2], argv[3], argc > 4 ? argv[4] : NULL,
                       argc > 5 ? atoll(argv[5]) * 1000 : 0, argc > 6 ? atoi(argv[6]) : 5);
    fprintf(stderr, "usage: querybench load RWFILE DIR\n"
                    "       querybench run DIR QUERIES [ID [STEP_S [REPS]]]\n");
    return 2;
}
