/* Tests logstore/ end to end: append/select round trips over the head and
 * segments, the pruning property (select with required_tokens, filtered by
 * substring, equals a full scan filtered by substring) on random corpora
 * with planted needles, WAL replay after a simulated crash, order rules,
 * retention, and corrupt segment files → SCRY_ECORRUPT, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/matcher.h"
#include "logstore/ls_internal.h"
#include "logstore/logstore.h"
#include "logstore/tokenize.h"
#include "ls_fixture.h"

LS_TMPDIR_FIXTURE("ls")

static struct ls_store *open_store(void)
{
    struct ls_opts o = { .data_dir = dir, .wal_fsync = SCRY_WAL_FSYNC_NEVER };
    struct ls_store *st = NULL;
    struct scry_err err = { 0 };
    int rc = ls_open(&st, &o, &err);
    if (rc)
        fail_msg("ls_open: %s", err.msg);
    return st;
}

/* Appends n entries over 6 streams: entry k of stream s at t = k*1000+s. */
static void append_corpus(struct ls_store *st, int n, unsigned seed, const char *needle,
                          int every)
{
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(ls_appendable(st), NULL, &app, NULL), 0);
    static const char *words[] = { "GET", "POST", "user", "ok", "error", "timeout", "db",
                                   "path=/api/v1", "status=200", "x" };
    char line[512];
    for (int k = 0; k < n; k++) {
        int s = k % 6;
        size_t len = 0;
        int nw = 3 + (int)(rand_r(&seed) % 8);
        for (int w = 0; w < nw; w++)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s%u ", words[rand_r(&seed) % 10],
                                    (rand_r(&seed) % 4) ? "" : "-", rand_r(&seed) % 50);
        if (needle && k % every == every / 2)
            len += (size_t)snprintf(line + len, sizeof line - len, "pre%s %s", needle, needle);
        struct scry_label v[2];
        struct scry_labels ls = stream_labels(s, v);
        struct scry_log_entry e = { .t_ns = 1000000000LL + (int64_t)k * 1000,
                                    .line = { line, len } };
        uint64_t ref = 0;
        assert_int_equal(scry_append_log(app, &ref, &ls, &e, NULL), 0);
    }
    assert_int_equal(scry_appender_commit(app, NULL), 0);
}

/* Counts entries (and sums t_ns) of a select, with an optional substring filter. */
static void count(struct ls_store *st, const char *filter, bool use_index, bool backward,
                  size_t *n_out, int64_t *sum_out)
{
    struct scry_querier *q;
    assert_int_equal(ls_queryable(st)->querier(ls_queryable(st), NULL, INT64_MIN, INT64_MAX, &q,
                                               NULL), 0);
    struct scry_str toks[16];
    size_t n_toks = 0;
    struct tk { struct scry_str *v; size_t *n; char buf[16][LS_TOKEN_MAX]; } tk = { toks, &n_toks, {{0}} };
    (void)tk;
    char tokbuf[16][LS_TOKEN_MAX + 1];
    if (filter && use_index) {
        /* The needle's words, as README.md "Tokens" says. */
        const char *p = filter;
        while (*p && n_toks < 16) {
            while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                           (*p >= 'A' && *p <= 'Z')))
                p++;
            size_t l = 0;
            while (p[l] && ((p[l] >= 'a' && p[l] <= 'z') || (p[l] >= '0' && p[l] <= '9') ||
                            (p[l] >= 'A' && p[l] <= 'Z')))
                l++;
            if (!l)
                break;
            for (size_t i = 0; i < l && i < LS_TOKEN_MAX; i++)
                tokbuf[n_toks][i] = (char)(p[i] | ((p[i] >= 'A' && p[i] <= 'Z') ? 32 : 0));
            toks[n_toks] = (struct scry_str){ tokbuf[n_toks], l < LS_TOKEN_MAX ? l : LS_TOKEN_MAX };
            n_toks++;
            p += l;
        }
    }
    struct scry_select_hints h = { .mint = INT64_MIN, .maxt = INT64_MAX, .backward = backward,
                                   .required_tokens = toks, .n_required_tokens = n_toks };
    struct scry_stream_set *ss;
    struct scry_err err = { 0 };
    assert_int_equal(q->ops->select_streams(q, NULL, 0, &h, &ss, &err), 0);
    size_t n = 0;
    int64_t sum = 0;
    while (ss->ops->next(ss)) {
        struct scry_entry_iter *it = ss->ops->entries(ss);
        int64_t prev = backward ? INT64_MAX : INT64_MIN;
        while (it->ops->next(it)) {
            struct scry_log_entry e;
            it->ops->at(it, &e);
            assert_true(backward ? e.t_ns <= prev : e.t_ns >= prev);
            prev = e.t_ns;
            if (filter && !memmem(e.line.p, e.line.len, filter, strlen(filter)))
                continue;
            n++;
            sum += e.t_ns;
        }
        assert_int_equal(it->ops->err(it, &err), 0);
    }
    assert_int_equal(ss->ops->err(ss, &err), 0);
    ss->ops->close(ss);
    q->ops->close(q);
    *n_out = n;
    *sum_out = sum;
}

static void test_store_roundtrip_head_and_segments(void **state)
{
    (void)state;
    struct ls_store *st = open_store();
    append_corpus(st, 3000, 1, NULL, 1);
    size_t n, n2;
    int64_t s, s2;
    count(st, NULL, false, false, &n, &s);
    assert_int_equal(n, 3000);
    assert_int_equal(ls_flush(st, NULL), 0);
    count(st, NULL, false, true, &n2, &s2);
    assert_int_equal(n2, 3000);
    assert_int_equal(s, s2);
    struct ls_stats stt;
    ls_stats(st, &stt);
    assert_int_equal(stt.segments, 1);
    ls_close(st);
}

static void test_store_order_and_duplicates(void **state)
{
    (void)state;
    struct ls_store *st = open_store();
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(ls_appendable(st), NULL, &app, NULL), 0);
    struct scry_label v[2];
    struct scry_labels ls = stream_labels(0, v);
    struct scry_log_entry e = { .t_ns = 100, .line = SCRY_STR("a") };
    uint64_t ref = 0;
    assert_int_equal(scry_append_log(app, &ref, &ls, &e, NULL), 0);
    assert_int_equal(scry_append_log(app, &ref, &ls, &e, NULL), 0); /* duplicate, ignored */
    e.line = SCRY_STR("b");
    assert_int_equal(scry_append_log(app, &ref, &ls, &e, NULL), 0); /* same t, other line */
    e.t_ns = 99;
    assert_int_equal(scry_append_log(app, &ref, &ls, &e, NULL), SCRY_EINVAL);
    assert_int_equal(scry_appender_commit(app, NULL), 0);
    size_t n;
    int64_t s;
    count(st, NULL, false, false, &n, &s);
    assert_int_equal(n, 2);
    ls_close(st);
}

/* README "Ordering" holds across a flush (the head keeps each stream's newest
 * entry) and a restart (the newest t_ns of every segment stream). */
static void test_store_order_across_flush_and_restart(void **state)
{
    (void)state;
    struct ls_store *st = open_store();
    assert_int_equal(append_one(st, 0, 1000, "a"), 0);
    assert_int_equal(append_one(st, 0, 2000, "b"), 0);
    assert_int_equal(append_one(st, 1, 5000, "x"), 0);
    assert_int_equal(ls_flush(st, NULL), 0);
    assert_int_equal(append_one(st, 0, 1500, "older"), SCRY_EINVAL);
    assert_int_equal(append_one(st, 0, 2000, "b"), 0); /* the flushed newest: a duplicate */
    assert_int_equal(append_one(st, 1, 4999, "older"), SCRY_EINVAL);
    size_t n;
    int64_t sum;
    count(st, NULL, false, false, &n, &sum);
    assert_int_equal(n, 3);
    assert_int_equal(append_one(st, 0, 2000, "c"), 0); /* same t, other line */
    assert_int_equal(append_one(st, 0, 3000, "d"), 0);
    assert_int_equal(ls_flush(st, NULL), 0);
    /* A stream idle for a whole flush keeps its floor too. */
    assert_int_equal(append_one(st, 1, 4000, "older"), SCRY_EINVAL);
    ls_close(st);
    st = open_store();
    assert_int_equal(append_one(st, 0, 2999, "older"), SCRY_EINVAL);
    assert_int_equal(append_one(st, 1, 4999, "older"), SCRY_EINVAL);
    assert_int_equal(append_one(st, 0, 3000, "e"), 0); /* line unknown after restart: kept */
    assert_int_equal(append_one(st, 1, 6000, "y"), 0);
    count(st, NULL, false, false, &n, &sum);
    assert_int_equal(n, 7);
    /* Entries still only in the WAL come back and keep the rule. */
    ls_close(st);
    st = open_store();
    assert_int_equal(append_one(st, 1, 5500, "older"), SCRY_EINVAL);
    count(st, NULL, false, false, &n, &sum);
    assert_int_equal(n, 7);
    ls_close(st);
}

/* The metadata of the one entry in the store, as "k=v,k=v". */
static void metadata_of_only_entry(struct ls_store *st, char *out, size_t cap)
{
    struct scry_querier *q;
    assert_int_equal(ls_queryable(st)->querier(ls_queryable(st), NULL, INT64_MIN, INT64_MAX, &q,
                                               NULL), 0);
    struct scry_select_hints h = { .mint = INT64_MIN, .maxt = INT64_MAX };
    struct scry_stream_set *ss;
    assert_int_equal(q->ops->select_streams(q, NULL, 0, &h, &ss, NULL), 0);
    size_t n = 0, off = 0;
    out[0] = 0;
    while (ss->ops->next(ss)) {
        struct scry_entry_iter *it = ss->ops->entries(ss);
        while (it->ops->next(it)) {
            struct scry_log_entry e;
            it->ops->at(it, &e);
            n++;
            for (size_t i = 0; i < e.metadata.n; i++)
                off += (size_t)snprintf(out + off, cap - off, "%s%s=%s", i ? "," : "",
                                        e.metadata.v[i].name, e.metadata.v[i].value);
        }
    }
    ss->ops->close(ss);
    q->ops->close(q);
    assert_int_equal(n, 1);
}

/* Structured metadata survives the head, a WAL replay and a flush into a
 * segment (the segment writer once dropped it). */
static void test_store_metadata_roundtrip(void **state)
{
    (void)state;
    struct ls_store *st = open_store();
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(ls_appendable(st), NULL, &app, NULL), 0);
    struct scry_label v[2], md[2] = { { "trace_id", "4bf92f3577b34da6" }, { "user", "bob" } };
    struct scry_labels ls = stream_labels(0, v);
    struct scry_log_entry e = { .t_ns = 1000, .line = { "hello", 5 }, .metadata = { md, 2 } };
    assert_int_equal(scry_append_log(app, NULL, &ls, &e, NULL), 0);
    assert_int_equal(scry_appender_commit(app, NULL), 0);
    char got[256];
    metadata_of_only_entry(st, got, sizeof got);
    assert_string_equal(got, "trace_id=4bf92f3577b34da6,user=bob");
    ls_close(st);
    st = open_store();
    metadata_of_only_entry(st, got, sizeof got);
    assert_string_equal(got, "trace_id=4bf92f3577b34da6,user=bob");
    assert_int_equal(ls_flush(st, NULL), 0);
    metadata_of_only_entry(st, got, sizeof got);
    assert_string_equal(got, "trace_id=4bf92f3577b34da6,user=bob");
    ls_close(st);
}

/* The property: pruned selection + substring filter == full scan + filter. */
static void test_store_prune_equals_scan(void **state)
{
    (void)state;
    static const char *needles[] = { "zqx1e3needle", "needle", "qx1e3", "ZQX", "status=200",
                                     "user-1", "pre", "GET 3", "nothere", "1e3needle pre" };
    for (unsigned round = 0; round < 4; round++) {
        struct ls_store *st = open_store();
        append_corpus(st, 2000 + 500 * (int)round, 7 + round, "zqx1e3needle", 97 + (int)round);
        if (round % 2 == 0)
            assert_int_equal(ls_flush(st, NULL), 0);
        append_corpus(st, 0, 1, NULL, 1);
        for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
            size_t n1, n2;
            int64_t s1, s2;
            count(st, needles[i], false, false, &n1, &s1);
            count(st, needles[i], true, false, &n2, &s2);
            if (n1 != n2 || s1 != s2)
                fail_msg("round %u needle %s: scan %zu, pruned %zu", round, needles[i], n1, n2);
        }
        ls_close(st);
        teardown(NULL);
        setup(NULL);
    }
}

static void test_store_wal_replay_after_crash(void **state)
{
    (void)state;
    struct ls_store *st = open_store();
    append_corpus(st, 1000, 3, NULL, 1);
    assert_int_equal(ls_flush(st, NULL), 0);
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(ls_appendable(st), NULL, &app, NULL), 0);
    struct scry_label v[2];
    struct scry_labels ls = stream_labels(1, v);
    for (int i = 0; i < 50; i++) {
        struct scry_log_entry e = { .t_ns = 5000000000LL + i, .line = SCRY_STR("after flush") };
        assert_int_equal(scry_append_log(app, NULL, &ls, &e, NULL), 0);
    }
    assert_int_equal(scry_appender_commit(app, NULL), 0);
    /* A crash: the WAL lock goes with the process, nothing is flushed.
     * Simulated by closing without flushing (close only syncs the WAL). */
    ls_close(st);
    st = open_store();
    size_t n;
    int64_t s;
    count(st, NULL, false, false, &n, &s);
    assert_int_equal(n, 1050);
    count(st, "after flush", true, false, &n, &s);
    assert_int_equal(n, 50);
    ls_close(st);
    /* Reopen again: no double counting from the WAL. */
    st = open_store();
    count(st, NULL, false, false, &n, &s);
    assert_int_equal(n, 1050);
    ls_close(st);
}

static void test_store_retention_by_size(void **state)
{
    (void)state;
    struct ls_opts o = { .data_dir = dir, .wal_fsync = SCRY_WAL_FSYNC_NEVER,
                         .retention_size_bytes = 1 };
    struct ls_store *st;
    assert_int_equal(ls_open(&st, &o, NULL), 0);
    append_corpus(st, 500, 3, NULL, 1);
    assert_int_equal(ls_flush(st, NULL), 0);
    assert_int_equal(ls_maintain(st, NULL), 0);
    struct ls_stats stt;
    ls_stats(st, &stt);
    assert_int_equal(stt.segments, 0);
    ls_close(st);
}

static char *segment_file(void)
{
    static char p[512];
    char cmd[300];
    snprintf(cmd, sizeof cmd, "ls -d %s/logs/segments/*/segment", dir);
    FILE *f = popen(cmd, "r");
    assert_non_null(fgets(p, sizeof p, f));
    pclose(f);
    p[strcspn(p, "\n")] = 0;
    return p;
}

static void test_store_corrupt_segment_is_error(void **state)
{
    (void)state;
    struct ls_store *st = open_store();
    append_corpus(st, 800, 5, "zqx1e3needle", 50);
    assert_int_equal(ls_flush(st, NULL), 0);
    ls_close(st);
    const char *path = segment_file();
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *img = malloc((size_t)len);
    assert_int_equal(fread(img, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    /* Every single-byte flip and every truncation is caught or harmless. */
    int caught = 0;
    for (long i = 0; i < len; i += 1 + i / 64) {
        img[i] ^= 0x5a;
        struct ls_segment *s = NULL;
        struct scry_err err = { 0 };
        int rc = ls__segment_open_mem(&s, img, (size_t)len, path, &err);
        if (rc == 0) {
            ls__segment_release(s);
        } else {
            assert_int_equal(rc, SCRY_ECORRUPT);
            assert_non_null(strstr(err.msg, "offset"));
            caught++;
        }
        img[i] ^= 0x5a;
    }
    assert_true(caught > 0);
    for (long l = 0; l < len; l += 1 + l / 16) {
        struct ls_segment *s = NULL;
        assert_int_equal(ls__segment_open_mem(&s, img, (size_t)l, path, NULL), SCRY_ECORRUPT);
    }
    /* A corrupt file on disk: open fails with the path. */
    img[len / 2] ^= 0xff;
    f = fopen(path, "wb");
    fwrite(img, 1, (size_t)len, f);
    fclose(f);
    free(img);
    struct ls_opts o = { .data_dir = dir, .wal_fsync = SCRY_WAL_FSYNC_NEVER };
    struct scry_err err = { 0 };
    int rc = ls_open(&st, &o, &err);
    if (rc == 0) { /* the flip hit a chunk: found when read */
        size_t n;
        int64_t s;
        struct scry_querier *q;
        assert_int_equal(ls_queryable(st)->querier(ls_queryable(st), NULL, INT64_MIN, INT64_MAX,
                                                   &q, NULL), 0);
        struct scry_stream_set *ss;
        struct scry_select_hints h = { .mint = INT64_MIN, .maxt = INT64_MAX };
        rc = q->ops->select_streams(q, NULL, 0, &h, &ss, &err);
        if (rc == 0)
            ss->ops->close(ss);
        q->ops->close(q);
        (void)n;
        (void)s;
        ls_close(st);
    }
    assert_int_equal(rc, SCRY_ECORRUPT);
    assert_non_null(strstr(err.msg, "segment"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_roundtrip_head_and_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_order_and_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_prune_equals_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_order_across_flush_and_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_wal_replay_after_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_metadata_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_retention_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_corrupt_segment_is_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
