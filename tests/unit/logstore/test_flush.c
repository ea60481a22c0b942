/* Tests the log store's double-buffered flush: a flush held in the middle
 * (opts.flush_hook, after the head swap, before the segment write) must not
 * block appends from another thread; queries during and after it see every
 * entry exactly once; order rules hold across the swap; a crash image taken
 * in the middle of the flush restores everything; a failed segment write
 * loses nothing and is retried by the next flush. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "logstore/logstore.h"
#include "logstore/segment_tokens.h"
#include "ls_fixture.h"

static char dir[128], dir2[160];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/scry_test_lsflush_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(dir2, sizeof dir2, "%s.crash", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, dir2);
    return system(cmd);
}

/* ---- the hook: holds the flush until released ---- */

struct hold {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state; /* 0 idle, 1 a flush waits in the hook, 2 released (later flushes pass) */
    void (*in_hook)(void); /* optional: run inside the hook (a crash image) */
};

static void hook(void *ud)
{
    struct hold *h = ud;
    pthread_mutex_lock(&h->mu);
    if (h->state == 0) {
        h->state = 1;
        pthread_cond_broadcast(&h->cv);
    }
    while (h->state != 2)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

static void hold_wait_in_hook(struct hold *h)
{
    pthread_mutex_lock(&h->mu);
    while (h->state != 1)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

static void hold_release(struct hold *h)
{
    pthread_mutex_lock(&h->mu);
    h->state = 2;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static struct hold g_hold = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL };

static struct ls_store *open_dir(const char *d, bool hooked)
{
    struct ls_opts o = { .data_dir = d, .wal_fsync = SCRY_WAL_FSYNC_NEVER };
    if (hooked) {
        o.flush_hook = hook;
        o.flush_hook_ud = &g_hold;
    }
    struct ls_store *st = NULL;
    struct scry_err err = { 0 };
    if (ls_open(&st, &o, &err))
        fail_msg("ls_open: %s", err.msg);
    return st;
}

/* Entry k (k in [from, to)): stream k % 6, t = 1e9 + k * 1000, line "k=<k>". */
static void append_range(struct ls_store *st, int from, int to)
{
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(ls_appendable(st), NULL, &app, NULL), 0);
    for (int k = from; k < to; k++) {
        char line[32];
        int len = snprintf(line, sizeof line, "k=%d", k);
        struct scry_label v[2];
        struct scry_labels ls = stream_labels(k % 6, v);
        struct scry_log_entry e = { .t_ns = 1000000000LL + (int64_t)k * 1000,
                                    .line = { line, (size_t)len } };
        assert_int_equal(scry_append_log(app, NULL, &ls, &e, NULL), 0);
    }
    assert_int_equal(scry_appender_commit(app, NULL), 0);
}

static int pstrcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every entry a select of q returns, as "app,level,t,line", sorted. */
static size_t entries(struct scry_querier *q, char ***out)
{
    struct scry_select_hints h = { .mint = INT64_MIN, .maxt = INT64_MAX };
    struct scry_stream_set *ss;
    struct scry_err err = { 0 };
    assert_int_equal(q->ops->select_streams(q, NULL, 0, &h, &ss, &err), 0);
    char **v = NULL;
    size_t n = 0;
    while (ss->ops->next(ss)) {
        const struct scry_labels *ls = ss->ops->labels(ss);
        struct scry_entry_iter *it = ss->ops->entries(ss);
        int64_t prev = INT64_MIN;
        while (it->ops->next(it)) {
            struct scry_log_entry e;
            it->ops->at(it, &e);
            assert_true(e.t_ns >= prev); /* time order within a stream */
            prev = e.t_ns;
            char buf[256];
            snprintf(buf, sizeof buf, "%s,%s,%lld,%.*s", scry_labels_get(ls, "app"),
                     scry_labels_get(ls, "level"), (long long)e.t_ns, (int)e.line.len,
                     e.line.p);
            v = realloc(v, (n + 1) * sizeof *v);
            v[n++] = strdup(buf);
        }
        assert_int_equal(it->ops->err(it, &err), 0);
    }
    assert_int_equal(ss->ops->err(ss, &err), 0);
    ss->ops->close(ss);
    qsort(v, n, sizeof *v, pstrcmp);
    *out = v;
    return n;
}

static void free_entries(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static struct scry_querier *querier(struct ls_store *st)
{
    struct scry_querier *q;
    assert_int_equal(ls_queryable(st)->querier(ls_queryable(st), NULL, INT64_MIN, INT64_MAX, &q,
                                               NULL), 0);
    return q;
}

/* Asserts the store (through q) holds exactly entries [0, n) of append_range
 * plus `extra` other distinct entries; returns the sorted entries. */
static size_t check_exact(struct scry_querier *q, int n, size_t extra, char ***out)
{
    char **v;
    size_t got = entries(q, &v);
    assert_int_equal(got, (size_t)n + extra);
    for (size_t i = 1; i < got; i++)
        assert_true(strcmp(v[i - 1], v[i]) != 0); /* each entry once */
    for (int k = 0; k < n; k++) {
        char key[256];
        struct scry_label lv[2];
        struct scry_labels ls = stream_labels(k % 6, lv);
        snprintf(key, sizeof key, "%s,%s,%lld,k=%d", ls.v[0].value, ls.v[1].value,
                 1000000000LL + (long long)k * 1000, k);
        const char *kp = key;
        assert_non_null(bsearch(&kp, v, got, sizeof *v,
                                pstrcmp));
    }
    *out = v;
    return got;
}

/* check_exact through a fresh querier of st, freeing what it returns. */
static void store_exact(struct ls_store *st, int n)
{
    struct scry_querier *q = querier(st);
    char **v;
    size_t got = check_exact(q, n, 0, &v);
    free_entries(v, got);
    q->ops->close(q);
}

struct flusher {
    struct ls_store *st;
    int rc;
    pthread_t th;
};

static void *flush_main(void *p)
{
    struct flusher *f = p;
    struct scry_err err = { 0 };
    f->rc = ls_flush(f->st, &err);
    if (f->rc)
        fprintf(stderr, "ls_flush: %s\n", err.msg);
    return NULL;
}

struct appender_job {
    struct ls_store *st;
    int from, to;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void *append_main(void *p)
{
    struct appender_job *j = p;
    append_range(j->st, j->from, j->to);
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Waits up to 20 s for the appender thread: a flush holding the store lock
 * through its segment write would make this time out. */
static bool wait_done(struct appender_job *j)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 20;
    pthread_mutex_lock(&j->mu);
    while (!j->done)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) == ETIMEDOUT)
            break;
    bool done = j->done;
    pthread_mutex_unlock(&j->mu);
    return done;
}

static void start_held_flush(struct ls_store *st, struct flusher *f)
{
    g_hold.state = 0;
    f->st = st;
    assert_int_equal(pthread_create(&f->th, NULL, flush_main, f), 0);
    hold_wait_in_hook(&g_hold);
}

static void test_flush_does_not_block(void **state)
{
    (void)state;
    struct ls_store *st = open_dir(dir, true);
    append_range(st, 0, 600);
    struct scry_querier *q_before = querier(st); /* made before the swap */
    struct flusher f;
    start_held_flush(st, &f);

    /* (4) Order across the swap: stream 5's newest (k=599) is only in the
     * frozen head. */
    struct ls_stats stt;
    ls_stats(st, &stt);
    assert_int_equal(stt.head_entries, 600);
    assert_int_equal(stt.segments, 0);
    assert_int_equal(append_one(st, 5, 1000000000LL + 598 * 1000, "older"), SCRY_EINVAL);
    assert_int_equal(append_one(st, 5, 1000000000LL + 599 * 1000, "k=599"), 0); /* duplicate */
    ls_stats(st, &stt);
    assert_int_equal(stt.head_entries, 600); /* dropped, not appended */


    /* (1) An append from another thread completes while the flush is held. */
    struct appender_job j = { .st = st, .from = 600, .to = 700, .mu = PTHREAD_MUTEX_INITIALIZER,
                              .cv = PTHREAD_COND_INITIALIZER };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, append_main, &j), 0);
    bool done = wait_done(&j);
    if (!done)
        hold_release(&g_hold);
    assert_true(done);
    pthread_join(th, NULL);

    /* Stream 1's newest (k=697) is in the new head now. */
    assert_int_equal(append_one(st, 1, 1000000000LL + 696 * 1000, "older"), SCRY_EINVAL);
    ls_stats(st, &stt);
    assert_int_equal(stt.head_entries, 700);

    /* (2) A query during the held flush: frozen + new head, each entry once. */
    struct scry_querier *q_during = querier(st);
    char **during;
    size_t n_during = check_exact(q_during, 700, 0, &during);

    hold_release(&g_hold);
    pthread_join(f.th, NULL);
    assert_int_equal(f.rc, 0);
    ls_stats(st, &stt);
    assert_int_equal(stt.segments, 1);
    assert_int_equal(stt.head_entries, 100);
    assert_int_equal(append_one(st, 5, 1000000000LL + 598 * 1000, "older"), SCRY_EINVAL);

    /* (3) After the flush: the same entries, for a new querier and for the
     * queriers made before the swap and during the flush. */
    struct scry_querier *qs[] = { querier(st), q_before, q_during };
    for (size_t i = 0; i < 3; i++) {
        char **after;
        size_t n_after = check_exact(qs[i], 700, 0, &after);
        assert_int_equal(n_after, n_during);
        for (size_t k = 0; k < n_after; k++)
            assert_string_equal(after[k], during[k]);
        free_entries(after, n_after);
        qs[i]->ops->close(qs[i]);
    }
    free_entries(during, n_during);
    ls_close(st);
}

/* A crash in the middle of a flush: the data dir copied while the flush is
 * held (segment not written, nothing catalogued; the WAL holds the frozen
 * head before the cut and the new head after it, the same streams under new
 * refs). Opening the copy restores every entry, once. */
static void test_flush_crash_in_the_middle(void **state)
{
    (void)state;
    struct ls_store *st = open_dir(dir, true);
    append_range(st, 0, 600);
    assert_int_equal(ls_flush(st, NULL), 0); /* a first segment: wal_upto > 0 */
    g_hold.state = 0;
    append_range(st, 600, 1200);
    struct flusher f;
    start_held_flush(st, &f);
    append_range(st, 1200, 1300); /* after the cut: all 6 streams come back */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "cp -a %s %s", dir, dir2);
    assert_int_equal(system(cmd), 0);
    hold_release(&g_hold);
    pthread_join(f.th, NULL);
    assert_int_equal(f.rc, 0);
    ls_close(st);

    struct ls_store *c = open_dir(dir2, false);
    struct ls_stats stt;
    ls_stats(c, &stt);
    assert_int_equal(stt.segments, 1);
    assert_int_equal(stt.head_entries, 700);
    store_exact(c, 1300);
    /* The order floor survives: stream 3's newest is k=1299. */
    assert_int_equal(append_one(c, 3, 1000000000LL + 1298 * 1000, "older"), SCRY_EINVAL);
    /* Flushing the restored head, then reopening: still exactly once. */
    assert_int_equal(ls_flush(c, NULL), 0);
    ls_close(c);
    c = open_dir(dir2, false);
    store_exact(c, 1300);
    ls_close(c);
}

/* A failed segment write (the segments directory replaced by a file) keeps
 * the frozen head queryable; the next flush writes it, then the head. */
static void test_flush_failure_keeps_frozen(void **state)
{
    (void)state;
    struct ls_store *st = open_dir(dir, false);
    append_range(st, 0, 300);
    char segs[300], cmd[700];
    snprintf(segs, sizeof segs, "%s/logs/segments", dir);
    assert_int_equal(rmdir(segs), 0);
    FILE *fp = fopen(segs, "w");
    assert_non_null(fp);
    fclose(fp);
    struct scry_err err = { 0 };
    assert_int_not_equal(ls_flush(st, &err), 0);
    append_range(st, 300, 400);
    assert_int_equal(append_one(st, 5, 1000000000LL + 298 * 1000, "older"), SCRY_EINVAL);
    struct ls_stats stt;
    ls_stats(st, &stt);
    assert_int_equal(stt.segments, 0);
    assert_int_equal(stt.head_entries, 400);
    store_exact(st, 400);
    snprintf(cmd, sizeof cmd, "rm -f %s && mkdir %s", segs, segs);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ls_flush(st, NULL), 0);
    ls_stats(st, &stt);
    assert_int_equal(stt.segments, 2); /* the frozen head's, then the head's */
    assert_int_equal(stt.head_entries, 0);
    store_exact(st, 400);
    ls_close(st);
    st = open_dir(dir, false); /* the WAL was truncated: nothing twice */
    store_exact(st, 400);
    ls_close(st);
}

/* The flush's big arrays (segment_tokens.h): from 4 MiB on they start on
 * a 2 MiB boundary, every byte is usable, and free() takes them; smaller
 * ones are plain allocations. Advising a range that holds no whole 2 MiB
 * page is a no-op. */
static void test_big_alloc(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1, 4096, (4u << 20) - 1, 4u << 20, (5u << 20) + 3, 9u << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        unsigned char *p = ls__big_alloc(n);
        assert_non_null(p);
        if (n >= (4u << 20))
            assert_int_equal((uintptr_t)p % (2u << 20), 0);
        memset(p, 0xa5, n);
        assert_int_equal(p[0], 0xa5);
        assert_int_equal(p[n - 1], 0xa5);
        ls__advise_huge(p + 1, n > 2 ? n - 2 : 0);
        assert_int_equal(p[n / 2], 0xa5); /* advice keeps the contents */
        free(p);
    }
    char small[64];
    ls__advise_huge(small, sizeof small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flush_does_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_crash_in_the_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_failure_keeps_frozen, setup, teardown),
        cmocka_unit_test(test_big_alloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
