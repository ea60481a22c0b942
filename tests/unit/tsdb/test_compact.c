/* Tests tsdb/compact.c: the catalog is the truth on open (leftover .tmp and
 * uncatalogued directories are deleted, missing ones counted), compaction of
 * overlapping blocks with duplicate timestamps against a model, the
 * compaction plan, and retention by time (injected clock) and by size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "blockgen.h"
#include "core/buf.h"
#include "tsdb/block_internal.h"
#include "tmpdir_fixture.h"

#define H (3600 * 1000LL)
#define T0 (18 * H * 100000) /* aligned to 6h and 18h windows */

TSDB_TMPDIR_FIXTURE("compact")

static bool exists(const char *fmt, const char *a)
{
    char p[256];
    snprintf(p, sizeof p, fmt, root, a);
    struct stat st;
    return stat(p, &st) == 0;
}

static int64_t fake_now;
static int64_t clock_fn(void *ud)
{
    (void)ud;
    return fake_now;
}

static void add_block(struct tsdb_blocks *bs, uint64_t seed, size_t n, int64_t mint, int64_t maxt)
{
    struct bg_set set;
    bg_make(&set, seed, n, mint, maxt, 200, 120);
    struct scry_err err;
    if (tsdb_blocks_add(bs, &bg_source, &set, mint, maxt, NULL, &err))
        fail_msg("add: %s", err.msg);
    bg_free(&set);
}

static void test_compact_open_cleans_leftovers(void **state)
{
    (void)state;
    struct tsdb_blocks *bs;
    struct scry_err err;
    assert_int_equal(tsdb_blocks_open(&bs, root, NULL, &err), 0);
    add_block(bs, 1, 20, T0, T0 + 2 * H - 1);
    char keep[32], orphan[32];
    strcpy(keep, tsdb_block_meta(tsdb_blocks_at(bs, 0))->id);
    /* An uncatalogued block: written but its catalog commit never happened. */
    struct bg_set set;
    bg_make(&set, 2, 10, T0, T0 + 2 * H - 1, 50, 120);
    assert_int_equal(tsdb_block_write(tsdb_blocks_dir(bs), &bg_source, &set, T0, T0 + 2 * H - 1,
                                      NULL, orphan, NULL, &err), 0);
    bg_free(&set);
    tsdb_blocks_close(bs);
    char p[256];
    snprintf(p, sizeof p, "%s/tsdb/blocks/01ABCDEFGHJKMNPQRSTVWXYZ012.tmp", root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/tsdb/blocks/01ABCDEFGHJKMNPQRSTVWXYZ012.tmp/index", root);
    FILE *f = fopen(p, "w");
    fputs("half", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/tsdb/blocks/notes.txt", root);
    f = fopen(p, "w");
    fclose(f);
    assert_true(exists("%s/tsdb/blocks/%s", orphan));

    assert_int_equal(tsdb_blocks_open(&bs, root, NULL, &err), 0);
    assert_int_equal(tsdb_blocks_count(bs), 1);
    assert_string_equal(tsdb_block_meta(tsdb_blocks_at(bs, 0))->id, keep);
    assert_false(exists("%s/tsdb/blocks/%s", orphan));
    assert_false(exists("%s/tsdb/blocks/%s", "01ABCDEFGHJKMNPQRSTVWXYZ012.tmp"));
    assert_true(exists("%s/tsdb/blocks/%s", "notes.txt")); /* not ours: left alone */
    assert_int_equal(tsdb_blocks_missing(bs), 0);
    tsdb_blocks_close(bs);
    /* A catalogued block whose directory vanished is reported. */
    snprintf(p, sizeof p, "%s/tsdb/blocks/%s", root, keep);
    assert_int_equal(tsdb__rmdir_all(p, &err), 0);
    assert_int_equal(tsdb_blocks_open(&bs, root, NULL, &err), 0);
    assert_int_equal(tsdb_blocks_count(bs), 0);
    assert_int_equal(tsdb_blocks_missing(bs), 1);
    tsdb_blocks_close(bs);
}

/* ---- model comparison ---------------------------------------------------- */

struct row {
    char *key;
    int64_t t;
    double v;
};
struct rows {
    struct row *r;
    size_t n, cap;
};

static void rows_add(struct rows *rs, const struct scry_labels *ls, int64_t t, double v)
{
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 1024;
        rs->r = realloc(rs->r, rs->cap * sizeof *rs->r);
    }
    struct scry_buf b = {0};
    scry_labels_format(ls, &b);
    rs->r[rs->n++] = (struct row){scry_buf_take(&b), t, v};
}

static int row_cmp(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->t > y->t) - (x->t < y->t);
}

static void rows_free(struct rows *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->r[i].key);
    free(rs->r);
}

static void block_rows(struct tsdb_block *b, struct rows *rs)
{
    struct scry_querier *q;
    struct scry_series_set *ss;
    struct scry_err err;
    assert_int_equal(tsdb_block_querier(b, INT64_MIN, INT64_MAX, &q, &err), 0);
    assert_int_equal(q->ops->select_series(q, NULL, 0, NULL, &ss, &err), 0);
    while (ss->ops->next(ss)) {
        struct scry_sample_iter *it = ss->ops->samples(ss);
        int64_t t;
        double v;
        while (it->ops->next(it)) {
            it->ops->at(it, &t, &v);
            rows_add(rs, ss->ops->labels(ss), t, v);
        }
        assert_int_equal(it->ops->err(it, &err), 0);
    }
    assert_int_equal(ss->ops->err(ss, &err), 0);
    ss->ops->close(ss);
    q->ops->close(q);
}

static void test_compact_overlapping_duplicates(void **state)
{
    (void)state;
    struct tsdb_blocks *bs;
    struct scry_err err;
    assert_int_equal(tsdb_blocks_open(&bs, root, NULL, &err), 0);
    /* Three overlapping blocks with many shared series (same seeds share
     * label sets); the second repeats the first's samples with new values
     * at the same timestamps. */
    struct bg_set sets[3];
    int64_t ranges[3][2] = {{T0, T0 + 2 * H - 1}, {T0 + H, T0 + 3 * H - 1}, {T0 + 90 * 60000, T0 + 4 * H}};
    for (int i = 0; i < 3; i++) {
        /* Block 1 is block 0's data (same seed and generation range) with
         * other values: duplicates wherever the two ranges overlap. */
        if (i == 1)
            bg_make(&sets[1], 10, 60, ranges[0][0], ranges[0][1], 500, 120);
        else
            bg_make(&sets[i], 10 + (uint64_t)i, 60, ranges[i][0], ranges[i][1], 500, 120);
        if (i == 1) {
            for (size_t s = 0; s < sets[1].n; s++) {
                struct bg_series *x = &sets[1].s[s];
                size_t off = 0, k0 = 0;
                for (size_t k = 0; k < x->n; k++)
                    x->v[k] += 1000; /* NaNs stay NaN */
                for (size_t c = 0; c < x->n_cm; c++) {
                    size_t m = x->cm[c].n_samples, len;
                    assert_int_equal(tsdb_chunk_encode(x->t + k0, x->v + k0, m, TSDB_VENC_AUTO,
                                                       x->bytes + off, tsdb_chunk_max_len(m), &len,
                                                       &err), 0);
                    x->cm[c].p = x->bytes + off;
                    x->cm[c].len = (uint32_t)len;
                    off += len;
                    k0 += m;
                }
            }
        }
        sets[i].pos = 0;
        assert_int_equal(tsdb_blocks_add(bs, &bg_source, &sets[i], ranges[i][0], ranges[i][1], NULL, &err), 0);
    }
    assert_int_equal(tsdb_blocks_count(bs), 3);
    /* Model: per block in mint order, samples in the block's range; the
     * first block holding a timestamp wins. Blocks are sorted by mint:
     * ranges[0] < ranges[1] < ranges[2]. */
    struct rows model = {0};
    for (int i = 0; i < 3; i++)
        for (size_t s = 0; s < sets[i].n; s++) {
            struct scry_labels ls = {sets[i].s[s].labs, sets[i].s[s].n_labs};
            for (size_t k = 0; k < sets[i].s[s].n; k++)
                if (sets[i].s[s].t[k] >= ranges[i][0] && sets[i].s[s].t[k] <= ranges[i][1])
                    rows_add(&model, &ls, sets[i].s[s].t[k], sets[i].s[s].v[k]);
        }
    /* A stable sort keeps the first of equal (key, t): the earliest block. */
    struct row *tmp = malloc(model.n * sizeof *tmp);
    for (size_t w = 1; w < model.n; w *= 2) { /* bottom-up stable merge sort */
        for (size_t lo = 0; lo < model.n; lo += 2 * w) {
            size_t mid = lo + w < model.n ? lo + w : model.n, hi = lo + 2 * w < model.n ? lo + 2 * w : model.n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid || j < hi)
                tmp[k++] = (j >= hi || (i < mid && row_cmp(&model.r[i], &model.r[j]) <= 0)) ? model.r[i++] : model.r[j++];
        }
        memcpy(model.r, tmp, model.n * sizeof *tmp);
    }
    free(tmp);
    size_t m = 0;
    for (size_t i = 0; i < model.n; i++) {
        if (m && !row_cmp(&model.r[m - 1], &model.r[i])) {
            free(model.r[i].key);
            continue;
        }
        model.r[m++] = model.r[i];
    }
    size_t dups = model.n - m;
    model.n = m;
    assert_true(dups > 1000); /* the test has duplicates to remove */

    char ids[3][32];
    for (int i = 0; i < 3; i++)
        strcpy(ids[i], tsdb_block_meta(tsdb_blocks_at(bs, (size_t)i))->id);
    size_t done;
    assert_int_equal(tsdb_blocks_compact(bs, &done, &err), 0);
    assert_int_equal(done, 1);
    assert_int_equal(tsdb_blocks_count(bs), 1);
    const struct tsdb_block_meta *cm = tsdb_block_meta(tsdb_blocks_at(bs, 0));
    assert_int_equal(cm->level, 2);
    assert_int_equal(cm->mint_ms, T0);
    assert_int_equal(cm->maxt_ms, T0 + 4 * H);
    assert_int_equal(cm->n_samples, model.n);
    for (int i = 0; i < 3; i++)
        assert_false(exists("%s/tsdb/blocks/%s", ids[i]));

    struct rows got = {0};
    block_rows(tsdb_blocks_at(bs, 0), &got);
    qsort(got.r, got.n, sizeof *got.r, row_cmp);
    assert_int_equal(got.n, model.n);
    for (size_t i = 0; i < got.n; i++) {
        assert_string_equal(got.r[i].key, model.r[i].key);
        assert_int_equal(got.r[i].t, model.r[i].t);
        assert_true(bg_same_double(got.r[i].v, model.r[i].v));
    }
    rows_free(&got);
    rows_free(&model);
    for (int i = 0; i < 3; i++)
        bg_free(&sets[i]);
    tsdb_blocks_close(bs);
    /* Reopen: the catalog agrees. */
    assert_int_equal(tsdb_blocks_open(&bs, root, NULL, &err), 0);
    assert_int_equal(tsdb_blocks_count(bs), 1);
    tsdb_blocks_close(bs);
}

static void test_compact_plan_exponential_ranges(void **state)
{
    (void)state;
    struct tsdb_blocks_opts o = {.retention_ms = 15 * 24 * H, .block_duration_ms = 2 * H};
    struct tsdb_blocks *bs;
    struct scry_err err;
    assert_int_equal(tsdb_blocks_open(&bs, root, &o, &err), 0);
    for (int i = 0; i < 3; i++)
        add_block(bs, 20 + (uint64_t)i, 30, T0 + i * 2 * H, T0 + (i + 1) * 2 * H - 1);
    size_t done;
    /* The 6h window [T0, T0+6h) is still open: nothing starts after it. */
    assert_int_equal(tsdb_blocks_compact(bs, &done, &err), 0);
    assert_int_equal(done, 0);
    for (int i = 3; i < 9; i++)
        add_block(bs, 20 + (uint64_t)i, 30, T0 + i * 2 * H, T0 + (i + 1) * 2 * H - 1);
    /* 9 blocks of 2h = 18h: [0,6h) and [6h,12h) are closed and merge; then
     * [12h,18h) is still open, so the 18h window is too. */
    assert_int_equal(tsdb_blocks_compact(bs, &done, &err), 0);
    assert_int_equal(done, 2);
    assert_int_equal(tsdb_blocks_count(bs), 5);
    assert_int_equal(tsdb_block_meta(tsdb_blocks_at(bs, 0))->maxt_ms, T0 + 6 * H - 1);
    assert_int_equal(tsdb_block_meta(tsdb_blocks_at(bs, 1))->mint_ms, T0 + 6 * H);
    /* One more block: [12h,18h) closes, then [0,18h) closes (54h > 36h = 10% of 15d stops there). */
    add_block(bs, 40, 30, T0 + 18 * H, T0 + 20 * H - 1);
    assert_int_equal(tsdb_blocks_compact(bs, &done, &err), 0);
    assert_int_equal(done, 2);
    assert_int_equal(tsdb_blocks_count(bs), 2);
    assert_int_equal(tsdb_block_meta(tsdb_blocks_at(bs, 0))->maxt_ms, T0 + 18 * H - 1);
    assert_int_equal(tsdb_block_meta(tsdb_blocks_at(bs, 0))->level, 3);
    tsdb_blocks_close(bs);
}

static void test_compact_retention_time_and_size(void **state)
{
    (void)state;
    struct tsdb_blocks_opts o = {.retention_ms = 3 * H, .now_ms = clock_fn};
    struct tsdb_blocks *bs;
    struct scry_err err;
    assert_int_equal(tsdb_blocks_open(&bs, root, &o, &err), 0);
    for (int i = 0; i < 3; i++)
        add_block(bs, 50 + (uint64_t)i, 30, T0 + i * 2 * H, T0 + (i + 1) * 2 * H - 1);
    size_t n;
    fake_now = T0 + 5 * H - 1; /* cut = T0 + 2h - 1: block 0's maxt is not older */
    assert_int_equal(tsdb_blocks_retention(bs, &n, &err), 0);
    assert_int_equal(n, 0);
    fake_now = T0 + 5 * H + 1; /* cut = T0 + 2h + 1: block 0 goes */
    char gone[32];
    strcpy(gone, tsdb_block_meta(tsdb_blocks_at(bs, 0))->id);
    assert_int_equal(tsdb_blocks_retention(bs, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(tsdb_blocks_count(bs), 2);
    assert_false(exists("%s/tsdb/blocks/%s", gone));
    tsdb_blocks_close(bs);
    /* By size: keep only what fits, newest first. */
    fake_now = T0;
    assert_int_equal(tsdb_blocks_open(&bs, root, &o, &err), 0);
    assert_int_equal(tsdb_blocks_count(bs), 2);
    tsdb_blocks_close(bs);
    assert_int_equal(tsdb_blocks_open(&bs, root, &o, &err), 0);
    uint64_t newest = tsdb_block_meta(tsdb_blocks_at(bs, 1))->bytes;
    tsdb_blocks_close(bs);
    o.retention_size_bytes = (int64_t)newest + 1;
    assert_int_equal(tsdb_blocks_open(&bs, root, &o, &err), 0);
    assert_int_equal(tsdb_blocks_retention(bs, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(tsdb_blocks_count(bs), 1);
    assert_int_equal(tsdb_block_meta(tsdb_blocks_at(bs, 0))->mint_ms, T0 + 4 * H);
    tsdb_blocks_close(bs);
}

static void test_compact_inspect_prints_blocks(void **state)
{
    (void)state;
    struct tsdb_blocks *bs;
    struct scry_err err;
    assert_int_equal(tsdb_blocks_open(&bs, root, NULL, &err), 0);
    add_block(bs, 60, 40, T0, T0 + 2 * H - 1);
    char id[32];
    strcpy(id, tsdb_block_meta(tsdb_blocks_at(bs, 0))->id);
    tsdb_blocks_close(bs);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(tsdb_inspect(root, f, &err), 0);
    fclose(f);
    assert_non_null(strstr(buf, id));
    assert_non_null(strstr(buf, "total: 1 blocks"));
    assert_non_null(strstr(buf, "top label names"));
    assert_non_null(strstr(buf, "__name__"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_compact_open_cleans_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact_overlapping_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact_plan_exponential_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact_retention_time_and_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact_inspect_prints_blocks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
