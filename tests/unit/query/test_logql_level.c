/* Tests query/logql_level.c: detected_level, derived at query time by
 * Loki 3's ingest rules (pkg/distributor/field_detection.go), one test per
 * rule: level-like stream labels, then structured metadata, OTLP
 * severity_number, JSON and logfmt fields with value normalisation,
 * keywords, a pushed detected_level kept; and that the label appears only
 * when a query names it, for grouping (Grafana's logs volume query) and
 * label filters. */
#include "logql_fixture.h"

/* entry i of stream {c="<i>"} at i seconds */
static const struct {
    const char *labels, *line, *meta;
} cases[] = {
    /* 0-3: labels, then metadata, values as they are */
    { "level=INFO", "whatever error", NULL },
    { "severity=warning", "x", "level=error" },
    { "", "x", "lvl=Debug" },
    { "", "x", "Severity=notice,LEVEL=err" },
    /* 4-9: OTLP severity_number */
    { "", "x", "severity_number=10" },
    { "", "x", "severity_number=0" },
    { "", "x", "severity_number=17" },
    { "", "x", "severity_number=23" },
    { "", "info", "severity_number=abc" },
    { "", "x", "severity_number=30" },
    /* 10-16: JSON lines */
    { "", "  {\"level\":\"WARN\",\"msg\":\"x\"} ", NULL },
    { "", "{\"log\":{\"level\":\"error\"},\"m\":1}", NULL },
    { "", "{\"a\":{\"b\":{\"level\":\"trace\"}}}", NULL },
    { "", "{\"level\":5,\"msg\":\"x\"}", NULL },
    { "", "{\"LeVeL\":\"fatal\"}", NULL },
    { "", "{\"severity\":\"dbg\",\"level\":\"error\"}", NULL },
    { "", "{\"tags\":[\"info\",{\"level\":\"error\"}],\"lvl\":\"crItical\"}", NULL },
    /* 17-20: logfmt lines */
    { "", "lvl=dbg msg=\"a b\" level=wrn", NULL },
    { "", "msg=\"an error\" LVL=trc", NULL },
    { "", "ts=1 LeVeL=CRITICAL x=1", NULL },
    { "", "level=notice msg=\"disk warn\"", NULL },
    /* 21-27: keywords */
    { "", "an INFO message with an error", NULL },
    { "", "ERR something", NULL },
    { "", "WARNING: x", NULL },
    { "", "CRITICAL: boom", NULL },
    { "", "DEBUG: x", NULL },
    { "", "hello", NULL },
    { "", "x", "detected_level=custom" },
};
static const char *const want[] = {
    "INFO", "warning", "Debug", "err",
    "info", "unknown", "error", "fatal", "info", "unknown",
    "warn", "error", "unknown", "unknown", "unknown", "debug", "critical",
    "warn", "trace", "critical", "warn",
    "info", "error", "warn", "critical", "debug", "unknown", "custom",
};
#define N_CASES (sizeof cases / sizeof cases[0])

static int setup(void **state)
{
    if (fx_setup(state))
        return -1;
    char ls[128];
    for (size_t i = 0; i < N_CASES; i++) {
        snprintf(ls, sizeof ls, "c=%zu%s%s", i, cases[i].labels[0] ? "," : "", cases[i].labels);
        fx_append(ls, (int64_t)(i + 1) * SEC, cases[i].line, cases[i].meta);
    }
    /* the logs volume stream */
    fx_append("job=vol", 40 * SEC, "level=error boom", NULL);
    fx_append("job=vol", 41 * SEC, "level=info ok", NULL);
    fx_append("job=vol", 42 * SEC, "{\"level\":\"error\"}", NULL);
    fx_append("job=vol,level=warn", 43 * SEC, "no level here", NULL);
    return 0;
}

static void test_logql_level_each_rule(void **state)
{
    (void)state;
    assert_int_equal(N_CASES, sizeof want / sizeof want[0]);
    char q[64], exp[512];
    for (size_t i = 0; i < N_CASES; i++) {
        snprintf(q, sizeof q, "{c=\"%zu\"} | keep detected_level", i);
        snprintf(exp, sizeof exp, "{detected_level=%s} %zu %s\n", want[i], i + 1, cases[i].line);
        const char *got = fx_logs(q, 0, 100 * SEC, 10, false);
        if (strcmp(got, exp))
            fail_msg("case %zu: got %s want %s", i, got, exp);
    }
}

static void test_logql_level_only_when_named(void **state)
{
    (void)state;
    /* not named: the entry's labels are untouched */
    assert_string_equal(fx_logs("{c=\"21\"}", 0, 100 * SEC, 10, false),
                        "{c=21} 22 an INFO message with an error\n");
    /* named in a filter: returned like structured metadata */
    assert_string_equal(fx_logs("{c=~\"2[12]\"} | detected_level=\"error\"", 0, 100 * SEC, 10, false),
                        "{c=22,detected_level=error} 23 ERR something\n");
}

static void test_logql_level_logs_volume_query(void **state)
{
    (void)state;
    /* Grafana's volume query: `level` from the stream (43) or absent */
    assert_string_equal(
        fx_metric("sum by (level, detected_level) (count_over_time({job=\"vol\"} | drop __error__ [10s]))",
                  45 * SEC, 45 * SEC, SEC, true),
        "{detected_level=error} 45=2\n"
        "{detected_level=info} 45=1\n"
        "{detected_level=warn,level=warn} 45=1\n");
    /* without the grouping push-down (topk over a sum) the label is the same */
    assert_string_equal(
        fx_metric("topk(1, sum by (detected_level) (rate({job=\"vol\"}[10s])))", 45 * SEC,
                  45 * SEC, SEC, true),
        "{detected_level=error} 45=0.2\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logql_level_each_rule),
        cmocka_unit_test(test_logql_level_only_when_named),
        cmocka_unit_test(test_logql_level_logs_volume_query),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
