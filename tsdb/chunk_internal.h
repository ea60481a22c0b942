/* chunk_internal.h — shared by the chunk_*.c files only: the on-disk
 * constants of tsdb/FORMAT.md "Chunks", varints, the bit writer and reader,
 * and the integer-sequence coder that timestamps and decimal values share. */
#ifndef SCRY_TSDB_CHUNK_INTERNAL_H
#define SCRY_TSDB_CHUNK_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tsdb/chunk.h"

/* ---- format constants (FORMAT.md "Chunks") ------------------------------ */

#define TSDB__KIND_SHIFT 5           /* kind byte: bits 7-5 sample kind */
#define TSDB__KIND_RESERVED 0x18u    /* bits 4-3: must be 0 */
#define TSDB__VENC_MASK 0x07u        /* bits 2-0: value encoding */
#define TSDB__DEC_KMAX 15            /* largest decimal exponent k */
#define TSDB__CONST_RAW 0xffu        /* compact double tag: 8 raw bytes follow */

/* iseq mode byte: bits 1-0 order, 3-2 buckets-1, 4 FOR, 5 gcd, 6 flat (one
 * bucket of width 0, no width byte), 7 zero. */
#define TSDB__ISEQ_ORDER_MASK 0x03u
#define TSDB__ISEQ_NB_SHIFT 2
#define TSDB__ISEQ_FOR 0x10u
#define TSDB__ISEQ_GCD 0x20u
#define TSDB__ISEQ_FLAT 0x40u
#define TSDB__ISEQ_RESERVED 0x80u

/* DEC parameter byte: bits 3-0 k, bit 4 escapes follow, 7-5 zero. */
#define TSDB__DEC_K_MASK 0x0fu
#define TSDB__DEC_ESC 0x10u
#define TSDB__DEC_RESERVED 0xe0u

_Static_assert(TSDB_VENC_N_ <= (int)TSDB__VENC_MASK + 1, "venc fits in 3 bits");
_Static_assert(TSDB_CHUNK_FLOAT_HISTOGRAM < 8, "kind fits in 3 bits");
_Static_assert(TSDB__DEC_KMAX < 16, "k fits in a nibble");
_Static_assert(TSDB_CHUNK_APPEND_CAP <= TSDB_CHUNK_MAX_SAMPLES, "appender fits a chunk");
_Static_assert(sizeof(double) == sizeof(uint64_t), "doubles are 64-bit");

/* 10^0..10^15, all exact in a double. */
extern const double tsdb__pow10[TSDB__DEC_KMAX + 1];

/* ---- small helpers ------------------------------------------------------ */

static inline uint64_t tsdb__dbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static inline double tsdb__bitsd(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline uint64_t tsdb__zz(int64_t x)
{
    return ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
}

static inline int64_t tsdb__unzz(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static inline unsigned tsdb__bitlen(uint64_t u)
{
    return u ? 64u - (unsigned)__builtin_clzll(u) : 0u;
}

static inline uint64_t tsdb__mask(unsigned nbits)
{
    assert(nbits <= 64);
    return nbits >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << nbits) - 1);
}

static inline size_t tsdb__uvarint_len(uint64_t v)
{
    return (tsdb__bitlen(v) + 6) / 7 + (v == 0);
}

/* Writes v as a LEB128 varint at p (room for 10 bytes); returns bytes written. */
static inline size_t tsdb__put_uvarint(uint8_t *p, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    return i;
}

/* Reads a varint from *p (not past end); advances *p. -1 when truncated or
 * longer than 64 bits. */
static inline int tsdb__get_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    unsigned shift = 0;
    for (const uint8_t *q = *p; q < end; q++) {
        uint8_t b = *q;
        if (shift == 63 && b > 1)
            return -1;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *p = q + 1;
            *v = x;
            return 0;
        }
        shift += 7;
        if (shift > 63)
            return -1;
    }
    return -1;
}

/* ---- bit writer (MSB first) -------------------------------------------- */

struct tsdb__bw {
    uint8_t *p;
    size_t len, cap;
    uint64_t acc; /* nacc (< 8) pending bits in the low bits */
    unsigned nacc;
};

static inline void tsdb__bw_put(struct tsdb__bw *w, uint64_t v, unsigned nbits)
{
    assert(nbits <= 64 && w->nacc < 8);
    if (nbits > 32) {
        tsdb__bw_put(w, v >> 32, nbits - 32);
        nbits = 32;
    }
    w->acc = (w->acc << nbits) | (v & tsdb__mask(nbits));
    w->nacc += nbits;
    while (w->nacc >= 8) {
        w->nacc -= 8;
        assert(w->len < w->cap);
        w->p[w->len++] = (uint8_t)(w->acc >> w->nacc);
    }
    w->acc &= tsdb__mask(w->nacc);
}

/* Pads the last byte with zero bits. */
static inline void tsdb__bw_flush(struct tsdb__bw *w)
{
    if (w->nacc) {
        assert(w->len < w->cap);
        w->p[w->len++] = (uint8_t)(w->acc << (8 - w->nacc));
        w->nacc = 0;
        w->acc = 0;
    }
}

static inline void tsdb__bw_bytes(struct tsdb__bw *w, const void *p, size_t len)
{
    assert(w->nacc == 0 && w->len + len <= w->cap);
    memcpy(w->p + w->len, p, len);
    w->len += len;
}

static inline void tsdb__bw_uvarint(struct tsdb__bw *w, uint64_t v)
{
    assert(w->nacc == 0 && w->len + 10 <= w->cap);
    w->len += tsdb__put_uvarint(w->p + w->len, v);
}

/* ---- bit reader: inlined into the iterator (chunk_iter.c) --------------- */

static inline int tsdb__br_get(struct tsdb_chunk_iter *it, unsigned nbits, uint64_t *out)
{
    assert(nbits <= 32);
    if (it->nacc < nbits && it->end - it->p >= 8) {
        /* Refill up to 63 bits with one load while 8 or more bytes remain.
         * It takes at most 7, so the chunk's last byte is always read by
         * the byte loop below, only when needed, as before: the end-of-
         * chunk checks (at_clean_end, truncation) see the same state. */
        unsigned take = (63 - it->nacc) >> 3; /* 4..7 bytes */
        uint64_t w;
        memcpy(&w, it->p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        it->acc = (it->acc << (8 * take)) | (w >> (64 - 8 * take));
        it->p += take;
        it->nacc += 8 * take;
    }
    while (it->nacc < nbits) {
        if (it->p == it->end)
            return -1;
        it->acc = (it->acc << 8) | *it->p++;
        it->nacc += 8;
    }
    it->nacc -= nbits;
    *out = (it->acc >> it->nacc) & tsdb__mask(nbits);
    return 0;
}

static inline int tsdb__br_get64(struct tsdb_chunk_iter *it, unsigned nbits, uint64_t *out)
{
    if (nbits <= 32)
        return tsdb__br_get(it, nbits, out);
    uint64_t hi, lo;
    if (tsdb__br_get(it, nbits - 32, &hi) || tsdb__br_get(it, 32, &lo))
        return -1;
    *out = (hi << 32) | lo;
    return 0;
}

/* ---- integer sequences (chunk_iseq.c) ------------------------------------
 *
 * A sequence x[0..n) of int64 is stored as x0 (and d1 for order 2) in the
 * header plus one residual per later sample: x itself (order 0), its delta
 * (1) or its delta-of-delta (2), divided by a common gcd, then either
 * zigzagged or offset by their minimum (frame of reference), and written in
 * 1..4 prefix-coded buckets of fixed widths. All arithmetic wraps mod 2^64,
 * so INT64_MIN..INT64_MAX round-trips. */
struct tsdb__iseq {
    uint8_t order, nb, use_for, w[4];
    uint32_t n, start;   /* samples; first sample with a residual */
    int64_t x0, d1, min;
    uint64_t g;
    size_t bits;         /* cost: header and residual bits */
    uint64_t u[TSDB_CHUNK_MAX_SAMPLES]; /* transformed residual per sample */
};

/* Chooses order (a bit in orders_mask: 1 << order), gcd, transform and
 * buckets that minimise the size of x[0..n) (n >= 1). */
void tsdb__iseq_choose(struct tsdb__iseq *s, const int64_t *x, uint32_t n, unsigned orders_mask);
/* Header bytes of the sequence (mode, x0, d1, gcd, min, widths). */
void tsdb__iseq_put_header(const struct tsdb__iseq *s, struct tsdb__bw *w);
/* The residual of sample i (i >= s->start). */
void tsdb__iseq_put(const struct tsdb__iseq *s, uint32_t i, struct tsdb__bw *w);
/* Parses a header into d; -1 when invalid. */
int tsdb__iseq_get_header(struct tsdb__iseq_dec *d, uint32_t n, const uint8_t **p, const uint8_t *end);

/* Steps the decoder to sample i (i >= 1). Inline: the iterator's hot path. */
static inline __attribute__((always_inline)) int tsdb__iseq_next(struct tsdb__iseq_dec *d,
                                                                  struct tsdb_chunk_iter *it, uint32_t i)
{
    if (i < d->order) { /* only order 2, sample 1: the header's d1 */
        assert(i == 1 && d->order == 2);
        d->d = d->d1;
        d->x = (int64_t)((uint64_t)d->x + (uint64_t)d->d);
        return 0;
    }
    uint64_t r;
    if (d->flat) { /* regular scrapes: no bits to read */
        r = d->flat_r;
        goto apply;
    }
    unsigned b = 0;
    uint64_t bit, u;
    while (b + 1 < d->nb) { /* prefix code: 0, 10, 110, 111 */
        if (tsdb__br_get(it, 1, &bit))
            return -1;
        if (!bit)
            break;
        b++;
    }
    if (tsdb__br_get64(it, d->w[b], &u))
        return -1;
    r = d->use_for ? (uint64_t)d->min + u : (uint64_t)tsdb__unzz(u);
    r *= d->g;
apply:
    switch (d->order) {
    case 0:
        d->x = (int64_t)r;
        break;
    case 1:
        d->x = (int64_t)((uint64_t)d->x + r);
        break;
    default:
        d->d = (int64_t)((uint64_t)d->d + r);
        d->x = (int64_t)((uint64_t)d->x + (uint64_t)d->d);
        break;
    }
    return 0;
}

#endif
