/* Tests collector/tail_manager.c, tail_file.c and tail_round.c in process,
 * against a real log store and catalog in a temp dir: rename rotation with
 * late writes to the old file, a restart, a crash between commit and
 * checkpoint (simulated by putting the intent row back), copytruncate and
 * a file replaced while scry was down, config reload, and the polling
 * fallback (these tests run without inotify; the integration tests use it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "collector/tail.h"
#include "collector/tail_internal.h"
#include "core/catalog.h"
#include "core/config.h"
#include "logstore/logstore.h"

static char dir[128], logs[160], data[160], catpath[200];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/scry_test_tail_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(logs, sizeof logs, "%s/logs", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(catpath, sizeof catpath, "%s/catalog.db", data);
    return mkdir(logs, 0755) || mkdir(data, 0755);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

struct rig {
    struct ls_store *st;
    struct col_tail_manager *m;
    struct scry_config *cfg;
    struct scry_metrics *reg;
};

static struct scry_config *load(const char *extra)
{
    char y[1024];
    snprintf(y, sizeof y, "logs:\n  - paths: [%s/*.log]\n    labels: {job: t}\n%s", logs,
             extra ? extra : "");
    struct scry_config *cfg = NULL;
    struct scry_err err = { 0 };
    if (scry_config_load_string("t.yml", y, strlen(y), &cfg, &err))
        fail_msg("config: %s", err.msg);
    return cfg;
}

static void start(struct rig *r)
{
    struct ls_opts lo = { .data_dir = data, .wal_fsync = SCRY_WAL_FSYNC_NEVER };
    struct scry_err err = { 0 };
    if (ls_open(&r->st, &lo, &err))
        fail_msg("ls_open: %s", err.msg);
    r->reg = scry_metrics_create();
    struct col_tail_opts o = {
        .appendable = ls_appendable(r->st),
        .catalog_path = catpath,
        .metrics = r->reg,
        .rescan_ms = 50,
        .poll_ms = 20,
        .min_round_ms = 10,
        .idle_flush_ms = 150,
        .no_inotify = true,
    };
    assert_int_equal(col_tail_manager_create(&o, &r->m, &err), 0);
    if (!r->cfg)
        r->cfg = load(NULL);
    assert_int_equal(col_tail_manager_apply_config(r->m, r->cfg, &err), 0);
}

static void stop(struct rig *r, bool keep_cfg)
{
    col_tail_manager_destroy(r->m);
    ls_close(r->st);
    scry_metrics_destroy(r->reg);
    if (!keep_cfg) {
        scry_config_destroy(r->cfg);
        r->cfg = NULL;
    }
}

/* Opens logs/name with mode (fopen's), or fails the test. */
static FILE *open_log(const char *name, const char *mode)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", logs, name);
    FILE *f = fopen(p, mode);
    assert_non_null(f);
    return f;
}

static void append_lines(const char *name, int from, int to)
{
    FILE *f = open_log(name, "a");
    for (int i = from; i < to; i++)
        fprintf(f, "line %05d\n", i);
    fclose(f);
}

/* Replaces logs/name with text. */
static void write_log(const char *name, const char *text)
{
    FILE *f = open_log(name, "w");
    fputs(text, f);
    fclose(f);
}

/* Every stream of the store over all time; the caller closes ss, then *q. */
static struct scry_stream_set *select_all(struct ls_store *st, struct scry_querier **q)
{
    struct scry_queryable *qa = ls_queryable(st);
    struct scry_stream_set *ss;
    struct scry_select_hints h = { .mint = INT64_MIN, .maxt = INT64_MAX };
    assert_int_equal(qa->querier(qa, NULL, INT64_MIN, INT64_MAX, q, NULL), 0);
    assert_int_equal((*q)->ops->select_streams(*q, NULL, 0, &h, &ss, NULL), 0);
    return ss;
}

/* Every entry in the store: counts per line number, and checks that the
 * timestamps rise strictly within each stream. */
static int count_entries(struct ls_store *st, int *seen, int max)
{
    struct scry_querier *q;
    struct scry_stream_set *ss = select_all(st, &q);
    int n = 0;
    if (seen)
        memset(seen, 0, (size_t)max * sizeof *seen);
    while (ss->ops->next(ss)) {
        struct scry_entry_iter *it = ss->ops->entries(ss);
        int64_t last = INT64_MIN;
        while (it->ops->next(it)) {
            struct scry_log_entry e;
            it->ops->at(it, &e);
            assert_true(e.t_ns > last);
            last = e.t_ns;
            int k;
            if (seen && sscanf(e.line.p, "line %d", &k) == 1 && k >= 0 && k < max)
                seen[k]++;
            n++;
        }
    }
    ss->ops->close(ss);
    q->ops->close(q);
    return n;
}

static int64_t first_t(struct ls_store *st)
{
    struct scry_querier *q;
    struct scry_stream_set *ss = select_all(st, &q);
    assert_true(ss->ops->next(ss));
    struct scry_entry_iter *it = ss->ops->entries(ss);
    assert_true(it->ops->next(it));
    struct scry_log_entry e;
    it->ops->at(it, &e);
    ss->ops->close(ss);
    q->ops->close(q);
    return e.t_ns;
}

static void wait_count(struct ls_store *st, int want)
{
    for (int i = 0; i < 1000; i++) {
        if (count_entries(st, NULL, 0) >= want)
            break;
        usleep(10000);
    }
    assert_int_equal(count_entries(st, NULL, 0), want);
}

static void assert_each_once(struct ls_store *st, int n)
{
    int *seen = calloc((size_t)n, sizeof *seen);
    assert_int_equal(count_entries(st, seen, n), n);
    for (int i = 0; i < n; i++)
        if (seen[i] != 1)
            fail_msg("line %d stored %d times", i, seen[i]);
    free(seen);
}

/* Starts the rig and waits until lines 0..n-1 of logs/name are stored. */
static void start_with(struct rig *r, const char *name, int n)
{
    start(r);
    append_lines(name, 0, n);
    wait_count(r->st, n);
}

/* Waits for n entries, checks that lines 0..n-1 are each stored once and
 * stops the rig for good. */
static void finish(struct rig *r, int n)
{
    wait_count(r->st, n);
    assert_each_once(r->st, n);
    stop(r, false);
}

static double metric(struct scry_metrics *reg, const char *name)
{
    struct scry_buf b = { 0 };
    scry_metrics_render(reg, &b);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(b.p, key);
    double v = p ? atof(p + strlen(key)) : -1;
    scry_buf_fini(&b);
    return v;
}

static void test_tail_manager_rename_rotation_and_restart(void **state)
{
    (void)state;
    struct rig r = { 0 };
    start_with(&r, "a.log", 100);
    char a[256], a1[256];
    snprintf(a, sizeof a, "%s/a.log", logs);
    snprintf(a1, sizeof a1, "%s/a.log.1", logs);
    assert_int_equal(rename(a, a1), 0);
    append_lines("a.log.1", 100, 105); /* a late write to the rotated file */
    append_lines("a.log", 105, 155);
    wait_count(r.st, 155);
    assert_true(metric(r.reg, "scry_tail_rotations_total{kind=\"rename\"}") >= 1);
    stop(&r, true);
    start(&r); /* a restart resumes from the checkpoints: nothing again */
    append_lines("a.log", 155, 165);
    finish(&r, 165);
}

/* The crash window: the store committed the round, the checkpoint did not
 * move. Put the intent row back (off 0, pinned to the first timestamp) and
 * restart: every replayed record gets its old timestamp, the store refuses
 * them, and the lines written meanwhile are stored once. */
static void test_tail_manager_replay_after_crash_is_ignored(void **state)
{
    (void)state;
    struct rig r = { 0 };
    start_with(&r, "b.log", 200);
    int64_t t0 = first_t(r.st);
    stop(&r, true);

    struct scry_catalog *cat;
    struct stat st;
    char b[256];
    snprintf(b, sizeof b, "%s/b.log", logs);
    assert_int_equal(stat(b, &st), 0);
    assert_int_equal(scry_catalog_open(&cat, catpath, NULL), 0);
    struct col__tail_pos p;
    char *path = NULL;
    assert_int_equal(col__tail_db_get(cat, st.st_dev, st.st_ino, &p, &path, NULL), 0);
    assert_int_equal(p.off, st.st_size);
    assert_false(p.pinned);
    p.path = path;
    p.off = 0;
    p.pinned = true;
    p.next_t_ns = t0; /* the intent of the round that read line 0 */
    p.last_t_ns = p.next_t_ns - 1;
    assert_int_equal(col__tail_db_put(cat, &p, NULL), 0);
    free(path);
    scry_catalog_close(cat);

    append_lines("b.log", 200, 230); /* written while "down" */
    start(&r);
    wait_count(r.st, 230);
    assert_each_once(r.st, 230);
    /* 199 older than the stream's newest; the newest itself is a duplicate
     * (ignored, not an error) when one round read all 200. */
    assert_true(metric(r.reg, "scry_tail_replayed_lines_total") >= 199);
    stop(&r, false);
}

static void test_tail_manager_copytruncate(void **state)
{
    (void)state;
    struct rig r = { 0 };
    start_with(&r, "c.log", 50);
    char c[256];
    snprintf(c, sizeof c, "%s/c.log", logs);
    assert_int_equal(truncate(c, 0), 0);
    append_lines("c.log", 50, 60); /* shorter than before: size < offset */
    wait_count(r.st, 60);
    stop(&r, true);
    /* Truncated and rewritten past the old offset while down: only the
     * fingerprint can tell. */
    assert_int_equal(truncate(c, 0), 0);
    append_lines("c.log", 60, 100);
    start(&r);
    finish(&r, 100);
}

static void test_tail_manager_reload_and_multiline(void **state)
{
    (void)state;
    struct rig r = { 0 };
    start_with(&r, "d.log", 3);
    /* A new config: d.log is excluded now, m.txt joins with multiline. */
    char extra[512];
    snprintf(extra, sizeof extra,
             "    exclude: [d.log]\n"
             "  - paths: [%s/*.txt]\n"
             "    multiline: {firstline: '^line'}\n",
             logs);
    struct scry_config *cfg2 = load(extra);
    assert_int_equal(col_tail_manager_apply_config(r.m, cfg2, NULL), 0);
    scry_config_destroy(r.cfg);
    r.cfg = cfg2;
    append_lines("d.log", 3, 6); /* not read: excluded */
    write_log("m.txt", "line 00010 boom\n  at x\n  at y\nline 00011 ok\n");
    wait_count(r.st, 5); /* the open record is flushed after idle_flush_ms */
    int seen[20];
    assert_int_equal(count_entries(r.st, seen, 20), 5);
    assert_int_equal(seen[10], 1);
    assert_int_equal(seen[11], 1);
    assert_int_equal(seen[4], 0);
    stop(&r, false);
}

/* The marker is structured metadata; it must survive the log store's WAL
 * replay (a restart), which once dropped metadata. */
static void test_tail_manager_truncated_marker_survives_restart(void **state)
{
    (void)state;
    struct rig r = { .cfg = load("    max_line_bytes: 16B\n") };
    start(&r);
    write_log("e.log", "0123456789abcdefXYZ\nshort\n");
    wait_count(r.st, 2);
    stop(&r, true);
    start(&r);
    struct scry_querier *q;
    struct scry_stream_set *ss = select_all(r.st, &q);
    assert_true(ss->ops->next(ss));
    struct scry_entry_iter *it = ss->ops->entries(ss);
    struct scry_log_entry e;
    assert_true(it->ops->next(it));
    it->ops->at(it, &e);
    assert_int_equal(e.line.len, 16);
    assert_memory_equal(e.line.p, "0123456789abcdef", 16);
    assert_int_equal(e.metadata.n, 1);
    assert_string_equal(e.metadata.v[0].name, "truncated");
    assert_string_equal(e.metadata.v[0].value, "true");
    assert_true(it->ops->next(it));
    it->ops->at(it, &e);
    assert_int_equal(e.metadata.n, 0);
    ss->ops->close(ss);
    q->ops->close(q);
    stop(&r, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tail_manager_rename_rotation_and_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tail_manager_replay_after_crash_is_ignored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tail_manager_copytruncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_manager_reload_and_multiline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_manager_truncated_marker_survives_restart,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
