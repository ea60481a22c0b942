/* chunk_open.c — the open (still growing) chunk of a head series, and the
 * sealing of a full one into tsdb/chunk.h's format.
 *
 * Memory is the constraint here: tsdb/chunk.h's appender keeps raw samples
 * (16 bytes each, 1.9 KiB for 120), more than our whole per-series budget of
 * 1.6 KB. So the open chunk is a Gorilla bit stream, written as samples
 * arrive:
 *
 *   sample 0   t (64 bits), value bits (64)
 *   sample i   timestamp: dod = (t - t') - (t' - t'')  (dod of sample 1 is its delta)
 *                '0'               dod == 0
 *                '10'   + 7 bits   dod in [-64, 63]      (scrape jitter)
 *                '110'  + 14 bits  dod in [-8192, 8191]
 *                '1110' + 20 bits  dod in [-2^19, 2^19-1]
 *                '1111' + 64 bits  anything else
 *              value: x = bits ^ previous bits
 *                '0'                     x == 0
 *                '10' + sig bits         x fits the current window (lead, sig)
 *                '11' + 5 bits lead + 6 bits sig (0 means 64) + sig bits
 *
 * Prometheus's XOR chunk uses 14 bits for the smallest non-zero dod; the
 * 7-bit bucket halves the cost of a few milliseconds of scrape jitter. The
 * stream is zero-padded; its length in bits is kept by the owner, so the
 * bytes can be copied to a query and decoded there without locks.
 *
 * When the chunk is cut it is decoded into stack arrays and re-encoded with
 * tsdb_chunk_encode(TSDB_VENC_AUTO) (constant, XOR or decimal, whichever is
 * smallest) into an exactly sized allocation: the sealed form is typically
 * 2-4x smaller than the Gorilla stream (README.md has the numbers). */
#include <stdlib.h>

#include "core/mem.h"
#include "tsdb/head_internal.h"

/* Worst case for one sample: 4 + 64 timestamp bits, 2 + 5 + 6 + 64 value bits. */
#define MAX_SAMPLE_BYTES 19u
#define MIN_CAP 32u

void tsdb__ochunk_fini(struct tsdb__ochunk *c)
{
    free(c->b);
    *c = (struct tsdb__ochunk){ 0 };
}

void tsdb__ochunk_reset(struct tsdb__ochunk *c)
{
    if (c->b)
        memset(c->b, 0, tsdb__ochunk_len(c));
    c->nbits = 0;
    c->n = 0;
    c->sig = 0;
    c->lead = 0;
    c->dlast = 0;
}

/* Rare: grows by a quarter, so a 120-sample chunk takes about 8 steps the
 * first time and none after (the buffer is kept across cuts). */
static __attribute__((noinline)) void grow(struct tsdb__ochunk *c, size_t need)
{
    size_t cap = c->cap + c->cap / 4;
    if (cap < MIN_CAP)
        cap = MIN_CAP;
    if (cap < need)
        cap = need;
    SCRY_ASSERT(cap <= UINT16_MAX);
    c->b = scry_realloc(c->b, cap);
    memset(c->b + c->cap, 0, cap - c->cap);
    c->cap = (uint16_t)cap;
}

static inline void put(struct tsdb__ochunk *c, uint64_t v, unsigned nb)
{
    assert(nb >= 1 && nb <= 64);
    if (nb < 64)
        v &= (1ull << nb) - 1;
    while (nb) {
        unsigned used = c->nbits & 7, room = 8 - used;
        unsigned take = nb < room ? nb : room;
        uint8_t bits = (uint8_t)(v >> (nb - take)) & (uint8_t)((1u << take) - 1);
        c->b[c->nbits >> 3] |= (uint8_t)(bits << (room - take));
        c->nbits += take;
        nb -= take;
    }
}

static inline bool fits(int64_t x, unsigned nb)
{
    int64_t lim = (int64_t)1 << (nb - 1);
    return x >= -lim && x < lim;
}

int64_t tsdb__ochunk_mint(const struct tsdb__ochunk *c)
{
    assert(c->n > 0);
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | c->b[i];
    return (int64_t)t;
}

void tsdb__ochunk_append(struct tsdb__ochunk *c, int64_t t, double v)
{
    uint64_t vb = tsdb__fbits(v);
    if ((size_t)(c->nbits >> 3) + MAX_SAMPLE_BYTES > c->cap)
        grow(c, (c->nbits >> 3) + MAX_SAMPLE_BYTES);
    if (c->n == 0) {
        put(c, (uint64_t)t, 64);
        put(c, vb, 64);
        c->tlast = t;
        c->dlast = 0;
        c->vlast = vb;
        c->n = 1;
        return;
    }
    assert(t > c->tlast);
    int64_t d = t - c->tlast, dod = d - c->dlast;
    if (dod == 0)
        put(c, 0, 1);
    else if (fits(dod, 7))
        put(c, 0x2ull << 7 | ((uint64_t)dod & 0x7f), 9);
    else if (fits(dod, 14))
        put(c, 0x6ull << 14 | ((uint64_t)dod & 0x3fff), 17);
    else if (fits(dod, 20))
        put(c, 0xeull << 20 | ((uint64_t)dod & 0xfffff), 24);
    else {
        put(c, 0xf, 4);
        put(c, (uint64_t)dod, 64);
    }
    uint64_t x = vb ^ c->vlast;
    if (x == 0) {
        put(c, 0, 1);
    } else {
        unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x);
        if (lead > 31)
            lead = 31;
        if (c->sig && lead >= c->lead && trail >= 64u - c->lead - c->sig) {
            put(c, 0x2, 2);
            put(c, x >> (64 - c->lead - c->sig), c->sig);
        } else {
            unsigned sig = 64 - lead - trail;
            put(c, 0x3, 2);
            put(c, lead, 5);
            put(c, sig & 63, 6);
            put(c, x >> trail, sig);
            c->lead = (uint8_t)lead;
            c->sig = (uint8_t)sig;
        }
    }
    c->tlast = t;
    c->dlast = d;
    c->vlast = vb;
    c->n++;
}

/* ---- iterator ------------------------------------------------------------- */

void tsdb__ochunk_iter_init(struct tsdb__ochunk_iter *it, const uint8_t *b, size_t len, uint16_t n)
{
    *it = (struct tsdb__ochunk_iter){ .b = b, .len = len, .n = n };
}

static inline uint64_t get(struct tsdb__ochunk_iter *it, unsigned nb)
{
    if ((size_t)it->nbits_read + nb > it->len * 8) {
        it->err = SCRY_ECORRUPT;
        return 0;
    }
    uint64_t v = 0;
    while (nb) {
        unsigned used = it->nbits_read & 7, room = 8 - used;
        unsigned take = nb < room ? nb : room;
        uint8_t byte = it->b[it->nbits_read >> 3];
        v = v << take | (uint64_t)((byte >> (room - take)) & ((1u << take) - 1));
        it->nbits_read += take;
        nb -= take;
    }
    return v;
}

static inline int64_t sext(uint64_t v, unsigned nb)
{
    uint64_t m = 1ull << (nb - 1);
    return (int64_t)((v ^ m) - m);
}

bool tsdb__ochunk_iter_next(struct tsdb__ochunk_iter *it)
{
    if (it->err || it->i >= it->n)
        return false;
    if (it->i == 0) {
        it->t = (int64_t)get(it, 64);
        it->v = get(it, 64);
        it->i = 1;
        return !it->err;
    }
    int64_t dod;
    if (!get(it, 1))
        dod = 0;
    else if (!get(it, 1))
        dod = sext(get(it, 7), 7);
    else if (!get(it, 1))
        dod = sext(get(it, 14), 14);
    else if (!get(it, 1))
        dod = sext(get(it, 20), 20);
    else
        dod = (int64_t)get(it, 64);
    it->d += dod;
    it->t += it->d;
    if (get(it, 1)) {
        if (get(it, 1)) {
            it->lead = (uint8_t)get(it, 5);
            unsigned sig = (unsigned)get(it, 6);
            it->sig = (uint8_t)(sig ? sig : 64);
        } else if (!it->sig) {
            it->err = SCRY_ECORRUPT;
        }
        if (it->err || it->lead + it->sig > 64) {
            it->err = SCRY_ECORRUPT;
            return false;
        }
        it->v ^= get(it, it->sig) << (64 - it->lead - it->sig);
    }
    it->i++;
    return !it->err;
}

/* ---- sealed chunks ---------------------------------------------------------- */

struct tsdb__chunk *tsdb__chunk_seal(const int64_t *t, const double *v, size_t n)
{
    assert(n >= 1 && n <= TSDB_CHUNK_MAX_SAMPLES);
    uint8_t buf[96 + 36 * TSDB_CHUNK_MAX_SAMPLES];
    size_t len = 0;
    SCRY_ASSERT(tsdb_chunk_max_len(n) <= sizeof buf);
    struct scry_err err;
    int rc = tsdb_chunk_encode(t, v, n, TSDB_VENC_AUTO, buf, sizeof buf, &len, &err);
    SCRY_ASSERT(rc == 0 && len <= UINT16_MAX); /* t strictly increasing by construction */
    struct tsdb__chunk *c = scry_malloc(sizeof *c + len);
    c->mint = t[0];
    c->maxt = t[n - 1];
    atomic_init(&c->refs, 1);
    c->len = (uint16_t)len;
    c->n = (uint16_t)n;
    memcpy(c->b, buf, len);
    return c;
}

void tsdb__chunk_release(struct tsdb__chunk *c)
{
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        free(c);
}
