/* fpset.c — see fpset.h and FORMAT.md "Fingerprints".
 *
 * Why Golomb-Rice over sorted hashes: n uniform b-bit values with
 * b = ceil(log2 n) + k have gaps of ~2^k, so a gap costs k + ~1.5 bits,
 * close to the information bound of a set with that false-positive rate;
 * the chunk id rides along in c = bits(n_chunks - 1) bits. One set for the
 * whole segment (not one per chunk) keeps a probe at one group's decode. */
#include "logstore/fpset.h"

#include <stdlib.h>
#include <string.h>

#include "core/labels.h"
#include "core/mem.h"
#include "logstore/format.h"

bool ls__all_hex(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

bool ls__is_hexid(const char *p, size_t len)
{
    if (len < LS_HEXID_MIN)
        return false;
    bool digit = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9')
            digit = true;
        else if (c < 'a' || c > 'f')
            return false;
    }
    return digit;
}

static size_t digits(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9')
        i++;
    return i;
}

static bool letters(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < 'a' || p[i] > 'z')
            return false;
    return true;
}

bool ls__is_numish(const char *p, size_t len)
{
    size_t d = digits(p, len);
    return d >= LS_NUMISH_MIN && len - d <= 2 && letters(p + d, len - d);
}

bool ls__numish_piece(const char *p, size_t len)
{
    size_t d = digits(p, len);
    return len > 0 && len - d <= 2 && letters(p + d, len - d);
}

uint64_t ls__fp_hash(int domain, const char *p, size_t len)
{
    return scry_xxh64(p, len, (uint64_t)domain);
}

void ls__fpw_add(struct ls_fpw *w, uint64_t hash, uint32_t chunk)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4096;
        w->v = scry_realloc(w->v, w->cap * sizeof *w->v);
    }
    w->v[w->n++] = (struct ls_fp_ent){ hash, chunk };
}

void ls__fpw_fini(struct ls_fpw *w)
{
    free(w->v);
    memset(w, 0, sizeof *w);
}

static int ent_cmp(const void *a, const void *b)
{
    const struct ls_fp_ent *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return (x->chunk > y->chunk) - (x->chunk < y->chunk);
}

static unsigned bits_for(uint64_t v) /* bits to write any value <= v */
{
    unsigned n = 0;
    while (n < 64 && (v >> n))
        n++;
    return n;
}

struct bw {
    struct scry_buf *b;
    uint64_t acc;
    unsigned n;
    size_t bits;
};
static void bw_put(struct bw *w, uint64_t v, unsigned n) /* n <= 32 */
{
    w->acc |= (v & ((1ull << n) - 1)) << w->n;
    w->n += n;
    w->bits += n;
    while (w->n >= 8) {
        scry_buf_putc(w->b, (char)(uint8_t)w->acc);
        w->acc >>= 8;
        w->n -= 8;
    }
}
static void bw_flush(struct bw *w)
{
    if (w->n)
        scry_buf_putc(w->b, (char)(uint8_t)w->acc);
    w->acc = 0;
    w->n = 0;
}

static size_t dedup(struct ls_fp_ent *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || v[i].h != v[k - 1].h || v[i].chunk != v[k - 1].chunk)
            v[k++] = v[i];
    return k;
}

void ls__fpw_encode(struct ls_fpw *w, uint32_t n_chunks, struct scry_buf *out)
{
    if (w->n)
        qsort(w->v, w->n, sizeof *w->v, ent_cmp);
    w->n = dedup(w->v, w->n);
    unsigned lg = w->n > 1 ? bits_for(w->n - 1) : 0;
    unsigned b = lg + LS_FP_SLACK > 64 ? 64 : lg + LS_FP_SLACK, k = b - lg;
    unsigned c = n_chunks > 1 ? bits_for(n_chunks - 1) : 0;
    /* b from the distinct count; truncated hashes are sorted again (equal
     * ones by chunk) and repeats dropped. */
    for (size_t i = 0; i < w->n; i++)
        w->v[i].h = b == 64 ? w->v[i].h : w->v[i].h >> (64 - b);
    if (w->n)
        qsort(w->v, w->n, sizeof *w->v, ent_cmp);
    size_t n = w->n = dedup(w->v, w->n);
    struct scry_buf bits = { 0 }, samples = { 0 };
    struct bw bw = { .b = &bits };
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = w->v[i].h - prev, q = d >> k;
        prev = w->v[i].h;
        for (; q >= 32; q -= 32)
            bw_put(&bw, 0xffffffffu, 32);
        bw_put(&bw, (1ull << q) - 1, (unsigned)q);
        bw_put(&bw, 0, 1);
        if (k > 32) {
            bw_put(&bw, d, 32);
            bw_put(&bw, d >> 32, k - 32);
        } else {
            bw_put(&bw, d, k);
        }
        if (i % LS_FP_SAMPLE == 0) {
            ls__put_le64(&samples, w->v[i].h);
            ls__put_le32(&samples, (uint32_t)bw.bits);
        }
        bw_put(&bw, w->v[i].chunk, c);
    }
    bw_flush(&bw);
    ls__put_uvarint(out, n);
    scry_buf_putc(out, (char)b);
    scry_buf_putc(out, (char)k);
    scry_buf_putc(out, (char)c);
    ls__put_uvarint(out, bits.len);
    scry_buf_put(out, samples.p, samples.len);
    scry_buf_put(out, bits.p, bits.len);
    scry_buf_fini(&bits);
    scry_buf_fini(&samples);
}

/* ---- reading ---- */

struct br {
    const uint8_t *p;
    size_t pos, end; /* in bits */
};
static bool br_bits(struct br *r, unsigned n, uint64_t *out) /* n <= 64 */
{
    if (n > r->end - r->pos)
        return false;
    uint64_t v = 0;
    for (unsigned i = 0; i < n;) {
        unsigned off = (unsigned)(r->pos & 7), take = 8 - off;
        if (take > n - i)
            take = n - i;
        v |= (uint64_t)((r->p[r->pos >> 3] >> off) & ((1u << take) - 1)) << i;
        i += take;
        r->pos += take;
    }
    *out = v;
    return true;
}
/* One Rice-coded gap; false past the end or when it would pass 2^b. */
static bool br_gap(struct br *r, unsigned k, uint64_t qmax, uint64_t *out)
{
    uint64_t q = 0, lo;
    for (;;) {
        if (r->pos >= r->end)
            return false;
        unsigned bit = (r->p[r->pos >> 3] >> (r->pos & 7)) & 1;
        r->pos++;
        if (!bit)
            break;
        if (++q > qmax)
            return false;
    }
    if (!br_bits(r, k, &lo))
        return false;
    *out = (q << k) | lo;
    return true;
}

int ls__fpset_parse(struct ls_fpset *s, const uint8_t *p, size_t len, uint32_t n_chunks,
                    size_t *used)
{
    struct ls_rd r = { p, p + len, false };
    memset(s, 0, sizeof *s);
    s->n = ls__rd_uvarint(&r);
    const uint8_t *hdr = ls__rd_bytes(&r, 3);
    uint64_t bits_len = ls__rd_uvarint(&r);
    if (r.bad || !hdr)
        return -1;
    s->b = hdr[0];
    s->k = hdr[1];
    s->c = hdr[2];
    if (s->b > 64 || s->k > s->b || s->c > 32 || (n_chunks > 1 && s->c < bits_for(n_chunks - 1)) ||
        s->n > (uint64_t)len * 8 || bits_len > (uint64_t)(r.end - r.p))
        return -1;
    uint64_t ns = (s->n + LS_FP_SAMPLE - 1) / LS_FP_SAMPLE;
    s->n_samples = (uint32_t)ns;
    s->samples = ls__rd_bytes(&r, ns * 12);
    s->bits = ls__rd_bytes(&r, bits_len);
    if (r.bad || ns > UINT32_MAX || bits_len * 8 > UINT32_MAX)
        return -1;
    s->bits_len = (size_t)bits_len;
    /* Decode everything once: sorted, in range, samples where they say. */
    struct br b = { s->bits, 0, s->bits_len * 8 };
    uint64_t prev = 0, prev_c = 0, hmax = s->b == 64 ? UINT64_MAX : (1ull << s->b) - 1;
    uint64_t qmax = s->b - s->k >= 64 ? UINT64_MAX : (1ull << (s->b - s->k));
    for (uint64_t i = 0; i < s->n; i++) {
        uint64_t d, ch;
        if (!br_gap(&b, s->k, qmax, &d) || d > hmax - prev)
            return -1;
        uint64_t h = prev + d;
        if (i % LS_FP_SAMPLE == 0) {
            const uint8_t *sp = s->samples + (i / LS_FP_SAMPLE) * 12;
            if (ls__le64(sp) != h || ls__le32(sp + 8) != b.pos)
                return -1;
        }
        if (!br_bits(&b, s->c, &ch) || ch >= n_chunks || (i && d == 0 && ch <= prev_c))
            return -1;
        prev = h;
        prev_c = ch;
    }
    if ((b.pos + 7) / 8 != s->bits_len)
        return -1;
    *used = (size_t)(r.p - p);
    return 0;
}

void ls__fpset_probe(const struct ls_fpset *s, uint64_t hash,
                     void (*fn)(void *ud, uint32_t chunk), void *ud)
{
    if (s->n == 0)
        return;
    uint64_t h = s->b == 64 ? hash : hash >> (64 - s->b);
    /* The last sample below h: every entry equal to h comes after it. */
    uint32_t lo = 0, hi = s->n_samples;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ls__le64(s->samples + (size_t)mid * 12) < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    struct br b = { s->bits, 0, s->bits_len * 8 };
    uint64_t i = 0, v = 0, ch;
    if (lo > 0) {
        const uint8_t *sp = s->samples + (size_t)(lo - 1) * 12;
        i = (uint64_t)(lo - 1) * LS_FP_SAMPLE;
        v = ls__le64(sp);
        b.pos = ls__le32(sp + 8);
        if (!br_bits(&b, s->c, &ch)) /* validated at open */
            return;
        if (v == h)
            fn(ud, (uint32_t)ch);
        i++;
    }
    for (; i < s->n; i++) {
        uint64_t d;
        if (!br_gap(&b, s->k, UINT64_MAX, &d) || !br_bits(&b, s->c, &ch))
            return;
        v += d;
        if (v > h)
            return;
        if (v == h)
            fn(ud, (uint32_t)ch);
    }
}
