/* Tests collector/remote_write.c: the zero-copy decoder, against protobuf-c
 * code generated from the same .proto. The HTTP handler's tests are in
 * test_remote_write_http.c. */
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
#include "rw_fixture.h"

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
    };
    curl_global_init(CURL_GLOBAL_ALL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
