/* fuzz_wal_record.c — tsdb WAL record decoders and the WAL segment reader
 * on arbitrary bytes.
 *
 * Each input is decoded as every record type; then it is written as the
 * only segment of a WAL in a temporary directory (behind a valid segment
 * header when it lacks one, so the fuzzer reaches the record walker) and
 * replayed, which also exercises the torn-tail repair. Decoded records are
 * re-encoded and must decode to the same values. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/wal.h"
#include "tsdb/wal_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_all(const uint8_t *p, size_t len, struct scry_arena *a)
{
    struct tsdb_wal_series *s;
    struct tsdb_wal_sample *x;
    struct tsdb_wal_tombstone *t;
    size_t n, m;
    struct scry_buf b = { 0 };
    if (tsdb_wal_series_decode(p, len, a, &s, &n, NULL) == 0) {
        if (tsdb_wal_series_encode(&b, s, n, NULL) != 0)
            abort(); /* whatever decodes must re-encode */
        struct tsdb_wal_series *s2;
        if (tsdb_wal_series_decode(b.p, b.len, a, &s2, &m, NULL) != 0 || m != n)
            abort();
        for (size_t i = 0; i < n; i++)
            if (s2[i].ref != s[i].ref || s2[i].labels.n != s[i].labels.n)
                abort();
    }
    if (tsdb_wal_samples_decode(p, len, a, &x, &n, NULL) == 0) {
        scry_buf_reset(&b);
        tsdb_wal_samples_encode(&b, x, n);
        struct tsdb_wal_sample *x2;
        if (tsdb_wal_samples_decode(b.p, b.len, a, &x2, &m, NULL) != 0 || m != n)
            abort();
        for (size_t i = 0; i < n; i++)
            if (x2[i].ref != x[i].ref || x2[i].t_ms != x[i].t_ms ||
                memcmp(&x2[i].v, &x[i].v, 8) != 0)
                abort();
    }
    if (tsdb_wal_tombstones_decode(p, len, a, &t, &n, NULL) == 0) {
        scry_buf_reset(&b);
        if (tsdb_wal_tombstones_encode(&b, t, n, NULL) != 0)
            abort();
    }
    scry_buf_fini(&b);
}

static int on_record(void *ud, uint8_t type, const void *payload, size_t len,
                     const struct scry_wal_pos *pos)
{
    decode_all(payload, len, ud);
    return 0;
}

static void replay_as_segment(const uint8_t *data, size_t size, struct scry_arena *a)
{
    char dir[] = "/tmp/scry-fuzz-wal-XXXXXX";
    if (!mkdtemp(dir))
        return;
    char seg[64];
    snprintf(seg, sizeof seg, "%s/00000001", dir);
    int fd = open(seg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        static const uint8_t hdr[8] = { 'S', 'W', 'A', 'L', 1, 0, 0, 0 };
        bool raw = size >= 4 && memcmp(data, "SWAL", 4) == 0;
        ssize_t ok = raw ? 0 : write(fd, hdr, sizeof hdr);
        if (ok >= 0 && size)
            ok = write(fd, data, size);
        close(fd);
        struct scry_wal_replay_opts o = { .on_record = on_record, .ud = a };
        struct scry_wal_replay_stats st;
        scry_wal_replay(dir, &o, &st, NULL);
        /* A repaired WAL must now replay cleanly. */
        if (st.corrupt_segments == 0 && scry_wal_replay(dir, &o, &st, NULL) != 0)
            abort();
        unlink(seg);
    }
    char lock[64];
    snprintf(lock, sizeof lock, "%s/LOCK", dir);
    unlink(lock);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scry_arena *a = scry_arena_create(0);
    decode_all(data, size, a);
    replay_as_segment(data, size, a);
    scry_arena_destroy(a);
    return 0;
}
