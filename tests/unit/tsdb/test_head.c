/* Tests tsdb/head*.c: append/select round trips, out-of-order and
 * duplicate semantics, WAL replay after a crash and a failing WAL, truncate
 * with garbage collection, the chunk set, and an allocation check of the
 * steady-state append path. The model-based test is in test_head_model.c,
 * the threaded ones in test_head_concurrent.c; helpers in head_fixture.h. */
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

/* ---- round trip ------------------------------------------------------------- */

static void test_head_append_select_round_trip(void **state)
{
    struct tsdb_head *h = head_new(0, 0, 0);
    struct scry_labels a = L({ "__name__", "up" }, { "job", "node" });
    struct scry_labels b = L({ "__name__", "up" }, { "job", "api" });
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(tsdb_head_appendable(h), NULL, &app, NULL), 0);
    uint64_t ra = 0, rb = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(scry_append_sample(app, &ra, &a, i * 15000, i, NULL), 0);
        assert_int_equal(scry_append_sample(app, &rb, &b, i * 15000, -i, NULL), 0);
    }
    assert_true(ra != 0 && rb != 0 && ra != rb);
    /* Not visible before commit. */
    struct got *g = malloc(sizeof *g);
    select_all(h, NULL, 0, INT64_MIN, INT64_MAX, g);
    assert_int_equal(g->n_series, 0);
    assert_int_equal(scry_appender_commit(app, NULL), 0);
    assert_int_equal(tsdb_head_series_count(h), 2);

    struct scry_matcher m;
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_EQ, "job", "node", NULL), 0);
    select_all(h, &m, 1, 15000 * 100, 15000 * 199, g);
    assert_int_equal(g->n_series, 1);
    assert_string_equal(g->names[0], "up{job=\"node\"}");
    assert_int_equal(g->n, 100);
    for (int i = 0; i < 100; i++) {
        assert_true(g->t[i] == (int64_t)(100 + i) * 15000);
        assert_true(g->v[i] == 100 + i);
    }
    scry_matcher_fini(&m);
    /* Sorted by label set: api before node. */
    select_all(h, NULL, 0, 0, 0, g);
    assert_int_equal(g->n_series, 2);
    assert_string_equal(g->names[0], "up{job=\"api\"}");

    struct tsdb_head_stats st;
    tsdb_head_stats(h, &st);
    assert_int_equal(st.series, 2);
    assert_int_equal(st.samples, 2000);
    assert_int_equal(st.chunks, 2 * 8); /* 1000 = 8 sealed x 120 + 40 open */
    assert_true(st.mint_ms == 0 && st.maxt_ms == 999 * 15000);
    free(g);
    tsdb_head_destroy(h);
}

/* ---- out of order and duplicates --------------------------------------------------- */

static void test_head_out_of_order_and_duplicates(void **state)
{
    struct scry_metrics *reg = scry_metrics_create();
    struct tsdb_head *h;
    struct tsdb_head_opts o = { .out_of_order_window_ms = 10000, .metrics = reg };
    assert_int_equal(tsdb_head_create(&h, &o, NULL), 0);
    struct scry_labels a = L({ "__name__", "x" });
    struct scry_err err;
    assert_int_equal(append1(h, &a, 100000, 1, NULL), 0);
    assert_int_equal(append1(h, &a, 100000, 1, NULL), 0); /* identical: ignored */
    assert_int_equal(append1(h, &a, 100000, 2, &err), SCRY_EINVAL);
    assert_non_null(strstr(err.msg, "duplicate sample for timestamp"));
    assert_int_equal(append1(h, &a, 95000, 5, NULL), 0);  /* in the window */
    assert_int_equal(append1(h, &a, 95000, 5, NULL), 0);  /* duplicate of an OOO sample */
    assert_int_equal(append1(h, &a, 95000, 6, &err), SCRY_EINVAL);
    assert_int_equal(append1(h, &a, 89999, 5, &err), SCRY_EINVAL); /* outside: early */
    assert_non_null(strstr(err.msg, "out of order sample"));
    /* NaN payloads compare by bits: the staleness marker is not a plain NaN. */
    assert_int_equal(append1(h, &a, 110000, tsdb__bitsf(0x7ff0000000000002ull), NULL), 0);
    assert_int_equal(append1(h, &a, 110000, tsdb__bitsf(0x7ff0000000000002ull), NULL), 0);
    assert_int_equal(append1(h, &a, 110000, NAN, &err), SCRY_EINVAL);

    /* A batch with one bad sample commits the rest. */
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(tsdb_head_appendable(h), NULL, &app, NULL), 0);
    uint64_t ref = 0;
    assert_int_equal(scry_append_sample(app, &ref, &a, 120000, 7, NULL), 0);
    assert_int_equal(scry_append_sample(app, &ref, &a, 120000, 8, NULL), 0);
    assert_int_equal(scry_append_sample(app, &ref, &a, 130000, 9, NULL), 0);
    assert_int_equal(scry_appender_commit(app, &err), SCRY_EINVAL);
    assert_non_null(strstr(err.msg, "1 of 3 samples rejected"));

    struct got *g = malloc(sizeof *g);
    select_all(h, NULL, 0, INT64_MIN, INT64_MAX, g);
    assert_int_equal(g->n, 5);
    static const int64_t wt[] = { 95000, 100000, 110000, 120000, 130000 };
    for (int i = 0; i < 5; i++)
        assert_true(g->t[i] == wt[i]);
    assert_true(g->v[0] == 5 && g->v[1] == 1 && g->v[3] == 7 && g->v[4] == 9);
    free(g);

    struct tsdb_head_stats st;
    tsdb_head_stats(h, &st);
    assert_int_equal(st.out_of_order, 1);
    assert_int_equal(st.duplicates_ignored, 3);
    assert_int_equal(st.duplicates_rejected, 4);
    assert_int_equal(st.ooo_samples, 1);
    struct scry_buf b = { 0 };
    scry_metrics_render(reg, &b);
    assert_non_null(strstr(b.p, "scry_tsdb_out_of_order_samples_total 1"));
    assert_non_null(strstr(b.p, "scry_tsdb_duplicate_samples_total{result=\"rejected\"} 4"));
    scry_buf_fini(&b);
    tsdb_head_destroy(h);
    scry_metrics_destroy(reg);
}

static void test_head_rejects_bad_labels_and_unknown_refs(void **state)
{
    struct tsdb_head *h = head_new(0, 0, 0);
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(tsdb_head_appendable(h), NULL, &app, NULL), 0);
    uint64_t ref = 0;
    struct scry_labels bad = L({ "b", "1" }, { "a", "2" }); /* unsorted */
    assert_int_equal(scry_append_sample(app, &ref, &bad, 1, 1, NULL), SCRY_EINVAL);
    struct scry_labels empty = { NULL, 0 };
    assert_int_equal(scry_append_sample(app, &ref, &empty, 1, 1, NULL), SCRY_EINVAL);
    ref = 999;
    assert_int_equal(scry_append_sample(app, &ref, NULL, 1, 1, NULL), SCRY_EINVAL);
    struct scry_labels ok = L({ "__name__", "x" });
    ref = 0;
    assert_int_equal(scry_append_sample(app, &ref, &ok, INT64_MIN, 1, NULL), SCRY_EINVAL);
    assert_int_equal(scry_append_sample(app, &ref, &ok, INT64_MAX, 1, NULL), SCRY_EINVAL);
    assert_int_equal(scry_appender_commit(app, NULL), 0);
    assert_int_equal(tsdb_head_series_count(h), 0); /* range checked before the lookup */
    tsdb_head_destroy(h);
}

/* ---- WAL ------------------------------------------------------------------------- */

static void test_head_wal_replay_after_crash_and_torn_tail(void **state)
{
    char *dir = tmpdir();
    struct scry_wal *wal;
    struct scry_wal_opts wo = { .fsync = SCRY_WAL_FSYNC_NEVER };
    assert_int_equal(scry_wal_open(&wal, dir, &wo, NULL), 0);
    struct tsdb_head *h = head_new(0, 0, 0);
    tsdb_head_set_wal(h, wal);
    struct scry_labels a = L({ "__name__", "a" }), b = L({ "__name__", "b" });
    for (int i = 0; i < 300; i++) {
        assert_int_equal(append1(h, &a, i * 1000, i * 0.5, NULL), 0);
        assert_int_equal(append1(h, &b, i * 1000, -i, NULL), 0);
    }
    /* A rolled-back batch never reaches the WAL. */
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(tsdb_head_appendable(h), NULL, &app, NULL), 0);
    uint64_t ref = 0;
    assert_int_equal(scry_append_sample(app, &ref, &a, 999999, 1, NULL), 0);
    scry_appender_rollback(app);
    struct got *g1 = malloc(sizeof *g1), *g2 = malloc(sizeof *g2);
    select_all(h, NULL, 0, INT64_MIN, INT64_MAX, g1);
    tsdb_head_destroy(h);
    assert_int_equal(scry_wal_close(wal, NULL), 0);

    h = head_new(0, 0, 0);
    struct tsdb_head_replay_stats st;
    assert_int_equal(tsdb_head_replay(h, dir, NULL, &st, NULL), 0);
    assert_int_equal(st.series, 2);
    assert_int_equal(st.samples, 600);
    select_all(h, NULL, 0, INT64_MIN, INT64_MAX, g2);
    assert_int_equal(g2->n_series, g1->n_series);
    assert_int_equal(g2->n, 600);
    assert_memory_equal(g1->t, g2->t, sizeof g1->t);
    assert_memory_equal(g1->v, g2->v, sizeof g1->v);
    tsdb_head_destroy(h);

    /* Tear the last record: replay cuts it off and keeps the rest. */
    uint32_t *segs;
    size_t n_segs;
    assert_int_equal(scry_wal_segments(dir, &segs, &n_segs, NULL), 0);
    assert_true(n_segs >= 1);
    char path[512];
    snprintf(path, sizeof path, "%s/%08u", dir, segs[n_segs - 1]);
    free(segs);
    FILE *f = fopen(path, "r+");
    if (f) { /* segment naming is core/wal's; skip the tear if it differs */
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fclose(f);
        assert_int_equal(truncate(path, len - 3), 0);
        h = head_new(0, 0, 0);
        assert_int_equal(tsdb_head_replay(h, dir, NULL, &st, NULL), 0);
        assert_true(st.wal.torn_bytes > 0 || st.wal.torn_segment != 0);
        assert_int_equal(st.samples, 599);
        tsdb_head_destroy(h);
    }
    free(g1);
    free(g2);
    rm_rf(dir);
    free(dir);
}

static atomic_int fail_writes;

static ssize_t failing_write(int fd, const void *p, size_t len, void *ud)
{
    if (atomic_load(&fail_writes)) {
        errno = ENOSPC;
        return -1;
    }
    return write(fd, p, len);
}

/* Visibility implies durability: a batch whose WAL commit fails is not applied. */
static void test_head_wal_failure_applies_nothing(void **state)
{
    char *dir = tmpdir();
    struct scry_wal *wal;
    struct scry_wal_opts wo = { .fsync = SCRY_WAL_FSYNC_NEVER, .write_fn = failing_write };
    atomic_store(&fail_writes, 0);
    assert_int_equal(scry_wal_open(&wal, dir, &wo, NULL), 0);
    struct tsdb_head *h = head_new(0, 0, 0);
    tsdb_head_set_wal(h, wal);
    struct scry_labels a = L({ "__name__", "a" });
    assert_int_equal(append1(h, &a, 1000, 1, NULL), 0);
    atomic_store(&fail_writes, 1);
    struct scry_err err;
    assert_int_equal(append1(h, &a, 2000, 2, &err), SCRY_EIO);
    assert_non_null(strstr(err.msg, "wal"));
    struct got *g = malloc(sizeof *g);
    select_all(h, NULL, 0, INT64_MIN, INT64_MAX, g);
    assert_int_equal(g->n, 1);
    assert_true(g->t[0] == 1000);
    free(g);
    tsdb_head_destroy(h);
    scry_wal_close(wal, NULL);
    rm_rf(dir);
    free(dir);
}

/* ---- truncate and GC ------------------------------------------------------------------ */

static void test_head_truncate_collects_empty_series(void **state)
{
    struct tsdb_head *h = head_new(0, 10, 0);
    struct scry_labels old = L({ "__name__", "old" }, { "pod", "p1" });
    struct scry_labels cur = L({ "__name__", "cur" }, { "pod", "p2" });
    for (int i = 0; i < 50; i++) {
        assert_int_equal(append1(h, &old, i * 1000, i, NULL), 0);
        assert_int_equal(append1(h, &cur, i * 1000, i, NULL), 0);
    }
    for (int i = 50; i < 100; i++)
        assert_int_equal(append1(h, &cur, i * 1000, i, NULL), 0);
    /* A query opened before truncate keeps its chunks. */
    struct scry_querier *q;
    assert_int_equal(tsdb_head_querier(h, INT64_MIN, INT64_MAX, &q, NULL), 0);
    struct scry_series_set *ss;
    assert_int_equal(q->ops->select_series(q, NULL, 0, NULL, &ss, NULL), 0);

    assert_int_equal(tsdb_head_truncate(h, 60000), 1);
    assert_int_equal(tsdb_head_series_count(h), 1);

    size_t n = 0, n_series = 0;
    while (ss->ops->next(ss)) {
        struct scry_sample_iter *it = ss->ops->samples(ss);
        while (it->ops->next(it))
            n++;
        n_series++;
    }
    assert_int_equal(n_series, 2);
    assert_int_equal(n, 150);
    q->ops->close(q);

    struct got *g = malloc(sizeof *g);
    select_all(h, NULL, 0, INT64_MIN, INT64_MAX, g);
    assert_int_equal(g->n_series, 1);
    assert_true(g->t[0] == 60000); /* chunks of 10: [50s, 59s] was wholly below */
    struct scry_matcher m;
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_EQ, "pod", "p1", NULL), 0);
    select_all(h, &m, 1, INT64_MIN, INT64_MAX, g);
    assert_int_equal(g->n_series, 0);
    scry_matcher_fini(&m);
    assert_int_equal(tsdb_head_querier(h, INT64_MIN, INT64_MAX, &q, NULL), 0);
    struct scry_arena *a = scry_arena_create(0);
    const char **vals;
    size_t n_vals;
    assert_int_equal(q->ops->label_values(q, "pod", NULL, 0, INT64_MIN, INT64_MAX, a, &vals, &n_vals, NULL), 0);
    assert_int_equal(n_vals, 1);
    assert_string_equal(vals[0], "p2");
    q->ops->close(q);
    scry_arena_destroy(a);
    /* The old series comes back as a new one. */
    assert_int_equal(append1(h, &old, 1000, 1, NULL), 0);
    assert_int_equal(tsdb_head_series_count(h), 2);
    assert_int_equal(tsdb_head_truncate(h, INT64_MAX), 2);
    assert_int_equal(tsdb_head_series_count(h), 0);
    free(g);
    tsdb_head_destroy(h);
}

/* ---- chunk set ------------------------------------------------------------------------- */

static void test_head_chunk_set_yields_chunks_in_label_order(void **state)
{
    struct tsdb_head *h = head_new(0, 0, 0);
    struct scry_labels a = L({ "__name__", "b" }), b = L({ "__name__", "a" });
    for (int i = 0; i < 480; i++) {
        assert_int_equal(append1(h, &a, i * 15000, i, NULL), 0);
        assert_int_equal(append1(h, &b, i * 15000, 1, NULL), 0);
    }
    struct tsdb_head_chunk_set *cs;
    assert_int_equal(tsdb_head_chunk_set_open(h, 0, 360 * 15000 - 1, &cs, NULL), 0);
    assert_true(tsdb_head_chunk_set_next(cs));
    assert_string_equal(tsdb_head_chunk_set_labels(cs)->v[0].value, "a");
    size_t n;
    bool complete;
    const struct tsdb_chunk_meta *c = tsdb_head_chunk_set_chunks(cs, &n, &complete);
    assert_int_equal(n, 3);
    assert_true(complete);
    assert_true(c[0].mint_ms == 0 && c[2].maxt_ms == 359 * 15000 && c[1].n_samples == 120);
    struct scry_sample_iter *it = tsdb_head_chunk_set_samples(cs);
    size_t k = 0;
    while (it->ops->next(it))
        k++;
    assert_int_equal(k, 360);
    assert_true(tsdb_head_chunk_set_next(cs));
    assert_false(tsdb_head_chunk_set_next(cs));
    tsdb_head_chunk_set_close(cs);

    /* A range ending inside the open chunk is not complete. */
    assert_int_equal(tsdb_head_chunk_set_open(h, 0, 400 * 15000, &cs, NULL), 0);
    assert_true(tsdb_head_chunk_set_next(cs));
    tsdb_head_chunk_set_chunks(cs, &n, &complete);
    assert_false(complete);
    tsdb_head_chunk_set_close(cs);
    tsdb_head_destroy(h);
}

/* ---- allocations ------------------------------------------------------------------------- */

static void test_head_steady_state_append_does_not_allocate(void **state)
{
    struct tsdb_head *h = head_new(0, 0, 0);
    enum { NS = 100 };
    uint64_t refs[NS] = { 0 };
    char sv[NS][8];
    for (int s = 0; s < NS; s++)
        snprintf(sv[s], sizeof sv[s], "%d", s);
    struct mallinfo2 before = { 0 }, after;
    /* Rounds 0..119 fill the first chunk; 120 cuts (allocates the sealed
     * chunk); 121..239 append into the kept buffer. Measure 130..230. */
    for (int r = 0; r < 231; r++) {
        if (r == 130)
            before = mallinfo2();
        struct scry_appender *app;
        assert_int_equal(scry_appender_begin(tsdb_head_appendable(h), NULL, &app, NULL), 0);
        for (int s = 0; s < NS; s++) {
            struct scry_label lv[2] = { { "__name__", "m" }, { "s", sv[s] } };
            struct scry_labels ls = { lv, 2 };
            /* Same value pattern in each chunk: the buffer fits exactly. */
            assert_int_equal(scry_append_sample(app, &refs[s], &ls, (int64_t)r * 15000,
                                                (double)((r % 120) * s), NULL), 0);
        }
        assert_int_equal(scry_appender_commit(app, NULL), 0);
    }
    after = mallinfo2();
    tsdb_head_destroy(h);
    if (before.uordblks == 0) /* an ASan build replaces malloc: no numbers */
        skip();
    assert_int_equal(after.uordblks, before.uordblks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_append_select_round_trip),
        cmocka_unit_test(test_head_out_of_order_and_duplicates),
        cmocka_unit_test(test_head_rejects_bad_labels_and_unknown_refs),
        cmocka_unit_test(test_head_wal_replay_after_crash_and_torn_tail),
        cmocka_unit_test(test_head_wal_failure_applies_nothing),
        cmocka_unit_test(test_head_truncate_collects_empty_series),
        cmocka_unit_test(test_head_chunk_set_yields_chunks_in_label_order),
        cmocka_unit_test(test_head_steady_state_append_does_not_allocate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
