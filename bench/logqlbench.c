/* logqlbench — LogQL over a loggen corpus loaded into the real log store.
 *
 *   logqlbench [-d DIR] [-q QUERYFILE] [-t FIRST_NS,LAST_NS] PUSHFILE|- [ROUNDS]
 *
 * PUSHFILE is loggen's push output (-p): SHARD\tENTRIES\tBYTES\t{json}. The
 * entries are appended to a log store (a temp dir, or DIR, kept) and flushed
 * into one segment; with -d DIR holding segments already and PUSHFILE "-",
 * nothing is loaded and -t gives the data's time range. Then each query
 * (built-in ones, or QUERYFILE: one per line, optionally prefixed "log ",
 * "range " or "instant ") runs ROUNDS times (default 5) and the median CPU
 * and wall time are printed with the lines it read and the sum of all
 * result values (to compare builds). Results in bench/README.md. */
#include <inttypes.h>
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

static uint64_t log_limit = 100; /* -l */

/* What a query line asks for: a log query (limit -l, 100, backward), a range
 * metric query (step 1 m) or an instant one at the end. */
enum kind { K_AUTO, K_LOG, K_RANGE, K_INSTANT };

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(struct ls_store *st, enum kind k, const char *q, int64_t start, int64_t end,
                int rounds)
{
    double *t = calloc((size_t)rounds, sizeof *t), *w = calloc((size_t)rounds, sizeof *w);
    struct lql_result r = { 0 };
    size_t n_out = 0;
    double total = 0;
    for (int i = 0; i < rounds; i++) {
        struct scry_arena *a = scry_arena_create(0);
        struct lql_expr *e;
        struct scry_err err = { 0 };
        if (lql_parse(a, q, strlen(q), &e, &err)) {
            fprintf(stderr, "%s: %s\n", q, err.msg);
            exit(1);
        }
        struct lql_opts o = { 0 };
        if (k == K_AUTO)
            k = lql_is_log(e) ? K_LOG : K_RANGE;
        double t0 = cpu_s(), w0 = wall_s();
        int rc = k == K_LOG ? lql_eval_logs(&o, ls_queryable(st), e, start, end + 1, log_limit,
                                            true, a, &r, &err)
                 : k == K_RANGE
                     ? lql_eval_metric(&o, ls_queryable(st), e, start, end, 60000000000LL,
                                       false, a, &r, &err)
                     : lql_eval_metric(&o, ls_queryable(st), e, end + 1000000000LL,
                                       end + 1000000000LL, 0, true, a, &r, &err);
        t[i] = cpu_s() - t0;
        w[i] = wall_s() - w0;
        if (rc) {
            fprintf(stderr, "%s: %s\n", q, err.msg);
            exit(1);
        }
        n_out = 0;
        total = 0;
        for (size_t s = 0; s < r.n_streams; s++)
            n_out += r.streams[s].n_entries;
        n_out += r.n_series;
        for (size_t s = 0; s < r.n_series; s++)
            for (size_t p = 0; p < r.series[s].n_points; p++)
                total += r.series[s].points[p].v;
        lql_expr_fini(e);
        scry_arena_destroy(a);
    }
    qsort(t, (size_t)rounds, sizeof *t, cmp_d);
    qsort(w, (size_t)rounds, sizeof *w, cmp_d);
    printf("%-95s %8.2f ms CPU %8.2f ms wall  lines scanned %8llu  (%.1f M lines/CPU-s)  out "
           "%zu  sum %.17g\n",
           q, t[rounds / 2] * 1e3, w[rounds / 2] * 1e3, (unsigned long long)r.lines_processed,
           (double)r.lines_processed / t[rounds / 2] / 1e6, n_out, total);
    fflush(stdout);
    free(t);
    free(w);
}

static const char *const default_queries[] = {
    /* a bare word may be part of a longer token: containment lookup */
    "{job=~\".+\"} |= \"zqx1e3needle\"",
    /* delimited inside the literal */
    "{job=~\".+\"} |= \"=zqx1e3needle\\\"\"",
    "{job=~\".+\"} |= \"zqx1e5needle\"",
    "{app=\"api-gateway\"} |= \"level=error\"",
    "sum by (status) (count_over_time({app=\"api-gateway\"} | logfmt [1m]))",
    "sum by (status) (count_over_time({app=~\"api-gateway|orders|auth\"} | logfmt [1m]))",
    "sum by (level) (count_over_time({job=~\".+\"} | drop __error__ [1m]))",
    "sum by (status) (rate({app=\"nginx\"} | pattern \"<_> - - [<_>] \\\"<_>\\\" <status> <_>\" [1m]))",
};

static void usage(void)
{
    fprintf(stderr, "usage: logqlbench [-d DIR] [-q QUERYFILE] [-t FIRST_NS,LAST_NS] [-l LIMIT] "
                    "PUSHFILE|- [ROUNDS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *keep = NULL, *qfile = NULL;
    int64_t first = INT64_MAX, last = INT64_MIN;
    int opt;
    while ((opt = getopt(argc, argv, "d:q:t:l:")) != -1) {
        switch (opt) {
        case 'd': keep = optarg; break;
        case 'q': qfile = optarg; break;
        case 'l': log_limit = strtoull(optarg, NULL, 10); break;
        case 't':
            if (sscanf(optarg, "%" SCNd64 ",%" SCNd64, &first, &last) != 2)
                usage();
            break;
        default: usage();
        }
    }
    if (optind >= argc)
        usage();
    const char *push = argv[optind];
    int rounds = optind + 1 < argc ? atoi(argv[optind + 1]) : 5;
    if (rounds < 1)
        rounds = 1;
    char tmp[] = "/tmp/logqlbench_XXXXXX";
    const char *dir = keep;
    if (!dir && !(dir = mkdtemp(tmp)))
        return 1;
    struct ls_opts o = { .data_dir = dir, .wal_fsync = SCRY_WAL_FSYNC_NEVER };
    struct ls_store *st;
    struct scry_err err = { 0 };
    if (ls_open(&st, &o, &err)) {
        fprintf(stderr, "ls_open: %s\n", err.msg);
        return 1;
    }
    struct ls_stats ss;
    ls_stats(st, &ss);
    if (ss.segments == 0 || strcmp(push, "-")) {
        if (!strcmp(push, "-")) {
            fprintf(stderr, "%s holds no segment: give a push file\n", dir);
            return 1;
        }
        uint64_t n = 0;
        double t0 = scry_mono_s();
        if (load(st, push, &first, &last, &n))
            return 1;
        if (ls_flush(st, &err)) {
            fprintf(stderr, "flush: %s\n", err.msg);
            return 1;
        }
        printf("loaded %llu entries in %.2f s (one segment); -t %lld,%lld\n",
               (unsigned long long)n, scry_mono_s() - t0, (long long)first, (long long)last);
    } else if (first > last) {
        fprintf(stderr, "%s: give the time range of the data with -t\n", dir);
        return 1;
    }
    if (qfile) {
        FILE *f = fopen(qfile, "r");
        if (!f) {
            perror(qfile);
            return 1;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) > 0) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = 0;
            if (!len || line[0] == '#')
                continue;
            enum kind k = K_AUTO;
            const char *q = line;
            if (!strncmp(line, "log ", 4))
                k = K_LOG, q += 4;
            else if (!strncmp(line, "range ", 6))
                k = K_RANGE, q += 6;
            else if (!strncmp(line, "instant ", 8))
                k = K_INSTANT, q += 8;
            run(st, k, q, first, last, rounds);
        }
        free(line);
        fclose(f);
    } else {
        for (size_t i = 0; i < sizeof default_queries / sizeof default_queries[0]; i++)
            run(st, K_AUTO, default_queries[i], first, last, rounds);
    }
    ls_close(st);
    if (keep)
        return 0;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) != 0;
}
