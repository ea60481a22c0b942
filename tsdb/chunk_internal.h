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

/* ---- bit reader (struct tsdb__br in chunk.h) -----------------------------
 *
 * A refill loads 8 bytes at once and keeps 56..63 bits, so one refill
 * serves several fields (a regular sample of a counter takes ~10 bits). It
 * ORs a whole window in, so bits below cnt may already hold the stream's
 * next bits: OR writes the same bits again. Within the last 7 bytes it goes
 * byte by byte and never reads past end. */

static inline uint64_t tsdb__load_be64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* Tops cnt up to 56..63, or to what the stream has left. */
static inline __attribute__((always_inline)) void tsdb__br_fill(struct tsdb__br *r)
{
    assert(r->cnt <= 63);
    if (r->end - r->p >= 8) {
        r->buf |= tsdb__load_be64(r->p) >> r->cnt;
        r->p += (63 - r->cnt) >> 3;
        r->cnt |= 56;
    } else {
        while (r->cnt < 56 && r->p < r->end) {
            r->buf |= (uint64_t)*r->p++ << (56 - r->cnt);
            r->cnt += 8;
        }
    }
}

/* Takes n <= cnt (so n <= 63) bits. */
static inline uint64_t tsdb__br_take(struct tsdb__br *r, unsigned n)
{
    uint64_t x = r->buf >> (63 - n) >> 1;
    r->buf <<= n;
    r->cnt -= n;
    return x;
}

/* Reads n <= 64 bits; -1 when the stream has fewer. */
static inline int tsdb__br_get(struct tsdb__br *r, unsigned n, uint64_t *out)
{
    assert(n <= 64);
    uint64_t hi = 0;
    if (n > 32) {
        if (r->cnt < n - 32) {
            tsdb__br_fill(r);
            if (r->cnt < n - 32)
                return -1;
        }
        hi = tsdb__br_take(r, n - 32) << 32;
        n = 32;
    }
    if (r->cnt < n) {
        tsdb__br_fill(r);
        if (r->cnt < n)
            return -1;
    }
    *out = hi | tsdb__br_take(r, n);
    return 0;
}

/* tsdb__br_get through a copy of *r: for the rare paths of a decode loop,
 * so that the loop's reader never has its address passed to a function
 * that is not inlined, which would keep it in memory (a store of buf and
 * cnt per field) instead of in registers. */
static inline __attribute__((always_inline)) int tsdb__br_get_cold(struct tsdb__br *r, unsigned n,
                                                                    uint64_t *out)
{
    struct tsdb__br c = *r;
    uint64_t x = 0;
    int rc = tsdb__br_get(&c, n, &x);
    *r = c;
    *out = x;
    return rc;
}

/* True when at most 7 zero bits (the last byte's padding) are left. */
static inline bool tsdb__br_clean_end(const struct tsdb__br *r)
{
    return r->p == r->end && r->cnt < 8 && (r->buf >> (63 - r->cnt) >> 1) == 0;
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

/* The next residual of d: a prefix code (0, 10, 110, 111) picks a bucket,
 * then the bucket's width in bits; one 3-bit peek indexes d->tcl/tw. */

/* The transform from a bucket's bits u to the residual. */
static inline __attribute__((always_inline)) uint64_t tsdb__iseq_xform(const struct tsdb__iseq_dec *d,
                                                                        uint64_t u)
{
    return (((u >> d->zs) ^ (0 - (u & d->zs))) + d->add) * d->g;
}

/* tsdb__iseq_read_raw when the buffer holds fewer bits than the residual:
 * refill, and read a residual wider than one refill in two parts. Inline
 * too, so the reader of the batch loop stays in registers. */
static inline __attribute__((always_inline)) int tsdb__iseq_read_raw_slow(const struct tsdb__iseq_dec *d,
                                                                           struct tsdb__br *r, uint64_t *out)
{
    tsdb__br_fill(r);
    unsigned c = (unsigned)(r->buf >> 61);
    unsigned cl = d->tcl[c], w = d->tw[c], tot = cl + w;
    uint64_t u;
    if (__builtin_expect(r->cnt >= tot, 1)) {
        u = (r->buf << cl) >> (63 - w) >> 1;
        r->buf <<= tot;
        r->cnt -= tot;
    } else {
        if (r->cnt < cl)
            return -1;
        tsdb__br_take(r, cl);
        if (tsdb__br_get_cold(r, w, &u))
            return -1;
    }
    *out = u;
    return 0;
}

/* The bucket bits of the next residual, before tsdb__iseq_xform. */
static inline __attribute__((always_inline)) int tsdb__iseq_read_raw(const struct tsdb__iseq_dec *d,
                                                                      struct tsdb__br *r, uint64_t *out)
{
    unsigned c = (unsigned)(r->buf >> 61);
    unsigned cl = d->tcl[c], tot = cl + d->tw[c];
    /* The peeked bits past cnt may not be loaded yet; when cnt >= tot, the
     * cl bits that chose the bucket are real (the code is prefix-free). */
    if (__builtin_expect(r->cnt < tot, 0))
        return tsdb__iseq_read_raw_slow(d, r, out);
    *out = (r->buf << cl) >> d->tsh[c] >> 1;
    r->buf <<= tot;
    r->cnt -= tot;
    return 0;
}

static inline __attribute__((always_inline)) int tsdb__iseq_read(const struct tsdb__iseq_dec *d,
                                                                  struct tsdb__br *r, uint64_t *res)
{
    uint64_t u;
    if (tsdb__iseq_read_raw(d, r, &u))
        return -1;
    *res = tsdb__iseq_xform(d, u);
    return 0;
}

/* Applies residual r: order 0 x = r, 1 x += r, 2 d += r, x += d. */
static inline void tsdb__iseq_apply(struct tsdb__iseq_dec *d, uint64_t r)
{
    d->d = (int64_t)(((uint64_t)d->d & d->m2) + r);
    d->x = (int64_t)(((uint64_t)d->x & d->m1) + (uint64_t)d->d);
}

/* Steps the decoder to sample i (i >= 1). */
static inline __attribute__((always_inline)) int tsdb__iseq_next(struct tsdb__iseq_dec *d,
                                                                  struct tsdb__br *r, uint32_t i)
{
    if (i < d->order) { /* only order 2, sample 1: the header's d1 */
        assert(i == 1 && d->order == 2);
        d->d = d->d1;
        d->x = (int64_t)((uint64_t)d->x + (uint64_t)d->d);
        return 0;
    }
    uint64_t res;
    if (tsdb__iseq_read(d, r, &res))
        return -1;
    tsdb__iseq_apply(d, res);
    return 0;
}

#endif
