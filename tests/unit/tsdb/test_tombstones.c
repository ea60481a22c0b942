/* Tests tsdb/tombstones.c, head_delete.c, block_tombs.c, db_delete.c and the
 * tombstone handling of the querier, the cut and compaction: deletes in the
 * head and in blocks, compared sample by sample (bits) against a model, and
 * again after a restart (WAL replay, tombstones files), after a cut, after
 * compaction and after clean_tombstones; the tombstones file format under
 * every one-byte flip and truncation; intervals against a bitmap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/matcher.h"
#include "core/mem.h"
#include "tsdb/block.h"
#include "tsdb/tombstones.h"
#include "tsdb/tsdb.h"
#include "tmpdir_fixture.h"

#define NS 24   /* series */
#define NT 600  /* samples per series at most, t = k * 10 */

TSDB_TMPDIR_FIXTURE("tomb")

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Values: integers, decimals and raw bit patterns (NaN payloads too), so
 * every encoding is exercised and bit-exactness means something. */
static double value(int s, int k)
{
    uint64_t h = mix((uint64_t)s * 1000003u + (uint64_t)k);
    double v;
    switch (s % 3) {
    case 0: v = (double)(k * 7 + s); break;
    case 1: v = (double)(h % 100000) / 100.0; break;
    default: memcpy(&v, &h, sizeof v);
    }
    return v;
}

struct model {
    bool present[NS][NT], del[NS][NT];
};

static const char *grp_of(int s) { return s % 3 == 0 ? "a" : "b"; }

static struct scry_labels labels_of(int s, struct scry_label *l, char *buf)
{
    snprintf(buf, 16, "%02d", s);
    l[0] = (struct scry_label){ "__name__", "m" };
    l[1] = (struct scry_label){ "grp", grp_of(s) };
    l[2] = (struct scry_label){ "i", buf };
    return (struct scry_labels){ l, 3 };
}

static struct tsdb *open_db(int64_t bd)
{
    struct tsdb_opts o = { .data_dir = root, .maintain_interval_ms = -1 };
    o.storage.block_duration_ms = bd;
    o.storage.wal_segment_bytes = 1 << 20;
    struct tsdb *db = NULL;
    struct scry_err err = { 0 };
    int rc = tsdb_open(&db, &o, &err);
    if (rc)
        fail_msg("open: %s", err.msg);
    return db;
}

/* Appends k in [k0, k1) for every series. */
static void append(struct tsdb *db, struct model *m, int k0, int k1)
{
    struct scry_appender *app;
    struct scry_err err = { 0 };
    assert_int_equal(scry_appender_begin(tsdb_appendable(db), NULL, &app, &err), 0);
    for (int k = k0; k < k1; k++)
        for (int s = 0; s < NS; s++) {
            struct scry_label l[3];
            char buf[16];
            struct scry_labels ls = labels_of(s, l, buf);
            uint64_t ref = 0;
            assert_int_equal(scry_append_sample(app, &ref, &ls, (int64_t)k * 10, value(s, k), &err),
                             0);
            m->present[s][k] = true;
        }
    if (scry_appender_commit(app, &err))
        fail_msg("commit: %s", err.msg);
}

/* Deletes [mint, maxt] of the series with label name=value (name NULL: one
 * series, i=value) and mirrors it in the model. */
static void delete(struct tsdb *db, struct model *m, const char *name, const char *val,
                   int64_t mint, int64_t maxt)
{
    struct scry_matcher mt;
    struct scry_err err = { 0 };
    assert_int_equal(scry_matcher_init(&mt, SCRY_MATCH_EQ, name, val, &err), 0);
    if (tsdb_delete_series(db, &mt, 1, mint, maxt, &err))
        fail_msg("delete: %s", err.msg);
    scry_matcher_fini(&mt);
    for (int s = 0; s < NS; s++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%02d", s);
        bool match = !strcmp(name, "grp")        ? !strcmp(grp_of(s), val)
                     : !strcmp(name, "__name__") ? !strcmp(val, "m")
                                                 : !strcmp(buf, val);
        for (int k = 0; match && k < NT; k++)
            if (m->present[s][k] && (int64_t)k * 10 >= mint && (int64_t)k * 10 <= maxt)
                m->del[s][k] = true;
    }
}

/* Whether a returned series must have a sample in range. Tombstones make
 * sure of it; without them a block returns a series whose chunk overlaps
 * the range even when no sample falls in it (chunk granularity, as
 * Prometheus), which a cleaned block shows. */
static bool strict = true;

/* Selects every series over [mint, maxt] and compares with the model:
 * same series (none without a live sample in range), same samples, same
 * bits. Returns the number of samples compared. */
static size_t check(struct tsdb *db, const struct model *m, int64_t mint, int64_t maxt)
{
    struct scry_querier *q;
    struct scry_series_set *ss;
    struct scry_err err = { 0 };
    struct scry_matcher mt;
    assert_int_equal(scry_matcher_init(&mt, SCRY_MATCH_EQ, "__name__", "m", &err), 0);
    struct scry_queryable *qa = tsdb_queryable(db);
    assert_int_equal(qa->querier(qa, NULL, mint, maxt, &q, &err), 0);
    struct scry_select_hints h = { .mint = mint, .maxt = maxt };
    assert_int_equal(q->ops->select_series(q, &mt, 1, &h, &ss, &err), 0);
    size_t n = 0;
    bool seen[NS] = { 0 };
    while (ss->ops->next(ss)) {
        const struct scry_labels *ls = ss->ops->labels(ss);
        int s = atoi(ls->v[2].value);
        assert_false(seen[s]);
        seen[s] = true;
        struct scry_sample_iter *it = ss->ops->samples(ss);
        int k = 0;
        bool any = false;
        if (s % 2) {
            /* Seek first, to a point that moves with the series: into,
             * before and after deleted ranges. */
            int64_t st = mint + (int64_t)(mix((uint64_t)s + (uint64_t)mint) % 3000);
            k = 0;
            while (k < NT && !(m->present[s][k] && !m->del[s][k] && k * 10 >= mint &&
                               k * 10 <= maxt && k * 10 >= st))
                k++;
            bool ok = it->ops->seek(it, st);
            assert_int_equal(ok, k < NT);
            if (ok) {
                int64_t t;
                double v;
                it->ops->at(it, &t, &v);
                if (t != (int64_t)k * 10)
                    fail_msg("series %d: seek(%lld) at %lld, want %d", s, (long long)st,
                             (long long)t, k * 10);
                double want = value(s, k);
                assert_memory_equal(&v, &want, sizeof v);
                k++;
                n++;
                any = true;
            }
        }
        while (it->ops->next(it)) {
            int64_t t;
            double v;
            it->ops->at(it, &t, &v);
            while (k < NT && !(m->present[s][k] && !m->del[s][k] && k * 10 >= mint &&
                               k * 10 <= maxt))
                k++;
            if (k == NT)
                fail_msg("series %d: extra sample t=%lld", s, (long long)t);
            if (t != (int64_t)k * 10)
                fail_msg("series %d: t=%lld, want %d (deleted=%d)", s, (long long)t, k * 10,
                         t % 10 == 0 && t / 10 < NT ? m->del[s][t / 10] : -1);
            double want = value(s, k);
            assert_memory_equal(&v, &want, sizeof v);
            any = true;
            k++;
            n++;
        }
        assert_int_equal(it->ops->err(it, &err), 0);
        if (s % 2)
            any = true; /* seeking may have skipped every live sample */
        for (; k < NT; k++)
            if (m->present[s][k] && !m->del[s][k] && k * 10 >= mint && k * 10 <= maxt)
                fail_msg("series %d: sample k=%d missing", s, k);
        if (!any && strict)
            fail_msg("series %d returned without a sample in [%lld, %lld]", s, (long long)mint,
                     (long long)maxt);
    }
    assert_int_equal(ss->ops->err(ss, &err), 0);
    for (int s = 0; s < NS; s++)
        for (int k = 0; !seen[s] && k < NT; k++)
            if (m->present[s][k] && !m->del[s][k] && k * 10 >= mint && k * 10 <= maxt)
                fail_msg("series %d missing (k=%d)", s, k);
    ss->ops->close(ss);
    q->ops->close(q);
    scry_matcher_fini(&mt);
    return n;
}

/* Whole range plus a few windows, including ones wholly deleted. */
static size_t check_all(struct tsdb *db, const struct model *m)
{
    size_t n = check(db, m, INT64_MIN / 2, INT64_MAX / 2);
    check(db, m, 0, 999);
    check(db, m, 1234, 2345);
    check(db, m, 2000, 2500);
    check(db, m, 4000, 4100);
    return n;
}

static size_t live(const struct model *m)
{
    size_t n = 0;
    for (int s = 0; s < NS; s++)
        for (int k = 0; k < NT; k++)
            n += m->present[s][k] && !m->del[s][k];
    return n;
}

static bool file_exists(const char *dir, const char *name)
{
    char p[1100];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static void flush(struct tsdb *db)
{
    struct scry_err err = { 0 };
    if (tsdb_flush(db, &err))
        fail_msg("flush: %s", err.msg);
}

/* ---- head ------------------------------------------------------------------ */

static void test_tomb_head_delete_survives_restart(void **state)
{
    (void)state;
    static struct model m;
    memset(&m, 0, sizeof m);
    struct tsdb *db = open_db(0);
    append(db, &m, 0, 300);
    size_t before = check_all(db, &m);
    delete(db, &m, "grp", "a", 1000, 2000);  /* partial, several series */
    delete(db, &m, "i", "05", INT64_MIN, INT64_MAX); /* one series, all time */
    delete(db, &m, "i", "07", 2495, 2505);   /* one sample */
    delete(db, &m, "i", "08", 5000, 9000);   /* beyond the samples: nothing */
    size_t after = check_all(db, &m);
    assert_int_equal(after, live(&m));
    assert_true(after < before);
    /* Appends after a delete up to "all time" stay: the range was clamped. */
    append(db, &m, 300, 320);
    check_all(db, &m);
    tsdb_close(db);

    db = open_db(0); /* WAL replay applies the TOMBSTONES records */
    assert_int_equal(check_all(db, &m), live(&m));
    /* A cut writes no deleted sample; the block holds exactly the rest. */
    flush(db);
    struct tsdb_stats st;
    tsdb_stats(db, &st);
    assert_int_equal(st.blocks, 1);
    assert_int_equal(st.block_samples, live(&m));
    assert_int_equal(check_all(db, &m), live(&m));
    tsdb_close(db);
    db = open_db(0);
    assert_int_equal(check_all(db, &m), live(&m));
    tsdb_close(db);
}

/* Cuts that leave part of a deleted range in the head: the checkpoint
 * keeps the TOMBSTONES record, so a restart still hides the rest. */
static void test_tomb_head_checkpoint_keeps_ranges(void **state)
{
    (void)state;
    static struct model m;
    memset(&m, 0, sizeof m);
    struct tsdb *db = open_db(1000);
    append(db, &m, 0, 300); /* t 0..2990 */
    delete(db, &m, "grp", "b", 500, 2500);
    struct scry_err err = { 0 };
    if (tsdb_maintain(db, &err)) /* cuts [0,999] and [1000,1999], checkpoints */
        fail_msg("maintain: %s", err.msg);
    struct tsdb_stats st;
    tsdb_stats(db, &st);
    assert_int_equal(st.blocks, 2);
    assert_int_equal(st.head_mint_ms, 2000);
    assert_int_equal(check_all(db, &m), live(&m));
    tsdb_close(db);
    db = open_db(1000);
    assert_int_equal(check_all(db, &m), live(&m));
    tsdb_close(db);
}

/* ---- blocks ----------------------------------------------------------------- */

/* The path of the only block directory. */
static void block_dir(struct tsdb *db, char *out, size_t len)
{
    (void)db;
    char p[256];
    snprintf(p, sizeof p, "%s/tsdb/blocks", root);
    DIR *d = opendir(p);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(out, len, "%s/%s", p, e->d_name);
            n++;
        }
    closedir(d);
    assert_int_equal(n, 1);
}

static void test_tomb_blocks_delete_reopen_clean(void **state)
{
    (void)state;
    static struct model m;
    memset(&m, 0, sizeof m);
    struct tsdb *db = open_db(0);
    append(db, &m, 0, 500);
    flush(db);
    struct tsdb_stats st0;
    tsdb_stats(db, &st0);
    assert_int_equal(st0.blocks, 1);
    assert_int_equal(st0.head_samples, 0);

    delete(db, &m, "grp", "a", 1005, 3333);
    delete(db, &m, "i", "04", INT64_MIN, INT64_MAX);
    delete(db, &m, "i", "10", 0, 0);
    assert_int_equal(check_all(db, &m), live(&m));
    char dir[512];
    block_dir(db, dir, sizeof dir);
    assert_true(file_exists(dir, TSDB_TOMBS_FILE));
    assert_false(file_exists(dir, TSDB_TOMBS_FILE ".tmp"));
    tsdb_close(db);

    db = open_db(0); /* the tombstones file is loaded at open */
    assert_int_equal(check_all(db, &m), live(&m));
    struct scry_err err = { 0 };
    if (tsdb_clean_tombstones(db, &err))
        fail_msg("clean: %s", err.msg);
    strict = false;
    struct tsdb_stats st1;
    tsdb_stats(db, &st1);
    assert_int_equal(st1.blocks, 1);
    assert_int_equal(st1.block_samples, live(&m));
    assert_true(st1.block_bytes < st0.block_bytes);
    assert_int_equal(check_all(db, &m), live(&m));
    char dir2[512];
    block_dir(db, dir2, sizeof dir2);
    assert_string_not_equal(dir, dir2);
    assert_false(file_exists(dir2, TSDB_TOMBS_FILE));
    struct stat sst;
    assert_int_not_equal(stat(dir, &sst), 0); /* the old block is gone */
    tsdb_close(db);

    db = open_db(0);
    assert_int_equal(check_all(db, &m), live(&m));
    /* Deleting everything then cleaning removes the block. */
    delete(db, &m, "__name__", "m", INT64_MIN, INT64_MAX);
    assert_int_equal(check_all(db, &m), 0);
    assert_int_equal(tsdb_clean_tombstones(db, &err), 0);
    tsdb_stats(db, &st1);
    assert_int_equal(st1.blocks, 0);
    strict = true;
    tsdb_close(db);
}

/* Blocks with tombstones are compacted without the deleted samples. */
static void test_tomb_compaction_drops_deleted(void **state)
{
    (void)state;
    static struct model m;
    memset(&m, 0, sizeof m);
    struct tsdb *db = open_db(1000);
    struct scry_err err = { 0 };
    append(db, &m, 0, 300);
    assert_int_equal(tsdb_maintain(db, &err), 0); /* blocks [0,999], [1000,1999] */
    delete(db, &m, "grp", "b", 500, 1500);        /* both blocks */
    delete(db, &m, "i", "03", INT64_MIN, INT64_MAX); /* blocks and head */
    delete(db, &m, "i", "06", 2100, 2200);        /* head only */
    assert_int_equal(check_all(db, &m), live(&m));
    append(db, &m, 300, 600);
    /* cuts [2000,2999], [3000,3999], [4000,4999]; merges window [0, 3000) */
    assert_int_equal(tsdb_maintain(db, &err), 0);
    struct tsdb_stats st;
    tsdb_stats(db, &st);
    assert_int_equal(st.blocks, 3);
    /* Every block now holds exactly the live samples of its range. */
    size_t in_blocks = 0;
    for (int s = 0; s < NS; s++)
        for (int k = 0; k < 500; k++)
            in_blocks += m.present[s][k] && !m.del[s][k];
    assert_int_equal(st.block_samples, in_blocks);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s/tsdb/blocks/*/" TSDB_TOMBS_FILE " 2>/dev/null | wc -l",
             root);
    FILE *f = popen(cmd, "r");
    char line[32] = { 0 };
    assert_non_null(fgets(line, sizeof line, f));
    pclose(f);
    assert_int_equal(atoi(line), 0);
    assert_int_equal(check_all(db, &m), live(&m));
    tsdb_close(db);
    db = open_db(1000);
    assert_int_equal(check_all(db, &m), live(&m));
    tsdb_close(db);
}

/* Random operations against the model: appends, deletes (series, groups,
 * everything; ranges anywhere), flushes, maintenance (cuts of 1 s blocks,
 * compaction), clean_tombstones and restarts, each followed by selects
 * over random windows. */
static void test_tomb_random_ops(void **state)
{
    (void)state;
    static struct model m;
    memset(&m, 0, sizeof m);
    struct tsdb *db = open_db(1000);
    struct scry_err err = { 0 };
    const char *seed = getenv("SCRY_TOMB_SEED"); /* to try others by hand */
    uint64_t r = seed ? strtoull(seed, NULL, 10) : 12345;
    int next_k = 0;
    size_t n_ops[7] = { 0 }, compared = 0;
    for (int step = 0; step < 160; step++) {
        r = mix(r);
        int op = (int)(r % 16);
        if (op < 5 && next_k < NT) {
            int k1 = next_k + 1 + (int)((r >> 8) % 40);
            k1 = k1 > NT ? NT : k1;
            append(db, &m, next_k, k1);
            next_k = k1;
            n_ops[0]++;
        } else if (op < 10) {
            char who[16];
            const char *name = "i";
            switch ((r >> 8) % 8) {
            case 0: name = "grp"; snprintf(who, sizeof who, "%s", (r >> 12) % 2 ? "a" : "b"); break;
            case 1: name = "__name__"; snprintf(who, sizeof who, "m"); break;
            default: snprintf(who, sizeof who, "%02d", (int)((r >> 12) % NS));
            }
            int64_t a = (int64_t)((r >> 20) % (NT * 10 + 200)) - 100;
            int64_t b = a + (int64_t)((r >> 36) % 1500);
            if ((r >> 50) % 8 == 0)
                b = INT64_MAX; /* up to now */
            delete(db, &m, name, who, a, b);
            n_ops[1]++;
        } else if (op == 10) {
            flush(db);
            n_ops[2]++;
        } else if (op < 13) {
            assert_int_equal(tsdb_maintain(db, &err), 0);
            n_ops[3]++;
        } else if (op == 13) {
            assert_int_equal(tsdb_clean_tombstones(db, &err), 0);
            n_ops[4]++;
        } else if (op == 14) {
            tsdb_close(db);
            db = open_db(1000);
            n_ops[5]++;
        } else {
            n_ops[6]++;
        }
        int64_t w0 = (int64_t)((r >> 24) % (NT * 10)), w1 = w0 + (int64_t)((r >> 40) % 3000);
        strict = false; /* a cleaned or compacted block may return empty series */
        compared += check(db, &m, w0, w1);
        compared += check(db, &m, INT64_MIN / 2, INT64_MAX / 2);
        strict = true;
    }
    assert_int_equal(check(db, &m, INT64_MIN / 2, INT64_MAX / 2), live(&m));
    tsdb_close(db);
    db = open_db(1000);
    assert_int_equal(check(db, &m, INT64_MIN / 2, INT64_MAX / 2), live(&m));
    tsdb_close(db);
    print_message("random ops: %zu appends, %zu deletes, %zu flushes, %zu maintains, %zu cleans, "
                  "%zu restarts; %zu samples compared, %zu live of %d\n", n_ops[0], n_ops[1],
                  n_ops[2], n_ops[3], n_ops[4], n_ops[5], compared, live(&m), NS * NT);
    for (int i = 0; i < 6; i++)
        assert_true(n_ops[i] >= 3);
    assert_true(live(&m) > 0 && live(&m) < (size_t)NS * NT);
}

/* Deletes, flushes and cleans while one thread appends and another queries:
 * no error, no crash (ASan/TSan), and series 00, deleted over and over and
 * never appended to again, stays gone. */
struct conc {
    struct tsdb *db;
    atomic_bool stop;
    atomic_int appended_k, queries;
};

static void *conc_append(void *ud)
{
    struct conc *c = ud;
    for (int k = 100; !atomic_load(&c->stop) && k < 100000; k++) {
        struct scry_appender *app;
        struct scry_err err = { 0 };
        if (scry_appender_begin(tsdb_appendable(c->db), NULL, &app, &err))
            abort();
        for (int s = 1; s < NS; s++) {
            struct scry_label l[3];
            char buf[16];
            struct scry_labels ls = labels_of(s, l, buf);
            uint64_t ref = 0;
            if (scry_append_sample(app, &ref, &ls, (int64_t)k * 10, value(s, k), &err))
                abort();
        }
        if (scry_appender_commit(app, &err))
            abort();
        atomic_store(&c->appended_k, k);
    }
    return NULL;
}

static void *conc_query(void *ud)
{
    struct conc *c = ud;
    while (!atomic_load(&c->stop)) {
        struct scry_querier *q;
        struct scry_series_set *ss;
        struct scry_err err = { 0 };
        struct scry_queryable *qa = tsdb_queryable(c->db);
        if (qa->querier(qa, NULL, INT64_MIN / 2, INT64_MAX / 2, &q, &err) ||
            q->ops->select_series(q, NULL, 0, NULL, &ss, &err))
            abort();
        while (ss->ops->next(ss)) {
            if (!strcmp(ss->ops->labels(ss)->v[2].value, "00"))
                abort(); /* deleted before the threads started */
            struct scry_sample_iter *it = ss->ops->samples(ss);
            int64_t last = INT64_MIN, t;
            double v;
            while (it->ops->next(it)) {
                it->ops->at(it, &t, &v);
                if (t <= last)
                    abort();
                last = t;
            }
            if (it->ops->err(it, &err))
                abort();
        }
        if (ss->ops->err(ss, &err))
            abort();
        ss->ops->close(ss);
        q->ops->close(q);
        atomic_fetch_add(&c->queries, 1);
    }
    return NULL;
}

static void test_tomb_concurrent_deletes(void **state)
{
    (void)state;
    static struct model m;
    memset(&m, 0, sizeof m);
    struct conc c = { .db = open_db(0) };
    append(c.db, &m, 0, 100);
    flush(c.db);
    append(c.db, &m, 100, 101);
    delete(c.db, &m, "i", "00", INT64_MIN, INT64_MAX);
    pthread_t ta, tq;
    pthread_create(&ta, NULL, conc_append, &c);
    pthread_create(&tq, NULL, conc_query, &c);
    struct scry_err err = { 0 };
    for (int round = 0; round < 30; round++) {
        char who[16];
        snprintf(who, sizeof who, "%02d", 1 + round % (NS - 1));
        int64_t now = (int64_t)atomic_load(&c.appended_k) * 10;
        delete(c.db, &m, "i", who, now - 300, now);
        delete(c.db, &m, "i", "00", INT64_MIN, INT64_MAX);
        if (round % 5 == 0)
            flush(c.db);
        if (round % 7 == 0)
            assert_int_equal(tsdb_clean_tombstones(c.db, &err), 0);
        usleep(2000);
    }
    atomic_store(&c.stop, true);
    pthread_join(ta, NULL);
    pthread_join(tq, NULL);
    print_message("concurrent: %d queries while appending up to k=%d\n",
                  atomic_load(&c.queries), atomic_load(&c.appended_k));
    assert_true(atomic_load(&c.queries) > 0);
    tsdb_close(c.db);
}

/* ---- the file format and intervals ---------------------------------------------- */

static void test_tomb_file_flips_and_truncations(void **state)
{
    (void)state;
    struct tsdb_stone st[] = {
        { 3, 100, 200 }, { 3, 150, 400 }, { 3, 402, 500 }, { 3, 401, 401 }, { 0, -5, 7 },
        { 9, -TSDB_TOMBS_MAX_ABS_T, TSDB_TOMBS_MAX_ABS_T }, { 5, 1000, 1000 }, { 5, 10, 20 },
    };
    struct tsdb_tombs t, back;
    tsdb_tombs_build(&t, st, sizeof st / sizeof *st);
    assert_int_equal(t.n_refs, 4);
    size_t n;
    const struct tsdb_interval *iv = tsdb_tombs_get(&t, 3, &n);
    assert_int_equal(n, 1); /* [100,200] ∪ [150,400] ∪ [401] ∪ [402,500] = [100,500] */
    assert_int_equal(iv[0].mint, 100);
    assert_int_equal(iv[0].maxt, 500);
    iv = tsdb_tombs_get(&t, 5, &n);
    assert_int_equal(n, 2);
    assert_null(tsdb_tombs_get(&t, 4, &n));
    struct scry_buf img = { 0 };
    tsdb_tombs_encode(&t, &img);
    struct scry_err err = { 0 };
    assert_int_equal(tsdb_tombs_decode((uint8_t *)img.p, img.len, 10, false, &back, &err), 0);
    assert_int_equal(back.n_refs, t.n_refs);
    assert_int_equal(back.n_iv, t.n_iv);
    assert_memory_equal(back.iv, t.iv, t.n_iv * sizeof *t.iv);
    assert_memory_equal(back.refs, t.refs, t.n_refs * sizeof *t.refs);
    tsdb_tombs_fini(&back);
    /* A ref beyond the block's series is corrupt. */
    assert_int_equal(tsdb_tombs_decode((uint8_t *)img.p, img.len, 9, false, &back, &err),
                     SCRY_ECORRUPT);
    uint8_t *p = malloc(img.len);
    for (size_t i = 0; i < img.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(p, img.p, img.len);
            p[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(tsdb_tombs_decode(p, img.len, 10, false, &back, &err),
                             SCRY_ECORRUPT);
            /* Without the CRC, whatever decodes must be canonical. */
            if (tsdb_tombs_decode(p, img.len, 10, true, &back, &err) == 0) {
                for (size_t r = 0; r < back.n_refs; r++) {
                    assert_true(back.refs[r] < 10);
                    assert_true(r == 0 || back.refs[r] > back.refs[r - 1]);
                    for (uint32_t j = back.first[r]; j < back.first[r + 1]; j++) {
                        assert_true(back.iv[j].mint <= back.iv[j].maxt);
                        assert_true(j == back.first[r] ||
                                    back.iv[j].mint > back.iv[j - 1].maxt + 1);
                    }
                }
                tsdb_tombs_fini(&back);
            }
        }
    for (size_t len = 0; len < img.len; len++)
        assert_int_equal(tsdb_tombs_decode((uint8_t *)img.p, len, 10, false, &back, &err),
                         SCRY_ECORRUPT);
    free(p);
    scry_buf_fini(&img);
    tsdb_tombs_fini(&t);
}

static void test_tomb_intervals_vs_bitmap(void **state)
{
    (void)state;
    enum { W = 200 };
    for (uint64_t seed = 1; seed <= 300; seed++) {
        bool bm[W] = { 0 };
        struct tsdb_intervals iv = { 0 };
        uint64_t r = seed;
        int ops = 1 + (int)(mix(r) % 12);
        for (int o = 0; o < ops; o++) {
            r = mix(r);
            int a = (int)(r % W), b = a + (int)((r >> 20) % 15);
            if (b >= W)
                b = W - 1;
            tsdb_intervals_add(&iv, a, b);
            for (int x = a; x <= b; x++)
                bm[x] = true;
        }
        /* canonical */
        for (uint32_t i = 0; i < iv.n; i++) {
            assert_true(iv.v[i].mint <= iv.v[i].maxt);
            assert_true(i == 0 || iv.v[i].mint > iv.v[i - 1].maxt + 1);
        }
        size_t cur = 0;
        for (int x = 0; x < W; x++)
            assert_int_equal(tsdb_intervals_skip(iv.v, iv.n, &cur, x), bm[x]);
        tsdb_intervals_drop_below(&iv, W / 2);
        cur = 0;
        for (int x = W / 2; x < W; x++)
            assert_int_equal(tsdb_intervals_skip(iv.v, iv.n, &cur, x), bm[x]);
        tsdb_intervals_fini(&iv);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tomb_head_delete_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tomb_head_checkpoint_keeps_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tomb_blocks_delete_reopen_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tomb_compaction_drops_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tomb_random_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tomb_concurrent_deletes, setup, teardown),
        cmocka_unit_test(test_tomb_file_flips_and_truncations),
        cmocka_unit_test(test_tomb_intervals_vs_bitmap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
