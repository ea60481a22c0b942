/* Tests core/timeparse.c: timestamps, durations and byte sizes as Prometheus
 * reads them, and durations printed as Prometheus prints them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/timeparse.h"

static int64_t t_ok(const char *s)
{
    int64_t v = -12345;
    struct scry_err err = { 0 };
    int rc = scry_time_parse(s, strlen(s), &v, &err);
    if (rc)
        fail_msg("time %s: %s", s, err.msg);
    return v;
}

static int64_t d_ok(const char *s)
{
    int64_t v = -12345;
    struct scry_err err = { 0 };
    if (scry_duration_parse(s, strlen(s), &v, &err))
        fail_msg("duration %s: %s", s, err.msg);
    return v;
}

static int64_t b_ok(const char *s)
{
    int64_t v = -12345;
    struct scry_err err = { 0 };
    if (scry_bytes_parse(s, strlen(s), &v, &err))
        fail_msg("bytes %s: %s", s, err.msg);
    return v;
}

static void test_timeparse_unix_seconds(void **state)
{
    assert_int_equal(t_ok("0"), 0);
    assert_int_equal(t_ok("1435781451"), 1435781451000LL);
    assert_int_equal(t_ok("1435781451.781"), 1435781451781LL);
    assert_int_equal(t_ok("1435781451.7815"), 1435781451782LL); /* rounded to ms */
    assert_int_equal(t_ok("-1.5"), -1500);
    assert_int_equal(t_ok("1e3"), 1000000);
}

static void test_timeparse_rfc3339(void **state)
{
    assert_int_equal(t_ok("2015-07-01T20:10:51.781Z"), 1435781451781LL);
    assert_int_equal(t_ok("2015-07-01T20:10:51Z"), 1435781451000LL);
    assert_int_equal(t_ok("2015-07-01T22:10:51.781+02:00"), 1435781451781LL);
    assert_int_equal(t_ok("2015-07-01T19:40:51.781-00:30"), 1435781451781LL);
    assert_int_equal(t_ok("2015-07-01T20:10:51.781999999Z"), 1435781451781LL); /* truncated */
    assert_int_equal(t_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(t_ok("1969-12-31T23:59:59.5Z"), -500);
    assert_int_equal(t_ok("2016-02-29T00:00:00Z"), 1456704000000LL);
}

static void test_timeparse_sentinels_like_prometheus(void **state)
{
    assert_int_equal(t_ok("-292273086-05-16T16:47:06Z"), -9223309901257974000LL);
    assert_int_equal(t_ok("292277025-08-18T07:12:54.999999999Z"), 9223309901257974999LL);
}

static void test_timeparse_rejects(void **state)
{
    static const char *const bad[] = {
        "", "x", " 1", "1 ", "nan", "Inf", "0x10", "2015-07-01", "2015-13-01T00:00:00Z",
        "2015-02-29T00:00:00Z", "2015-07-01T24:00:00Z", "2015-07-01T20:10:51.Z",
        "2015-07-01T20:10:51+0200", "2015-07-01 20:10:51Z", "1e300",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct scry_err err = { 0 };
        int64_t v = 42;
        assert_int_equal(scry_time_parse(bad[i], strlen(bad[i]), &v, &err), SCRY_EPARSE);
        assert_int_equal(v, 42);
        assert_non_null(strstr(err.msg, "to a valid timestamp"));
    }
    struct scry_err err = { 0 };
    int64_t v;
    scry_time_parse("x", 1, &v, &err);
    assert_string_equal(err.msg, "cannot parse \"x\" to a valid timestamp");
}

static void test_duration_parse_prometheus_syntax(void **state)
{
    assert_int_equal(d_ok("0"), 0);
    assert_int_equal(d_ok("0s"), 0);
    assert_int_equal(d_ok("5m"), 300000);
    assert_int_equal(d_ok("1h30m"), 5400000);
    assert_int_equal(d_ok("90s"), 90000);
    assert_int_equal(d_ok("100ms"), 100);
    assert_int_equal(d_ok("1y"), 365LL * 86400000);
    assert_int_equal(d_ok("2w"), 14LL * 86400000);
    assert_int_equal(d_ok("1d2h3m4s5ms"), 86400000LL + 7200000 + 180000 + 4000 + 5);
    assert_int_equal(d_ok("1m1ms"), 60001);
}

static void test_duration_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "", "5", "5x", "1.5h", "-5m", "m", "1m1h", "1s1s", "1ms1s", "5 m", "1h ",
        "99999999999999999999s", "300y", "1Y",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct scry_err err = { 0 };
        int64_t v = 42;
        if (scry_duration_parse(bad[i], strlen(bad[i]), &v, &err) != SCRY_EPARSE)
            fail_msg("accepted bad duration \"%s\"", bad[i]);
        assert_int_equal(v, 42);
    }
    struct scry_err err = { 0 };
    int64_t v;
    scry_duration_parse("5x", 2, &v, &err);
    assert_string_equal(err.msg, "cannot parse \"5x\" as a duration");
    scry_duration_parse("300y", 4, &v, &err);
    assert_non_null(strstr(err.msg, "out of range"));
    assert_int_equal(d_ok("292y"), 292LL * 365 * 86400000);
}

static void test_duration_or_seconds(void **state)
{
    struct scry_err err = { 0 };
    int64_t v = 0;
    assert_int_equal(scry_duration_or_seconds_parse("15", 2, &v, &err), 0);
    assert_int_equal(v, 15000);
    assert_int_equal(scry_duration_or_seconds_parse("0.5", 3, &v, &err), 0);
    assert_int_equal(v, 500);
    assert_int_equal(scry_duration_or_seconds_parse("1m30s", 5, &v, &err), 0);
    assert_int_equal(v, 90000);
    assert_int_equal(scry_duration_or_seconds_parse("1e20", 4, &v, &err), SCRY_EPARSE);
    assert_non_null(strstr(err.msg, "overflows"));
    assert_int_equal(scry_duration_or_seconds_parse("abc", 3, &v, &err), SCRY_EPARSE);
    assert_string_equal(err.msg, "cannot parse \"abc\" to a valid duration");
}

static void check_format(int64_t ms, const char *want)
{
    struct scry_buf b = { 0 };
    scry_duration_format(ms, &b);
    assert_string_equal(b.p, want);
    /* What we print, we parse back to the same value. */
    assert_int_equal(d_ok(b.p), ms);
    scry_buf_fini(&b);
}

static void test_duration_format_like_prometheus(void **state)
{
    check_format(0, "0s");
    check_format(5400000, "1h30m");
    check_format(300000, "5m");
    check_format(86400000, "1d");
    check_format(365LL * 86400000, "1y");
    check_format(7LL * 86400000, "1w");
    check_format(100, "100ms");
    check_format(90LL * 86400000, "90d"); /* not 12w6d */
    check_format(86400000LL + 1, "1d1ms");
    check_format(15000, "15s");
}

static void test_bytes_parse_base2(void **state)
{
    assert_int_equal(b_ok("0"), 0);
    assert_int_equal(b_ok("1B"), 1);
    assert_int_equal(b_ok("1KB"), 1024);
    assert_int_equal(b_ok("1KiB"), 1024);
    assert_int_equal(b_ok("512MB"), 512LL << 20);
    assert_int_equal(b_ok("1GiB"), 1LL << 30);
    assert_int_equal(b_ok("1.5GB"), 3LL << 29);
    assert_int_equal(b_ok("2TB"), 2LL << 40);
    assert_int_equal(b_ok("1PB"), 1LL << 50);
    assert_int_equal(b_ok("1EB"), 1LL << 60);
    assert_int_equal(b_ok("1GB512MB"), (1LL << 30) + (512LL << 20));
    static const char *const bad[] = { "", "1", "1K", "KB", "1XB", "-1KB", "1 KB", "8EB", "1.2.3MB" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct scry_err err = { 0 };
        int64_t v = 42;
        if (scry_bytes_parse(bad[i], strlen(bad[i]), &v, &err) != SCRY_EPARSE)
            fail_msg("accepted bad size \"%s\"", bad[i]);
        assert_int_equal(v, 42);
        assert_non_null(strstr(err.msg, "as a byte size"));
    }
}

static int64_t fixed_clock(void *ud) { return *(int64_t *)ud; }

static void test_clock_is_injectable(void **state)
{
    int64_t t = 1234;
    struct scry_clock c = { fixed_clock, &t };
    assert_int_equal(scry_clock_now_ms(&c), 1234);
    int64_t now = scry_now_ms();
    assert_true(now > 1600000000000LL);
    int64_t real = scry_clock_now_ms(NULL);
    assert_true(real >= now && real - now < 60000);
    double m1 = scry_mono_s(), m2 = scry_mono_s();
    assert_true(m2 >= m1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeparse_unix_seconds),
        cmocka_unit_test(test_timeparse_rfc3339),
        cmocka_unit_test(test_timeparse_sentinels_like_prometheus),
        cmocka_unit_test(test_timeparse_rejects),
        cmocka_unit_test(test_duration_parse_prometheus_syntax),
        cmocka_unit_test(test_duration_parse_rejects),
        cmocka_unit_test(test_duration_or_seconds),
        cmocka_unit_test(test_duration_format_like_prometheus),
        cmocka_unit_test(test_bytes_parse_base2),
        cmocka_unit_test(test_clock_is_injectable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
