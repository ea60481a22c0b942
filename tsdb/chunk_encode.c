/* chunk_encode.c — the chunk encoder and the head's chunk appender.
 *
 * The encoder sees a whole chunk and computes the exact size of every value
 * encoding before it writes the smallest one:
 *   CONST  all values bit-identical (22% of rwgen chunks: info, config and
 *          idle series): one compact double, 0 bits per sample.
 *   DEC    value = N / 10^k with N an int64 sequence coded like timestamps
 *          (chunk_iseq.c). k is the smallest exponent for which the division
 *          gives back the value bit for bit; the check runs the decoder's
 *          exact formula, so nothing is assumed about how the producer
 *          printed or parsed the number. Values that fit no k (NaN, the
 *          staleness marker, ±Inf, -0.0, 0.1+0.2, full-precision floats) are
 *          escapes: stored raw, 8 bytes each, and skipped by the integer
 *          coder, so one stale marker does not push a counter back to XOR.
 *          Several k are tried (each distinct per-value minimum): one value
 *          with many digits should become an escape, not scale all others.
 *   BITS   the value's bit pattern read as an int64, coded like DEC's N.
 *          For full-precision floats it beats XOR by 2-3 bits per sample:
 *          no window control bits, and for growing sums (histogram _sum)
 *          the delta is a small distance in ulps.
 *   XOR    Gorilla, as Prometheus; kept for floats that change rarely (a
 *          repeat costs exactly 1 bit).
 * On rwgen 10k data (bench/README.md): DEC 68% of chunks at 0.91 bytes per
 * sample, BITS 9% at 5.7, CONST 22% at 0.12; 1.18 bytes/sample overall, where
 * XOR alone (Prometheus) needs 2.44. */
#include <math.h>

#include "tsdb/chunk_internal.h"

const double tsdb__pow10[TSDB__DEC_KMAX + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
};

size_t tsdb_chunk_max_len(size_t n)
{
    /* Header: kind, n, ts sequence (mode, 4 varints, 4 widths), value params
     * (k, escape count, sequence) < 96 bytes. Per sample: an escape (10 + 8
     * bytes) plus a ts residual (3 + 64 bits) and a value residual (XOR at
     * most 2 + 5 + 6 + 64 bits) < 36 bytes. */
    return 96 + 36 * n;
}

/* ---- decimal analysis --------------------------------------------------- */

static double dec_value(int64_t x, unsigned k)
{
    return (double)x / tsdb__pow10[k]; /* the decoder's formula, exactly */
}

/* llround(s) for |s| < 2^62, inline: libm's call was 6 % of a flush. The
 * truncation is exact, and so is s minus it (its fraction), so the halfway
 * test rounds exactly as llround does: half away from zero. */
static inline int64_t round_half_away(double s)
{
    int64_t x = (int64_t)s;
    double f = s - (double)x;
    if (f >= 0.5)
        x++;
    else if (f <= -0.5)
        x--;
    return x;
}

/* N for v at exponent k when N / 10^k gives back v bit for bit, else false. */
static bool dec_fit(double v, unsigned k, int64_t *x)
{
    double s = v * tsdb__pow10[k];
    if (!(fabs(s) < 0x1p62)) /* also rejects NaN and ±Inf */
        return false;
    *x = round_half_away(s);
    return tsdb__dbits(dec_value(*x, k)) == tsdb__dbits(v);
}

/* The smallest k that represents v, or -1 (-0.0, NaN, ±Inf, too many
 * digits); *x is N at that k. */
static int dec_min_k(double v, int64_t *x)
{
    for (unsigned k = 0; k <= TSDB__DEC_KMAX; k++) {
        if (!(fabs(v * tsdb__pow10[k]) < 0x1p62))
            return -1;
        if (dec_fit(v, k, x))
            return (int)k;
    }
    return -1;
}

struct dec_plan {
    unsigned k;
    uint32_t n_exc;
    uint32_t exc[TSDB_CHUNK_MAX_SAMPLES]; /* escaped sample indices, ascending */
    struct tsdb__iseq seq;
    size_t bits; /* everything but the kind/n/ts header */
};

static size_t exc_bytes(const struct dec_plan *d)
{
    size_t len = d->n_exc ? tsdb__uvarint_len(d->n_exc) : 0;
    for (uint32_t j = 0; j < d->n_exc; j++)
        len += 8 + tsdb__uvarint_len(d->exc[j] - (j ? d->exc[j - 1] + 1 : 0));
    return len;
}

/* Plans DEC at exponent k; false when every value would be an escape.
 * xk[i] is N of value i at its own minimum exponent mink[i]. */
static bool dec_try(struct dec_plan *d, const double *v, const int *mink, const int64_t *xk,
                    uint32_t n, unsigned k)
{
    int64_t x[TSDB_CHUNK_MAX_SAMPLES];
    bool ok[TSDB_CHUNK_MAX_SAMPLES];
    int64_t first = 0;
    bool have = false;
    d->k = k;
    d->n_exc = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (mink[i] == (int)k) {
            x[i] = xk[i];
            ok[i] = true;
        } else {
            ok[i] = mink[i] >= 0 && (unsigned)mink[i] < k && dec_fit(v[i], k, &x[i]);
        }
        if (ok[i] && !have) {
            first = x[i];
            have = true;
        }
    }
    if (!have)
        return false;
    /* An escape repeats the previous N so it adds no residual of its own. */
    int64_t prev = first;
    for (uint32_t i = 0; i < n; i++) {
        if (ok[i]) {
            prev = x[i];
        } else {
            x[i] = prev;
            d->exc[d->n_exc++] = i;
        }
    }
    tsdb__iseq_choose(&d->seq, x, n, 7);
    d->bits = 8 * (1 + exc_bytes(d)) + d->seq.bits;
    return true;
}

/* Best DEC plan over the distinct per-value minimum exponents: *best
 * points at a or b (swapped, not copied: a plan is 6 KiB), or NULL.
 *
 * A plan that cannot cost less than `limit` bits (the cheapest other
 * encoding, when the caller will compare) is of no use, and a plan that
 * cannot beat the best so far would not replace it: both are skipped
 * without being planned. The bound counts what must be escaped at k
 * (values whose own minimum exponent is above k or none; 9 bytes each at
 * least, 1 for the count) and a 2-byte sequence header. Skipping changes
 * no outcome: a skipped plan would have lost every comparison, ties
 * included (an earlier plan wins a tie). It saves most of the planning on
 * chunks that mix exponents (12.3, 12.34, 12.0: k = 0 and 1 escape most
 * values), which was a third of a flush's encoding. */
static void dec_plan(struct dec_plan **best, struct dec_plan *a, struct dec_plan *b,
                     const double *v, uint32_t n, size_t limit)
{
    int mink[TSDB_CHUNK_MAX_SAMPLES];
    int64_t xk[TSDB_CHUNK_MAX_SAMPLES];
    uint32_t at_k[TSDB__DEC_KMAX + 1] = {0}, n_none = 0;
    bool tried[TSDB__DEC_KMAX + 1] = {false};
    struct dec_plan *d = a, *tmp = b;
    *best = NULL;
    for (uint32_t i = 0; i < n; i++) {
        mink[i] = dec_min_k(v[i], &xk[i]);
        if (mink[i] < 0)
            n_none++;
        else
            at_k[mink[i]]++;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (mink[i] < 0 || tried[mink[i]])
            continue;
        unsigned k = (unsigned)mink[i];
        tried[k] = true;
        uint32_t n_exc = n_none;
        for (unsigned j = k + 1; j <= TSDB__DEC_KMAX; j++)
            n_exc += at_k[j];
        size_t lb = 8 * (1 + (n_exc ? 1 + 9 * (size_t)n_exc : 0)) + 16;
        if (lb >= limit || (*best && lb >= (*best)->bits))
            continue;
        if (!dec_try(d, v, mink, xk, n, k))
            continue;
        assert(d->bits >= lb);
        if (!*best || d->bits < (*best)->bits) {
            *best = d;
            d = tmp;
            tmp = *best;
        }
    }
}

/* ---- XOR ------------------------------------------------------------------ */

struct xor_state {
    uint64_t prev;
    unsigned lead, sig;
    bool have_win;
};

/* Writes (w != NULL) or counts the bits of v after st->prev; returns bits. */
static size_t xor_put(struct xor_state *st, double v, struct tsdb__bw *w)
{
    uint64_t x = tsdb__dbits(v) ^ st->prev;
    st->prev = tsdb__dbits(v);
    if (x == 0) {
        if (w)
            tsdb__bw_put(w, 0, 1);
        return 1;
    }
    unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x);
    if (lead > 31)
        lead = 31; /* 5 bits */
    if (st->have_win && lead >= st->lead && trail >= 64 - st->lead - st->sig) {
        unsigned ptrail = 64 - st->lead - st->sig;
        if (w) {
            tsdb__bw_put(w, 2, 2);
            tsdb__bw_put(w, x >> ptrail, st->sig);
        }
        return 2 + st->sig;
    }
    unsigned sig = 64 - lead - trail;
    assert(sig >= 1 && sig <= 64);
    st->lead = lead;
    st->sig = sig;
    st->have_win = true;
    if (w) {
        tsdb__bw_put(w, 3, 2);
        tsdb__bw_put(w, lead, 5);
        tsdb__bw_put(w, sig & 63, 6); /* 64 is written as 0 */
        tsdb__bw_put(w, x >> trail, sig);
    }
    return 13 + sig;
}

static size_t xor_bits(const double *v, uint32_t n)
{
    struct xor_state st = {.prev = tsdb__dbits(v[0])};
    size_t bits = 8 * 8;
    for (uint32_t i = 1; i < n; i++)
        bits += xor_put(&st, v[i], NULL);
    return bits;
}

/* ---- writing -------------------------------------------------------------- */

static void put_le64(struct tsdb__bw *w, uint64_t u)
{
    uint8_t b[8];
    for (unsigned i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (8 * i));
    tsdb__bw_bytes(w, b, 8);
}

/* CONST payload: a decimal tag k and zigzag N when exact, else 8 raw bytes. */
static void put_compact_double(struct tsdb__bw *w, double v)
{
    int64_t x;
    int k = dec_min_k(v, &x);
    if (k >= 0) {
        uint8_t tag = (uint8_t)k;
        tsdb__bw_bytes(w, &tag, 1);
        tsdb__bw_uvarint(w, tsdb__zz(x));
        return;
    }
    uint8_t tag = TSDB__CONST_RAW;
    tsdb__bw_bytes(w, &tag, 1);
    put_le64(w, tsdb__dbits(v));
}

static void put_dec_params(struct tsdb__bw *w, const struct dec_plan *d, const double *v)
{
    assert(d->k <= TSDB__DEC_KMAX);
    uint8_t k = (uint8_t)(d->k | (d->n_exc ? TSDB__DEC_ESC : 0));
    tsdb__bw_bytes(w, &k, 1);
    if (d->n_exc)
        tsdb__bw_uvarint(w, d->n_exc);
    for (uint32_t j = 0; j < d->n_exc; j++) {
        tsdb__bw_uvarint(w, d->exc[j] - (j ? d->exc[j - 1] + 1 : 0));
        put_le64(w, tsdb__dbits(v[d->exc[j]]));
    }
    tsdb__iseq_put_header(&d->seq, w);
}

static bool all_same(const double *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++)
        if (tsdb__dbits(v[i]) != tsdb__dbits(v[0]))
            return false;
    return true;
}

/* The encoder's working set, about 25 KiB; with the helpers' arrays it peaks
 * near 50 KiB of stack (gcc -fstack-usage). That keeps encode allocation-free; a thread that
 * encodes chunks needs a stack of 64 KiB or more. */
struct enc_scratch {
    struct tsdb__iseq ts, bits;
    struct dec_plan dec_a, dec_b;
    int64_t tsx[TSDB_CHUNK_MAX_SAMPLES];
};

static int validate(const int64_t *t_ms, const double *v, size_t n, int venc, const uint8_t *out,
                    size_t cap, const size_t *len, struct scry_err *err)
{
    if (!t_ms || !v || !out || !len || n == 0 || n > TSDB_CHUNK_MAX_SAMPLES)
        return scry_err_set(err, SCRY_EINVAL, "chunk encode: bad arguments (n=%zu)", n);
    if (venc < TSDB_VENC_AUTO || venc >= TSDB_VENC_N_)
        return scry_err_set(err, SCRY_EINVAL, "chunk encode: bad encoding %d", venc);
    if (cap < tsdb_chunk_max_len(n))
        return scry_err_set(err, SCRY_EINVAL, "chunk encode: buffer of %zu bytes < %zu", cap,
                            tsdb_chunk_max_len(n));
    for (size_t i = 1; i < n; i++)
        if (t_ms[i] <= t_ms[i - 1])
            return scry_err_set(err, SCRY_EINVAL, "chunk encode: timestamp %zu not increasing", i);
    return 0;
}

int tsdb_chunk_encode(const int64_t *t_ms, const double *v, size_t n_, int venc, uint8_t *out,
                      size_t cap, size_t *len, struct scry_err *err)
{
    int rc = validate(t_ms, v, n_, venc, out, cap, len, err);
    if (rc)
        return rc;
    uint32_t n = (uint32_t)n_;
    struct enc_scratch s;
    memcpy(s.tsx, t_ms, n * sizeof *t_ms);
    tsdb__iseq_choose(&s.ts, s.tsx, n, 6); /* orders 1 and 2 */

    bool same = all_same(v, n);
    if (venc == TSDB_VENC_CONST && !same)
        return scry_err_set(err, SCRY_EINVAL, "chunk encode: values are not constant");
    size_t xb = 0;
    if (venc == TSDB_VENC_BITS || (venc == TSDB_VENC_AUTO && !same)) {
        for (uint32_t i = 0; i < n; i++)
            s.tsx[i] = (int64_t)tsdb__dbits(v[i]); /* ts is chosen: reuse */
        tsdb__iseq_choose(&s.bits, s.tsx, n, 7);
        xb = xor_bits(v, n);
    }
    const struct dec_plan *dec = NULL;
    if (venc == TSDB_VENC_DEC || (venc == TSDB_VENC_AUTO && !same)) {
        /* AUTO takes DEC only below both others: dec < xb, dec <= bits. */
        size_t limit = SIZE_MAX;
        if (venc == TSDB_VENC_AUTO)
            limit = xb < s.bits.bits + 1 ? xb : s.bits.bits + 1;
        struct dec_plan *best;
        dec_plan(&best, &s.dec_a, &s.dec_b, v, n, limit);
        dec = best;
        if (!dec && venc == TSDB_VENC_DEC)
            return scry_err_set(err, SCRY_EINVAL, "chunk encode: no value is decimal");
    }
    if (venc == TSDB_VENC_AUTO) {
        if (same)
            venc = TSDB_VENC_CONST;
        else if (dec && dec->bits < xb && dec->bits <= s.bits.bits)
            venc = TSDB_VENC_DEC;
        else if (s.bits.bits < xb)
            venc = TSDB_VENC_BITS;
        else
            venc = TSDB_VENC_XOR;
    }

    struct tsdb__bw w = {.p = out, .cap = cap};
    uint8_t kind = (uint8_t)(TSDB_CHUNK_FLOAT << TSDB__KIND_SHIFT | (unsigned)venc);
    tsdb__bw_bytes(&w, &kind, 1);
    tsdb__bw_uvarint(&w, n);
    tsdb__iseq_put_header(&s.ts, &w);
    struct xor_state xs = {.prev = tsdb__dbits(v[0])};
    if (venc == TSDB_VENC_CONST)
        put_compact_double(&w, v[0]);
    else if (venc == TSDB_VENC_XOR)
        put_le64(&w, xs.prev);
    else if (venc == TSDB_VENC_BITS)
        tsdb__iseq_put_header(&s.bits, &w);
    else
        put_dec_params(&w, dec, v);
    for (uint32_t i = 1; i < n; i++) {
        if (i >= s.ts.start)
            tsdb__iseq_put(&s.ts, i, &w);
        if (venc == TSDB_VENC_XOR)
            xor_put(&xs, v[i], &w);
        else if (venc == TSDB_VENC_DEC && i >= dec->seq.start)
            tsdb__iseq_put(&dec->seq, i, &w);
        else if (venc == TSDB_VENC_BITS && i >= s.bits.start)
            tsdb__iseq_put(&s.bits, i, &w);
    }
    tsdb__bw_flush(&w);
    assert(w.len <= tsdb_chunk_max_len(n));
    *len = w.len;
    return 0;
}

int tsdb_chunk_info(const uint8_t *p, size_t len, struct tsdb_chunk_info *info)
{
    const uint8_t *q = p, *end = p + len;
    uint64_t n;
    /* Only float chunks exist; a histogram kind's header is not defined yet. */
    if (!p || len < 1 || (p[0] & TSDB__KIND_RESERVED) || (p[0] >> TSDB__KIND_SHIFT) != TSDB_CHUNK_FLOAT ||
        (p[0] & TSDB__VENC_MASK) >= TSDB_VENC_N_)
        return SCRY_ECORRUPT;
    q++;
    if (tsdb__get_uvarint(&q, end, &n) || n == 0 || n > TSDB_CHUNK_MAX_SAMPLES)
        return SCRY_ECORRUPT;
    struct tsdb__iseq_dec d;
    if (tsdb__iseq_get_header(&d, (uint32_t)n, &q, end))
        return SCRY_ECORRUPT;
    info->kind = p[0] >> TSDB__KIND_SHIFT;
    info->venc = p[0] & TSDB__VENC_MASK;
    info->n = (uint32_t)n;
    info->mint_ms = d.x0;
    return 0;
}

/* ---- appender ------------------------------------------------------------- */

void tsdb_chunk_appender_init(struct tsdb_chunk_appender *app)
{
    app->n = 0;
}

int tsdb_chunk_append(struct tsdb_chunk_appender *app, int64_t t_ms, double v, struct scry_err *err)
{
    assert(app->n <= TSDB_CHUNK_APPEND_CAP);
    if (app->n == TSDB_CHUNK_APPEND_CAP)
        return scry_err_set(err, SCRY_ELIMIT, "chunk appender full (%d samples)", TSDB_CHUNK_APPEND_CAP);
    if (app->n > 0 && t_ms <= app->t_ms[app->n - 1])
        return scry_err_set(err, SCRY_EINVAL, "sample at %lld ms is not after %lld ms", (long long)t_ms,
                            (long long)app->t_ms[app->n - 1]);
    app->t_ms[app->n] = t_ms;
    app->v[app->n] = v;
    app->n++;
    return 0;
}

int tsdb_chunk_appender_cut(struct tsdb_chunk_appender *app, uint8_t *out, size_t cap, size_t *len,
                            struct scry_err *err)
{
    if (app->n == 0)
        return scry_err_set(err, SCRY_EINVAL, "chunk appender is empty");
    int rc = tsdb_chunk_encode(app->t_ms, app->v, app->n, TSDB_VENC_AUTO, out, cap, len, err);
    if (rc == 0)
        app->n = 0;
    return rc;
}
