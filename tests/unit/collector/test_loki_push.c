/* Tests collector/loki_push*.c: the JSON and protobuf decoders on exact
 * byte vectors, the stream label parser, Loki's validation rules, and the
 * handler against a real core/http server and a real log store (JSON,
 * snappy protobuf, gzip, every status code, partial writes that keep the
 * good entries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <snappy-c.h>

#include "collector/loki_push.h"
#include "collector/proto/loki_push.pb-c.h"
#include "core/arena.h"
#include "logs_fixture.h"

/* Renders a decoded push as text: one line per entry. */
static char *render(const struct col_loki_push *p)
{
    struct scry_buf b = { 0 };
    scry_buf_puts(&b, "");
    for (size_t i = 0; i < p->n_streams; i++) {
        const struct col_loki_stream *s = &p->streams[i];
        struct scry_buf ls = { 0 };
        scry_buf_puts(&ls, "");
        scry_labels_format(&s->labels, &ls);
        if (s->labels_error)
            scry_buf_printf(&b, "stream %zu error: %s\n", i, s->labels_error);
        for (size_t k = 0; k < s->n_entries; k++) {
            const struct scry_log_entry *e = &s->entries[k];
            struct scry_buf md = { 0 };
            scry_buf_puts(&md, "");
            if (e->metadata.n)
                scry_labels_format(&e->metadata, &md);
            scry_buf_printf(&b, "%s %lld %.*s %s\n", ls.p, (long long)e->t_ns, (int)e->line.len,
                            e->line.p, md.p);
            scry_buf_fini(&md);
        }
        scry_buf_fini(&ls);
    }
    return scry_buf_take(&b);
}

static void expect_json(const char *body, const char *want)
{
    struct scry_arena *a = scry_arena_create(0);
    struct col_loki_push p;
    struct scry_err err = { 0 };
    if (col_loki_decode_json(a, body, strlen(body), &p, &err) != 0)
        fail_msg("decode %s: %s", body, err.msg);
    char *got = render(&p);
    if (strcmp(got, want) != 0)
        fail_msg("got:\n%s\nwant:\n%s", got, want);
    free(got);
    scry_arena_destroy(a);
}

static void expect_json_error(const char *body, const char *want)
{
    struct scry_arena *a = scry_arena_create(0);
    struct col_loki_push p;
    struct scry_err err = { 0 };
    assert_int_equal(col_loki_decode_json(a, body, strlen(body), &p, &err), SCRY_EPARSE);
    if (!strstr(err.msg, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, want);
    scry_arena_destroy(a);
}

static void test_loki_json(void **state)
{
    (void)state;
    expect_json("{\"streams\":[{\"stream\":{\"job\":\"app\",\"env\":\"prod\"},\"values\":["
                "[\"1732440059123456789\",\"first line\"],"
                "[\"1732440060000000000\",\"second line\",{\"user\":\"bob\",\"trace_id\":\"4bf9\"}]]}]}",
                "{env=\"prod\", job=\"app\"} 1732440059123456789 first line \n"
                "{env=\"prod\", job=\"app\"} 1732440060000000000 second line "
                "{trace_id=\"4bf9\", user=\"bob\"}\n");
    /* several streams, escapes in lines, empty values array, null metadata */
    expect_json("{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[]},"
                "{\"stream\":{\"b\":\"2\"},\"values\":[[\"-5\",\"tab\\there \\u00e9\",null]]}]}",
                "{b=\"2\"} -5 tab\there \xc3\xa9 \n");
    expect_json("{\"streams\":[]}", "");
    expect_json("{}", "");
    /* a duplicate metadata name: the last one wins */
    expect_json("{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[[\"1\",\"x\",{\"k\":\"1\",\"k\":\"2\"}]]}]}",
                "{a=\"1\"} 1 x {k=\"2\"}\n");
}

static void test_loki_json_errors(void **state)
{
    (void)state;
    expect_json_error("{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[[1732440059123456789,\"x\"]]}]}",
                      "streams[0].values[0][0]: timestamp must be a string of nanoseconds since "
                      "the epoch, got a number");
    expect_json_error("{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[[\"12x\",\"x\"]]}]}",
                      "streams[0].values[0][0]: invalid timestamp \"12x\"");
    expect_json_error("{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[[\"99999999999999999999\",\"x\"]]}]}",
                      "invalid timestamp");
    expect_json_error("{\"streams\":[{},{\"stream\":{\"a\":1}}]}",
                      "streams[1].stream.a: label values must be strings");
    expect_json_error("{\"streams\":[{\"values\":[[\"1\"]]}]}", "streams[0].values[0]: want");
    expect_json_error("{\"streams\":[{\"values\":[[\"1\",2]]}]}",
                      "streams[0].values[0][1]: the log line must be a string");
    expect_json_error("{\"streams\":[{\"values\":[[\"1\",\"x\",{\"k\":3}]]}]}",
                      "streams[0].values[0][2].k: structured metadata values must be strings");
    expect_json_error("{\"streams\":{}}", "streams: want an array");
    expect_json_error("[]", "want an object");
    expect_json_error("{\"streams\":[", "loki push json");
}

/* PushRequest{streams: [{labels: '{job="app", env="prod"}', entries: [
 *   {timestamp: {1732440059, 123456789}, line: "hello",
 *    structuredMetadata: [{trace_id, abc}]},
 *   {timestamp: {1732440060}, line: "world"}]}]}, written out by hand. */
static const char push_vector[] =
    "\x0a\x51\x0a\x17\x7b\x6a\x6f\x62\x3d\x22\x61\x70\x70\x22\x2c\x20\x65\x6e\x76\x3d\x22\x70"
    "\x72\x6f\x64\x22\x7d\x12\x25\x0a\x0b\x08\xfb\xdf\x8b\xba\x06\x10\x95\x9a\xef\x3a\x12\x05"
    "\x68\x65\x6c\x6c\x6f\x1a\x0f\x0a\x08\x74\x72\x61\x63\x65\x5f\x69\x64\x12\x03\x61\x62\x63"
    "\x12\x0f\x0a\x06\x08\xfc\xdf\x8b\xba\x06\x12\x05\x77\x6f\x72\x6c\x64";
static const char push_vector_text[] =
    "{env=\"prod\", job=\"app\"} 1732440059123456789 hello {trace_id=\"abc\"}\n"
    "{env=\"prod\", job=\"app\"} 1732440060000000000 world \n";

static void test_loki_proto(void **state)
{
    (void)state;
    struct scry_arena *a = scry_arena_create(0);
    struct col_loki_push p;
    struct scry_err err = { 0 };
    assert_int_equal(col_loki_decode_proto(a, push_vector, sizeof push_vector - 1, &p, &err), 0);
    char *got = render(&p);
    assert_string_equal(got, push_vector_text);
    free(got);
    /* truncated: every proper prefix that cuts a field fails or decodes less */
    assert_int_equal(col_loki_decode_proto(a, push_vector, 10, &p, &err), SCRY_EPARSE);
    /* unparseable stream labels leave the stream marked, not the request */
    Logproto__PushRequest r = LOGPROTO__PUSH_REQUEST__INIT;
    Logproto__StreamAdapter s = LOGPROTO__STREAM_ADAPTER__INIT, *sp = &s;
    s.labels = "{job=app}";
    r.n_streams = 1;
    r.streams = &sp;
    uint8_t buf[64];
    size_t n = logproto__push_request__pack(&r, buf);
    assert_int_equal(col_loki_decode_proto(a, (const char *)buf, n, &p, &err), 0);
    assert_int_equal(p.n_streams, 1);
    assert_non_null(p.streams[0].labels_error);
    assert_non_null(strstr(p.streams[0].labels_error, "cannot parse stream labels '{job=app}' at byte 5"));
    scry_arena_destroy(a);
}

static void expect_labels(const char *in, const char *want)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_labels ls;
    struct scry_err err = { 0 };
    int rc = col_loki_parse_labels(a, in, strlen(in), &ls, &err);
    if (!want) {
        if (rc != SCRY_EPARSE)
            fail_msg("%s parsed, want an error", in);
    } else {
        if (rc != 0)
            fail_msg("%s: %s", in, err.msg);
        struct scry_buf b = { 0 };
        scry_buf_puts(&b, "");
        scry_labels_format(&ls, &b);
        if (strcmp(b.p, want) != 0)
            fail_msg("%s → %s, want %s", in, b.p, want);
        scry_buf_fini(&b);
    }
    scry_arena_destroy(a);
}

static void test_loki_label_text(void **state)
{
    (void)state;
    expect_labels("{job=\"app\", env=\"prod\"}", "{env=\"prod\", job=\"app\"}");
    expect_labels(" { a = \"1\" , b=`raw\\n` , } ", "{a=\"1\", b=\"raw\\\\n\"}");
    expect_labels("{a=\"q\\\"b\\\\s\\nn\\x41\\u00e9\"}", "{a=\"q\\\"b\\\\s\\nnA\xc3\xa9\"}");
    expect_labels("{}", "{}");
    expect_labels("{_x1=\"v\"}", "{_x1=\"v\"}");
    expect_labels("", NULL);
    expect_labels("{a=b}", NULL);
    expect_labels("{a=\"x\"", NULL);
    expect_labels("{1a=\"x\"}", NULL);
    expect_labels("{a=\"x\"} junk", NULL);
    expect_labels("{a=\"x\\q\"}", NULL);
    expect_labels("{a=\"x\" b=\"y\"}", NULL);
    expect_labels("{a!=\"x\"}", NULL);
}

static void expect_invalid(const struct scry_labels *ls, const char *want)
{
    struct scry_err err = { 0 };
    assert_int_equal(col_loki_validate_stream(NULL, ls, &err), SCRY_EINVAL);
    if (!strstr(err.msg, want))
        fail_msg("\"%s\" does not contain \"%s\"", err.msg, want);
}

static void test_loki_validation(void **state)
{
    (void)state;
    struct scry_label v[20];
    static char names[20][8], big[3000];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "l%02d", i);
        v[i] = (struct scry_label){ names[i], "v" };
    }
    struct scry_err err = { 0 };
    assert_int_equal(col_loki_validate_stream(NULL, &(struct scry_labels){ v, 15 }, &err), 0);
    expect_invalid(&(struct scry_labels){ v, 16 }, "stream has 16 label names; limit 15");
    expect_invalid(&(struct scry_labels){ v, 0 }, "at least one label pair is required per stream");
    memset(big, 'a', sizeof big - 1);
    big[2049] = 0;
    struct scry_label one = { "job", big };
    expect_invalid(&(struct scry_labels){ &one, 1 }, "label value too long: 2049 bytes (limit 2048)");
    big[2049] = 'a';
    big[1025] = 0;
    one = (struct scry_label){ big, "x" };
    expect_invalid(&(struct scry_labels){ &one, 1 }, "label name too long: 1025 bytes (limit 1024)");
    one = (struct scry_label){ "a-b", "x" };
    expect_invalid(&(struct scry_labels){ &one, 1 }, "invalid label name 'a-b'");
    struct scry_label dup[] = { { "a", "1" }, { "a", "2" } };
    expect_invalid(&(struct scry_labels){ dup, 2 }, "duplicate label name 'a'");
    one = (struct scry_label){ "a", "" };
    expect_invalid(&(struct scry_labels){ &one, 1 }, "label 'a' has an empty value");
    /* limits are configurable */
    struct col_loki_limits lim = { .max_label_names = 2 };
    assert_int_equal(col_loki_validate_stream(&lim, &(struct scry_labels){ v, 3 }, &err), SCRY_EINVAL);
}

/* ---- the handler -------------------------------------------------------- */

static struct lfx *push_fx(struct scry_appendable *store, size_t max_body)
{
    struct lfx *f = lfx_open();
    struct col_loki_opts o = { .max_body_bytes = max_body, .metrics = f->m,
                               .limits = { .max_line_bytes = 64 } };
    struct scry_err err = { 0 };
    struct col_loki *l;
    assert_int_equal(col_loki_register(&l, f->srv, store ? store : ls_appendable(f->st), &o, &err), 0);
    f->recv = l;
    lfx_start(f);
    return f;
}

static void push_fx_close(struct lfx *f)
{
    lfx_stop(f);
    col_loki_destroy(f->recv);
    lfx_close(f);
}

static const char *const H_JSON[] = { "Content-Type: application/json; charset=utf-8", NULL };
static const char *const H_PROTO[] = { "Content-Type: application/x-protobuf", NULL };
static const char *const H_JSON_GZIP[] = { "Content-Type: application/json",
                                           "Content-Encoding: gzip", NULL };
static const char *const H_PROTO_SNAPPY[] = { "Content-Type: application/x-protobuf",
                                              "Content-Encoding: snappy", NULL };
static const char *const H_PROTO_GZIP[] = { "Content-Type: application/x-protobuf",
                                            "Content-Encoding: gzip", NULL };

static void post_expect(struct lfx *f, const void *body, size_t len, const char *const *h,
                        long status, const char *want)
{
    struct reply r = lfx_post(f, "/loki/api/v1/push", body, len, h, false);
    reply_expect(&r, status, want);
    reply_fini(&r);
}

static char *snappy_of(const char *p, size_t len, size_t *out_len)
{
    size_t cap = snappy_max_compressed_length(len);
    char *out = malloc(cap);
    assert_int_equal(snappy_compress(p, len, out, &cap), SNAPPY_OK);
    *out_len = cap;
    return out;
}

static void test_loki_http_json_proto_gzip(void **state)
{
    (void)state;
    struct lfx *f = push_fx(NULL, 0);
    const char *js = "{\"streams\":[{\"stream\":{\"job\":\"api\"},\"values\":[[\"100\",\"a\"],"
                     "[\"200\",\"b\",{\"user\":\"bob\"}]]}]}";
    post_expect(f, js, strlen(js), H_JSON, 204, "");
    size_t n;
    char *z = snappy_of(push_vector, sizeof push_vector - 1, &n);
    post_expect(f, z, n, H_PROTO, 204, "");
    free(z);
    lfx_expect(f, "{env=\"prod\", job=\"app\"} 1732440059123456789 hello {trace_id=\"abc\"}\n"
                  "{env=\"prod\", job=\"app\"} 1732440060000000000 world \n"
                  "{job=\"api\"} 100 a \n"
                  "{job=\"api\"} 200 b {user=\"bob\"}\n");
    /* gzip JSON; gzip around snappy protobuf; Content-Encoding: snappy (core
     * undoes it, the body is the protobuf); no Content-Type at all */
    js = "{\"streams\":[{\"stream\":{\"job\":\"gz\"},\"values\":[[\"1\",\"zipped\"]]}]}";
    char *g = gzip_of(js, strlen(js), &n);
    post_expect(f, g, n, H_JSON_GZIP, 204, "");
    free(g);
    Logproto__PushRequest r = LOGPROTO__PUSH_REQUEST__INIT;
    Logproto__StreamAdapter s = LOGPROTO__STREAM_ADAPTER__INIT, *sp = &s;
    Logproto__EntryAdapter e = LOGPROTO__ENTRY_ADAPTER__INIT, *ep = &e;
    Logproto__Timestamp ts = LOGPROTO__TIMESTAMP__INIT;
    ts.seconds = 7;
    e.timestamp = &ts;
    e.line = "via gzip";
    s.labels = "{job=\"pz\"}";
    s.n_entries = 1;
    s.entries = &ep;
    r.n_streams = 1;
    r.streams = &sp;
    uint8_t buf[128];
    size_t pn = logproto__push_request__pack(&r, buf);
    char *sz = snappy_of((const char *)buf, pn, &n);
    g = gzip_of(sz, n, &n);
    post_expect(f, g, n, H_PROTO_GZIP, 204, "");
    free(g);
    free(sz);
    e.line = "via snappy encoding";
    ts.seconds = 8;
    pn = logproto__push_request__pack(&r, buf);
    sz = snappy_of((const char *)buf, pn, &n);
    post_expect(f, sz, n, H_PROTO_SNAPPY, 204, "");
    e.line = "no content type";
    ts.seconds = 9;
    pn = logproto__push_request__pack(&r, buf);
    free(sz);
    sz = snappy_of((const char *)buf, pn, &n);
    static const char *const no_ct[] = { "Content-Type:", NULL }; /* curl: drop the header */
    post_expect(f, sz, n, no_ct, 204, "");
    free(sz);
    char *got = lfx_dump(f);
    assert_non_null(strstr(got, "{job=\"gz\"} 1 zipped \n"));
    assert_non_null(strstr(got, "{job=\"pz\"} 7000000000 via gzip \n"
                                "{job=\"pz\"} 8000000000 via snappy encoding \n"
                                "{job=\"pz\"} 9000000000 no content type \n"));
    free(got);
    push_fx_close(f);
}

static void test_loki_http_rejections(void **state)
{
    (void)state;
    struct lfx *f = push_fx(NULL, 4096);
    const char *js = "{\"streams\":[{\"stream\":{\"job\":\"api\"},\"values\":[[1,\"a\"]]}]}";
    post_expect(f, js, strlen(js), H_JSON, 400,
                "loki push json: streams[0].values[0][0]: timestamp must be a string of "
                "nanoseconds since the epoch, got a number\n");
    post_expect(f, "{\"streams\":", 11, H_JSON, 400, NULL);
    post_expect(f, "not snappy", 10, H_PROTO, 400, NULL);
    /* valid snappy of garbage protobuf */
    size_t n;
    char *z = snappy_of("\xff\xff\xff", 3, &n);
    post_expect(f, z, n, H_PROTO, 400,
                "loki push: cannot parse PushRequest: invalid protobuf (truncated, a field of the "
                "wrong wire type, or a string that is not valid UTF-8)\n");
    free(z);
    /* nothing of the refused requests was stored */
    lfx_expect(f, "");
    /* a partial write: the good stream and the in-order entries are kept,
     * the bad stream, the out-of-order entry and the long line are named */
    js = "{\"streams\":[{\"stream\":{\"job\":\"api\"},\"values\":[[\"100\",\"a\"],[\"50\",\"late\"],"
         "[\"300\",\"c\"],[\"400\",\"0123456789012345678901234567890123456789012345678901234567890123456789\"]]},"
         "{\"stream\":{\"bad-name\":\"x\"},\"values\":[[\"1\",\"x\"],[\"2\",\"y\"]]},"
         "{\"stream\":{},\"values\":[[\"1\",\"x\"]]}]}";
    post_expect(f, js, strlen(js), H_JSON, 400,
                "5 of 7 entries rejected (2 written); first: stream 0 entry 1 (timestamp 50): "
                "entry out of order: t_ns 50 is older than the stream's newest entry\n");
    lfx_expect(f, "{job=\"api\"} 100 a \n{job=\"api\"} 300 c \n");
    js = "{\"streams\":[{\"stream\":{\"bad-name\":\"x\"},\"values\":[[\"1\",\"x\"]]}]}";
    post_expect(f, js, strlen(js), H_JSON, 400,
                "1 of 1 entries rejected (0 written); first: stream 0 {bad-name=\"x\"}: invalid "
                "label name 'bad-name'\n");
    js = "{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[[\"1\",\"0123456789012345678901234567890123456789012345678901234567890123456789\"]]}]}";
    post_expect(f, js, strlen(js), H_JSON, 400,
                "1 of 1 entries rejected (0 written); first: stream 0 entry 0: Max entry size "
                "'64' bytes exceeded while adding an entry with length '70' bytes\n");
    /* an entry the store already holds (same time and line) is a no-op */
    js = "{\"streams\":[{\"stream\":{\"job\":\"api\"},\"values\":[[\"300\",\"c\"]]}]}";
    post_expect(f, js, strlen(js), H_JSON, 204, "");
    lfx_expect(f, "{job=\"api\"} 100 a \n{job=\"api\"} 300 c \n");
    /* an encoding Loki does not know: its 400, not core's 415 */
    static const char *const h_br[] = { "Content-Type: application/json",
                                        "Content-Encoding: br", NULL };
    post_expect(f, "{}", 2, h_br, 400, "Content-Encoding \"br\" not supported\n");
    /* 413 above the body limit */
    char big[5000];
    memset(big, ' ', sizeof big);
    post_expect(f, big, sizeof big, H_JSON, 413, NULL);
    push_fx_close(f);
}

/* The server's log_ingest before the store is open: begin fails. */
static int not_ready(struct scry_appendable *a, const char *tenant, struct scry_appender **out,
                     struct scry_err *err)
{
    (void)a, (void)tenant, (void)out;
    return scry_err_set(err, SCRY_ETIMEOUT, "scry is starting up (WAL replay); retry");
}

static int shedding(struct scry_appendable *a, const char *tenant, struct scry_appender **out,
                    struct scry_err *err)
{
    (void)a, (void)tenant, (void)out;
    return scry_err_set(err, SCRY_ELIMIT, "too many appenders");
}

static void test_loki_http_backpressure(void **state)
{
    (void)state;
    const char *js = "{\"streams\":[{\"stream\":{\"job\":\"api\"},\"values\":[[\"1\",\"a\"]]}]}";
    struct scry_appendable starting = { .begin = not_ready }, busy = { .begin = shedding };
    struct lfx *f = push_fx(&starting, 0);
    struct reply r = lfx_post(f, "/loki/api/v1/push", js, strlen(js), H_JSON, false);
    reply_expect(&r, 503, "store: scry is starting up (WAL replay); retry\n");
    assert_non_null(strstr(r.hdrs.p, "Retry-After: 5"));
    reply_fini(&r);
    push_fx_close(f);
    f = push_fx(&busy, 0);
    post_expect(f, js, strlen(js), H_JSON, 429, "store: too many appenders\n");
    push_fx_close(f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loki_json),
        cmocka_unit_test(test_loki_json_errors),
        cmocka_unit_test(test_loki_proto),
        cmocka_unit_test(test_loki_label_text),
        cmocka_unit_test(test_loki_validation),
        cmocka_unit_test(test_loki_http_json_proto_gzip),
        cmocka_unit_test(test_loki_http_rejections),
        cmocka_unit_test(test_loki_http_backpressure),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
