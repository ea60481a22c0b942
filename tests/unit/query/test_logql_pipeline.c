/* Tests the LogQL pipeline end to end over a real log store: line filters,
 * parsers (json, logfmt, regexp, pattern, unpack), label filters (string,
 * numeric, duration, bytes, ip, and/or), formatters, drop/keep,
 * decolorize, __error__, structured metadata, and the log query's limit
 * and direction across streams. */
#include "logql_fixture.h"

static int setup(void **state)
{
    if (fx_setup(state))
        return -1;
    fx_append("app=api", 1 * SEC, "level=info msg=\"GET /a\" status=200 latency=20ms size=512",
              "trace_id=t1");
    fx_append("app=api", 2 * SEC, "level=error msg=\"GET /b\" status=500 latency=1.5s size=2KB",
              "trace_id=t2");
    fx_append("app=api", 3 * SEC, "level=warn msg=boom status=404 latency=300ms size=1MB", NULL);
    fx_append("app=web", 4 * SEC, "{\"level\":\"info\",\"req\":{\"path\":\"/x\",\"code\":200},"
                                  "\"tags\":[1,2],\"ok\":true}", NULL);
    fx_append("app=web", 5 * SEC, "not json at all", NULL);
    fx_append("app=web", 6 * SEC, "{\"level\":\"error\",\"req\":{\"path\":\"/y\",\"code\":503}}",
              NULL);
    fx_append("app=lb", 7 * SEC, "10.1.2.3 - alice [GET] /index.html 200", NULL);
    fx_append("app=lb", 8 * SEC, "192.168.1.9 - bob [POST] /login 401", NULL);
    fx_append("app=color", 9 * SEC, "\x1b[31mred\x1b[0m text", NULL);
    fx_append("app=pk", 10 * SEC, "{\"_entry\":\"inner line\",\"pod\":\"p1\",\"n\":3}", NULL);
    fx_append("app=api,level=info", 11 * SEC, "level=debug x=1", NULL);
    return 0;
}

#define ALL(q) fx_logs(q, 0, 100 * SEC, 1000, false)

static void test_logql_pipeline_line_filters(void **state)
{
    (void)state;
    assert_string_equal(ALL("{app=\"api\"} |= \"GET\""),
                        "{app=api,trace_id=t1} 1 level=info msg=\"GET /a\" status=200 latency=20ms size=512\n"
                        "{app=api,trace_id=t2} 2 level=error msg=\"GET /b\" status=500 latency=1.5s size=2KB\n");
    assert_string_equal(ALL("{app=\"api\"} != \"GET\" != \"debug\""),
                        "{app=api} 3 level=warn msg=boom status=404 latency=300ms size=1MB\n");
    assert_string_equal(ALL("{app=\"lb\"} |~ \"(?i)post\""),
                        "{app=lb} 8 192.168.1.9 - bob [POST] /login 401\n");
    assert_string_equal(ALL("{app=\"lb\"} !~ \"alice|bob\""), "");
    assert_string_equal(ALL("{app=\"lb\"} |= \"alice\" or \"bob\" |= \"login\""),
                        "{app=lb} 8 192.168.1.9 - bob [POST] /login 401\n");
    assert_string_equal(ALL("{app=\"lb\"} |= ip(\"10.0.0.0/8\")"),
                        "{app=lb} 7 10.1.2.3 - alice [GET] /index.html 200\n");
    assert_string_equal(ALL("{app=\"lb\"} != ip(\"192.168.1.0-192.168.1.10\")"),
                        "{app=lb} 7 10.1.2.3 - alice [GET] /index.html 200\n");
}

/* `|>` / `!>`: Loki's pattern line filters (Matcher.Test) */
static void test_logql_pipeline_pattern_line_filters(void **state)
{
    (void)state;
    const char *alice = "{app=lb} 7 10.1.2.3 - alice [GET] /index.html 200\n";
    const char *bob = "{app=lb} 8 192.168.1.9 - bob [POST] /login 401\n";
    char both[256];
    snprintf(both, sizeof both, "%s%s", alice, bob);
    assert_string_equal(ALL("{app=\"lb\"} |> \"<_> - <_> [POST] <_>\""), bob);
    assert_string_equal(ALL("{app=\"lb\"} !> \"<_> [POST] <_>\""), alice);
    /* a pattern ending in a literal must end the line */
    assert_string_equal(ALL("{app=\"lb\"} |> \"<_> 200\""), alice);
    assert_string_equal(ALL("{app=\"lb\"} |> \"<_> 20\""), "");
    /* ... and one ending in a capture must leave something for it */
    assert_string_equal(ALL("{app=\"lb\"} |> \"<_> 401<_>\""), "");
    /* no capture may be empty */
    assert_string_equal(ALL("{app=\"lb\"} |> \"10.1.2.3<_> - <_>\""), "");
    assert_string_equal(ALL("{app=\"lb\"} |> \"10.1.2.3 <_> <_>\""), alice);
    /* named captures are only wildcards here; `or` between patterns */
    assert_string_equal(ALL("{app=\"lb\"} |> \"nothing <_>\" or \"<ip> - <user> [<_>] <_>\""), both);
    /* Loki searches the first literal rather than anchoring it */
    assert_string_equal(ALL("{app=\"lb\"} |> \"alice <_>\""), alice);
    /* an empty pattern matches only an empty line */
    assert_string_equal(ALL("{app=\"lb\"} |> \"\""), "");
    assert_string_equal(ALL("{app=\"lb\"} !> \"\""), both);
    /* in a metric query */
    assert_string_equal(fx_metric("count_over_time({app=\"lb\"} |> \"<_> /login <_>\" [10s])",
                                  10 * SEC, 10 * SEC, SEC, true),
                        "{app=lb} 10=1\n");
}

static void test_logql_pipeline_logfmt_and_label_filters(void **state)
{
    (void)state;
    /* output streams come in label order, entries in time order within each */
    assert_string_equal(ALL("{app=\"api\"} | logfmt | status >= 400 | keep status"),
                        "{status=404} 3 level=warn msg=boom status=404 latency=300ms size=1MB\n"
                        "{status=500} 2 level=error msg=\"GET /b\" status=500 latency=1.5s size=2KB\n");
    assert_string_equal(ALL("{app=\"api\"} | logfmt | latency > 250ms | line_format \"{{.msg}}\""),
                        "{app=api,latency=1.5s,level=error,msg=GET /b,size=2KB,status=500,trace_id=t2} 2 GET /b\n"
                        "{app=api,latency=300ms,level=warn,msg=boom,size=1MB,status=404} 3 boom\n");
    assert_string_equal(ALL("{app=\"api\"} | logfmt | size > 1KB and size < 1MB | keep app"),
                        "{app=api} 2 level=error msg=\"GET /b\" status=500 latency=1.5s size=2KB\n");
    /* the stream {app=api, level=info} matches level="info" by its stream label */
    assert_string_equal(ALL("{app=\"api\"} | logfmt | level=\"info\" or status == 404 | keep status"),
                        "{} 11 level=debug x=1\n"
                        "{status=200} 1 level=info msg=\"GET /a\" status=200 latency=20ms size=512\n"
                        "{status=404} 3 level=warn msg=boom status=404 latency=300ms size=1MB\n");
    assert_string_equal(ALL("{app=\"api\"} | logfmt | (level=~\"err.*\", status=500) | keep level"),
                        "{level=error} 2 level=error msg=\"GET /b\" status=500 latency=1.5s size=2KB\n");
    /* a stream label beats the parsed one: level_extracted */
    assert_string_equal(ALL("{app=\"api\", level=\"info\"} | logfmt | keep level, level_extracted, x"),
                        "{level=info,level_extracted=debug,x=1} 11 level=debug x=1\n");
    /* structured metadata is a label to filters */
    assert_string_equal(ALL("{app=\"api\"} | trace_id=\"t2\" | keep trace_id"),
                        "{trace_id=t2} 2 level=error msg=\"GET /b\" status=500 latency=1.5s size=2KB\n");
    /* logfmt with named extraction */
    assert_string_equal(ALL("{app=\"api\"} |= \"boom\" | logfmt code=\"status\", msg | drop app"),
                        "{code=404,msg=boom} 3 level=warn msg=boom status=404 latency=300ms size=1MB\n");
}

static void test_logql_pipeline_json(void **state)
{
    (void)state;
    assert_string_equal(ALL("{app=\"web\"} | json | __error__=\"\""),
                        "{app=web,level=error,req_code=503,req_path=/y} 6 {\"level\":\"error\",\"req\":{\"path\":\"/y\",\"code\":503}}\n"
                        "{app=web,level=info,ok=true,req_code=200,req_path=/x} 4 {\"level\":\"info\",\"req\":{\"path\":\"/x\",\"code\":200},\"tags\":[1,2],\"ok\":true}\n");
    assert_string_equal(ALL("{app=\"web\"} | json | __error__!=\"\" | drop __error_details__"),
                        "{__error__=JSONParserErr,app=web} 5 not json at all\n");
    assert_string_equal(ALL("{app=\"web\"} | json p=\"req.path\", c=\"req[\\\"code\\\"]\" | c > 500 | keep p"),
                        "{p=/y} 6 {\"level\":\"error\",\"req\":{\"path\":\"/y\",\"code\":503}}\n");
    assert_string_equal(ALL("{app=\"web\"} | json | drop __error__, __error_details__ | level=\"info\" | line_format \"{{.req_path | ToUpper}}\""),
                        "{app=web,level=info,ok=true,req_code=200,req_path=/x} 4 /X\n");
    assert_string_equal(ALL("{app=\"pk\"} | unpack"), "{app=pk,pod=p1} 10 inner line\n");
}

static void test_logql_pipeline_regexp_pattern(void **state)
{
    (void)state;
    assert_string_equal(ALL("{app=\"lb\"} | regexp \"^(?P<ip>\\\\S+) - (?P<user>\\\\w+)\" | keep user"),
                        "{user=alice} 7 10.1.2.3 - alice [GET] /index.html 200\n"
                        "{user=bob} 8 192.168.1.9 - bob [POST] /login 401\n");
    assert_string_equal(ALL("{app=\"lb\"} | pattern \"<ip> - <user> [<method>] <_> <status>\" | status=401 | keep method, ip"),
                        "{ip=192.168.1.9,method=POST} 8 192.168.1.9 - bob [POST] /login 401\n");
    assert_string_equal(ALL("{app=\"lb\"} | pattern \"<ip> <_>\" | ip=ip(\"10.0.0.0/8\") | keep ip"),
                        "{ip=10.1.2.3} 7 10.1.2.3 - alice [GET] /index.html 200\n");
}

static void test_logql_pipeline_formatters(void **state)
{
    (void)state;
    assert_string_equal(ALL("{app=\"lb\"} | pattern \"<ip> - <user> <_>\" | label_format tag=`{{ .user | ToUpper }}@{{ trunc 2 .ip }}`, who=user | keep who, tag"),
                        "{tag=ALICE@10,who=alice} 7 10.1.2.3 - alice [GET] /index.html 200\n"
                        "{tag=BOB@19,who=bob} 8 192.168.1.9 - bob [POST] /login 401\n");
    assert_string_equal(ALL("{app=\"lb\"} |= \"bob\" | line_format `{{ default \"anon\" .nobody }} {{ replace \"bob\" \"BOB\" __line__ }} {{ printf \"%s!\" .app }}`"),
                        "{app=lb} 8 anon 192.168.1.9 - BOB [POST] /login 401 lb!\n");
    assert_string_equal(ALL("{app=\"color\"} | decolorize"), "{app=color} 9 red text\n");
    assert_string_equal(ALL("{app=\"lb\"} |= \"bob\" | line_format `{{ regexReplaceAll \"(\\\\d+)\\\\.(\\\\d+)\" __line__ \"${2}_$1\" }}`"),
                        "{app=lb} 8 168_192.9_1 - bob [POST] /login 401\n");
    /* Grafana's trace-to-logs query */
    assert_string_equal(ALL("{app=\"lb\"} | label_format hit=`{{ contains \"alice\" __line__ }}` | hit=\"true\" or user=\"x\" | drop hit"),
                        "{app=lb} 7 10.1.2.3 - alice [GET] /index.html 200\n");
    assert_string_equal(ALL("{app=\"api\"} |= \"boom\" | line_format \"{{.__timestamp__}}|{{ __timestamp__ }}\""),
                        "{app=api} 3 |1970-01-01 00:00:03 +0000 UTC\n");
}

static void test_logql_pipeline_limit_direction(void **state)
{
    (void)state;
    /* limit is across streams: the newest two overall for backward */
    assert_string_equal(fx_logs("{app=~\"api|lb\"}", 0, 100 * SEC, 2, true),
                        "{app=api,level=info} 11 level=debug x=1\n"
                        "{app=lb} 8 192.168.1.9 - bob [POST] /login 401\n");
    assert_string_equal(fx_logs("{app=~\"api|lb\"} | drop trace_id", 0, 100 * SEC, 2, false),
                        "{app=api} 1 level=info msg=\"GET /a\" status=200 latency=20ms size=512\n"
                        "{app=api} 2 level=error msg=\"GET /b\" status=500 latency=1.5s size=2KB\n");
    /* [start, end): end is exclusive */
    assert_string_equal(fx_logs("{app=\"lb\"}", 7 * SEC, 8 * SEC, 10, true),
                        "{app=lb} 7 10.1.2.3 - alice [GET] /index.html 200\n");
    /* within one output stream, newest first */
    assert_string_equal(fx_logs("{app=\"lb\"}", 0, 100 * SEC, 10, true),
                        "{app=lb} 8 192.168.1.9 - bob [POST] /login 401\n"
                        "{app=lb} 7 10.1.2.3 - alice [GET] /index.html 200\n");
}

/* Loki's `interval`: entries at least interval apart over all streams, in
 * the query's direction, the first always kept. */
static void test_logql_pipeline_interval(void **state)
{
    (void)state;
    fx_interval_ns = 5 * SEC;
    const char *fwd = fx_logs("{app=~\"api|lb\"} | drop trace_id", 0, 100 * SEC, 100, false);
    const char *want_fwd = "{app=api} 1 level=info msg=\"GET /a\" status=200 latency=20ms size=512\n"
                           "{app=lb} 7 10.1.2.3 - alice [GET] /index.html 200\n";
    char got[1024];
    snprintf(got, sizeof got, "%s", fwd);
    assert_string_equal(got, want_fwd);
    assert_string_equal(fx_logs("{app=~\"api|lb\"}", 0, 100 * SEC, 100, true),
                        "{app=api} 3 level=warn msg=boom status=404 latency=300ms size=1MB\n"
                        "{app=api,level=info} 11 level=debug x=1\n");
    /* limit counts picked entries; filters apply before picking */
    assert_string_equal(fx_logs("{app=~\"api|lb\"} |= \"GET\"", 0, 100 * SEC, 1, false),
                        "{app=api,trace_id=t1} 1 level=info msg=\"GET /a\" status=200 latency=20ms size=512\n");
    assert_string_equal(fx_logs("{app=\"nosuch\"}", 0, 100 * SEC, 10, false), "");
    fx_interval_ns = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logql_pipeline_line_filters),
        cmocka_unit_test(test_logql_pipeline_pattern_line_filters),
        cmocka_unit_test(test_logql_pipeline_logfmt_and_label_filters),
        cmocka_unit_test(test_logql_pipeline_json),
        cmocka_unit_test(test_logql_pipeline_regexp_pattern),
        cmocka_unit_test(test_logql_pipeline_formatters),
        cmocka_unit_test(test_logql_pipeline_limit_direction),
        cmocka_unit_test(test_logql_pipeline_interval),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
