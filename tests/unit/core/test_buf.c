/* Tests core/buf.c: growth, formatting, Prometheus float printing. */
#include <math.h>
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
        cmocka_unit_test(test_str_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
