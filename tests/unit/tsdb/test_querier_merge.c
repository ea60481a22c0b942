/* Tests tsdb/querier_merge.c against small array-backed queriers: series
 * order, series present in several parts, sample merge with deduplication,
 * seek, label names and values, and (a property test over random parts)
 * next_batch mixed with seek against next/at. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"
#include "tsdb/querier_merge.h"

/* ---- an array-backed part ----------------------------------------------- */

struct aseries {
    struct scry_label l[2];
    struct scry_labels ls;
    int64_t t[8];
    double v[8];
    size_t n;
};

struct aiter {
    struct scry_sample_iter base;
    const struct aseries *s;
    size_t i; /* index of the current sample + 1 */
};

static bool ai_next(struct scry_sample_iter *b)
{
    struct aiter *it = (struct aiter *)b;
    if (it->i >= it->s->n)
        return false;
    it->i++;
    return true;
}

static bool ai_seek(struct scry_sample_iter *b, int64_t t)
{
    struct aiter *it = (struct aiter *)b;
    if (it->i > 0 && it->s->t[it->i - 1] >= t)
        return true;
    while (it->i < it->s->n) {
        it->i++;
        if (it->s->t[it->i - 1] >= t)
            return true;
    }
    return false;
}

static void ai_at(const struct scry_sample_iter *b, int64_t *t, double *v)
{
    const struct aiter *it = (const struct aiter *)b;
    *t = it->s->t[it->i - 1];
    *v = it->s->v[it->i - 1];
}

static int ai_err(const struct scry_sample_iter *b, struct scry_err *err) { return 0; }

static const struct scry_sample_iter_ops ai_ops = { ai_next, ai_seek, ai_at, ai_err, NULL };

struct apart {
    struct scry_querier base;
    struct aseries *s;
    size_t n;
    int *closed;
};

struct aset {
    struct scry_series_set base;
    struct apart *p;
    const struct scry_matcher *ms;
    size_t n_ms, i;
    struct aiter it;
};

static bool as_next(struct scry_series_set *b)
{
    struct aset *s = (struct aset *)b;
    while (s->i < s->p->n) {
        const struct aseries *x = &s->p->s[s->i++];
        bool ok = true;
        for (size_t k = 0; k < s->n_ms; k++)
            ok &= scry_matcher_matches_labels(&s->ms[k], &x->ls);
        if (ok)
            return true;
    }
    s->i = s->p->n + 1;
    return false;
}

static const struct scry_labels *as_labels(const struct scry_series_set *b)
{
    const struct aset *s = (const struct aset *)b;
    return &s->p->s[s->i - 1].ls;
}

static struct scry_sample_iter *as_samples(struct scry_series_set *b)
{
    struct aset *s = (struct aset *)b;
    s->it = (struct aiter){ { &ai_ops }, &s->p->s[s->i - 1], 0 };
    return &s->it.base;
}

static int as_err(const struct scry_series_set *b, struct scry_err *err) { return 0; }
static void as_close(struct scry_series_set *b) { free(b); }
static const struct scry_series_set_ops as_ops = { as_next, as_labels, as_samples, as_err,
                                                   as_close };

static int ap_select(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                     const struct scry_select_hints *h, struct scry_series_set **out,
                     struct scry_err *err)
{
    struct aset *s = calloc(1, sizeof *s);
    s->base.ops = &as_ops;
    s->p = (struct apart *)q;
    s->ms = ms;
    s->n_ms = n_ms;
    *out = &s->base;
    return 0;
}

static int ap_names(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                    int64_t mint, int64_t maxt, struct scry_arena *a, const char ***out,
                    size_t *n_out, struct scry_err *err)
{
    static const char *names[] = { "__name__", "job" };
    *out = names;
    *n_out = 2;
    return 0;
}

static int ap_values(struct scry_querier *q, const char *name, const struct scry_matcher *ms,
                     size_t n_ms, int64_t mint, int64_t maxt, struct scry_arena *a,
                     const char ***out, size_t *n_out, struct scry_err *err)
{
    struct apart *p = (struct apart *)q;
    const char **v = scry_arena_alloc(a, p->n * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        const char *x = scry_labels_get(&p->s[i].ls, name);
        if (x && (n == 0 || strcmp(v[n - 1], x)))
            v[n++] = x; /* parts are sorted by labels, and test values sort alike */
    }
    *out = v;
    *n_out = n;
    return 0;
}

static void ap_close(struct scry_querier *q) { (*((struct apart *)q)->closed)++; }

static const struct scry_querier_ops ap_ops = {
    .select_series = ap_select, .label_names = ap_names, .label_values = ap_values,
    .close = ap_close,
};

static void series(struct aseries *s, const char *name, const char *job, const int64_t *t,
                   const double *v, size_t n)
{
    s->l[0] = (struct scry_label){ "__name__", name };
    s->l[1] = (struct scry_label){ "job", job };
    s->ls = (struct scry_labels){ s->l, 2 };
    memcpy(s->t, t, n * sizeof *t);
    memcpy(s->v, v, n * sizeof *v);
    s->n = n;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_querier_merge_series_order_and_samples(void **state)
{
    int closed = 0;
    struct aseries a[2], b[2];
    series(&a[0], "up", "a", (int64_t[]){ 10, 20, 30 }, (double[]){ 1, 2, 3 }, 3);
    series(&a[1], "up", "c", (int64_t[]){ 10 }, (double[]){ 7 }, 1);
    /* b overlaps a's {job="a"} at t=30 (duplicate: a wins) and adds t=40. */
    series(&b[0], "up", "a", (int64_t[]){ 25, 30, 40 }, (double[]){ 2.5, 99, 4 }, 3);
    series(&b[1], "up", "b", (int64_t[]){ 5 }, (double[]){ 9 }, 1);
    struct apart pa = { { &ap_ops }, a, 2, &closed }, pb = { { &ap_ops }, b, 2, &closed };
    struct scry_querier *subs[] = { &pa.base, &pb.base }, *q;
    assert_int_equal(tsdb_merge_querier(subs, 2, &q, NULL), 0);

    struct scry_series_set *ss;
    assert_int_equal(q->ops->select_series(q, NULL, 0, NULL, &ss, NULL), 0);
    const char *jobs[] = { "a", "b", "c" };
    const int64_t want_t[] = { 10, 20, 25, 30, 40 };
    const double want_v[] = { 1, 2, 2.5, 3, 4 };
    size_t k = 0;
    while (ss->ops->next(ss)) {
        assert_true(k < 3);
        assert_string_equal(scry_labels_get(ss->ops->labels(ss), "job"), jobs[k]);
        struct scry_sample_iter *it = ss->ops->samples(ss);
        if (k == 0) {
            size_t i = 0;
            int64_t t;
            double v;
            while (it->ops->next(it)) {
                it->ops->at(it, &t, &v);
                assert_true(i < 5);
                assert_int_equal(t, want_t[i]);
                assert_true(v == want_v[i]);
                i++;
            }
            assert_int_equal(i, 5);
        }
        k++;
    }
    assert_int_equal(k, 3);
    assert_int_equal(ss->ops->err(ss, NULL), 0);
    ss->ops->close(ss);
    q->ops->close(q);
    assert_int_equal(closed, 2);
}

static void test_querier_merge_seek_never_goes_back(void **state)
{
    struct aseries a, b;
    series(&a, "x", "j", (int64_t[]){ 10, 30, 50 }, (double[]){ 1, 3, 5 }, 3);
    series(&b, "x", "j", (int64_t[]){ 20, 40, 60 }, (double[]){ 2, 4, 6 }, 3);
    struct aiter ia = { { &ai_ops }, &a, 0 }, ib = { { &ai_ops }, &b, 0 };
    struct scry_sample_iter *its[] = { &ia.base, &ib.base };
    struct tsdb_merge_iter m;
    tsdb_merge_iter_init(&m);
    tsdb_merge_iter_reset(&m, its, 2);
    int64_t t;
    double v;
    assert_true(m.base.ops->seek(&m.base, 35));
    m.base.ops->at(&m.base, &t, &v);
    assert_int_equal(t, 40);
    assert_true(m.base.ops->seek(&m.base, 15)); /* stays at 40 */
    m.base.ops->at(&m.base, &t, &v);
    assert_int_equal(t, 40);
    assert_true(m.base.ops->next(&m.base));
    m.base.ops->at(&m.base, &t, &v);
    assert_int_equal(t, 50);
    assert_true(m.base.ops->seek(&m.base, 60));
    m.base.ops->at(&m.base, &t, &v);
    assert_true(v == 6);
    assert_false(m.base.ops->seek(&m.base, 61));
    assert_false(m.base.ops->next(&m.base));
    tsdb_merge_iter_fini(&m);
}

static void test_querier_merge_matchers_and_labels(void **state)
{
    int closed = 0;
    struct aseries a[1], b[1];
    series(&a[0], "up", "a", (int64_t[]){ 1 }, (double[]){ 1 }, 1);
    series(&b[0], "up", "b", (int64_t[]){ 1 }, (double[]){ 1 }, 1);
    struct apart pa = { { &ap_ops }, a, 1, &closed }, pb = { { &ap_ops }, b, 1, &closed };
    struct scry_querier *subs[] = { &pa.base, &pb.base }, *q;
    assert_int_equal(tsdb_merge_querier(subs, 2, &q, NULL), 0);
    struct scry_matcher m;
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_NEQ, "job", "a", NULL), 0);
    struct scry_series_set *ss;
    assert_int_equal(q->ops->select_series(q, &m, 1, NULL, &ss, NULL), 0);
    assert_true(ss->ops->next(ss));
    assert_string_equal(scry_labels_get(ss->ops->labels(ss), "job"), "b");
    assert_false(ss->ops->next(ss));
    ss->ops->close(ss);
    scry_matcher_fini(&m);

    struct scry_arena *ar = scry_arena_create(0);
    const char **v;
    size_t n;
    assert_int_equal(q->ops->label_values(q, "job", NULL, 0, 0, 0, ar, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "b");
    assert_int_equal(q->ops->label_names(q, NULL, 0, 0, 0, ar, &v, &n, NULL), 0);
    assert_int_equal(n, 2); /* the same two names from both parts, once each */
    scry_arena_destroy(ar);
    q->ops->close(q);
    assert_int_equal(closed, 2);
}

static void test_querier_merge_single_part_is_unwrapped(void **state)
{
    int closed = 0;
    struct apart pa = { { &ap_ops }, NULL, 0, &closed };
    struct scry_querier *subs[] = { &pa.base }, *q;
    assert_int_equal(tsdb_merge_querier(subs, 1, &q, NULL), 0);
    assert_ptr_equal(q, &pa.base);
    struct scry_querier *none;
    assert_int_equal(tsdb_merge_querier(NULL, 0, &none, NULL), 0);
    struct scry_series_set *ss;
    assert_int_equal(none->ops->select_series(none, NULL, 0, NULL, &ss, NULL), 0);
    assert_false(ss->ops->next(ss));
    ss->ops->close(ss);
    none->ops->close(none);
}

/* ---- property: next_batch and seek against next/at, sample for sample ---- */

/* A part over arrays, with or without next_batch; seek after its end says
 * false (as the stores do). */
struct riter {
    struct scry_sample_iter base;
    const int64_t *t;
    const double *v;
    size_t n, i; /* i: index of the current sample + 1 */
    bool ended;
};

static bool ri_next(struct scry_sample_iter *b)
{
    struct riter *it = (struct riter *)b;
    if (it->i >= it->n)
        return !(it->ended = true);
    it->i++;
    return true;
}

static bool ri_seek(struct scry_sample_iter *b, int64_t t)
{
    struct riter *it = (struct riter *)b;
    if (it->ended)
        return false;
    if (it->i > 0 && it->t[it->i - 1] >= t)
        return true;
    while (it->i < it->n)
        if (it->t[it->i++] >= t)
            return true;
    return !(it->ended = true);
}

static void ri_at(const struct scry_sample_iter *b, int64_t *t, double *v)
{
    const struct riter *it = (const struct riter *)b;
    assert_true(it->i > 0 && !it->ended);
    *t = it->t[it->i - 1];
    *v = it->v[it->i - 1];
}

static size_t ri_next_batch(struct scry_sample_iter *b, int64_t *t, double *v, size_t cap)
{
    size_t n = 0;
    while (n < cap && ri_next(b)) {
        ri_at(b, &t[n], &v[n]);
        n++;
    }
    return n;
}

static const struct scry_sample_iter_ops ri_ops = { ri_next, ri_seek, ri_at, ai_err, NULL };
static const struct scry_sample_iter_ops ri_batch_ops = { ri_next, ri_seek, ri_at, ai_err,
                                                          ri_next_batch };

#define RP_MAX_PARTS 5
#define RP_MAX_N 700

static uint64_t rp_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rp_rand(void)
{
    rp_state ^= rp_state << 13;
    rp_state ^= rp_state >> 7;
    rp_state ^= rp_state << 17;
    return rp_state;
}

struct rparts {
    size_t n;
    int64_t t[RP_MAX_PARTS][RP_MAX_N];
    double v[RP_MAX_PARTS][RP_MAX_N];
    size_t len[RP_MAX_PARTS];
    bool batch[RP_MAX_PARTS];
    struct riter it[RP_MAX_PARTS];
    struct scry_sample_iter *its[RP_MAX_PARTS];
};

/* Random parts: empty, dense or sparse, over a shared range (equal
 * timestamps across parts) or their own (no overlap); values are random
 * bits, so which part's value is handed out shows. */
static void rp_make(struct rparts *p)
{
    p->n = 1 + rp_rand() % RP_MAX_PARTS;
    for (size_t k = 0; k < p->n; k++) {
        size_t want = rp_rand() % 4 == 0 ? 0 : rp_rand() % RP_MAX_N;
        int64_t t = rp_rand() % 2 ? 0 : (int64_t)(k * 100000), gap = 1 + rp_rand() % 20;
        size_t n = 0;
        while (n < want) {
            t += 1 + (int64_t)(rp_rand() % (uint64_t)gap);
            p->t[k][n] = t;
            uint64_t bits = rp_rand();
            memcpy(&p->v[k][n], &bits, sizeof bits);
            n++;
        }
        p->len[k] = n;
        p->batch[k] = rp_rand() % 4 != 0;
    }
}

static void rp_reset(struct rparts *p, struct tsdb_merge_iter *m)
{
    for (size_t k = 0; k < p->n; k++) {
        p->it[k] = (struct riter){ { p->batch[k] ? &ri_batch_ops : &ri_ops }, p->t[k], p->v[k],
                                   p->len[k], 0, false };
        p->its[k] = &p->it[k].base;
    }
    tsdb_merge_iter_reset(m, p->its, p->n);
}

static void assert_same_sample(int64_t ta, double va, int64_t tb, double vb)
{
    assert_int_equal(ta, tb);
    assert_memory_equal(&va, &vb, sizeof va);
}

static void test_querier_merge_batch_matches_next(void **state)
{
    static struct rparts pa, pb; /* the same parts, read twice */
    struct tsdb_merge_iter a, b;
    tsdb_merge_iter_init(&a);
    tsdb_merge_iter_init(&b);
    static const size_t caps[] = { 1, 2, 7, 4096 };
    static int64_t bt[4096], wt[4096];
    static double bv[4096], wv[4096];
    for (int round = 0; round < 3000; round++) {
        rp_make(&pa);
        pb = pa;
        rp_reset(&pa, &a);
        rp_reset(&pb, &b);

        /* next/at against the model: ascending, each timestamp once, the
         * lowest part holding it giving the value */
        size_t idx[RP_MAX_PARTS] = { 0 }, total = 0;
        int64_t t;
        double v;
        while (a.base.ops->next(&a.base)) {
            a.base.ops->at(&a.base, &t, &v);
            size_t best = pa.n;
            for (size_t k = 0; k < pa.n; k++)
                if (idx[k] < pa.len[k] && (best == pa.n || pa.t[k][idx[k]] < pa.t[best][idx[best]]))
                    best = k;
            assert_true(best < pa.n);
            int64_t mt = pa.t[best][idx[best]];
            assert_same_sample(t, v, mt, pa.v[best][idx[best]]);
            for (size_t k = 0; k < pa.n; k++)
                if (idx[k] < pa.len[k] && pa.t[k][idx[k]] == mt)
                    idx[k]++;
            total++;
        }
        for (size_t k = 0; k < pa.n; k++)
            assert_int_equal(idx[k], pa.len[k]);

        /* next_batch with random caps, seeks between, against next/at */
        rp_reset(&pa, &a);
        int64_t hi = 0;
        for (size_t k = 0; k < pa.n; k++)
            if (pa.len[k] && pa.t[k][pa.len[k] - 1] > hi)
                hi = pa.t[k][pa.len[k] - 1];
        size_t seen = 0;
        for (bool more = true; more;) {
            if (rp_rand() % 4 == 0) {
                int64_t to = (int64_t)(rp_rand() % (uint64_t)(hi + 10));
                bool ra = a.base.ops->seek(&a.base, to), rb = b.base.ops->seek(&b.base, to);
                assert_int_equal(ra, rb);
                if (!ra)
                    break;
                a.base.ops->at(&a.base, &t, &v);
                int64_t t2;
                double v2;
                b.base.ops->at(&b.base, &t2, &v2);
                assert_same_sample(t, v, t2, v2);
                assert_true(t >= to);
                continue;
            }
            size_t cap = caps[rp_rand() % 4];
            size_t got = b.base.ops->next_batch(&b.base, bt, bv, cap), want = 0;
            while (want < cap && a.base.ops->next(&a.base)) {
                a.base.ops->at(&a.base, &wt[want], &wv[want]);
                want++;
            }
            assert_int_equal(got, want);
            for (size_t i = 0; i < got; i++)
                assert_same_sample(bt[i], bv[i], wt[i], wv[i]);
            if (got && got == cap) { /* at() is the last sample handed out */
                b.base.ops->at(&b.base, &t, &v);
                assert_same_sample(t, v, bt[got - 1], bv[got - 1]);
            }
            seen += got;
            more = got == cap;
        }
        assert_true(seen <= total);
        assert_false(b.base.ops->next(&b.base));
        assert_int_equal(b.base.ops->next_batch(&b.base, bt, bv, 7), 0);
    }
    tsdb_merge_iter_fini(&a);
    tsdb_merge_iter_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_querier_merge_series_order_and_samples),
        cmocka_unit_test(test_querier_merge_seek_never_goes_back),
        cmocka_unit_test(test_querier_merge_matchers_and_labels),
        cmocka_unit_test(test_querier_merge_single_part_is_unwrapped),
        cmocka_unit_test(test_querier_merge_batch_matches_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
