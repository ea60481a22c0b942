/* Tests core/log.c: exact logfmt and JSON lines, quoting, the level filter,
 * whole lines under concurrency, and the per-key rate limiter. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/log.h"

/* 2026-12-05T16:00:00.123Z */
static int64_t fixed_clock(void *ud)
{
    (void)ud;
    return 1796486400123LL;
}

struct sink {
    FILE *f; /* tmpfile: no pipe capacity to worry about */
    struct scry_log *log;
    char text[262144];
};

static struct sink *sink_new(enum scry_log_level lvl, enum scry_log_format fmt)
{
    struct sink *s = calloc(1, sizeof *s);
    s->f = tmpfile();
    assert_non_null(s->f);
    s->log = scry_log_create(fileno(s->f), lvl, fmt);
    scry_log_set_clock(s->log, fixed_clock, NULL);
    return s;
}

/* Everything written so far, as a C string. */
static const char *sink_text(struct sink *s)
{
    off_t end = lseek(fileno(s->f), 0, SEEK_END);
    assert_true(end >= 0 && (size_t)end < sizeof s->text);
    ssize_t n = pread(fileno(s->f), s->text, (size_t)end, 0);
    assert_int_equal(n, end);
    s->text[n] = 0;
    return s->text;
}

static void sink_free(struct sink *s)
{
    scry_log_destroy(s->log);
    fclose(s->f);
    free(s);
}

static void test_log_logfmt_line(void **state)
{
    struct sink *s = sink_new(SCRY_LOG_INFO, SCRY_LOG_LOGFMT);
    SCRY_LOG(s->log, SCRY_LOG_INFO, "http", "listening", "addr", "127.0.0.1:9090");
    assert_string_equal(sink_text(s), "level=info ts=2026-12-05T16:00:00.123Z component=http "
                                      "msg=\"listening\" addr=127.0.0.1:9090\n");
    sink_free(s);
}

static void test_log_logfmt_quotes_what_needs_it(void **state)
{
    struct sink *s = sink_new(SCRY_LOG_DEBUG, SCRY_LOG_LOGFMT);
    SCRY_LOG(s->log, SCRY_LOG_WARN, "scrape", "scrape failed", "space", "a b", "eq", "a=b",
             "quote", "say \"hi\"", "nl", "l1\nl2", "empty", "", "bs", "C:\\dir", "ctl",
             "x\x01y", "bad", "\xff", "utf8", "caf\xc3\xa9", "bad key", "v");
    assert_string_equal(sink_text(s),
                        "level=warn ts=2026-12-05T16:00:00.123Z component=scrape "
                        "msg=\"scrape failed\" space=\"a b\" eq=\"a=b\" quote=\"say \\\"hi\\\"\" "
                        "nl=\"l1\\nl2\" empty=\"\" bs=C:\\dir ctl=\"x\\u0001y\" bad=\"\\ufffd\" "
                        "utf8=caf\xc3\xa9 bad_key=v\n");
    sink_free(s);
}

static void test_log_json_line(void **state)
{
    struct sink *s = sink_new(SCRY_LOG_INFO, SCRY_LOG_JSON);
    SCRY_LOG(s->log, SCRY_LOG_ERROR, "http", "bind \"failed\"", "addr", "127.0.0.1:9090", "err",
             "in use\n\ttab\\", "bad", "a\x02\xc0");
    assert_string_equal(sink_text(s),
                        "{\"level\":\"error\",\"ts\":\"2026-12-05T16:00:00.123Z\","
                        "\"component\":\"http\",\"msg\":\"bind \\\"failed\\\"\","
                        "\"addr\":\"127.0.0.1:9090\",\"err\":\"in use\\n\\ttab\\\\\","
                        "\"bad\":\"a\\u0002\\ufffd\"}\n");
    sink_free(s);
}

static int evaluated;
static const char *count_eval(void)
{
    evaluated++;
    return "v";
}

static void test_log_level_filter(void **state)
{
    struct sink *s = sink_new(SCRY_LOG_WARN, SCRY_LOG_LOGFMT);
    evaluated = 0;
    SCRY_LOG(s->log, SCRY_LOG_INFO, "x", "hidden", "k", count_eval());
    assert_int_equal(evaluated, 0); /* arguments are not evaluated below the level */
    assert_false(scry_log_enabled(s->log, SCRY_LOG_DEBUG));
    assert_true(scry_log_enabled(s->log, SCRY_LOG_ERROR));
    assert_string_equal(sink_text(s), "");

    scry_log_set_level(s->log, SCRY_LOG_DEBUG);
    SCRY_LOG(s->log, SCRY_LOG_DEBUG, "x", "shown", "k", count_eval());
    assert_int_equal(evaluated, 1);
    assert_non_null(strstr(sink_text(s), "level=debug"));
    assert_false(scry_log_enabled(NULL, SCRY_LOG_ERROR));
    sink_free(s);

    /* No dangling else: the macro is one statement. */
    int branch = 0;
    if (0)
        SCRY_LOG(NULL, SCRY_LOG_INFO, "x", "y");
    else
        branch = 1;
    assert_int_equal(branch, 1);
}

static void test_log_parse(void **state)
{
    assert_int_equal(scry_log_level_parse("debug"), SCRY_LOG_DEBUG);
    assert_int_equal(scry_log_level_parse("info"), SCRY_LOG_INFO);
    assert_int_equal(scry_log_level_parse("warn"), SCRY_LOG_WARN);
    assert_int_equal(scry_log_level_parse("error"), SCRY_LOG_ERROR);
    assert_int_equal(scry_log_level_parse("INFO"), -1);
    assert_int_equal(scry_log_level_parse(NULL), -1);
    assert_int_equal(scry_log_format_parse("logfmt"), SCRY_LOG_LOGFMT);
    assert_int_equal(scry_log_format_parse("json"), SCRY_LOG_JSON);
    assert_int_equal(scry_log_format_parse("xml"), -1);
}

static void test_log_long_line_is_whole(void **state)
{
    struct sink *s = sink_new(SCRY_LOG_INFO, SCRY_LOG_LOGFMT);
    char *big = malloc(5001);
    memset(big, 'x', 5000);
    big[5000] = 0;
    SCRY_LOG(s->log, SCRY_LOG_INFO, "t", "big", "v", big);
    const char *t = sink_text(s);
    assert_non_null(strstr(t, big));
    assert_int_equal(strlen(t), strlen("level=info ts=2026-12-05T16:00:00.123Z component=t "
                                       "msg=\"big\" v=\n") + 5000);
    free(big);
    sink_free(s);
}

#define N_THREADS 4
#define N_LINES 200

static void *log_lines(void *arg)
{
    struct scry_log *l = arg;
    char pad[80];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = 0;
    for (int i = 0; i < N_LINES; i++)
        SCRY_LOG(l, SCRY_LOG_INFO, "t", "line", "pad", pad, "end", "E");
    return NULL;
}

static void test_log_threads_never_interleave(void **state)
{
    struct sink *s = sink_new(SCRY_LOG_INFO, SCRY_LOG_LOGFMT);
    /* O_APPEND so every write(2) lands at the end, as a log file is opened. */
    int fl = fcntl(fileno(s->f), F_GETFL);
    fcntl(fileno(s->f), F_SETFL, fl | O_APPEND);
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        pthread_create(&th[i], NULL, log_lines, s->log);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    const char *t = sink_text(s);
    int lines = 0;
    for (const char *p = t; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_memory_equal(p, "level=info ", 11);
        assert_memory_equal(nl - 6, " end=E", 6);
        lines++;
        p = nl + 1;
    }
    assert_int_equal(lines, N_THREADS * N_LINES);
    sink_free(s);
}

static void test_log_limit_once_per_interval(void **state)
{
    struct scry_log_limit lim;
    scry_log_limit_init(&lim, 1000);
    uint64_t n = 99;
    assert_true(scry_log_limit_allow(&lim, "target-a", 0, &n));
    assert_int_equal(n, 0);
    assert_false(scry_log_limit_allow(&lim, "target-a", 10, &n));
    assert_false(scry_log_limit_allow(&lim, "target-a", 500, &n));
    assert_false(scry_log_limit_allow(&lim, "target-a", 999, &n));
    /* another key is independent (unless it shares a slot) */
    assert_true(scry_log_limit_allow(&lim, "target-b", 20, &n));
    assert_true(scry_log_limit_allow(&lim, "target-a", 1000, &n));
    assert_int_equal(n, 3);
    assert_false(scry_log_limit_allow(&lim, "target-a", 1500, NULL));
    assert_true(scry_log_limit_allow(&lim, "target-a", 2500, &n));
    assert_int_equal(n, 1);
    scry_log_limit_fini(&lim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_logfmt_line),
        cmocka_unit_test(test_log_logfmt_quotes_what_needs_it),
        cmocka_unit_test(test_log_json_line),
        cmocka_unit_test(test_log_level_filter),
        cmocka_unit_test(test_log_parse),
        cmocka_unit_test(test_log_long_line_is_whole),
        cmocka_unit_test(test_log_threads_never_interleave),
        cmocka_unit_test(test_log_limit_once_per_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
