/* Tests what core/wal.c, wal_replay.c and wal_checkpoint.c promise about
 * durability: group commit sharing fsyncs across threads, the interval
 * policy, checkpoints then truncate, injected write/fsync failures keeping
 * exactly the acknowledged records, and acknowledged records surviving
 * kill -9. Helpers in wal_fixture.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/wal.h"
#include "wal_fixture.h"

/* ---- group commit ---- */

static int slow_fsync(int fd, void *ud)
{
    (void)ud;
    struct timespec ts = { 0, 2 * 1000 * 1000 }; /* a disk that takes 2 ms */
    nanosleep(&ts, NULL);
    return fsync(fd);
}

struct worker {
    struct scry_wal *w;
    uint32_t id, n;
    int failures;
};

static void *work(void *arg)
{
    struct worker *k = arg;
    for (uint32_t i = 0; i < k->n; i++) {
        uint32_t v[2] = { k->id, i };
        if (scry_wal_append(k->w, 1, v, sizeof v, NULL) != 0 || scry_wal_commit(k->w, NULL) != 0)
            k->failures++;
    }
    return NULL;
}

static void test_wal_group_commit_shares_fsyncs_across_threads(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    struct scry_wal_opts o = { .segment_bytes = 1 << 20, .fsync = SCRY_WAL_FSYNC_ALWAYS,
                               .fsync_fn = slow_fsync };
    struct scry_wal *w;
    assert_int_equal(scry_wal_open(&w, dir, &o, NULL), 0);
    enum { T = 4, N = 200 };
    pthread_t th[T];
    struct worker k[T];
    for (uint32_t t = 0; t < T; t++) {
        k[t] = (struct worker){ .w = w, .id = t, .n = N };
        pthread_create(&th[t], NULL, work, &k[t]);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(k[t].failures, 0);
    }
    struct scry_wal_stats st;
    scry_wal_stats(w, &st);
    assert_int_equal(st.commits, T * N);
    /* Each commit is durable, yet they shared fsyncs: with 2 ms fsyncs and
     * 4 committers, well under one fsync per commit. */
    assert_true(st.fsyncs < st.commits);
    assert_true(st.fsyncs > 0);
    print_message("group commit: %llu commits, %llu fsyncs, %llu writes\n",
                  (unsigned long long)st.commits, (unsigned long long)st.fsyncs,
                  (unsigned long long)st.writes);
    assert_int_equal(scry_wal_close(w, NULL), 0);

    struct got g = { 0 };
    assert_int_equal(replay(dir, &g, NULL, NULL), 0);
    assert_int_equal(g.n, T * N);
    uint32_t next[T] = { 0 };
    for (size_t i = 0; i < g.n; i++) {
        uint32_t v[2];
        assert_int_equal(g.v[i].len, sizeof v);
        memcpy(v, g.v[i].p, sizeof v);
        assert_true(v[0] < T);
        assert_int_equal(v[1], next[v[0]]); /* each thread's records in its order */
        next[v[0]]++;
    }
    got_free(&g);
    rm_rf(root);
    free(dir);
    free(root);
}

static int counting_fsync(int fd, void *ud)
{
    __atomic_add_fetch((int *)ud, 1, __ATOMIC_RELAXED);
    return fsync(fd);
}

static void test_wal_interval_policy_fsyncs_in_background(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    int calls = 0;
    struct scry_wal_opts o = { .fsync = SCRY_WAL_FSYNC_INTERVAL, .fsync_interval_ms = 5,
                               .fsync_fn = counting_fsync, .io_ud = &calls };
    struct scry_wal *w;
    assert_int_equal(scry_wal_open(&w, dir, &o, NULL), 0);
    append_rec(w, 5);
    assert_int_equal(scry_wal_commit(w, NULL), 0);
    for (int i = 0; i < 200 && __atomic_load_n(&calls, __ATOMIC_RELAXED) == 0; i++)
        usleep(5000);
    assert_true(__atomic_load_n(&calls, __ATOMIC_RELAXED) >= 1);
    assert_int_equal(scry_wal_close(w, NULL), 0);
    o.fsync_interval_ms = 1001;
    assert_int_equal(scry_wal_open(&w, dir, &o, NULL), SCRY_EINVAL);
    rm_rf(root);
    free(dir);
    free(root);
}

/* ---- checkpoints ---- */

struct keep_even {
    struct scry_wal_checkpoint *cp;
    int n;
};

static int keep_even(void *ud, uint8_t type, const void *payload, size_t len,
                     const struct scry_wal_pos *pos)
{
    struct keep_even *k = ud;
    uint32_t i;
    if (len < 4)
        return 0;
    memcpy(&i, payload, 4);
    if (i % 2)
        return 0;
    k->n++;
    return scry_wal_checkpoint_append(k->cp, type, payload, len, NULL);
}

static void test_wal_checkpoint_then_truncate_replays_checkpoint_first(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    struct scry_wal *w = open_wal(dir, 2048, SCRY_WAL_FSYNC_ALWAYS);
    for (uint32_t i = 0; i < 200; i++)
        append_rec(w, i);
    uint32_t upto;
    assert_int_equal(scry_wal_cut(w, &upto, NULL), 0);
    assert_true(upto > 3);

    struct keep_even k = { 0 };
    assert_int_equal(scry_wal_checkpoint_begin(&k.cp, dir, upto, NULL), 0);
    struct scry_wal_replay_opts ro = { .on_record = keep_even, .ud = &k, .last_segment = upto };
    assert_int_equal(scry_wal_replay(dir, &ro, NULL, NULL), 0);
    assert_int_equal(scry_wal_checkpoint_commit(k.cp, NULL), 0);
    assert_int_equal(scry_wal_truncate_before(w, upto + 1, NULL), 0);
    for (uint32_t i = 200; i < 220; i++)
        append_rec(w, i);
    struct scry_wal_stats ws;
    scry_wal_stats(w, &ws);
    assert_int_equal(ws.first_segment, upto + 1);
    assert_int_equal(scry_wal_close(w, NULL), 0);

    uint32_t *segs;
    size_t n;
    assert_int_equal(scry_wal_segments(dir, &segs, &n, NULL), 0);
    assert_int_equal(segs[0], upto + 1);
    free(segs);

    struct got g = { 0 };
    struct scry_wal_replay_stats st;
    struct scry_err err = { 0 };
    assert_int_equal(replay(dir, &g, &st, &err), 0);
    assert_int_equal(st.checkpoint, upto);
    assert_int_equal((int)st.checkpoint_records, k.n);
    assert_int_equal(st.records, 20);
    assert_int_equal(g.n, (size_t)k.n + 20);
    size_t j = 0;
    for (uint32_t i = 0; i < 200; i += 2) {
        if (i % 150 < 4)
            continue; /* too short to carry their number: not kept */
        assert_true(g.v[j].pos.checkpoint);
        check_rec(&g.v[j++], i);
    }
    for (uint32_t i = 200; i < 220; i++) {
        assert_false(g.v[j].pos.checkpoint);
        check_rec(&g.v[j++], i);
    }
    got_free(&g);

    /* A second checkpoint replaces the first; a stale .tmp is ignored. */
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s/checkpoint.%08u.tmp", dir, upto + 5);
    assert_int_equal(mkdir(tmp, 0755), 0);
    struct scry_wal_checkpoint *cp;
    assert_int_equal(scry_wal_checkpoint_begin(&cp, dir, upto, &err), SCRY_EEXIST);
    assert_int_equal(scry_wal_checkpoint_begin(&cp, dir, upto + 1, NULL), 0);
    uint8_t one = 1;
    assert_int_equal(scry_wal_checkpoint_append(cp, 7, &one, 1, NULL), 0);
    assert_int_equal(scry_wal_checkpoint_commit(cp, NULL), 0);
    char old[512];
    snprintf(old, sizeof old, "%s/checkpoint.%08u", dir, upto);
    assert_int_equal(access(old, F_OK), -1);
    assert_int_equal(replay(dir, &g, &st, &err), 0);
    assert_int_equal(st.checkpoint, upto + 1);
    assert_int_equal(st.checkpoint_records, 1);
    assert_int_equal(g.v[0].type, 7);
    got_free(&g);

    /* Reopening with only a checkpoint left starts after it. */
    rm_rf(dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(scry_wal_checkpoint_begin(&cp, dir, 42, NULL), 0);
    scry_wal_checkpoint_rollback(cp);
    assert_int_equal(scry_wal_checkpoint_begin(&cp, dir, 42, NULL), 0);
    assert_int_equal(scry_wal_checkpoint_commit(cp, NULL), 0);
    w = open_wal(dir, 2048, SCRY_WAL_FSYNC_NEVER);
    scry_wal_stats(w, &ws);
    assert_int_equal(ws.segment, 43);
    assert_int_equal(scry_wal_close(w, NULL), 0);
    rm_rf(root);
    free(dir);
    free(root);
}

/* ---- fault injection ---- */

struct faults {
    int write_calls, fsync_calls;
    int fail_write, fail_fsync; /* 1-based call to fail, 0 = never */
    bool short_first;           /* the failing write first lands half its bytes */
};

static ssize_t faulty_write(int fd, const void *p, size_t len, void *ud)
{
    struct faults *f = ud;
    int call = ++f->write_calls;
    if (f->short_first && call == f->fail_write && len > 1)
        return write(fd, p, len / 2);
    if (call == f->fail_write + (f->short_first ? 1 : 0) && f->fail_write) {
        errno = f->short_first ? ENOSPC : EIO;
        return -1;
    }
    return write(fd, p, len);
}

static int faulty_fsync(int fd, void *ud)
{
    struct faults *f = ud;
    if (++f->fsync_calls == f->fail_fsync) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

/* Runs a workload with one injected failure; returns how many records
 * were acknowledged, and checks that a reopen replays exactly those. */
static void run_with_fault(struct faults f, bool *hit)
{
    char *root = tmpdir(), *dir = waldir(root);
    struct scry_wal_opts o = { .segment_bytes = 1024, .fsync = SCRY_WAL_FSYNC_ALWAYS,
                               .write_fn = faulty_write, .fsync_fn = faulty_fsync, .io_ud = &f };
    struct scry_wal *w = NULL;
    struct scry_err err = { 0 };
    uint32_t acked = 0;
    int rc = scry_wal_open(&w, dir, &o, &err);
    *hit = rc != 0;
    if (rc == 0) {
        for (uint32_t i = 0; i < 60; i++) {
            append_rec(w, i);
            if (i % 3 != 2)
                continue;
            rc = scry_wal_commit(w, &err);
            if (rc) {
                *hit = true;
                break;
            }
            acked = i + 1;
        }
    }
    if (*hit) {
        assert_int_equal(rc, SCRY_EIO);
        assert_true(err.sys_errno == EIO || err.sys_errno == ENOSPC);
        assert_non_null(strstr(err.msg, dir));
        if (w) { /* sticky: later calls fail too, with the same cause */
            struct scry_err e2 = { 0 };
            assert_int_equal(scry_wal_append(w, 1, "x", 1, &e2), SCRY_EIO);
            assert_int_equal(e2.sys_errno, err.sys_errno);
            assert_int_equal(scry_wal_commit(w, NULL), SCRY_EIO);
        }
    }
    scry_wal_close(w, NULL);

    struct got g = { 0 };
    scry_err_clear(&err);
    rc = replay(dir, &g, NULL, &err);
    if (rc)
        fail_msg("replay after fault (write %d fsync %d): %s", f.fail_write, f.fail_fsync, err.msg);
    assert_int_equal(g.n, acked);
    for (uint32_t i = 0; i < acked; i++)
        check_rec(&g.v[i], i);
    got_free(&g);
    w = open_wal(dir, 1024, SCRY_WAL_FSYNC_ALWAYS); /* and the WAL works again */
    append_rec(w, 1000);
    assert_int_equal(scry_wal_close(w, NULL), 0);
    assert_int_equal(replay(dir, &g, NULL, NULL), 0);
    assert_int_equal(g.n, acked + 1);
    got_free(&g);
    rm_rf(root);
    free(dir);
    free(root);
}

static void test_wal_failed_write_or_fsync_keeps_exactly_the_acked_records(void **state)
{
    int hits = 0;
    for (int n = 1; n < 80; n++) {
        bool hit;
        run_with_fault((struct faults){ .fail_write = n }, &hit);
        hits += hit;
        run_with_fault((struct faults){ .fail_write = n, .short_first = true }, &hit);
        hits += hit;
        run_with_fault((struct faults){ .fail_fsync = n }, &hit);
        hits += hit;
    }
    assert_true(hits > 60); /* the loop did reach the failures it meant to */
}

/* ---- kill -9 ---- */

/* The 2xx promise: a child appends and commits as fast as it can and
 * reports each acknowledged record on a pipe; the parent kills it with
 * SIGKILL mid-stream. Every reported record must replay, in order. */
static void test_wal_acknowledged_records_survive_kill_9(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    for (int round = 0; round < 5; round++) {
        rm_rf(dir);
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            struct scry_wal_opts o = { .segment_bytes = 64 << 10, .fsync = SCRY_WAL_FSYNC_NEVER };
            struct scry_wal *w;
            if (scry_wal_open(&w, dir, &o, NULL) != 0)
                _exit(1);
            for (uint32_t i = 0;; i++) {
                uint8_t buf[160], type;
                size_t len = make_rec(i, buf, &type);
                if (scry_wal_append(w, type, buf, len, NULL) || scry_wal_commit(w, NULL))
                    _exit(1);
                if (write(fds[1], &i, sizeof i) != sizeof i)
                    _exit(1);
            }
        }
        close(fds[1]);
        /* Kill only once the child is writing (a loaded machine may take
         * longer than any fixed delay to get it going), then at a point
         * that varies by round. */
        uint32_t i, acked = 0;
        while (acked < 10 && read(fds[0], &i, sizeof i) == sizeof i)
            acked = i + 1;
        usleep(5000 + round * 15000);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        while (read(fds[0], &i, sizeof i) == sizeof i)
            acked = i + 1;
        close(fds[0]);
        assert_true(acked > 0);

        struct got g = { 0 };
        struct scry_err err = { 0 };
        if (replay(dir, &g, NULL, &err) != 0)
            fail_msg("replay after kill -9: %s", err.msg);
        assert_true(g.n >= acked); /* one more may have landed unacknowledged */
        for (uint32_t k = 0; k < g.n; k++)
            check_rec(&g.v[k], k);
        got_free(&g);
    }
    rm_rf(root);
    free(dir);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wal_group_commit_shares_fsyncs_across_threads),
        cmocka_unit_test(test_wal_interval_policy_fsyncs_in_background),
        cmocka_unit_test(test_wal_checkpoint_then_truncate_replays_checkpoint_first),
        cmocka_unit_test(test_wal_failed_write_or_fsync_keeps_exactly_the_acked_records),
        cmocka_unit_test(test_wal_acknowledged_records_survive_kill_9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
