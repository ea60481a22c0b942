/* Tests core/wal.c and wal_replay.c: round trips across segments and
 * rotation, torn tails at every cut point, corruption in a middle segment,
 * a missing segment, bad arguments and a second writer. Group commit,
 * checkpoints, injected failures and kill -9 are in test_wal_durability.c;
 * helpers in wal_fixture.h. */
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
        cmocka_unit_test(test_wal_rejects_bad_arguments_and_second_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
