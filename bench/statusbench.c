/* statusbench — the cost of tsdb_head_status (GET /api/v1/status/tsdb) over
 * a head of N series with 4 labels each (__name__ of 500 values, a unique
 * id, 50 instances, one job), next to tsdb_head_stats, the other
 * O(series) walk. Prints the best of R runs of each, in ms.
 *   build/bench/statusbench [series=100000] [runs=7]
 * bench/README.md "Head status". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tsdb/head.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000, runs = argc > 2 ? atoi(argv[2]) : 7;
    struct tsdb_head *h;
    struct scry_appender *app;
    if (tsdb_head_create(&h, &(struct tsdb_head_opts){ 0 }, NULL) != 0 ||
        scry_appender_begin(tsdb_head_appendable(h), NULL, &app, NULL) != 0)
        return 1;
    char m[32], inst[32], id[32];
    for (int i = 0; i < n; i++) {
        snprintf(m, sizeof m, "metric_%d", i % 500);
        snprintf(inst, sizeof inst, "host%d:9100", i % 50);
        snprintf(id, sizeof id, "%d", i);
        struct scry_label l[] = { { "__name__", m }, { "id", id }, { "instance", inst },
                                  { "job", "node" } };
        struct scry_labels ls = { l, 4 };
        uint64_t ref = 0;
        if (scry_append_sample(app, &ref, &ls, 1000, 1, NULL) != 0)
            return 1;
    }
    if (scry_appender_commit(app, NULL) != 0)
        return 1;
    double best = 1e9, best_stats = 1e9;
    struct tsdb_status st = { 0 };
    for (int r = 0; r < runs; r++) {
        struct scry_arena *a = scry_arena_create(0);
        double t = now_s();
        tsdb_head_status(h, 10, a, &st);
        t = now_s() - t;
        best = t < best ? t : best;
        scry_arena_destroy(a);
        struct tsdb_head_stats hs;
        t = now_s();
        tsdb_head_stats(h, &hs);
        t = now_s() - t;
        best_stats = t < best_stats ? t : best_stats;
    }
    printf("series %llu pairs %llu: tsdb_head_status %.2f ms, tsdb_head_stats %.2f ms (best of %d)\n",
           (unsigned long long)st.num_series, (unsigned long long)st.num_label_pairs, best * 1e3,
           best_stats * 1e3, runs);
    tsdb_head_destroy(h);
    return 0;
}
