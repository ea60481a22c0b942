/* Tests core/json.c: structure, Go-compatible escaping, number formats. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/json.h"

static void expect_escape(const char *in, size_t len, const char *want)
{
    struct scry_buf b = { 0 };
    scry_json_escape(&b, in, len);
    assert_string_equal(b.p, want);
    scry_buf_fini(&b);
}

static void test_json_structure_commas_and_colons(void **state)
{
    struct scry_buf b = { 0 };
    struct scry_json j;
    scry_json_init(&j, &b);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "status");
    scry_json_str(&j, "success");
    scry_json_key(&j, "data");
    scry_json_obj_begin(&j);
    scry_json_key(&j, "result");
    scry_json_arr_begin(&j);
    scry_json_arr_end(&j);
    scry_json_key(&j, "x");
    scry_json_arr_begin(&j);
    scry_json_int(&j, -3);
    scry_json_uint(&j, 18446744073709551615ull);
    scry_json_bool(&j, true);
    scry_json_bool(&j, false);
    scry_json_null(&j);
    scry_json_str(&j, NULL);
    scry_json_raw(&j, "{\"a\":1}", 7);
    scry_json_obj_begin(&j);
    scry_json_obj_end(&j);
    scry_json_arr_end(&j);
    scry_json_keyn(&j, "kx", 1);
    scry_json_strn(&j, "abc", 2);
    scry_json_obj_end(&j);
    scry_json_obj_end(&j);
    assert_string_equal(b.p, "{\"status\":\"success\",\"data\":{\"result\":[],\"x\":[-3,"
                             "18446744073709551615,true,false,null,null,{\"a\":1},{}],"
                             "\"k\":\"ab\"}}");
    assert_int_equal(j.depth, 0);
    scry_buf_fini(&b);
}

static void test_json_escape_like_go(void **state)
{
    expect_escape("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    expect_escape("\n\r\t", 3, "\"\\n\\r\\t\"");
    expect_escape("\x01\x1f\b\f", 4, "\"\\u0001\\u001f\\u0008\\u000c\"");
    expect_escape("", 0, "\"\"");
    /* Embedded NUL is data, not the end. */
    expect_escape("a\0b", 3, "\"a\\u0000b\"");
    /* jsoniter (Prometheus) does not escape HTML characters. */
    expect_escape("<a&b>", 5, "\"<a&b>\"");
    expect_escape("\x7f", 1, "\"\x7f\"");
}

static void test_json_escape_utf8(void **state)
{
    /* Valid multi-byte sequences pass through. */
    expect_escape("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12,
                  "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* Invalid bytes: each becomes \ufffd. */
    expect_escape("a\xff" "b", 3, "\"a\\ufffdb\"");
    expect_escape("\x80", 1, "\"\\ufffd\"");
    expect_escape("\xc3", 1, "\"\\ufffd\"");             /* truncated */
    expect_escape("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");  /* overlong */
    expect_escape("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\"");
    expect_escape("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
    expect_escape("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    expect_escape("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");
    /* U+2028 / U+2029 escaped as Go does. */
    expect_escape("\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\\u2028\\u2029\"");
}

static void expect_double(double v, const char *want)
{
    struct scry_buf b = { 0 };
    struct scry_json j;
    scry_json_init(&j, &b);
    scry_json_double(&j, v);
    assert_string_equal(b.p, want);
    scry_buf_fini(&b);
}

static void expect_double_str(double v, const char *want)
{
    struct scry_buf b = { 0 };
    struct scry_json j;
    scry_json_init(&j, &b);
    scry_json_double_str(&j, v);
    assert_string_equal(b.p, want);
    scry_buf_fini(&b);
}

static void test_json_double_shortest_and_null(void **state)
{
    expect_double(1, "1");
    expect_double(0.1, "0.1");
    expect_double(-2.5, "-2.5");
    expect_double(1e21, "1e+21");
    expect_double(NAN, "null");
    expect_double(INFINITY, "null");
    expect_double(-INFINITY, "null");
}

static void test_json_double_str_like_prometheus(void **state)
{
    expect_double_str(1, "\"1\"");
    expect_double_str(0, "\"0\"");
    expect_double_str(-0.0, "\"-0\"");
    expect_double_str(0.1, "\"0.1\"");
    expect_double_str(1.5, "\"1.5\"");
    expect_double_str(123456789012.0, "\"123456789012\"");
    expect_double_str(1e20, "\"100000000000000000000\"");
    expect_double_str(123456789012345678.0, "\"123456789012345680\"");
    expect_double_str(1e21, "\"1e+21\"");
    expect_double_str(0.000001, "\"0.000001\"");
    expect_double_str(0.00000123, "\"0.00000123\"");
    expect_double_str(1e-7, "\"1e-07\"");
    expect_double_str(-1.5e-7, "\"-1.5e-07\"");
    expect_double_str(1.0 / 3, "\"0.3333333333333333\"");
    expect_double_str(NAN, "\"NaN\"");
    expect_double_str(INFINITY, "\"+Inf\"");
    expect_double_str(-INFINITY, "\"-Inf\"");
}

static void test_json_keys_escaped(void **state)
{
    struct scry_buf b = { 0 };
    struct scry_json j;
    scry_json_init(&j, &b);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "a\"b");
    scry_json_double_str(&j, 2);
    scry_json_key(&j, "t");
    scry_json_double(&j, 1435781451.781);
    scry_json_obj_end(&j);
    assert_string_equal(b.p, "{\"a\\\"b\":\"2\",\"t\":1435781451.781}");
    scry_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_structure_commas_and_colons),
        cmocka_unit_test(test_json_escape_like_go),
        cmocka_unit_test(test_json_escape_utf8),
        cmocka_unit_test(test_json_double_shortest_and_null),
        cmocka_unit_test(test_json_double_str_like_prometheus),
        cmocka_unit_test(test_json_keys_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
