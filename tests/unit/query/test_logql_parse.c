/* Tests query/logql_parse*.c and logql_print.c: every construct of the
 * grammar parses, prints canonically and reparses to the same text; errors
 * carry Loki's wording and position; required tokens follow the store's
 * tokenizer rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "query/logql.h"

static char *print(struct scry_arena *a, const char *q)
{
    struct lql_expr *e;
    struct scry_err err = { 0 };
    if (lql_parse(a, q, strlen(q), &e, &err))
        fail_msg("parse %s: %s", q, err.msg);
    struct scry_buf b;
    scry_buf_init(&b);
    lql_expr_print(e, &b);
    char *s = scry_arena_strdup(a, b.p);
    scry_buf_fini(&b);
    lql_expr_fini(e);
    return s;
}

static const char *const roundtrips[] = {
    "{job=\"api\"}",
    "{job=\"api\", env!=\"dev\", app=~\"a.*\", x!~`b\\d+`}",
    "{job=\"api\"} |= \"error\"",
    "{job=\"api\"} |= \"a\" or \"b\" != \"c\" |~ \"(?i)x\" !~ \"y\"",
    "{job=\"api\"} |= ip(\"10.0.0.0/8\")",
    "{job=\"api\"} | json",
    "{job=\"api\"} | json a=\"x.y\", b=\"arr[0]\", c",
    "{job=\"api\"} | logfmt --strict --keep-empty",
    "{job=\"api\"} | logfmt a, b=\"c\"",
    "{job=\"api\"} | regexp \"(?P<method>\\\\w+) (?P<path>\\\\S+)\"",
    "{job=\"api\"} | pattern \"<_> <ip> - <user>\"",
    "{job=\"api\"} | unpack",
    "{job=\"api\"} | logfmt | level=\"error\"",
    "{job=\"api\"} | logfmt | status >= 400 and latency > 250ms or size <= 1KB",
    "{job=\"api\"} | logfmt | (a=\"x\" or b=~\"y.*\") , c!=\"z\"",
    "{job=\"api\"} | logfmt | status == -1",
    "{job=\"api\"} | logfmt | addr=ip(\"192.168.0.0/16\")",
    "{job=\"api\"} | line_format \"{{.msg}} {{ .a | ToUpper }}\"",
    "{job=\"api\"} | label_format a=b, c=\"{{.x}}-{{ default \\\"none\\\" .y }}\"",
    "{job=\"api\"} | line_format `{{ regexReplaceAll \"(a+)\" .x \"<$1>\" | ToUpper }}`",
    "{job=\"api\"} | drop a, b, __error__",
    "{job=\"api\"} | drop level=\"debug\"",
    "{job=\"api\"} | keep a, b",
    "{job=\"api\"} | decolorize",
    "{job=\"api\"} |> \"<_> level=error <_>\"",
    "{job=\"api\"} !> \"GET <path>\" or \"<_> POST\" |= \"x\"",
    "count_over_time({job=\"api\"} |> \"<_> 500 <_>\" [1m])",
    "count_over_time({job=\"api\"}[5m])",
    "count_over_time({job=\"api\"} |= \"x\" [5m] offset 1h)",
    "rate({job=\"api\"} | json [1m])",
    "bytes_over_time({job=\"api\"}[1m])",
    "bytes_rate({job=\"api\"}[30s])",
    "absent_over_time({job=\"api\"}[1m])",
    "sum_over_time({job=\"api\"} | logfmt | unwrap latency [1m])",
    "avg_over_time({job=\"api\"} | logfmt | unwrap duration(latency) | __error__=\"\" [1m]) by (host)",
    "max_over_time({job=\"api\"} | logfmt | unwrap bytes(size) [1m]) without (pod)",
    "quantile_over_time(0.99, {job=\"api\"} | json | unwrap latency [5m]) by (route)",
    "first_over_time({job=\"api\"} | logfmt | unwrap x [1m])",
    "rate_counter({job=\"api\"} | logfmt | unwrap x [1m])",
    "sum by (status) (count_over_time({job=\"api\"} | logfmt [1m]))",
    "sum without (a) (rate({job=\"api\"}[1m]))",
    "topk(3, sum by (a) (rate({job=\"api\"}[1m])))",
    "bottomk(1, rate({job=\"api\"}[1m]))",
    "sort_desc(rate({job=\"api\"}[1m]))",
    "avg(rate({job=\"api\"}[1m])) + 1",
    "sum(rate({job=\"a\"}[1m])) / sum(rate({job=\"b\"}[1m])) * 100",
    "rate({job=\"a\"}[1m]) > bool 2",
    "rate({job=\"a\"}[1m]) / on (x) group_left (y) rate({job=\"b\"}[1m])",
    "rate({job=\"a\"}[1m]) and ignoring (x) rate({job=\"b\"}[1m])",
    "rate({job=\"a\"}[1m]) or vector(0)",
    "vector(1) + vector(1)",
    "2 ^ 3 ^ 2",
    "-1 + 2",
    "(rate({job=\"a\"}[1m]))",
    "label_replace(rate({job=\"a\"}[1m]), \"dst\", \"$1\", \"src\", \"(.*)\")",
    "sum by (level, detected_level) (count_over_time({job=\"api\"} | drop __error__ [1m]))",
    "{job=\"api\"} | label_format log_line_contains_trace_id=`{{ contains \"abc\" __line__ }}` | log_line_contains_trace_id=\"true\" or trace_id=\"abc\"",
};

static void test_logql_parse_roundtrip(void **state)
{
    (void)state;
    struct scry_arena *a = scry_arena_create(0);
    for (size_t i = 0; i < sizeof roundtrips / sizeof roundtrips[0]; i++) {
        char *p1 = print(a, roundtrips[i]);
        char *p2 = print(a, p1);
        if (strcmp(p1, p2))
            fail_msg("unstable print of %s:\n%s\n%s", roundtrips[i], p1, p2);
    }
    scry_arena_destroy(a);
}

static void test_logql_parse_canonical(void **state)
{
    (void)state;
    struct scry_arena *a = scry_arena_create(0);
    assert_string_equal(print(a, "sum(count_over_time({a=\"b\"}[60s])) by (x)"),
                        "sum by (x) (count_over_time({a=\"b\"} [1m]))");
    assert_string_equal(print(a, "rate({a=\"b\"}[90s] offset 1500ms)"),
                        "rate({a=\"b\"} [1m30s] offset 1s500ms)");
    assert_string_equal(print(a, "{a=`b\\d`} |= `x`"), "{a=\"b\\\\d\"} |= \"x\"");
    assert_string_equal(print(a, "count_over_time({a=\"b\"}[5m] |= \"x\")"),
                        "count_over_time({a=\"b\"} |= \"x\" [5m])");
    assert_string_equal(print(a, "{a=\"b\"} | x > 1.5s"), "{a=\"b\"} | x>1.5s");
    scry_arena_destroy(a);
}

static void expect_error(const char *q, const char *msg)
{
    struct scry_arena *a = scry_arena_create(0);
    struct lql_expr *e;
    struct scry_err err = { 0 };
    int rc = lql_parse(a, q, strlen(q), &e, &err);
    if (rc == 0)
        fail_msg("%s parsed", q);
    assert_int_equal(rc, SCRY_EPARSE);
    if (!strstr(err.msg, msg))
        fail_msg("%s: got %s, want %s", q, err.msg, msg);
    scry_arena_destroy(a);
}

static void test_logql_parse_errors(void **state)
{
    (void)state;
    expect_error("sum(foo", "parse error at line 1, col 5: syntax error: unexpected IDENTIFIER");
    expect_error("", "syntax error: unexpected $end");
    expect_error("{job=\"a\"", "parse error at line 1, col 9: syntax error: unexpected $end");
    expect_error("{job=~\".*\"}", "queries require at least one regexp or equality matcher");
    expect_error("{a=\"b\"} |= ", "unexpected $end");
    expect_error("{a=\"b\"} | json |= \"x\" | unwrap x", "unwrap outside of a range");
    expect_error("sum_over_time({a=\"b\"}[1m])", "invalid aggregation sum_over_time without unwrap");
    expect_error("count_over_time({a=\"b\"})", "unexpected ), expecting RANGE");
    expect_error("{a=\"b\"} |~ \"(\"", "error parsing regexp");
    expect_error("{a=\"b\"} | regexp \"(\\\\w+)\"", "at least one named capture");
    expect_error("{a=\"b\"} | pattern \"<a><b>\"", "consecutive capture");
    expect_error("{a=\"b\"} | line_format \"{{ if .a }}x{{ end }}\"", "not supported");
    expect_error("{a=\"b\"} | line_format \"{{ nosuch .a }}\"", "function \"nosuch\" not defined");
    expect_error("{a=\"b\"} | line_format \"{{ regexReplaceAll .re .x \\\"y\\\" }}\"", "needs a literal regex");
    expect_error("{a=\"b\"} | line_format \"{{ regexReplaceAll \\\"(\\\" .x \\\"y\\\" }}\"", "bad regex");
    expect_error("sum_over_time({a=\"b\"} | unwrap x [5m] | json)", "only label filters may follow unwrap");
    expect_error("-{a=\"b\"}", "unexpected sign before a log query");
    expect_error("1 > 2", "comparisons between scalars must use BOOL");
    expect_error("{a=\"b\"} + 1", "binary operation between log queries");
    expect_error("sum({a=\"b\"})", "unexpected log query in aggregation");
    expect_error("{a=\"b\"}\n| json |", "line 2, col 9");
    expect_error("{a=\"b\"} |= \"x", "unterminated string");
    expect_error("topk(0, rate({a=\"b\"}[1m]))", "invalid parameter");
    expect_error("{a=\"b\"} |> \"<a><b>\"", "consecutive capture");
    expect_error("{a=\"b\"} |> ip(\"10.0.0.0/8\")", "ip() is only allowed with |= and !=");
    expect_error("{a=\"b\"} |> 5", "unexpected NUMBER");
}

static void tokens(const char *q, const char *want)
{
    struct scry_arena *a = scry_arena_create(0);
    struct lql_expr *e;
    struct scry_err err = { 0 };
    assert_int_equal(lql_parse(a, q, strlen(q), &e, &err), 0);
    const struct lql_log *log = e->kind == LQL_LOG ? &e->u.log : &e->u.range.log;
    struct scry_str *v;
    size_t n;
    lql_required_tokens(log, a, &v, &n);
    char got[512] = "";
    for (size_t i = 0; i < n; i++) {
        strcat(got, i ? " " : "");
        strncat(got, v[i].p, v[i].len);
    }
    if (strcmp(got, want))
        fail_msg("%s: tokens \"%s\", want \"%s\"", q, got, want);
    lql_expr_fini(e);
    scry_arena_destroy(a);
}

static void test_logql_required_tokens(void **state)
{
    (void)state;
    /* every alphanumeric run: the store matches by containment */
    tokens("{a=\"b\"} |= \"needle\"", "needle");
    tokens("{a=\"b\"} |= \" needle \"", "needle");
    tokens("{a=\"b\"} |= \"GET /api/v1/Orders HTTP\"", "get api v1 orders http");
    tokens("{a=\"b\"} |= \"user_id=42 \"", "user id 42"); /* _ and = separate */
    tokens("{a=\"b\"} |= \"a b\" |= \"x y z\"", "a b x y z");
    tokens("{a=\"b\"} |= \"x a b\" or \"x c d\"", "");  /* or: neither is required */
    tokens("{a=\"b\"} != \" x \"", "");
    tokens("{a=\"b\"} |~ \" x \"", "");
    tokens("{a=\"b\"} | json |= \" x \"", "");         /* after a stage */
    tokens("{a=\"b\"} |= \" x \" | line_format \"y\" |= \" z \"", "x");
    tokens("count_over_time({a=\"b\"} |= \"(Größe) \" [1m])", "gr e");
    tokens("{a=\"b\"} |= \" é \"", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logql_parse_roundtrip),
        cmocka_unit_test(test_logql_parse_canonical),
        cmocka_unit_test(test_logql_parse_errors),
        cmocka_unit_test(test_logql_required_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
