/* Tests core/buf.c: growth, formatting, Prometheus float printing. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"

static void test_buf_grows_and_stays_terminated(void **state)
{
    struct scry_buf b;
    scry_buf_init(&b);
    for (int i = 0; i < 10000; i++)
        scry_buf_putc(&b, (char)('a' + i % 26));
    assert_int_equal(b.len, 10000);
    assert_int_equal(b.p[10000], 0);
    assert_true(b.cap > b.len);
    scry_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    scry_buf_fini(&b);
    assert_null(b.p);
}

static void test_buf_printf_long_output(void **state)
{
    struct scry_buf b = { 0 };
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    scry_buf_puts(&b, "<");
    scry_buf_printf(&b, "%s|%d", big, 42);
    assert_int_equal(b.len, 1 + 999 + 3);
    assert_memory_equal(b.p + b.len - 3, "|42", 3);
    char *p = scry_buf_take(&b);
    assert_null(b.p);
    assert_int_equal(p[0], '<');
    free(p);
}

static void expect_double(double v, const char *want)
{
    struct scry_buf b = { 0 };
    scry_buf_put_double(&b, v);
    assert_string_equal(b.p, want);
    scry_buf_fini(&b);
}

static void test_buf_put_double_like_prometheus(void **state)
{
    expect_double(1, "1");
    expect_double(0.1, "0.1");
    expect_double(1.5e-7, "1.5e-07");
    expect_double(10, "10");
    expect_double(400000, "400000");
    expect_double(1e6, "1e+06");
    expect_double(0.0001, "0.0001");
    expect_double(0.00001, "1e-05");
    expect_double(-2.5, "-2.5");
    expect_double(123456789012.0, "1.23456789012e+11");
    expect_double(NAN, "NaN");
    expect_double(INFINITY, "+Inf");
    expect_double(-INFINITY, "-Inf");
    expect_double(0.30000000000000004, "0.30000000000000004");
    expect_double(0x1p-24, "5.960464477539063e-08");
}

static void expect_api(double v, const char *want)
{
    struct scry_buf b = { 0 };
    scry_buf_put_double_api(&b, v);
    assert_string_equal(b.p, want);
    scry_buf_fini(&b);
}

static void test_buf_put_double_api_like_prometheus_json(void **state)
{
    expect_api(123456789012.0, "123456789012");
    expect_api(1e6, "1000000");
    expect_api(0.1, "0.1");
    expect_api(1e-6, "0.000001");
    expect_api(1.5e-7, "1.5e-07");
    expect_api(1e21, "1e+21");
    expect_api(-3, "-3");
    expect_api(NAN, "NaN");
    expect_api(-INFINITY, "-Inf");
    /* Powers of two: the nearest 16-digit decimal (…062) does not read
     * back, the other neighbour does, and Go prints that one rather than
     * 17 digits (found by tests/integration/test_prom_diff.py). */
    expect_api(0x1p-24, "5.960464477539063e-08");
    expect_api(-0x1p-44, "-5.684341886080802e-14");
    expect_api(0x1p-77, "6.617444900424222e-24");
}

/* The definition of the shortest digits, the slow way: the first
 * precision whose correctly rounded "%.*e" reads back exactly. */
static void reference_digits(double v, char *digits, int *exp10)
{
    char tmp[40];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", prec, v);
    const char *p = tmp + (tmp[0] == '-');
    int n = 0;
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits[n++] = *p;
    digits[n] = 0;
    *exp10 = atoi(p + 1);
}

/* The digits and exponent of what scry_fmt_double_api wrote. */
static void parse_api(const char *s, char *digits, int *exp10)
{
    int n = 0, dot = -1, lead = 0, e = 0;
    bool seen = false;
    const char *p = s + (s[0] == '-');
    for (; *p && *p != 'e'; p++) {
        if (*p == '.') {
            dot = n + lead;
            continue;
        }
        if (!seen && *p == '0') {
            lead++;
            continue;
        }
        seen = true;
        digits[n++] = *p;
    }
    if (*p == 'e')
        e = atoi(p + 1);
    int int_len = dot >= 0 ? dot : n + lead; /* digits before the dot */
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = 0;
    *exp10 = e + int_len - lead - 1;
}

static void test_buf_fast_digits_match_reference(void **state)
{
    /* random doubles of the shapes sample values have (full bit patterns,
     * integers, fixed decimals, ratios, scaled binary fractions), plus
     * neighbours of powers of ten: the fast path must give the printf
     * loop's digits to the last one */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char got[40], want_d[24], got_d[24];
    for (int i = 0; i < 60000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        switch (i % 6) {
        case 0: memcpy(&v, &x, sizeof v); break;
        case 1: {
            uint64_t b = (x & 0x800fffffffffffffull) | ((uint64_t)(1023 - 25 + (x >> 55) % 100) << 52);
            memcpy(&v, &b, sizeof v);
            break;
        }
        case 2: v = (double)(x % 100000000) / 100; break;
        case 3: v = (double)(x % 1000000) / (double)(1 + (x >> 40) % 1000); break;
        case 4: v = (double)(x >> 11); break;
        default: v = ldexp((double)(x >> 11), -(int)((x >> 3) % 80)); break;
        }
        if (i % 97 == 0)
            v = nextafter(pow(10, (double)((int)(x % 28) - 7)), (x & 1) ? INFINITY : -INFINITY);
        if (!isfinite(v) || v == 0)
            continue;
        size_t n = scry_fmt_double_api(got, v);
        got[n] = 0;
        int we, ge;
        reference_digits(v, want_d, &we);
        parse_api(got, got_d, &ge);
        if (strcmp(want_d, got_d) != 0 || we != ge || (got[0] == '-') != (v < 0))
            fail_msg("%.17g: wrote %s, want digits %s exponent %d", v, got, want_d, we);
    }
}

/* The whole text, laid out from the reference digits the simple way
 * (Go's 'f' and 'e' with precision -1): what both formatters must write
 * byte for byte. api: exponent form below 1e-6 or from 1e21; else Go's
 * 'g' (below 1e-4 or from 1e6). */
static void reference_text(double v, bool api, char *out, size_t cap)
{
    char d[24];
    int e;
    reference_digits(v, d, &e);
    int n = (int)strlen(d);
    double a = fabs(v);
    bool exp_form = api ? (a < 1e-6 || a >= 1e21) : (e < -4 || e >= 6);
    size_t o = 0;
    if (v < 0)
        out[o++] = '-';
    if (exp_form) {
        o += (size_t)snprintf(out + o, cap - o, "%c%s%s", d[0], n > 1 ? "." : "", d + 1);
        snprintf(out + o, cap - o, "e%c%02d", e < 0 ? '-' : '+', abs(e));
        return;
    }
    if (e < 0) {
        o += (size_t)snprintf(out + o, cap - o, "0.");
        for (int i = 0; i < -e - 1; i++)
            out[o++] = '0';
        snprintf(out + o, cap - o, "%s", d);
    } else if (e >= n - 1) {
        o += (size_t)snprintf(out + o, cap - o, "%s", d);
        for (int i = 0; i < e - (n - 1); i++)
            out[o++] = '0';
        out[o] = 0;
    } else {
        snprintf(out + o, cap - o, "%.*s.%s", e + 1, d, d + e + 1);
    }
}

/* Random values of the shapes a range query answers with (rates: ratios
 * of counter deltas over window lengths; counters with a few decimals;
 * gauges; integers; full bit patterns; neighbours of powers of ten), each
 * through both formatters, compared whole against reference_text.
 * SCRY_FMT_TEST_N sets how many (default 200000; run with millions by
 * hand after touching the formatter). */
static void test_buf_fmt_double_text_matches_reference(void **state)
{
    const char *env = getenv("SCRY_FMT_TEST_N");
    long count = env ? atol(env) : 200000;
    uint64_t x = 0x2545f4914f6cdd1dull;
    char got[SCRY_FMT_DOUBLE_MAX + 1], want[64];
    for (long i = 0; i < count; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        switch (i % 8) {
        case 0: memcpy(&v, &x, sizeof v); break;
        case 1: v = (double)(x % 1000000) / (double)(1 + (x >> 40) % 3600) / 15; break;
        case 2: v = (double)(x % 10000000000ull) / 100; break;
        case 3: v = (double)(x % 100000) / 1000 * ((x >> 60) & 1 ? -1 : 1); break;
        case 4: v = (double)(x >> (11 + (x >> 58) % 53)); break;
        case 5: v = ldexp((double)(x >> 11), -(int)((x >> 3) % 90)); break;
        case 6: v = (double)(x % 1000) * pow(10, (double)((int)((x >> 20) % 30) - 8)); break;
        default: v = nextafter(pow(10, (double)((int)(x % 30) - 8)), (x & 1) ? INFINITY : -INFINITY); break;
        }
        if (!isfinite(v) || v == 0)
            continue;
        for (int api = 0; api < 2; api++) {
            memset(got, 'x', sizeof got);
            size_t n = api ? scry_fmt_double_api(got, v) : scry_fmt_double(got, v);
            assert_true(n <= SCRY_FMT_DOUBLE_MAX);
            got[n] = 0;
            reference_text(v, api, want, sizeof want);
            if (strcmp(got, want) != 0)
                fail_msg("%.17g (%s): wrote %s, want %s", v, api ? "api" : "g", got, want);
        }
    }
}

static void test_buf_fmt_u64(void **state)
{
    char got[24], want[24];
    uint64_t x = 1;
    for (int i = 0; i < 20000; i++) {
        uint64_t v = i < 64 ? ((uint64_t)1 << i) - (i & 1) : x >> (x % 64);
        if (i < 20)
            v = i;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = scry_fmt_u64(got, v);
        got[n] = 0;
        snprintf(want, sizeof want, "%llu", (unsigned long long)v);
        assert_string_equal(got, want);
    }
    size_t n = scry_fmt_u64(got, UINT64_MAX);
    got[n] = 0;
    assert_string_equal(got, "18446744073709551615");
}

static void test_str_compare(void **state)
{
    assert_true(scry_str_eqz(SCRY_STR("abc"), "abc"));
    assert_false(scry_str_eqz(SCRY_STR("abc"), "ab"));
    assert_true(scry_str_cmp(SCRY_STR("ab"), SCRY_STR("abc")) < 0);
    assert_true(scry_str_cmp(SCRY_STR("b"), SCRY_STR("abc")) > 0);
    assert_int_equal(scry_str_cmp(scry_str_c(NULL), SCRY_STR("")), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_stays_terminated),
        cmocka_unit_test(test_buf_printf_long_output),
        cmocka_unit_test(test_buf_put_double_like_prometheus),
        cmocka_unit_test(test_buf_put_double_api_like_prometheus_json),
        cmocka_unit_test(test_buf_fast_digits_match_reference),
        cmocka_unit_test(test_buf_fmt_double_text_matches_reference),
        cmocka_unit_test(test_buf_fmt_u64),
        cmocka_unit_test(test_str_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
