/* Tests core/catalog.c and tsdb/block_catalog.c: WAL mode, migrations run
 * once and record their version, a newer schema is refused, and a block
 * record with its compaction sources is one transaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "core/catalog.h"
#include "tsdb/block_internal.h"

static char path[128];

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/scry_test_catalog_XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d)
        return -1;
    snprintf(path, sizeof path, "%s/catalog.db", d);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %.*s", (int)(strrchr(path, '/') - path), path);
    return system(cmd);
}

static int64_t scalar(struct scry_catalog *c, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(scry_catalog_db(c), sql, -1, &st, NULL), SQLITE_OK);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

static const char *const steps[] = {
    "CREATE TABLE t1 (a INTEGER);",
    "INSERT INTO t1 VALUES (42);",
};

static void test_catalog_migrations(void **state)
{
    (void)state;
    struct scry_catalog *c;
    struct scry_err err;
    assert_int_equal(scry_catalog_open(&c, path, &err), 0);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(scry_catalog_db(c), "PRAGMA journal_mode", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(scalar(c, "PRAGMA user_version"), 1);
    assert_int_equal(scry_catalog_migrate(c, "test", steps, 1, &err), 0);
    assert_int_equal(scry_catalog_migrate(c, "test", steps, 2, &err), 0);
    assert_int_equal(scry_catalog_migrate(c, "test", steps, 2, &err), 0); /* idempotent */
    assert_int_equal(scalar(c, "SELECT count(*) FROM t1"), 1);
    assert_int_equal(scalar(c, "SELECT version FROM scry_schema WHERE component = 'test'"), 2);
    /* code older than the database */
    assert_int_equal(scry_catalog_migrate(c, "test", steps, 1, &err), SCRY_EINVAL);
    /* a failing step leaves nothing behind */
    static const char *const bad[] = {"CREATE TABLE t2 (a);", "CREATE TABLE t2 (a);"};
    assert_int_equal(scry_catalog_migrate(c, "bad", bad, 2, &err), SCRY_EIO);
    assert_int_equal(scalar(c, "SELECT count(*) FROM sqlite_master WHERE name = 't2'"), 0);
    scry_catalog_close(c);
    assert_int_equal(scry_catalog_open(&c, path, &err), 0);
    assert_int_equal(scalar(c, "SELECT version FROM scry_schema WHERE component = 'test'"), 2);
    scry_catalog_close(c);
}

static struct tsdb_block_meta meta(const char *id, int64_t mint)
{
    struct tsdb_block_meta m = {.mint_ms = mint, .maxt_ms = mint + 99, .n_series = 1,
                                .n_samples = 2, .bytes = 100, .level = 1};
    snprintf(m.id, sizeof m.id, "%s", id);
    return m;
}

static int count_cb(void *ud, const struct tsdb__catalog_row *r)
{
    size_t *n = ud;
    n[r->live ? 0 : 1]++;
    return 0;
}

static void test_catalog_blocks_transaction(void **state)
{
    (void)state;
    struct scry_catalog *c;
    struct scry_err err;
    assert_int_equal(scry_catalog_open(&c, path, &err), 0);
    assert_int_equal(tsdb__catalog_migrate(c, &err), 0);
    struct tsdb_block_meta a = meta("01AAAAAAAAAAAAAAAAAAAAAAAA", 0);
    struct tsdb_block_meta b = meta("01BBBBBBBBBBBBBBBBBBBBBBBB", 100);
    struct tsdb_block_meta m = meta("01CCCCCCCCCCCCCCCCCCCCCCCC", 0);
    assert_int_equal(tsdb__catalog_record(c, &a, NULL, 0, 1, &err), 0);
    assert_int_equal(tsdb__catalog_record(c, &b, NULL, 0, 1, &err), 0);
    /* a duplicate id fails */
    assert_int_not_equal(tsdb__catalog_record(c, &a, NULL, 0, 1, &err), 0);
    /* a source that is not live: the whole record rolls back */
    const char *srcs_bad[] = {a.id, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"};
    assert_int_equal(tsdb__catalog_record(c, &m, srcs_bad, 2, 2, &err), SCRY_ENOTFOUND);
    size_t n[2] = {0};
    assert_int_equal(tsdb__catalog_list(c, count_cb, n, &err), 0);
    assert_int_equal(n[0], 2);
    assert_int_equal(n[1], 0);
    const char *srcs[] = {a.id, b.id};
    assert_int_equal(tsdb__catalog_record(c, &m, srcs, 2, 2, &err), 0);
    n[0] = n[1] = 0;
    assert_int_equal(tsdb__catalog_list(c, count_cb, n, &err), 0);
    assert_int_equal(n[0], 1);
    assert_int_equal(n[1], 2);
    assert_int_equal(scalar(c, "SELECT count(*) FROM blocks WHERE compacted_into = '01CCCCCCCCCCCCCCCCCCCCCCCC'"), 2);
    assert_int_equal(tsdb__catalog_purge(c, &err), 0);
    const char *del[] = {m.id};
    assert_int_equal(tsdb__catalog_delete(c, del, 1, &err), 0);
    assert_int_equal(scalar(c, "SELECT count(*) FROM blocks"), 0);
    scry_catalog_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catalog_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_blocks_transaction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
