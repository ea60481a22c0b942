/* segment_write.c — the head's streams into one immutable segment file
 * (FORMAT.md "Segment"): chunks compressed with zstd, then the stream
 * index, label postings, token index and TOC. The file is built in memory
 * (a head is bounded), written as segment.tmp, fsynced, renamed and the
 * directory fsynced, so it exists whole or not at all. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "core/crc32c.h"
#include "core/mem.h"
#include "logstore/fpset.h"
#include "logstore/ls_internal.h"
#include "logstore/tokenize.h"

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
    uint32_t tok;       /* index of the word in tokmap.v */
    uint32_t cnt;       /* lines of the chunk holding the word (uncount_upper takes back) */
    uint32_t last_line; /* the line that last counted in cnt */
    uint32_t occ;       /* occurrences in line last_line */
};
struct chunkset {
    struct cslot *slots;
    size_t n, n_slots;
    struct scry_buf bytes; /* words longer than 8 bytes, back to back */
};
struct tokmap {
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
};

/* The probe starts at the hash's bits above the low byte (that byte holds
 * the length in mslot.hl). */
static void tokmap_grow(struct tokmap *m)
{
    size_t ns = m->n_slots ? m->n_slots * 2 : 1024;
    struct mslot *sl = scry_calloc(ns, sizeof *sl);
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
static uint32_t chunkset_key(const char *p, size_t len, uint64_t *w8)
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

/* The chunk's words, each with its line count, become postings of chunk
 * m->chunk (chunks end in increasing order, so each ids list stays
 * sorted); the set is emptied for the next chunk. */
static void tokmap_end_chunk(struct tokmap *m)
{
    struct chunkset *c = &m->cs;
    for (size_t i = 0; c->n && i < c->n_slots; i++) {
        struct cslot *e = &c->slots[i];
        if (!e->lenoff)
            continue;
        if (m->pn == m->pcap) {
            m->pcap = m->pcap ? m->pcap * 2 : 4096;
            m->pv = scry_realloc(m->pv, m->pcap * sizeof *m->pv);
        }
        m->pv[m->pn++] = (struct post){ e->tok, m->chunk, e->cnt };
        m->np[e->tok]++;
        *e = (struct cslot){ 0 };
    }
    c->n = 0;
    scry_buf_reset(&c->bytes);
}

/* A dictionary word of the line being tokenized: found in the chunk's set,
 * or (first time in the chunk) looked up in the segment-wide map and added
 * to both. */
static void tokmap_add(struct tokmap *m, const char *p, size_t len)
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
    if (m->n * 2 >= m->n_slots)
        tokmap_grow(m);
    uint32_t hl = (cs->h & ~0xffu) | (uint32_t)len;
    size_t j = (hl >> 8) & (m->n_slots - 1);
    for (; m->slots[j].tok1; j = (j + 1) & (m->n_slots - 1)) {
        const struct mslot *e = &m->slots[j];
        if (e->hl != hl || e->w8 != cs->w8)
            continue;
        if (len <= 8 || memcmp(m->v[e->tok1 - 1].s + 8, p + 8, len - 8) == 0) {
            cs->tok = e->tok1 - 1;
            return;
        }
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->v = scry_realloc(m->v, m->cap * sizeof *m->v);
        m->np = scry_realloc(m->np, m->cap * sizeof *m->np);
    }
    struct tok *t = &m->v[m->n];
    t->len = (uint8_t)len;
    memcpy(t->s, p, len);
    m->np[m->n] = 0;
    m->slots[j] = (struct mslot){ cs->w8, hl, (uint32_t)++m->n };
    cs->tok = (uint32_t)(t - m->v);
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
static void uncount_upper(struct tokmap *m, const char *line, size_t len)
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
    struct tokmap *m = ud;
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
    struct tokmap *m = ud;
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

static void tokmap_fini(struct tokmap *m)
{
    free(m->v);
    free(m->np);
    free(m->pv);
    free(m->slots);
    free(m->maps);
    free(m->cs.slots);
    scry_buf_fini(&m->cs.bytes);
    ls__fpw_fini(&m->fp);
}

/* ---- sections ---- */

static void section_crc(struct scry_buf *f, size_t start)
{
    ls__put_le32(f, scry_crc32c(0, f->p + start, f->len - start));
}

static int stream_cmp(const void *a, const void *b)
{
    const struct ls_stream *x = *(struct ls_stream *const *)a, *y = *(struct ls_stream *const *)b;
    return scry_labels_cmp(&x->ls, &y->ls);
}

/* A segment chunk: one or more head chunks of a stream, merged. */
struct schunk {
    uint64_t off, len;
    int64_t mint, maxt;
    uint32_t n;
};

struct cw {                       /* the chunk being built and the output */
    struct scry_buf *f, raw, lines, z;
    struct ls_cols cols;          /* the chunk's entries, columnar */
    struct schunk *v;
    size_t n, cap;
    int level;
    ZSTD_CCtx *cc, *ch;           /* lines, entry columns; reused: a fresh context per chunk
                                   * re-zeroes its tables */
    int64_t mint, prev;
    uint32_t n_ent;
    struct tokmap *tm;
    struct ls_segment_stats *st;
};

/* Codec 4 (FORMAT.md "Chunk"): the entry columns and the lines in two
 * frames. One frame for both was 4 % bigger: the timestamps' noise spoils
 * the entropy tables of the text around them. */
static int cw_cut(struct cw *w, struct scry_err *err)
{
    if (w->n_ent == 0)
        return 0;
    tokmap_end_chunk(w->tm);
    scry_buf_reset(&w->raw);
    scry_buf_reset(&w->lines);
    ls__cols_finish(&w->cols, &w->raw, &w->lines);
    size_t hb = ZSTD_compressBound(w->raw.len), lb = ZSTD_compressBound(w->lines.len);
    scry_buf_reset(&w->z);
    scry_buf_reserve(&w->z, hb + lb);
    size_t hn = ZSTD_compress2(w->ch, w->z.p, hb, w->raw.p, w->raw.len);
    if (ZSTD_isError(hn))
        return scry_err_set(err, SCRY_EIO, "zstd: %s", ZSTD_getErrorName(hn));
    size_t ln = ZSTD_compress2(w->cc, w->z.p + hn, lb, w->lines.p, w->lines.len);
    if (ZSTD_isError(ln))
        return scry_err_set(err, SCRY_EIO, "zstd: %s", ZSTD_getErrorName(ln));
    size_t hv = 1; /* bytes of uvarint hn */
    for (size_t v = hn; v >= 0x80; v >>= 7)
        hv++;
    size_t start = w->f->len;
    scry_buf_putc(w->f, LS_CODEC_ZSTD_COLS2);
    ls__put_uvarint(w->f, w->raw.len + w->lines.len);
    ls__put_uvarint(w->f, hv + hn + ln);
    ls__put_uvarint(w->f, hn);
    scry_buf_put(w->f, w->z.p, hn + ln);
    section_crc(w->f, start);
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->v = scry_realloc(w->v, w->cap * sizeof *w->v);
    }
    w->v[w->n++] = (struct schunk){ start, w->f->len - start, w->mint, w->prev, w->n_ent };
    w->st->chunk_bytes += w->f->len - start;
    if (w->mint < w->st->mint)
        w->st->mint = w->mint;
    if (w->prev > w->st->maxt)
        w->st->maxt = w->prev;
    w->n_ent = 0;
    return 0;
}

/* Chunks: read the head's raw chunks, tokenize every line, merge a
 * stream's entries into chunks of up to LS_SEG_CHUNK_BYTES raw (and
 * LS_CHUNK_MAX_SPAN_NS) and compress those with zstd: bigger frames of one
 * stream compress better (512 KiB: 1.5 % more bytes than 1 MiB, half the
 * decode per chunk a needle hits). */
static int write_chunks(struct cw *w, struct ls_stream **ss, size_t n, size_t *per_stream,
                        struct scry_err *err)
{
    /* Structured metadata is decoded into md and copied into the chunk's
     * columns at once, so md is reset per entry. */
    struct scry_arena *md = scry_arena_create(0);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t first = w->n;
        for (size_t k = 0; k < ss[i]->n_chunks && rc == 0; k++) {
            const struct ls_hchunk *c = &ss[i]->chunks[k];
            struct ls_rd r = { c->bytes, c->bytes + c->raw_len, false };
            int64_t prev = c->mint;
            for (uint32_t e = 0; e < c->n && rc == 0; e++) {
                struct scry_log_entry en;
                scry_arena_reset(md);
                SCRY_ASSERT(ls__entry_get(&r, prev, md, &en));
                prev = en.t_ns;
                size_t have = w->cols.lines.len + w->cols.dts.len;
                if (w->n_ent && (have >= LS_SEG_CHUNK_BYTES ||
                                 en.t_ns - w->mint > LS_CHUNK_MAX_SPAN_NS))
                    rc = cw_cut(w, err);
                if (w->n_ent == 0) {
                    w->mint = w->prev = en.t_ns;
                    w->tm->chunk = (uint32_t)w->n;
                }
                ls__cols_add(&w->cols, w->prev, &en);
                w->prev = en.t_ns;
                w->n_ent++;
                w->tm->line++;
                ls_tokenize_split(en.line.p, en.line.len, tokmap_word,
                                  w->tm->values ? tokmap_value : NULL, w->tm);
                uncount_upper(w->tm, en.line.p, en.line.len);
                w->st->raw_bytes += en.line.len;
                w->st->n_entries++;
            }
        }
        if (rc == 0)
            rc = cw_cut(w, err);
        per_stream[i] = w->n - first;
    }
    scry_arena_destroy(md);
    return rc;
}

static void write_streams(struct scry_buf *f, struct ls_stream **ss, size_t n,
                          const struct schunk *cs, const size_t *per_stream)
{
    size_t start = f->len;
    size_t id = 0;
    ls__put_uvarint(f, n);
    for (size_t i = 0; i < n; i++) {
        const struct ls_stream *s = ss[i];
        ls__put_uvarint(f, s->ls.n);
        for (size_t k = 0; k < s->ls.n; k++) {
            ls__put_str(f, s->ls.v[k].name, strlen(s->ls.v[k].name));
            ls__put_str(f, s->ls.v[k].value, strlen(s->ls.v[k].value));
        }
        ls__put_uvarint(f, per_stream[i]);
        for (size_t k = 0; k < per_stream[i]; k++, id++) {
            const struct schunk *c = &cs[id];
            ls__put_uvarint(f, c->off);
            ls__put_uvarint(f, c->len);
            ls__put_varint(f, c->mint);
            ls__put_uvarint(f, (uint64_t)c->maxt - (uint64_t)c->mint);
            ls__put_uvarint(f, c->n);
        }
    }
    section_crc(f, start);
}

struct lpair {
    const char *name, *value;
    uint32_t stream;
};
static int lpair_cmp(const void *a, const void *b)
{
    const struct lpair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (!c)
        c = strcmp(x->value, y->value);
    return c ? c : (x->stream > y->stream) - (x->stream < y->stream);
}

static void write_labels(struct scry_buf *f, struct ls_stream **ss, size_t n)
{
    size_t np = 0, start = f->len;
    for (size_t i = 0; i < n; i++)
        np += ss[i]->ls.n;
    struct lpair *v = scry_malloc((np + 1) * sizeof *v);
    np = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ss[i]->ls.n; k++)
            v[np++] = (struct lpair){ ss[i]->ls.v[k].name, ss[i]->ls.v[k].value, (uint32_t)i };
    qsort(v, np, sizeof *v, lpair_cmp);
    size_t n_pairs = 0;
    for (size_t i = 0; i < np; i++)
        n_pairs += i == 0 || strcmp(v[i].name, v[i - 1].name) || strcmp(v[i].value, v[i - 1].value);
    ls__put_uvarint(f, n_pairs);
    for (size_t i = 0; i < np;) {
        size_t j = i + 1;
        while (j < np && !strcmp(v[j].name, v[i].name) && !strcmp(v[j].value, v[i].value))
            j++;
        ls__put_str(f, v[i].name, strlen(v[i].name));
        ls__put_str(f, v[i].value, strlen(v[i].value));
        ls__put_uvarint(f, j - i);
        ls__put_uvarint(f, v[i].stream);
        for (size_t k = i + 1; k < j; k++)
            ls__put_uvarint(f, v[k].stream - v[k - 1].stream);
        i = j;
    }
    free(v);
    section_crc(f, start);
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
static int write_tokens(struct scry_buf *f, struct tokmap *tm, uint32_t n_chunks, int level,
                        ZSTD_CCtx *cc, struct ls_segment_stats *st, struct scry_err *err)
{
    /* Keys are sorted, not the 90-byte tokens: moving those was most of the sort. */
    struct tkey *ord = scry_malloc((tm->n + 1) * sizeof *ord);
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
    uint32_t *off = scry_malloc((tm->n + 1) * sizeof *off);
    uint32_t *ids = scry_malloc((tm->pn + 1) * sizeof *ids);
    uint32_t *cnts = scry_malloc((tm->pn + 1) * sizeof *cnts);
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
        section_crc(f, start);
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

static int write_file(const char *dir, const struct scry_buf *f, struct scry_err *err)
{
    char tmp[4096], fin[4096];
    snprintf(tmp, sizeof tmp, "%s/segment.tmp", dir);
    snprintf(fin, sizeof fin, "%s/segment", dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return scry_err_sys(err, SCRY_EIO, "mkdir %s", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return scry_err_sys(err, SCRY_EIO, "open %s", tmp);
    size_t done = 0;
    while (done < f->len) {
        ssize_t w = write(fd, f->p + done, f->len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            scry_err_sys(err, SCRY_EIO, "write %s", tmp);
            close(fd);
            return SCRY_EIO;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0) {
        scry_err_sys(err, SCRY_EIO, "fsync %s", tmp);
        close(fd);
        return SCRY_EIO;
    }
    close(fd);
    if (rename(tmp, fin) != 0)
        return scry_err_sys(err, SCRY_EIO, "rename %s", tmp);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int ls__segment_write(const char *dir, struct ls_stream **ss, size_t n, int level, bool values,
                      struct ls_segment_stats *st, struct scry_err *err)
{
    memset(st, 0, sizeof *st);
    st->mint = INT64_MAX;
    st->maxt = INT64_MIN;
    qsort(ss, n, sizeof *ss, stream_cmp);
    size_t raw = 0;
    for (size_t i = 0; i < n; i++) {
        ls__head_cut(ss[i]);
        assert(ss[i]->n_chunks > 0);
        for (size_t k = 0; k < ss[i]->n_chunks; k++)
            raw += ss[i]->chunks[k].raw_len;
    }
    /* The file is ~17 % of the raw entries on loggen's corpora: reserving
     * a fifth up front saves the copies of growing a buffer of tens of MB. */
    struct scry_buf f = { 0 };
    scry_buf_reserve(&f, raw / 5 + (64u << 10));
    struct tokmap tm = { .values = values };
    size_t *per_stream = scry_calloc(n + 1, sizeof *per_stream);
    struct cw w = { .f = &f, .level = level, .tm = &tm, .st = st, .cc = ZSTD_createCCtx(),
                    .ch = ZSTD_createCCtx() };
    SCRY_ASSERT(w.cc != NULL && w.ch != NULL); /* out of memory: as scry_malloc does */
    ZSTD_CCtx_setParameter(w.ch, ZSTD_c_compressionLevel, 1);
    if (level) {
        ZSTD_CCtx_setParameter(w.cc, ZSTD_c_compressionLevel, level);
    } else {
        ZSTD_CCtx_setParameter(w.cc, ZSTD_c_compressionLevel, 9);
        ZSTD_CCtx_setParameter(w.cc, ZSTD_c_strategy, LS_ZSTD_STRATEGY);
        ZSTD_CCtx_setParameter(w.cc, ZSTD_c_minMatch, LS_ZSTD_MIN_MATCH);
        ZSTD_CCtx_setParameter(w.cc, ZSTD_c_searchLog, LS_ZSTD_SEARCH_LOG);
        ZSTD_CCtx_setParameter(w.cc, ZSTD_c_hashLog, LS_ZSTD_HASH_LOG);
        ZSTD_CCtx_setParameter(w.cc, ZSTD_c_chainLog, LS_ZSTD_CHAIN_LOG);
    }
    scry_buf_put(&f, LS_SEGMENT_MAGIC, LS_MAGIC_BYTES);
    int rc = write_chunks(&w, ss, n, per_stream, err);
    if (rc == 0) {
        uint64_t streams_off = f.len;
        write_streams(&f, ss, n, w.v, per_stream);
        uint64_t labels_off = f.len;
        write_labels(&f, ss, n);
        uint64_t tokens_off = f.len;
        st->stream_bytes = tokens_off - streams_off;
        rc = write_tokens(&f, &tm, (uint32_t)w.n, level, w.ch, st, err);
        st->token_bytes = f.len - tokens_off;
        size_t toc = f.len;
        ls__put_le64(&f, streams_off);
        ls__put_le64(&f, labels_off);
        ls__put_le64(&f, tokens_off);
        ls__put_le64(&f, (uint64_t)st->mint);
        ls__put_le64(&f, (uint64_t)st->maxt);
        ls__put_le64(&f, st->n_entries);
        ls__put_le32(&f, (uint32_t)w.n);
        ls__put_le32(&f, scry_crc32c(0, f.p + toc, LS_TOC_CRC));
        scry_buf_put(&f, LS_SEGMENT_END_MAGIC, LS_MAGIC_BYTES);
        assert(f.len - toc == LS_TOC_BYTES);
        st->n_streams = (uint32_t)n;
        st->n_chunks = (uint32_t)w.n;
        st->bytes = f.len;
        if (rc == 0)
            rc = write_file(dir, &f, err);
    }
    ZSTD_freeCCtx(w.cc);
    ZSTD_freeCCtx(w.ch);
    scry_buf_fini(&w.lines);
    free(w.v);
    free(per_stream);
    scry_buf_fini(&w.raw);
    ls__cols_fini(&w.cols);
    scry_buf_fini(&w.z);
    tokmap_fini(&tm);
    scry_buf_fini(&f);
    return rc;
}
