/* Tests collector/expfmt*.c: the text and OpenMetrics parsers against real
 * node_exporter output (checked in under testdata/), escaping, timestamps,
 * exemplars, _created, the # EOF rules, exact floats, malformed input with
 * the exact "line N:" message, and no allocation per sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <math.h>
#include <cmocka.h>

#include "collector/expfmt.h"
#include "collector/expfmt_internal.h"
#include "tests/unit/xorshift.h"

#define TEXT COL_EXPFMT_TEXT
#define OM COL_EXPFMT_OPENMETRICS

static char *slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TESTDATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

struct counts {
    size_t samples, help, type, unit, comment, labels, escaped;
};

static int count_all(const char *b, size_t len, enum col_expfmt_format fmt, struct counts *c,
                     struct scry_err *err)
{
    struct col_expfmt_parser p;
    col_expfmt_init(&p, b, len, fmt);
    memset(c, 0, sizeof *c);
    int k;
    while ((k = col_expfmt_next(&p)) > 0) {
        switch (k) {
        case COL_EXPFMT_SAMPLE:
            c->samples++;
            c->labels += p.sample.n_labels;
            for (size_t i = 0; i < p.sample.n_labels; i++)
                c->escaped += p.sample.labels[i].escaped;
            break;
        case COL_EXPFMT_HELP: c->help++; break;
        case COL_EXPFMT_TYPE: c->type++; break;
        case COL_EXPFMT_UNIT: c->unit++; break;
        case COL_EXPFMT_COMMENT: c->comment++; break;
        }
    }
    int rc = col_expfmt_err(&p, err);
    col_expfmt_fini(&p);
    return rc;
}

/* ---- content type -------------------------------------------------------- */

static void test_expfmt_format_from_content_type(void **state)
{
    assert_int_equal(col_expfmt_format_from_content_type("text/plain; version=0.0.4; charset=utf-8"), TEXT);
    assert_int_equal(col_expfmt_format_from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"), OM);
    assert_int_equal(col_expfmt_format_from_content_type("application/openmetrics-text;version=0.0.1"), OM);
    assert_int_equal(col_expfmt_format_from_content_type("Application/OpenMetrics-Text"), OM);
    assert_int_equal(col_expfmt_format_from_content_type("application/openmetrics-textx"), TEXT);
    assert_int_equal(col_expfmt_format_from_content_type("application/json"), TEXT);
    assert_int_equal(col_expfmt_format_from_content_type(""), TEXT);
    assert_int_equal(col_expfmt_format_from_content_type(NULL), TEXT);
    assert_string_equal(COL_EXPFMT_ACCEPT,
                        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
}

/* ---- real exporter output ------------------------------------------------ */

/* Expected counts come from independent tools over the same files:
 *   grep -vc '^#' node_exporter.prom            -> 512 samples
 *   grep -c '^# HELP' / '^# TYPE'               -> 282 / 282
 *   grep -v '^#' node_exporter.prom | grep -o '="' | wc -l  -> 420 label pairs
 * node_exporter.prom is node_exporter 1.5.0's /metrics (Debian package);
 * node_exporter 1.5.0 cannot serve OpenMetrics, so node_exporter.om is the
 * same scrape re-exposed by the Python prometheus_client 0.16 OpenMetrics
 * writer (see README.md), an independent implementation of the format. */
#define NODE_SAMPLES 512
#define NODE_HELP 282
#define NODE_TYPE 282
#define NODE_LABELS 420

static void test_expfmt_node_exporter_text(void **state)
{
    size_t len;
    char *b = slurp("node_exporter.prom", &len);
    struct counts c;
    struct scry_err err;
    assert_int_equal(count_all(b, len, TEXT, &c, &err), 0);
    assert_int_equal(c.samples, NODE_SAMPLES);
    assert_int_equal(c.help, NODE_HELP);
    assert_int_equal(c.type, NODE_TYPE);
    assert_int_equal(c.labels, NODE_LABELS);
    assert_int_equal(c.comment, 0);
    free(b);
}

static void test_expfmt_node_exporter_openmetrics(void **state)
{
    size_t len;
    char *b = slurp("node_exporter.om", &len);
    struct counts c;
    struct scry_err err;
    int rc = count_all(b, len, OM, &c, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(c.samples, NODE_SAMPLES);
    assert_int_equal(c.help, NODE_HELP);
    assert_int_equal(c.type, NODE_TYPE);
    assert_int_equal(c.labels, NODE_LABELS);
    /* Read as the text format, the OpenMetrics body fails at its first
     * OpenMetrics-only word: TYPE "unknown" (text says "untyped"). */
    assert_int_equal(count_all(b, len, TEXT, &c, &err), SCRY_EPARSE);
    assert_string_equal(err.msg, "line 411: invalid metric type \"unknown\"");
    /* And the text body is not OpenMetrics: "untyped" is text-only (and
     * it has no # EOF, which the end-of-input test shows). */
    size_t tlen;
    char *t = slurp("node_exporter.prom", &tlen);
    assert_int_equal(count_all(t, tlen, OM, &c, &err), SCRY_EPARSE);
    assert_string_equal(err.msg, "line 411: invalid metric type \"untyped\"");
    free(t);
    free(b);
}

/* Walk both captures side by side: same series, same values. */
static void test_expfmt_node_exporter_formats_agree(void **state)
{
    size_t la, lb;
    char *a = slurp("node_exporter.prom", &la), *b = slurp("node_exporter.om", &lb);
    struct col_expfmt_parser pa, pb;
    col_expfmt_init(&pa, a, la, TEXT);
    col_expfmt_init(&pb, b, lb, OM);
    size_t n = 0;
    for (;;) {
        int ka, kb;
        while ((ka = col_expfmt_next(&pa)) > 0 && ka != COL_EXPFMT_SAMPLE)
            ;
        while ((kb = col_expfmt_next(&pb)) > 0 && kb != COL_EXPFMT_SAMPLE)
            ;
        assert_int_equal(ka, kb);
        if (ka != COL_EXPFMT_SAMPLE)
            break;
        n++;
        assert_int_equal(pa.sample.name.len, pb.sample.name.len);
        assert_memory_equal(pa.sample.name.p, pb.sample.name.p, pa.sample.name.len);
        assert_int_equal(pa.sample.n_labels, pb.sample.n_labels);
        if (isnan(pa.sample.value))
            assert_true(isnan(pb.sample.value));
        else
            assert_true(pa.sample.value == pb.sample.value);
    }
    assert_int_equal(n, NODE_SAMPLES);
    assert_int_equal(col_expfmt_err(&pa, NULL), 0);
    assert_int_equal(col_expfmt_err(&pb, NULL), 0);
    free(a);
    free(b);
}

/* ---- entries -------------------------------------------------------------- */

#define NEXT(p, kind) assert_int_equal(col_expfmt_next(p), kind)
#define STR_EQ(s, z) do { assert_int_equal((s).len, strlen(z)); assert_memory_equal((s).p, z, strlen(z)); } while (0)

static void test_expfmt_text_entries(void **state)
{
    static const char b[] =
        "# HELP http_requests_total The total \\\\ \\n \\\"number\\\".\n"
        "# TYPE http_requests_total counter\n"
        "  # just a comment\n"
        "\n"
        "http_requests_total{method=\"post\",code=\"200\",} 1027 1395066363000\n"
        "http_requests_total { method = \"get\" code=\"400\" } 3\t1395066363001 \n"
        "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
        "metric_without_labels 12.47\n"
        "empty_braces{} -Inf\n"
        "x{a=\"multi\nline\"} +Inf\n"
        "nan NaN\n";
    struct col_expfmt_parser p;
    col_expfmt_init(&p, b, sizeof b - 1, TEXT);
    NEXT(&p, COL_EXPFMT_HELP);
    STR_EQ(p.meta.name, "http_requests_total");
    assert_true(p.meta.escaped);
    char out[128];
    size_t n = col_expfmt_help(&p, out);
    /* Text format HELP unescapes only \\ and \n; \" stays as written. */
    assert_int_equal(n, strlen("The total \\ \n \\\"number\\\"."));
    assert_memory_equal(out, "The total \\ \n \\\"number\\\".", n);
    NEXT(&p, COL_EXPFMT_TYPE);
    assert_int_equal(p.meta.type, COL_METRIC_COUNTER);
    NEXT(&p, COL_EXPFMT_COMMENT);
    STR_EQ(p.meta.text, "# just a comment");
    NEXT(&p, COL_EXPFMT_SAMPLE);
    STR_EQ(p.sample.name, "http_requests_total");
    STR_EQ(p.sample.series, "http_requests_total{method=\"post\",code=\"200\",}");
    assert_int_equal(p.sample.n_labels, 2);
    STR_EQ(p.sample.labels[0].name, "method");
    STR_EQ(p.sample.labels[0].value, "post");
    STR_EQ(p.sample.labels[1].name, "code");
    assert_false(p.sample.labels[1].escaped);
    assert_true(p.sample.value == 1027);
    assert_true(p.sample.has_ts);
    assert_int_equal(p.sample.ts_ms, 1395066363000);
    NEXT(&p, COL_EXPFMT_SAMPLE);
    assert_int_equal(p.sample.n_labels, 2); /* no comma needed in the text format */
    STR_EQ(p.sample.labels[1].value, "400");
    assert_int_equal(p.sample.ts_ms, 1395066363001);
    NEXT(&p, COL_EXPFMT_SAMPLE);
    assert_true(p.sample.labels[0].escaped && p.sample.labels[1].escaped);
    n = col_expfmt_unescape(p.sample.labels[0].value, out);
    assert_int_equal(n, strlen("C:\\DIR\\FILE.TXT"));
    assert_memory_equal(out, "C:\\DIR\\FILE.TXT", n);
    n = col_expfmt_unescape(p.sample.labels[1].value, out);
    assert_memory_equal(out, "Cannot find file:\n\"FILE.TXT\"", n);
    assert_true(p.sample.value == 1.458255915e9);
    assert_false(p.sample.has_ts);
    NEXT(&p, COL_EXPFMT_SAMPLE);
    assert_int_equal(p.sample.n_labels, 0);
    assert_true(p.sample.value == 12.47);
    NEXT(&p, COL_EXPFMT_SAMPLE);
    assert_true(isinf(p.sample.value) && p.sample.value < 0);
    NEXT(&p, COL_EXPFMT_SAMPLE);
    STR_EQ(p.sample.labels[0].value, "multi\nline"); /* raw newline, as promlex allows */
    assert_true(isinf(p.sample.value) && p.sample.value > 0);
    NEXT(&p, COL_EXPFMT_SAMPLE);
    uint64_t bits;
    memcpy(&bits, &p.sample.value, sizeof bits);
    assert_true(bits == 0x7ff8000000000001ULL);
    assert_int_equal(p.line, 13); /* 12 lines read, the raw newline counted */
    NEXT(&p, COL_EXPFMT_EOF);
    NEXT(&p, COL_EXPFMT_EOF); /* sticky */
    col_expfmt_fini(&p);
}

static void test_expfmt_om_entries(void **state)
{
    static const char b[] =
        "# TYPE foo counter\n"
        "# UNIT foo_seconds seconds\n"
        "# HELP foo Some \\\"text\\\" \\\\ \\n.\n"
        "foo_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879602.5\n"
        "foo_created{a=\"b\"} 1520430000.123\n"
        "foo_total 3 # {} 1\n"
        "# TYPE bar gauge\n"
        "bar_created 1\n"
        "bar -1.5e-3 -2\n"
        "# EOF";
    struct col_expfmt_parser p;
    col_expfmt_init(&p, b, sizeof b - 1, OM);
    NEXT(&p, COL_EXPFMT_TYPE);
    assert_int_equal(p.meta.type, COL_METRIC_COUNTER);
    NEXT(&p, COL_EXPFMT_UNIT);
    STR_EQ(p.meta.text, "seconds");
    NEXT(&p, COL_EXPFMT_HELP);
    char out[64];
    size_t n = col_expfmt_help(&p, out);
    assert_memory_equal(out, "Some \"text\" \\ \n.", n); /* OpenMetrics also unescapes \" */
    NEXT(&p, COL_EXPFMT_SAMPLE);
    STR_EQ(p.sample.series, "foo_total{a=\"b\"}");
    assert_true(p.sample.value == 17);
    assert_true(p.sample.has_ts);
    assert_int_equal(p.sample.ts_ms, 1520879607789);
    assert_true(p.sample.has_exemplar);
    assert_int_equal(p.sample.exemplar.n_labels, 1);
    STR_EQ(p.sample.exemplar.labels[0].name, "trace_id");
    STR_EQ(p.sample.exemplar.labels[0].value, "KOO5S4vxi0o");
    assert_true(p.sample.exemplar.value == 0.67);
    assert_true(p.sample.exemplar.has_ts);
    assert_int_equal(p.sample.exemplar.ts_ms, 1520879602500);
    assert_false(p.sample.created);
    NEXT(&p, COL_EXPFMT_SAMPLE);
    assert_true(p.sample.created);
    assert_false(p.sample.has_exemplar);
    assert_true(p.sample.value == 1520430000.123);
    NEXT(&p, COL_EXPFMT_SAMPLE);
    assert_true(p.sample.has_exemplar);
    assert_false(p.sample.has_ts);
    assert_int_equal(p.sample.exemplar.n_labels, 0);
    assert_false(p.sample.exemplar.has_ts);
    NEXT(&p, COL_EXPFMT_TYPE);
    NEXT(&p, COL_EXPFMT_SAMPLE);
    assert_false(p.sample.created); /* gauges have no _created */
    NEXT(&p, COL_EXPFMT_SAMPLE);
    assert_true(p.sample.value == -1.5e-3);
    assert_int_equal(p.sample.ts_ms, -2000);
    NEXT(&p, COL_EXPFMT_EOF);
    NEXT(&p, COL_EXPFMT_EOF);
    col_expfmt_fini(&p);
}

static void test_expfmt_om_eof_rules(void **state)
{
    struct counts c;
    struct scry_err err;
    const char *ok1 = "a 1\n# EOF\n", *ok2 = "a 1\n# EOF", *ok3 = "# EOF\n";
    assert_int_equal(count_all(ok1, strlen(ok1), OM, &c, &err), 0);
    assert_int_equal(c.samples, 1);
    assert_int_equal(count_all(ok2, strlen(ok2), OM, &c, &err), 0);
    assert_int_equal(count_all(ok3, strlen(ok3), OM, &c, &err), 0);
    assert_int_equal(count_all("", 0, OM, &c, &err), SCRY_EPARSE);
    assert_string_equal(err.msg, "line 1: data does not end with # EOF");
    assert_int_equal(count_all("", 0, TEXT, &c, &err), 0); /* an empty text body is fine */
}

/* ---- malformed input ------------------------------------------------------ */

struct bad {
    enum col_expfmt_format fmt;
    const char *in;
    const char *msg;
    int col;
};

static const struct bad bads[] = {
    { TEXT, "a{b=\"c\" 1\n", "line 1: expected label name, got \"1\"", 9 },
    { TEXT, "a{b=c} 1\n", "line 1: expected label value, got \"c\"", 5 },
    { TEXT, "a{b \"c\"} 1\n", "line 1: expected equal, got \"\\\"\"", 5 },
    { TEXT, "a{1b=\"c\"} 1\n", "line 1: expected label name, got \"1b\"", 3 },
    { TEXT, "a 1 2 3\n", "line 1: expected next entry after timestamp, got \"3\"", 7 },
    { TEXT, "ok 1\na\n", "line 2: expected value after metric, got \"\\n\"", 2 },
    { TEXT, "a 1", "line 1: expected timestamp or new record, got end of input", 4 },
    { TEXT, "a 1x\n", "line 1: invalid value \"1x\"", 3 },
    { TEXT, "a 0x1p3\n", "line 1: invalid value \"0x1p3\"", 3 },
    { TEXT, "a 1_000\n", "line 1: invalid value \"1_000\"", 3 },
    { TEXT, "a 1e999\n", "line 1: value \"1e999\" out of range", 3 },
    { TEXT, "a +nan\n", "line 1: invalid value \"+nan\"", 3 },
    { TEXT, "a 1 -3\n", "line 1: expected timestamp or new record, got \"-3\"", 5 },
    { TEXT, "a 1 99999999999999999999\n",
      "line 1: timestamp \"99999999999999999999\" out of range", 5 },
    { TEXT, "# TYPE a foo\n", "line 1: invalid metric type \"foo\"", 10 },
    { TEXT, "# TYPE a info\n", "line 1: invalid metric type \"info\"", 10 },
    { TEXT, "# HELP 1a x\n", "line 1: expected metric name after HELP, got \"1a\"", 8 },
    { TEXT, "a{b=\"\xff\"} 1\n", "line 1: invalid UTF-8 label value", 6 },
    { TEXT, "a{b=\"1\",b=\"2\"} 1\n", "line 1: duplicate label name \"b\"", 9 },
    { TEXT, "a{__name__=\"x\"} 1\n", "line 1: duplicate label name \"__name__\"", 3 },
    { TEXT, "ok 1\n\n# c\n{a=\"b\"} 1\n", "line 4: expected a valid start token, got \"{\"", 1 },
    { TEXT, "a{b=\"unterminated} 1\n", "line 1: expected label value, got \"\\\"\"", 5 },
    { TEXT, "# comment", "line 1: linebreak expected after comment, got end of input", 10 },
    { TEXT, "# HELP a \xff\n", "line 1: help text is not valid UTF-8", 10 },
    { TEXT, "a{b=\"x\ny\"} 1\nc\n", "line 3: expected value after metric, got \"\\n\"", 2 },
    { TEXT, "x 1\na{b=\"x\ny\xff\"} 1\n", "line 2: invalid UTF-8 label value", 6 },
    { TEXT, "# TYPE a counter", "line 1: linebreak expected after metadata, got end of input", 17 },
    { OM, "a 1\n", "line 2: data does not end with # EOF", 1 },
    { OM, "a 1", "line 1: data does not end with # EOF", 4 },
    { OM, "# EOF\na 1\n", "line 2: unexpected data after # EOF", 1 },
    { OM, "# EOF\n\n", "line 2: unexpected data after # EOF", 1 },
    { OM, "a  1\n# EOF\n", "line 1: expected value after metric, got \" \"", 2 },
    { OM, "a\t1\n# EOF\n", "line 1: expected value after metric, got \"\\t\"", 2 },
    { OM, "a{b=\"c\" ,d=\"e\"} 1\n# EOF\n", "line 1: expected comma or brace close, got \" \"", 8 },
    { OM, "a{b = \"c\"} 1\n# EOF\n", "line 1: expected equal, got \" \"", 4 },
    { OM, "\n# EOF\n", "line 1: expected a valid start token, got \"\\n\"", 1 },
    { OM, "a 1\n# comment\n# EOF\n", "line 2: expected a valid start token, got \"#\"", 1 },
    { OM, "# TYPE a untyped\n# EOF\n", "line 1: invalid metric type \"untyped\"", 10 },
    { OM, "# UNIT a_seconds bytes\n# EOF\n",
      "line 1: unit \"bytes\" not a suffix of metric \"a_seconds\"", 18 },
    { OM, "# UNIT abytes bytes\n# EOF\n",
      "line 1: unit \"bytes\" not a suffix of metric \"abytes\"", 15 },
    { OM, "# HELP a\n# EOF\n", "line 1: expected text in HELP", 9 },
    { OM, "a 1 NaN\n# EOF\n", "line 1: invalid timestamp \"NaN\"", 5 },
    { OM, "a 1 1e300\n# EOF\n", "line 1: invalid timestamp \"1e300\"", 5 },
    { OM, "a 1 # {b=\"c\"}\n# EOF\n", "line 1: expected value after exemplar labels, got \"\\n\"", 14 },
    { OM, "a 1 # {b=\"c\"} 1 2 3\n# EOF\n",
      "line 1: expected next entry after exemplar timestamp, got \" \"", 18 },
    { OM, "a 1 # {b=\"c\"} 1 2", "line 1: expected next entry after exemplar timestamp, got end of input", 18 },
    { OM, "a{b=\"c\nd\"} 1\n# EOF\n", "line 1: expected label value, got \"\\\"\"", 5 },
    { OM, "a 1 2 x\n# EOF\n", "line 1: expected next entry after timestamp, got \" \"", 6 },
    { OM, "a 1 #x\n# EOF\n", "line 1: invalid timestamp \"#x\"", 5 },
    { OM, "a{b=\"1\",b=\"2\"} 1\n# EOF\n", "line 1: duplicate label name \"b\"", 9 },
    { OM, "a 1 # {b=\"1\",b=\"2\"} 1\n# EOF\n", "line 1: duplicate label name \"b\"", 14 },
};

static void test_expfmt_malformed_messages(void **state)
{
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        const struct bad *t = &bads[i];
        struct counts c;
        struct scry_err err;
        scry_err_clear(&err);
        int rc = count_all(t->in, strlen(t->in), t->fmt, &c, &err);
        if (rc != SCRY_EPARSE)
            fail_msg("case %zu: rc %d, want SCRY_EPARSE (%s)", i, rc, t->msg);
        if (strcmp(err.msg, t->msg) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, err.msg, t->msg);
        if (err.col != t->col)
            fail_msg("case %zu (%s): col %d, want %d", i, t->msg, err.col, t->col);
        assert_int_equal(err.line, atoi(t->msg + 5));
    }
}

/* ---- floats ---------------------------------------------------------------- */

static void test_expfmt_float_forms(void **state)
{
    static const struct { const char *s; double want; } ok[] = {
        { "0", 0 }, { "-0", -0.0 }, { "1", 1 }, { "+1", 1 }, { "1.", 1 }, { ".5", 0.5 },
        { "1e3", 1000 }, { "1E+3", 1000 }, { "1e-3", 0.001 }, { "123456789012", 123456789012.0 },
        { "0.1", 0.1 }, { "1.458255915e9", 1.458255915e9 }, { "9007199254740993", 9007199254740992.0 },
        { "0.30000000000000004", 0.30000000000000004 }, { "1e-320", 1e-320 },
        { "1.7976931348623157e308", 1.7976931348623157e308 }, { "1e-400", 0 },
        { "Inf", INFINITY }, { "+inf", INFINITY }, { "-Infinity", -INFINITY }, { "+INF", INFINITY },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = -42;
        if (col__expfmt_float(ok[i].s, strlen(ok[i].s), &v) != 0 ||
            memcmp(&v, &ok[i].want, sizeof v) != 0)
            fail_msg("float(%s) = %.17g", ok[i].s, v);
    }
    double v;
    assert_int_equal(col__expfmt_float("NaN", 3, &v), 0);
    assert_true(isnan(v));
    assert_int_equal(col__expfmt_float("nAn", 3, &v), 0);
    static const char *const bad[] = { "", "+", "-", ".", "e3", "1e", "1e+", "1.2.3", "0x10",
                                       "0x1p3", "1_0", "infin", "nan1", "-nan", "1 ", " 1",
                                       "1e3.5", "--1", "Infinityy" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (col__expfmt_float(bad[i], strlen(bad[i]), &v) != -1)
            fail_msg("float(%s) accepted", bad[i]);
    assert_int_equal(col__expfmt_float("1e309", 5, &v), -2);
    assert_int_equal(col__expfmt_float("-1e309", 6, &v), -2);
}

/* The fast path must agree with correctly rounded strtod bit for bit. */
static void test_expfmt_float_fast_path_is_exact(void **state)
{
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        test_xorshift(&x);
        char s[64];
        int digits = 1 + (int)(x % 19);
        uint64_t m = x >> 8;
        int n = snprintf(s, sizeof s, "%.*llu", digits, (unsigned long long)(m % 10000000000000000000ULL));
        int dot = (int)((x >> 3) % (uint64_t)(n + 1));
        char t[80];
        snprintf(t, sizeof t, "%.*s.%se%d", dot, s, s + dot, (int)((x >> 40) % 60) - 30);
        double want = strtod(t, NULL), got;
        assert_int_equal(col__expfmt_float(t, strlen(t), &got), 0);
        if (memcmp(&got, &want, sizeof got) != 0)
            fail_msg("%s: got %.17g want %.17g", t, got, want);
    }
}

/* ---- limits and allocation ------------------------------------------------ */

static void test_expfmt_many_labels_grow(void **state)
{
    struct scry_buf b = { 0 };
    for (int round = 0; round < 2; round++) {
        scry_buf_puts(&b, "m{");
        for (int i = 0; i < 100; i++)
            scry_buf_printf(&b, "l%d=\"%d\",", i, i);
        scry_buf_puts(&b, "} 1 # {");
        for (int i = 0; i < 40; i++)
            scry_buf_printf(&b, "%se%d=\"x\"", i ? "," : "", i);
        scry_buf_puts(&b, "} 2\n");
    }
    scry_buf_puts(&b, "# EOF\n");
    struct col_expfmt_parser p;
    col_expfmt_init(&p, b.p, b.len, OM);
    for (int round = 0; round < 2; round++) {
        NEXT(&p, COL_EXPFMT_SAMPLE);
        assert_int_equal(p.sample.n_labels, 100);
        STR_EQ(p.sample.labels[99].name, "l99");
        STR_EQ(p.sample.labels[99].value, "99");
        assert_int_equal(p.sample.exemplar.n_labels, 40);
        STR_EQ(p.sample.exemplar.labels[39].name, "e39");
    }
    NEXT(&p, COL_EXPFMT_EOF);
    col_expfmt_fini(&p);
    scry_buf_fini(&b);
}

/* STYLE.md §11: prove the hot path allocates nothing. After one warm-up
 * pass (the parser and stdio may allocate once), parsing the node_exporter
 * body again must not change the heap's in-use byte count. */
static void test_expfmt_no_allocation_per_sample(void **state)
{
    size_t len;
    char *b = slurp("node_exporter.om", &len);
    struct counts c;
    struct scry_err err;
    assert_int_equal(count_all(b, len, OM, &c, &err), 0);
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 20; i++) {
        struct col_expfmt_parser p;
        col_expfmt_init(&p, b, len, OM);
        int k;
        size_t n = 0;
        while ((k = col_expfmt_next(&p)) > 0)
            n += k == COL_EXPFMT_SAMPLE;
        assert_int_equal(n, NODE_SAMPLES);
        col_expfmt_fini(&p);
    }
    struct mallinfo2 after = mallinfo2();
    assert_int_equal(before.uordblks, after.uordblks);
    assert_int_equal(before.hblkhd, after.hblkhd);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expfmt_format_from_content_type),
        cmocka_unit_test(test_expfmt_node_exporter_text),
        cmocka_unit_test(test_expfmt_node_exporter_openmetrics),
        cmocka_unit_test(test_expfmt_node_exporter_formats_agree),
        cmocka_unit_test(test_expfmt_text_entries),
        cmocka_unit_test(test_expfmt_om_entries),
        cmocka_unit_test(test_expfmt_om_eof_rules),
        cmocka_unit_test(test_expfmt_malformed_messages),
        cmocka_unit_test(test_expfmt_float_forms),
        cmocka_unit_test(test_expfmt_float_fast_path_is_exact),
        cmocka_unit_test(test_expfmt_many_labels_grow),
        cmocka_unit_test(test_expfmt_no_allocation_per_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
