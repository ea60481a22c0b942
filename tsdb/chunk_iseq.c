/* chunk_iseq.c — the integer-sequence coder behind timestamps and decimal
 * values (FORMAT.md "Integer sequences").
 *
 * Why a search instead of Gorilla's fixed buckets: the encoder sees the whole
 * chunk (120 samples), so it can afford to try every difference order (raw,
 * delta, delta-of-delta), both transforms (zigzag, or an offset by the
 * minimum, which saves the sign bit for counters whose deltas are all
 * positive) and every set of up to four bucket widths drawn from the bit
 * lengths that occur. Costs come from a 65-bin histogram of bit lengths and
 * are exact, so the choice is optimal within the format. A common gcd of the
 * residuals is divided out: memory gauges move in pages of 4096 bytes, which
 * saves 12 bits per sample on them. On rwgen 10k data the timestamps of a
 * regular scrape cost 0 bits per sample (one bucket of width 0) and
 * 8-10 header bytes per chunk; see bench/README.md for the value side. */
#include <stddef.h>

#include "tsdb/chunk_internal.h"

/* Code length of bucket b when there are nb buckets (0, 10, 110, 111). */
static unsigned code_len(unsigned b, unsigned nb)
{
    assert(b < nb && nb >= 1 && nb <= 4);
    return b + 1 < nb ? b + 1 : nb - 1;
}

/* Binary gcd: no divisions (Euclid's % cost ~9 % of a flush). */
static uint64_t gcd64(uint64_t a, uint64_t b)
{
    if (!a || !b)
        return a | b;
    unsigned sh = (unsigned)__builtin_ctzll(a | b);
    a >>= __builtin_ctzll(a);
    do {
        b >>= __builtin_ctzll(b);
        if (a > b) {
            uint64_t t = a;
            a = b;
            b = t;
        }
        b -= a;
    } while (b);
    return a << sh;
}

static uint64_t uabs64(int64_t x)
{
    return x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
}

/* Best bucket widths for the histogram hist[0..64] of residual bit lengths;
 * returns the residual bits and fills nb, w. Widths are chosen among the
 * lengths present; the widest bucket is always the longest length. */
static size_t choose_buckets(const uint32_t *hist, uint8_t *nb_out, uint8_t *w)
{
    unsigned L[65], nl = 0;
    uint32_t cnt[65];
    for (unsigned b = 0; b <= 64; b++) {
        if (hist[b]) {
            L[nl] = b;
            cnt[nl++] = hist[b];
        }
    }
    if (nl == 0) { /* no residuals */
        *nb_out = 1;
        w[0] = 0;
        return 0;
    }
    /* pre[j] = samples with length index < j. */
    uint64_t pre[66];
    pre[0] = 0;
    for (unsigned j = 0; j < nl; j++)
        pre[j + 1] = pre[j] + cnt[j];
    size_t best = (size_t)pre[nl] * L[nl - 1];
    *nb_out = 1;
    w[0] = (uint8_t)L[nl - 1];
    /* A set of cut indices c0 < c1 < c2 < nl-1 into L; bucket b holds the
     * lengths up to L[c_b]. Enumerate 1, 2 and 3 cuts. */
    unsigned top = nl - 1;
    for (unsigned a = 0; a < top; a++) {
        size_t c2 = (size_t)pre[a + 1] * (1 + L[a]) + (size_t)(pre[nl] - pre[a + 1]) * (1 + L[top]);
        if (c2 < best) {
            best = c2;
            *nb_out = 2;
            w[0] = (uint8_t)L[a];
            w[1] = (uint8_t)L[top];
        }
        for (unsigned b = a + 1; b < top; b++) {
            size_t c3 = (size_t)pre[a + 1] * (1 + L[a]) + (size_t)(pre[b + 1] - pre[a + 1]) * (2 + L[b]) +
                        (size_t)(pre[nl] - pre[b + 1]) * (2 + L[top]);
            if (c3 < best) {
                best = c3;
                *nb_out = 3;
                w[0] = (uint8_t)L[a];
                w[1] = (uint8_t)L[b];
                w[2] = (uint8_t)L[top];
            }
            for (unsigned c = b + 1; c < top; c++) {
                size_t c4 = (size_t)pre[a + 1] * (1 + L[a]) + (size_t)(pre[b + 1] - pre[a + 1]) * (2 + L[b]) +
                            (size_t)(pre[c + 1] - pre[b + 1]) * (3 + L[c]) +
                            (size_t)(pre[nl] - pre[c + 1]) * (3 + L[top]);
                if (c4 < best) {
                    best = c4;
                    *nb_out = 4;
                    w[0] = (uint8_t)L[a];
                    w[1] = (uint8_t)L[b];
                    w[2] = (uint8_t)L[c];
                    w[3] = (uint8_t)L[top];
                }
            }
        }
    }
    return best;
}

static size_t header_bytes(const struct tsdb__iseq *s)
{
    bool flat = s->nb == 1 && s->w[0] == 0;
    size_t len = 1 + tsdb__uvarint_len(tsdb__zz(s->x0)) + (flat ? 0 : s->nb);
    if (s->order == 2 && s->n >= 2)
        len += tsdb__uvarint_len(tsdb__zz(s->d1));
    if (s->g > 1)
        len += tsdb__uvarint_len(s->g);
    if (s->use_for)
        len += tsdb__uvarint_len(tsdb__zz(s->min));
    return len;
}

/* The gcd of |r[start..n)| (0 when all are 0). Most residuals are
 * multiples of the gcd so far, which a multiply by the inverse of its odd
 * part tells (Granlund and Montgomery); the gcd itself is recomputed only
 * when it shrinks, at most 64 times, and the scan stops once it is 1. */
static uint64_t residual_gcd(const int64_t *r, uint32_t start, uint32_t n, uint64_t *inv_out,
                             unsigned *sh_out)
{
    uint64_t g = 0, inv = 0, lim = 0, low = 0;
    unsigned sh = 0;
    for (uint32_t i = start; i < n && g != 1; i++) {
        uint64_t a = uabs64(r[i]);
        if (!a || (g && !(a & low) && (a >> sh) * inv <= lim))
            continue; /* g divides a */
        g = gcd64(g, a);
        sh = (unsigned)__builtin_ctzll(g);
        low = ((uint64_t)1 << sh) - 1;
        uint64_t o = g >> sh;
        inv = o; /* Newton: each step doubles the correct low bits (3 -> 96) */
        for (int k = 0; k < 5; k++)
            inv *= 2 - o * inv;
        assert(o * inv == 1);
        lim = UINT64_MAX / o;
    }
    *inv_out = inv;
    *sh_out = sh;
    return g;
}

/* x / g for a multiple x of g = o << sh (o odd, inv its inverse mod 2^64):
 * exact, so a shift and a multiply do it instead of a 64-bit idiv. */
static inline int64_t div_exact(int64_t x, unsigned sh, uint64_t inv)
{
    return (int64_t)((uint64_t)(x >> sh) * inv);
}

/* Fills s (but not s->u) for one order: residuals r[start..n) divided by
 * their gcd, then the cheaper transform. */
static void try_order(struct tsdb__iseq *s, const int64_t *x, uint32_t n, unsigned order, int64_t *r)
{
    s->order = (uint8_t)order;
    s->n = n;
    s->x0 = x[0];
    s->d1 = n >= 2 ? (int64_t)((uint64_t)x[1] - (uint64_t)x[0]) : 0;
    s->start = order == 2 ? 2 : 1;
    /* The minimum is taken before the division, which is exact and keeps
     * the order (g > 0). */
    int64_t mn = INT64_MAX;
    if (order == 0) {
        for (uint32_t i = s->start; i < n; i++) {
            r[i] = x[i];
            mn = r[i] < mn ? r[i] : mn;
        }
    } else if (order == 1) {
        for (uint32_t i = s->start; i < n; i++) {
            r[i] = (int64_t)((uint64_t)x[i] - (uint64_t)x[i - 1]);
            mn = r[i] < mn ? r[i] : mn;
        }
    } else {
        for (uint32_t i = s->start; i < n; i++) {
            r[i] = (int64_t)((uint64_t)x[i] - 2 * (uint64_t)x[i - 1] + (uint64_t)x[i - 2]);
            mn = r[i] < mn ? r[i] : mn;
        }
    }
    uint64_t inv;
    unsigned sh;
    uint64_t g = residual_gcd(r, s->start, n, &inv, &sh);
    if (g == 0 || g > (uint64_t)INT64_MAX)
        g = 1;
    if (g > 1) {
        for (uint32_t i = s->start; i < n; i++)
            r[i] = div_exact(r[i], sh, inv); /* g divides every residual */
        mn = div_exact(mn, sh, inv);
    }
    s->g = g;
    uint32_t hz[65] = {0}, hf[65] = {0};
    for (uint32_t i = s->start; i < n; i++) {
        hz[tsdb__bitlen(tsdb__zz(r[i]))]++;
        hf[tsdb__bitlen((uint64_t)r[i] - (uint64_t)mn)]++;
    }
    uint8_t nbz, wz[4], nbf, wf[4];
    size_t bz = choose_buckets(hz, &nbz, wz);
    size_t bf = choose_buckets(hf, &nbf, wf);
    /* The FOR offset costs a varint; compare whole costs. */
    s->use_for = 0;
    s->nb = nbz;
    memcpy(s->w, wz, 4);
    s->min = 0;
    size_t costz = bz + 8 * header_bytes(s);
    s->use_for = 1;
    s->nb = nbf;
    memcpy(s->w, wf, 4);
    s->min = mn;
    size_t costf = bf + 8 * header_bytes(s);
    if (costz <= costf) {
        s->use_for = 0;
        s->nb = nbz;
        memcpy(s->w, wz, 4);
        s->min = 0;
        s->bits = costz;
    } else {
        s->bits = costf;
    }
}

void tsdb__iseq_choose(struct tsdb__iseq *s, const int64_t *x, uint32_t n, unsigned orders_mask)
{
    assert(n >= 1 && n <= TSDB_CHUNK_MAX_SAMPLES);
    assert(orders_mask != 0 && orders_mask < 8);
    /* The residuals of the best order so far and of the one being tried;
     * only the winner's are transformed into s->u, and only the header
     * fields are copied when an order wins (u is 4 KiB). */
    int64_t ra[TSDB_CHUNK_MAX_SAMPLES], rb[TSDB_CHUNK_MAX_SAMPLES];
    int64_t *r = ra, *rt = rb;
    struct tsdb__iseq tmp;
    bool have = false;
    for (unsigned order = 0; order < 3; order++) {
        if (!(orders_mask & (1u << order)))
            continue;
        if (!have) {
            try_order(s, x, n, order, r);
            have = true;
            continue;
        }
        try_order(&tmp, x, n, order, rt);
        if (tmp.bits < s->bits) {
            memcpy(s, &tmp, offsetof(struct tsdb__iseq, u));
            int64_t *q = r;
            r = rt;
            rt = q;
        }
    }
    for (uint32_t i = s->start; i < n; i++)
        s->u[i] = s->use_for ? (uint64_t)r[i] - (uint64_t)s->min : tsdb__zz(r[i]);
    assert(s->nb >= 1 && s->nb <= 4 && s->g >= 1);
}

void tsdb__iseq_put_header(const struct tsdb__iseq *s, struct tsdb__bw *w)
{
    assert(w->nacc == 0);
    uint8_t mode = (uint8_t)(s->order | ((s->nb - 1u) << TSDB__ISEQ_NB_SHIFT));
    if (s->use_for)
        mode |= TSDB__ISEQ_FOR;
    if (s->g > 1)
        mode |= TSDB__ISEQ_GCD;
    bool flat = s->nb == 1 && s->w[0] == 0;
    if (flat)
        mode |= TSDB__ISEQ_FLAT;
    tsdb__bw_bytes(w, &mode, 1);
    tsdb__bw_uvarint(w, tsdb__zz(s->x0));
    if (s->order == 2 && s->n >= 2)
        tsdb__bw_uvarint(w, tsdb__zz(s->d1));
    if (s->g > 1)
        tsdb__bw_uvarint(w, s->g);
    if (s->use_for)
        tsdb__bw_uvarint(w, tsdb__zz(s->min));
    if (!flat)
        tsdb__bw_bytes(w, s->w, s->nb);
}

void tsdb__iseq_put(const struct tsdb__iseq *s, uint32_t i, struct tsdb__bw *w)
{
    assert(i >= s->start && i < s->n);
    uint64_t u = s->u[i];
    unsigned len = tsdb__bitlen(u), b = 0;
    while (s->w[b] < len) {
        b++;
        assert(b < s->nb);
    }
    /* Prefix: b ones then a zero, except the last bucket has no zero. */
    unsigned cl = code_len(b, s->nb), wb = s->w[b];
    uint64_t code = b + 1 < s->nb ? (((uint64_t)1 << cl) - 2) : (((uint64_t)1 << cl) - 1);
    if (!cl) {
        tsdb__bw_put(w, u, wb);
    } else if (cl + wb <= 64) { /* one put: u < 2^wb */
        tsdb__bw_put(w, code << wb | u, cl + wb);
    } else {
        tsdb__bw_put(w, code, cl);
        tsdb__bw_put(w, u, wb);
    }
}

/* By the number of buckets and the next 3 bits: the bucket the prefix code
 * (ones then a zero; nb - 1 ones pick the last) chooses, and its length,
 * which depends only on its own first bits (the code is prefix-free). */
static const uint8_t bucket_of[4][8] = {
    {0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 1, 1, 1, 1}, {0, 0, 0, 0, 1, 1, 2, 2}, {0, 0, 0, 0, 1, 1, 2, 3},
};
static const uint8_t code_len_of[4][8] = {
    {0, 0, 0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 2, 2, 2, 2}, {1, 1, 1, 1, 2, 2, 3, 3},
};

int tsdb__iseq_get_header(struct tsdb__iseq_dec *d, uint32_t n, const uint8_t **p, const uint8_t *end)
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
    /* The decode table: for each value c of the next 3 bits, the length
     * of the prefix code and the width of the bucket it picks. */
    memcpy(d->tcl, code_len_of[d->nb - 1], 8);
    for (unsigned c = 0; c < 8; c++) {
        d->tw[c] = d->w[bucket_of[d->nb - 1][c]];
        d->tsh[c] = (uint8_t)((63 - d->tw[c]) & 63);
    }
    d->zs = d->use_for ? 0 : 1;
    d->add = d->use_for ? (uint64_t)d->min : 0;
    d->m1 = d->order >= 1 ? ~(uint64_t)0 : 0;
    d->m2 = d->order == 2 ? ~(uint64_t)0 : 0;
    d->x = d->x0;
    d->d = 0;
    return 0;
}
