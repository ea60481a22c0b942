/* Tests what a block's meta.json counts when samples are deleted, as
 * Prometheus does: n_samples is counted when a block is written, from the
 * samples actually written. A delete in a block only adds a tombstones file
 * and leaves the count (Prometheus rewrites meta.json for NumTombstones but
 * keeps NumSamples); rewriting the block (clean_tombstones, compaction)
 * counts what is left; a head delete is applied before the cut, so the new
 * block never counts deleted samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <cmocka.h>

#include "core/matcher.h"
#include "tsdb/tsdb.h"
#include "tmpdir_fixture.h"

TSDB_TMPDIR_FIXTURE("bmeta")

static struct tsdb *open_db(void)
{
    struct tsdb_opts o = { .data_dir = root, .maintain_interval_ms = -1 };
    o.storage.block_duration_ms = 3600000;
    struct tsdb *db = NULL;
    struct scry_err err = { 0 };
    if (tsdb_open(&db, &o, &err))
        fail_msg("open: %s", err.msg);
    return db;
}

/* Series i="0".."2", t = k * 10 for k in [k0, k1). */
static void append(struct tsdb *db, int k0, int k1)
{
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(tsdb_appendable(db), NULL, &app, NULL), 0);
    for (int s = 0; s < 3; s++) {
        char i[2] = { (char)('0' + s), 0 };
        struct scry_label l[2] = { { "__name__", "m" }, { "i", i } };
        struct scry_labels ls = { l, 2 };
        uint64_t ref = 0;
        for (int k = k0; k < k1; k++)
            assert_int_equal(scry_append_sample(app, &ref, &ls, (int64_t)k * 10, k * 0.5, NULL), 0);
    }
    assert_int_equal(scry_appender_commit(app, NULL), 0);
}

static void delete_series(struct tsdb *db, const char *i, int64_t mint, int64_t maxt)
{
    struct scry_matcher m;
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_EQ, "i", i, NULL), 0);
    struct scry_err err = { 0 };
    if (tsdb_delete_series(db, &m, 1, mint, maxt, &err))
        fail_msg("delete: %s", err.msg);
    scry_matcher_fini(&m);
}

/* The sum of n_samples over every block's meta.json on disk. */
static uint64_t meta_json_samples(void)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/tsdb/blocks", root);
    DIR *d = opendir(dir);
    assert_non_null(d);
    uint64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strchr(e->d_name, '.'))
            continue;
        char path[512], buf[1024];
        snprintf(path, sizeof path, "%s/%s/meta.json", dir, e->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strstr(buf, "\"n_samples\": ");
        assert_non_null(p);
        sum += strtoull(p + strlen("\"n_samples\": "), NULL, 10);
    }
    closedir(d);
    return sum;
}

static uint64_t block_samples(struct tsdb *db)
{
    struct tsdb_stats st;
    tsdb_stats(db, &st);
    assert_int_equal(st.block_samples, meta_json_samples());
    return st.block_samples;
}

static void test_block_meta_counts_samples_as_prometheus(void **state)
{
    (void)state;
    struct tsdb *db = open_db();
    struct scry_err err = { 0 };
    append(db, 0, 100);
    assert_int_equal(tsdb_flush(db, &err), 0);
    assert_int_equal(block_samples(db), 300);

    /* A block delete keeps the count until the block is rewritten. */
    delete_series(db, "0", 0, 490); /* k 0..49 of series 0 */
    assert_int_equal(block_samples(db), 300);
    tsdb_close(db);
    db = open_db();
    assert_int_equal(block_samples(db), 300);
    assert_int_equal(tsdb_clean_tombstones(db, &err), 0);
    assert_int_equal(block_samples(db), 250);

    /* A head delete is applied at the cut: only live samples are counted. */
    append(db, 100, 200);
    delete_series(db, "1", 1000, 1490); /* k 100..149 of series 1 */
    delete_series(db, "2", 0, 1990);    /* series 2 in the head entirely */
    assert_int_equal(tsdb_flush(db, &err), 0);
    assert_int_equal(block_samples(db), 250 + 50 + 100);
    tsdb_close(db);
    db = open_db();
    assert_int_equal(block_samples(db), 400);
    tsdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_block_meta_counts_samples_as_prometheus, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
