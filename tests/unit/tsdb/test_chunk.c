/* Tests tsdb/chunk_*.c: bit-exact round trips on random and adversarial
 * data, the choice of value encoding, seek, the appender, and that corrupt
 * bytes end in SCRY_ECORRUPT rather than a crash or an out-of-bounds read. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tsdb/chunk.h"

#define CAP (96 + 36 * TSDB_CHUNK_MAX_SAMPLES)

#define CHUNK_RNG_SEED 0x9e3779b97f4a7c15ull
#include "chunk_fixture.h"

/* Encodes with venc, decodes, and checks every sample bit for bit. Returns
 * the encoding the chunk header reports and the encoded length. */
static int round_trip(const int64_t *t, const double *v, size_t n, int venc, size_t *len_out)
{
    static uint8_t buf[CAP];
    size_t len = 0;
    struct scry_err err;
    assert_true(tsdb_chunk_max_len(n) <= CAP);
    int rc = tsdb_chunk_encode(t, v, n, venc, buf, sizeof buf, &len, &err);
    assert_int_equal(rc, 0);
    assert_true(len > 0 && len <= tsdb_chunk_max_len(n));
    struct tsdb_chunk_info info;
    assert_int_equal(tsdb_chunk_info(buf, len, &info), 0);
    assert_int_equal(info.kind, TSDB_CHUNK_FLOAT);
    assert_int_equal(info.n, n);
    assert_int_equal(info.mint_ms, t[0]);
    if (venc != TSDB_VENC_AUTO)
        assert_int_equal(info.venc, venc);
    struct tsdb_chunk_iter it;
    tsdb_chunk_iter_init(&it, buf, len);
    size_t i = 0;
    while (tsdb_chunk_iter_next(&it)) {
        int64_t tt;
        double vv;
        tsdb_chunk_iter_at(&it, &tt, &vv);
        assert_true(i < n);
        assert_int_equal(tt, t[i]);
        assert_int_equal(d_bits(vv), d_bits(v[i]));
        i++;
    }
    assert_int_equal(tsdb_chunk_iter_err(&it), 0);
    assert_int_equal(i, n);
    if (len_out)
        *len_out = len;
    return info.venc;
}

/* Round trip with every encoding that accepts the data. */
static void round_trip_all(const int64_t *t, const double *v, size_t n)
{
    round_trip(t, v, n, TSDB_VENC_AUTO, NULL);
    round_trip(t, v, n, TSDB_VENC_XOR, NULL);
    round_trip(t, v, n, TSDB_VENC_BITS, NULL);
    static uint8_t buf[CAP];
    size_t len;
    if (tsdb_chunk_encode(t, v, n, TSDB_VENC_DEC, buf, sizeof buf, &len, NULL) == 0)
        round_trip(t, v, n, TSDB_VENC_DEC, NULL);
    if (tsdb_chunk_encode(t, v, n, TSDB_VENC_CONST, buf, sizeof buf, &len, NULL) == 0)
        round_trip(t, v, n, TSDB_VENC_CONST, NULL);
}

static void regular_ts(int64_t *t, size_t n, int64_t t0, int64_t step)
{
    for (size_t i = 0; i < n; i++)
        t[i] = t0 + (int64_t)i * step;
}

static const uint64_t special_bits[] = {
    0x7ff0000000000002ull, /* Prometheus staleness marker */
    0x7ff8000000000001ull, /* the NaN Prometheus writes for "NaN" */
    0x7ff8000000000000ull, /* quiet NaN */
    0xfff8000000000000ull, /* negative NaN */
    0x7fffffffffffffffull, /* NaN, all payload bits */
    0x7ff0000000000000ull, /* +Inf */
    0xfff0000000000000ull, /* -Inf */
    0x8000000000000000ull, /* -0.0 */
    0x0000000000000000ull, /* +0.0 */
    0x0000000000000001ull, /* smallest denormal */
    0x000fffffffffffffull, /* largest denormal */
    0x8000000000000001ull, /* negative denormal */
    0x7fefffffffffffffull, /* DBL_MAX */
    0x0010000000000000ull, /* DBL_MIN */
};
#define N_SPECIAL (sizeof special_bits / sizeof special_bits[0])

static void test_chunk_special_floats_round_trip_bit_exact(void **state)
{
    int64_t t[120];
    double v[120];
    regular_ts(t, 120, 1700000000000, 15000);
    for (size_t i = 0; i < 120; i++)
        v[i] = bits_d(special_bits[i % N_SPECIAL]);
    round_trip_all(t, v, 120);
    /* Each special value alone, as a constant chunk. */
    for (size_t s = 0; s < N_SPECIAL; s++) {
        for (size_t i = 0; i < 120; i++)
            v[i] = bits_d(special_bits[s]);
        assert_int_equal(round_trip(t, v, 120, TSDB_VENC_AUTO, NULL), TSDB_VENC_CONST);
    }
}

static void test_chunk_staleness_marker_escapes_in_decimal_counter(void **state)
{
    int64_t t[120];
    double v[120];
    regular_ts(t, 120, 1700000000000, 15000);
    for (size_t i = 0; i < 120; i++)
        v[i] = (double)(1000 + 7 * i) / 100; /* 2 decimals */
    v[60] = bits_d(0x7ff0000000000002ull);
    v[0] = bits_d(0x8000000000000000ull); /* -0.0 first: an escape at index 0 */
    v[119] = bits_d(0x7ff0000000000002ull);
    /* Escapes keep the decimal encoding for the rest of the chunk. */
    assert_int_equal(round_trip(t, v, 120, TSDB_VENC_AUTO, NULL), TSDB_VENC_DEC);
    round_trip_all(t, v, 120);
}

static void test_chunk_decimal_values_with_many_digits(void **state)
{
    int64_t t[100];
    double v[100];
    const double odd[] = {0.1 + 0.2, 1e300, -1e-300, 123456.789012345, 0.1, 3.14159265358979,
                          1e15, 1e16, 9007199254740993.0, -2.5, 1e-7, 4.35};
    regular_ts(t, 100, 0, 1000);
    for (size_t i = 0; i < 100; i++)
        v[i] = odd[i % (sizeof odd / sizeof odd[0])];
    round_trip_all(t, v, 100);
    /* 0.1 + 0.2 is not 0.3; only an escape or XOR stores it exactly. */
    for (size_t i = 0; i < 100; i++)
        v[i] = (i % 2) ? 0.3 : 0.1 + 0.2;
    round_trip_all(t, v, 100);
    for (size_t i = 0; i < 100; i++)
        v[i] = (double)i * 0.1; /* i * 0.1 is not always i / 10 */
    round_trip_all(t, v, 100);
}

static void test_chunk_extreme_timestamps(void **state)
{
    int64_t t[6] = {INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX - 1, INT64_MAX};
    double v[6] = {1, 2, 3, 4, 5, 6};
    round_trip_all(t, v, 6);
    int64_t t2[3] = {INT64_MIN, 0, INT64_MAX};
    round_trip_all(t2, v, 3);
    int64_t t3[2] = {INT64_MIN, INT64_MAX};
    round_trip_all(t3, v, 2);
    int64_t t4[1] = {INT64_MIN};
    round_trip_all(t4, v, 1);
    int64_t t5[120];
    regular_ts(t5, 120, -9000000000000000000, 15000); /* huge negative */
    double v5[120];
    for (size_t i = 0; i < 120; i++)
        v5[i] = (double)i;
    round_trip_all(t5, v5, 120);
}

static void test_chunk_int64_extreme_decimals(void **state)
{
    int64_t t[8];
    regular_ts(t, 8, 1, 1);
    /* Integers near the 2^62 limit of the decimal coder, and deltas that
     * overflow int64 (they wrap and must still come back). */
    double v[8] = {4.6e18, -4.6e18, 4.6e18, -4.6e18, 0x1p61, -0x1p61, 1, -1};
    round_trip_all(t, v, 8);
    double w[8] = {9.2e18, -9.2e18, 1.8e19, -1.8e19, 0x1p63, -0x1p63, 0x1p64, 1};
    round_trip_all(t, w, 8);
}

static void test_chunk_random_round_trips(void **state)
{
    int64_t t[TSDB_CHUNK_MAX_SAMPLES];
    double v[TSDB_CHUNK_MAX_SAMPLES];
    for (int round = 0; round < 400; round++) {
        size_t n = 1 + rnd() % (round % 4 == 0 ? TSDB_CHUNK_MAX_SAMPLES : 130);
        int tmode = (int)(rnd() % 4), vmode = (int)(rnd() % 6);
        int64_t cur = (int64_t)rnd() >> (rnd() % 64);
        for (size_t i = 0; i < n; i++) {
            t[i] = cur;
            uint64_t step = tmode == 0 ? 15000 : tmode == 1 ? 15000 + rnd() % 5 - 2
                          : tmode == 2 ? 1 + rnd() % 1000 : 1 + (rnd() >> (rnd() % 64 | 8));
            if (cur > INT64_MAX - (int64_t)step) { /* ran out of room: stop here */
                n = i + 1;
                break;
            }
            cur += (int64_t)step;
        }
        double acc = (double)(rnd() % 100000);
        for (size_t i = 0; i < n; i++) {
            switch (vmode) {
            case 0: v[i] = bits_d(rnd()); break;                       /* any bits, NaNs included */
            case 1: acc += (double)(rnd() % 1000); v[i] = acc; break;   /* counter */
            case 2: v[i] = (double)((int64_t)(rnd() % 20001) - 10000) / 100; break; /* 2 decimals */
            case 3: v[i] = (rnd() % 8) ? 42.5 : bits_d(special_bits[rnd() % N_SPECIAL]); break;
            case 4: v[i] = (double)(rnd() % 3) * 4096; break;
            default: v[i] = ldexp((double)(rnd() >> 11), (int)(rnd() % 200) - 100); break;
            }
        }
        round_trip_all(t, v, n);
    }
}

static void test_chunk_counter_with_two_decimals_uses_dec(void **state)
{
    int64_t t[120];
    double v[120];
    int64_t cents = 1234567;
    regular_ts(t, 120, 1700000000000, 15000);
    for (size_t i = 0; i < 120; i++) {
        cents += (int64_t)(rnd() % 1500);
        v[i] = (double)cents / 100;
    }
    size_t dec_len, xor_len;
    assert_int_equal(round_trip(t, v, 120, TSDB_VENC_AUTO, &dec_len), TSDB_VENC_DEC);
    round_trip(t, v, 120, TSDB_VENC_XOR, &xor_len);
    assert_true(dec_len < xor_len);
    /* 11 bits of increment per sample, and no bits for the timestamps. */
    assert_true(dec_len < 120 * 12 / 8 + 32);
}

static void test_chunk_counter_reset_round_trips(void **state)
{
    int64_t t[120];
    double v[120];
    regular_ts(t, 120, 1700000000000, 30000);
    double c = 5e6;
    for (size_t i = 0; i < 120; i++) {
        c = (i == 50 || i == 90) ? 3 : c + (double)(rnd() % 50);
        v[i] = c;
    }
    assert_int_equal(round_trip(t, v, 120, TSDB_VENC_AUTO, NULL), TSDB_VENC_DEC);
    round_trip_all(t, v, 120);
}

static void test_chunk_constant_run_is_tiny(void **state)
{
    int64_t t[120];
    double v[120];
    regular_ts(t, 120, 1700000000000, 60000);
    for (size_t i = 0; i < 120; i++)
        v[i] = 1;
    size_t len;
    assert_int_equal(round_trip(t, v, 120, TSDB_VENC_AUTO, &len), TSDB_VENC_CONST);
    assert_true(len <= 16); /* header only: no bits per sample */
    /* Two constant runs: one bit per unchanged sample (a zero residual in
     * the smallest bucket), never more. */
    for (size_t i = 60; i < 120; i++)
        v[i] = 2;
    assert_int_equal(round_trip(t, v, 120, TSDB_VENC_AUTO, &len), TSDB_VENC_DEC);
    assert_true(len <= 16 + 120 / 8 + 4);
}

static void test_chunk_full_precision_floats_use_bits(void **state)
{
    int64_t t[120];
    double v[120];
    regular_ts(t, 120, 1700000000000, 15000);
    for (size_t i = 0; i < 120; i++)
        v[i] = 0.0002 * exp((double)(rnd() % 1000) / 1000.0);
    /* Random mantissas within one binade: the bit patterns as integers
     * need ~52 bits each, XOR's control bits come on top. */
    size_t auto_len, xor_len;
    assert_int_equal(round_trip(t, v, 120, TSDB_VENC_AUTO, &auto_len), TSDB_VENC_BITS);
    round_trip(t, v, 120, TSDB_VENC_XOR, &xor_len);
    assert_true(auto_len < xor_len);
    /* A float that rarely changes is cheapest as XOR (1 bit per repeat). */
    for (size_t i = 0; i < 120; i++)
        v[i] = i < 40 ? 0.1 + 0.2 : i < 80 ? 1.0 / 3 : 2.0 / 3;
    assert_int_equal(round_trip(t, v, 120, TSDB_VENC_AUTO, NULL), TSDB_VENC_XOR);
}

static void test_chunk_jittered_timestamps_are_cheap(void **state)
{
    int64_t t[120];
    double v[120];
    int64_t cur = 1700000000000;
    for (size_t i = 0; i < 120; i++) {
        t[i] = cur;
        cur += 15000 + (int64_t)(rnd() % 5) - 2;
        v[i] = 1;
    }
    size_t len;
    round_trip(t, v, 120, TSDB_VENC_AUTO, &len);
    /* +-2 ms of jitter fits 3 bits of delta (FOR) per sample. */
    assert_true(len <= 16 + 119 * 3 / 8 + 2);
}

static void test_chunk_seek(void **state)
{
    int64_t t[120];
    double v[120];
    regular_ts(t, 120, 1000, 10);
    for (size_t i = 0; i < 120; i++)
        v[i] = (double)i;
    static uint8_t buf[CAP];
    size_t len;
    assert_int_equal(tsdb_chunk_encode(t, v, 120, TSDB_VENC_AUTO, buf, sizeof buf, &len, NULL), 0);
    struct tsdb_chunk_iter it;
    int64_t tt;
    double vv;
    tsdb_chunk_iter_init(&it, buf, len);
    assert_true(tsdb_chunk_iter_seek(&it, 0)); /* before the first: the first */
    tsdb_chunk_iter_at(&it, &tt, &vv);
    assert_int_equal(tt, 1000);
    assert_true(tsdb_chunk_iter_seek(&it, 1055)); /* between samples: the next */
    tsdb_chunk_iter_at(&it, &tt, &vv);
    assert_int_equal(tt, 1060);
    assert_true(vv == 6.0);
    assert_true(tsdb_chunk_iter_seek(&it, 1060)); /* exact hit stays */
    assert_true(tsdb_chunk_iter_seek(&it, 0));    /* never backwards */
    tsdb_chunk_iter_at(&it, &tt, &vv);
    assert_int_equal(tt, 1060);
    assert_true(tsdb_chunk_iter_next(&it));
    tsdb_chunk_iter_at(&it, &tt, &vv);
    assert_int_equal(tt, 1070);
    assert_true(tsdb_chunk_iter_seek(&it, 2190)); /* the last */
    tsdb_chunk_iter_at(&it, &tt, &vv);
    assert_true(vv == 119.0);
    assert_false(tsdb_chunk_iter_seek(&it, 2191)); /* past the end */
    assert_false(tsdb_chunk_iter_next(&it));
    assert_int_equal(tsdb_chunk_iter_err(&it), 0);
}

static void test_chunk_appender(void **state)
{
    struct tsdb_chunk_appender app;
    struct scry_err err;
    static uint8_t buf[CAP];
    size_t len;
    tsdb_chunk_appender_init(&app);
    assert_int_equal(tsdb_chunk_appender_cut(&app, buf, sizeof buf, &len, &err), SCRY_EINVAL);
    for (int i = 0; i < TSDB_CHUNK_APPEND_CAP; i++)
        assert_int_equal(tsdb_chunk_append(&app, 1000 + i * 15000, i * 0.5, &err), 0);
    assert_int_equal(tsdb_chunk_append(&app, 1, 0, &err), SCRY_ELIMIT);
    assert_int_equal(tsdb_chunk_appender_cut(&app, buf, 10, &len, &err), SCRY_EINVAL);
    assert_int_equal(tsdb_chunk_appender_cut(&app, buf, sizeof buf, &len, &err), 0);
    assert_int_equal(app.n, 0);
    struct tsdb_chunk_info info;
    assert_int_equal(tsdb_chunk_info(buf, len, &info), 0);
    assert_int_equal(info.n, TSDB_CHUNK_APPEND_CAP);
    assert_int_equal(info.venc, TSDB_VENC_DEC);
    assert_int_equal(tsdb_chunk_append(&app, 5, 1, &err), 0);
    assert_int_equal(tsdb_chunk_append(&app, 5, 1, &err), SCRY_EINVAL); /* same time */
    assert_int_equal(tsdb_chunk_append(&app, 4, 1, &err), SCRY_EINVAL); /* older */
    assert_int_equal(err.code, SCRY_EINVAL);
}

static void test_chunk_encode_rejects_bad_input(void **state)
{
    int64_t t[3] = {1, 2, 2};
    double v[3] = {1, 2, 3};
    static uint8_t buf[CAP];
    size_t len;
    struct scry_err err;
    assert_int_equal(tsdb_chunk_encode(t, v, 3, TSDB_VENC_AUTO, buf, sizeof buf, &len, &err), SCRY_EINVAL);
    assert_int_equal(tsdb_chunk_encode(t, v, 0, TSDB_VENC_AUTO, buf, sizeof buf, &len, &err), SCRY_EINVAL);
    assert_int_equal(tsdb_chunk_encode(t, v, 2, 7, buf, sizeof buf, &len, &err), SCRY_EINVAL);
    assert_int_equal(tsdb_chunk_encode(t, v, 2, TSDB_VENC_CONST, buf, sizeof buf, &len, &err), SCRY_EINVAL);
    double nan2[2] = {NAN, INFINITY};
    assert_int_equal(tsdb_chunk_encode(t, nan2, 2, TSDB_VENC_DEC, buf, sizeof buf, &len, &err), SCRY_EINVAL);
    assert_int_equal(tsdb_chunk_encode(t, v, TSDB_CHUNK_MAX_SAMPLES + 1, TSDB_VENC_AUTO, buf, sizeof buf, &len, &err),
                     SCRY_EINVAL);
}

/* Decodes everything; returns samples, sets *rc to the iterator's error. */
static size_t drain(const uint8_t *p, size_t len, int *rc)
{
    struct tsdb_chunk_iter it;
    size_t n = 0;
    tsdb_chunk_iter_init(&it, p, len);
    while (tsdb_chunk_iter_next(&it))
        n++;
    *rc = tsdb_chunk_iter_err(&it);
    return n;
}

static void test_chunk_corrupt_input_is_an_error(void **state)
{
    int64_t t[120];
    double v[120];
    static uint8_t buf[CAP];
    regular_ts(t, 120, 1700000000000, 15000);
    for (int enc = 0; enc < TSDB_VENC_N_; enc++) {
        for (size_t i = 0; i < 120; i++)
            v[i] = enc == 0 ? 7.0 : enc == 2 ? (double)(i * i) / 10 : 1.0 / (double)(i + 3);
        if (enc == 2)
            v[17] = bits_d(0x7ff0000000000002ull);
        size_t len;
        assert_int_equal(tsdb_chunk_encode(t, v, 120, enc, buf, sizeof buf, &len, NULL), 0);
        int rc;
        assert_int_equal(drain(buf, len, &rc), 120);
        assert_int_equal(rc, 0);
        /* Every truncation is an error: a heap copy of exactly that length
         * lets ASan catch any read past it. */
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, buf, cut);
            size_t got = drain(p, cut, &rc);
            assert_int_equal(rc, SCRY_ECORRUPT);
            assert_true(got < 120);
            free(p);
        }
        /* Reserved bits: kind byte bits 4-3, iseq mode bit 7 (byte 2 is the
         * timestamp mode since n < 128). */
        const uint8_t flips[][2] = {{0, 0x08}, {0, 0x10}, {2, 0x80}};
        for (size_t f = 0; f < 3; f++) {
            buf[flips[f][0]] ^= flips[f][1];
            assert_int_equal(drain(buf, len, &rc), 0);
            assert_int_equal(rc, SCRY_ECORRUPT);
            buf[flips[f][0]] ^= flips[f][1];
        }
        /* A trailing byte is an error too. */
        buf[len] = 0;
        drain(buf, len + 1, &rc);
        assert_int_equal(rc, SCRY_ECORRUPT);
        /* Flipped bits never crash; most are caught. */
        for (int k = 0; k < 2000; k++) {
            uint8_t *p = malloc(len);
            memcpy(p, buf, len);
            p[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
            drain(p, len, &rc);
            free(p);
        }
    }
    int rc;
    const uint8_t hist[] = {TSDB_CHUNK_HISTOGRAM << 5, 1, 0, 0, 0};
    assert_int_equal(drain(hist, sizeof hist, &rc), 0); /* reserved kind */
    assert_int_equal(rc, SCRY_ECORRUPT);
    struct tsdb_chunk_info info;
    assert_int_equal(tsdb_chunk_info(hist, sizeof hist, &info), SCRY_ECORRUPT);
    const uint8_t bad_venc[] = {0x05, 1, 0, 0, 0}; /* value encoding 5 */
    assert_int_equal(tsdb_chunk_info(bad_venc, sizeof bad_venc, &info), SCRY_ECORRUPT);
    drain(bad_venc, sizeof bad_venc, &rc);
    assert_int_equal(rc, SCRY_ECORRUPT);

    const uint8_t big_n[] = {0x01, 0x81, 0x08}; /* n = 1025 */
    drain(big_n, sizeof big_n, &rc);
    assert_int_equal(rc, SCRY_ECORRUPT);
    drain(NULL, 0, &rc);
    assert_int_equal(rc, SCRY_ECORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_special_floats_round_trip_bit_exact),
        cmocka_unit_test(test_chunk_staleness_marker_escapes_in_decimal_counter),
        cmocka_unit_test(test_chunk_decimal_values_with_many_digits),
        cmocka_unit_test(test_chunk_extreme_timestamps),
        cmocka_unit_test(test_chunk_int64_extreme_decimals),
        cmocka_unit_test(test_chunk_random_round_trips),
        cmocka_unit_test(test_chunk_counter_with_two_decimals_uses_dec),
        cmocka_unit_test(test_chunk_counter_reset_round_trips),
        cmocka_unit_test(test_chunk_constant_run_is_tiny),
        cmocka_unit_test(test_chunk_full_precision_floats_use_bits),
        cmocka_unit_test(test_chunk_jittered_timestamps_are_cheap),
        cmocka_unit_test(test_chunk_seek),
        cmocka_unit_test(test_chunk_appender),
        cmocka_unit_test(test_chunk_encode_rejects_bad_input),
        cmocka_unit_test(test_chunk_corrupt_input_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
