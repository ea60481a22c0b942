/* Tests tsdb/wal_record.c: round trips of SERIES, SAMPLES and TOMBSTONES,
 * value forms that must survive bit for bit, and decoders that reject every
 * truncation and garbage. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "tsdb/wal_record.h"

static const struct scry_label up_a[] = {
    { "__name__", "up" }, { "instance", "10.0.0.1:9100" }, { "job", "node" } };
static const struct scry_label up_b[] = {
    { "__name__", "up" }, { "instance", "10.0.0.2:9100" }, { "job", "node" } };
static const struct scry_label cpu[] = {
    { "__name__", "node_cpu_seconds_total" }, { "cpu", "0" }, { "instance", "10.0.0.1:9100" },
    { "job", "node" }, { "mode", "idle" } };

static const struct tsdb_wal_series series[] = {
    { 1, { up_a, 3 } },
    { 2, { up_b, 3 } },
    { 77777777777ull, { cpu, 5 } },
    { 5, { NULL, 0 } }, /* an empty label set encodes; the head rejects it, not us */
};

static void test_wal_record_series_round_trip_shares_symbols(void **state)
{
    struct scry_buf b = { 0 };
    assert_int_equal(tsdb_wal_series_encode(&b, series, 4, NULL), 0);
    /* "node", "job", "instance", "__name__", "up" once each. */
    size_t n_node = 0;
    for (size_t i = 0; i + 4 <= b.len; i++)
        n_node += memcmp(b.p + i, "node", 4) == 0 && b.p[i + 4] != '_';
    assert_int_equal(n_node, 1);

    struct scry_arena *a = scry_arena_create(0);
    struct tsdb_wal_series *out;
    size_t n;
    assert_int_equal(tsdb_wal_series_decode(b.p, b.len, a, &out, &n, NULL), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].ref, series[i].ref);
        assert_int_equal(out[i].labels.n, series[i].labels.n);
        for (size_t j = 0; j < out[i].labels.n; j++) {
            assert_string_equal(out[i].labels.v[j].name, series[i].labels.v[j].name);
            assert_string_equal(out[i].labels.v[j].value, series[i].labels.v[j].value);
        }
    }
    scry_arena_destroy(a);
    scry_buf_fini(&b);
}

static void test_wal_record_series_encode_rejects_unsorted_and_empty(void **state)
{
    static const struct scry_label unsorted[] = { { "job", "x" }, { "a", "y" } };
    static const struct scry_label empty[] = { { "job", "" } };
    struct tsdb_wal_series s = { 1, { unsorted, 2 } };
    struct scry_buf b = { 0 };
    struct scry_err err = { 0 };
    assert_int_equal(tsdb_wal_series_encode(&b, &s, 1, &err), SCRY_EINVAL);
    assert_non_null(strstr(err.msg, "sorted"));
    s.labels = (struct scry_labels){ empty, 1 };
    assert_int_equal(tsdb_wal_series_encode(&b, &s, 1, &err), SCRY_EINVAL);
    assert_int_equal(b.len, 0);
    scry_buf_fini(&b);
}

static void test_wal_record_samples_round_trip_bit_exact(void **state)
{
    double vals[] = { 0, 1, -1, 42, 12345.67, 0.52, 1.5e12, 123456789.123, 0.1 + 0.2,
                      -0.0, INFINITY, -INFINITY, NAN, 1e-300, 3.141592653589793, 9007199254740993.0 };
    uint64_t stale_bits = 0x7ff0000000000002ull; /* Prometheus's staleness marker */
    size_t nv = sizeof vals / sizeof vals[0];
    struct tsdb_wal_sample s[64];
    size_t n = 0;
    for (size_t i = 0; i < nv; i++)
        s[n++] = (struct tsdb_wal_sample){ (uint64_t)(i * 3 % 7), 1700000000000 + (int64_t)i * 15000 - 40000,
                                           vals[i] };
    memcpy(&s[n].v, &stale_bits, 8);
    s[n].ref = UINT64_MAX;
    s[n++].t_ms = INT64_MIN;
    s[n++] = (struct tsdb_wal_sample){ 0, INT64_MAX, 2 };
    s[n++] = (struct tsdb_wal_sample){ UINT64_MAX, -1, -3 };

    struct scry_buf b = { 0 };
    tsdb_wal_samples_encode(&b, s, n);
    struct scry_arena *a = scry_arena_create(0);
    struct tsdb_wal_sample *out;
    size_t m;
    assert_int_equal(tsdb_wal_samples_decode(b.p, b.len, a, &out, &m, NULL), 0);
    assert_int_equal(m, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].ref, s[i].ref);
        assert_int_equal(out[i].t_ms, s[i].t_ms);
        assert_memory_equal(&out[i].v, &s[i].v, 8);
    }
    scry_arena_destroy(a);
    scry_buf_fini(&b);
}

/* 500 node-exporter-like series x 10 scrapes at 15 s, in scrape order. */
static void test_wal_record_samples_beat_prometheus_size(void **state)
{
    enum { S = 500, K = 10 };
    struct tsdb_wal_sample *s = malloc(sizeof *s * S * K);
    size_t n = 0;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < S; i++) {
            double v;
            switch (i % 5) {
            case 0: v = round((1000 + i * 7.5 + k * 14.93) * 100) / 100; break; /* cpu seconds */
            case 1: v = 1.2e10 + i * 4096.0 + k * 123456.0; break;              /* bytes */
            case 2: v = (double)(i % 2); break;                                  /* up, flags */
            case 3: v = round((0.4 + i * 0.01 + k * 0.03) * 100) / 100; break;  /* load */
            default: v = 1e6 + i * 31.0 + k * 17.0; break;                       /* counts */
            }
            s[n++] = (struct tsdb_wal_sample){ (uint64_t)(1000 + i), 1700000000000 + k * 15000, v };
        }
    struct scry_buf b = { 0 };
    tsdb_wal_samples_encode(&b, s, n);
    double per = (double)(b.len + 9) / (double)n;
    print_message("samples record: %zu samples in %zu bytes (+9 header): %.2f bytes/sample\n", n,
                  b.len, per);
    assert_true(per < 7.7);
    scry_buf_fini(&b);
    free(s);
}

static void test_wal_record_tombstones_round_trip_and_validate(void **state)
{
    struct tsdb_wal_tombstone t[] = { { 1, 0, 1000 }, { 99, -5000, -1 },
                                      { UINT64_MAX, INT64_MIN, INT64_MAX }, { 3, 7, 7 } };
    struct scry_buf b = { 0 };
    assert_int_equal(tsdb_wal_tombstones_encode(&b, t, 4, NULL), 0);
    struct scry_arena *a = scry_arena_create(0);
    struct tsdb_wal_tombstone *out;
    size_t n;
    assert_int_equal(tsdb_wal_tombstones_decode(b.p, b.len, a, &out, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(out, t, sizeof t);
    struct tsdb_wal_tombstone bad = { 1, 10, 9 };
    assert_int_equal(tsdb_wal_tombstones_encode(&b, &bad, 1, NULL), SCRY_EINVAL);
    /* maxt past INT64_MAX: n=1, ref=1, mint=zigzag(1)=2, span=INT64_MAX. */
    const uint8_t over[] = { 1, 1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
    struct scry_err err = { 0 };
    assert_int_equal(tsdb_wal_tombstones_decode(over, sizeof over, a, &out, &n, &err),
                     SCRY_ECORRUPT);
    assert_non_null(strstr(err.msg, "overflow"));
    scry_arena_destroy(a);
    scry_buf_fini(&b);
}

typedef int (*decode_fn)(const void *, size_t, struct scry_arena *, size_t *, struct scry_err *);

static int dec_series(const void *p, size_t len, struct scry_arena *a, size_t *n,
                      struct scry_err *err)
{
    struct tsdb_wal_series *o;
    return tsdb_wal_series_decode(p, len, a, &o, n, err);
}

static int dec_samples(const void *p, size_t len, struct scry_arena *a, size_t *n,
                       struct scry_err *err)
{
    struct tsdb_wal_sample *o;
    return tsdb_wal_samples_decode(p, len, a, &o, n, err);
}

static int dec_tomb(const void *p, size_t len, struct scry_arena *a, size_t *n,
                    struct scry_err *err)
{
    struct tsdb_wal_tombstone *o;
    return tsdb_wal_tombstones_decode(p, len, a, &o, n, err);
}

/* Every strict prefix and every one-byte extension of a valid payload is
 * rejected with SCRY_ECORRUPT and an offset inside it. */
static void check_truncations(const struct scry_buf *b, decode_fn dec)
{
    struct scry_arena *a = scry_arena_create(0);
    size_t n;
    struct scry_err err;
    assert_int_equal(dec(b->p, b->len, a, &n, NULL), 0);
    for (size_t cut = 0; cut < b->len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
        memcpy(copy, b->p, cut);
        scry_err_clear(&err);
        int rc = dec(copy, cut, a, &n, &err);
        if (cut == 0 && rc == 0)
            fail_msg("empty payload accepted");
        assert_int_equal(rc, SCRY_ECORRUPT);
        assert_true(err.offset <= cut);
        free(copy);
    }
    uint8_t *longer = malloc(b->len + 1);
    memcpy(longer, b->p, b->len);
    longer[b->len] = 0;
    assert_int_equal(dec(longer, b->len + 1, a, &n, &err), SCRY_ECORRUPT);
    assert_non_null(strstr(err.msg, "trailing"));
    free(longer);
    scry_arena_destroy(a);
}

static void test_wal_record_decoders_reject_truncation(void **state)
{
    struct scry_buf b = { 0 };
    assert_int_equal(tsdb_wal_series_encode(&b, series, 3, NULL), 0);
    check_truncations(&b, dec_series);
    scry_buf_reset(&b);
    struct tsdb_wal_sample s[] = { { 1, 1000, 1.5 }, { 2, 1000, NAN }, { 3, 16000, 7 } };
    tsdb_wal_samples_encode(&b, s, 3);
    check_truncations(&b, dec_samples);
    scry_buf_reset(&b);
    struct tsdb_wal_tombstone t[] = { { 1, 0, 5 }, { 2, -3, 4 } };
    assert_int_equal(tsdb_wal_tombstones_encode(&b, t, 2, NULL), 0);
    check_truncations(&b, dec_tomb);
    scry_buf_fini(&b);
}

static void test_wal_record_decoders_reject_garbage(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    size_t n;
    struct scry_err err = { 0 };
    /* A count far beyond the bytes: must fail before allocating for it. */
    const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    assert_int_equal(dec_samples(huge, sizeof huge, a, &n, &err), SCRY_ECORRUPT);
    assert_int_equal(dec_series(huge, sizeof huge, a, &n, &err), SCRY_ECORRUPT);
    assert_int_equal(dec_tomb(huge, sizeof huge, a, &n, &err), SCRY_ECORRUPT);
    /* An 11-byte varint. */
    const uint8_t longv[] = { 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0 };
    assert_int_equal(dec_samples(longv, sizeof longv, a, &n, &err), SCRY_ECORRUPT);
    /* Symbol index out of range: 1 symbol "a", 1 series ref 1 with label (0, 1). */
    const uint8_t badsym[] = { 1, 1, 'a', 1, 1, 1, 0, 1 };
    assert_int_equal(dec_series(badsym, sizeof badsym, a, &n, &err), SCRY_ECORRUPT);
    assert_non_null(strstr(err.msg, "symbol index"));
    const uint8_t ok[] = { 1, 1, 'a', 1, 1, 1, 0, 0 };
    assert_int_equal(dec_series(ok, sizeof ok, a, &n, &err), 0);
    /* Duplicate label names. */
    const uint8_t dup[] = { 1, 1, 'a', 1, 1, 2, 0, 0, 0, 0 };
    assert_int_equal(dec_series(dup, sizeof dup, a, &n, &err), SCRY_ECORRUPT);
    /* NUL in a symbol, empty symbol. */
    const uint8_t nul[] = { 1, 2, 'a', 0, 0 };
    assert_int_equal(dec_series(nul, sizeof nul, a, &n, &err), SCRY_ECORRUPT);
    const uint8_t empty[] = { 1, 0, 0 };
    assert_int_equal(dec_series(empty, sizeof empty, a, &n, &err), SCRY_ECORRUPT);
    /* Value exponent 13, and a raw header with extra bits. */
    const uint8_t exp13[] = { 1, 0, 0, 13 };
    assert_int_equal(dec_samples(exp13, sizeof exp13, a, &n, &err), SCRY_ECORRUPT);
    const uint8_t raw31[] = { 1, 0, 0, 31, 0, 0, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(dec_samples(raw31, sizeof raw31, a, &n, &err), SCRY_ECORRUPT);
    const uint8_t fine[] = { 1, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(dec_samples(fine, sizeof fine, a, &n, &err), 0);
    /* Pseudo-random bytes never crash and never pass half-consumed. */
    uint32_t x = 1;
    uint8_t buf[64];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)round % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            x = x * 1664525u + 1013904223u;
            buf[i] = (uint8_t)(x >> 24);
        }
        dec_series(buf, len, a, &n, NULL);
        dec_samples(buf, len, a, &n, NULL);
        dec_tomb(buf, len, a, &n, NULL);
        scry_arena_reset(a);
    }
    scry_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wal_record_series_round_trip_shares_symbols),
        cmocka_unit_test(test_wal_record_series_encode_rejects_unsorted_and_empty),
        cmocka_unit_test(test_wal_record_samples_round_trip_bit_exact),
        cmocka_unit_test(test_wal_record_samples_beat_prometheus_size),
        cmocka_unit_test(test_wal_record_tombstones_round_trip_and_validate),
        cmocka_unit_test(test_wal_record_decoders_reject_truncation),
        cmocka_unit_test(test_wal_record_decoders_reject_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
