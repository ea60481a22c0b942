/* logqlbench — LogQL over a loggen corpus loaded into the real log store.
 *
 *   logqlbench PUSHFILE [ROUNDS]
 *
 * PUSHFILE is loggen's push output (-p): SHARD\tENTRIES\tBYTES\t{json}. The
 * entries are appended to a log store in a temp dir and flushed into one
 * segment; then each query runs ROUNDS times (default 5) and the median
 * wall time is printed with the entries/lines it touched. Results in
 * bench/README.md ("LogQL"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/json_read.h"
#include "core/timeparse.h"
#include "logstore/logstore.h"
#include "query/logql.h"

/* CPU seconds of this process: the machine is shared, wall time is noise. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int load(struct ls_store *st, const char *path, int64_t *first, int64_t *last,
                uint64_t *n_entries)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    *first = INT64_MAX;
    *last = INT64_MIN;
    while ((len = getline(&line, &cap, f)) > 0) {
        char *js = line;
        for (int tabs = 0; tabs < 3 && js; tabs++)
            js = strchr(js, '\t') ? strchr(js, '\t') + 1 : NULL;
        if (!js)
            continue;
        struct scry_arena *a = scry_arena_create(0);
        struct scry_jval *root;
        struct scry_err err = { 0 };
        if (scry_json_parse(a, js, strlen(js), NULL, &root, &err)) {
            fprintf(stderr, "json: %s\n", err.msg);
            return -1;
        }
        const struct scry_jval *streams = scry_jval_get(root, "streams");
        struct scry_appender *app;
        scry_appender_begin(ls_appendable(st), NULL, &app, NULL);
        for (size_t i = 0; i < scry_jval_len(streams); i++) {
            const struct scry_jval *s = scry_jval_at(streams, i);
            const struct scry_jval *lbl = scry_jval_get(s, "stream");
            struct scry_labels_builder b;
            scry_labels_builder_init(&b, a);
            for (size_t k = 0; k < lbl->n; k++)
                scry_labels_builder_set(&b, lbl->u.obj[k].key.p, lbl->u.obj[k].val.u.s);
            struct scry_labels ls = scry_labels_builder_labels(&b);
            const struct scry_jval *vals = scry_jval_get(s, "values");
            uint64_t ref = 0;
            for (size_t k = 0; k < scry_jval_len(vals); k++) {
                const struct scry_jval *v = scry_jval_at(vals, k);
                struct scry_log_entry e = { 0 };
                scry_jval_int64(scry_jval_at(v, 0), &e.t_ns);
                struct scry_str ln;
                scry_jval_str(scry_jval_at(v, 1), &ln);
                e.line = ln;
                if (scry_append_log(app, &ref, &ls, &e, NULL) == 0) {
                    (*n_entries)++;
                    *first = e.t_ns < *first ? e.t_ns : *first;
                    *last = e.t_ns > *last ? e.t_ns : *last;
                }
            }
        }
        if (scry_appender_commit(app, &err)) {
            fprintf(stderr, "commit: %s\n", err.msg);
            return -1;
        }
        scry_arena_destroy(a);
    }
    free(line);
    fclose(f);
    return 0;
}

static void run(struct ls_store *st, const char *q, int64_t start, int64_t end, int rounds)
{
    double *t = calloc((size_t)rounds, sizeof *t);
    struct lql_result r = { 0 };
    size_t n_out = 0;
    for (int i = 0; i < rounds; i++) {
        struct scry_arena *a = scry_arena_create(0);
        struct lql_expr *e;
        struct scry_err err = { 0 };
        if (lql_parse(a, q, strlen(q), &e, &err)) {
            fprintf(stderr, "%s: %s\n", q, err.msg);
            exit(1);
        }
        struct lql_opts o = { 0 };
        double t0 = cpu_s();
        int rc = lql_is_log(e)
                     ? lql_eval_logs(&o, ls_queryable(st), e, start, end + 1, 100, true, a, &r, &err)
                     : lql_eval_metric(&o, ls_queryable(st), e, start, end, 60000000000LL, false,
                                       a, &r, &err);
        t[i] = cpu_s() - t0;
        if (rc) {
            fprintf(stderr, "%s: %s\n", q, err.msg);
            exit(1);
        }
        n_out = 0;
        for (size_t k = 0; k < r.n_streams; k++)
            n_out += r.streams[k].n_entries;
        n_out += r.n_series;
        lql_expr_fini(e);
        scry_arena_destroy(a);
    }
    qsort(t, (size_t)rounds, sizeof *t, cmp_d);
    printf("%-95s %8.2f ms CPU  lines scanned %8llu  (%.1f M lines/s)  out %zu\n", q,
           t[rounds / 2] * 1e3, (unsigned long long)r.lines_processed,
           (double)r.lines_processed / t[rounds / 2] / 1e6, n_out);
    free(t);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: logqlbench PUSHFILE [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    char dir[] = "/tmp/logqlbench_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    struct ls_opts o = { .data_dir = dir, .wal_fsync = SCRY_WAL_FSYNC_NEVER };
    struct ls_store *st;
    struct scry_err err = { 0 };
    if (ls_open(&st, &o, &err)) {
        fprintf(stderr, "ls_open: %s\n", err.msg);
        return 1;
    }
    int64_t first, last;
    uint64_t n = 0;
    double t0 = scry_mono_s();
    if (load(st, argv[1], &first, &last, &n))
        return 1;
    if (ls_flush(st, &err)) {
        fprintf(stderr, "flush: %s\n", err.msg);
        return 1;
    }
    printf("loaded %llu entries in %.2f s (one segment)\n", (unsigned long long)n,
           scry_mono_s() - t0);
    static const char *const queries[] = {
        /* a bare word may be part of a longer token: no required tokens, a scan */
        "{job=~\".+\"} |= \"zqx1e3needle\"",
        /* delimited inside the literal: required token, chunks pruned */
        "{job=~\".+\"} |= \"=zqx1e3needle\\\"\"",
        "{job=~\".+\"} |= \"zqx1e5needle\"",
        "{app=\"api-gateway\"} |= \"level=error\"",
        "sum by (status) (count_over_time({app=\"api-gateway\"} | logfmt [1m]))",
        "sum by (status) (count_over_time({app=~\"api-gateway|orders|auth\"} | logfmt [1m]))",
        "sum by (level) (count_over_time({job=~\".+\"} | drop __error__ [1m]))",
        "sum by (status) (rate({app=\"nginx\"} | pattern \"<_> - - [<_>] \\\"<_>\\\" <status> <_>\" [1m]))",
    };
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
        run(st, queries[i], first, last, rounds);
    ls_close(st);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) != 0;
}
