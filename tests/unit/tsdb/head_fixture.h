/* Shared by the head's unit tests (test_head.c, test_head_model.c,
 * test_head_concurrent.c): a random generator, temporary directories, a
 * head with options, one-sample appends and a select that collects
 * everything. Include after <cmocka.h>. */
#ifndef SCRY_TEST_HEAD_FIXTURE_H
#define SCRY_TEST_HEAD_FIXTURE_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/matcher.h"
#include "tsdb/head.h"
#include "tests/unit/xorshift.h"

static uint64_t rng_state __attribute__((unused));
static inline uint64_t rnd(void) { return test_xorshift(&rng_state); }

static inline int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static inline void rm_rf(const char *dir) { nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static inline char *tmpdir(void)
{
    char *d = strdup("/tmp/scry_test_head_XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static inline struct tsdb_head *head_new(int64_t window, uint32_t chunk, int64_t block)
{
    struct tsdb_head *h;
    struct tsdb_head_opts o = { .out_of_order_window_ms = window, .chunk_samples = chunk,
                                .block_duration_ms = block };
    assert_int_equal(tsdb_head_create(&h, &o, NULL), 0);
    return h;
}

#define L(...) ((struct scry_labels){ (const struct scry_label[]){ __VA_ARGS__ }, \
    sizeof((const struct scry_label[]){ __VA_ARGS__ }) / sizeof(struct scry_label) })

static inline int append1(struct tsdb_head *h, const struct scry_labels *ls, int64_t t, double v,
                   struct scry_err *err)
{
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(tsdb_head_appendable(h), NULL, &app, NULL), 0);
    uint64_t ref = 0;
    int rc = scry_append_sample(app, &ref, ls, t, v, err);
    int rc2 = scry_appender_commit(app, err);
    return rc ? rc : rc2;
}

/* Collects one selected series' samples; returns the series count. */
struct got {
    size_t n_series;
    char names[64][128];
    int64_t t[4096];
    double v[4096];
    size_t n;
};

static inline void select_all(struct tsdb_head *h, const struct scry_matcher *ms, size_t n_ms,
                       int64_t mint, int64_t maxt, struct got *g)
{
    memset(g, 0, sizeof *g);
    struct scry_querier *q;
    assert_int_equal(tsdb_head_querier(h, mint, maxt, &q, NULL), 0);
    struct scry_series_set *ss;
    assert_int_equal(q->ops->select_series(q, ms, n_ms, NULL, &ss, NULL), 0);
    while (ss->ops->next(ss)) {
        struct scry_buf b = { 0 };
        scry_labels_format(ss->ops->labels(ss), &b);
        if (g->n_series < 64)
            snprintf(g->names[g->n_series], sizeof g->names[0], "%s", b.p);
        scry_buf_fini(&b);
        g->n_series++;
        struct scry_sample_iter *it = ss->ops->samples(ss);
        while (it->ops->next(it)) {
            assert_true(g->n < 4096);
            it->ops->at(it, &g->t[g->n], &g->v[g->n]);
            g->n++;
        }
        assert_int_equal(it->ops->err(it, NULL), 0);
    }
    assert_int_equal(ss->ops->err(ss, NULL), 0);
    ss->ops->close(ss);
    q->ops->close(q);
}

#endif
