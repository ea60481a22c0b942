/* Tests core/wal.c, wal_replay.c, wal_checkpoint.c: round trips across
 * segments, torn tails at every cut point, corruption in a middle segment,
 * group commit, checkpoints, and injected write/fsync failures. */
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

/* ---- helpers ---- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *tmpdir(void)
{
    char *d = strdup("/tmp/scry-test-wal-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static char *waldir(const char *root)
{
    char *p = malloc(strlen(root) + 8);
    sprintf(p, "%s/wal", root);
    return p;
}

struct rec {
    uint8_t type;
    size_t len;
    uint8_t *p;
    struct scry_wal_pos pos;
};

struct got {
    struct rec *v;
    size_t n, cap;
    int progress_calls;
    struct scry_wal_replay_stats last_progress;
};

static int collect(void *ud, uint8_t type, const void *payload, size_t len,
                   const struct scry_wal_pos *pos)
{
    struct got *g = ud;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->v = realloc(g->v, g->cap * sizeof *g->v);
    }
    struct rec *r = &g->v[g->n++];
    r->type = type;
    r->len = len;
    r->p = malloc(len ? len : 1);
    memcpy(r->p, payload, len);
    r->pos = *pos;
    return 0;
}

static void progress(void *ud, const struct scry_wal_replay_stats *st)
{
    struct got *g = ud;
    g->progress_calls++;
    g->last_progress = *st;
}

static void got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i].p);
    free(g->v);
    memset(g, 0, sizeof *g);
}

static int replay(const char *dir, struct got *g, struct scry_wal_replay_stats *st,
                  struct scry_err *err)
{
    struct scry_wal_replay_opts o = { .on_record = collect, .on_progress = progress, .ud = g };
    return scry_wal_replay(dir, &o, st, err);
}

/* Record i: type 1 + i % 3, length i % 150, bytes derived from i. */
static size_t make_rec(uint32_t i, uint8_t *buf, uint8_t *type)
{
    size_t len = i % 150;
    *type = (uint8_t)(1 + i % 3);
    for (size_t k = 0; k < len; k++)
        buf[k] = (uint8_t)(i * 31 + k);
    if (len >= 4)
        memcpy(buf, &i, 4);
    return len;
}

static void append_rec(struct scry_wal *w, uint32_t i)
{
    uint8_t buf[160], type;
    size_t len = make_rec(i, buf, &type);
    struct scry_err err = { 0 };
    assert_int_equal(scry_wal_append(w, type, buf, len, &err), 0);
}

static void check_rec(const struct rec *r, uint32_t i)
{
    uint8_t buf[160], type;
    size_t len = make_rec(i, buf, &type);
    assert_int_equal(r->type, type);
    assert_int_equal(r->len, len);
    assert_memory_equal(r->p, buf, len);
}

static struct scry_wal *open_wal(const char *dir, uint64_t seg_bytes, enum scry_wal_fsync fs)
{
    struct scry_wal_opts o = { .segment_bytes = seg_bytes, .fsync = fs };
    struct scry_wal *w = NULL;
    struct scry_err err = { 0 };
    int rc = scry_wal_open(&w, dir, &o, &err);
    if (rc)
        fail_msg("open: %s", err.msg);
    return w;
}

static void write_n(const char *dir, uint32_t from, uint32_t to, uint64_t seg_bytes)
{
    struct scry_wal *w = open_wal(dir, seg_bytes, SCRY_WAL_FSYNC_NEVER);
    for (uint32_t i = from; i < to; i++) {
        append_rec(w, i);
        if (i % 7 == 0)
            assert_int_equal(scry_wal_commit(w, NULL), 0);
    }
    assert_int_equal(scry_wal_close(w, NULL), 0);
}

static uint64_t fsize(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (uint64_t)sb.st_size;
}

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

/* ---- round trip, rotation ---- */

static void test_wal_round_trip_across_segments(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    write_n(dir, 0, 600, 4096);
    write_n(dir, 600, 1000, 4096); /* a second session continues after the first */

    uint32_t *segs;
    size_t n;
    assert_int_equal(scry_wal_segments(dir, &segs, &n, NULL), 0);
    assert_true(n > 10);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(segs[i], segs[i - 1] + 1);
    assert_int_equal(segs[0], 1);
    free(segs);

    struct got g = { 0 };
    struct scry_wal_replay_stats st;
    struct scry_err err = { 0 };
    assert_int_equal(replay(dir, &g, &st, &err), 0);
    assert_int_equal(g.n, 1000);
    for (uint32_t i = 0; i < 1000; i++)
        check_rec(&g.v[i], i);
    assert_int_equal(st.records, 1000);
    assert_int_equal(st.segments_done, st.segments_total);
    assert_int_equal(st.bytes_done, st.bytes_total);
    assert_int_equal(st.torn_bytes, 0);
    assert_true(g.progress_calls >= (int)st.segments_total);
    assert_int_equal(g.last_progress.records, 1000);
    /* Offsets: the first record of a segment sits right after its header. */
    assert_int_equal(g.v[0].pos.segment, 1);
    assert_int_equal(g.v[0].pos.offset, SCRY_WAL_SEGMENT_HEADER_BYTES);
    got_free(&g);
    rm_rf(root);
    free(dir);
    free(root);
}

/* first_segment (the agent's queue reading its backlog): segments below it
 * are skipped, and with last_segment set nothing is repaired, so a reader
 * may run beside the writer; the live segment's records are delivered. */
static void test_wal_replay_from_a_first_segment_beside_the_writer(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    write_n(dir, 0, 600, 4096);
    struct scry_wal *w = open_wal(dir, 4096, SCRY_WAL_FSYNC_NEVER);
    for (uint32_t i = 600; i < 650; i++)
        append_rec(w, i);
    assert_int_equal(scry_wal_commit(w, NULL), 0);
    struct scry_wal_stats ws;
    scry_wal_stats(w, &ws);
    struct got all = { 0 }, g = { 0 };
    struct scry_wal_replay_opts o = { .on_record = collect, .ud = &all,
                                      .last_segment = ws.segment };
    assert_int_equal(scry_wal_replay(dir, &o, NULL, NULL), 0);
    assert_int_equal(all.n, 650);
    uint32_t first = all.v[300].pos.segment;
    size_t skip = 0;
    while (all.v[skip].pos.segment < first)
        skip++;
    o = (struct scry_wal_replay_opts){ .on_record = collect, .ud = &g, .first_segment = first,
                                       .last_segment = ws.segment };
    assert_int_equal(scry_wal_replay(dir, &o, NULL, NULL), 0);
    assert_int_equal(g.n, 650 - skip);
    for (size_t i = 0; i < g.n; i++) {
        check_rec(&g.v[i], (uint32_t)(skip + i));
        assert_true(g.v[i].pos.segment >= first);
    }
    assert_int_equal(scry_wal_close(w, NULL), 0);
    got_free(&all);
    got_free(&g);
    rm_rf(root);
    free(dir);
    free(root);
}

static void test_wal_rotation_keeps_segments_under_segment_bytes(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    struct scry_wal *w = open_wal(dir, 2048, SCRY_WAL_FSYNC_ALWAYS);
    for (uint32_t i = 0; i < 300; i++)
        append_rec(w, i);
    static uint8_t big[5000];
    memset(big, 0xab, sizeof big);
    assert_int_equal(scry_wal_append(w, 9, big, sizeof big, NULL), 0); /* > segment_bytes */
    append_rec(w, 300);
    assert_int_equal(scry_wal_commit(w, NULL), 0);
    struct scry_wal_stats ws;
    scry_wal_stats(w, &ws);
    assert_int_equal(ws.records, 302);
    assert_true(ws.segment > 10);
    assert_int_equal(scry_wal_close(w, NULL), 0);

    uint32_t *segs;
    size_t n, oversize = 0;
    assert_int_equal(scry_wal_segments(dir, &segs, &n, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%08u", dir, segs[i]);
        uint64_t sz = fsize(p);
        if (sz > 2048) {
            oversize++;
            assert_int_equal(sz, 8 + 9 + sizeof big); /* alone in its segment */
        }
    }
    assert_int_equal(oversize, 1);
    free(segs);

    struct got g = { 0 };
    assert_int_equal(replay(dir, &g, NULL, NULL), 0);
    assert_int_equal(g.n, 302);
    assert_int_equal(g.v[300].type, 9);
    assert_int_equal(g.v[300].len, sizeof big);
    check_rec(&g.v[301], 300);
    got_free(&g);
    rm_rf(root);
    free(dir);
    free(root);
}

/* ---- torn tails ---- */

/* Cuts the last record of the last segment at every length, and also
 * damages it in place; each time replay must deliver exactly the records
 * before it, cut the file, and a reopened WAL's new records must replay. */
static void test_wal_torn_tail_at_every_cut_point(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    write_n(dir, 0, 6, 1 << 20);
    write_n(dir, 6, 10, 1 << 20); /* segment 2: records 6..9; record 9 is 9 + 9 bytes */
    char seg[512];
    snprintf(seg, sizeof seg, "%s/%08u", dir, 2);
    size_t len;
    uint8_t *orig = slurp(seg, &len);

    struct got g = { 0 };
    assert_int_equal(replay(dir, &g, NULL, NULL), 0);
    assert_int_equal(g.n, 10);
    uint64_t last_off = g.v[9].pos.offset;
    assert_int_equal(g.v[9].pos.segment, 2);
    assert_int_equal(last_off + 9 + 9, len);
    got_free(&g);

    char *snap = malloc(strlen(root) + 8);
    sprintf(snap, "%s/snap", root);
    for (size_t variant = 0; variant < 3; variant++) {
        size_t cuts = variant == 0 ? len - last_off : 1;
        for (size_t c = 0; c < cuts; c++) {
            /* Start from segments 1 and 2 only (no segment from a reopen). */
            rm_rf(dir);
            write_n(dir, 0, 6, 1 << 20);
            if (variant == 0) {
                spit(seg, orig, last_off + c); /* cut inside the last record */
            } else {
                uint8_t *d = malloc(len);
                memcpy(d, orig, len);
                if (variant == 1)
                    d[len - 1] ^= 0x40; /* crc mismatch, ends at eof */
                else
                    memset(d + last_off, 0, len - last_off); /* zero-filled tail */
                spit(seg, d, len);
                free(d);
            }
            struct scry_wal_replay_stats st;
            struct scry_err err = { 0 };
            assert_int_equal(replay(dir, &g, &st, &err), 0);
            assert_int_equal(g.n, 9);
            for (uint32_t i = 0; i < 9; i++)
                check_rec(&g.v[i], i);
            uint64_t torn = variant == 0 ? c : len - last_off;
            assert_int_equal(st.torn_bytes, torn);
            if (torn) {
                assert_int_equal(st.torn_segment, 2);
                assert_int_equal(st.torn_offset, last_off);
            }
            assert_int_equal(fsize(seg), last_off);
            got_free(&g);

            write_n(dir, 100, 102, 1 << 20); /* a new segment after the repaired one */
            assert_int_equal(replay(dir, &g, &st, &err), 0);
            assert_int_equal(g.n, 11);
            check_rec(&g.v[9], 100);
            check_rec(&g.v[10], 101);
            assert_int_equal(st.torn_bytes, 0);
            got_free(&g);
        }
    }
    free(snap);
    free(orig);
    rm_rf(root);
    free(dir);
    free(root);
}

static void test_wal_open_repairs_torn_tail_without_replay(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    write_n(dir, 0, 10, 1 << 20);
    char seg[512];
    snprintf(seg, sizeof seg, "%s/%08u", dir, 1);
    size_t len;
    uint8_t *orig = slurp(seg, &len);
    spit(seg, orig, len - 3);
    write_n(dir, 10, 12, 1 << 20); /* open cuts record 9 off segment 1 */
    struct got g = { 0 };
    struct scry_err err = { 0 };
    assert_int_equal(replay(dir, &g, NULL, &err), 0);
    assert_int_equal(g.n, 11);
    check_rec(&g.v[8], 8);
    check_rec(&g.v[9], 10);
    got_free(&g);
    free(orig);
    rm_rf(root);
    free(dir);
    free(root);
}

/* ---- corruption ---- */

static void test_wal_corrupt_middle_segment_names_segment_and_offset(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    write_n(dir, 0, 200, 2048);
    struct got g = { 0 };
    assert_int_equal(replay(dir, &g, NULL, NULL), 0);
    /* Pick the third record of segment 2 and flip a payload byte. */
    size_t k = 0, before = 0;
    for (size_t i = 0, seen = 0; i < g.n; i++)
        if (g.v[i].pos.segment == 2 && seen++ == 2) {
            k = i;
            break;
        }
    before = k;
    assert_true(g.v[k].len > 0);
    uint64_t off = g.v[k].pos.offset;
    size_t total = g.n;
    got_free(&g);

    char seg[512];
    snprintf(seg, sizeof seg, "%s/%08u", dir, 2);
    int fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)off + 9), 1);
    b ^= 1;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off + 9), 1);
    close(fd);
    uint64_t size_before = fsize(seg);

    struct scry_wal_replay_stats st;
    struct scry_err err = { 0 };
    assert_int_equal(replay(dir, &g, &st, &err), SCRY_ECORRUPT);
    assert_int_equal(err.code, SCRY_ECORRUPT);
    assert_non_null(strstr(err.msg, "00000002"));
    char want[64];
    snprintf(want, sizeof want, "offset %llu", (unsigned long long)off);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(err.offset, off);
    assert_int_equal(st.corrupt_segment, 2);
    assert_int_equal(st.corrupt_offset, off);
    assert_int_equal(g.n, before);
    for (uint32_t i = 0; i < before; i++)
        check_rec(&g.v[i], i);
    got_free(&g);
    assert_int_equal(fsize(seg), size_before); /* never "repaired" */

    /* skip_corrupt delivers everything readable and still reports. */
    struct scry_wal_replay_opts o = { .on_record = collect, .ud = &g, .skip_corrupt = true };
    scry_err_clear(&err);
    assert_int_equal(scry_wal_replay(dir, &o, &st, &err), SCRY_ECORRUPT);
    assert_non_null(strstr(err.msg, want));
    assert_true(g.n > before && g.n < total);
    check_rec(&g.v[g.n - 1], 199);
    got_free(&g);
    rm_rf(root);
    free(dir);
    free(root);
}

static void test_wal_missing_segment_is_corruption(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    write_n(dir, 0, 200, 2048);
    char seg[512];
    snprintf(seg, sizeof seg, "%s/%08u", dir, 3);
    assert_int_equal(unlink(seg), 0);
    struct got g = { 0 };
    struct scry_err err = { 0 };
    assert_int_equal(replay(dir, &g, NULL, &err), SCRY_ECORRUPT);
    assert_non_null(strstr(err.msg, "00000003"));
    assert_non_null(strstr(err.msg, "missing"));
    assert_true(g.n > 0);
    assert_int_equal(g.v[g.n - 1].pos.segment, 2);
    got_free(&g);
    rm_rf(root);
    free(dir);
    free(root);
}

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

/* ---- arguments and locking ---- */

static void test_wal_rejects_bad_arguments_and_second_writer(void **state)
{
    char *root = tmpdir(), *dir = waldir(root);
    struct scry_wal *w = open_wal(dir, 0, SCRY_WAL_FSYNC_NEVER), *w2 = NULL;
    struct scry_err err = { 0 };
    assert_int_equal(scry_wal_open(&w2, dir, NULL, &err), SCRY_EEXIST);
    assert_null(w2);
    assert_int_equal(scry_wal_append(w, 0, "x", 1, &err), SCRY_EINVAL);
    assert_int_equal(scry_wal_append(w, 1, NULL, 1, &err), SCRY_EINVAL);
    static uint8_t dummy;
    assert_int_equal(scry_wal_append(w, 1, &dummy, (size_t)SCRY_WAL_RECORD_MAX_BYTES + 1, &err),
                     SCRY_ELIMIT);
    assert_int_equal(scry_wal_append(w, 1, NULL, 0, &err), 0); /* empty payloads are fine */
    assert_int_equal(scry_wal_close(w, NULL), 0);
    struct scry_wal_opts o = { .segment_bytes = 100 };
    assert_int_equal(scry_wal_open(&w2, dir, &o, &err), SCRY_EINVAL);
    o = (struct scry_wal_opts){ .fsync = (enum scry_wal_fsync)7 };
    assert_int_equal(scry_wal_open(&w2, dir, &o, &err), SCRY_EINVAL);
    assert_int_equal(scry_wal_close(NULL, NULL), 0);

    struct got g = { 0 };
    assert_int_equal(replay(dir, &g, NULL, NULL), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.v[0].len, 0);
    got_free(&g);
    /* A missing directory replays nothing. */
    assert_int_equal(replay("/nonexistent/scry/wal", &g, NULL, NULL), 0);
    assert_int_equal(g.n, 0);
    rm_rf(root);
    free(dir);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wal_round_trip_across_segments),
        cmocka_unit_test(test_wal_rotation_keeps_segments_under_segment_bytes),
        cmocka_unit_test(test_wal_replay_from_a_first_segment_beside_the_writer),
        cmocka_unit_test(test_wal_torn_tail_at_every_cut_point),
        cmocka_unit_test(test_wal_open_repairs_torn_tail_without_replay),
        cmocka_unit_test(test_wal_corrupt_middle_segment_names_segment_and_offset),
        cmocka_unit_test(test_wal_missing_segment_is_corruption),
        cmocka_unit_test(test_wal_group_commit_shares_fsyncs_across_threads),
        cmocka_unit_test(test_wal_interval_policy_fsyncs_in_background),
        cmocka_unit_test(test_wal_checkpoint_then_truncate_replays_checkpoint_first),
        cmocka_unit_test(test_wal_failed_write_or_fsync_keeps_exactly_the_acked_records),
        cmocka_unit_test(test_wal_acknowledged_records_survive_kill_9),
        cmocka_unit_test(test_wal_rejects_bad_arguments_and_second_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
