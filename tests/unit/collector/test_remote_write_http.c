/* Tests collector/remote_write_http.c: a real core/http server on
 * 127.0.0.1:0, driven with libcurl, appending into a capturing store
 * (capture_appender.h), plus real requests recorded from Debian's
 * Prometheus 2.42 (testdata/, see capture_rw.py there). */
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <snappy-c.h>
#include <zlib.h>

#include "collector/proto/remote.pb-c.h"
#include "collector/remote_write.h"
#include "core/appender.h"
#include "core/buf.h"
#include "core/http.h"
#include "core/labels.h"
#include "core/metrics.h"
#include "capture_appender.h"
#include "http_client.h"
#include "rw_fixture.h"

/* ---- HTTP: fixture and client ------------------------------------------- */

struct fx {
    struct capture_store *st;
    struct scry_metrics *m;
    struct scry_http_server *srv;
    struct col_rw *rw;
    int port;
};

#define FX_MAX_BODY (128u << 10)
#define FX_MAX_DECODED (256u << 10)

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->st = capture_store_create();
    f->m = scry_metrics_create();
    struct scry_http_opts o = { .listen = "127.0.0.1:0", .shutdown_timeout_ms = 5000 };
    struct scry_err err;
    assert_int_equal(scry_http_server_create(&f->srv, &o, &err), 0);
    struct col_rw_opts ro = { .max_body_bytes = FX_MAX_BODY,
                              .max_decoded_bytes = FX_MAX_DECODED,
                              .metrics = f->m };
    assert_int_equal(col_rw_register(&f->rw, f->srv, &f->st->base, &ro, &err), 0);
    assert_int_equal(scry_http_server_start(f->srv, &err), 0);
    f->port = scry_http_server_port(f->srv);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    scry_http_server_stop(f->srv);
    scry_http_server_destroy(f->srv);
    col_rw_destroy(f->rw);
    scry_metrics_destroy(f->m);
    capture_store_destroy(f->st);
    free(f);
    return 0;
}

/* Default headers are a 1.0 sender's; hdrs (NULL-terminated) are added
 * after them, and "Name:" with no value removes one, as curl does. */
static struct reply post(int port, const void *body, size_t len, const char *const *hdrs)
{
    static const char *const defaults[] = { "Content-Type: application/x-protobuf",
                                            "Content-Encoding: snappy",
                                            "X-Prometheus-Remote-Write-Version: 0.1.0",
                                            "User-Agent: Prometheus/2.42.0" };
    const char *all[16];
    size_t n = 0;
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        bool overridden = false;
        size_t klen = strchr(defaults[i], ':') - defaults[i];
        for (size_t k = 0; hdrs && hdrs[k]; k++)
            overridden |= strncasecmp(hdrs[k], defaults[i], klen + 1) == 0;
        if (!overridden)
            all[n++] = defaults[i];
    }
    for (size_t k = 0; hdrs && hdrs[k]; k++) {
        assert_true(n < sizeof all / sizeof all[0] - 1);
        all[n++] = hdrs[k];
    }
    all[n] = NULL;
    return http_request(port, NULL, "/api/v1/write", body, len, all, false);
}

static char *snappy_of(const void *p, size_t len, size_t *out_len)
{
    size_t cap = snappy_max_compressed_length(len);
    char *out = malloc(cap);
    *out_len = cap;
    assert_int_equal(snappy_compress(p, len, out, out_len), SNAPPY_OK);
    return out;
}

/* Packs b, snappy-compresses it and posts it. */
static struct reply post_wr(struct fx *f, struct wr_build *b, const char *const *hdrs)
{
    size_t len, clen;
    uint8_t *p = wb_pack(b, &len);
    char *c = snappy_of(p, len, &clen);
    struct reply r = post(f->port, c, clen, hdrs);
    free(p);
    free(c);
    return r;
}

static void expect_reply(struct reply *r, long status, const char *needle)
{
    if (r->status != status || (needle && !strstr(r->body.p, needle)))
        fail_msg("got %ld \"%s\", want %ld with \"%s\"", r->status, r->body.p, status,
                 needle ? needle : "");
    reply_fini(r);
}

/* The capture of sample i, formatted "labels t bits". */
static void expect_sample(struct fx *f, size_t i, const char *labels, int64_t t_ms, uint64_t bits)
{
    assert_true(i < f->st->n);
    assert_string_equal(f->st->got[i].labels, labels);
    assert_int_equal(f->st->got[i].t_ms, t_ms);
    assert_int_equal(double_bits(f->st->got[i].v), bits);
}

/* A valid request: up{job="node"} 1 and a counter with a stale marker. */
static void wb_valid(struct wr_build *b)
{
    wb_init(b);
    size_t i = wb_series(b);
    wb_label(b, i, "__name__", "up");
    wb_label(b, i, "job", "node");
    wb_sample(b, i, 1700000000000, 1);
    i = wb_series(b);
    wb_label(b, i, "__name__", "reqs_total");
    wb_label(b, i, "code", "200");
    wb_sample(b, i, 1700000000000, 17);
    wb_sample(b, i, 1700000015000, 19.5);
    wb_sample(b, i, 1700000030000, 20);
    wb_sample(b, i, 1700000045000, bits_to_double(STALE_NAN_BITS));
}

/* ---- HTTP: tests -------------------------------------------------------- */

static void test_remote_write_http_204_captures_exactly(void **state)
{
    struct fx *f = *state;
    static struct wr_build b;
    wb_valid(&b);
    struct reply r = post_wr(f, &b, NULL);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body.len, 0);
    reply_fini(&r);
    assert_int_equal(f->st->n, 5);
    assert_int_equal(f->st->n_commits, 1);
    expect_sample(f, 0, "up{job=\"node\"}", 1700000000000, double_bits(1));
    expect_sample(f, 1, "reqs_total{code=\"200\"}", 1700000000000, double_bits(17));
    expect_sample(f, 3, "reqs_total{code=\"200\"}", 1700000030000, double_bits(20));
    expect_sample(f, 4, "reqs_total{code=\"200\"}", 1700000045000, STALE_NAN_BITS);
    assert_int_equal(f->st->n_bad_ref, 0);

    /* the contract's §5.1 bytes, as given */
    uint8_t body[64];
    size_t n = unhex("31c00a2f0a0e0a085f5f6e616d655f5f120275700a0b0a036a6f6212046e6f6465121009000"
                     "000000000f03f1080d095ffbc31", body);
    r = post(f->port, body, n, NULL);
    expect_reply(&r, 204, NULL);
    assert_int_equal(f->st->n, 6);
    expect_sample(f, 5, "up{job=\"node\"}", 1700000000000, double_bits(1));
}

static void test_remote_write_http_lenient_headers(void **state)
{
    struct fx *f = *state;
    static struct wr_build b;
    wb_valid(&b);
    /* no Content-Type, no Content-Encoding (still snappy), no version */
    static const char *const none[] = { "Content-Type:", "Content-Encoding:",
                                        "X-Prometheus-Remote-Write-Version:", NULL };
    struct reply r = post_wr(f, &b, none);
    expect_reply(&r, 204, NULL);
    static const char *const param[] = {
        "Content-Type: application/x-protobuf; proto=prometheus.WriteRequest", NULL };
    r = post_wr(f, &b, param);
    expect_reply(&r, 204, NULL);
    assert_int_equal(f->st->n, 10);
}

static void test_remote_write_http_garbage_is_400_and_writes_nothing(void **state)
{
    struct fx *f = *state;
    static struct wr_build b;
    wb_valid(&b);
    size_t len, clen;
    uint8_t *p = wb_pack(&b, &len);
    /* the first series is fine, the body then breaks: nothing may stay */
    uint8_t *q = malloc(len + 2);
    memcpy(q, p, len);
    q[len] = 0x0a;
    q[len + 1] = 0x7f;
    char *c = snappy_of(q, len + 2, &clen);
    struct reply r = post(f->port, c, clen, NULL);
    expect_reply(&r, 400, "undecodable WriteRequest: remote_write: byte");
    assert_int_equal(f->st->n, 0);
    assert_int_equal(f->st->n_rollbacks, 1);
    /* not snappy at all */
    r = post(f->port, p, len, NULL);
    expect_reply(&r, 400, "snappy");
    /* nor without the header (senders' default is snappy) */
    static const char *const noenc[] = { "Content-Encoding:", NULL };
    r = post(f->port, p, len, noenc);
    expect_reply(&r, 400, "snappy");
    assert_int_equal(f->st->n, 0);
    free(c);
    free(q);
    free(p);
}

static void test_remote_write_http_partial_write_commits_the_rest(void **state)
{
    struct fx *f = *state;
    f->st->reject_t[0] = 1700000015000;
    f->st->reject_t[1] = 1700000030000;
    f->st->n_reject = 2;
    static struct wr_build b;
    wb_valid(&b);
    struct reply r = post_wr(f, &b, NULL);
    expect_reply(&r, 400, "partial write: 2 of 5 samples rejected (3 written); first: out of "
                          "order sample: reqs_total{code=\"200\"} @ 1700000015000");
    assert_int_equal(f->st->n_commits, 1);
    assert_int_equal(f->st->n, 3);
    expect_sample(f, 0, "up{job=\"node\"}", 1700000000000, double_bits(1));
    expect_sample(f, 1, "reqs_total{code=\"200\"}", 1700000000000, double_bits(17));
    expect_sample(f, 2, "reqs_total{code=\"200\"}", 1700000045000, STALE_NAN_BITS);
}

static void test_remote_write_http_invalid_labels_400(void **state)
{
    struct fx *f = *state;
    static struct wr_build b;
    struct {
        const char *n1, *v1, *n2, *v2, *msg;
    } bad[] = {
        { "job", "node", "__name__", "up", "invalid labels: label \"__name__\" out of order" },
        { "__name__", "up", "__name__", "up", "duplicate label name" },
        { "__name__", "1up", "job", "x", "invalid metric name \"1up\"" },
        { "__name__", "up", "bad-name", "x", "invalid label name \"bad-name\"" },
        { "instance", "a", "job", "x", "missing metric name" },
        { "__name__", "up", "job", "", "empty value" }, /* proto3 sends no value field */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        wb_init(&b);
        size_t i = wb_series(&b);
        wb_label(&b, i, bad[k].n1, bad[k].v1);
        wb_label(&b, i, bad[k].n2, bad[k].v2);
        wb_sample(&b, i, 1000, 1);
        wb_sample(&b, i, 2000, 2);
        i = wb_series(&b);
        wb_label(&b, i, "__name__", "ok");
        wb_sample(&b, i, 1000 + (int64_t)k, 3);
        struct reply r = post_wr(f, &b, NULL);
        expect_reply(&r, 400, bad[k].msg);
        assert_int_equal(f->st->n, k + 1); /* the valid series is written */
        expect_sample(f, k, "ok", 1000 + (int64_t)k, double_bits(3));
    }
    /* a NUL inside a value would cut it short silently ("u\0p" -> "u"): refused */
    static const uint8_t req[] = { 0x0a, 0x1e,                                   /* TimeSeries */
                                   0x0a, 0x0f, 0x0a, 0x08, '_', '_', 'n', 'a', 'm', 'e', '_',
                                   '_', 0x12, 0x03, 'u', 0, 'p',                /* Label */
                                   0x12, 0x0b, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10,
                                   0x01 };                                       /* Sample */
    size_t clen;
    char *c = snappy_of(req, sizeof req, &clen);
    struct reply r = post(f->port, c, clen, NULL);
    free(c);
    expect_reply(&r, 400, "1 of 1 samples rejected (0 written); first: invalid labels: label 0 "
                          "contains a NUL byte");
    assert_int_equal(f->st->n, sizeof bad / sizeof bad[0]);
}

static void test_remote_write_http_413_above_limits(void **state)
{
    struct fx *f = *state;
    size_t n = FX_MAX_BODY + 100;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)rnd();
    struct reply r = post(f->port, big, n, NULL);
    expect_reply(&r, 413, "exceeds the limit");
    /* small on the wire, big once decoded: the decoded limit holds too */
    size_t raw_len = FX_MAX_DECODED + 1000, clen;
    char *raw = calloc(1, raw_len);
    char *c = snappy_of(raw, raw_len, &clen);
    assert_true(clen < FX_MAX_BODY);
    r = post(f->port, c, clen, NULL); /* core/http decodes: its limit is the route's */
    expect_reply(&r, 413, "exceeds the limit");
    static const char *const noenc[] = { "Content-Encoding:", NULL };
    r = post(f->port, c, clen, noenc); /* the handler decodes */
    expect_reply(&r, 413, "exceeds the limit of 262144 bytes");
    assert_int_equal(f->st->n, 0);
    free(c);
    free(raw);
    free(big);
}

static void test_remote_write_http_415_media_types(void **state)
{
    struct fx *f = *state;
    static struct wr_build b;
    wb_valid(&b);
    static const char *const text[] = { "Content-Type: text/plain", NULL };
    struct reply r = post_wr(f, &b, text);
    expect_reply(&r, 415, "unsupported Content-Type \"text/plain\"");
    static const char *const v2[] = {
        "Content-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request",
        "X-Prometheus-Remote-Write-Version: 2.0.0", NULL };
    r = post_wr(f, &b, v2);
    expect_reply(&r, 415, "proto=prometheus.WriteRequest");
    static const char *const v2ver[] = { "X-Prometheus-Remote-Write-Version: 2.0.0", NULL };
    r = post_wr(f, &b, v2ver);
    expect_reply(&r, 415, "remote_write version \"2.0.0\"");
    static const char *const br[] = { "Content-Encoding: br", NULL };
    r = post_wr(f, &b, br);
    expect_reply(&r, 415, "Content-Encoding");
    /* gzip that core/http can undo is still not remote_write */
    size_t len, glen;
    uint8_t *p = wb_pack(&b, &len);
    char *g = gzip_of(p, len, &glen);
    static const char *const gz[] = { "Content-Encoding: gzip", NULL };
    r = post(f->port, g, glen, gz);
    expect_reply(&r, 415, "unsupported Content-Encoding \"gzip\"");
    free(g);
    free(p);
    assert_int_equal(f->st->n, 0);
}

static void test_remote_write_http_store_failure_is_500(void **state)
{
    struct fx *f = *state;
    static struct wr_build b;
    wb_valid(&b);
    f->st->fail_t = 1700000015000;
    f->st->fail_t_set = true;
    struct reply r = post_wr(f, &b, NULL);
    expect_reply(&r, 500, "No space left on device");
    assert_int_equal(f->st->n_rollbacks, 1);
    f->st->fail_t_set = false;
    f->st->fail_commit = true;
    r = post_wr(f, &b, NULL);
    expect_reply(&r, 500, "store commit: fsync wal");
    f->st->fail_commit = false;
    f->st->begin_rc = SCRY_EIO;
    r = post_wr(f, &b, NULL);
    expect_reply(&r, 500, "store closed");
    assert_int_equal(f->st->n, 0);
}

static void test_remote_write_http_histograms_and_metadata(void **state)
{
    struct fx *f = *state;
    static struct wr_build b;
    wb_example(&b); /* its third series carries a native histogram */
    struct reply r = post_wr(f, &b, NULL);
    expect_reply(&r, 400, "1 of 6 samples rejected (5 written); first: native histograms are "
                          "not supported: lat");
    assert_int_equal(f->st->n, 5);
    /* metadata only: nothing to write, nothing wrong */
    wb_init(&b);
    prometheus__metric_metadata__init(&b.md[0]);
    b.md[0].metric_family_name = "up";
    b.mdp[0] = &b.md[0];
    b.wr.n_metadata = 1;
    r = post_wr(f, &b, NULL);
    expect_reply(&r, 204, NULL);
    /* an empty body is an empty request */
    r = post(f->port, "", 0, NULL);
    expect_reply(&r, 204, NULL);
    assert_int_equal(f->st->n, 5);
}

static void test_remote_write_http_self_metrics(void **state)
{
    struct fx *f = *state;
    static struct wr_build b;
    wb_valid(&b);
    f->st->reject_t[0] = 1700000000000;
    f->st->n_reject = 1;
    struct reply r = post_wr(f, &b, NULL); /* 2 rejected (both series at that t), 3 accepted */
    expect_reply(&r, 400, "2 of 5");
    f->st->n_reject = 0;
    r = post_wr(f, &b, NULL);
    expect_reply(&r, 204, NULL);
    static const char *const text[] = { "Content-Type: text/plain", NULL };
    r = post_wr(f, &b, text);
    expect_reply(&r, 415, NULL);
    struct scry_buf out = { 0 };
    scry_metrics_render(f->m, &out);
    const char *want[] = {
        "scry_remote_write_samples_total{result=\"accepted\"} 8\n",
        "scry_remote_write_samples_total{result=\"rejected\"} 2\n",
        "scry_remote_write_requests_total{code=\"204\"} 1\n",
        "scry_remote_write_requests_total{code=\"400\"} 1\n",
        "scry_remote_write_requests_total{code=\"415\"} 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out.p, want[i]))
            fail_msg("missing %s in:\n%s", want[i], out.p);
    scry_buf_fini(&out);
}

/* ---- real Prometheus requests ------------------------------------------- */

/* testdata/ beside this file; __FILE__ is relative to the build root, which
 * is where meson test runs us. SCRY_TESTDATA overrides. */
static void testdata_path(char *out, size_t cap, const char *name)
{
    const char *env = getenv("SCRY_TESTDATA");
    if (env) {
        snprintf(out, cap, "%s/%s", env, name);
        return;
    }
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__) : 1;
    snprintf(out, cap, "%.*s/testdata/%s", dir, slash ? __FILE__ : ".", name);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp && strncmp(path, "../", 3) == 0)
        fp = fopen(path + 3, "rb"); /* run from the source root */
    if (!fp)
        fail_msg("cannot open %s (set SCRY_TESTDATA to tests/unit/collector/testdata)", path);
    struct scry_buf b = { 0 };
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, fp)) > 0)
        scry_buf_put(&b, tmp, n);
    fclose(fp);
    *len = b.len;
    return b.p ? scry_buf_take(&b) : calloc(1, 1);
}

/* Four requests from Debian's prometheus 2.42 scraping itself
 * (testdata/capture_rw.py): two with samples, two with only metadata. */
static void test_remote_write_prometheus_capture(void **state)
{
    struct fx *f = *state;
    size_t total_samples = 0, total_metadata = 0;
    for (int k = 0; k < 4; k++) {
        char path[512], name[32];
        size_t clen, hlen;
        snprintf(name, sizeof name, "prom_rw_%d.bin", k);
        testdata_path(path, sizeof path, name);
        char *c = slurp(path, &clen);
        snprintf(name, sizeof name, "prom_rw_%d.hdr", k);
        testdata_path(path, sizeof path, name);
        char *hdr = slurp(path, &hlen);
        assert_non_null(strstr(hdr, "X-Prometheus-Remote-Write-Version: 0.1.0"));
        assert_non_null(strstr(hdr, "User-Agent: Prometheus/2.42.0"));

        /* decode: ours and protobuf-c agree */
        size_t len = 0;
        assert_int_equal(snappy_uncompressed_length(c, clen, &len), SNAPPY_OK);
        char *raw = malloc(len);
        assert_int_equal(snappy_uncompress(c, clen, raw, &len), SNAPPY_OK);
        struct col_rw_decoder d;
        col_rw_decoder_init(&d);
        struct scry_err err;
        assert_int_equal(col_rw_decode(&d, raw, len, NULL, NULL, &err), 0);
        Prometheus__WriteRequest *wr = prometheus__write_request__unpack(NULL, len, (uint8_t *)raw);
        assert_non_null(wr);
        assert_int_equal(d.n_series, wr->n_timeseries);
        assert_int_equal(d.n_metadata, wr->n_metadata);
        size_t pbc_samples = 0;
        for (size_t i = 0; i < wr->n_timeseries; i++)
            pbc_samples += wr->timeseries[i]->n_samples;
        assert_int_equal(d.n_samples, pbc_samples);
        total_samples += d.n_samples;
        total_metadata += d.n_metadata;

        /* and through the handler, with the recorded headers */
        const char *hv[8] = { 0 };
        size_t nh = 0;
        for (char *line = strtok(hdr, "\n"); line && nh < 7; line = strtok(NULL, "\n"))
            hv[nh++] = line;
        size_t before = f->st->n;
        struct reply r = post(f->port, c, clen, hv);
        expect_reply(&r, 204, NULL);
        assert_int_equal(f->st->n - before, d.n_samples);
        if (d.n_samples) {
            /* spot check: the first series' first sample, as protobuf-c read it */
            const Prometheus__TimeSeries *ts = wr->timeseries[0];
            assert_int_equal(f->st->got[before].t_ms, ts->samples[0]->timestamp);
            assert_int_equal(double_bits(f->st->got[before].v), double_bits(ts->samples[0]->value));
        }
        prometheus__write_request__free_unpacked(wr, NULL);
        col_rw_decoder_fini(&d);
        free(raw);
        free(hdr);
        free(c);
    }
    assert_int_equal(total_samples, 746);
    assert_int_equal(total_metadata, 317);
}

#define HTTP_TEST(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)
#define HTTP_TESTS                                                                             \
    HTTP_TEST(test_remote_write_http_204_captures_exactly),                                   \
        HTTP_TEST(test_remote_write_http_lenient_headers),                                   \
        HTTP_TEST(test_remote_write_http_garbage_is_400_and_writes_nothing),                  \
        HTTP_TEST(test_remote_write_http_partial_write_commits_the_rest),                    \
        HTTP_TEST(test_remote_write_http_invalid_labels_400),                                \
        HTTP_TEST(test_remote_write_http_413_above_limits),                                  \
        HTTP_TEST(test_remote_write_http_415_media_types),                                   \
        HTTP_TEST(test_remote_write_http_store_failure_is_500),                              \
        HTTP_TEST(test_remote_write_http_histograms_and_metadata),                           \
        HTTP_TEST(test_remote_write_http_self_metrics),                                      \
        HTTP_TEST(test_remote_write_prometheus_capture),

int main(void)
{
    const struct CMUnitTest tests[] = {
        HTTP_TESTS
    };
    curl_global_init(CURL_GLOBAL_ALL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
