/* Tests core/err.c: messages, prefixes, positions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"

static void test_err_set_returns_code_and_formats(void **state)
{
    struct scry_err err;
    scry_err_clear(&err);
    assert_int_equal(scry_err_set(&err, SCRY_EINVAL, "bad %s %d", "thing", 7), SCRY_EINVAL);
    assert_int_equal(err.code, SCRY_EINVAL);
    assert_string_equal(err.msg, "bad thing 7");
}

static void test_err_null_is_allowed(void **state)
{
    assert_int_equal(scry_err_set(NULL, SCRY_EIO, "x"), SCRY_EIO);
    scry_err_prefix(NULL, "p");
    scry_err_clear(NULL);
}

static void test_err_prefix_adds_context(void **state)
{
    struct scry_err err = { 0 };
    scry_err_set(&err, SCRY_ECORRUPT, "bad crc");
    scry_err_prefix(&err, "chunk %d", 17);
    scry_err_prefix(&err, "block %s", "01H");
    assert_string_equal(err.msg, "block 01H: chunk 17: bad crc");
    assert_int_equal(err.code, SCRY_ECORRUPT);
}

static void test_err_sys_keeps_errno(void **state)
{
    struct scry_err err = { 0 };
    errno = ENOENT;
    scry_err_sys(&err, SCRY_EIO, "open %s", "/x");
    assert_int_equal(err.sys_errno, ENOENT);
    assert_string_equal(err.msg, "open /x: No such file or directory");
}

static void test_err_format_with_position(void **state)
{
    struct scry_err err = { 0 };
    char buf[256];
    scry_err_set(&err, SCRY_EPARSE, "global.scrape_interval: bad");
    scry_err_format(&err, buf, sizeof buf);
    assert_string_equal(buf, "global.scrape_interval: bad");
    scry_err_pos(&err, "scry.yml", 3, 5);
    scry_err_format(&err, buf, sizeof buf);
    assert_string_equal(buf, "scry.yml:3:5: global.scrape_interval: bad");
    assert_string_equal(scry_errcode_name(SCRY_ELIMIT), "limit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_returns_code_and_formats),
        cmocka_unit_test(test_err_null_is_allowed),
        cmocka_unit_test(test_err_prefix_adds_context),
        cmocka_unit_test(test_err_sys_keeps_errno),
        cmocka_unit_test(test_err_format_with_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
