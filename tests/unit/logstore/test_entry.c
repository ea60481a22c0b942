/* Tests logstore/entry.c's columnar payload of codec 4 (FORMAT.md "Chunk"):
 * random entries — lines holding newlines, empty lines, lines stating a time
 * near and far from t_ns, structured metadata — round-trip exactly through
 * ls__cols_add / ls__cols_finish / ls__cols_get; every truncation of a
 * payload and every flipped byte is either rejected or decodes to n
 * entries inside the payload; and the t_ns predictor reads the times it
 * should and only those. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/appender.h"
#include "core/arena.h"
#include "core/timeparse.h"
#include "logstore/format.h"
#include "tests/unit/xorshift.h"

#define T0 1796083200000000000LL /* 2026-12-01T00:00:00Z, day 20788 */

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) { return test_xorshift(&rng); }

/* A line for t: sometimes stating t (ms or µs, or minutes off), sometimes newlines. */
static size_t make_line(char *buf, int64_t t)
{
    size_t n = 0;
    int64_t s = t / 1000000000, ns = t % 1000000000;
    int kind = (int)(rnd() % 6);
    if (kind == 0 || kind == 1 || kind == 2) {
        if (kind == 2)
            s -= 600; /* a stale time: far from t_ns */
        int64_t day = s / 86400, sod = s % 86400;
        /* The tests stay within December 2026. */
        n += (size_t)sprintf(buf + n, "ts=2026-12-%02lldT%02lld:%02lld:%02lld.",
                             (long long)(1 + day - 20788), (long long)(sod / 3600),
                             (long long)(sod / 60 % 60), (long long)(sod % 60));
        n += (size_t)(kind == 0 ? sprintf(buf + n, "%06lldZ", (long long)(ns / 1000))
                                : sprintf(buf + n, "%03lld", (long long)(ns / 1000000)));
    }
    size_t words = rnd() % 6;
    for (size_t i = 0; i < words; i++) {
        if (rnd() % 7 == 0)
            buf[n++] = '\n';
        n += (size_t)sprintf(buf + n, " w%llu", (unsigned long long)(rnd() % 1000));
    }
    if (rnd() % 11 == 0)
        buf[n++] = '\n'; /* a trailing newline */
    return n;
}

static void test_cols_roundtrip(void **state)
{
    (void)state;
    struct scry_arena *a = scry_arena_create(0);
    for (int round = 0; round < 200; round++) {
        uint32_t n = 1 + (uint32_t)(rnd() % 300);
        struct scry_log_entry *in = calloc(n, sizeof *in), *out = calloc(n + 1, sizeof *out);
        char *text = malloc((size_t)n * 256);
        struct scry_label md[2] = { { "trace_id", "abc" }, { "user", "" } };
        struct ls_cols c = { 0 };
        int64_t t = T0 + (int64_t)(rnd() % 1000000000000000ull), mint = t, prev = t;
        size_t off = 0;
        for (uint32_t i = 0; i < n; i++) {
            t += (int64_t)(rnd() % 3 == 0 ? 0 : rnd() % 100000000);
            in[i].t_ns = t;
            size_t len = make_line(text + off, t);
            in[i].line = (struct scry_str){ text + off, len };
            off += len;
            in[i].metadata = (struct scry_labels){ md, rnd() % 3 };
            ls__cols_add(&c, prev, &in[i]);
            prev = t;
        }
        struct scry_buf head = { 0 }, lines = { 0 };
        ls__cols_finish(&c, &head, &lines);
        scry_buf_put(&head, lines.p, lines.len);
        assert_true(ls__cols_get(LS_CODEC_ZSTD_COLS2, (const uint8_t *)head.p, head.len, n, mint,
                                 a, out));
        for (uint32_t i = 0; i < n; i++) {
            assert_int_equal(out[i].t_ns, in[i].t_ns);
            assert_int_equal(out[i].line.len, in[i].line.len);
            assert_memory_equal(out[i].line.p, in[i].line.p, in[i].line.len);
            assert_int_equal(out[i].metadata.n, in[i].metadata.n);
            for (size_t k = 0; k < in[i].metadata.n; k++) {
                assert_string_equal(out[i].metadata.v[k].name, md[k].name);
                assert_string_equal(out[i].metadata.v[k].value, md[k].value);
            }
        }
        /* Fewer or more entries than written: rejected. */
        assert_false(ls__cols_get(LS_CODEC_ZSTD_COLS2, (const uint8_t *)head.p, head.len, n + 1,
                                  mint, a, out));
        /* Truncations and flipped bytes: rejected, or lines inside the payload. */
        for (int k = 0; k < 20; k++) {
            size_t cut = rnd() % head.len;
            uint8_t *p = malloc(head.len);
            memcpy(p, head.p, head.len);
            bool ok = ls__cols_get(LS_CODEC_ZSTD_COLS2, p, cut, n, mint, a, out);
            for (uint32_t i = 0; ok && i < n; i++)
                assert_true((const uint8_t *)out[i].line.p >= p &&
                            (const uint8_t *)out[i].line.p + out[i].line.len <= p + cut);
            p[rnd() % head.len] ^= (uint8_t)(1 + rnd() % 255);
            ok = ls__cols_get(LS_CODEC_ZSTD_COLS2, p, head.len, n, mint, a, out);
            for (uint32_t i = 0; ok && i < n; i++)
                assert_true((const uint8_t *)out[i].line.p >= p &&
                            (const uint8_t *)out[i].line.p + out[i].line.len <= p + head.len);
            free(p);
        }
        scry_arena_reset(a);
        scry_buf_fini(&head);
        scry_buf_fini(&lines);
        ls__cols_fini(&c);
        free(text);
        free(in);
        free(out);
    }
    scry_arena_destroy(a);
}

static void test_line_ts(void **state)
{
    (void)state;
    int64_t t;
    const char *l1 = "ts=2026-11-24T00:00:00.061797Z level=info";
    assert_true(ls__line_ts(l1, strlen(l1), &t));
    assert_int_equal(t, 1795478400061797000LL);
    const char *l2 = "2026-11-24 00:00:01.052 ERROR 1 --- [main] x";
    assert_true(ls__line_ts(l2, strlen(l2), &t));
    assert_int_equal(t, 1795478401052000000LL);
    const char *l3 = "{\"ts\":\"1970-01-01T00:00:00.000000001Z\"}";
    assert_true(ls__line_ts(l3, strlen(l3), &t));
    assert_int_equal(t, 1);
    /* Seconds only, bad fields, too late in the line, or cut short: none. */
    const char *no[] = {
        "ts=2026-11-24T00:00:00Z", "ts=2026-13-24T00:00:00.123Z", "ts=2026-11-24T24:00:00.123",
        "ts=2026-11-24T00:00:00.12", "185.224.156.32 - - [24/Nov/2026:00:00:00 +0000]",
        "................................................................ts=2026-11-24T00:00:00.123",
    };
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        assert_false(ls__line_ts(no[i], strlen(no[i]), &t));
    assert_false(ls__line_ts(l1, 25, &t)); /* stops before the fraction */
}

/* The plain loop over every start position ls__line_ts replaced (its
 * memchr on '-' must find the same first candidate). */
static bool line_ts_ref(const char *p, size_t len, int64_t *out)
{
    size_t lim = len < 64 ? len : 64;
    for (size_t i = 0; i + 23 <= lim; i++) {
        const char *q = p + i;
        if (q[4] != '-' || q[7] != '-' || (q[10] != 'T' && q[10] != ' ') || q[13] != ':' ||
            q[16] != ':' || q[19] != '.')
            continue;
        int y, mo, d, h, mi, sec;
        if (!scry_time_digits(q, 4, &y) || !scry_time_digits(q + 5, 2, &mo) ||
            !scry_time_digits(q + 8, 2, &d) || !scry_time_digits(q + 11, 2, &h) ||
            !scry_time_digits(q + 14, 2, &mi) || !scry_time_digits(q + 17, 2, &sec))
            continue;
        if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
            sec > 60)
            continue;
        size_t f = 0;
        int64_t frac = 0;
        while (i + 20 + f < len && f < 9 && q[20 + f] >= '0' && q[20 + f] <= '9')
            frac = frac * 10 + (q[20 + f++] - '0');
        if (f < 3)
            continue;
        for (size_t k = f; k < 9; k++)
            frac *= 10;
        *out = (scry_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000000 +
               frac;
        return true;
    }
    return false;
}

/* Random lines built from timestamp pieces (whole stamps at any offset,
 * near misses, stray '-'): the same answer as the reference, found at the
 * same position, for every length including the edges of the 64-byte scan. */
static void test_line_ts_equals_ref(void **state)
{
    (void)state;
    static const char *const piece[] = {
        "2026-11-24T00:00:00.061797Z", "2026-11-24 00:00:01.052", "1999-01-02T03:04:05.678",
        "2026-11-24T00:00:00Z", "2026-11-24T00:00:00.12", "-", "--", "- - [", " ", "x", "ts=",
        "2026-13-24T00:00:00.123", "12", "2026-11-2", ":", ".", "2026-11-24T00:00:00.1234567891",
    };
    char line[160];
    int hits = 0;
    for (int n = 0; n < 20000; n++) {
        size_t len = 0;
        while (len < 120) {
            const char *s = piece[rnd() % (sizeof piece / sizeof *piece)];
            size_t l = strlen(s);
            if (len + l > sizeof line)
                break;
            memcpy(line + len, s, l);
            len += l;
        }
        size_t cut = rnd() % (len + 1);
        int64_t a = 0, b = 0;
        bool ra = ls__line_ts(line, cut, &a), rb = line_ts_ref(line, cut, &b);
        assert_int_equal(ra, rb);
        if (ra) {
            assert_int_equal(a, b);
            hits++;
        }
    }
    assert_true(hits > 1000); /* the pieces do make stamps */
}

/* Lines stating their time to the microsecond: each t_ns costs the residual
 * (< 1000 ns: 2 bytes) instead of a dt of ~50 ms (4 bytes). */
static void test_cols_predicted_size(void **state)
{
    (void)state;
    struct ls_cols c = { 0 };
    char buf[100][64];
    int64_t t = T0, prev = T0;
    for (int i = 0; i < 100; i++) {
        t += 50000000 + (int64_t)(rnd() % 1000000);
        int64_t s = t / 1000000000 - 1796083200;
        size_t n = (size_t)sprintf(buf[i], "2026-12-01T%02lld:%02lld:%02lld.%06lldZ x",
                                   (long long)(s / 3600), (long long)(s / 60 % 60),
                                   (long long)(s % 60), (long long)(t % 1000000000 / 1000));
        struct scry_log_entry e = { .t_ns = t, .line = { buf[i], n } };
        ls__cols_add(&c, prev, &e);
        prev = t;
    }
    struct scry_buf head = { 0 }, lines = { 0 };
    ls__cols_finish(&c, &head, &lines);
    assert_true(head.len <= 100 * 3 + 1); /* 2-byte codes, 1-byte md counts, n_exc */
    scry_buf_fini(&head);
    scry_buf_fini(&lines);
    ls__cols_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cols_roundtrip),
        cmocka_unit_test(test_line_ts),
        cmocka_unit_test(test_line_ts_equals_ref),
        cmocka_unit_test(test_cols_predicted_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
