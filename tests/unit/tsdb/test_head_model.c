/* Tests tsdb/head*.c against a naive in-memory model: random appends,
 * commits, rollbacks, deletes and selects (and label names and values in
 * random ranges), then a crash, a WAL replay, the same checks and more
 * batches on the replayed head. Helpers in head_fixture.h. */
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

/* ---- model-based test ---------------------------------------------------------- */

#define M_SERIES 48
#define M_SAMPLES 4096

struct msample {
    int64_t t;
    uint64_t bits;
};

struct mseries {
    struct scry_label lv[4];
    struct scry_labels ls;
    struct msample s[M_SAMPLES];
    size_t n;
    bool has_maxt;
    int64_t maxt;
    uint64_t ref;
    int64_t del[256][2]; /* deleted ranges, as clamped by tsdb_head_delete */
    size_t n_del;
};

struct pending {
    struct mseries *s;
    int64_t t;
    double v;
};

struct model {
    struct mseries *s;
    size_t n;
    int64_t window;
    uint64_t commit_rejects;
};

static const char *const names_u[] = { "__name__", "job", "inst", "zz" };
static const char *const vals_u[4][4] = {
    { "m0", "m1", "m2", "m3" }, { "a", "b", "c", NULL }, { "0", "1", "2", NULL }, { "q", NULL, NULL, NULL } };

static struct mseries *model_series(struct model *m, struct scry_labels *ls)
{
    for (size_t i = 0; i < m->n; i++)
        if (scry_labels_equal(&m->s[i].ls, ls))
            return &m->s[i];
    return NULL;
}

static void random_labels(struct scry_label *lv, size_t *n)
{
    *n = 0;
    for (int k = 0; k < 4; k++) {
        size_t nv = 0;
        while (nv < 4 && vals_u[k][nv])
            nv++;
        if (k > 0 && rnd() % (k == 3 ? 5 : 3) == 0)
            continue; /* absent */
        lv[(*n)++] = (struct scry_label){ names_u[k], vals_u[k][rnd() % nv] };
    }
    /* names_u is not sorted: __name__ < inst < job < zz. */
    for (size_t i = 1; i < *n; i++)
        for (size_t j = i; j > 0 && strcmp(lv[j - 1].name, lv[j].name) > 0; j--) {
            struct scry_label x = lv[j];
            lv[j] = lv[j - 1];
            lv[j - 1] = x;
        }
}

static double random_value(void)
{
    switch (rnd() % 10) {
    case 0: return tsdb__bitsf(0x7ff0000000000002ull);
    case 1: return NAN;
    case 2: return rnd() % 2 ? INFINITY : -INFINITY;
    case 3: return -0.0;
    case 4: return (double)(rnd() % 1000000) / 1000;
    default: return (double)(rnd() % 4);
    }
}

static bool m_find(const struct mseries *s, int64_t t, uint64_t *bits)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->s[i].t == t) {
            *bits = s->s[i].bits;
            return true;
        }
    return false;
}

/* Deleted samples stay stored (duplicates still see them) but are hidden. */
static bool m_visible(const struct mseries *s, int64_t t)
{
    for (size_t i = 0; i < s->n_del; i++)
        if (t >= s->del[i][0] && t <= s->del[i][1])
            return false;
    return true;
}

/* The label APIs count a series whose stored samples (deleted or not)
 * reach into [mint, maxt]. */
static bool m_in_range(const struct mseries *s, int64_t mint, int64_t maxt)
{
    return s->n && s->s[0].t <= maxt && s->s[s->n - 1].t >= mint;
}

static size_t m_next_visible(const struct mseries *s, size_t k)
{
    while (k < s->n && !m_visible(s, s->s[k].t))
        k++;
    return k;
}

static bool m_outside(const struct model *m, int64_t maxt, int64_t t)
{
    return m->window == 0 || maxt - t > m->window;
}

/* The documented semantics, spelled out naively. */
static int m_apply(struct model *m, struct mseries *s, int64_t t, double v)
{
    uint64_t bits = tsdb__fbits(v), have = 0;
    if (!s->has_maxt || t > s->maxt) {
        s->has_maxt = true;
        s->maxt = t;
    } else if (t == s->maxt) {
        assert_true(m_find(s, t, &have));
        return have == bits ? TSDB__DUP_IGNORED : TSDB__DUP_REJECTED;
    } else if (m_outside(m, s->maxt, t)) {
        return TSDB__OOO;
    } else if (m_find(s, t, &have)) {
        return have == bits ? TSDB__DUP_IGNORED : TSDB__DUP_REJECTED;
    }
    size_t i = s->n;
    assert_true(i < M_SAMPLES);
    while (i > 0 && s->s[i - 1].t > t) {
        s->s[i] = s->s[i - 1];
        i--;
    }
    s->s[i] = (struct msample){ t, bits };
    s->n++;
    return TSDB__STORED;
}

static int cmp_mseries(const void *a, const void *b)
{
    const struct mseries *x = *(const struct mseries *const *)a, *y = *(const struct mseries *const *)b;
    return scry_labels_cmp(&x->ls, &y->ls);
}

static const char *random_matcher_value(int name, int type)
{
    static const char *const re[] = { ".*", ".+", "m[01]", "a|b", "", "a|", "[0-1]", "m.*", "q", "x" };
    if (type == SCRY_MATCH_RE || type == SCRY_MATCH_NRE)
        return re[rnd() % 10];
    if (name < 4 && rnd() % 4) {
        size_t nv = 0;
        while (nv < 4 && vals_u[name][nv])
            nv++;
        return vals_u[name][rnd() % nv];
    }
    return rnd() % 2 ? "" : "x";
}

static size_t n_cmp_series, n_cmp_samples, n_cmp_selects;

/* Runs one random select against the head and the model. */
static void check_select(struct tsdb_head *h, struct model *m)
{
    static const char *const mnames[] = { "__name__", "job", "inst", "zz", "nope" };
    struct scry_matcher ms[3];
    size_t n_ms = rnd() % 4;
    for (size_t i = 0; i < n_ms; i++) {
        int name = (int)(rnd() % 5), type = (int)(rnd() % 4);
        assert_int_equal(scry_matcher_init(&ms[i], (enum scry_match_type)type, mnames[name],
                                           random_matcher_value(name, type), NULL), 0);
    }
    int64_t mint = (int64_t)(rnd() % 400000) - 20000, maxt = mint + (int64_t)(rnd() % 400000);
    if (rnd() % 8 == 0) {
        mint = INT64_MIN;
        maxt = INT64_MAX;
    }

    struct mseries *want[M_SERIES];
    size_t n_want = 0;
    for (size_t i = 0; i < m->n; i++) {
        bool ok = true;
        for (size_t j = 0; j < n_ms && ok; j++)
            ok = scry_matcher_matches_labels(&ms[j], &m->s[i].ls);
        bool any = false;
        for (size_t k = 0; k < m->s[i].n && ok && !any; k++)
            any = m->s[i].s[k].t >= mint && m->s[i].s[k].t <= maxt &&
                  m_visible(&m->s[i], m->s[i].s[k].t);
        if (ok && any)
            want[n_want++] = &m->s[i];
    }
    qsort(want, n_want, sizeof *want, cmp_mseries);

    struct scry_querier *q;
    assert_int_equal(tsdb_head_querier(h, mint, maxt, &q, NULL), 0);
    struct scry_series_set *ss;
    assert_int_equal(q->ops->select_series(q, ms, n_ms, NULL, &ss, NULL), 0);
    size_t got = 0;
    while (ss->ops->next(ss)) {
        assert_true(got < n_want);
        const struct mseries *w = want[got++];
        assert_true(scry_labels_equal(ss->ops->labels(ss), &w->ls));
        struct scry_sample_iter *it = ss->ops->samples(ss);
        size_t k = 0;
        while (k < w->n && w->s[k].t < mint)
            k++;
        k = m_next_visible(w, k);
        if (rnd() % 3 == 0 && w->n) { /* seek first */
            int64_t st = w->s[rnd() % w->n].t + (int64_t)(rnd() % 3) - 1;
            while (k < w->n && w->s[k].t < st)
                k++;
            k = m_next_visible(w, k);
            bool ok = it->ops->seek(it, st);
            assert_int_equal(ok, k < w->n && w->s[k].t <= maxt);
            if (ok) {
                int64_t t;
                double v;
                it->ops->at(it, &t, &v);
                assert_true(t == w->s[k].t && tsdb__fbits(v) == w->s[k].bits);
                k = m_next_visible(w, k + 1);
            }
        }
        while (it->ops->next(it)) {
            int64_t t;
            double v;
            it->ops->at(it, &t, &v);
            assert_true(k < w->n);
            assert_true(t == w->s[k].t);
            assert_true(tsdb__fbits(v) == w->s[k].bits);
            k = m_next_visible(w, k + 1);
            n_cmp_samples++;
        }
        n_cmp_series++;
        assert_true(k == w->n || w->s[k].t > maxt);
        assert_int_equal(it->ops->err(it, NULL), 0);
    }
    assert_int_equal(got, n_want);
    n_cmp_selects++;
    ss->ops->close(ss);

    /* label values of a random name, with the same matchers */
    const char *lname = mnames[rnd() % 5];
    struct scry_arena *a = scry_arena_create(0);
    const char **vals;
    size_t n_vals;
    assert_int_equal(q->ops->label_values(q, lname, ms, n_ms, mint, maxt, a, &vals, &n_vals, NULL), 0);
    const char *mv[M_SERIES];
    size_t n_mv = 0;
    for (size_t i = 0; i < m->n; i++) {
        bool ok = m_in_range(&m->s[i], mint, maxt);
        for (size_t j = 0; j < n_ms && ok; j++)
            ok = scry_matcher_matches_labels(&ms[j], &m->s[i].ls);
        const char *v = ok ? scry_labels_get(&m->s[i].ls, lname) : NULL;
        bool seen = false;
        for (size_t j = 0; j < n_mv && v && !seen; j++)
            seen = strcmp(mv[j], v) == 0;
        if (v && !seen)
            mv[n_mv++] = v;
    }
    assert_int_equal(n_vals, n_mv);
    for (size_t i = 0; i < n_vals; i++) {
        bool found = false;
        for (size_t j = 0; j < n_mv && !found; j++)
            found = strcmp(vals[i], mv[j]) == 0;
        assert_true(found);
        assert_true(i == 0 || strcmp(vals[i - 1], vals[i]) < 0);
    }
    const char **names;
    size_t n_names;
    assert_int_equal(q->ops->label_names(q, ms, n_ms, mint, maxt, a, &names, &n_names, NULL), 0);
    for (size_t i = 1; i < n_names; i++)
        assert_true(strcmp(names[i - 1], names[i]) < 0);
    /* the names of the matching series in range, and no others */
    size_t n_mn = 0;
    const char *mn[8];
    for (size_t i = 0; i < m->n; i++) {
        bool ok = m_in_range(&m->s[i], mint, maxt);
        for (size_t j = 0; j < n_ms && ok; j++)
            ok = scry_matcher_matches_labels(&ms[j], &m->s[i].ls);
        for (size_t l = 0; ok && l < m->s[i].ls.n; l++) {
            bool seen = false;
            for (size_t j = 0; j < n_mn && !seen; j++)
                seen = strcmp(mn[j], m->s[i].ls.v[l].name) == 0;
            if (!seen) {
                assert_true(n_mn < 8);
                mn[n_mn++] = m->s[i].ls.v[l].name;
            }
        }
    }
    assert_int_equal(n_names, n_mn);
    for (size_t i = 0; i < n_names; i++) {
        bool found = false;
        for (size_t j = 0; j < n_mn && !found; j++)
            found = strcmp(names[i], mn[j]) == 0;
        assert_true(found);
    }
    scry_arena_destroy(a);
    q->ops->close(q);
    for (size_t i = 0; i < n_ms; i++)
        scry_matcher_fini(&ms[i]);
}

static size_t n_deletes, n_deleted_series;

/* A random delete (one or two matchers, a random range) in head and model:
 * the model clamps the range to the series' stored samples, as the head. */
static void random_delete(struct tsdb_head *h, struct model *m)
{
    static const char *const mnames[] = { "__name__", "job", "inst", "zz", "nope" };
    struct scry_matcher ms[2];
    size_t n_ms = 1 + rnd() % 2;
    for (size_t i = 0; i < n_ms; i++) {
        int name = (int)(rnd() % 4), type = (int)(rnd() % 4);
        assert_int_equal(scry_matcher_init(&ms[i], (enum scry_match_type)type, mnames[name],
                                           random_matcher_value(name, type), NULL), 0);
    }
    int64_t mint = (int64_t)(rnd() % 400000) - 20000, maxt = mint + (int64_t)(rnd() % 30000);
    if (rnd() % 10 == 0)
        maxt = INT64_MAX; /* "up to now": later appends must stay */
    uint64_t got;
    assert_int_equal(tsdb_head_delete(h, ms, n_ms, mint, maxt, &got, NULL), 0);
    uint64_t want = 0;
    for (size_t i = 0; i < m->n; i++) {
        struct mseries *s = &m->s[i];
        bool ok = s->n > 0;
        for (size_t j = 0; j < n_ms && ok; j++)
            ok = scry_matcher_matches_labels(&ms[j], &s->ls);
        int64_t lo = s->n ? s->s[0].t : 0, hi = s->n ? s->s[s->n - 1].t : 0;
        lo = lo > mint ? lo : mint;
        hi = hi < maxt ? hi : maxt;
        if (!ok || lo > hi)
            continue;
        assert_true(s->n_del < 256);
        s->del[s->n_del][0] = lo;
        s->del[s->n_del++][1] = hi;
        want++;
    }
    assert_int_equal(got, want);
    n_deletes++;
    n_deleted_series += want;
    for (size_t i = 0; i < n_ms; i++)
        scry_matcher_fini(&ms[i]);
}

/* One random batch: appends (mirrored in the model), then commit or rollback. */
static void random_batch(struct tsdb_head *h, struct model *m, struct scry_arena *la)
{
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(tsdb_head_appendable(h), NULL, &app, NULL), 0);
    struct pending pend[64];
    size_t n_pend = 0, k = 1 + rnd() % 40;
    for (size_t i = 0; i < k; i++) {
        struct scry_label lv[4];
        size_t nl;
        random_labels(lv, &nl);
        struct scry_labels ls = { lv, nl };
        struct mseries *s = model_series(m, &ls);
        if (!s) {
            if (m->n == M_SERIES)
                s = &m->s[rnd() % m->n];
            else {
                s = &m->s[m->n++];
                for (size_t j = 0; j < nl; j++)
                    s->lv[j] = (struct scry_label){ scry_arena_strdup(la, lv[j].name),
                                                    scry_arena_strdup(la, lv[j].value) };
                s->ls = (struct scry_labels){ s->lv, nl };
            }
        }
        int64_t t;
        uint64_t r = rnd() % 20;
        if (!s->has_maxt)
            t = (int64_t)(rnd() % 100000);
        else if (r < 12)
            t = s->maxt + 1 + (int64_t)(rnd() % 5000);
        else if (r < 15)
            t = s->maxt;
        else if (r < 18)
            t = s->maxt - (int64_t)(rnd() % 60000);
        else
            t = s->n ? s->s[rnd() % s->n].t : s->maxt;
        double v = random_value();
        if (r >= 13 && r < 15 && s->n) { /* same value as the stored sample */
            uint64_t bits;
            if (m_find(s, t, &bits))
                v = tsdb__bitsf(bits);
        }
        uint64_t ref = rnd() % 2 ? s->ref : 0;
        int rc = scry_append_sample(app, &ref, &s->ls, t, v, NULL);
        if (s->ref)
            assert_int_equal(ref, s->ref);
        s->ref = ref;
        bool early = s->has_maxt && t < s->maxt && m_outside(m, s->maxt, t);
        assert_int_equal(rc, early ? SCRY_EINVAL : 0);
        if (!early)
            pend[n_pend++] = (struct pending){ s, t, v };
    }
    if (rnd() % 10 == 0) {
        scry_appender_rollback(app);
        return;
    }
    int want = 0;
    for (size_t i = 0; i < n_pend; i++) {
        int r = m_apply(m, pend[i].s, pend[i].t, pend[i].v);
        if (r == TSDB__OOO || r == TSDB__DUP_REJECTED) {
            want = SCRY_EINVAL;
            m->commit_rejects++;
        }
    }
    struct scry_err err;
    assert_int_equal(scry_appender_commit(app, &err), want);
}

static void run_model(uint64_t seed, int64_t window, uint32_t chunk, int64_t block)
{
    rng_state = seed;
    n_cmp_series = n_cmp_samples = n_cmp_selects = 0;
    char *dir = tmpdir();
    struct scry_wal *wal;
    struct scry_wal_opts wo = { .fsync = SCRY_WAL_FSYNC_NEVER, .segment_bytes = 64 * 1024 };
    assert_int_equal(scry_wal_open(&wal, dir, &wo, NULL), 0);
    struct tsdb_head *h = head_new(window, chunk, block);
    tsdb_head_set_wal(h, wal);
    struct model m = { .s = calloc(M_SERIES, sizeof *m.s), .window = window };
    struct scry_arena *la = scry_arena_create(0);
    n_deletes = n_deleted_series = 0;
    for (int it = 0; it < 1500; it++) {
        random_batch(h, &m, la);
        if (rnd() % 20 == 0)
            random_delete(h, &m);
        check_select(h, &m);
    }
    struct tsdb_head_stats hs;
    tsdb_head_stats(h, &hs);
    assert_true(window == 0 ? hs.ooo_samples == 0 : hs.ooo_samples > 100);
    if (chunk && chunk < 10)
        assert_true(hs.chunks > 1000); /* sealing (in order and out of order) ran */
    /* Crash: drop the head; the WAL holds everything committed. */
    tsdb_head_destroy(h);
    assert_int_equal(scry_wal_close(wal, NULL), 0);
    h = head_new(window, chunk, block);
    struct tsdb_head_replay_stats st;
    struct scry_err err;
    assert_int_equal(tsdb_head_replay(h, dir, NULL, &st, &err), 0);
    assert_int_equal(st.unknown_refs, 0);
    assert_int_equal(st.rejected, m.commit_rejects); /* same decisions as live */
    uint64_t saved = rng_state;
    for (int it = 0; it < 300; it++)
        check_select(h, &m);
    /* And the replayed head goes on: refs continue after the WAL's. */
    assert_int_equal(scry_wal_open(&wal, dir, &wo, NULL), 0);
    tsdb_head_set_wal(h, wal);
    rng_state = saved;
    for (int it = 0; it < 200; it++) {
        random_batch(h, &m, la);
        if (rnd() % 20 == 0)
            random_delete(h, &m);
        check_select(h, &m);
    }
    tsdb_head_destroy(h);
    assert_int_equal(scry_wal_close(wal, NULL), 0);
    print_message("model: %zu selects, %zu series and %zu samples compared, %llu rejects, "
                  "%zu deletes (%zu series)\n", n_cmp_selects, n_cmp_series, n_cmp_samples,
                  (unsigned long long)m.commit_rejects, n_deletes, n_deleted_series);
    assert_true(n_deletes > 20 && n_deleted_series > n_deletes);
    /* A model test that compares nothing proves nothing. */
    assert_true(n_cmp_series > n_cmp_selects / 2 && n_cmp_samples > 100000);
    scry_arena_destroy(la);
    free(m.s);
    rm_rf(dir);
    free(dir);
}

static void test_head_model_no_ooo_window(void **state) { run_model(0x1234567, 0, 0, 0); }
static void test_head_model_ooo_window_small_chunks(void **state)
{
    run_model(0xabcdef, 30000, 8, 20000);
}
static void test_head_model_ooo_window_tiny_chunks(void **state) { run_model(42, 100000, 3, 7000); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_model_no_ooo_window),
        cmocka_unit_test(test_head_model_ooo_window_small_chunks),
        cmocka_unit_test(test_head_model_ooo_window_tiny_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
