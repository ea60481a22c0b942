/* segment_tokens.c — the token index of a segment being written
 * (FORMAT.md "Token index", README.md "Tokens" and "Counting from the
 * index"): every line's words into the dictionary with per-(word, chunk)
 * line counts, hex ids and number-like words into the chunk maps and gram
 * keys; then the index section. Used by segment_write.c
 * (segment_tokens.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zstd.h>

#include "core/crc32c.h"
#include "core/mem.h"
#include "logstore/fpset.h"
#include "logstore/ls_internal.h"
#include "logstore/segment_tokens.h"
#include "logstore/tokenize.h"

/* ---- big arrays ---- */

#define HUGE_PAGE ((size_t)2 << 20)

void ls__advise_huge(void *p, size_t len)
{
    uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t e = ((uintptr_t)p + len) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (e > a)
        (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
}

void *ls__big_alloc(size_t len)
{
    if (len < 2 * HUGE_PAGE)
        return scry_malloc(len);
    size_t n = (len + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    void *p = NULL;
    SCRY_ASSERT(posix_memalign(&p, HUGE_PAGE, n) == 0); /* out of memory: as scry_malloc */
    ls__advise_huge(p, n);
    return p;
}

/* realloc for the arrays that grow to MiBs (old_len bytes of p are kept). */
static void *big_grow(void *p, size_t old_len, size_t len)
{
    if (len < 2 * HUGE_PAGE)
        return scry_realloc(p, len);
    void *q = ls__big_alloc(len);
    if (p)
        memcpy(q, p, old_len);
    free(p);
    return q;
}

/* ---- tokens: dictionary words → chunk ids; ids and values → maps and keys ---- */

struct tok {
    uint8_t len;
    char s[LS_TOKEN_MAX];
};
/* One posting: the token, a chunk holding it and the chunk's lines holding
 * it spelled lower-case. Appended to one array in chunk order as each chunk
 * ends, and grouped by token only when the index is written (a counting
 * sort, so each token's chunks stay in increasing order): per-token arrays
 * grown by realloc were ~5 % of the flush, and each append touched the
 * token's entry. */
struct post {
    uint32_t tok, chunk, cnt;
};
/* A slot of the segment-wide map: a word of up to 8 bytes is compared
 * here, without a look at its struct tok (a cache miss). */
struct mslot {
    uint64_t w8;        /* the word's first 8 bytes, zero-padded */
    uint32_t hl;        /* the set's hash with its low byte replaced by len */
    uint32_t tok1;      /* index + 1 into tokmap.v; 0 = empty */
};
/* The words already seen in the chunk being tokenized: most word
 * occurrences repeat within a 512 KiB chunk (~95 % on loggen's corpus), and
 * answering those from this table (tens of KiB: cache-resident, bytes kept
 * in its own arena) skips the probe of the segment-wide map (MiBs of slots
 * and tokens: two cache misses), which was ~30 % of the flush's CPU. The
 * chunk's line counts live here too and reach the word's struct tok once,
 * when the chunk ends (tokmap_end_chunk): counting in struct tok touched
 * its 90-byte entry in a ~15 MB array at every occurrence, a cache miss
 * that perf put at ~17 % of the store's ingest CPU. */
struct cslot {
    uint64_t w8;        /* the word's first 8 bytes, zero-padded */
    uint32_t h;
    uint32_t lenoff;    /* len << 24 | offset of the whole word in bytes; 0 = empty */
    uint32_t cnt;       /* lines of the chunk holding the word (uncount_upper takes back) */
    uint32_t last_line; /* the line that last counted in cnt */
    uint32_t occ;       /* occurrences in line last_line */
};
struct chunkset {
    struct cslot *slots;
    size_t n, n_slots;
    struct scry_buf bytes; /* words longer than 8 bytes, back to back */
};
struct ls_tokmap {
    struct chunkset cs;
    struct tok *v;      /* dictionary words */
    uint32_t *np;       /* per word: its postings */
    struct mslot *slots;
    size_t n, cap, n_slots;
    struct post *pv;    /* every posting, in chunk order */
    size_t pn, pcap;
    uint32_t chunk;     /* the chunk being tokenized */
    uint32_t line;      /* serial of the line being tokenized (from 1) */
    bool values;        /* key the key=value values */
    struct ls_fpw fp;   /* gram and value keys, deduplicated when encoded */
    uint8_t *maps;      /* per chunk: bit 0 holds a hex id, bit 1 a number-like word */
    size_t map_cap;
    uint32_t *ord;      /* tokmap_end_chunk: the chunk set's occupied slots */
    size_t ord_cap;
};

/* The probe starts at the hash's bits above the low byte (that byte holds
 * the length in mslot.hl). */
static void tokmap_grow(struct ls_tokmap *m)
{
    size_t ns = m->n_slots ? m->n_slots * 2 : 1024;
    struct mslot *sl = ls__big_alloc(ns * sizeof *sl);
    memset(sl, 0, ns * sizeof *sl);
    for (size_t i = 0; i < m->n_slots; i++) {
        if (!m->slots[i].tok1)
            continue;
        size_t j = (m->slots[i].hl >> 8) & (ns - 1);
        while (sl[j].tok1)
            j = (j + 1) & (ns - 1);
        sl[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = sl;
    m->n_slots = ns;
}

/* In-memory only (never written): words are <= LS_TOKEN_MAX bytes, so a
 * multiply-fold over 8-byte loads costs a fraction of xxh64's setup and
 * finalization, which profiled at ~6 % of the flush. */
static uint64_t word_hash(const char *p, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        h = (h ^ x) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
    }
    if (i < len) {
        uint64_t x = 0;
        memcpy(&x, p + i, len - i);
        h = (h ^ x) * 0xc4ceb9fe1a85ec53u;
    }
    h ^= h >> 29;
    h *= 0x94d049bb133111ebu;
    h ^= h >> 32;
    return h & 0xffffffffu;
}

static void chunkset_grow(struct chunkset *c)
{
    size_t ns = c->n_slots ? c->n_slots * 2 : 4096;
    struct cslot *sl = scry_calloc(ns, sizeof *sl);
    for (size_t i = 0; i < c->n_slots; i++) {
        if (!c->slots[i].lenoff)
            continue;
        size_t j = c->slots[i].h & (ns - 1);
        while (sl[j].lenoff)
            j = (j + 1) & (ns - 1);
        sl[j] = c->slots[i];
    }
    free(c->slots);
    c->slots = sl;
    c->n_slots = ns;
}

/* The set's hash of a word, and its first 8 bytes zero-padded in *w8. */
static inline uint32_t chunkset_key(const char *p, size_t len, uint64_t *w8)
{
    assert(len > 0 && len <= LS_TOKEN_MAX);
    uint64_t w = 0;
    if (len >= 8)
        memcpy(&w, p, 8);
    else
        for (size_t i = 0; i < len; i++)
            w |= (uint64_t)(uint8_t)p[i] << (8 * i);
    uint64_t x = (w ^ len) * 0x9e3779b97f4a7c15u;
    if (len > 8)
        x ^= word_hash(p + 8, len - 8);
    *w8 = w;
    return (uint32_t)(x >> 32);
}

/* The word's slot in the chunk's set: its own, or the empty one where it
 * goes. Most words are at most 8 bytes: one compare of the padded first 8
 * bytes and the length settles them, without a memcmp. */
static struct cslot *chunkset_slot(const struct chunkset *c, const char *p, size_t len,
                                   uint32_t h, uint64_t w8)
{
    size_t j = h & (c->n_slots - 1);
    for (; c->slots[j].lenoff; j = (j + 1) & (c->n_slots - 1)) {
        const struct cslot *e = &c->slots[j];
        if (e->h != h || e->w8 != w8 || (e->lenoff >> 24) != len)
            continue;
        if (len <= 8 || memcmp(c->bytes.p + (e->lenoff & 0xffffffu) + 8, p + 8, len - 8) == 0)
            break;
    }
    return &c->slots[j];
}

/* The word's slot in the chunk's set, added if new (*added, its tok left
 * for the caller to fill). */
static struct cslot *chunkset_add(struct chunkset *c, const char *p, size_t len, bool *added)
{
    uint64_t w8;
    uint32_t h = chunkset_key(p, len, &w8);
    if (c->n * 2 >= c->n_slots)
        chunkset_grow(c);
    struct cslot *e = chunkset_slot(c, p, len, h, w8);
    if (e->lenoff) {
        *added = false;
        return e;
    }
    assert(c->bytes.len < (1u << 24) - LS_TOKEN_MAX); /* a chunk's words: < 16 MiB */
    *e = (struct cslot){ .w8 = w8, .h = h, .lenoff = (uint32_t)(len << 24 | c->bytes.len) };
    if (len > 8)
        scry_buf_put(&c->bytes, p, len);
    c->n++;
    *added = true;
    return e;
}

/* The word's slot if the chunk holds it, else NULL. */
static struct cslot *chunkset_get(const struct chunkset *c, const char *p, size_t len)
{
    if (!c->n)
        return NULL;
    uint64_t w8;
    uint32_t h = chunkset_key(p, len, &w8);
    struct cslot *e = chunkset_slot(c, p, len, h, w8);
    return e->lenoff ? e : NULL;
}

/* The start of a word's probe in the segment-wide map (mslot.hl). */
static inline uint32_t map_hl(const struct cslot *e)
{
    return (e->h & ~0xffu) | (e->lenoff >> 24);
}

/* The index in m->v of the chunk-set word e: found in the segment-wide
 * map, or added to it. The map has room (tokmap_end_chunk grew it). */
static uint32_t tokmap_resolve(struct ls_tokmap *m, const struct chunkset *c,
                               const struct cslot *e)
{
    size_t len = e->lenoff >> 24;
    const char *rest = c->bytes.p + (e->lenoff & 0xffffffu) + 8; /* len > 8 only */
    uint32_t hl = map_hl(e);
    size_t j = (hl >> 8) & (m->n_slots - 1);
    for (; m->slots[j].tok1; j = (j + 1) & (m->n_slots - 1)) {
        const struct mslot *s = &m->slots[j];
        if (s->hl != hl || s->w8 != e->w8)
            continue;
        if (len <= 8 || memcmp(m->v[s->tok1 - 1].s + 8, rest, len - 8) == 0)
            return s->tok1 - 1;
    }
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        m->v = big_grow(m->v, m->n * sizeof *m->v, nc * sizeof *m->v);
        m->np = big_grow(m->np, m->n * sizeof *m->np, nc * sizeof *m->np);
        m->cap = nc;
    }
    struct tok *t = &m->v[m->n];
    t->len = (uint8_t)len;
    memcpy(t->s, &e->w8, len < 8 ? len : 8);
    if (len > 8)
        memcpy(t->s + 8, rest, len - 8);
    m->np[m->n] = 0;
    m->slots[j] = (struct mslot){ e->w8, hl, (uint32_t)++m->n };
    return (uint32_t)(m->n - 1);
}

/* The chunk's words, each with its line count, become postings of chunk
 * m->chunk (chunks end in increasing order, so each ids list stays
 * sorted); the set is emptied for the next chunk. Each word is looked up
 * in the segment-wide map here, not when first seen in the chunk: its
 * slots (MiBs) miss the cache, ~1/3 of tokmap_add's cycles in perf, and
 * here the probe of the word PREFETCH_AHEAD words on is prefetched.
 * Words get their index in m->v in a different order than at first
 * sight, which the segment does not show (the dictionary is sorted). */
#define PREFETCH_AHEAD 8
static void tokmap_end_chunk(struct ls_tokmap *m)
{
    struct chunkset *c = &m->cs;
    if (!c->n)
        return;
    while ((m->n + c->n) * 2 >= m->n_slots)
        tokmap_grow(m);
    if (m->pn + c->n > m->pcap) {
        size_t nc = m->pcap ? m->pcap : 4096;
        while (nc < m->pn + c->n)
            nc *= 2;
        m->pv = big_grow(m->pv, m->pn * sizeof *m->pv, nc * sizeof *m->pv);
        m->pcap = nc;
    }
    /* the occupied slots, in slot order (the postings' order) */
    if (m->ord_cap < c->n) {
        m->ord_cap = c->n * 2;
        free(m->ord);
        m->ord = scry_malloc(m->ord_cap * sizeof *m->ord);
    }
    size_t k = 0;
    for (size_t i = 0; i < c->n_slots; i++)
        if (c->slots[i].lenoff)
            m->ord[k++] = (uint32_t)i;
    assert(k == c->n);
    size_t mask = m->n_slots - 1;
    for (size_t i = 0; i < k; i++) {
        if (i + PREFETCH_AHEAD < k)
            __builtin_prefetch(&m->slots[(map_hl(&c->slots[m->ord[i + PREFETCH_AHEAD]]) >> 8) & mask]);
        struct cslot *e = &c->slots[m->ord[i]];
        uint32_t tok = tokmap_resolve(m, c, e);
        m->pv[m->pn++] = (struct post){ tok, m->chunk, e->cnt };
        m->np[tok]++;
        *e = (struct cslot){ 0 };
    }
    c->n = 0;
    scry_buf_reset(&c->bytes);
}

/* A dictionary word of the line being tokenized: counted in the chunk's
 * set (added to it the first time in the chunk). Its index in the
 * segment-wide map is found when the chunk ends (tokmap_resolve). */
static void tokmap_add(struct ls_tokmap *m, const char *p, size_t len)
{
    bool added;
    struct cslot *cs = chunkset_add(&m->cs, p, len, &added);
    /* Line counts (FORMAT.md "Line counts"): every line counts once for
     * each of its tokens here; uncount_upper() takes back the lines that
     * hold a token only in upper or mixed case. */
    if (!added) {
        if (cs->last_line != m->line) {
            cs->last_line = m->line;
            cs->occ = 1;
            cs->cnt++;
        } else {
            cs->occ++;
        }
        return;
    }
    cs->last_line = m->line;
    cs->occ = 1;
    cs->cnt = 1;
}

static bool alnum(uint8_t c)
{
    return (uint8_t)(c - '0') < 10 || (uint8_t)((c | 0x20) - 'a') < 26;
}

/* After tokmap_add counted every token of the line just tokenized (and
 * its occurrences in the line, occ): a word with an upper-case byte does
 * not match `|= "its lower-case spelling"`, so once every occurrence of a
 * token in the line was such a word, the line is uncounted. Lines without
 * upper-case bytes cost one pass, 8 bytes a step. The word is looked up in
 * the chunk's set (which holds every dictionary word of the line), not in
 * the segment-wide map. Words of LS_TOKEN_MAX bytes or more are windows:
 * their counts are not exact (readers ignore them, FORMAT.md). (A memmem
 * for a lower-case occurrence instead of occ cost 11 % of the flush.) */
static void uncount_upper(struct ls_tokmap *m, const char *line, size_t len)
{
    const uint8_t *p = (const uint8_t *)line;
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    size_t i = 0;
    for (;;) {
        /* to the next upper-case byte, 8 at a time: bytes 0x41-0x5a are
         * those >= 'A' and < '[' (7-bit sums carry into no neighbour) */
        for (; i + 8 <= len; i += 8) {
            uint64_t x, y;
            memcpy(&x, p + i, 8);
            y = x & ~high;
            uint64_t up = (y + (0x80 - 'A') * ones) & ~(y + (0x80 - '[') * ones) & ~x & high;
            if (up) {
                i += (size_t)__builtin_ctzll(up) / 8;
                break;
            }
        }
        while (i < len && (uint8_t)(p[i] - 'A') >= 26)
            i++;
        if (i >= len)
            break;
        size_t b = i, e = i;
        while (b > 0 && alnum(p[b - 1]))
            b--;
        while (e < len && alnum(p[e]))
            e++;
        i = e;
        if (e - b >= LS_TOKEN_MAX)
            continue;
        char w[LS_TOKEN_MAX];
        for (size_t k = b; k < e; k++)
            w[k - b] = (char)(p[k] | ((uint8_t)(p[k] - 'A') < 26 ? 0x20 : 0));
        struct cslot *t = chunkset_get(&m->cs, w, e - b);
        if (!t || t->last_line != m->line)
            continue; /* an id class (not counted) */
        assert(t->occ > 0);
        if (--t->occ > 0)
            continue; /* more occurrences: lower-case ones, or upper-case ones still to come */
        assert(t->cnt > 0);
        t->cnt--;
    }
}

/* A word: hex ids and number-like words go to the chunk's map bits (long
 * hex ids also to the gram keys) and never into the dictionary. */
static void tokmap_word(void *ud, const char *p, size_t len)
{
    struct ls_tokmap *m = ud;
    /* Both classes need >= 5 bytes starting with a digit or a-f: most words
     * are settled by their length and first byte. */
    uint8_t c0 = (uint8_t)p[0];
    if (len < LS_HEXID_MIN || len < LS_NUMISH_MIN || !((c0 >= '0' && c0 <= '9') ||
                                                       (c0 >= 'a' && c0 <= 'f'))) {
        tokmap_add(m, p, len);
        return;
    }
    bool hex = ls__is_hexid(p, len);
    if (!hex && !ls__is_numish(p, len)) {
        tokmap_add(m, p, len);
        return;
    }
    if (m->chunk >= m->map_cap) {
        size_t nc = m->map_cap ? m->map_cap * 2 : 256;
        while (nc <= m->chunk)
            nc *= 2;
        m->maps = scry_realloc(m->maps, nc);
        memset(m->maps + m->map_cap, 0, nc - m->map_cap);
        m->map_cap = nc;
    }
    m->maps[m->chunk] |= hex ? 1 : 2;
    if (hex && len >= LS_GRAM_LEN + LS_GRAM_STEP - 1)
        for (size_t at = 0; at + LS_GRAM_LEN <= len; at += LS_GRAM_STEP)
            ls__fpw_add(&m->fp, ls__fp_hash(LS_FP_DOMAIN_GRAM, p + at, LS_GRAM_LEN), m->chunk);
}

static void tokmap_value(void *ud, const char *p, size_t len)
{
    struct ls_tokmap *m = ud;
    if (m->values)
        ls__fpw_add(&m->fp, ls__fp_hash(LS_FP_DOMAIN_VALUE, p, len), m->chunk);
}

/* A token in the sort: its first 8 bytes zero-padded, big-endian, so that
 * integer order is memcmp order of the padded bytes, and its entry. Most
 * compares are settled by the keys without touching the tokens (a cache
 * miss each in an array of ~15 MB). */
struct tkey {
    uint64_t k;
    const struct tok *t;
};

static int tkey_cmp(const void *a, const void *b)
{
    const struct tkey *p = a, *q = b;
    if (p->k != q->k)
        return p->k < q->k ? -1 : 1;
    const struct tok *x = p->t, *y = q->t;
    int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    return c ? c : (int)x->len - (int)y->len;
}

static void tokmap_fini(struct ls_tokmap *m)
{
    free(m->v);
    free(m->np);
    free(m->pv);
    free(m->slots);
    free(m->maps);
    free(m->ord);
    free(m->cs.slots);
    scry_buf_fini(&m->cs.bytes);
    ls__fpw_fini(&m->fp);
}


struct ls_tokmap *ls__tokmap_create(bool values)
{
    struct ls_tokmap *m = scry_calloc(1, sizeof *m);
    m->values = values;
    return m;
}

void ls__tokmap_destroy(struct ls_tokmap *m)
{
    if (!m)
        return;
    tokmap_fini(m);
    free(m);
}

void ls__tokmap_begin_chunk(struct ls_tokmap *m, uint32_t chunk)
{
    assert(m->cs.n == 0);
    m->chunk = chunk;
}

void ls__tokmap_line(struct ls_tokmap *m, const char *line, size_t len)
{
    m->line++;
    ls_tokenize_split(line, len, tokmap_word, m->values ? tokmap_value : NULL, m);
    uncount_upper(m, line, len);
}

void ls__tokmap_end_chunk(struct ls_tokmap *m)
{
    tokmap_end_chunk(m);
}

static void put_postings(struct scry_buf *b, const uint32_t *ids, uint32_t n)
{
    ls__put_uvarint(b, n);
    ls__put_uvarint(b, ids[0]);
    for (uint32_t k = 1; k < n; k++)
        ls__put_uvarint(b, ids[k] - ids[k - 1]);
}

/* FORMAT.md "Token index": the dictionary words front-coded in one zstd
 * frame, the two chunk maps, the fingerprint set. */
int ls__tokmap_write(struct ls_tokmap *tm, struct scry_buf *f, uint32_t n_chunks, int level,
                     ZSTD_CCtx *cc, struct ls_segment_stats *st, struct scry_err *err)
{
    /* Keys are sorted, not the 90-byte tokens: moving those was most of the sort. */
    struct tkey *ord = ls__big_alloc((tm->n + 1) * sizeof *ord);
    for (size_t i = 0; i < tm->n; i++) {
        const struct tok *t = &tm->v[i];
        uint64_t k = 0;
        for (size_t b = 0; b < 8; b++)
            k = k << 8 | (b < t->len ? (uint8_t)t->s[b] : 0);
        ord[i] = (struct tkey){ k, t };
    }
    qsort(ord, tm->n, sizeof *ord, tkey_cmp);
    /* The postings grouped by word (stable: chunk order kept), from the
     * word's offset off[i]. */
    uint32_t *off = ls__big_alloc((tm->n + 1) * sizeof *off);
    uint32_t *ids = ls__big_alloc((tm->pn + 1) * sizeof *ids);
    uint32_t *cnts = ls__big_alloc((tm->pn + 1) * sizeof *cnts);
    uint32_t sum = 0;
    for (size_t i = 0; i < tm->n; i++) {
        off[i] = sum;
        sum += tm->np[i];
    }
    assert(sum == tm->pn);
    for (size_t k = 0; k < tm->pn; k++) {
        const struct post *q = &tm->pv[k];
        ids[off[q->tok]] = q->chunk;
        cnts[off[q->tok]++] = q->cnt;
    }
    for (size_t i = 0; i < tm->n; i++)
        off[i] -= tm->np[i]; /* back to each word's first posting */
    struct scry_buf dict = { 0 }, z = { 0 }, cnt = { 0 }, cz = { 0 };
    size_t map_len = (n_chunks + 7) / 8;
    uint8_t *maps = scry_calloc(2 * map_len + 1, 1);
    for (uint32_t c = 0; c < n_chunks && c < tm->map_cap; c++)
        for (unsigned b = 0; b < 2; b++)
            if (tm->maps[c] & (1u << b))
                maps[b * map_len + c / 8] |= (uint8_t)(1u << (c % 8));
    for (size_t i = 0; i < tm->n; i++) {
        const struct tok *t = ord[i].t, *prev = i ? ord[i - 1].t : NULL;
        size_t shared = 0;
        if (prev)
            while (shared < prev->len && shared < t->len && prev->s[shared] == t->s[shared])
                shared++;
        ls__put_uvarint(&dict, shared);
        ls__put_str(&dict, t->s + shared, t->len - shared);
        size_t ti = (size_t)(t - tm->v);
        uint32_t tn = tm->np[ti];
        put_postings(&dict, ids + off[ti], tn);
        for (uint32_t k = 0; tn >= LS_COUNT_MIN_CHUNKS && k < tn; k++)
            ls__put_uvarint(&cnt, cnts[off[ti] + k]);
    }
    /* Both frames go through cc, the flush's entry-columns context (its
     * chunks are done): a fresh context per frame (ZSTD_compress) faulted
     * in and zeroed megabytes of tables each time. */
    size_t bound = ZSTD_compressBound(dict.len);
    scry_buf_reserve(&z, bound);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level ? level : 9);
    size_t zn = ZSTD_compress2(cc, z.p, bound, dict.p ? dict.p : "", dict.len);
    /* the line counts: a column of their own, at level LS_COUNT_ZSTD_LEVEL
     * (100 MiB corpus: 129 KB at 9, 126.8 KB at 12, 120.5 KB at 17 for
     * ~80 ms more per flush; README "Counting from the index") */
    size_t cbound = ZSTD_compressBound(cnt.len);
    scry_buf_reserve(&cz, cbound);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level ? level : LS_COUNT_ZSTD_LEVEL);
    size_t czn = ZSTD_compress2(cc, cz.p, cbound, cnt.p ? cnt.p : "", cnt.len);
    int rc = 0;
    if (ZSTD_isError(zn) || ZSTD_isError(czn)) {
        rc = scry_err_set(err, SCRY_EIO, "zstd: %s",
                          ZSTD_getErrorName(ZSTD_isError(zn) ? zn : czn));
    } else {
        size_t start = f->len;
        scry_buf_putc(f, (char)((tm->values ? LS_TOK_VALUES : 0) | LS_TOK_COUNTS));
        scry_buf_putc(f, LS_GRAM_LEN);
        scry_buf_putc(f, LS_GRAM_STEP);
        ls__put_uvarint(f, tm->n);
        ls__put_uvarint(f, dict.len);
        ls__put_uvarint(f, zn);
        scry_buf_put(f, z.p, zn);
        st->dict_bytes = f->len - start;
        st->n_dict = tm->n;
        size_t cstart = f->len;
        scry_buf_putc(f, LS_COUNT_MIN_CHUNKS);
        ls__put_uvarint(f, cnt.len);
        ls__put_uvarint(f, czn);
        scry_buf_put(f, cz.p, czn);
        st->count_bytes = f->len - cstart;
        scry_buf_put(f, maps, 2 * map_len);
        size_t fstart = f->len;
        ls__fpw_encode(&tm->fp, n_chunks, f);
        st->fp_bytes = f->len - fstart;
        st->n_fp = tm->fp.n;
        ls__put_le32(f, scry_crc32c(0, f->p + start, f->len - start));
    }
    free(maps);
    free(ord);
    free(off);
    free(ids);
    free(cnts);
    scry_buf_fini(&dict);
    scry_buf_fini(&z);
    scry_buf_fini(&cnt);
    scry_buf_fini(&cz);
    return rc;
}

