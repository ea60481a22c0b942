/* Tests the head's locking: three appenders and a reader checking every
 * value, and truncate running while appenders churn series and a reader
 * selects (run under TSan and ASan). Helpers in head_fixture.h. */
#include <errno.h>
#include <ftw.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/matcher.h"
#include "core/wal.h"
#include "tsdb/head.h"
#include "tsdb/head_internal.h"
#include "head_fixture.h"

/* ---- concurrency ------------------------------------------------------------------------ */

#define C_THREADS 3
#define C_SERIES 200
#define C_ROUNDS 300

struct cworker {
    struct tsdb_head *h;
    int id;
};

static atomic_int c_done, c_failed;

/* cmocka's asserts must not run off the main thread: count failures. */
#define CCHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            atomic_fetch_add(&c_failed, 1); \
        } \
    } while (0)

static double cval(int id, int s, int64_t t) { return (double)(id * 1000 + s) + (double)t * 0.25; }

static void *c_append(void *arg)
{
    struct cworker *w = arg;
    uint64_t refs[C_SERIES] = { 0 };
    char sv[C_SERIES][16];
    char wv[8];
    snprintf(wv, sizeof wv, "w%d", w->id);
    for (int s = 0; s < C_SERIES; s++)
        snprintf(sv[s], sizeof sv[s], "%d", s);
    for (int r = 0; r < C_ROUNDS; r++) {
        struct scry_appender *app;
        CCHECK((scry_appender_begin(tsdb_head_appendable(w->h), NULL, &app, NULL)) == (0));
        for (int s = 0; s < C_SERIES; s++) {
            struct scry_label lv[3] = { { "__name__", "c" }, { "s", sv[s] }, { "w", wv } };
            struct scry_labels ls = { lv, 3 };
            int64_t t = (int64_t)r * 1000;
            CCHECK((scry_append_sample(app, &refs[s], &ls, t, cval(w->id, s, t), NULL)) == (0));
        }
        CCHECK((scry_appender_commit(app, NULL)) == (0));
    }
    atomic_fetch_add(&c_done, 1);
    return NULL;
}

static void *c_query(void *arg)
{
    struct tsdb_head *h = arg;
    size_t last_total = 0;
    int loops = 0;
    for (bool fin = false; !fin;) {
        fin = atomic_load(&c_done) == C_THREADS && loops >= 1; /* one full pass after */
        loops++;
        struct scry_querier *q;
        CCHECK((tsdb_head_querier(h, INT64_MIN, INT64_MAX, &q, NULL)) == (0));
        struct scry_series_set *ss;
        CCHECK((q->ops->select_series(q, NULL, 0, NULL, &ss, NULL)) == (0));
        size_t total = 0;
        while (ss->ops->next(ss)) {
            const struct scry_labels *ls = ss->ops->labels(ss);
            int id = scry_labels_get(ls, "w")[1] - '0', s = atoi(scry_labels_get(ls, "s"));
            struct scry_sample_iter *it = ss->ops->samples(ss);
            int64_t t, prev = -1000;
            double v;
            while (it->ops->next(it)) {
                it->ops->at(it, &t, &v);
                CCHECK(t == prev + 1000); /* no gaps, no torn samples */
                CCHECK(v == cval(id, s, t));
                prev = t;
                total++;
            }
        }
        CCHECK(total >= last_total);
        last_total = total;
        ss->ops->close(ss);
        q->ops->close(q);
    }
    CCHECK((last_total) == ((size_t)C_THREADS * C_SERIES * C_ROUNDS));
    return NULL;
}

static void test_head_concurrent_appenders_and_reader(void **state)
{
    struct tsdb_head *h = head_new(0, 0, 0);
    atomic_store(&c_done, 0);
    atomic_store(&c_failed, 0);
    pthread_t th[C_THREADS], qt;
    struct cworker w[C_THREADS];
    assert_int_equal(pthread_create(&qt, NULL, c_query, h), 0);
    for (int i = 0; i < C_THREADS; i++) {
        w[i] = (struct cworker){ h, i };
        assert_int_equal(pthread_create(&th[i], NULL, c_append, &w[i]), 0);
    }
    for (int i = 0; i < C_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_join(qt, NULL);
    assert_int_equal(atomic_load(&c_failed), 0);
    assert_int_equal(tsdb_head_series_count(h), C_THREADS * C_SERIES);
    tsdb_head_destroy(h);
}

/* Truncate while appenders churn series (new pods every 20 rounds) and a
 * reader selects: no deadlock, no use after free (ASan/TSan), and only the
 * series that stopped receiving samples are collected. */
struct gworker {
    struct tsdb_head *h;
    int id;
    atomic_int *round;
};

static void *g_append(void *arg)
{
    struct gworker *w = arg;
    char pod[32];
    for (int r = 0; r < 200; r++) {
        struct scry_appender *app;
        CCHECK(scry_appender_begin(tsdb_head_appendable(w->h), NULL, &app, NULL) == 0);
        for (int s = 0; s < 50; s++) {
            snprintf(pod, sizeof pod, "w%d-gen%d-%d", w->id, r / 20, s);
            struct scry_label lv[2] = { { "__name__", "g" }, { "pod", pod } };
            struct scry_labels ls = { lv, 2 };
            uint64_t ref = 0;
            CCHECK(scry_append_sample(app, &ref, &ls, (int64_t)r * 1000, r, NULL) == 0);
        }
        CCHECK(scry_appender_commit(app, NULL) == 0);
        atomic_store(&w->round[w->id], r);
    }
    atomic_fetch_add(&c_done, 1);
    return NULL;
}

static void *g_query(void *arg)
{
    struct tsdb_head *h = arg;
    while (atomic_load(&c_done) < 2) {
        struct scry_querier *q;
        CCHECK(tsdb_head_querier(h, INT64_MIN, INT64_MAX, &q, NULL) == 0);
        struct scry_series_set *ss;
        CCHECK(q->ops->select_series(q, NULL, 0, NULL, &ss, NULL) == 0);
        while (ss->ops->next(ss)) {
            struct scry_sample_iter *it = ss->ops->samples(ss);
            int64_t t;
            double v;
            while (it->ops->next(it)) {
                it->ops->at(it, &t, &v);
                CCHECK(v * 1000 == (double)t);
            }
        }
        ss->ops->close(ss);
        struct scry_arena *a = scry_arena_create(0);
        const char **vals;
        size_t n;
        CCHECK(q->ops->label_values(q, "pod", NULL, 0, INT64_MIN, INT64_MAX, a, &vals, &n, NULL) == 0);
        scry_arena_destroy(a);
        q->ops->close(q);
    }
    return NULL;
}

static void test_head_truncate_during_appends_and_queries(void **state)
{
    struct tsdb_head *h = head_new(0, 10, 0);
    atomic_store(&c_done, 0);
    atomic_store(&c_failed, 0);
    atomic_int round[2] = { 0, 0 }; /* rounds committed by each appender */
    struct gworker w[2] = { { h, 0, round }, { h, 1, round } };
    pthread_t th[2], qt;
    assert_int_equal(pthread_create(&qt, NULL, g_query, h), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, g_append, &w[i]), 0);
    size_t removed = 0;
    while (atomic_load(&c_done) < 2) {
        /* Below what both appenders have moved past: live series never empty. */
        int r0 = atomic_load(&round[0]), r1 = atomic_load(&round[1]);
        removed += tsdb_head_truncate(h, (int64_t)((r0 < r1 ? r0 : r1) - 30) * 1000);
        usleep(1000);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_join(qt, NULL);
    assert_int_equal(atomic_load(&c_failed), 0);
    removed += tsdb_head_truncate(h, 180 * 1000);
    /* Generations 0..8 ended by t = 179 s: all collected; generation 9 stays. */
    assert_int_equal(tsdb_head_series_count(h), 2 * 50);
    assert_int_equal(removed, 2 * 50 * 9);
    tsdb_head_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_concurrent_appenders_and_reader),
        cmocka_unit_test(test_head_truncate_during_appends_and_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
