/* chunk_ref.c — the chunk decoder as it was before the batch decoder
 * (tsdb/chunk_iter.c at commit a8a6eda) and the open chunk's iterator
 * (tsdb/chunk_open.c, same commit), kept verbatim apart from names (and one
 * signed overflow on damaged bytes made a wrapping sum) as the
 * reference that test_chunk_decode.c compares the current decoders with,
 * sample for sample and error for error, on random and corrupted chunks. */
#include "tests/unit/tsdb/chunk_ref.h"

#include "tsdb/chunk_internal.h"
#include "tsdb/head_internal.h"

static int ref_iseq_get_header(struct ref_iseq_dec *d, uint32_t n, const uint8_t **p, const uint8_t *end)
{
    if (*p >= end)
        return -1;
    uint8_t mode = *(*p)++;
    if (mode & TSDB__ISEQ_RESERVED)
        return -1;
    d->order = mode & TSDB__ISEQ_ORDER_MASK;
    if (d->order > 2)
        return -1;
    d->nb = (uint8_t)(((mode >> TSDB__ISEQ_NB_SHIFT) & 3u) + 1u);
    d->use_for = (mode & TSDB__ISEQ_FOR) != 0;
    uint64_t u;
    if (tsdb__get_uvarint(p, end, &u))
        return -1;
    d->x0 = tsdb__unzz(u);
    d->d1 = 0;
    if (d->order == 2 && n >= 2) {
        if (tsdb__get_uvarint(p, end, &u))
            return -1;
        d->d1 = tsdb__unzz(u);
    }
    d->g = 1;
    if (mode & TSDB__ISEQ_GCD) {
        /* The encoder writes a gcd only when it is 2..INT64_MAX. */
        if (tsdb__get_uvarint(p, end, &d->g) || d->g < 2 || d->g > (uint64_t)INT64_MAX)
            return -1;
    }
    d->min = 0;
    if (d->use_for) {
        if (tsdb__get_uvarint(p, end, &u))
            return -1;
        d->min = tsdb__unzz(u);
    }
    if (mode & TSDB__ISEQ_FLAT) {
        if (d->nb != 1) /* flat means one bucket */
            return -1;
        d->w[0] = 0;
    } else {
        if ((size_t)(end - *p) < d->nb)
            return -1;
        for (unsigned b = 0; b < d->nb; b++) {
            d->w[b] = *(*p)++;
            if (d->w[b] > 64)
                return -1;
        }
    }
    d->flat = d->nb == 1 && d->w[0] == 0;
    d->flat_r = (d->use_for ? (uint64_t)d->min : 0) * d->g;
    d->x = d->x0;
    d->d = 0;
    return 0;
}

static inline int ref_br_get(struct ref_iter *it, unsigned nbits, uint64_t *out)
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

static inline int ref_br_get64(struct ref_iter *it, unsigned nbits, uint64_t *out)
{
    if (nbits <= 32)
        return ref_br_get(it, nbits, out);
    uint64_t hi, lo;
    if (ref_br_get(it, nbits - 32, &hi) || ref_br_get(it, 32, &lo))
        return -1;
    *out = (hi << 32) | lo;
    return 0;
}

/* Steps the decoder to sample i (i >= 1). Inline: the iterator's hot path. */
static inline __attribute__((always_inline)) int ref_iseq_next(struct ref_iseq_dec *d,
                                                                  struct ref_iter *it, uint32_t i)
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
        if (ref_br_get(it, 1, &bit))
            return -1;
        if (!bit)
            break;
        b++;
    }
    if (ref_br_get64(it, d->w[b], &u))
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

static bool fail(struct ref_iter *it)
{
    it->err = SCRY_ECORRUPT;
    it->i = it->n; /* nothing more comes out */
    return false;
}

static int get_le64(const uint8_t **p, const uint8_t *end, uint64_t *u)
{
    if (end - *p < 8)
        return -1;
    uint64_t x = 0;
    for (unsigned i = 0; i < 8; i++)
        x |= (uint64_t)(*p)[i] << (8 * i);
    *p += 8;
    *u = x;
    return 0;
}

/* Escape entries: uvarint gap, 8 raw bytes. Reads the next one's index. */
static int exc_peek(struct ref_iter *it, uint32_t after, const uint8_t *end)
{
    if (it->exc_left == 0) {
        it->exc_next = UINT32_MAX;
        return 0;
    }
    const uint8_t *q = it->exc;
    uint64_t gap;
    if (tsdb__get_uvarint(&q, end, &gap) || gap >= it->n || (uint64_t)after + gap >= it->n || end - q < 8)
        return -1;
    it->exc_next = (uint32_t)(after + gap);
    return 0;
}

/* Takes the next escape's raw bits and moves to the one after. */
static int exc_take(struct ref_iter *it, const uint8_t *end)
{
    assert(it->exc_left > 0 && it->exc_next == it->i);
    uint64_t gap;
    int rc = tsdb__get_uvarint(&it->exc, end, &gap);
    assert(rc == 0); /* validated by init */
    (void)rc;
    if (get_le64(&it->exc, end, &it->vbits))
        return -1;
    it->exc_left--;
    return exc_peek(it, it->i + 1, end);
}

static int parse_values(struct ref_iter *it, const uint8_t **q, const uint8_t *end)
{
    uint64_t u;
    switch (it->venc) {
    case TSDB_VENC_CONST: {
        if (*q >= end)
            return -1;
        uint8_t tag = *(*q)++;
        if (tag == TSDB__CONST_RAW)
            return get_le64(q, end, &it->vbits);
        if (tag > TSDB__DEC_KMAX || tsdb__get_uvarint(q, end, &u))
            return -1;
        it->vbits = tsdb__dbits((double)tsdb__unzz(u) / tsdb__pow10[tag]);
        return 0;
    }
    case TSDB_VENC_XOR:
        return get_le64(q, end, &it->vbits);
    case TSDB_VENC_BITS:
        if (ref_iseq_get_header(&it->val, it->n, q, end))
            return -1;
        it->vbits = (uint64_t)it->val.x0;
        return 0;
    case TSDB_VENC_DEC: {
        if (*q >= end || (**q & TSDB__DEC_RESERVED))
            return -1;
        uint8_t kb = *(*q)++;
        it->scale = tsdb__pow10[kb & TSDB__DEC_K_MASK];
        u = 0;
        if ((kb & TSDB__DEC_ESC) && (tsdb__get_uvarint(q, end, &u) || u == 0 || u > it->n))
            return -1;
        it->exc_left = (uint32_t)u;
        it->exc = *q;
        /* Walk the escape list once so next() can trust it. */
        uint32_t idx = 0;
        for (uint64_t j = 0; j < u; j++) {
            uint64_t gap;
            if (tsdb__get_uvarint(q, end, &gap) || gap >= it->n || idx + gap >= it->n || end - *q < 8)
                return -1;
            idx += (uint32_t)gap + 1;
            *q += 8;
        }
        if (exc_peek(it, 0, end))
            return -1;
        return ref_iseq_get_header(&it->val, it->n, q, end);
    }
    default:
        return -1;
    }
}

void ref_iter_init(struct ref_iter *it, const uint8_t *p, size_t len)
{
    memset(it, 0, sizeof *it);
    if (!p) {
        fail(it);
        return;
    }
    const uint8_t *q = p, *end = p + len;
    uint64_t n;
    if (len < 1 || (p[0] & TSDB__KIND_RESERVED) || (p[0] >> TSDB__KIND_SHIFT) != TSDB_CHUNK_FLOAT) {
        fail(it);
        return;
    }
    it->venc = p[0] & TSDB__VENC_MASK;
    q++;
    if (tsdb__get_uvarint(&q, end, &n) || n == 0 || n > TSDB_CHUNK_MAX_SAMPLES) {
        fail(it);
        return;
    }
    it->n = (uint32_t)n;
    it->exc_next = UINT32_MAX;
    if (ref_iseq_get_header(&it->ts, it->n, &q, end) || it->ts.order == 0 ||
        parse_values(it, &q, end)) {
        fail(it);
        return;
    }
    it->p = q;
    it->end = end;
}

static bool step_value(struct ref_iter *it)
{
    const uint8_t *end = it->end;
    switch (it->venc) {
    case TSDB_VENC_CONST:
        return true;
    case TSDB_VENC_XOR: {
        uint64_t b, x;
        if (ref_br_get(it, 1, &b))
            return false;
        if (!b)
            return true;
        if (ref_br_get(it, 1, &b))
            return false;
        if (b) {
            uint64_t lead, sig;
            if (ref_br_get(it, 5, &lead) || ref_br_get(it, 6, &sig))
                return false;
            if (sig == 0)
                sig = 64;
            if (lead + sig > 64)
                return false;
            it->lead = (uint8_t)lead;
            it->sig = (uint8_t)sig;
            it->have_win = 1;
        } else if (!it->have_win) {
            return false;
        }
        if (ref_br_get64(it, it->sig, &x))
            return false;
        it->vbits ^= x << (64 - it->lead - it->sig);
        return true;
    }
    case TSDB_VENC_BITS:
        if (ref_iseq_next(&it->val, it, it->i))
            return false;
        it->vbits = (uint64_t)it->val.x;
        return true;
    default: /* DEC */
        if (ref_iseq_next(&it->val, it, it->i))
            return false;
        if (it->i == it->exc_next)
            return exc_take(it, end) == 0;
        it->vbits = tsdb__dbits((double)it->val.x / it->scale);
        return true;
    }
}

/* After the last sample only the zero padding of the last byte may remain. */
static bool at_clean_end(const struct ref_iter *it)
{
    return it->p == it->end && it->nacc < 8 && (it->acc & tsdb__mask(it->nacc)) == 0;
}

static inline __attribute__((always_inline)) bool next_one(struct ref_iter *it)
{
    if (it->err || it->i >= it->n)
        return false;
    if (it->i == 0) {
        it->t_ms = it->ts.x0;
        if (it->venc == TSDB_VENC_DEC) {
            if (it->exc_next == 0) {
                if (exc_take(it, it->end))
                    return fail(it);
            } else {
                it->vbits = tsdb__dbits((double)it->val.x0 / it->scale);
            }
        }
    } else {
        int64_t prev = it->t_ms;
        if (ref_iseq_next(&it->ts, it, it->i) || it->ts.x <= prev)
            return fail(it);
        it->t_ms = it->ts.x;
        if (!step_value(it))
            return fail(it);
    }
    it->v = tsdb__bitsd(it->vbits);
    it->i++;
    if (it->i == it->n && !at_clean_end(it)) {
        /* The last sample is fine, but the bytes say more was meant. */
        it->err = SCRY_ECORRUPT;
        return false;
    }
    return true;
}

bool ref_iter_next(struct ref_iter *it)
{
    return next_one(it);
}

size_t ref_iter_next_n(struct ref_iter *it, int64_t *t, double *v, size_t cap)
{
    size_t n = 0;
    while (n < cap && next_one(it)) {
        t[n] = it->t_ms;
        v[n++] = it->v;
    }
    return n;
}

bool ref_iter_seek(struct ref_iter *it, int64_t t_ms)
{
    if (it->err)
        return false;
    if (it->i > 0 && it->t_ms >= t_ms)
        return true;
    while (ref_iter_next(it))
        if (it->t_ms >= t_ms)
            return true;
    return false;
}

void ref_iter_at(const struct ref_iter *it, int64_t *t_ms, double *v)
{
    assert(it->i > 0 && !it->err);
    *t_ms = it->t_ms;
    *v = it->v;
}

int ref_iter_err(const struct ref_iter *it)
{
    return it->err;
}

/* ---- the open chunk's iterator ---- */

static inline uint64_t oload_be(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return __builtin_bswap64(w);
}


static const double op10[TSDB__OCHUNK_KMAX + 1] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6 };

/* v == N / 10^k exactly (bit for bit, so -0.0 and NaN never are). */
static inline bool odec_of(double v, unsigned k, int64_t *n)
{
    double s = v * op10[k];
    if (!(s > -4e15 && s < 4e15))
        return false;
    int64_t r = (int64_t)(s + (s >= 0 ? 0.5 : -0.5));
    if (tsdb__fbits((double)r / op10[k]) != tsdb__fbits(v))
        return false;
    *n = r;
    return true;
}

/* After each sample: the scale k only grows within a chunk, and a value
 * that no k <= KMAX represents turns decimal coding off for the chunk, so
 * a series of arbitrary floats pays for the search once. */
static inline void odec_promote(uint8_t *k, int64_t *nlast, double v)
{
    int64_t n;
    if (*k != TSDB__OCHUNK_KNONE) {
        for (unsigned kk = *k == TSDB__OCHUNK_KSTART ? 0 : *k + 1u; kk <= TSDB__OCHUNK_KMAX; kk++) {
            if (odec_of(v, kk, &n)) {
                *k = (uint8_t)kk;
                *nlast = n;
                return;
            }
        }
    }
    *k = TSDB__OCHUNK_KNONE;
}

static inline void odec_update(uint8_t *k, int64_t *nlast, double v)
{
    int64_t n;
    if (*k <= TSDB__OCHUNK_KMAX && odec_of(v, *k, &n))
        *nlast = n;
    else
        odec_promote(k, nlast, v);
}


/* nb in 1..64. Fast path: a 64-bit window when 8 bytes are left. */
static inline uint64_t oget(struct tsdb__ochunk_iter *it, unsigned nb)
{
    if ((size_t)it->nbits_read + nb > it->len * 8) {
        it->err = SCRY_ECORRUPT;
        return 0;
    }
    size_t i = it->nbits_read >> 3;
    unsigned off = it->nbits_read & 7;
    if (nb <= 56 && i + 8 <= it->len) {
        it->nbits_read += nb;
        return oload_be(it->b + i) << off >> (64 - nb);
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

static inline int64_t osext(uint64_t v, unsigned nb)
{
    uint64_t m = 1ull << (nb - 1);
    return (int64_t)((v ^ m) - m);
}

static int64_t oget_dod(struct tsdb__ochunk_iter *it)
{
    if (!oget(it, 1))
        return 0;
    if (!oget(it, 1))
        return osext(oget(it, 4), 4);
    if (!oget(it, 1))
        return osext(oget(it, 10), 10);
    if (!oget(it, 1))
        return osext(oget(it, 20), 20);
    return (int64_t)oget(it, 64);
}

/* After '11': a decimal delta. */
static void oget_dec(struct tsdb__ochunk_iter *it)
{
    int64_t dn;
    if (!oget(it, 1))
        dn = osext(oget(it, 7), 7);
    else if (!oget(it, 1))
        dn = osext(oget(it, 14), 14);
    else
        dn = osext(oget(it, 28), 28);
    if (it->k > TSDB__OCHUNK_KMAX) {
        it->err = SCRY_ECORRUPT;
        return;
    }
    it->nlast += dn; /* the encoder checked that N / 10^k is the value */
    it->v = tsdb__fbits((double)it->nlast / op10[it->k]);
}

/* After '10': XOR, '0' in the window or '1' with a new one. */
static void oget_xor(struct tsdb__ochunk_iter *it)
{
    if (oget(it, 1)) {
        it->lead = (uint8_t)oget(it, 5);
        unsigned sig = (unsigned)oget(it, 6);
        it->sig = (uint8_t)(sig ? sig : 64);
    } else if (!it->sig) {
        it->err = SCRY_ECORRUPT;
    }
    if (it->err || it->lead + it->sig > 64) {
        it->err = SCRY_ECORRUPT;
        return;
    }
    it->v ^= oget(it, it->sig) << (64 - it->lead - it->sig);
}

bool ref_ochunk_iter_next(struct tsdb__ochunk_iter *it)
{
    if (it->err || it->i >= it->n)
        return false;
    if (it->i == 0) {
        it->t = (int64_t)oget(it, 64);
        it->v = oget(it, 64);
        it->k = TSDB__OCHUNK_KSTART;
        odec_update(&it->k, &it->nlast, tsdb__bitsf(it->v));
        it->i = 1;
        return !it->err;
    }
    /* Wrapping, not signed overflow: damaged bytes may carry any dod. */
    it->d = (int64_t)((uint64_t)it->d + (uint64_t)oget_dod(it));
    it->t = (int64_t)((uint64_t)it->t + (uint64_t)it->d);
    if (oget(it, 1)) {
        if (oget(it, 1)) {
            oget_dec(it); /* '11': N and k already track the value */
        } else {
            oget_xor(it);
            if (!it->err)
                odec_update(&it->k, &it->nlast, tsdb__bitsf(it->v));
        }
        if (it->err)
            return false;
    }
    it->i++;
    return !it->err;
}

