/* Tests core/matcher.c's shortcuts (literals, alternations of literals,
 * ".*", ".+", "lit.*", "lit..") against PCRE2 itself: each generated
 * pattern is matched as written (shortcut where init finds one) and
 * wrapped in "(?:...)", which no shortcut takes, over generated values
 * with newlines, multi-byte and invalid UTF-8, and the results must agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/matcher.h"
#include "tests/unit/xorshift.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n) { return (uint32_t)(test_xorshift(&rng) % n); }

/* Balanced pieces only, so that "(?:" p ")" means the same as p. */
static const char *const pieces[] = {
    "a", "5", "/api/", "x", ".", ".", "..", ".*", ".+", "|", "|", "\\.", "\\|", "(?i)", "^",
    "$", "é", "[a5]", "(a|)", "a?", "\n", "?", "{2}", "ab", "A",
};
static const char *const chars[] = { "a", "5", "/", ".", "\n", "é", "\xff", "A", "x", "0",
                                     "api", "|", "\xe2\x82", "b" };

static void gen_value(char *v, size_t cap)
{
    size_t n = 0, k = rnd(7);
    v[0] = 0;
    for (size_t i = 0; i < k; i++) {
        const char *c = chars[rnd(sizeof chars / sizeof *chars)];
        if (n + strlen(c) + 1 > cap)
            break;
        memcpy(v + n, c, strlen(c) + 1);
        n += strlen(c);
    }
}

static size_t check_pattern(const char *re, const char *const *vals, size_t n_vals)
{
    struct scry_matcher fast, ref;
    char wrapped[128];
    snprintf(wrapped, sizeof wrapped, "(?:%s)", re);
    if (scry_matcher_init(&fast, SCRY_MATCH_RE, "x", re, NULL) != 0)
        return 0; /* e.g. "?" alone: both must fail the same way */
    if (scry_matcher_init(&ref, SCRY_MATCH_RE, "x", wrapped, NULL) != 0)
        fail_msg("%s compiles but %s does not", re, wrapped);
    assert_int_equal(ref.fast, 0);
    for (size_t i = 0; i < n_vals; i++) {
        bool a = scry_matcher_matches(&fast, vals[i], strlen(vals[i]));
        bool b = scry_matcher_matches(&ref, vals[i], strlen(vals[i]));
        if (a != b)
            fail_msg("/%s/ on \"%s\": shortcut %d, pcre2 %d", re, vals[i], a, b);
    }
    size_t used = fast.fast != 0;
    scry_matcher_fini(&fast);
    scry_matcher_fini(&ref);
    return used;
}

static void test_matcher_fast_generated(void **state)
{
    (void)state;
    enum { N_VALS = 400, N_PATS = 6000 };
    static char buf[N_VALS][64];
    const char *vals[N_VALS];
    for (size_t i = 0; i < N_VALS; i++) {
        gen_value(buf[i], sizeof buf[i]);
        vals[i] = buf[i];
    }
    size_t n_fast = 0;
    for (size_t p = 0; p < N_PATS; p++) {
        char re[96] = "";
        size_t k = rnd(5);
        for (size_t i = 0; i < k; i++)
            strcat(re, pieces[rnd(sizeof pieces / sizeof *pieces)]);
        n_fast += check_pattern(re, vals, N_VALS);
    }
    assert_true(n_fast > N_PATS / 10); /* the shortcuts were exercised */
}

static void test_matcher_fast_prefix_cases(void **state)
{
    (void)state;
    static const char *const pats[] = {
        "5..", "/api/.*", "..", "a.", "5.", "x.*", ".", "...", "a|b|", "|a", "", "5\\..",
        "a.*b", "a.+", "(?i)5..", "(?i)/API/.*", "^5..$", "5..$", "é.", "a|b.*",
    };
    static const char *const vals[] = {
        "", "5", "50", "500", "5000", "5xx", "5é", "5é9", "5\n0", "5\xff", "5\xff" "0",
        "5\xe2\x82", "/api/", "/api/v1", "/API/x", "/api", "/api/\xff", "/api/\n", "a", "ab",
        "aé", "a\n", "b", "x", "é", "éa", "5.0", "5\\0", "\xff\xff", "A5", "5..",
    };
    size_t n_fast = 0;
    for (size_t i = 0; i < sizeof pats / sizeof *pats; i++)
        n_fast += check_pattern(pats[i], vals, sizeof vals / sizeof *vals);
    assert_true(n_fast >= 11); /* the 11 shortcut patterns above */
}

/* The behaviour the shortcuts must keep, stated directly. */
static void test_matcher_fast_expected(void **state)
{
    (void)state;
    struct scry_matcher m;
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_RE, "code", "5..", NULL), 0);
    assert_int_not_equal(m.fast, 0);
    assert_true(scry_matcher_matches(&m, "503", 3));
    assert_true(scry_matcher_matches(&m, "5\n3", 3));       /* `.` matches a newline */
    assert_true(scry_matcher_matches(&m, "5é3", strlen("5é3"))); /* one code point */
    assert_true(scry_matcher_matches(&m, "5\xff" "3", 3));  /* a bad byte is one U+FFFD */
    assert_false(scry_matcher_matches(&m, "50", 2));
    assert_false(scry_matcher_matches(&m, "5003", 4));
    assert_false(scry_matcher_matches(&m, "403", 3));
    scry_matcher_fini(&m);
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_NRE, "h", "/api/.*", NULL), 0);
    assert_int_not_equal(m.fast, 0);
    assert_false(scry_matcher_matches(&m, "/api/", 5));
    assert_false(scry_matcher_matches(&m, "/api/x\n\xff", 8));
    assert_true(scry_matcher_matches(&m, "/ap", 3));
    assert_true(scry_matcher_matches(&m, "", 0));
    scry_matcher_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matcher_fast_generated),
        cmocka_unit_test(test_matcher_fast_prefix_cases),
        cmocka_unit_test(test_matcher_fast_expected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
