/* Tests query/promql_pool.c and promql_eval_prefetch.c: a set of queries
 * evaluated with one thread (no pool) and with a pool of two must give the
 * same result — labels, order, timestamps and values bit for bit, because
 * the helper only reads ahead and every evaluation step stays on the
 * query's thread — and the same error when one fails. The store is a real
 * tsdb (tsdb/): a block with the first two hours and the head with the
 * rest, so the series sets are the merged querier's over mmap'd block
 * chunks and locked head chunks. Counters with resets, gauges, histogram
 * buckets and stale markers; ~1000 series, enough for the helper to take
 * over and for many batches. The same store read one sample at a time
 * (a wrapper without next_batch) must also give the same results. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/appender.h"
#include "query/engine.h"
#include "query/promql.h"
#include "tsdb/tsdb.h"
#include "tests/unit/xorshift.h"

#define STEP_MS 15000
#define HOURS 3
#define T_END ((int64_t)HOURS * 3600 * 1000)

static char g_dir[64];
static struct tsdb *g_db;
static int64_t g_clock_ms = T_END;

static int64_t fixed_clock(void *ud) { return *(const int64_t *)ud; }
static struct scry_clock g_clk = { fixed_clock, &g_clock_ms };

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* xorshift: the same data on every run */
static uint64_t rng = 88172645463325252ULL;
static double rnd(void) { return (double)(test_xorshift(&rng) >> 11) / 9007199254740992.0; }

struct gen {
    struct scry_label lab[5];
    size_t n_lab;
    char v[4][32];
    double val;
    uint64_t ref;
    int kind;     /* 0 counter, 1 gauge, 2 bucket */
    int stale_at; /* sample index of a stale marker, or -1 */
};

static void append_range(struct gen *g, size_t n, int64_t from, int64_t to)
{
    struct scry_err err = { 0 };
    for (int64_t t0 = from; t0 < to; t0 += 10 * STEP_MS) {
        struct scry_appender *app;
        assert_int_equal(scry_appender_begin(tsdb_appendable(g_db), NULL, &app, &err), 0);
        for (size_t i = 0; i < n; i++) {
            struct scry_labels ls = { g[i].lab, g[i].n_lab };
            for (int64_t t = t0; t < t0 + 10 * STEP_MS && t < to; t += STEP_MS) {
                double v;
                if (g[i].stale_at >= 0 && t / STEP_MS == g[i].stale_at) {
                    uint64_t bits = 0x7ff0000000000002ULL;
                    memcpy(&v, &bits, sizeof v);
                } else if (g[i].kind == 1) {
                    v = g[i].val = rnd() * 100 - 50;
                } else {
                    /* counters reset now and then */
                    g[i].val = rnd() < 0.002 ? rnd() : g[i].val + rnd() * 10 * (double)(i % 7 + 1);
                    v = g[i].val;
                }
                assert_int_equal(scry_append_sample(app, &g[i].ref, &ls, t, v, &err), 0);
            }
        }
        assert_int_equal(scry_appender_commit(app, &err), 0);
    }
}

static void set(struct gen *g, const char *name, const char *k1, const char *v1, const char *k2,
                const char *v2, int kind)
{
    snprintf(g->v[0], sizeof g->v[0], "%s", v1);
    snprintf(g->v[1], sizeof g->v[1], "%s", v2);
    g->lab[0] = (struct scry_label){ "__name__", name };
    /* label names sorted: code/instance/job/le come after __name__ */
    g->lab[1] = (struct scry_label){ k1, g->v[0] };
    g->lab[2] = (struct scry_label){ k2, g->v[1] };
    g->n_lab = 3;
    g->kind = kind;
    g->stale_at = rnd() < 0.05 ? (int)(rnd() * (double)(T_END / STEP_MS)) : -1;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_pql_parallel.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    struct tsdb_opts o = { .data_dir = g_dir, .maintain_interval_ms = -1, .clock = &g_clk };
    o.storage.retention_ms = 100LL * 365 * 86400000;
    o.storage.block_duration_ms = 2 * 3600000;
    o.storage.wal_fsync = SCRY_WAL_FSYNC_NEVER;
    struct scry_err err = { 0 };
    assert_int_equal(tsdb_open(&g_db, &o, &err), 0);
    enum { N_CTR = 600, N_GAUGE = 200, N_BKT = 200, N_OLD = 60 };
    static struct gen g[N_CTR + N_GAUGE + N_BKT + N_OLD];
    static const char *const les[] = { "0.1", "0.5", "1", "5", "+Inf" };
    size_t n = 0;
    for (int i = 0; i < N_CTR; i++) {
        /* neighbours differ only in the name, so rate({__name__=~".+_total"})
         * collides once it drops the names */
        char inst[32], code[32];
        snprintf(inst, sizeof inst, "host-%d", i / 6);
        snprintf(code, sizeof code, "%d", 200 + ((i / 2) % 3) * 150);
        set(&g[n++], i % 2 ? "http_requests_total" : "errors_total", "code", code, "instance",
            inst, 0);
    }
    for (int i = 0; i < N_GAUGE; i++) {
        char inst[32], mode[32];
        snprintf(inst, sizeof inst, "host-%d", i / 4);
        snprintf(mode, sizeof mode, "m%d", i % 4);
        set(&g[n++], "temp", "instance", inst, "mode", mode, 1);
    }
    for (int i = 0; i < N_BKT; i++) {
        char inst[32];
        snprintf(inst, sizeof inst, "host-%d", i / 5);
        set(&g[n++], "lat_bucket", "instance", inst, "le", les[i % 5], 2);
    }
    /* series only in the block (their reads take the block's batch path,
     * where a series in block and head goes through the merge), a stale
     * marker in most */
    size_t n_both = n;
    for (int i = 0; i < N_OLD; i++) {
        char inst[32], code[32];
        snprintf(inst, sizeof inst, "old-%d", i / 3);
        snprintf(code, sizeof code, "%d", 200 + (i % 3) * 150);
        set(&g[n], "http_requests_total", "code", code, "instance", inst, 0);
        g[n++].stale_at = i % 4 ? (int)(rnd() * (double)(2 * 3600 * 1000 / STEP_MS)) : -1;
    }
    /* two hours into a block, the last hour in the head */
    append_range(g, n, 0, 2 * 3600 * 1000);
    assert_int_equal(tsdb_flush(g_db, &err), 0);
    append_range(g, n_both, 2 * 3600 * 1000, T_END);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tsdb_close(g_db);
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static const char *const queries[] = {
    "http_requests_total",
    "rate(http_requests_total[5m])",
    "rate(label_replace({__name__=~\".+_total\"}, \"name\", \"$1\", \"__name__\", \"(.+)\")[5m:15s])",
    "sum by (code) (rate(http_requests_total[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(lat_bucket[5m])))",
    "topk(5, sum by (instance) (rate(http_requests_total[5m])))",
    "sum by (instance) (rate(http_requests_total{code=~\"5..\"}[5m]))",
    "count by (__name__) ({__name__=~\".+\"})",
    "sum(temp)",
    "avg by (mode) (temp)",
    "max_over_time(temp[10m])",
    "min by (instance) (temp)",
    "increase({__name__=~\".+_total\"}[10m])", /* collides once names drop: bails, then fails */
    "stddev_over_time(temp[30m:1m])",
    "temp > 20",
    "sum without (code) (irate(errors_total[2m])) / 2",
};

struct res {
    int rc;
    struct scry_err err;
    struct pql_result r;
};

/* ---- the same store without next_batch ----
 * A wrapper whose sample iterators forward next/seek/at/err and have no
 * next_batch, so the engine reads one sample at a time (the per-sample
 * decoder, and its own stale-marker filter) instead of the batch paths
 * (tsdb_chunk_iter_next_n, the NaN scan of pql__read_series). */
struct one_it {
    struct scry_sample_iter it;
    struct scry_sample_iter *in;
};
struct one_set {
    struct scry_series_set ss;
    struct scry_series_set *in;
    struct one_it it;
};
struct one_q {
    struct scry_querier q;
    struct scry_querier *in;
};

static bool oi_next(struct scry_sample_iter *it) { return ((struct one_it *)it)->in->ops->next(((struct one_it *)it)->in); }
static bool oi_seek(struct scry_sample_iter *it, int64_t t)
{
    struct scry_sample_iter *in = ((struct one_it *)it)->in;
    return in->ops->seek(in, t);
}
static void oi_at(const struct scry_sample_iter *it, int64_t *t, double *v)
{
    const struct scry_sample_iter *in = ((const struct one_it *)it)->in;
    in->ops->at(in, t, v);
}
static int oi_err(const struct scry_sample_iter *it, struct scry_err *err)
{
    const struct scry_sample_iter *in = ((const struct one_it *)it)->in;
    return in->ops->err(in, err);
}
static const struct scry_sample_iter_ops one_it_ops = { oi_next, oi_seek, oi_at, oi_err, NULL };

static bool os_next(struct scry_series_set *ss) { return ((struct one_set *)ss)->in->ops->next(((struct one_set *)ss)->in); }
static const struct scry_labels *os_labels(const struct scry_series_set *ss)
{
    const struct scry_series_set *in = ((const struct one_set *)ss)->in;
    return in->ops->labels(in);
}
static struct scry_sample_iter *os_samples(struct scry_series_set *ss)
{
    struct one_set *s = (struct one_set *)ss;
    s->it = (struct one_it){ { &one_it_ops }, s->in->ops->samples(s->in) };
    return &s->it.it;
}
static int os_err(const struct scry_series_set *ss, struct scry_err *err)
{
    const struct scry_series_set *in = ((const struct one_set *)ss)->in;
    return in->ops->err(in, err);
}
static void os_close(struct scry_series_set *ss)
{
    struct one_set *s = (struct one_set *)ss;
    s->in->ops->close(s->in);
    free(s);
}
static const struct scry_series_set_ops one_set_ops = { os_next, os_labels, os_samples, os_err, os_close };

static int oq_select(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                     const struct scry_select_hints *h, struct scry_series_set **out,
                     struct scry_err *err)
{
    struct scry_querier *in = ((struct one_q *)q)->in;
    struct scry_series_set *ss;
    int rc = in->ops->select_series(in, ms, n_ms, h, &ss, err);
    if (rc != 0)
        return rc;
    struct one_set *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->ss.ops = &one_set_ops;
    s->in = ss;
    *out = &s->ss;
    return 0;
}
static void oq_close(struct scry_querier *q)
{
    struct one_q *o = (struct one_q *)q;
    o->in->ops->close(o->in);
    free(o);
}
static const struct scry_querier_ops one_q_ops = { .select_series = oq_select, .close = oq_close };

static int one_querier(struct scry_queryable *store, const char *tenant, int64_t mint, int64_t maxt,
                       struct scry_querier **out, struct scry_err *err)
{
    (void)store;
    struct scry_queryable *in = tsdb_queryable(g_db);
    struct scry_querier *q;
    int rc = in->querier(in, tenant, mint, maxt, &q, err);
    if (rc != 0)
        return rc;
    struct one_q *o = calloc(1, sizeof *o);
    assert_non_null(o);
    o->q.ops = &one_q_ops;
    o->in = q;
    *out = &o->q;
    return 0;
}
static struct scry_queryable g_one_store = { one_querier };

static void eval_on(struct scry_queryable *store, struct pql_pool *pool, struct scry_arena *a,
                    const char *q, int64_t step, uint64_t max_samples, struct res *out)
{
    struct pql_expr *e;
    memset(out, 0, sizeof *out);
    assert_int_equal(pql_parse(a, q, strlen(q), &e, &out->err), 0);
    struct pql_engine_opts o = { .pool = pool, .max_samples = max_samples };
    out->rc = pql_eval_range(&o, store, e, 600000, T_END, step, a, &out->r, &out->err);
    pql_expr_fini(e);
}

static void eval(struct pql_pool *pool, struct scry_arena *a, const char *q, int64_t step,
                 uint64_t max_samples, struct res *out)
{
    eval_on(tsdb_queryable(g_db), pool, a, q, step, max_samples, out);
}

static void assert_same(const char *q, const struct res *x, const struct res *y)
{
    if (x->rc != y->rc || (x->rc && strcmp(x->err.msg, y->err.msg) != 0))
        fail_msg("%s: rc %d \"%s\" vs %d \"%s\"", q, x->rc, x->err.msg, y->rc, y->err.msg);
    if (x->rc)
        return;
    assert_int_equal(x->r.type, y->r.type);
    assert_int_equal(x->r.n_series, y->r.n_series);
    assert_int_equal(x->r.n_warnings, y->r.n_warnings);
    for (size_t i = 0; i < x->r.n_series; i++) {
        const struct pql_out_series *a = &x->r.series[i], *b = &y->r.series[i];
        if (!scry_labels_equal(&a->labels, &b->labels))
            fail_msg("%s: series %zu has other labels", q, i);
        assert_int_equal(a->n_points, b->n_points);
        for (size_t k = 0; k < a->n_points; k++) {
            assert_int_equal(a->points[k].t_ms, b->points[k].t_ms);
            /* bit for bit: the same folds in the same order */
            if (memcmp(&a->points[k].v, &b->points[k].v, sizeof(double)) != 0)
                fail_msg("%s: series %zu point %zu: %.17g vs %.17g", q, i, k, a->points[k].v,
                         b->points[k].v);
        }
    }
}

static void test_promql_parallel_same_results(void **state)
{
    (void)state;
    struct pql_pool *pool;
    struct scry_err err = { 0 };
    assert_int_equal(pql_pool_create(&pool, 2, &err), 0);
    assert_non_null(pool);
    struct scry_arena *a1 = scry_arena_create(0), *a2 = scry_arena_create(0);
    size_t n_nonempty = 0;
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        static const int64_t steps[] = { 15000, 60000 };
        for (size_t k = 0; k < 2; k++) {
            struct res x, y;
            eval(NULL, a1, queries[i], steps[k], 0, &x);
            eval(pool, a2, queries[i], steps[k], 0, &y);
            assert_same(queries[i], &x, &y);
            n_nonempty += x.rc == 0 && x.r.n_series > 0;
            scry_arena_reset(a1);
            scry_arena_reset(a2);
        }
    }
    assert_true(n_nonempty >= 26); /* the comparisons compared something */
    /* and the helper did the reading, not only the query's thread */
    assert_true(pql_pool_jobs(pool) >= 20);
    scry_arena_destroy(a1);
    scry_arena_destroy(a2);
    pql_pool_destroy(pool);
}

/* The batch read paths (the block's tsdb_chunk_iter_next_n, the NaN scan
 * that lets a batch without stale markers through whole) against one
 * sample at a time, on data with stale markers and counter resets. */
static void test_promql_batch_vs_per_sample(void **state)
{
    (void)state;
    struct scry_arena *a1 = scry_arena_create(0), *a2 = scry_arena_create(0);
    size_t n_nonempty = 0;
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        static const int64_t steps[] = { 15000, 60000 };
        for (size_t k = 0; k < 2; k++) {
            struct res x, y;
            eval(NULL, a1, queries[i], steps[k], 0, &x);
            eval_on(&g_one_store, NULL, a2, queries[i], steps[k], 0, &y);
            assert_same(queries[i], &x, &y);
            n_nonempty += x.rc == 0 && x.r.n_series > 0;
            scry_arena_reset(a1);
            scry_arena_reset(a2);
        }
    }
    assert_true(n_nonempty >= 26);
    scry_arena_destroy(a1);
    scry_arena_destroy(a2);
}

/* max_samples trips partway through the series, where the helper has
 * already read ahead: the same error, and nothing leaks. */
static void test_promql_parallel_same_errors(void **state)
{
    (void)state;
    struct pql_pool *pool;
    struct scry_err err = { 0 };
    assert_int_equal(pql_pool_create(&pool, 2, &err), 0);
    struct scry_arena *a = scry_arena_create(0);
    static const uint64_t limits[] = { 5000, 50000, 200000 };
    for (size_t i = 0; i < 3; i++) {
        struct res x, y;
        eval(NULL, a, "rate(http_requests_total[5m])", 15000, limits[i], &x);
        eval(pool, a, "rate(http_requests_total[5m])", 15000, limits[i], &y);
        assert_int_equal(x.rc, SCRY_ELIMIT);
        assert_same("max_samples", &x, &y);
        scry_arena_reset(a);
    }
    scry_arena_destroy(a);
    pql_pool_destroy(pool);
}

/* Queries at once on a pool with one helper: whoever finds it idle gets
 * it, the others run alone; all give the single-threaded answer. */
struct conc {
    struct pql_pool *pool;
    const char *q;
    struct res want;
    bool ok;
};

static void *conc_run(void *ud)
{
    struct conc *c = ud;
    struct scry_arena *a = scry_arena_create(0);
    c->ok = true;
    for (int r = 0; r < 3 && c->ok; r++) {
        struct res y;
        eval(c->pool, a, c->q, 15000, 0, &y);
        c->ok = y.rc == 0 && y.r.n_series == c->want.r.n_series;
        for (size_t i = 0; c->ok && i < y.r.n_series; i++)
            c->ok = y.r.series[i].n_points == c->want.r.series[i].n_points &&
                    memcmp(y.r.series[i].points, c->want.r.series[i].points,
                           y.r.series[i].n_points * sizeof(struct pql_point)) == 0;
        scry_arena_reset(a);
    }
    scry_arena_destroy(a);
    return NULL;
}

static void test_promql_parallel_concurrent_queries(void **state)
{
    (void)state;
    struct pql_pool *pool;
    struct scry_err err = { 0 };
    assert_int_equal(pql_pool_create(&pool, 2, &err), 0);
    struct scry_arena *a = scry_arena_create(0);
    struct conc c[3] = { { pool, queries[1], { 0 }, false },
                         { pool, queries[3], { 0 }, false },
                         { pool, queries[10], { 0 }, false } };
    pthread_t tid[3];
    for (int i = 0; i < 3; i++) {
        eval(NULL, a, c[i].q, 15000, 0, &c[i].want);
        assert_int_equal(c[i].want.rc, 0);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&tid[i], NULL, conc_run, &c[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(tid[i], NULL);
        assert_true(c[i].ok);
    }
    scry_arena_destroy(a);
    pql_pool_destroy(pool);
}

static void test_promql_parallel_pool_sizes(void **state)
{
    (void)state;
    struct pql_pool *pool = (struct pql_pool *)&pool;
    struct scry_err err = { 0 };
    /* one thread: no pool at all, the engine runs as before */
    assert_int_equal(pql_pool_create(&pool, 1, &err), 0);
    assert_null(pool);
    pql_pool_destroy(NULL);
    unsigned d = pql_pool_default_threads();
    assert_true(d >= 1 && d <= 16);
    assert_int_equal(pql_pool_create(&pool, 0, &err), 0);
    assert_true(d == 1 ? pool == NULL : pool != NULL);
    pql_pool_destroy(pool);
    assert_int_equal(pql_pool_create(NULL, 2, &err), SCRY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promql_parallel_same_results),
        cmocka_unit_test(test_promql_parallel_same_errors),
        cmocka_unit_test(test_promql_batch_vs_per_sample),
        cmocka_unit_test(test_promql_parallel_concurrent_queries),
        cmocka_unit_test(test_promql_parallel_pool_sizes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
