/* rw_fixture.h — remote_write requests built with protobuf-c, shared by
 * test_remote_write.c (the decoder) and test_remote_write_http.c (the
 * handler). */
#ifndef SCRY_TEST_RW_FIXTURE_H
#define SCRY_TEST_RW_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/proto/remote.pb-c.h"
/* wb_pack asserts: include <cmocka.h> before this header. */

#define STALE_NAN_BITS 0x7ff0000000000002ull

static inline double bits_to_double(uint64_t b)
{
    double v;
    memcpy(&v, &b, 8);
    return v;
}

static inline uint64_t double_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

static inline size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2)
        sscanf(h, "%2hhx", &out[n++]);
    return n;
}

/* A fixed-seed splitmix64, so runs repeat. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static inline uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
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

static inline void wb_init(struct wr_build *b)
{
    memset(b, 0, sizeof *b);
    prometheus__write_request__init(&b->wr);
    b->wr.timeseries = b->tsp;
    b->wr.metadata = b->mdp;
}

static inline size_t wb_series(struct wr_build *b)
{
    size_t i = b->wr.n_timeseries++;
    prometheus__time_series__init(&b->ts[i]);
    b->tsp[i] = &b->ts[i];
    b->ts[i].labels = b->lp[i];
    b->ts[i].samples = b->sp[i];
    return i;
}

static inline void wb_label(struct wr_build *b, size_t i, const char *name, const char *value)
{
    size_t k = b->ts[i].n_labels++;
    prometheus__label__init(&b->l[i][k]);
    snprintf(b->str[i][k][0], 24, "%s", name);
    snprintf(b->str[i][k][1], 24, "%s", value);
    b->l[i][k].name = b->str[i][k][0];
    b->l[i][k].value = b->str[i][k][1];
    b->lp[i][k] = &b->l[i][k];
}

static inline void wb_sample(struct wr_build *b, size_t i, int64_t t_ms, double v)
{
    size_t k = b->ts[i].n_samples++;
    prometheus__sample__init(&b->s[i][k]);
    b->s[i][k].timestamp = t_ms;
    b->s[i][k].value = v;
    b->sp[i][k] = &b->s[i][k];
}

/* Packs into a malloc'd buffer. */
static inline uint8_t *wb_pack(struct wr_build *b, size_t *len)
{
    *len = prometheus__write_request__get_packed_size(&b->wr);
    uint8_t *p = malloc(*len ? *len : 1);
    assert_int_equal(prometheus__write_request__pack(&b->wr, p), *len);
    return p;
}

/* The contract's §5.1 request plus a second series: a counter with a stale
 * marker, and a series with an exemplar and a histogram. */
static inline void wb_example(struct wr_build *b)
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

#endif
