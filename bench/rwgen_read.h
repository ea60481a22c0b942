/* rwgen_read.h — reads a data set written by `rwgen gen`
 * (shared/bench/peers/rwgen.c: a 112-byte header, then records of
 * snappy-compressed remote_write WriteRequests) into series with their
 * samples, plus the clocks and label decoding those programs share.
 * Header-only, shared by the bench/ programs (chunkbench, blockbench,
 * flushbench, querybench). */
#ifndef SCRY_BENCH_RWGEN_READ_H
#define SCRY_BENCH_RWGEN_READ_H

#include <snappy-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/labels.h"
#include "core/mem.h"

struct series {
    uint64_t hash;
    char *labels; /* encoded label bytes, the identity */
    size_t labels_len;
    uint32_t n, cap;
    int64_t *t;
    double *v;
};

struct dataset {
    struct series *s;
    size_t n_series, cap;
    uint32_t *table; /* open addressing: series index + 1 */
    size_t table_cap;
    uint64_t n_samples;
};

static _Noreturn void die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(2);
}

static uint64_t fnv(const uint8_t *p, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}
/* ---- protobuf wire format: just what WriteRequest needs ------------------ */

struct pb {
    const uint8_t *p, *end;
};

static uint64_t pb_varint(struct pb *b)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end)
            die("protobuf: truncated varint");
        uint8_t c = *b->p++;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (c < 0x80)
            return x;
    }
    die("protobuf: varint too long");
}

/* Reads a field key; returns false at the end. */
static bool pb_key(struct pb *b, uint32_t *field, uint32_t *wt)
{
    if (b->p >= b->end)
        return false;
    uint64_t k = pb_varint(b);
    *field = (uint32_t)(k >> 3);
    *wt = (uint32_t)(k & 7);
    return true;
}

static struct pb pb_sub(struct pb *b)
{
    uint64_t len = pb_varint(b);
    if (len > (uint64_t)(b->end - b->p))
        die("protobuf: truncated field");
    struct pb s = {b->p, b->p + len};
    b->p += len;
    return s;
}

static void pb_skip(struct pb *b, uint32_t wt)
{
    switch (wt) {
    case 0: pb_varint(b); break;
    case 1: if (b->end - b->p < 8) die("protobuf: short fixed64"); b->p += 8; break;
    case 2: pb_sub(b); break;
    case 5: if (b->end - b->p < 4) die("protobuf: short fixed32"); b->p += 4; break;
    default: die("protobuf: bad wire type");
    }
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* user+sys of the whole process (every thread), seconds */
static inline double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A store's clock that stays at the data's end, so retention never drops it. */
static inline int64_t fixed_clock(void *ud) { return *(const int64_t *)ud; }

static inline int cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct scry_label *)a)->name, ((const struct scry_label *)b)->name);
}

/* Decodes a series' protobuf Label fields (field 1 of the encoded labels)
 * into at most cap pairs sorted by name; the strings are on the heap. */
static inline size_t parse_labels(const struct series *s, struct scry_label *out, size_t cap)
{
    struct pb p = {(const uint8_t *)s->labels, (const uint8_t *)s->labels + s->labels_len};
    size_t n = 0;
    uint32_t field, wt;
    while (pb_key(&p, &field, &wt)) {
        if (field != 1 || wt != 2) {
            pb_skip(&p, wt);
            continue;
        }
        struct pb l = pb_sub(&p);
        char *name = NULL, *value = NULL;
        uint32_t f, w;
        while (pb_key(&l, &f, &w)) {
            struct pb x = pb_sub(&l);
            char *z = scry_strndup((const char *)x.p, (size_t)(x.end - x.p));
            if (f == 1)
                name = z;
            else
                value = z;
        }
        if (n == cap)
            die("too many labels");
        out[n++] = (struct scry_label){name, value};
    }
    qsort(out, n, sizeof *out, cmp_label);
    return n;
}

static struct series *series_get(struct dataset *d, const uint8_t *lab, size_t len)
{
    if (d->n_series * 2 >= d->table_cap) {
        size_t cap = d->table_cap ? d->table_cap * 2 : 1 << 16;
        uint32_t *t = scry_calloc(cap, sizeof *t);
        for (size_t i = 0; i < d->n_series; i++) {
            size_t j = d->s[i].hash & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = (uint32_t)i + 1;
        }
        free(d->table);
        d->table = t;
        d->table_cap = cap;
    }
    uint64_t h = fnv(lab, len);
    size_t j = h & (d->table_cap - 1);
    while (d->table[j]) {
        struct series *s = &d->s[d->table[j] - 1];
        if (s->hash == h && s->labels_len == len && memcmp(s->labels, lab, len) == 0)
            return s;
        j = (j + 1) & (d->table_cap - 1);
    }
    if (d->n_series == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1024;
        d->s = scry_realloc(d->s, d->cap * sizeof *d->s);
    }
    struct series *s = &d->s[d->n_series];
    memset(s, 0, sizeof *s);
    s->hash = h;
    s->labels = scry_malloc(len);
    memcpy(s->labels, lab, len);
    s->labels_len = len;
    d->table[j] = (uint32_t)++d->n_series;
    return s;
}

static void add_sample(struct dataset *d, struct series *s, int64_t t, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->t = scry_realloc(s->t, s->cap * sizeof *s->t);
        s->v = scry_realloc(s->v, s->cap * sizeof *s->v);
    }
    s->t[s->n] = t;
    s->v[s->n++] = v;
    d->n_samples++;
}

static void parse_timeseries(struct dataset *d, struct pb ts)
{
    /* Labels come first in rwgen and in Prometheus; the label block is the
     * concatenation of the encoded Label fields. */
    const uint8_t *lab0 = NULL, *lab1 = NULL;
    struct series *s = NULL;
    uint32_t f, wt;
    const uint8_t *start = ts.p;
    while (pb_key(&ts, &f, &wt)) {
        if (f == 1 && wt == 2) {
            pb_sub(&ts);
            if (!lab0)
                lab0 = start;
            lab1 = ts.p;
        } else if (f == 2 && wt == 2) {
            if (!s) {
                if (!lab0)
                    die("series without labels");
                s = series_get(d, lab0, (size_t)(lab1 - lab0));
            }
            struct pb smp = pb_sub(&ts);
            double v = 0;
            int64_t t = 0;
            while (pb_key(&smp, &f, &wt)) {
                if (f == 1 && wt == 1) {
                    uint64_t u = 0;
                    for (int i = 0; i < 8; i++)
                        u |= (uint64_t)smp.p[i] << (8 * i);
                    memcpy(&v, &u, 8);
                    smp.p += 8;
                } else if (f == 2 && wt == 0) {
                    t = (int64_t)pb_varint(&smp);
                } else {
                    pb_skip(&smp, wt);
                }
            }
            add_sample(d, s, t, v);
        } else {
            pb_skip(&ts, wt);
        }
        start = ts.p;
    }
}

static void load(struct dataset *d, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open input");
    uint8_t hdr[112];
    if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr || memcmp(hdr, "RWBENCH1", 8) != 0)
        die("not an rwgen file");
    uint32_t rh[6];
    char *comp = NULL, *raw = NULL;
    size_t comp_cap = 0, raw_cap = 0;
    while (fread(rh, sizeof rh, 1, f) == 1) {
        if (rh[4] > comp_cap)
            comp = scry_realloc(comp, comp_cap = rh[4]);
        if (fread(comp, 1, rh[4], f) != rh[4])
            die("truncated record");
        size_t ul;
        if (snappy_uncompressed_length(comp, rh[4], &ul) != SNAPPY_OK)
            die("bad snappy");
        if (ul > raw_cap)
            raw = scry_realloc(raw, raw_cap = ul);
        if (snappy_uncompress(comp, rh[4], raw, &ul) != SNAPPY_OK)
            die("bad snappy");
        struct pb req = {(const uint8_t *)raw, (const uint8_t *)raw + ul};
        uint32_t fld, wt;
        while (pb_key(&req, &fld, &wt)) {
            if (fld == 1 && wt == 2)
                parse_timeseries(d, pb_sub(&req));
            else
                pb_skip(&req, wt);
        }
    }
    free(comp);
    free(raw);
    fclose(f);
}

#endif
