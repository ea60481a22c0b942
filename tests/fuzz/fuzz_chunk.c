/* fuzz_chunk.c — the chunk decoder on arbitrary bytes, and the encoder on
 * samples derived from them.
 *
 * 1. The input as a chunk: iterate to the end, then again with seeks to
 *    times taken from the input, then in batches (next_n, caps taken from
 *    the input), which must return the same samples and error as next().
 *    Any result is fine except a crash, a read outside the input, or
 *    samples after an error.
 * 2. The input as samples: 16-byte records (timestamp increment, value bits),
 *    encoded with every encoding that accepts them and decoded again; the
 *    round trip must be bit-exact. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/chunk.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void decode(const uint8_t *data, size_t size)
{
    struct tsdb_chunk_iter it;
    int64_t t, prev = INT64_MIN;
    double v;
    size_t n = 0;
    tsdb_chunk_iter_init(&it, data, size);
    while (tsdb_chunk_iter_next(&it)) {
        tsdb_chunk_iter_at(&it, &t, &v);
        CHECK(n == 0 || t > prev); /* timestamps strictly increase */
        prev = t;
        n++;
    }
    CHECK(n <= TSDB_CHUNK_MAX_SAMPLES);
    CHECK(!tsdb_chunk_iter_next(&it));
    int err = tsdb_chunk_iter_err(&it);
    CHECK(err == 0 || err == SCRY_ECORRUPT);

    /* The batch path: same samples, same error. */
    static int64_t bt[TSDB_CHUNK_MAX_SAMPLES + 1], st[TSDB_CHUNK_MAX_SAMPLES];
    static double bv[TSDB_CHUNK_MAX_SAMPLES + 1], sv[TSDB_CHUNK_MAX_SAMPLES];
    size_t m = 0;
    tsdb_chunk_iter_init(&it, data, size);
    while (tsdb_chunk_iter_next(&it) && m < TSDB_CHUNK_MAX_SAMPLES) {
        tsdb_chunk_iter_at(&it, &st[m], &sv[m]);
        m++;
    }
    tsdb_chunk_iter_init(&it, data, size);
    size_t nb = 0, ki = 0;
    for (;;) {
        size_t cap = size ? 1 + data[ki++ % size] % 130 : 1;
        if (cap > TSDB_CHUNK_MAX_SAMPLES + 1 - nb)
            cap = TSDB_CHUNK_MAX_SAMPLES + 1 - nb;
        size_t got = cap ? tsdb_chunk_iter_next_n(&it, bt + nb, bv + nb, cap) : 0;
        nb += got;
        if (got < cap || cap == 0)
            break;
    }
    CHECK(nb == n && nb == m && tsdb_chunk_iter_err(&it) == err);
    for (size_t j = 0; j < nb; j++)
        CHECK(bt[j] == st[j] && memcmp(&bv[j], &sv[j], 8) == 0);

    int64_t target = 0;
    if (size >= 8)
        memcpy(&target, data + size - 8, 8);
    tsdb_chunk_iter_init(&it, data, size);
    for (int k = 0; k < 4 && tsdb_chunk_iter_seek(&it, target); k++) {
        tsdb_chunk_iter_at(&it, &t, &v);
        CHECK(t >= target);
        int64_t step = 1 + k * 1000;
        target = t > INT64_MAX - step ? INT64_MAX : t + step;
    }
}

static uint8_t buf[96 + 36 * TSDB_CHUNK_MAX_SAMPLES];

static void round_trip(const uint8_t *data, size_t size)
{
    static int64_t t[TSDB_CHUNK_MAX_SAMPLES];
    static double v[TSDB_CHUNK_MAX_SAMPLES];
    size_t n = 0;
    int64_t cur = 0;
    if (size >= 8) {
        memcpy(&cur, data, 8);
        data += 8;
        size -= 8;
    }
    for (; size >= 12 && n < TSDB_CHUNK_MAX_SAMPLES; data += 12, size -= 12) {
        uint32_t step;
        memcpy(&step, data, 4);
        memcpy(&v[n], data + 4, 8);
        /* Small steps mostly, so regular and jittered series come up. */
        uint64_t inc = (step & 0x80000000u) ? (uint64_t)step << 16 : (step & 0xffff) + 1;
        if (n > 0) {
            if ((uint64_t)INT64_MAX - (uint64_t)cur < inc)
                break;
            cur += (int64_t)inc;
        }
        t[n++] = cur;
    }
    if (n == 0)
        return;
    CHECK(tsdb_chunk_max_len(n) <= sizeof buf);
    for (int venc = TSDB_VENC_AUTO; venc < TSDB_VENC_N_; venc++) {
        size_t len;
        if (tsdb_chunk_encode(t, v, n, venc, buf, sizeof buf, &len, NULL) != 0) {
            CHECK(venc == TSDB_VENC_CONST || venc == TSDB_VENC_DEC);
            continue;
        }
        CHECK(len <= tsdb_chunk_max_len(n));
        struct tsdb_chunk_iter it;
        size_t i = 0;
        tsdb_chunk_iter_init(&it, buf, len);
        while (tsdb_chunk_iter_next(&it)) {
            int64_t tt;
            double vv;
            tsdb_chunk_iter_at(&it, &tt, &vv);
            CHECK(i < n && tt == t[i] && memcmp(&vv, &v[i], 8) == 0);
            i++;
        }
        CHECK(tsdb_chunk_iter_err(&it) == 0 && i == n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode(data, size);
    round_trip(data, size);
    return 0;
}
