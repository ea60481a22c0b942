/* segment_read.c — opens a segment file read-only with mmap and validates
 * all of it before anyone reads: magics, TOC CRC, section order and CRCs,
 * every varint and bound of the stream index, label postings and token
 * index. Chunks are CRC-checked when read (chunk_parse), so opening costs
 * O(index), not O(data). Every failure is SCRY_ECORRUPT naming the path and
 * the byte offset. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "core/crc32c.h"
#include "core/mem.h"
#include "core/postings.h"
#include "logstore/ls_internal.h"
#include "logstore/tokenize.h"

static int corrupt(struct ls_segment *s, size_t off, const char *what, struct scry_err *err)
{
    int rc = scry_err_set(err, SCRY_ECORRUPT, "%s: offset %zu: %s", s->path, off, what);
    if (err)
        err->offset = off;
    return rc;
}

static bool section_ok(const uint8_t *p, uint64_t start, uint64_t end)
{
    return end >= start + 4 && scry_crc32c(0, p + start, end - start - 4) == ls__le32(p + end - 4);
}

static char *dupz(struct scry_arena *a, struct scry_str s) { return scry_arena_strndup(a, s.p, s.len); }

static int read_streams(struct ls_segment *s, uint64_t off, uint64_t end, uint64_t chunks_end,
                        struct scry_err *err)
{
    struct ls_rd r = { s->map + off, s->map + end - 4, false };
    uint64_t n = ls__rd_uvarint(&r);
    if (r.bad || n == 0 || n > (uint64_t)(r.end - r.p))
        return corrupt(s, off, "bad stream count", err);
    s->n_streams = (uint32_t)n;
    s->streams = scry_arena_calloc(s->a, n, sizeof *s->streams);
    s->chunks = scry_arena_calloc(s->a, s->n_chunks, sizeof *s->chunks);
    uint32_t id = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t at = (size_t)(r.p - s->map);
        uint64_t nl = ls__rd_uvarint(&r);
        if (r.bad || nl == 0 || nl > (uint64_t)(r.end - r.p))
            return corrupt(s, at, "bad label count", err);
        struct scry_label *v = scry_arena_alloc(s->a, nl * sizeof *v);
        for (uint64_t k = 0; k < nl; k++) {
            struct scry_str a = ls__rd_str(&r), b = ls__rd_str(&r);
            if (r.bad || !a.len || !b.len || memchr(a.p, 0, a.len) || memchr(b.p, 0, b.len))
                return corrupt(s, at, "bad label", err);
            v[k].name = dupz(s->a, a);
            v[k].value = dupz(s->a, b);
            if (k && strcmp(v[k - 1].name, v[k].name) >= 0)
                return corrupt(s, at, "labels not sorted", err);
        }
        s->streams[i].ls = (struct scry_labels){ v, nl };
        if (i && scry_labels_cmp(&s->streams[i - 1].ls, &s->streams[i].ls) >= 0)
            return corrupt(s, at, "streams not sorted", err);
        uint64_t nc = ls__rd_uvarint(&r);
        if (r.bad || nc == 0 || nc > s->n_chunks - id)
            return corrupt(s, at, "bad chunk count", err);
        s->streams[i].first_chunk = id;
        s->streams[i].n_chunks = (uint32_t)nc;
        for (uint64_t k = 0; k < nc; k++, id++) {
            struct ls_seg_chunk *c = &s->chunks[id];
            c->off = ls__rd_uvarint(&r);
            c->len = ls__rd_uvarint(&r);
            c->mint = ls__rd_varint(&r);
            uint64_t span = ls__rd_uvarint(&r);
            uint64_t ne = ls__rd_uvarint(&r);
            c->maxt = (int64_t)((uint64_t)c->mint + span);
            c->n = (uint32_t)ne;
            c->stream = (uint32_t)i;
            if (r.bad || c->off < LS_MAGIC_BYTES || c->off > chunks_end ||
                c->len > chunks_end - c->off || c->len < 6 || span > (uint64_t)INT64_MAX ||
                c->maxt < c->mint || ne == 0 || ne > UINT32_MAX)
                return corrupt(s, at, "bad chunk ref", err);
        }
    }
    if (id != s->n_chunks || r.p != r.end)
        return corrupt(s, off, "chunk count differs from the toc", err);
    return 0;
}

static int read_ids(struct ls_rd *r, uint64_t limit, struct scry_arena *a, uint64_t **out,
                    size_t *n)
{
    uint64_t cnt = ls__rd_uvarint(r);
    if (r->bad || cnt == 0 || cnt > limit)
        return -1;
    uint64_t *v = scry_arena_alloc(a, cnt * sizeof *v);
    v[0] = ls__rd_uvarint(r);
    for (uint64_t i = 1; i < cnt; i++) {
        uint64_t d = ls__rd_uvarint(r);
        if (d == 0 || d > limit)
            return -1;
        v[i] = v[i - 1] + d;
    }
    if (r->bad || v[cnt - 1] >= limit)
        return -1;
    *out = v;
    *n = (size_t)cnt;
    return 0;
}

static int read_labels(struct ls_segment *s, uint64_t off, uint64_t end, struct scry_err *err)
{
    struct ls_rd r = { s->map + off, s->map + end - 4, false };
    uint64_t n = ls__rd_uvarint(&r);
    if (r.bad || n > (uint64_t)(r.end - r.p))
        return corrupt(s, off, "bad pair count", err);
    s->pairs = scry_arena_calloc(s->a, n + 1, sizeof *s->pairs);
    s->n_pairs = (size_t)n;
    for (uint64_t i = 0; i < n; i++) {
        size_t at = (size_t)(r.p - s->map);
        struct scry_str a = ls__rd_str(&r), b = ls__rd_str(&r);
        if (r.bad)
            return corrupt(s, at, "bad pair", err);
        s->pairs[i].name = dupz(s->a, a);
        s->pairs[i].value = dupz(s->a, b);
        if (read_ids(&r, s->n_streams, s->a, &s->pairs[i].ids, &s->pairs[i].n) != 0)
            return corrupt(s, at, "bad stream postings", err);
    }
    if (r.p != r.end)
        return corrupt(s, off, "trailing bytes in label postings", err);
    return 0;
}

/* One zstd frame of exactly raw_len bytes into out. Streaming, so memory
 * follows the bytes the frame really yields, not the length it claims. */
static int inflate(const uint8_t *zp, size_t comp, size_t raw_len, struct scry_buf *out)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer in = { zp, comp, 0 };
    size_t ret = 1;
    while (ret != 0) {
        size_t step = raw_len - out->len;
        step = step > (1u << 20) ? (1u << 20) : step ? step : 1; /* 1: room to see excess */
        scry_buf_reserve(out, step);
        ZSTD_outBuffer o = { out->p + out->len, step, 0 };
        ret = ZSTD_decompressStream(d, &o, &in);
        if (ZSTD_isError(ret))
            break;
        out->len += o.pos;
        if (out->len > raw_len || (ret != 0 && o.pos == 0 && in.pos == in.size))
            break;
    }
    ZSTD_freeDCtx(d);
    return ret == 0 && out->len == raw_len && in.pos == in.size ? 0 : -1;
}

/* FORMAT.md "Token index": the dictionary is decompressed and expanded
 * into the arena (tokens concatenated for the containment walk, offsets for
 * binary search), every entry checked; the fingerprint set is decoded once. */
static int read_tokens(struct ls_segment *s, uint64_t off, uint64_t end, struct scry_err *err)
{
    struct ls_rd r = { s->map + off, s->map + end - 4, false };
    const uint8_t *hdr = ls__rd_bytes(&r, 3);
    uint64_t n = ls__rd_uvarint(&r), raw_len = ls__rd_uvarint(&r), comp = ls__rd_uvarint(&r);
    const uint8_t *zp = ls__rd_bytes(&r, comp);
    if (r.bad || (hdr[0] & ~(LS_TOK_VALUES | LS_TOK_COUNTS)) || hdr[1] == 0 || hdr[2] == 0 ||
        hdr[2] > hdr[1] ||
        hdr[1] > LS_TOKEN_MAX || n > raw_len || raw_len > UINT32_MAX)
        return corrupt(s, off, "bad token dictionary header", err);
    struct scry_buf rb = { 0 };
    if (inflate(zp, (size_t)comp, (size_t)raw_len, &rb) != 0) {
        scry_buf_fini(&rb);
        return corrupt(s, (size_t)(zp - s->map), "token dictionary does not decompress", err);
    }
    /* FORMAT.md "Line counts": one uvarint per posting, dictionary order */
    struct ls_rd cr = { NULL, NULL, false };
    if (hdr[0] & LS_TOK_COUNTS) {
        const uint8_t *mc = ls__rd_bytes(&r, 1);
        uint64_t craw = ls__rd_uvarint(&r), ccomp = ls__rd_uvarint(&r);
        const uint8_t *czp = ls__rd_bytes(&r, ccomp);
        struct scry_buf cb = { 0 };
        if (r.bad || mc[0] == 0 || craw > UINT32_MAX || craw > 10 * (raw_len + 1) ||
            inflate(czp, (size_t)ccomp, (size_t)craw, &cb) != 0) {
            scry_buf_fini(&cb);
            scry_buf_fini(&rb);
            return corrupt(s, (size_t)(r.p - s->map), "bad line counts", err);
        }
        uint8_t *c = scry_arena_alloc(s->a, craw + 1);
        if (craw)
            memcpy(c, cb.p, craw);
        scry_buf_fini(&cb);
        s->counts = c;
        s->count_min = mc[0];
        s->cnt_off = scry_arena_alloc(s->a, (n + 1) * sizeof *s->cnt_off);
        cr = (struct ls_rd){ c, c + craw, false };
    }
    uint8_t *raw = scry_arena_alloc(s->a, raw_len + 1);
    if (raw_len)
        memcpy(raw, rb.p, raw_len);
    scry_buf_fini(&rb);
    s->dict = raw;
    s->tok_flags = hdr[0];
    s->gram_len = hdr[1];
    s->gram_step = hdr[2];
    s->dict_bytes = (uint64_t)(r.p - (s->map + off));
    s->n_dict = (uint32_t)n;
    s->tok_off = scry_arena_alloc(s->a, (n + 1) * sizeof *s->tok_off);
    s->post_off = scry_arena_alloc(s->a, (n + 1) * sizeof *s->post_off);
    /* Front coding: the expanded tokens can be longer than the raw bytes. */
    struct scry_buf bb = { 0 };
    struct ls_rd d = { raw, raw + raw_len, false };
    uint32_t bl = 0, prev_len = 0;
    struct scry_arena *tmp = scry_arena_create(0);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t shared = ls__rd_uvarint(&d);
        struct scry_str suf = ls__rd_str(&d);
        uint64_t len = shared + suf.len;
        if (d.bad || shared > prev_len || len == 0 || len > LS_TOKEN_MAX) {
            d.bad = true;
            break;
        }
        /* The shared prefix is the previous token's: copy it down. */
        scry_buf_reserve(&bb, len + 1); /* bb.len == bl */
        char *blob = bb.p;
        memmove(blob + bl, blob + bl - prev_len, shared);
        memcpy(blob + bl + shared, suf.p, suf.len);
        bb.len = bl + len;
        if (i) {
            const char *pv = blob + bl - prev_len, *cur = blob + bl;
            size_t m = prev_len < len ? prev_len : len;
            int c = memcmp(pv, cur, m);
            if (c > 0 || (c == 0 && prev_len >= len))
                d.bad = true; /* not sorted, or a repeat */
        }
        s->tok_off[i] = bl;
        s->post_off[i] = (uint32_t)(d.p - raw);
        uint64_t *ids;
        size_t k;
        scry_arena_reset(tmp);
        if (d.bad || read_ids(&d, s->n_chunks, tmp, &ids, &k) != 0) {
            d.bad = true;
            break;
        }
        if (s->counts) {
            s->cnt_off[i] = (uint32_t)(cr.p - s->counts);
            for (size_t j = 0; k >= s->count_min && j < k; j++)
                if (ls__rd_uvarint(&cr) > s->chunks[ids[j]].n)
                    cr.bad = true; /* more lines than the chunk has entries */
            if (cr.bad) {
                d.bad = true;
                break;
            }
        }
        bl += (uint32_t)len;
        prev_len = (uint32_t)len;
    }
    scry_arena_destroy(tmp);
    if (s->counts && !d.bad) {
        s->cnt_off[n] = (uint32_t)(cr.p - s->counts);
        d.bad = cr.p != cr.end;
    }
    if (d.bad || d.p != d.end) {
        scry_buf_fini(&bb);
        return corrupt(s, (size_t)(zp - s->map), "bad token dictionary", err);
    }
    s->tok_off[n] = bl;
    s->post_off[n] = (uint32_t)raw_len;
    char *blob = scry_arena_alloc(s->a, bl + 1);
    if (bl)
        memcpy(blob, bb.p, bl);
    scry_buf_fini(&bb);
    s->blob = blob;
    size_t hm = (s->n_chunks + 7) / 8, used = 0;
    s->hexmap = ls__rd_bytes(&r, hm);
    s->nummap = ls__rd_bytes(&r, hm);
    size_t at = (size_t)(r.p - s->map);
    if (r.bad || ls__fpset_parse(&s->fp, r.p, (size_t)(r.end - r.p), s->n_chunks, &used) != 0 ||
        used != (size_t)(r.end - r.p))
        return corrupt(s, at, "bad fingerprint set", err);
    s->fp_bytes = used;
    return 0;
}

static int validate(struct ls_segment *s, struct scry_err *err)
{
    const uint8_t *p = s->map;
    if (s->len >= LS_MAGIC_BYTES && !memcmp(p, LS_SEGMENT_MAGIC_V1, LS_MAGIC_BYTES))
        return corrupt(s, 0, "segment format version 1 is not readable by this version "
                       "(versions 2 and 3, FORMAT.md): remove the segment", err);
    if (s->len < LS_MAGIC_BYTES + LS_TOC_BYTES || (memcmp(p, LS_SEGMENT_MAGIC, LS_MAGIC_BYTES) &&
                                                   memcmp(p, LS_SEGMENT_MAGIC_V2, LS_MAGIC_BYTES)))
        return corrupt(s, 0, "bad magic", err);
    size_t toc = s->len - LS_TOC_BYTES;
    const uint8_t *t = p + toc;
    if (memcmp(t + LS_TOC_MAGIC, LS_SEGMENT_END_MAGIC, LS_MAGIC_BYTES) ||
        scry_crc32c(0, t, LS_TOC_CRC) != ls__le32(t + LS_TOC_CRC))
        return corrupt(s, toc, "bad toc", err);
    uint64_t so = ls__le64(t + LS_TOC_STREAMS_OFF), lo = ls__le64(t + LS_TOC_LABELS_OFF);
    uint64_t to = ls__le64(t + LS_TOC_TOKENS_OFF);
    s->mint = (int64_t)ls__le64(t + LS_TOC_MINT);
    s->maxt = (int64_t)ls__le64(t + LS_TOC_MAXT);
    s->n_entries = ls__le64(t + LS_TOC_N_ENTRIES);
    s->n_chunks = ls__le32(t + LS_TOC_N_CHUNKS);
    if (!(LS_MAGIC_BYTES <= so && so + 4 <= lo && lo + 4 <= to && to + 4 <= toc) ||
        s->n_chunks == 0 || s->n_chunks > so || s->mint > s->maxt)
        return corrupt(s, toc, "bad section offsets", err);
    if (!section_ok(p, so, lo))
        return corrupt(s, so, "stream index crc", err);
    if (!section_ok(p, lo, to))
        return corrupt(s, lo, "label postings crc", err);
    if (!section_ok(p, to, toc))
        return corrupt(s, to, "token index crc", err);
    int rc = read_streams(s, so, lo, so, err);
    if (rc == 0)
        rc = read_labels(s, lo, to, err);
    if (rc == 0)
        rc = read_tokens(s, to, toc, err);
    return rc;
}

static struct ls_segment *seg_new(const char *path)
{
    struct ls_segment *s = scry_calloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->path = scry_strdup(path);
    s->a = scry_arena_create(0);
    return s;
}

int ls__segment_open_mem(struct ls_segment **out, const uint8_t *p, size_t len, const char *path,
                         struct scry_err *err)
{
    struct ls_segment *s = seg_new(path);
    s->map = (uint8_t *)p;
    s->len = len;
    int rc = validate(s, err);
    if (rc) {
        s->map = NULL;
        ls__segment_release(s);
        return rc;
    }
    *out = s;
    return 0;
}

int ls__segment_open(struct ls_segment **out, const char *dir, struct scry_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/segment", dir);
    struct ls_segment *s = seg_new(path);
    s->dir = scry_strdup(dir);
    const char *slash = strrchr(dir, '/');
    snprintf(s->id, sizeof s->id, "%s", slash ? slash + 1 : dir);
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        rc = scry_err_sys(err, SCRY_EIO, "open %s", path);
    } else if (sb.st_size < LS_MAGIC_BYTES + LS_TOC_BYTES) {
        rc = corrupt(s, 0, "file too short", err);
    } else {
        s->len = (size_t)sb.st_size;
        void *m = mmap(NULL, s->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            rc = scry_err_sys(err, SCRY_EIO, "mmap %s", path);
        else
            s->map = m;
    }
    if (fd >= 0)
        close(fd);
    if (rc == 0)
        rc = validate(s, err);
    if (rc) {
        ls__segment_release(s);
        return rc;
    }
    *out = s;
    return 0;
}

void ls__segment_acquire(struct ls_segment *s) { atomic_fetch_add(&s->refs, 1); }

void ls__segment_release(struct ls_segment *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->map && s->dir)
        munmap(s->map, s->len);
    scry_arena_destroy(s->a);
    free(s->path);
    free(s->dir);
    free(s);
}

/* ---- chunks ---- */

int ls__chunk_parse(const uint8_t *p, size_t len, struct ls_chunk_src *out, struct scry_err *err)
{
    struct ls_rd r = { p, p + len, false };
    if (len < 7 || scry_crc32c(0, p, len - 4) != ls__le32(p + len - 4))
        return scry_err_set(err, SCRY_ECORRUPT, "chunk crc");
    r.end -= 4;
    uint8_t codec = *r.p++;
    uint64_t raw = ls__rd_uvarint(&r), comp = ls__rd_uvarint(&r);
    bool known = codec == LS_CODEC_LZ4 || codec == LS_CODEC_ZSTD || codec == LS_CODEC_ZSTD_COLS ||
                 codec == LS_CODEC_ZSTD_COLS2;
    if (r.bad || !known || raw == 0 || raw > LS_CHUNK_RAW_MAX ||
        comp != (uint64_t)(r.end - r.p))
        return scry_err_set(err, SCRY_ECORRUPT, "chunk header");
    out->codec = codec;
    out->p = r.p;
    out->len = (size_t)comp;
    out->raw_len = (uint32_t)raw;
    return 0;
}

/* Decompression contexts, kept for the process: ZSTD_decompress makes and
 * frees one (~100 KB, its tables set up) per call, and a chunk is two
 * frames. A few are enough (the decode workers and the callers' threads
 * decoding at once); more decoders than that share by waiting. */
#define DCTX_POOL 8
static struct {
    pthread_mutex_t mu;
    ZSTD_DCtx *free[DCTX_POOL];
    int n;
} dctx_pool = { PTHREAD_MUTEX_INITIALIZER, { NULL }, 0 };

static ZSTD_DCtx *dctx_get(void)
{
    ZSTD_DCtx *d = NULL;
    pthread_mutex_lock(&dctx_pool.mu);
    if (dctx_pool.n)
        d = dctx_pool.free[--dctx_pool.n];
    pthread_mutex_unlock(&dctx_pool.mu);
    return d ? d : ZSTD_createDCtx(); /* NULL (no memory): the caller reports it */
}

static void dctx_put(ZSTD_DCtx *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&dctx_pool.mu);
    if (dctx_pool.n < DCTX_POOL) {
        dctx_pool.free[dctx_pool.n++] = d;
        d = NULL;
    }
    pthread_mutex_unlock(&dctx_pool.mu);
    ZSTD_freeDCtx(d); /* NULL: no-op */
}

/* Codec 4 (FORMAT.md "Chunk"): uvarint cols_comp, the columns' frame, the
 * lines' frame; decoded back to back into dst (raw_len bytes). */
static size_t cols2_decompress(ZSTD_DCtx *z, const struct ls_chunk_src *c, char *dst)
{
    struct ls_rd r = { c->p, c->p + c->len, false };
    uint64_t hc = ls__rd_uvarint(&r);
    if (r.bad || hc > (uint64_t)(r.end - r.p))
        return (size_t)-1;
    size_t a = ZSTD_decompressDCtx(z, dst, c->raw_len, r.p, (size_t)hc);
    if (ZSTD_isError(a))
        return (size_t)-1;
    size_t b = ZSTD_decompressDCtx(z, dst + a, c->raw_len - a, r.p + hc,
                                   (size_t)(r.end - r.p) - hc);
    return ZSTD_isError(b) ? (size_t)-1 : a + b;
}

int ls__chunk_payload(const struct ls_chunk_src *c, struct scry_buf *buf, const uint8_t **out,
                      struct scry_err *err)
{
    if (c->codec == 0) {
        *out = c->p;
        return 0;
    }
    scry_buf_reset(buf);
    scry_buf_reserve(buf, c->raw_len);
    size_t got;
    if (c->codec == LS_CODEC_LZ4) {
        int n = LZ4_decompress_safe((const char *)c->p, buf->p, (int)c->len, (int)c->raw_len);
        got = n < 0 ? (size_t)-1 : (size_t)n;
    } else {
        ZSTD_DCtx *z = dctx_get();
        if (!z)
            return scry_err_set(err, SCRY_ENOMEM, "zstd decompression context");
        if (c->codec == LS_CODEC_ZSTD_COLS2) {
            got = cols2_decompress(z, c, buf->p);
        } else {
            got = ZSTD_decompressDCtx(z, buf->p, c->raw_len, c->p, c->len);
            if (ZSTD_isError(got))
                got = (size_t)-1;
        }
        dctx_put(z);
    }
    if (got != c->raw_len)
        return scry_err_set(err, SCRY_ECORRUPT, "chunk does not decompress to %u bytes",
                            c->raw_len);
    *out = (const uint8_t *)buf->p;
    return 0;
}

/* ---- lookups ---- */

void ls__segment_select(struct ls_segment *s, const struct scry_matcher *ms, size_t n_ms,
                        struct scry_arena *a, uint64_t **out, size_t *n)
{
    struct scry_postings_iter **its = scry_arena_alloc(a, (n_ms + 1) * sizeof *its);
    size_t n_its = 0;
    for (size_t i = 0; i < n_ms; i++) {
        if (ms[i].type != SCRY_MATCH_EQ || !ms[i].value[0])
            continue;
        struct ls_seg_pair *hit = NULL;
        size_t lo = 0, hi = s->n_pairs;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = strcmp(s->pairs[mid].name, ms[i].name);
            if (!c)
                c = strcmp(s->pairs[mid].value, ms[i].value);
            if (!c) {
                hit = &s->pairs[mid];
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (!hit) {
            *n = 0;
            *out = NULL;
            return;
        }
        its[n_its++] = scry_postings_list(a, hit->ids, hit->n);
    }
    uint64_t *cand;
    size_t n_cand = 0;
    if (n_its) {
        scry_postings_expand(scry_postings_intersect(a, its, n_its), a, &cand, &n_cand, NULL);
    } else {
        cand = scry_arena_alloc(a, s->n_streams * sizeof *cand);
        for (uint32_t i = 0; i < s->n_streams; i++)
            cand[n_cand++] = i;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_cand; i++) {
        bool ok = true;
        for (size_t j = 0; j < n_ms && ok; j++)
            ok = scry_matcher_matches_labels(&ms[j], &s->streams[cand[i]].ls);
        if (ok)
            cand[k++] = cand[i];
    }
    *out = cand;
    *n = k;
}

struct idv {                          /* chunk ids from fingerprint probes */
    struct scry_arena *a;
    uint64_t *v;
    size_t n, cap;
};
static void idv_add(void *ud, uint32_t chunk)
{
    struct idv *x = ud;
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 16;
        uint64_t *v = scry_arena_alloc(x->a, nc * sizeof *v);
        if (x->n)
            memcpy(v, x->v, x->n * sizeof *v);
        x->v = v;
        x->cap = nc;
    }
    x->v[x->n++] = chunk;
}
static struct scry_postings_iter *idv_postings(struct idv *x)
{
    if (x->n == 0)
        return scry_postings_empty(x->a);
    qsort(x->v, x->n, sizeof *x->v, ls__cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < x->n; i++)
        if (!k || x->v[k - 1] != x->v[i])
            x->v[k++] = x->v[i];
    return scry_postings_list(x->a, x->v, k);
}

static void map_add(struct ls_segment *s, const uint8_t *map, struct idv *x)
{
    for (uint32_t c = 0; c < s->n_chunks; c++)
        if (map[c / 8] & (1u << (c % 8)))
            idv_add(x, c);
}

/* The chunks that may hold a hex id or a number-like word containing tok
 * (README.md "Token index"): hex ids by the grams of tok at every alignment
 * when it is long enough, else by the hex map; number-like words by their
 * map. NULL when tok cannot lie inside either. */
static struct scry_postings_iter *id_postings(struct ls_segment *s, const char *tok, size_t len,
                                              struct scry_arena *a)
{
    bool hex = ls__all_hex(tok, len), num = ls__numish_piece(tok, len);
    if (!hex && !num)
        return NULL;
    struct idv x = { .a = a };
    if (hex && len >= (size_t)s->gram_len + s->gram_step - 1) {
        for (size_t al = 0; al < s->gram_step; al++)
            ls__fpset_probe(&s->fp, ls__fp_hash(LS_FP_DOMAIN_GRAM, tok + al, s->gram_len),
                            idv_add, &x);
    } else if (hex) {
        map_add(s, s->hexmap, &x);
    }
    if (num)
        map_add(s, s->nummap, &x);
    return idv_postings(&x);
}

int ls__segment_value_chunks(struct ls_segment *s, const char *value, size_t len,
                             struct scry_arena *a, uint64_t **out, size_t *n_out)
{
    if (!(s->tok_flags & LS_TOK_VALUES)) {
        *out = NULL;
        *n_out = SIZE_MAX;
        return 0;
    }
    struct idv x = { .a = a };
    ls__fpset_probe(&s->fp, ls__fp_hash(LS_FP_DOMAIN_VALUE, value, len), idv_add, &x);
    idv_postings(&x);
    *out = x.v;
    size_t k = 0;
    for (size_t i = 0; i < x.n; i++)
        if (!k || x.v[k - 1] != x.v[i])
            k++;
    *n_out = x.n ? k : 0;
    return 0;
}

/* The first tok[0..len) in h[0..n): memchr (vectorised in libc) on the
 * token's rarest byte in a sample of the dictionary, then a compare. A
 * rare word in a large dictionary is found several times faster than by
 * memmem, and this walk is most of a rare needle's lookup. */
static const char *dict_find(const char *h, size_t n, const char *tok, size_t len, size_t r)
{
    if (len > n)
        return NULL;
    const char *end = h + n - len + r + 1, c = tok[r];
    for (const char *p = h + r; p < end;) {
        const char *q = memchr(p, c, (size_t)(end - p));
        if (!q)
            return NULL;
        if (!memcmp(q - r, tok, len))
            return q - r;
        p = q + 1;
    }
    return NULL;
}

static size_t rarest(const char *sample, size_t n, const char *tok, size_t len)
{
    uint32_t freq[256] = { 0 };
    for (size_t i = 0; i < n; i++)
        freq[(unsigned char)sample[i]]++;
    size_t r = 0;
    for (size_t i = 1; i < len; i++)
        if (freq[(unsigned char)tok[i]] < freq[(unsigned char)tok[r]])
            r = i;
    return r;
}

void ls__dict_walk_init(struct ls_dict_walk *w, const struct ls_segment *s, const char *tok,
                        size_t len)
{
    size_t blob_len = s->tok_off[s->n_dict];
    *w = (struct ls_dict_walk){ s->blob, s->blob + blob_len, tok, len,
                                rarest(s->blob, blob_len < 8192 ? blob_len : 8192, tok, len),
                                UINT32_MAX };
}

uint32_t ls__dict_walk_next(struct ls_dict_walk *w, const struct ls_segment *s)
{
    while (w->q < w->end &&
           (w->q = dict_find(w->q, (size_t)(w->end - w->q), w->tok, w->len, w->rare)) != NULL) {
        uint32_t pos = (uint32_t)(w->q - s->blob), i = ls__dict_entry_at(s, pos);
        w->q++;
        if (pos + w->len > s->tok_off[i + 1] || i == w->last)
            continue; /* across two tokens, or this token seen */
        return w->last = i;
    }
    w->q = w->end;
    return UINT32_MAX;
}

/* The union of the postings of every dictionary token containing tok, and
 * of the hex ids that may contain it. */
static struct scry_postings_iter *token_postings(struct ls_segment *s, const char *tok,
                                                 size_t len, struct scry_arena *a)
{
    struct scry_postings_iter **its = NULL;
    size_t n_its = 0, cap = 0;
    struct ls_dict_walk w;
    ls__dict_walk_init(&w, s, tok, len);
    bool id_classes = true;
    for (;;) {
        struct scry_postings_iter *it = NULL;
        uint32_t lo = ls__dict_walk_next(&w, s);
        if (lo != UINT32_MAX) {
            struct ls_rd r = { s->dict + s->post_off[lo], s->dict + s->post_off[lo + 1], false };
            uint64_t *ids;
            size_t n;
            SCRY_ASSERT(read_ids(&r, s->n_chunks, a, &ids, &n) == 0); /* validated at open */
            it = scry_postings_list(a, ids, n);
        } else if (id_classes) {
            id_classes = false;
            if ((it = id_postings(s, tok, len, a)) == NULL)
                continue;
        } else {
            break;
        }
        if (n_its == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct scry_postings_iter **v = scry_arena_alloc(a, nc * sizeof *v);
            if (n_its)
                memcpy(v, its, n_its * sizeof *v);
            its = v;
            cap = nc;
        }
        its[n_its++] = it;
    }
    if (n_its == 0)
        return scry_postings_empty(a);
    return n_its == 1 ? its[0] : scry_postings_merge(a, its, n_its);
}

int ls__segment_token_chunks(struct ls_segment *s, const struct scry_str *toks, size_t n,
                             struct scry_arena *a, uint64_t **out, size_t *n_out,
                             struct scry_err *err)
{
    assert(n > 0);
    struct scry_postings_iter **its = scry_arena_alloc(a, n * sizeof *its);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = toks[i].len > LS_TOKEN_MAX / 2 ? LS_TOKEN_MAX / 2 : toks[i].len;
        if (len == 0)
            continue;
        its[k++] = token_postings(s, toks[i].p, len, a);
    }
    if (k == 0) {
        *out = NULL;
        *n_out = SIZE_MAX; /* no usable token: every chunk */
        return 0;
    }
    return scry_postings_expand(k == 1 ? its[0] : scry_postings_intersect(a, its, k), a, out,
                                n_out, err);
}
