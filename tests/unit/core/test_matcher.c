/* Tests core/matcher.c: equality, anchored PCRE2 regexes, the literal fast
 * paths, absent labels and error reporting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/matcher.h"

static bool match1(enum scry_match_type t, const char *re, const char *v)
{
    struct scry_matcher m;
    struct scry_err err = { 0 };
    int rc = scry_matcher_init(&m, t, "x", re, &err);
    if (rc != 0)
        fail_msg("init %s: %s", re, err.msg);
    bool ok = scry_matcher_matches(&m, v, strlen(v));
    scry_matcher_fini(&m);
    return ok;
}

#define RE(re, v) match1(SCRY_MATCH_RE, (re), (v))

static void test_matcher_eq_and_neq(void **state)
{
    assert_true(match1(SCRY_MATCH_EQ, "foo", "foo"));
    assert_false(match1(SCRY_MATCH_EQ, "foo", "foobar"));
    assert_false(match1(SCRY_MATCH_EQ, "foo", "fo"));
    assert_true(match1(SCRY_MATCH_NEQ, "foo", "bar"));
    assert_false(match1(SCRY_MATCH_NEQ, "foo", "foo"));
    assert_true(match1(SCRY_MATCH_EQ, "", ""));
}

static void test_matcher_regex_is_anchored(void **state)
{
    assert_true(RE("foo", "foo"));
    assert_false(RE("foo", "foobar"));
    assert_false(RE("foo", "xfoo"));
    assert_false(RE("fo.", "foobar"));
    assert_true(RE("fo.*", "foobar"));
    assert_false(RE("foo", "foo\n")); /* PCRE2's bare $ would accept this */
    assert_false(RE("a|b", "ab"));    /* alternation inside the anchors */
    assert_false(RE("x|ab", "xab"));
}

static void test_matcher_regex_alternation_and_classes(void **state)
{
    assert_true(RE("a|b", "a"));
    assert_true(RE("a|b", "b"));
    assert_false(RE("a|b", "c"));
    assert_false(RE("a|b", ""));
    assert_true(RE("api|web|", "")); /* empty alternative */
    assert_true(RE("[0-9]+", "200"));
    assert_false(RE("[0-9]+", "20x"));
    assert_true(RE("2..", "204"));
    assert_true(RE("(?i)GET", "get"));
    assert_true(RE("caf.", "caf\xc3\xa9")); /* UTF mode: . is one code point */
}

static void test_matcher_dot_star_and_plus(void **state)
{
    assert_true(RE(".*", ""));
    assert_true(RE(".*", "anything\nat all"));
    assert_false(RE(".+", ""));
    assert_true(RE(".+", "x"));
    assert_true(RE("(.*)", ""));           /* the same through PCRE2 */
    assert_true(RE("a.*", "a\xff\xfe"));   /* invalid UTF-8 subject: no error */
}

static void test_matcher_dotall_over_newline(void **state)
{
    assert_true(RE("a.b", "a\nb"));
    assert_true(RE("line1.*", "line1\nline2"));
    assert_false(match1(SCRY_MATCH_NRE, "a.b", "a\nb"));
}

static void test_matcher_nre(void **state)
{
    assert_true(match1(SCRY_MATCH_NRE, "foo", "foobar"));
    assert_false(match1(SCRY_MATCH_NRE, "foo|bar", "bar"));
    assert_false(match1(SCRY_MATCH_NRE, ".*", ""));
}

static void test_matcher_absent_label_is_empty(void **state)
{
    const struct scry_label v[] = { { "__name__", "up" }, { "job", "node" } };
    struct scry_labels ls = { v, 2 };
    struct scry_matcher m;

    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_EQ, "env", "", NULL), 0);
    assert_true(scry_matcher_matches_labels(&m, &ls));
    scry_matcher_fini(&m);

    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_NEQ, "env", "", NULL), 0);
    assert_false(scry_matcher_matches_labels(&m, &ls));
    scry_matcher_fini(&m);

    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_RE, "env", "prod|", NULL), 0);
    assert_true(scry_matcher_matches_labels(&m, &ls));
    scry_matcher_fini(&m);

    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_RE, "env", ".+", NULL), 0);
    assert_false(scry_matcher_matches_labels(&m, &ls));
    scry_matcher_fini(&m);

    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_RE, "job", "no.*", NULL), 0);
    assert_true(scry_matcher_matches_labels(&m, &ls));
    scry_matcher_fini(&m);
}

static void test_matcher_bad_regex_reports_offset(void **state)
{
    struct scry_matcher m;
    struct scry_err err = { 0 };
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_RE, "x", "ab(c", &err), SCRY_EPARSE);
    assert_int_equal(err.code, SCRY_EPARSE);
    assert_int_equal(err.offset, 4);
    assert_non_null(strstr(err.msg, "\"ab(c\""));
    assert_non_null(strstr(err.msg, "missing closing parenthesis"));
    assert_non_null(strstr(err.msg, "at offset 4"));
    assert_null(m.re);
    scry_matcher_fini(&m); /* harmless after a failed init */

    /* An unbalanced pattern must not escape an anchoring wrapper. */
    scry_err_clear(&err);
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_RE, "x", "a)|(b", &err), SCRY_EPARSE);
    assert_int_equal(err.offset, 1);

    scry_err_clear(&err);
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_NRE, "x", "[z-a]", &err), SCRY_EPARSE);
    assert_true(err.offset > 0);

    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_EQ, NULL, "x", &err), SCRY_EINVAL);
}

static void test_matcher_type_str(void **state)
{
    assert_string_equal(scry_match_type_str(SCRY_MATCH_EQ), "=");
    assert_string_equal(scry_match_type_str(SCRY_MATCH_NEQ), "!=");
    assert_string_equal(scry_match_type_str(SCRY_MATCH_RE), "=~");
    assert_string_equal(scry_match_type_str(SCRY_MATCH_NRE), "!~");
}

static void test_matcher_reuse_many_times(void **state)
{
    struct scry_matcher m;
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_RE, "path", "/api/v[0-9]+/.*", NULL), 0);
    char buf[64];
    int n = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "/api/v%d/%s", i, i % 2 ? "query" : "");
        n += scry_matcher_matches(&m, buf, strlen(buf));
    }
    assert_int_equal(n, 1000);
    assert_false(scry_matcher_matches(&m, "/api/vx/", 8));
    scry_matcher_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matcher_eq_and_neq),
        cmocka_unit_test(test_matcher_regex_is_anchored),
        cmocka_unit_test(test_matcher_regex_alternation_and_classes),
        cmocka_unit_test(test_matcher_dot_star_and_plus),
        cmocka_unit_test(test_matcher_dotall_over_newline),
        cmocka_unit_test(test_matcher_nre),
        cmocka_unit_test(test_matcher_absent_label_is_empty),
        cmocka_unit_test(test_matcher_bad_regex_reports_offset),
        cmocka_unit_test(test_matcher_type_str),
        cmocka_unit_test(test_matcher_reuse_many_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
