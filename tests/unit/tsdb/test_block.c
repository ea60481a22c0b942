/* Tests tsdb/block_write.c and block_read.c: model-based round trips (write
 * a random block, select with random matchers and ranges, compare with a
 * naive scan), seek, label names and values, and corrupt files (truncated
 * or flipped at many offsets: SCRY_ECORRUPT from open or from iteration,
 * never a crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "blockgen.h"
#include "core/arena.h"
#include "tsdb/block_internal.h"

#define MINT 1700000000000LL
#define MAXT (MINT + 2 * 3600 * 1000LL - 1)

static size_t n_compared, n_series_compared; /* the model tests compared something */

static char tmpl[] = "/tmp/scry_test_block_XXXXXX";
static char *root;

static int setup(void **state)
{
    (void)state;
    strcpy(tmpl, "/tmp/scry_test_block_XXXXXX");
    root = mkdtemp(tmpl);
    return root ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    return system(cmd);
}

static void write_block(struct bg_set *set, bool rechunk, uint32_t group, char *id, char *dir)
{
    struct tsdb_block_write_opts o = {.rechunk = rechunk, .group_size = group};
    struct tsdb_block_meta m;
    struct scry_err err;
    set->pos = 0;
    int rc = tsdb_block_write(root, &bg_source, set, MINT, MAXT, &o, id, &m, &err);
    if (rc)
        fail_msg("write: %s", err.msg);
    assert_int_equal(m.n_series, set->n);
    size_t ns = 0;
    for (size_t i = 0; i < set->n; i++)
        ns += set->s[i].n;
    assert_int_equal(m.n_samples, ns);
    sprintf(dir, "%s/%s", root, id);
}

/* Runs one select on the block and the model and compares. */
/* batch > 0: read with next_batch, batch (<= 16) samples a call */
static void check_select(struct scry_querier *q, const struct bg_set *set, struct scry_matcher *ms,
                         size_t n_ms, int64_t mint, int64_t maxt, bool seek, size_t batch)
{
    struct scry_select_hints h = {.mint = mint, .maxt = maxt};
    struct scry_series_set *ss;
    struct scry_err err;
    assert_int_equal(q->ops->select_series(q, ms, n_ms, &h, &ss, &err), 0);
    size_t mi = 0;
    for (;;) {
        /* Next model series with samples in range. */
        const struct bg_series *want = NULL;
        size_t w0 = 0, w1 = 0;
        for (; mi < set->n && !want; mi++) {
            const struct bg_series *s = &set->s[mi];
            struct scry_labels ls = {s->labs, s->n_labs};
            bool ok = true;
            for (size_t k = 0; k < n_ms && ok; k++)
                ok = scry_matcher_matches_labels(&ms[k], &ls);
            if (!ok)
                continue;
            w0 = 0;
            while (w0 < s->n && s->t[w0] < mint)
                w0++;
            w1 = w0;
            while (w1 < s->n && s->t[w1] <= maxt)
                w1++;
            if (w1 > w0)
                want = s;
        }
        /* Next block series with samples (a chunk may overlap the range
         * with no sample inside it). */
        bool got = false;
        size_t n_got = 0;
        while (ss->ops->next(ss)) {
            struct scry_sample_iter *it = ss->ops->samples(ss);
            const struct scry_labels *ls = ss->ops->labels(ss);
            int64_t t;
            double v;
            n_got = 0;
            int64_t seek_to = mint;
            if (want && seek && want->n)
                seek_to = want->t[w0 + (w1 - w0) / 2];
            if (seek && want && it->ops->seek(it, seek_to)) {
                size_t k = w0 + (w1 - w0) / 2;
                do {
                    it->ops->at(it, &t, &v);
                    assert_true(k < w1);
                    assert_int_equal(t, want->t[k]);
                    assert_true(bg_same_double(v, want->v[k]));
                    k++;
                    n_got++;
                    /* seek never moves backwards */
                    assert_true(it->ops->seek(it, t));
                    it->ops->at(it, &t, &v);
                    assert_int_equal(t, want->t[k - 1]);
                } while (it->ops->next(it));
                assert_int_equal(k, w1);
                n_compared += n_got;
                n_series_compared++;
                assert_int_equal(it->ops->err(it, &err), 0);
                struct scry_labels wl = {want->labs, want->n_labs};
                assert_true(scry_labels_equal(ls, &wl));
                got = true;
                break;
            }
            if (batch) {
                /* the same samples, a chunk (or less) per call */
                assert_non_null(it->ops->next_batch);
                int64_t bt[16];
                double bv[16];
                size_t got_n;
                do {
                    got_n = it->ops->next_batch(it, bt, bv, batch);
                    assert_true(got_n <= batch);
                    for (size_t j = 0; j < got_n; j++) {
                        assert_non_null(want);
                        assert_true(w0 + n_got < w1);
                        assert_int_equal(bt[j], want->t[w0 + n_got]);
                        assert_true(bg_same_double(bv[j], want->v[w0 + n_got]));
                        n_got++;
                    }
                } while (got_n == batch);
            }
            while (!batch && it->ops->next(it)) {
                it->ops->at(it, &t, &v);
                assert_non_null(want);
                assert_true(w0 + n_got < w1);
                assert_int_equal(t, want->t[w0 + n_got]);
                assert_true(bg_same_double(v, want->v[w0 + n_got]));
                n_got++;
            }
            assert_int_equal(it->ops->err(it, &err), 0);
            if (n_got) {
                struct scry_labels wl = {want->labs, want->n_labs};
                assert_true(scry_labels_equal(ls, &wl));
                assert_int_equal(n_got, w1 - w0);
                n_compared += n_got;
                n_series_compared++;
                got = true;
                break;
            }
        }
        assert_int_equal(ss->ops->err(ss, &err), 0);
        assert_true(got == (want != NULL));
        if (!want)
            break;
    }
    ss->ops->close(ss);
}

static void run_model(uint64_t seed, size_t n_series, bool rechunk, uint32_t group)
{
    struct bg_set set;
    bg_make(&set, seed, n_series, MINT, MAXT, 400, 120);
    char id[32], dir[512];
    write_block(&set, rechunk, group, id, dir);
    struct tsdb_block *b;
    struct scry_err err;
    if (tsdb_block_open(&b, dir, &err))
        fail_msg("open: %s", err.msg);
    assert_int_equal(tsdb_block_meta(b)->n_series, set.n);
    struct scry_querier *q;
    assert_int_equal(tsdb_block_querier(b, MINT, MAXT, &q, &err), 0);
    for (int iter = 0; iter < 150; iter++) {
        struct scry_matcher ms[3];
        size_t n_ms = bg_below(4);
        for (size_t k = 0; k < n_ms; k++)
            bg_matcher(&ms[k]);
        int64_t a = MINT - 1000 + (int64_t)bg_below(MAXT - MINT + 2000);
        int64_t c = a + (int64_t)bg_below(MAXT - MINT);
        if (bg_below(4) == 0) {
            a = MINT;
            c = MAXT;
        }
        check_select(q, &set, ms, n_ms, a, c, iter % 3 == 0,
                     iter % 3 == 1 ? 1 + (size_t)bg_below(16) : 0);
        for (size_t k = 0; k < n_ms; k++)
            scry_matcher_fini(&ms[k]);
    }
    q->ops->close(q);
    tsdb_block_close(b);
    bg_free(&set);
}

static void test_block_model_select(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++)
        run_model(seed, 20 + seed * 40, seed % 2 == 0, seed == 3 ? 1 : seed == 5 ? 7 : 0);
    printf("model: %zu series, %zu samples compared\n", n_series_compared, n_compared);
    assert_true(n_series_compared > 1000 && n_compared > 100000);
}

/* Label names and values, with and without matchers, against the model. */
static void test_block_label_names_values(void **state)
{
    (void)state;
    struct bg_set set;
    bg_make(&set, 99, 150, MINT, MAXT, 50, 120);
    char id[32], dir[512];
    write_block(&set, true, 0, id, dir);
    struct tsdb_block *b;
    struct scry_err err;
    assert_int_equal(tsdb_block_open(&b, dir, &err), 0);
    struct scry_querier *q;
    assert_int_equal(tsdb_block_querier(b, MINT, MAXT, &q, &err), 0);
    struct scry_arena *a = scry_arena_create(0);
    for (int iter = 0; iter < 100; iter++) {
        struct scry_matcher ms[2];
        size_t n_ms = bg_below(3);
        for (size_t k = 0; k < n_ms; k++)
            bg_matcher(&ms[k]);
        const char *name = bg_names[bg_below(6)];
        /* model */
        const char *mn[16], *mv[64];
        size_t n_mn = 0, n_mv = 0;
        for (size_t i = 0; i < set.n; i++) {
            struct scry_labels ls = {set.s[i].labs, set.s[i].n_labs};
            bool ok = true;
            for (size_t k = 0; k < n_ms && ok; k++)
                ok = scry_matcher_matches_labels(&ms[k], &ls);
            if (!ok)
                continue;
            for (size_t k = 0; k < ls.n; k++) {
                bool seen = false;
                for (size_t j = 0; j < n_mn; j++)
                    seen |= !strcmp(mn[j], ls.v[k].name);
                if (!seen)
                    mn[n_mn++] = ls.v[k].name;
                if (strcmp(ls.v[k].name, name))
                    continue;
                seen = false;
                for (size_t j = 0; j < n_mv; j++)
                    seen |= !strcmp(mv[j], ls.v[k].value);
                if (!seen)
                    mv[n_mv++] = ls.v[k].value;
            }
        }
        const char **out;
        size_t n_out;
        assert_int_equal(q->ops->label_names(q, ms, n_ms, MINT, MAXT, a, &out, &n_out, &err), 0);
        assert_int_equal(n_out, n_mn);
        for (size_t i = 0; i < n_out; i++) {
            bool seen = false;
            for (size_t j = 0; j < n_mn; j++)
                seen |= !strcmp(mn[j], out[i]);
            assert_true(seen);
            if (i)
                assert_true(strcmp(out[i - 1], out[i]) < 0);
        }
        assert_int_equal(q->ops->label_values(q, name, ms, n_ms, MINT, MAXT, a, &out, &n_out, &err), 0);
        assert_int_equal(n_out, n_mv);
        for (size_t i = 1; i < n_out; i++)
            assert_true(strcmp(out[i - 1], out[i]) < 0);
        /* outside the block's range: nothing */
        assert_int_equal(q->ops->label_values(q, name, ms, n_ms, MAXT + 1, MAXT + 5, a, &out, &n_out, &err), 0);
        assert_int_equal(n_out, 0);
        for (size_t k = 0; k < n_ms; k++)
            scry_matcher_fini(&ms[k]);
    }
    scry_arena_destroy(a);
    q->ops->close(q);
    tsdb_block_close(b);
    bg_free(&set);
}

/* ---- corruption -------------------------------------------------------- */

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*len + 1);
    assert_int_equal(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

static void spit(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

/* Opens and reads everything; returns the first error code (0 if none). */
static int open_and_read(const char *dir, const struct tsdb__open_opts *o)
{
    struct tsdb_block *b;
    struct scry_err err;
    int rc = tsdb__block_open(&b, dir, o, &err);
    if (rc)
        return rc;
    struct scry_querier *q;
    tsdb_block_querier(b, INT64_MIN, INT64_MAX, &q, &err);
    struct scry_series_set *ss;
    struct scry_matcher m;
    scry_matcher_init(&m, SCRY_MATCH_RE, "__name__", "m.*", NULL);
    for (int pass = 0; pass < 2 && !rc; pass++) {
        rc = q->ops->select_series(q, &m, pass, NULL, &ss, &err);
        if (rc)
            break;
        while (ss->ops->next(ss)) {
            struct scry_sample_iter *it = ss->ops->samples(ss);
            while (it->ops->next(it))
                ;
            if (!rc)
                rc = it->ops->err(it, &err);
        }
        if (!rc)
            rc = ss->ops->err(ss, &err);
        ss->ops->close(ss);
    }
    struct scry_arena *a = scry_arena_create(0);
    const char **out;
    size_t n;
    if (!rc)
        rc = q->ops->label_names(q, &m, 1, INT64_MIN, INT64_MAX, a, &out, &n, &err);
    if (!rc)
        rc = q->ops->label_values(q, "instance", NULL, 0, INT64_MIN, INT64_MAX, a, &out, &n, &err);
    scry_arena_destroy(a);
    scry_matcher_fini(&m);
    q->ops->close(q);
    tsdb_block_close(b);
    if (rc)
        assert_int_equal(rc, SCRY_ECORRUPT);
    return rc;
}

static void corrupt_file(const char *dir, const char *file, bool must_fail_open, bool must_fail)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    uint8_t *p = malloc(len + 1);
    size_t step = len > 600 ? len / 300 : 1;
    struct tsdb__open_opts lax = {.no_page_crc = true, .no_index_crc = true, .no_meta = true};
    for (size_t off = 0; off < len; off += step) {
        /* flip */
        memcpy(p, orig, len);
        p[off] ^= (uint8_t)(1u << (off % 8));
        spit(path, p, len);
        struct tsdb_block *b;
        struct scry_err err;
        int rc = tsdb_block_open(&b, dir, &err);
        if (rc) {
            assert_int_equal(rc, SCRY_ECORRUPT);
            assert_non_null(strstr(err.msg, file)); /* the path is named */
        } else {
            assert_false(must_fail_open);
            tsdb_block_close(b);
            if (must_fail)
                assert_int_equal(open_and_read(dir, NULL), SCRY_ECORRUPT);
        }
        /* The decoders without CRCs: anything but a crash. */
        open_and_read(dir, &lax);
        /* truncate */
        spit(path, orig, off);
        rc = tsdb_block_open(&b, dir, &err);
        assert_int_equal(rc, SCRY_ECORRUPT);
        open_and_read(dir, &lax);
    }
    spit(path, orig, len);
    assert_int_equal(open_and_read(dir, NULL), 0);
    free(orig);
    free(p);
}

static void test_block_corrupt_files(void **state)
{
    (void)state;
    struct bg_set set;
    bg_make(&set, 7, 60, MINT, MAXT, 300, 120);
    char id[32], dir[512];
    write_block(&set, false, 8, id, dir);
    assert_int_equal(open_and_read(dir, NULL), 0);
    corrupt_file(dir, "index", true, true);
    corrupt_file(dir, "meta.json", true, true);
    corrupt_file(dir, "chunks", false, true);
    bg_free(&set);
}

static void test_block_write_rejects_bad_input(void **state)
{
    (void)state;
    struct bg_set set;
    bg_make(&set, 11, 10, MINT, MAXT, 50, 120);
    /* out of label order */
    struct bg_series tmp = set.s[0];
    set.s[0] = set.s[1];
    set.s[1] = tmp;
    char id[32];
    struct scry_err err;
    assert_int_equal(tsdb_block_write(root, &bg_source, &set, MINT, MAXT, NULL, id, NULL, &err),
                     SCRY_EINVAL);
    /* chunks outside the block's range */
    set.pos = 0;
    assert_int_equal(tsdb_block_write(root, &bg_source, &set, MINT + 3600000, MAXT, NULL, id, NULL, &err),
                     SCRY_EINVAL);
    /* nothing in range */
    set.s[1] = set.s[0];
    set.s[0] = tmp;
    set.pos = 0;
    struct tsdb_block_write_opts o = {.rechunk = true};
    assert_int_equal(tsdb_block_write(root, &bg_source, &set, MAXT + 1, MAXT + 10, &o, id, NULL, &err),
                     SCRY_ENOTFOUND);
    /* no .tmp directories are left behind */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", root);
    assert_int_not_equal(system(cmd), 0);
    bg_free(&set);
}

static void test_block_id_sorts_by_time(void **state)
{
    (void)state;
    char a[27], b[27], c[27];
    tsdb_block_id_new(a, 1700000000000);
    tsdb_block_id_new(b, 1700000000001);
    tsdb_block_id_new(c, 1700000000001);
    assert_true(tsdb_block_id_valid(a, 26) && tsdb_block_id_valid(b, 26));
    assert_true(strcmp(a, b) < 0);
    assert_true(strcmp(b, c) != 0);
    assert_int_equal(memcmp(b, c, 10), 0); /* 48 time bits = the first 10 digits */
    assert_false(tsdb_block_id_valid("01HZZZZZZZZZZZZZZZZZZZZZZU", 26)); /* U is not Crockford */
    assert_false(tsdb_block_id_valid(a, 25));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_id_sorts_by_time),
        cmocka_unit_test_setup_teardown(test_block_model_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_label_names_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_corrupt_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_write_rejects_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
