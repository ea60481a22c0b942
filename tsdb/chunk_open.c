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
 *                '10'   + 4 bits   dod in [-8, 7]        (scrape jitter)
 *                '110'  + 10 bits  dod in [-512, 511]
 *                '1110' + 20 bits  dod in [-2^19, 2^19-1]
 *                '1111' + 64 bits  anything else
 *              value: x = bits ^ previous bits
 *                '0'                     x == 0
 *                '100' + sig bits        XOR in the current window (lead, sig)
 *                '101' + 5 bits lead + 6 bits sig (0 means 64) + sig bits
 *                '110' + 7 bits          N - N' in [-64, 63]         (decimal)
 *                '1110' + 14 bits        N - N' in [-8192, 8191]
 *                '1111' + 28 bits        N - N' in [-2^27, 2^27-1]
 *              where value = N / 10^k: k is the smallest scale (0..6) that
 *              represents the chunk's values so far, tracked identically by
 *              encoder and decoder from the values themselves; the encoder
 *              takes the cheaper of XOR and decimal for each sample.
 *
 * Prometheus's XOR chunk uses 16 bits for the smallest non-zero dod; the
 * 4-bit bucket costs a few milliseconds of scrape jitter 6 bits. Decimal
 * deltas turn cpu-seconds counters (12345.67 + 0.15) from ~45 XOR bits into
 * 18, the case Gorilla handles worst. The
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

/* Worst case for one sample: 4 + 64 timestamp bits, 2 + 5 + 6 + 64 value
 * bits (19 bytes), plus the 8-byte window of put(). */
#define MAX_SAMPLE_BYTES 27u
#define MIN_CAP 32u

void tsdb__ochunk_fini(struct tsdb__ochunk *c)
{
    free(c->b);
    __atomic_store_n(&c->b, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&c->nbits, 0, __ATOMIC_RELAXED);
    c->cap = 0;
    c->n = 0;
    c->sig = c->lead = 0;
}

void tsdb__ochunk_reset(struct tsdb__ochunk *c)
{
    if (c->b)
        memset(c->b, 0, tsdb__ochunk_len(c));
    __atomic_store_n(&c->nbits, 0, __ATOMIC_RELAXED);
    c->n = 0;
    c->sig = 0;
    c->lead = 0;
    c->dlast = 0;
}

/* Rare: grows by an eighth (at least 16 bytes), so a 120-sample chunk takes
 * about 12 steps the first time and none after (the buffer is kept across
 * cuts); the slack left is ~6 %, which matters more than the reallocs. */
static __attribute__((noinline)) void grow(struct tsdb__ochunk *c, size_t need)
{
    size_t cap = c->cap + (c->cap / 8 > 16 ? c->cap / 8 : 16);
    if (cap < MIN_CAP)
        cap = MIN_CAP;
    if (cap < need)
        cap = need;
    SCRY_ASSERT(cap <= UINT16_MAX);
    uint8_t *b = scry_realloc(c->b, cap);
    memset(b + c->cap, 0, cap - c->cap);
    __atomic_store_n(&c->b, b, __ATOMIC_RELAXED);
    c->cap = (uint16_t)cap;
}

/* Big-endian 64-bit windows: one unaligned load, OR and store per code.
 * The buffer keeps 8 zero bytes of slack past the worst-case sample. */
static inline uint64_t load_be(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return __builtin_bswap64(w);
}

static inline void store_be(uint8_t *p, uint64_t w)
{
    w = __builtin_bswap64(w);
    memcpy(p, &w, 8);
}

/* nb in 1..56: fits one window whatever the bit offset. */
static inline void put(struct tsdb__ochunk *c, uint64_t v, unsigned nb)
{
    assert(nb >= 1 && nb <= 56);
    assert((size_t)(c->nbits >> 3) + 8 <= c->cap);
    v &= (1ull << nb) - 1;
    uint8_t *p = c->b + (c->nbits >> 3);
    unsigned off = c->nbits & 7;
    store_be(p, load_be(p) | v << (64 - off - nb));
    /* Atomic (a plain mov on x86): appenders read b and nbits without the
     * stripe lock, only to prefetch (head_append.c). */
    __atomic_store_n(&c->nbits, c->nbits + nb, __ATOMIC_RELAXED);
}

static inline void put64(struct tsdb__ochunk *c, uint64_t v)
{
    put(c, v >> 32, 32);
    put(c, v, 32);
}

static inline bool fits(int64_t x, unsigned nb)
{
    int64_t lim = (int64_t)1 << (nb - 1);
    return x >= -lim && x < lim;
}

int64_t tsdb__ochunk_mint(const struct tsdb__ochunk *c)
{
    assert(c->n > 0);
    return (int64_t)load_be(c->b);
}

/* ---- decimal tracking, identical in encoder and decoder ----------------------- */

static const double p10[TSDB__OCHUNK_KMAX + 1] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6 };

/* v == N / 10^k exactly (bit for bit, so -0.0 and NaN never are). */
static inline bool dec_of(double v, unsigned k, int64_t *n)
{
    double s = v * p10[k];
    if (!(s > -4e15 && s < 4e15))
        return false;
    int64_t r = (int64_t)(s + (s >= 0 ? 0.5 : -0.5));
    if (tsdb__fbits((double)r / p10[k]) != tsdb__fbits(v))
        return false;
    *n = r;
    return true;
}

/* After each sample: the scale k only grows within a chunk, and a value
 * that no k <= KMAX represents turns decimal coding off for the chunk, so
 * a series of arbitrary floats pays for the search once. */
static inline void dec_promote(uint8_t *k, int64_t *nlast, double v)
{
    int64_t n;
    if (*k != TSDB__OCHUNK_KNONE) {
        for (unsigned kk = *k == TSDB__OCHUNK_KSTART ? 0 : *k + 1u; kk <= TSDB__OCHUNK_KMAX; kk++) {
            if (dec_of(v, kk, &n)) {
                *k = (uint8_t)kk;
                *nlast = n;
                return;
            }
        }
    }
    *k = TSDB__OCHUNK_KNONE;
}

static inline void dec_update(uint8_t *k, int64_t *nlast, double v)
{
    int64_t n;
    if (*k <= TSDB__OCHUNK_KMAX && dec_of(v, *k, &n))
        *nlast = n;
    else
        dec_promote(k, nlast, v);
}

/* ---- encoder ----------------------------------------------------------------------- */

static inline void put_ts(struct tsdb__ochunk *c, int64_t dod)
{
    if (dod == 0)
        put(c, 0, 1);
    else if (fits(dod, 4))
        put(c, 0x2ull << 4 | ((uint64_t)dod & 0xf), 6);
    else if (fits(dod, 10))
        put(c, 0x6ull << 10 | ((uint64_t)dod & 0x3ff), 13);
    else if (fits(dod, 20))
        put(c, 0xeull << 20 | ((uint64_t)dod & 0xfffff), 24);
    else {
        put(c, 0xf, 4);
        put64(c, (uint64_t)dod);
    }
}

static inline void put_xor(struct tsdb__ochunk *c, uint64_t x, unsigned lead, unsigned trail)
{
    if (c->sig && lead >= c->lead && trail >= 64u - c->lead - c->sig) {
        unsigned sh = 64u - c->lead - c->sig;
        if (c->sig <= 53)
            put(c, 0x4ull << c->sig | x >> sh, 3 + c->sig);
        else {
            put(c, 0x4, 3);
            put(c, x >> sh >> 32, c->sig - 32u);
            put(c, x >> sh, 32);
        }
        return;
    }
    unsigned sig = 64 - lead - trail;
    put(c, 0x5ull << 11 | (uint64_t)lead << 6 | (sig & 63), 14);
    if (sig <= 32)
        put(c, x >> trail, sig);
    else {
        put(c, x >> trail >> 32, sig - 32);
        put(c, x >> trail, 32);
    }
    c->lead = (uint8_t)lead;
    c->sig = (uint8_t)sig;
}

void tsdb__ochunk_append(struct tsdb__ochunk *c, int64_t t, double v)
{
    uint64_t vb = tsdb__fbits(v);
    if ((size_t)(c->nbits >> 3) + MAX_SAMPLE_BYTES > c->cap)
        grow(c, (c->nbits >> 3) + MAX_SAMPLE_BYTES);
    if (c->n == 0) {
        put64(c, (uint64_t)t);
        put64(c, vb);
        c->tlast = t;
        c->dlast = 0;
        c->vlast = vb;
        c->k = TSDB__OCHUNK_KSTART;
        dec_update(&c->k, &c->nlast, v);
        c->n = 1;
        return;
    }
    assert(t > c->tlast);
    int64_t d = t - c->tlast;
    put_ts(c, d - c->dlast);
    uint64_t x = vb ^ c->vlast;
    if (x == 0) {
        put(c, 0, 1);
    } else {
        unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x);
        if (lead > 31)
            lead = 31;
        unsigned xcost = c->sig && lead >= c->lead && trail >= 64u - c->lead - c->sig
                             ? 3u + c->sig
                             : 14u + 64u - lead - trail;
        int64_t n = 0, dn = 0;
        unsigned dcost = 99;
        bool dok = c->k <= TSDB__OCHUNK_KMAX && dec_of(v, c->k, &n);
        if (dok) {
            dn = n - c->nlast;
            dcost = fits(dn, 7) ? 10 : fits(dn, 14) ? 18 : fits(dn, 28) ? 32 : 99;
        }
        if (dcost < xcost) {
            if (dcost == 10)
                put(c, 0x6ull << 7 | ((uint64_t)dn & 0x7f), 10);
            else if (dcost == 18)
                put(c, 0xeull << 14 | ((uint64_t)dn & 0x3fff), 18);
            else
                put(c, 0xfull << 28 | ((uint64_t)dn & 0xfffffff), 32);
        } else {
            put_xor(c, x, lead, trail);
        }
        if (dok) /* what dec_update would find, without a second division */
            c->nlast = n;
        else
            dec_promote(&c->k, &c->nlast, v);
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

/* nb in 1..64. Fast path: a 64-bit window when 8 bytes are left. */
static inline uint64_t get(struct tsdb__ochunk_iter *it, unsigned nb)
{
    if ((size_t)it->nbits_read + nb > it->len * 8) {
        it->err = SCRY_ECORRUPT;
        return 0;
    }
    size_t i = it->nbits_read >> 3;
    unsigned off = it->nbits_read & 7;
    if (nb <= 56 && i + 8 <= it->len) {
        it->nbits_read += nb;
        return load_be(it->b + i) << off >> (64 - nb);
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

/* The next 8 bits without taking them, zeros past the end: one look at
 * a prefix code instead of a bounds-checked get() per bit. */
static inline unsigned peek8(const struct tsdb__ochunk_iter *it)
{
    size_t i = it->nbits_read >> 3;
    unsigned w = 0;
    if (i < it->len)
        w = (unsigned)it->b[i] << 8;
    if (i + 1 < it->len)
        w |= it->b[i + 1];
    return (w << (it->nbits_read & 7) >> 8) & 0xffu;
}

/* Takes a prefix code of nb bits; an error when the stream ends inside it
 * (the zeros peek8 made up are not data). */
static inline void skip(struct tsdb__ochunk_iter *it, unsigned nb)
{
    if ((size_t)it->nbits_read + nb > it->len * 8)
        it->err = SCRY_ECORRUPT;
    else
        it->nbits_read += nb;
}

/* By the next 4 bits: the timestamp code ('0', '10', '110', '1110',
 * '1111') and the width of the dod that follows. */
static const uint8_t dod_code_len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4};
static const uint8_t dod_width[16] = {0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 10, 10, 20, 64};

static inline int64_t get_dod(struct tsdb__ochunk_iter *it)
{
    unsigned c = peek8(it) >> 4;
    skip(it, dod_code_len[c]);
    unsigned w = dod_width[c];
    if (w == 0 || it->err)
        return 0;
    uint64_t u = get(it, w);
    return w == 64 ? (int64_t)u : sext(u, w);
}

/* A decimal delta of nb bits. */
static void get_dec(struct tsdb__ochunk_iter *it, unsigned nb)
{
    int64_t dn = sext(get(it, nb), nb);
    if (it->k > TSDB__OCHUNK_KMAX) {
        it->err = SCRY_ECORRUPT;
        return;
    }
    it->nlast += dn; /* the encoder checked that N / 10^k is the value */
    it->v = tsdb__fbits((double)it->nlast / p10[it->k]);
}

/* XOR: in the current window, or a new one (5 bits lead, 6 bits sig). */
static void get_xor(struct tsdb__ochunk_iter *it, bool new_window)
{
    if (new_window) {
        it->lead = (uint8_t)get(it, 5);
        unsigned sig = (unsigned)get(it, 6);
        it->sig = (uint8_t)(sig ? sig : 64);
    } else if (!it->sig) {
        it->err = SCRY_ECORRUPT;
    }
    if (it->err || it->lead + it->sig > 64) {
        it->err = SCRY_ECORRUPT;
        return;
    }
    it->v ^= get(it, it->sig) << (64 - it->lead - it->sig);
}

/* By the next 4 bits: the value code. '0' repeat, '100' XOR in the window,
 * '101' XOR with a new window, '110' / '1110' / '1111' decimal deltas of 7,
 * 14, 28 bits. */
enum { V_SAME, V_XOR, V_XOR_NEW, V_DEC };
static const uint8_t val_code_len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 4, 4};
static const uint8_t val_kind[16] = {V_SAME, V_SAME, V_SAME, V_SAME, V_SAME, V_SAME, V_SAME, V_SAME,
                                     V_XOR, V_XOR, V_XOR_NEW, V_XOR_NEW, V_DEC, V_DEC, V_DEC, V_DEC};
static const uint8_t val_dec_width[16] = {[12] = 7, [13] = 7, [14] = 14, [15] = 28};

bool tsdb__ochunk_iter_next(struct tsdb__ochunk_iter *it)
{
    if (it->err || it->i >= it->n)
        return false;
    if (it->i == 0) {
        it->t = (int64_t)get(it, 64);
        it->v = get(it, 64);
        it->k = TSDB__OCHUNK_KSTART;
        dec_update(&it->k, &it->nlast, tsdb__bitsf(it->v));
        it->i = 1;
        return !it->err;
    }
    /* Wrapping, not signed overflow: damaged bytes may carry any dod. */
    it->d = (int64_t)((uint64_t)it->d + (uint64_t)get_dod(it));
    it->t = (int64_t)((uint64_t)it->t + (uint64_t)it->d);
    if (it->err)
        return false;
    unsigned c = peek8(it) >> 4;
    skip(it, val_code_len[c]);
    if (it->err)
        return false;
    switch (val_kind[c]) {
    case V_SAME:
        break;
    case V_DEC:
        get_dec(it, val_dec_width[c]); /* N and k already track the value */
        break;
    default:
        get_xor(it, val_kind[c] == V_XOR_NEW);
        if (!it->err)
            dec_update(&it->k, &it->nlast, tsdb__bitsf(it->v));
        break;
    }
    if (it->err)
        return false;
    it->i++;
    return true;
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
