/* chunk_iter.c — the chunk decoder: a forward iterator in caller storage.
 *
 * init parses and validates the whole header (widths, gcd, escape list), so
 * next() only reads the interleaved bit stream: per sample, a timestamp
 * residual and a value residual. Every byte read is checked against the end
 * of the chunk; any inconsistency (a short stream, a timestamp that does not
 * increase, a reserved bit, trailing bytes) ends the iteration with
 * SCRY_ECORRUPT, which stays set. Decoding a 120-sample chunk touches only
 * the iterator and the chunk bytes: no allocation, no random access.
 * Speeds are in bench/README.md. */
#include "tsdb/chunk_internal.h"

static bool fail(struct tsdb_chunk_iter *it)
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
static int exc_peek(struct tsdb_chunk_iter *it, uint32_t after, const uint8_t *end)
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
static int exc_take(struct tsdb_chunk_iter *it, const uint8_t *end)
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

static int parse_values(struct tsdb_chunk_iter *it, const uint8_t **q, const uint8_t *end)
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
        if (tsdb__iseq_get_header(&it->val, it->n, q, end))
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
        return tsdb__iseq_get_header(&it->val, it->n, q, end);
    }
    default:
        return -1;
    }
}

void tsdb_chunk_iter_init(struct tsdb_chunk_iter *it, const uint8_t *p, size_t len)
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
    if (tsdb__iseq_get_header(&it->ts, it->n, &q, end) || it->ts.order == 0 ||
        parse_values(it, &q, end)) {
        fail(it);
        return;
    }
    it->br.p = q;
    it->br.end = end;
}

/* XOR: '0' repeat, '10' + sig bits in the window, '11' + 5 bits lead + 6
 * bits sig (0 means 64) + sig bits. */
static inline __attribute__((always_inline)) bool xor_step(struct tsdb__br *r, uint64_t *vbits,
                                                           uint8_t *lead, uint8_t *sig, uint8_t *have_win)
{
    if (r->cnt < 13)
        tsdb__br_fill(r);
    if (r->cnt < 1)
        return false;
    if (!(r->buf >> 63)) {
        tsdb__br_take(r, 1);
        return true;
    }
    if (r->cnt < 2)
        return false;
    uint64_t x;
    if (tsdb__br_take(r, 2) & 1) {
        if (r->cnt < 11)
            return false;
        unsigned l = (unsigned)tsdb__br_take(r, 5), s = (unsigned)tsdb__br_take(r, 6);
        if (s == 0)
            s = 64;
        if (l + s > 64)
            return false;
        *lead = (uint8_t)l;
        *sig = (uint8_t)s;
        *have_win = 1;
    } else if (!*have_win) {
        return false;
    }
    if (tsdb__br_get_cold(r, *sig, &x))
        return false;
    *vbits ^= x << (64 - *lead - *sig);
    return true;
}

static bool step_value(struct tsdb_chunk_iter *it)
{
    const uint8_t *end = it->br.end;
    switch (it->venc) {
    case TSDB_VENC_CONST:
        return true;
    case TSDB_VENC_XOR:
        return xor_step(&it->br, &it->vbits, &it->lead, &it->sig, &it->have_win);
    case TSDB_VENC_BITS:
        if (tsdb__iseq_next(&it->val, &it->br, it->i))
            return false;
        it->vbits = (uint64_t)it->val.x;
        return true;
    default: /* DEC */
        if (tsdb__iseq_next(&it->val, &it->br, it->i))
            return false;
        if (it->i == it->exc_next)
            return exc_take(it, end) == 0;
        it->vbits = tsdb__dbits((double)it->val.x / it->scale);
        return true;
    }
}

static bool next_one(struct tsdb_chunk_iter *it)
{
    if (it->err || it->i >= it->n)
        return false;
    if (it->i == 0) {
        it->t_ms = it->ts.x0;
        if (it->venc == TSDB_VENC_DEC) {
            if (it->exc_next == 0) {
                if (exc_take(it, it->br.end))
                    return fail(it);
            } else {
                it->vbits = tsdb__dbits((double)it->val.x0 / it->scale);
            }
        }
    } else {
        int64_t prev = it->t_ms;
        if (tsdb__iseq_next(&it->ts, &it->br, it->i) || it->ts.x <= prev)
            return fail(it);
        it->t_ms = it->ts.x;
        if (!step_value(it))
            return fail(it);
    }
    it->v = tsdb__bitsd(it->vbits);
    it->i++;
    if (it->i == it->n && !tsdb__br_clean_end(&it->br)) {
        /* The last sample is fine, but the bytes say more was meant. */
        it->err = SCRY_ECORRUPT;
        return false;
    }
    return true;
}

bool tsdb_chunk_iter_next(struct tsdb_chunk_iter *it)
{
    return next_one(it);
}

/* The batch decoder: samples from it->i >= 2 (both sequences past their
 * header values) straight into t[] and v[], with the reader and the
 * sequence state in locals. One instance per value encoding and for
 * timestamps with or without residual bits (a regular scrape has none), so
 * the loop carries no per-sample switch. Same checks and results as
 * next_one, sample for sample. */
static inline __attribute__((always_inline)) size_t run(struct tsdb_chunk_iter *it, int64_t *t, double *v,
                                                        size_t cap, const int venc, const bool ts_flat)
{
    /* Locals whose address never escapes: stores to t[] (int64_t) may not
     * alias them, so they stay in registers. */
    struct tsdb__br r = it->br;
    const struct tsdb__iseq_dec tsl = it->ts, vall = it->val, *ts = &tsl, *val = &vall;
    uint64_t tx = (uint64_t)ts->x, td = (uint64_t)ts->d, tm2 = ts->m2, flat_r = ts->flat_r;
    uint64_t vx = (uint64_t)val->x, vd = (uint64_t)val->d, vm1 = val->m1, vm2 = val->m2;
    uint64_t vbits = it->vbits;
    uint8_t lead = it->lead, sig = it->sig, have_win = it->have_win;
    const double scale = it->scale;
    uint32_t exc_next = it->exc_next;
    uint32_t i = it->i, stop = it->n - i > cap ? i + (uint32_t)cap : it->n;
    size_t n = 0;
    assert(i >= 2);
    for (; i < stop; i++) {
        uint64_t res;
        if (ts_flat) {
            res = flat_r;
        } else if (tsdb__iseq_read(ts, &r, &res)) {
            goto bad;
        }
        td = (td & tm2) + res; /* timestamps: order 1 or 2 */
        if ((int64_t)(tx + td) <= (int64_t)tx)
            goto bad;
        tx += td;
        switch (venc) {
        case TSDB_VENC_CONST:
            break;
        case TSDB_VENC_XOR:
            if (!xor_step(&r, &vbits, &lead, &sig, &have_win))
                goto bad;
            break;
        case TSDB_VENC_BITS:
            if (tsdb__iseq_read(val, &r, &res))
                goto bad;
            vd = (vd & vm2) + res;
            vx = (vx & vm1) + vd;
            vbits = vx;
            break;
        default: /* DEC */
            if (tsdb__iseq_read(val, &r, &res))
                goto bad;
            vd = (vd & vm2) + res;
            vx = (vx & vm1) + vd;
            if (__builtin_expect(i == exc_next, 0)) {
                it->i = i;
                if (exc_take(it, r.end))
                    goto bad;
                vbits = it->vbits;
                exc_next = it->exc_next;
            } else {
                vbits = tsdb__dbits((double)(int64_t)vx / scale);
            }
            break;
        }
        t[n] = (int64_t)tx;
        v[n++] = tsdb__bitsd(vbits);
    }
    it->br = r;
    it->ts.x = (int64_t)tx;
    it->ts.d = (int64_t)td;
    it->val.x = (int64_t)vx;
    it->val.d = (int64_t)vd;
    it->vbits = vbits;
    it->lead = lead;
    it->sig = sig;
    it->have_win = have_win;
    it->i = i;
    if (n > 0) {
        it->t_ms = (int64_t)tx;
        it->v = tsdb__bitsd(vbits);
        if (i == it->n && !tsdb__br_clean_end(&r)) {
            it->err = SCRY_ECORRUPT; /* as next_one: the last sample is not returned */
            n--;
        }
    }
    return n;
bad:
    fail(it);
    return n;
}

/* The value transform of run_flat, fixed per instance where the gcd is 1
 * (the common case): frame of reference u + min, or zigzag. */
enum { XF_ANY, XF_FOR1, XF_ZZ1 };

static inline __attribute__((always_inline)) uint64_t xform(const struct tsdb__iseq_dec *d, uint64_t u,
                                                            const int xf)
{
    switch (xf) {
    case XF_FOR1: return u + d->add;
    case XF_ZZ1: return (u >> 1) ^ (0 - (u & 1));
    default: return tsdb__iseq_xform(d, u);
    }
}

static int xform_kind(const struct tsdb__iseq_dec *d)
{
    if (d->g != 1)
        return XF_ANY;
    return d->zs ? (d->add == 0 ? XF_ZZ1 : XF_ANY) : XF_FOR1;
}

/* run() for flat timestamps with a constant step (order 1, or order 2
 * whose residual is 0: a regular scrape), which have no bits in the
 * stream: t[] is an arithmetic sequence written by a loop of its own, and
 * the value loop carries only the value decoder (~50 -> ~35 instructions a
 * DEC sample, as fewer live values stay in registers; ~30 with the
 * transform fixed per instance). DEC escapes split the value loop into
 * runs, so it has no per-sample escape test. Returns SIZE_MAX, having done
 * nothing, when a timestamp would not increase (a step <= 0, or the sum
 * overflows), for run() to find and report. */
static inline __attribute__((always_inline)) size_t run_flat(struct tsdb_chunk_iter *it, int64_t *t,
                                                             double *v, size_t cap, const int venc,
                                                             const int xf)
{
    uint32_t i = it->i, stop = it->n - i > cap ? i + (uint32_t)cap : it->n;
    uint64_t td = ((uint64_t)it->ts.d & it->ts.m2) + it->ts.flat_r;
    int64_t tx0 = it->ts.x;
    size_t cnt = stop - i;
    assert(i >= 2 && it->ts.flat && (it->ts.m2 == 0 || it->ts.flat_r == 0));
    if ((int64_t)td <= 0 || ((uint64_t)INT64_MAX - (uint64_t)tx0) / td < cnt)
        return SIZE_MAX;
    int64_t tx = tx0;
    for (size_t k = 0; k < cnt; k++) {
        tx += (int64_t)td;
        t[k] = tx;
    }
    struct tsdb__br r = it->br;
    const struct tsdb__iseq_dec vall = it->val, *val = &vall;
    uint64_t vx = (uint64_t)val->x, vd = (uint64_t)val->d;
    const uint64_t vm1 = val->m1, vm2 = val->m2;
    uint64_t vbits = it->vbits;
    size_t n = 0;
    switch (venc) {
    case TSDB_VENC_CONST: {
        double c = tsdb__bitsd(vbits);
        for (; n < cnt; n++)
            v[n] = c;
        break;
    }
    case TSDB_VENC_BITS:
        for (; n < cnt; n++) {
            uint64_t u;
            if (tsdb__iseq_read_raw(val, &r, &u))
                goto bad;
            vd = (vd & vm2) + xform(val, u, xf);
            vx = (vx & vm1) + vd;
            v[n] = tsdb__bitsd(vx);
        }
        vbits = vx;
        break;
    default: { /* DEC */
        const double scale = it->scale;
        for (;;) {
            /* samples before the next escape (exc_next is past stop when none) */
            size_t seg = it->exc_next < stop ? it->exc_next - i : cnt;
            for (; n < seg; n++) {
                uint64_t u;
                if (tsdb__iseq_read_raw(val, &r, &u))
                    goto bad;
                vd = (vd & vm2) + xform(val, u, xf);
                vx = (vx & vm1) + vd;
                v[n] = (double)(int64_t)vx / scale;
            }
            if (n == cnt)
                break;
            uint64_t res; /* an escape: the residual is there all the same */
            if (tsdb__iseq_read(val, &r, &res))
                goto bad;
            vd = (vd & vm2) + res;
            vx = (vx & vm1) + vd;
            it->i = i + (uint32_t)n;
            if (exc_take(it, r.end))
                goto bad;
            v[n++] = tsdb__bitsd(it->vbits);
        }
        vbits = tsdb__dbits(v[n - 1]);
        break;
    }
    }
    assert(n == cnt && n > 0);
    it->br = r;
    it->ts.x = tx;
    it->ts.d = (int64_t)td;
    it->val.x = (int64_t)vx;
    it->val.d = (int64_t)vd;
    it->vbits = vbits;
    it->i = stop;
    it->t_ms = tx;
    it->v = v[n - 1];
    if (stop == it->n && !tsdb__br_clean_end(&r)) {
        it->err = SCRY_ECORRUPT; /* as next_one: the last sample is not returned */
        n--;
    }
    return n;
bad:
    fail(it);
    return n;
}

size_t tsdb_chunk_iter_next_n(struct tsdb_chunk_iter *it, int64_t *t, double *v, size_t cap)
{
    size_t n = 0;
    while (n < cap && it->i < 2 && next_one(it)) {
        t[n] = it->t_ms;
        v[n++] = it->v;
    }
    if (n == cap || it->err || it->i >= it->n)
        return n;
    bool flat = it->ts.flat;
    if (flat && (it->ts.m2 == 0 || it->ts.flat_r == 0)) {
        size_t got = SIZE_MAX;
        int xf = xform_kind(&it->val);
        switch (it->venc) {
        case TSDB_VENC_CONST: got = run_flat(it, t + n, v + n, cap - n, TSDB_VENC_CONST, XF_ANY); break;
        case TSDB_VENC_BITS: got = run_flat(it, t + n, v + n, cap - n, TSDB_VENC_BITS, XF_ANY); break;
        case TSDB_VENC_DEC:
            got = xf == XF_FOR1 ? run_flat(it, t + n, v + n, cap - n, TSDB_VENC_DEC, XF_FOR1)
                : xf == XF_ZZ1  ? run_flat(it, t + n, v + n, cap - n, TSDB_VENC_DEC, XF_ZZ1)
                                : run_flat(it, t + n, v + n, cap - n, TSDB_VENC_DEC, XF_ANY);
            break;
        default: break; /* XOR: its own reader state, rare */
        }
        if (got != SIZE_MAX)
            return n + got;
    }
    switch (it->venc) {
    case TSDB_VENC_CONST:
        return n + (flat ? run(it, t + n, v + n, cap - n, TSDB_VENC_CONST, true)
                         : run(it, t + n, v + n, cap - n, TSDB_VENC_CONST, false));
    case TSDB_VENC_XOR:
        return n + (flat ? run(it, t + n, v + n, cap - n, TSDB_VENC_XOR, true)
                         : run(it, t + n, v + n, cap - n, TSDB_VENC_XOR, false));
    case TSDB_VENC_BITS:
        return n + (flat ? run(it, t + n, v + n, cap - n, TSDB_VENC_BITS, true)
                         : run(it, t + n, v + n, cap - n, TSDB_VENC_BITS, false));
    default:
        return n + (flat ? run(it, t + n, v + n, cap - n, TSDB_VENC_DEC, true)
                         : run(it, t + n, v + n, cap - n, TSDB_VENC_DEC, false));
    }
}

bool tsdb_chunk_iter_seek(struct tsdb_chunk_iter *it, int64_t t_ms)
{
    if (it->err)
        return false;
    if (it->i > 0 && it->t_ms >= t_ms)
        return true;
    while (tsdb_chunk_iter_next(it))
        if (it->t_ms >= t_ms)
            return true;
    return false;
}

void tsdb_chunk_iter_at(const struct tsdb_chunk_iter *it, int64_t *t_ms, double *v)
{
    assert(it->i > 0 && !it->err);
    *t_ms = it->t_ms;
    *v = it->v;
}

int tsdb_chunk_iter_err(const struct tsdb_chunk_iter *it)
{
    return it->err;
}
