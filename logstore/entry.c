/* entry.c — the entry codec of FORMAT.md "Entry", shared by chunk payloads
 * and WAL ENTRIES records so that a WAL record's bytes and a chunk's raw
 * payload are decoded by one function. */
#include <assert.h>

#include "core/appender.h"
#include "core/arena.h"
#include "core/timeparse.h"
#include "logstore/format.h"

void ls__entry_put(struct scry_buf *b, int64_t prev_t, const struct scry_log_entry *e)
{
    assert(e->t_ns >= prev_t);
    ls__put_uvarint(b, (uint64_t)e->t_ns - (uint64_t)prev_t);
    ls__put_str(b, e->line.p, e->line.len);
    ls__put_uvarint(b, e->metadata.n);
    for (size_t i = 0; i < e->metadata.n; i++) {
        const struct scry_label *l = &e->metadata.v[i];
        ls__put_str(b, l->name, strlen(l->name));
        ls__put_str(b, l->value, strlen(l->value));
    }
}

/* Metadata strings are NUL-terminated copies in a: labels want C strings. */
bool ls__entry_get(struct ls_rd *r, int64_t prev_t, struct scry_arena *a,
                   struct scry_log_entry *e)
{
    uint64_t dt = ls__rd_uvarint(r);
    if (dt > (uint64_t)INT64_MAX - (uint64_t)(prev_t < 0 ? 0 : prev_t))
        r->bad = true;
    e->t_ns = (int64_t)((uint64_t)prev_t + dt);
    e->line = ls__rd_str(r);
    uint64_t n = ls__rd_uvarint(r);
    if (r->bad || n > (uint64_t)(r->end - r->p) / 2) {
        r->bad = true;
        return false;
    }
    struct scry_label *v = (a && n) ? scry_arena_alloc(a, n * sizeof *v) : NULL;
    for (uint64_t i = 0; i < n; i++) {
        struct scry_str k = ls__rd_str(r), val = ls__rd_str(r);
        if (r->bad || k.len == 0) {
            r->bad = true;
            return false;
        }
        if (v) {
            v[i].name = scry_arena_strndup(a, k.p, k.len);
            v[i].value = scry_arena_strndup(a, val.p, val.len);
        }
    }
    e->metadata = (struct scry_labels){ v, v ? n : 0 };
    return !r->bad;
}

/* ---- the columnar payloads of segment chunks (FORMAT.md "Chunk", codecs 3, 4) ---- */

#include <string.h>

/* The timestamp a line states in its first LS_TS_SCAN bytes, as
 * `YYYY-MM-DD[T ]hh:mm:ss.f…` with >= 3 fraction digits, read as UTC (any
 * zone after it is ignored): FORMAT.md "Chunk", the t_ns predictor. Only a
 * predictor — writer and reader compute it from the same bytes — so a
 * wrong zone or a stale time costs bytes, never correctness. */
#define LS_TS_SCAN 64
bool ls__line_ts(const char *p, size_t len, int64_t *out)
{
    size_t lim = len < LS_TS_SCAN ? len : LS_TS_SCAN;
    if (lim < 23)
        return false;
    /* Candidates start 4 bytes before a '-': memchr finds them in order
     * (the first i that fits wins, as a plain loop over i would find), and
     * a line with no '-' near its start (nginx's `IP - - [..`: two, both
     * rejected at once) costs one memchr instead of ~40 probes. Readers
     * call this for every entry they decode: it was ~10 % of a scan. */
    const char *m = p + 4, *mend = p + lim - 18; /* q[4] for i = 0 .. lim - 23 */
    while (m < mend && (m = memchr(m, '-', (size_t)(mend - m))) != NULL) {
        const char *q = m - 4;
        size_t i = (size_t)(q - p);
        m++;
        if (q[7] != '-' || (q[10] != 'T' && q[10] != ' ') || q[13] != ':' || q[16] != ':' ||
            q[19] != '.')
            continue;
        int y, mo, d, h, mi, sec;
        if (!scry_time_digits(q, 4, &y) || !scry_time_digits(q + 5, 2, &mo) ||
            !scry_time_digits(q + 8, 2, &d) || !scry_time_digits(q + 11, 2, &h) ||
            !scry_time_digits(q + 14, 2, &mi) || !scry_time_digits(q + 17, 2, &sec))
            continue;
        if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
            sec > 60)
            continue;
        size_t f = 0;
        int64_t frac = 0;
        while (i + 20 + f < len && f < 9 && q[20 + f] >= '0' && q[20 + f] <= '9')
            frac = frac * 10 + (q[20 + f++] - '0');
        if (f < 3)
            continue;
        for (size_t k = f; k < 9; k++)
            frac *= 10;
        int64_t secs = scry_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
        *out = secs * 1000000000 + frac;
        return true;
    }
    return false;
}

/* A t_ns code of codec 4: dt when the line states no time; else
 * zigzag(t - predicted) << 1 | 1, or dt << 1 when that is far off. */
static uint64_t ts_code(int64_t prev_t, const struct scry_log_entry *e)
{
    uint64_t dt = (uint64_t)e->t_ns - (uint64_t)prev_t;
    int64_t pr;
    if (!ls__line_ts(e->line.p, e->line.len, &pr))
        return dt;
    int64_t r;
    if (!__builtin_sub_overflow(e->t_ns, pr, &r) && r > -(1LL << 40) && r < (1LL << 40))
        return ((((uint64_t)r << 1) ^ (uint64_t)(r >> 63)) << 1) | 1;
    return dt << 1;
}

static void put_md(struct scry_buf *b, const struct scry_log_entry *e)
{
    ls__put_uvarint(b, e->metadata.n);
    for (size_t i = 0; i < e->metadata.n; i++) {
        const struct scry_label *l = &e->metadata.v[i];
        ls__put_str(b, l->name, strlen(l->name));
        ls__put_str(b, l->value, strlen(l->value));
    }
}

void ls__cols_add(struct ls_cols *c, int64_t prev_t, const struct scry_log_entry *e)
{
    assert(e->t_ns >= prev_t);
    ls__put_uvarint(&c->dts, ts_code(prev_t, e));
    put_md(&c->md, e);
    /* A line holding newlines: (entries since the previous one, its newlines). */
    const char *p = e->line.p, *end = p + e->line.len, *nl;
    uint32_t k = 0;
    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        k++;
        p = nl + 1;
    }
    if (k) {
        ls__put_uvarint(&c->exc, c->n - c->last_exc);
        ls__put_uvarint(&c->exc, k);
        c->last_exc = c->n;
        c->n_exc++;
    }
    scry_buf_reserve(&c->lines, e->line.len + 1);
    memcpy(c->lines.p + c->lines.len, e->line.p, e->line.len);
    c->lines.len += e->line.len;
    c->lines.p[c->lines.len++] = '\n';
    c->n++;
}

void ls__cols_finish(struct ls_cols *c, struct scry_buf *head, struct scry_buf *lines)
{
    scry_buf_put(head, c->dts.p, c->dts.len);
    scry_buf_put(head, c->md.p, c->md.len);
    ls__put_uvarint(head, c->n_exc);
    scry_buf_put(head, c->exc.p, c->exc.len);
    scry_buf_put(lines, c->lines.p, c->lines.len);
    scry_buf_reset(&c->dts);
    scry_buf_reset(&c->exc);
    scry_buf_reset(&c->md);
    scry_buf_reset(&c->lines);
    c->n = c->n_exc = c->last_exc = 0;
}

void ls__cols_fini(struct ls_cols *c)
{
    scry_buf_fini(&c->dts);
    scry_buf_fini(&c->exc);
    scry_buf_fini(&c->md);
    scry_buf_fini(&c->lines);
}

static bool get_md(struct ls_rd *r, struct scry_arena *a, struct scry_log_entry *e)
{
    uint64_t m = ls__rd_uvarint(r);
    if (r->bad || m > (uint64_t)(r->end - r->p) / 2)
        return false;
    struct scry_label *v = (a && m) ? scry_arena_alloc(a, m * sizeof *v) : NULL;
    for (uint64_t k = 0; k < m; k++) {
        struct scry_str nm = ls__rd_str(r), val = ls__rd_str(r);
        if (r->bad || nm.len == 0)
            return false;
        if (v) {
            v[k].name = scry_arena_strndup(a, nm.p, nm.len);
            v[k].value = scry_arena_strndup(a, val.p, val.len);
        }
    }
    e->metadata = (struct scry_labels){ v, v ? m : 0 };
    return true;
}

/* Codec 4: dt * n, md * n, n_exc, exc * n_exc, then the lines, each ended
 * by '\n' (plus the newlines an exception says it holds). */
static bool cols4_get(const uint8_t *p, size_t len, uint32_t n, struct ls_rd *r,
                      struct scry_arena *a, struct scry_log_entry *out)
{
    for (uint32_t i = 0; i < n; i++)
        if (!get_md(r, a, &out[i]))
            return false;
    uint64_t n_exc = ls__rd_uvarint(r);
    if (r->bad || n_exc > n)
        return false;
    const uint8_t *exc = r->p;
    /* The exception list ends where the lines start: walk it once to find that. */
    struct ls_rd x = *r;
    for (uint64_t k = 0; k < n_exc; k++) {
        ls__rd_uvarint(&x);
        ls__rd_uvarint(&x);
    }
    if (x.bad)
        return false;
    struct ls_rd e = { exc, x.p, false };
    const uint8_t *q = x.p, *end = p + len;
    /* at: the index of the next line with newlines (deltas from the previous). */
    uint64_t at = n_exc ? ls__rd_uvarint(&e) : UINT64_MAX, nls = n_exc ? ls__rd_uvarint(&e) : 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t want = 1;
        if (at == i) {
            if (nls == 0 || nls > len)
                return false;
            want += nls;
            if (--n_exc) {
                uint64_t d = ls__rd_uvarint(&e);
                nls = ls__rd_uvarint(&e);
                if (d == 0 || d > n)
                    return false;
                at += d;
            } else {
                at = UINT64_MAX;
            }
        }
        const uint8_t *s = q, *nl = NULL;
        for (uint64_t k = 0; k < want; k++) {
            nl = q < end ? memchr(q, '\n', (size_t)(end - q)) : NULL;
            if (!nl)
                return false;
            q = nl + 1;
        }
        out[i].line = (struct scry_str){ (const char *)s, (size_t)(nl - s) };
    }
    return !e.bad && n_exc == 0 && q == end;
}

bool ls__cols_get(uint8_t codec, const uint8_t *p, size_t len, uint32_t n, int64_t mint,
                  struct scry_arena *a, struct scry_log_entry *out)
{
    struct ls_rd r = { p, p + len, false };
    int64_t t = mint;
    if (codec == LS_CODEC_ZSTD_COLS2) {
        /* The codes first (kept in t_ns), resolved once the lines are known. */
        for (uint32_t i = 0; i < n; i++)
            out[i].t_ns = (int64_t)ls__rd_uvarint(&r);
        if (r.bad || !cols4_get(p, len, n, &r, a, out))
            return false;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t c = (uint64_t)out[i].t_ns;
            int64_t pr, d;
            bool has = ls__line_ts(out[i].line.p, out[i].line.len, &pr);
            if (has && (c & 1)) {
                c >>= 1;
                d = (int64_t)(c >> 1) ^ -(int64_t)(c & 1);
                if (__builtin_add_overflow(pr, d, &t))
                    return false;
            } else {
                if (has)
                    c >>= 1;
                if (c > (uint64_t)INT64_MAX || __builtin_add_overflow(t, (int64_t)c, &t))
                    return false;
            }
            out[i].t_ns = t;
        }
        return true;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t dt = ls__rd_uvarint(&r);
        if (dt > (uint64_t)INT64_MAX - (uint64_t)(t < 0 ? 0 : t))
            return false;
        t = (int64_t)((uint64_t)t + dt);
        out[i].t_ns = t;
    }
    if (r.bad)
        return false;
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        out[i].line.len = ls__rd_uvarint(&r);
        total += out[i].line.len;
        if (total > len)
            return false;
    }
    for (uint32_t i = 0; i < n && !r.bad; i++)
        if (!get_md(&r, a, &out[i]))
            return false;
    if (r.bad || total != (uint64_t)(r.end - r.p))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        out[i].line.p = (const char *)r.p;
        r.p += out[i].line.len;
    }
    return true;
}
