/* Tests collector/remote_write.c (the zero-copy decoder, against protobuf-c
 * code generated from the same .proto) and collector/remote_write_http.c (a
 * real core/http server on 127.0.0.1:0, driven with libcurl, appending into
 * a capturing store), plus real requests recorded from Debian's Prometheus
 * 2.42 (testdata/, see capture_rw.py there). */
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

#define STALE_NAN_BITS 0x7ff0000000000002ull

static double bits_to_double(uint64_t b)
{
    double v;
    memcpy(&v, &b, 8);
    return v;
}

static uint64_t double_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2)
        sscanf(h, "%2hhx", &out[n++]);
    return n;
}

/* ---- a decoded copy, for comparisons ------------------------------------ */

struct got_series {
    char labels[1024]; /* name=value;... in wire order */
    size_t n_samples, n_exemplars, n_histograms;
    struct col_rw_sample samples[64];
};

struct got {
    size_t n;
    struct got_series s[64];
};

static void put_labels(char *out, size_t cap, const struct col_rw_label *l, size_t n)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%.*s=%.*s;", (int)l[i].name.len,
                                l[i].name.p, (int)l[i].value.len, l[i].value.p);
}

static int collect(void *ud, const struct col_rw_series *s, struct scry_err *err)
{
    struct got *g = ud;
    assert_true(g->n < 64);
    struct got_series *o = &g->s[g->n++];
    put_labels(o->labels, sizeof o->labels, s->labels, s->n_labels);
    assert_true(s->n_samples <= 64);
    o->n_samples = s->n_samples;
    memcpy(o->samples, s->samples, s->n_samples * sizeof *s->samples);
    o->n_exemplars = s->n_exemplars;
    o->n_histograms = s->n_histograms;
    return 0;
}

/* The same view built from protobuf-c's object tree. */
static void from_pbc(const Prometheus__WriteRequest *wr, struct got *g)
{
    memset(g, 0, sizeof *g);
    for (size_t i = 0; i < wr->n_timeseries && i < 64; i++) {
        const Prometheus__TimeSeries *ts = wr->timeseries[i];
        struct got_series *o = &g->s[g->n++];
        size_t len = 0;
        for (size_t k = 0; k < ts->n_labels; k++)
            len += (size_t)snprintf(o->labels + len, sizeof o->labels - len, "%s=%s;",
                                    ts->labels[k]->name, ts->labels[k]->value);
        o->n_samples = ts->n_samples;
        for (size_t k = 0; k < ts->n_samples && k < 64; k++)
            o->samples[k] = (struct col_rw_sample){ ts->samples[k]->value,
                                                    ts->samples[k]->timestamp };
    o->n_exemplars = ts->n_exemplars;
    o->n_histograms = ts->n_histograms;
    }
}

static void assert_got_equal(const struct got *a, const struct got *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->s[i].labels, b->s[i].labels);
        assert_int_equal(a->s[i].n_samples, b->s[i].n_samples);
        assert_int_equal(a->s[i].n_exemplars, b->s[i].n_exemplars);
        assert_int_equal(a->s[i].n_histograms, b->s[i].n_histograms);
        for (size_t k = 0; k < a->s[i].n_samples; k++) {
            /* bit patterns, so NaN payloads count */
            assert_int_equal(double_bits(a->s[i].samples[k].v), double_bits(b->s[i].samples[k].v));
            assert_int_equal(a->s[i].samples[k].t_ms, b->s[i].samples[k].t_ms);
        }
    }
}

/* ---- building requests with protobuf-c ---------------------------------- */

/* A WriteRequest with storage for up to 16 series × 16 labels/samples. */
struct wr_build {
    Prometheus__WriteRequest wr;
    Prometheus__TimeSeries ts[16], *tsp[16];
    Prometheus__Label l[16][16], *lp[16][16];
    Prometheus__Sample s[16][16], *sp[16][16];
    Prometheus__Exemplar ex[16], *exp[16];
    Prometheus__Histogram h[16], *hp[16];
    Prometheus__MetricMetadata md[4], *mdp[4];
    char str[16][16][2][24];
};

static void wb_init(struct wr_build *b)
{
    memset(b, 0, sizeof *b);
    prometheus__write_request__init(&b->wr);
    b->wr.timeseries = b->tsp;
    b->wr.metadata = b->mdp;
}

static size_t wb_series(struct wr_build *b)
{
    size_t i = b->wr.n_timeseries++;
    prometheus__time_series__init(&b->ts[i]);
    b->tsp[i] = &b->ts[i];
    b->ts[i].labels = b->lp[i];
    b->ts[i].samples = b->sp[i];
    return i;
}

static void wb_label(struct wr_build *b, size_t i, const char *name, const char *value)
{
    size_t k = b->ts[i].n_labels++;
    prometheus__label__init(&b->l[i][k]);
    snprintf(b->str[i][k][0], 24, "%s", name);
    snprintf(b->str[i][k][1], 24, "%s", value);
    b->l[i][k].name = b->str[i][k][0];
    b->l[i][k].value = b->str[i][k][1];
    b->lp[i][k] = &b->l[i][k];
}

static void wb_sample(struct wr_build *b, size_t i, int64_t t_ms, double v)
{
    size_t k = b->ts[i].n_samples++;
    prometheus__sample__init(&b->s[i][k]);
    b->s[i][k].timestamp = t_ms;
    b->s[i][k].value = v;
    b->sp[i][k] = &b->s[i][k];
}

/* Packs into a malloc'd buffer. */
static uint8_t *wb_pack(struct wr_build *b, size_t *len)
{
    *len = prometheus__write_request__get_packed_size(&b->wr);
    uint8_t *p = malloc(*len ? *len : 1);
    assert_int_equal(prometheus__write_request__pack(&b->wr, p), *len);
    return p;
}

/* The contract's §5.1 request plus a second series: a counter with a stale
 * marker, and a series with an exemplar and a histogram. */
static void wb_example(struct wr_build *b)
{
    wb_init(b);
    size_t i = wb_series(b);
    wb_label(b, i, "__name__", "up");
    wb_label(b, i, "job", "node");
    wb_sample(b, i, 1700000000000, 1);
    i = wb_series(b);
    wb_label(b, i, "__name__", "http_requests_total");
    wb_label(b, i, "code", "200");
    wb_label(b, i, "instance", "10.0.0.5:9100");
    wb_sample(b, i, 1700000000000, 17);
    wb_sample(b, i, 1700000015000, 19.5);
    wb_sample(b, i, 1700000030000, bits_to_double(STALE_NAN_BITS));
    wb_sample(b, i, -5, -2.5);
    i = wb_series(b);
    wb_label(b, i, "__name__", "lat");
    prometheus__exemplar__init(&b->ex[0]);
    b->ex[0].value = 3;
    b->exp[0] = &b->ex[0];
    b->ts[i].exemplars = b->exp;
    b->ts[i].n_exemplars = 1;
    prometheus__histogram__init(&b->h[0]);
    b->h[0].sum = 4;
    b->h[0].timestamp = 1700000000000;
    b->hp[0] = &b->h[0];
    b->ts[i].histograms = b->hp;
    b->ts[i].n_histograms = 1;
}

/* ---- decoder ------------------------------------------------------------ */

static void test_remote_write_decode_contract_vector(void **state)
{
    uint8_t body[64];
    size_t n = unhex("0a2f0a0e0a085f5f6e616d655f5f120275700a0b0a036a6f6212046e6f6465121009000000"
                     "000000f03f1080d095ffbc31", body);
    assert_int_equal(n, 49);
    struct col_rw_decoder d;
    col_rw_decoder_init(&d);
    struct got g = { 0 };
    struct scry_err err;
    assert_int_equal(col_rw_decode(&d, (const char *)body, n, collect, &g, &err), 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.s[0].labels, "__name__=up;job=node;");
    assert_int_equal(g.s[0].n_samples, 1);
    assert_true(g.s[0].samples[0].v == 1.0);
    assert_int_equal(g.s[0].samples[0].t_ms, 1700000000000);
    assert_int_equal(d.n_series, 1);
    assert_int_equal(d.n_samples, 1);
    col_rw_decoder_fini(&d);
}

static void test_remote_write_decode_round_trip_protobuf_c(void **state)
{
    static struct wr_build b;
    wb_example(&b);
    prometheus__metric_metadata__init(&b.md[0]);
    b.md[0].metric_family_name = "up";
    b.md[0].type = PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE;
    b.mdp[0] = &b.md[0];
    b.wr.n_metadata = 1;
    size_t len;
    uint8_t *p = wb_pack(&b, &len);

    struct col_rw_decoder d;
    col_rw_decoder_init(&d);
    static struct got g, want;
    memset(&g, 0, sizeof g);
    struct scry_err err;
    assert_int_equal(col_rw_decode(&d, (const char *)p, len, collect, &g, &err), 0);
    Prometheus__WriteRequest *wr = prometheus__write_request__unpack(NULL, len, p);
    assert_non_null(wr);
    from_pbc(wr, &want);
    assert_got_equal(&g, &want);
    /* and against what we put in, not only against protobuf-c */
    assert_int_equal(g.n, 3);
    assert_string_equal(g.s[1].labels, "__name__=http_requests_total;code=200;instance=10.0.0.5:9100;");
    assert_int_equal(double_bits(g.s[1].samples[2].v), STALE_NAN_BITS);
    assert_int_equal(g.s[1].samples[3].t_ms, -5);
    assert_true(g.s[1].samples[3].v == -2.5);
    assert_int_equal(g.s[2].n_exemplars, 1);
    assert_int_equal(g.s[2].n_histograms, 1);
    assert_int_equal(d.n_metadata, 1);
    assert_int_equal(d.n_samples, 5);
    prometheus__write_request__free_unpacked(wr, NULL);
    free(p);
    col_rw_decoder_fini(&d);
}

/* Every strict prefix of a valid body either decodes as fewer whole series
 * (cut between series) or fails with EPARSE at an offset inside the prefix. */
static void test_remote_write_decode_truncated_reports_offset(void **state)
{
    static struct wr_build b;
    wb_example(&b);
    size_t len;
    uint8_t *p = wb_pack(&b, &len);
    struct col_rw_decoder d;
    col_rw_decoder_init(&d);
    size_t n_fail = 0;
    for (size_t cut = 1; cut < len; cut++) {
        /* a copy of exactly cut bytes, so ASan sees any read past it */
        uint8_t *q = malloc(cut);
        memcpy(q, p, cut);
        struct scry_err err = { 0 };
        int rc = col_rw_decode(&d, (const char *)q, cut, NULL, NULL, &err);
        if (rc != 0) {
            assert_int_equal(rc, SCRY_EPARSE);
            assert_true(err.offset <= cut);
            assert_non_null(strstr(err.msg, "byte"));
            n_fail++;
        }
        free(q);
    }
    assert_true(n_fail >= len - 3); /* only the cuts between the 3 series decode */
    /* one exact case: the first TimeSeries says 47 bytes, 3 are there */
    struct scry_err err = { 0 };
    assert_int_equal(col_rw_decode(&d, (const char *)p, 5, NULL, NULL, &err), SCRY_EPARSE);
    assert_int_equal(err.offset, 1);
    assert_non_null(strstr(err.msg, "runs past the end"));
    free(p);
    col_rw_decoder_fini(&d);
}

static void expect_parse_error(const char *hex, size_t offset, const char *needle)
{
    uint8_t body[256];
    size_t n = unhex(hex, body);
    uint8_t *q = malloc(n ? n : 1);
    memcpy(q, body, n);
    struct col_rw_decoder d;
    col_rw_decoder_init(&d);
    struct scry_err err = { 0 };
    int calls = 0;
    assert_int_equal(col_rw_decode(&d, (const char *)q, n, NULL, &calls, &err), SCRY_EPARSE);
    if (err.offset != offset || !strstr(err.msg, needle))
        fail_msg("%s: got offset %zu \"%s\", want %zu \"%s\"", hex, err.offset, err.msg, offset,
                 needle);
    col_rw_decoder_fini(&d);
    free(q);
}

static void test_remote_write_decode_garbage_errors(void **state)
{
    expect_parse_error("23", 1, "field 4: unsupported wire type 3"); /* start group */
    expect_parse_error("00", 0, "invalid field number 0");
    expect_parse_error("20ffffffffffffffffff02", 1, "overflows 64 bits");
    expect_parse_error("2080", 1, "truncated varint");
    expect_parse_error("0801", 0, "WriteRequest field 1: wire type 0, want 2");
    expect_parse_error("0a020801", 2, "TimeSeries field 1: wire type 0, want 2");
    expect_parse_error("0a04120208", 1, "runs past the end"); /* length says 4, 3 left */
    expect_parse_error("0a0412020801", 4, "Sample field 1: wire type 0, want 1");
    expect_parse_error("0a0412020900", 5, "truncated double");
    expect_parse_error("0a0412021100", 4, "Sample field 2: wire type 1, want 0");
    expect_parse_error("0a040a020801", 4, "Label field 1: wire type 0, want 2");
    expect_parse_error("0a030a010a", 5, "truncated varint");
    expect_parse_error("25000000", 1, "truncated 4-byte value");
    expect_parse_error("21000000000000", 1, "truncated 8-byte value");
    expect_parse_error("1a05", 1, "runs past the end");
    /* the framed snappy format is not protobuf either */
    expect_parse_error("ff060000734e61507059", 2, "unsupported wire type 7");
}

/* Unknown fields at every level, of every wire type, are skipped; scalar
 * fields that repeat keep the last value. */
static void test_remote_write_decode_skips_unknown_fields(void **state)
{
    /* WriteRequest: field 2 varint (Cortex's source), field 99 LEN, field 7 I32, then
     *  TimeSeries { field 9 I64, Label{1:"a",3:varint,2:"b"}, Sample{5:I32, 1:0.5,
     *  2:7, 2:8}, field 5 LEN }, then field 3 metadata. */
    const char *hex = "1001"
                      "9a0602abcd"
                      "3d01020304"
                      "0a29"
                      "49" "0102030405060708"
                      "0a08" "0a0161" "1805" "120162"
                      "1212" "2d00000000" "09000000000000e03f" "1007" "1008"
                      "2a00"
                      "1a00";
    uint8_t body[128];
    size_t n = unhex(hex, body);
    struct col_rw_decoder d;
    col_rw_decoder_init(&d);
    static struct got g;
    memset(&g, 0, sizeof g);
    struct scry_err err;
    if (col_rw_decode(&d, (const char *)body, n, collect, &g, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.s[0].labels, "a=b;");
    assert_int_equal(g.s[0].n_samples, 1);
    assert_true(g.s[0].samples[0].v == 0.5);
    assert_int_equal(g.s[0].samples[0].t_ms, 8);
    assert_int_equal(d.n_metadata, 1);
    /* protobuf-c agrees */
    Prometheus__WriteRequest *wr = prometheus__write_request__unpack(NULL, n, body);
    assert_non_null(wr);
    static struct got want;
    from_pbc(wr, &want);
    assert_got_equal(&g, &want);
    prometheus__write_request__free_unpacked(wr, NULL);
    col_rw_decoder_fini(&d);
}

static int stop_at_second(void *ud, const struct col_rw_series *s, struct scry_err *err)
{
    int *calls = ud;
    if (++*calls == 2)
        return scry_err_set(err, SCRY_EIO, "disk on fire");
    return 0;
}

static void test_remote_write_decode_callback_error_stops(void **state)
{
    static struct wr_build b;
    wb_example(&b);
    size_t len;
    uint8_t *p = wb_pack(&b, &len);
    struct col_rw_decoder d;
    col_rw_decoder_init(&d);
    int calls = 0;
    struct scry_err err;
    assert_int_equal(col_rw_decode(&d, (const char *)p, len, stop_at_second, &calls, &err),
                     SCRY_EIO);
    assert_int_equal(calls, 2);
    assert_string_equal(err.msg, "disk on fire");
    assert_int_equal(col_rw_decode(&d, NULL, 0, NULL, NULL, &err), 0); /* empty request */
    assert_int_equal(col_rw_decode(NULL, (const char *)p, len, NULL, NULL, &err), SCRY_EINVAL);
    free(p);
    col_rw_decoder_fini(&d);
}

/* ---- differential: ours vs protobuf-c on random messages ----------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void random_request(struct wr_build *b)
{
    wb_init(b);
    size_t ns = rnd() % 8;
    for (size_t i = 0; i < ns; i++) {
        wb_series(b);
        size_t nl = rnd() % 6, nsm = rnd() % 12;
        for (size_t k = 0; k < nl; k++) {
            char name[24], value[24];
            /* sometimes empty strings: proto3 then omits the field */
            snprintf(name, sizeof name, "%.*s", (int)(rnd() % 10), "l_abcdefghij");
            snprintf(value, sizeof value, "v%llx", (unsigned long long)(rnd() % 100000));
            if (rnd() % 8 == 0)
                value[0] = 0;
            wb_label(b, i, name, value);
        }
        for (size_t k = 0; k < nsm; k++) {
            uint64_t r = rnd();
            double v = r % 4 == 0   ? bits_to_double(rnd())  /* any bits, NaNs included */
                       : r % 4 == 1 ? 0.0                   /* omitted on the wire */
                                    : (double)(int64_t)rnd() / 1e6;
            int64_t t = rnd() % 5 == 0 ? 0 : rnd() % 3 == 0 ? -(int64_t)(rnd() >> 1) : (int64_t)(rnd() >> (rnd() % 64));
            wb_sample(b, i, t, v);
        }
        if (rnd() % 4 == 0) {
            prometheus__exemplar__init(&b->ex[i]);
            b->ex[i].timestamp = (int64_t)rnd();
            b->exp[i] = &b->ex[i];
            b->ts[i].exemplars = &b->exp[i];
            b->ts[i].n_exemplars = 1;
        }
        if (rnd() % 6 == 0) {
            prometheus__histogram__init(&b->h[i]);
            b->h[i].schema = (int32_t)(rnd() % 9) - 4;
            b->hp[i] = &b->h[i];
            b->ts[i].histograms = &b->hp[i];
            b->ts[i].n_histograms = 1;
        }
    }
    if (rnd() % 3 == 0) {
        prometheus__metric_metadata__init(&b->md[0]);
        b->md[0].help = "help";
        b->mdp[0] = &b->md[0];
        b->wr.n_metadata = 1;
    }
}

/* Valid messages: identical results. Mutated ones (a bit flipped, cut
 * short, bytes appended): never a crash or an out-of-bounds read; when both
 * decoders accept, identical results; we never accept what protobuf-c
 * refuses, and refuse what it accepts only where it is laxer than Go. */
static void test_remote_write_decode_differential_random(void **state)
{
    static struct wr_build b;
    static struct got g, want;
    struct col_rw_decoder d;
    col_rw_decoder_init(&d);
    size_t both_ok = 0, both_fail = 0, only_ours = 0, only_pbc = 0;
    for (int iter = 0; iter < 3000; iter++) {
        random_request(&b);
        size_t len;
        uint8_t *p = wb_pack(&b, &len);
        for (int m = 0; m < 4; m++) {
            size_t n = len;
            uint8_t *q = malloc(len + 8);
            memcpy(q, p, len);
            if (m == 1 && len)
                q[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
            if (m == 2 && len)
                n = rnd() % len;
            if (m == 3) {
                for (int k = 0; k < 8; k++)
                    q[len + k] = (uint8_t)rnd();
                n = len + 1 + rnd() % 8;
            }
            memset(&g, 0, sizeof g);
            struct scry_err err;
            int rc = col_rw_decode(&d, (const char *)q, n, collect, &g, &err);
            Prometheus__WriteRequest *wr = prometheus__write_request__unpack(NULL, n, q);
            if (m == 0) {
                if (rc != 0)
                    fail_msg("valid message %d rejected: %s", iter, err.msg);
                assert_non_null(wr);
            }
            if (rc == 0 && wr) {
                from_pbc(wr, &want);
                assert_got_equal(&g, &want);
                both_ok++;
            } else if (rc != 0 && !wr) {
                assert_int_equal(rc, SCRY_EPARSE);
                assert_true(err.offset <= n);
                both_fail++;
            } else if (rc == 0) {
                only_ours++;
                fail_msg("iteration %d mode %d: accepted what protobuf-c refuses", iter, m);
            } else {
                /* protobuf-c ignores varint bits past 64 and takes field
                 * numbers past 2^29-1; Go (the reference) refuses both, so do we. */
                if (!strstr(err.msg, "overflows 64 bits") && !strstr(err.msg, "invalid field number"))
                    fail_msg("iteration %d mode %d: refused what protobuf-c takes: %s", iter, m,
                             err.msg);
                only_pbc++;
            }
            if (wr)
                prometheus__write_request__free_unpacked(wr, NULL);
            free(q);
        }
        free(p);
    }
    print_message("differential: both ok %zu, both fail %zu, only ours ok %zu, only protobuf-c ok %zu\n",
                  both_ok, both_fail, only_ours, only_pbc);
    assert_true(both_ok >= 3000);
    assert_true(both_fail > 500);
    assert_int_equal(only_ours, 0);
    assert_true(only_pbc < (both_ok + both_fail) / 100); /* rare corner cases */
    col_rw_decoder_fini(&d);
}

/* ---- HTTP: a capturing store -------------------------------------------- */

struct cap_sample {
    char labels[256];
    int64_t t_ms;
    uint64_t v_bits;
};

#define CAP_MAX 4096

/* A test-only store: records committed samples; rejects chosen timestamps
 * with SCRY_EINVAL (as the tsdb does for out-of-order samples), fails one
 * timestamp with SCRY_EIO, or fails begin/commit, when told to. */
struct cap_store {
    struct scry_appendable base;
    pthread_mutex_t mu;
    struct cap_sample got[CAP_MAX];
    size_t n;
    int64_t reject_t[8];
    size_t n_reject;
    int64_t fail_t;
    bool fail_t_set, fail_commit, fail_begin;
    int n_commits, n_rollbacks, n_bad_ref;
};

struct cap_app {
    struct scry_appender base;
    struct cap_store *st;
    struct cap_sample pend[CAP_MAX];
    size_t n;
};

static int cap_append(struct scry_appender *app, uint64_t *ref, const struct scry_labels *ls,
                      int64_t t_ms, double v, struct scry_err *err)
{
    struct cap_app *a = (struct cap_app *)app;
    struct cap_store *st = a->st;
    /* the handler promises valid, sorted label sets with a metric name */
    if (scry_labels_validate(ls, NULL) != 0 || !scry_labels_get(ls, "__name__"))
        return scry_err_set(err, SCRY_EIO, "handler passed an invalid label set");
    uint64_t h = scry_labels_hash(ls) | 1;
    if (*ref != 0 && *ref != h)
        st->n_bad_ref++; /* a ref reused for another series */
    *ref = h;
    for (size_t i = 0; i < st->n_reject; i++)
        if (st->reject_t[i] == t_ms)
            return scry_err_set(err, SCRY_EINVAL, "out of order sample");
    if (st->fail_t_set && st->fail_t == t_ms)
        return scry_err_set(err, SCRY_EIO, "write wal: No space left on device");
    if (a->n == CAP_MAX)
        return scry_err_set(err, SCRY_ELIMIT, "test store full");
    struct cap_sample *c = &a->pend[a->n++];
    struct scry_buf b = { 0 };
    scry_labels_format(ls, &b);
    snprintf(c->labels, sizeof c->labels, "%s", b.p);
    scry_buf_fini(&b);
    c->t_ms = t_ms;
    c->v_bits = double_bits(v);
    return 0;
}

static int cap_commit(struct scry_appender *app, struct scry_err *err)
{
    struct cap_app *a = (struct cap_app *)app;
    struct cap_store *st = a->st;
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    if (st->fail_commit) {
        rc = scry_err_set(err, SCRY_EIO, "fsync wal: Input/output error");
    } else {
        for (size_t i = 0; i < a->n && st->n < CAP_MAX; i++)
            st->got[st->n++] = a->pend[i];
        st->n_commits++;
    }
    pthread_mutex_unlock(&st->mu);
    free(a);
    return rc;
}

static void cap_rollback(struct scry_appender *app)
{
    struct cap_app *a = (struct cap_app *)app;
    pthread_mutex_lock(&a->st->mu);
    a->st->n_rollbacks++;
    pthread_mutex_unlock(&a->st->mu);
    free(a);
}

static const struct scry_appender_ops cap_ops = {
    .append_sample = cap_append,
    .commit = cap_commit,
    .rollback = cap_rollback,
};

static int cap_begin(struct scry_appendable *store, const char *tenant,
                     struct scry_appender **out, struct scry_err *err)
{
    struct cap_store *st = (struct cap_store *)store;
    if (tenant)
        return scry_err_set(err, SCRY_EINVAL, "no tenants here");
    if (st->fail_begin)
        return scry_err_set(err, SCRY_EIO, "store closed");
    struct cap_app *a = calloc(1, sizeof *a);
    a->base.ops = &cap_ops;
    a->st = st;
    *out = &a->base;
    return 0;
}

/* ---- HTTP: fixture and client ------------------------------------------- */

struct fx {
    struct cap_store *st;
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
    f->st = calloc(1, sizeof *f->st);
    f->st->base.begin = cap_begin;
    pthread_mutex_init(&f->st->mu, NULL);
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
    pthread_mutex_destroy(&f->st->mu);
    free(f->st);
    free(f);
    return 0;
}

struct reply {
    long status;
    struct scry_buf body;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    scry_buf_put(ud, p, sz * n);
    return sz * n;
}

/* Default headers are a 1.0 sender's; hdrs (NULL-terminated) are added
 * after them, and "Name:" with no value removes one, as curl does. */
static struct reply post(int port, const void *body, size_t len, const char *const *hdrs)
{
    struct reply r = { 0 };
    scry_buf_puts(&r.body, "");
    CURL *c = curl_easy_init();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/write", port);
    struct curl_slist *h = NULL;
    static const char *const defaults[] = { "Content-Type: application/x-protobuf",
                                            "Content-Encoding: snappy",
                                            "X-Prometheus-Remote-Write-Version: 0.1.0",
                                            "User-Agent: Prometheus/2.42.0", "Expect:" };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        bool overridden = false;
        size_t klen = strchr(defaults[i], ':') - defaults[i];
        for (size_t k = 0; hdrs && hdrs[k]; k++)
            overridden |= strncasecmp(hdrs[k], defaults[i], klen + 1) == 0;
        if (!overridden)
            h = curl_slist_append(h, defaults[i]);
    }
    for (size_t k = 0; hdrs && hdrs[k]; k++)
        h = curl_slist_append(h, hdrs[k]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("curl: %s", curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
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
    scry_buf_fini(&r->body);
}

/* The capture of sample i, formatted "labels t bits". */
static void expect_sample(struct fx *f, size_t i, const char *labels, int64_t t_ms, uint64_t bits)
{
    assert_true(i < f->st->n);
    assert_string_equal(f->st->got[i].labels, labels);
    assert_int_equal(f->st->got[i].t_ms, t_ms);
    assert_int_equal(f->st->got[i].v_bits, bits);
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
    scry_buf_fini(&r.body);
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

static char *gzip_of(const void *p, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len) + 32;
    char *out = malloc(cap);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)len;
    z.next_out = (unsigned char *)out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
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
    f->st->fail_begin = true;
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
            assert_int_equal(f->st->got[before].v_bits, double_bits(ts->samples[0]->value));
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
        cmocka_unit_test(test_remote_write_decode_contract_vector),
        cmocka_unit_test(test_remote_write_decode_round_trip_protobuf_c),
        cmocka_unit_test(test_remote_write_decode_truncated_reports_offset),
        cmocka_unit_test(test_remote_write_decode_garbage_errors),
        cmocka_unit_test(test_remote_write_decode_skips_unknown_fields),
        cmocka_unit_test(test_remote_write_decode_callback_error_stops),
        cmocka_unit_test(test_remote_write_decode_differential_random),
        HTTP_TESTS
    };
    curl_global_init(CURL_GLOBAL_ALL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
