/* index_read.c — validates and decodes a block's index (FORMAT.md "index
 * file").
 *
 * Bytes from disk are validated, never asserted: every offset, count and
 * symbol number is checked against what remains before it is used, and the
 * first bad field fails the open with SCRY_ECORRUPT naming the file and
 * the byte offset. The symbol table and the postings table are decoded at
 * open (a few bytes per distinct string and per label pair); series groups
 * and postings lists are decoded on demand. */
#include <inttypes.h>
#include <lz4.h>
#include <stdlib.h>

#include "core/crc32c.h"
#include "core/mem.h"
#include "tsdb/block_internal.h"

static int corrupt(const struct tsdb_block *b, struct scry_err *err, size_t off, const char *what)
{
    int rc = scry_err_set(err, SCRY_ECORRUPT, "%s: %s at offset %zu", b->index_path, what, off);
    if (err)
        err->offset = off;
    return rc;
}

int tsdb__blob_get(const uint8_t *p, size_t len, struct scry_buf *scratch, const uint8_t **raw,
                   size_t *raw_len, struct scry_err *err)
{
    if (len < 1)
        return scry_err_set(err, SCRY_ECORRUPT, "empty blob");
    if (p[0] == TSDB__CODEC_RAW) {
        *raw = p + 1;
        *raw_len = len - 1;
        return 0;
    }
    if (p[0] != TSDB__CODEC_LZ4)
        return scry_err_set(err, SCRY_ECORRUPT, "blob codec %u", p[0]);
    struct tsdb__rd r = {p + 1, p + len, false};
    uint64_t n = tsdb__rd_uvarint(&r);
    size_t zl = (size_t)(r.end - r.p);
    if (r.bad || n == 0 || n > TSDB__BLOB_RAW_MAX || n > 255 * (uint64_t)zl + 16 || zl > INT32_MAX)
        return scry_err_set(err, SCRY_ECORRUPT, "blob length %" PRIu64 " from %zu bytes", n, zl);
    scry_buf_reset(scratch);
    scry_buf_reserve(scratch, n);
    int got = LZ4_decompress_safe((const char *)r.p, scratch->p, (int)zl, (int)n);
    if (got < 0 || (uint64_t)got != n)
        return scry_err_set(err, SCRY_ECORRUPT, "blob does not decompress to %" PRIu64 " bytes", n);
    scratch->len = n;
    *raw = (const uint8_t *)scratch->p;
    *raw_len = n;
    return 0;
}

/* ---- TOC ------------------------------------------------------------------ */

struct span {
    const uint8_t *p;
    size_t len, off;
};

static int read_toc(struct tsdb_block *b, bool verify_crc, struct span sec[TSDB__N_SEC],
                    struct scry_err *err)
{
    const uint8_t *p = b->idx;
    size_t len = b->idx_len;
    if (len < TSDB__HDR_BYTES + TSDB__TOC_BYTES)
        return corrupt(b, err, len, "file too short");
    if (memcmp(p, TSDB__IDX_MAGIC, 4) || p[4] != TSDB__FILE_VERSION || p[5] || p[6] || p[7])
        return corrupt(b, err, 0, "bad magic or version");
    const uint8_t *toc = p + len - TSDB__TOC_BYTES;
    if (memcmp(toc + TSDB__N_SEC * 24 + 4, TSDB__IDX_END_MAGIC, 4))
        return corrupt(b, err, len - 4, "bad end magic");
    if (verify_crc && tsdb__le32(toc + TSDB__N_SEC * 24) != scry_crc32c(0, toc, TSDB__N_SEC * 24))
        return corrupt(b, err, len - 8, "TOC crc mismatch");
    uint64_t pos = TSDB__HDR_BYTES, limit = len - TSDB__TOC_BYTES;
    for (int i = 0; i < TSDB__N_SEC; i++) {
        const uint8_t *te = toc + 24 * i;
        uint64_t off = tsdb__le64(te), sl = tsdb__le64(te + 8);
        size_t at = len - TSDB__TOC_BYTES + 24 * (size_t)i;
        if (off != pos || sl > limit - off || tsdb__le32(te + 20))
            return corrupt(b, err, at, "TOC entry out of bounds");
        sec[i] = (struct span){p + off, (size_t)sl, (size_t)off};
        if (verify_crc && tsdb__le32(te + 16) != scry_crc32c(0, sec[i].p, sec[i].len))
            return corrupt(b, err, (size_t)off, "section crc mismatch");
        pos = off + sl;
    }
    if (pos != limit)
        return corrupt(b, err, (size_t)pos, "bytes between the sections and the TOC");
    return 0;
}

int tsdb__index_fix_crcs(uint8_t *p, size_t len)
{
    if (len < TSDB__HDR_BYTES + TSDB__TOC_BYTES)
        return -1;
    uint8_t *toc = p + len - TSDB__TOC_BYTES;
    for (int i = 0; i < TSDB__N_SEC; i++) {
        uint64_t off = tsdb__le64(toc + 24 * i), sl = tsdb__le64(toc + 24 * i + 8);
        if (off > len || sl > len - off)
            return -1;
        tsdb__le32_put(toc + 24 * i + 16, scry_crc32c(0, p + off, (size_t)sl));
    }
    tsdb__le32_put(toc + TSDB__N_SEC * 24, scry_crc32c(0, toc, TSDB__N_SEC * 24));
    return 0;
}

/* ---- sections ---------------------------------------------------------------- */

static int read_meta(struct tsdb_block *b, struct span s, struct scry_err *err)
{
    struct tsdb_block_meta *m = &b->meta;
    if (s.len < TSDB_BLOCK_ID_LEN || !tsdb_block_id_valid((const char *)s.p, TSDB_BLOCK_ID_LEN))
        return corrupt(b, err, s.off, "meta: bad block id");
    memcpy(m->id, s.p, TSDB_BLOCK_ID_LEN);
    m->id[TSDB_BLOCK_ID_LEN] = '\0';
    struct tsdb__rd r = {s.p + TSDB_BLOCK_ID_LEN, s.p + s.len, false};
    m->mint_ms = tsdb__rd_varint(&r);
    m->maxt_ms = tsdb__rd_varint(&r);
    m->n_series = tsdb__rd_uvarint_max(&r, TSDB__SERIES_MAX);
    m->n_samples = tsdb__rd_uvarint(&r);
    m->n_chunks = tsdb__rd_uvarint(&r);
    m->chunks_bytes = tsdb__rd_uvarint(&r);
    m->level = (uint32_t)tsdb__rd_uvarint_max(&r, UINT32_MAX);
    if (r.bad || r.p != r.end || m->mint_ms > m->maxt_ms || !m->n_series ||
        m->n_chunks < m->n_series || m->n_samples < m->n_chunks || !m->level)
        return corrupt(b, err, s.off + (size_t)(r.p - s.p), "meta: bad field");
    m->index_bytes = b->idx_len;
    return 0;
}

static int read_symbols(struct tsdb_block *b, struct span s, struct scry_buf *scratch,
                        struct scry_err *err)
{
    const uint8_t *raw;
    size_t raw_len;
    if (tsdb__blob_get(s.p, s.len, scratch, &raw, &raw_len, err))
        return corrupt(b, err, s.off, "symbols: bad blob");
    struct tsdb__rd r = {raw, raw + raw_len, false};
    /* Each symbol takes at least 2 bytes: counts above raw_len/2 are lies. */
    uint64_t n = tsdb__rd_uvarint_max(&r, raw_len / 2);
    if (r.bad)
        return corrupt(b, err, s.off, "symbols: bad count");
    /* Front coding can expand: bound the total by shared prefixes as we go. */
    size_t cap = raw_len + n + 64, used = 0;
    b->sym_buf = scry_malloc(cap);
    b->sym = scry_malloc((n + 1) * sizeof *b->sym);
    b->sym_len = scry_malloc((n + 1) * sizeof *b->sym_len);
    b->n_symbols = (uint32_t)n;
    size_t prev_off = 0, prev_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t shared = tsdb__rd_uvarint_max(&r, prev_len);
        uint64_t len = tsdb__rd_uvarint_max(&r, (uint64_t)(r.end - r.p));
        if (r.bad || (uint64_t)(r.end - r.p) < len || shared + len == 0 ||
            shared + len > (1u << 24) || memchr(r.p, 0, len))
            return corrupt(b, err, s.off, "symbols: bad entry");
        size_t need = (size_t)(shared + len + 1);
        if (used + need > cap) {
            if (cap > ((size_t)1 << 34))
                return corrupt(b, err, s.off, "symbols: too large");
            size_t ncap = (used + need) * 2;
            char *nb = scry_realloc(b->sym_buf, ncap);
            b->sym_buf = nb;
            cap = ncap;
        }
        char *dst = b->sym_buf + used;
        memmove(dst, b->sym_buf + prev_off, (size_t)shared);
        memcpy(dst + shared, r.p, (size_t)len);
        dst[shared + len] = '\0';
        r.p += len;
        if (i && strcmp(b->sym_buf + prev_off, dst) >= 0)
            return corrupt(b, err, s.off, "symbols: not sorted");
        b->sym_len[i] = (uint32_t)(shared + len);
        prev_off = used;
        prev_len = (size_t)(shared + len);
        used += need;
        b->sym[i] = (const char *)(uintptr_t)prev_off; /* fixed up below: sym_buf may move */
    }
    if (r.p != r.end)
        return corrupt(b, err, s.off, "symbols: trailing bytes");
    for (uint64_t i = 0; i < n; i++) {
        b->sym[i] = b->sym_buf + (uintptr_t)b->sym[i];
        assert(strlen(b->sym[i]) == b->sym_len[i]);
    }
    return 0;
}

static int read_series(struct tsdb_block *b, struct span s, struct scry_err *err)
{
    struct tsdb__rd r = {s.p, s.p + s.len, false};
    b->n_series = tsdb__rd_uvarint_max(&r, TSDB__SERIES_MAX);
    b->group_size = (uint32_t)tsdb__rd_uvarint_max(&r, TSDB__GROUP_MAX);
    if (r.bad || !b->group_size || b->n_series != b->meta.n_series)
        return corrupt(b, err, s.off, "series: bad header");
    b->n_groups = (b->n_series + b->group_size - 1) / b->group_size;
    if (b->n_groups > s.len)
        return corrupt(b, err, s.off, "series: too many groups");
    b->group_off = scry_malloc((b->n_groups + 1) * sizeof *b->group_off);
    uint64_t total = 0;
    for (uint64_t g = 0; g < b->n_groups; g++) {
        uint64_t gl = tsdb__rd_uvarint_max(&r, s.len);
        b->group_off[g] = total;
        total += gl;
        if (r.bad || !gl)
            return corrupt(b, err, s.off + (size_t)(r.p - s.p), "series: bad group length");
    }
    if ((uint64_t)(r.end - r.p) != total)
        return corrupt(b, err, s.off, "series: group lengths do not add up");
    size_t base = s.off + (size_t)(r.p - s.p);
    assert(base + total <= b->idx_len);
    for (uint64_t g = 0; g < b->n_groups; g++)
        b->group_off[g] += base;
    b->group_off[b->n_groups] = base + total;
    return 0;
}

static int read_labels(struct tsdb_block *b, struct span ls, struct span ps,
                       struct scry_buf *scratch, struct scry_err *err)
{
    const uint8_t *raw;
    size_t raw_len;
    if (tsdb__blob_get(ls.p, ls.len, scratch, &raw, &raw_len, err))
        return corrupt(b, err, ls.off, "labels: bad blob");
    struct tsdb__rd r = {raw, raw + raw_len, false};
    uint64_t n_names = tsdb__rd_uvarint_max(&r, raw_len / 2);
    if (r.bad)
        return corrupt(b, err, ls.off, "labels: bad count");
    b->names = scry_calloc(n_names + 1, sizeof *b->names);
    b->n_names = (uint32_t)n_names;
    size_t pairs_cap = 16;
    b->pairs = scry_malloc(pairs_cap * sizeof *b->pairs);
    uint64_t list_off = ps.off, list_end = ps.off + ps.len;
    for (uint64_t i = 0; i < n_names; i++) {
        struct tsdb__name *nm = &b->names[i];
        uint64_t sym = tsdb__rd_uvarint_max(&r, b->n_symbols ? b->n_symbols - 1 : 0);
        uint64_t nv = tsdb__rd_uvarint_max(&r, (uint64_t)(r.end - r.p) / 3);
        if (r.bad || !b->n_symbols || !nv || (i && sym <= b->names[i - 1].sym))
            return corrupt(b, err, ls.off, "labels: bad name");
        nm->sym = (uint32_t)sym;
        nm->first_pair = (uint32_t)b->n_pairs;
        nm->n_pairs = (uint32_t)nv;
        uint64_t v = 0;
        for (uint64_t k = 0; k < nv; k++) {
            uint64_t d = tsdb__rd_uvarint_max(&r, b->n_symbols);
            v = k ? v + 1 + d : d;
            uint64_t len = tsdb__rd_uvarint_max(&r, list_end - list_off);
            uint64_t ns = tsdb__rd_uvarint_max(&r, b->n_series);
            /* A list of ns entries takes >= ns raw bytes, and a blob of len
             * bytes inflates to at most 255 * len + 16: bounds what the
             * readers allocate for it before they read it. */
            if (r.bad || v >= b->n_symbols || !len || !ns || ns > 255 * len + 16)
                return corrupt(b, err, ls.off, "labels: bad value");
            if (b->n_pairs == pairs_cap) {
                pairs_cap *= 2;
                b->pairs = scry_realloc(b->pairs, pairs_cap * sizeof *b->pairs);
            }
            b->pairs[b->n_pairs++] = (struct tsdb__pair){(uint32_t)v, (uint32_t)ns, list_off,
                                                         (uint32_t)len};
            nm->n_series += ns;
            list_off += len;
        }
    }
    if (r.p != r.end || list_off != list_end)
        return corrupt(b, err, ls.off, "labels: sizes do not match the postings");
    /* Every series has a label, so it is in some list. */
    uint64_t total = 0;
    for (uint32_t i = 0; i < b->n_names; i++)
        total += b->names[i].n_series;
    if (total < b->n_series)
        return corrupt(b, err, ls.off, "labels: fewer postings than series");
    return 0;
}

static int read_pages(struct tsdb_block *b, struct span s, struct scry_buf *scratch,
                      struct scry_err *err)
{
    const uint8_t *raw;
    size_t raw_len;
    if (tsdb__blob_get(s.p, s.len, scratch, &raw, &raw_len, err))
        return corrupt(b, err, s.off, "pages: bad blob");
    struct tsdb__rd r = {raw, raw + raw_len, false};
    uint64_t n = tsdb__rd_uvarint_max(&r, raw_len / 7);
    if (r.bad)
        return corrupt(b, err, s.off, "pages: bad count");
    b->pages = scry_malloc((n + 1) * sizeof *b->pages);
    b->n_pages = n;
    uint64_t raw_off = 0, file_off = TSDB__HDR_BYTES;
    for (uint64_t i = 0; i < n; i++) {
        struct tsdb__page *p = &b->pages[i];
        p->raw_len = (uint32_t)tsdb__rd_uvarint_max(&r, TSDB__PAGE_MAX);
        p->file_len = (uint32_t)tsdb__rd_uvarint_max(&r, b->meta.chunks_bytes);
        if (r.bad || (size_t)(r.end - r.p) < 5)
            return corrupt(b, err, s.off, "pages: truncated");
        p->codec = *r.p++;
        p->crc = tsdb__le32(r.p);
        r.p += 4;
        if (!p->raw_len || !p->file_len || p->codec > TSDB__CODEC_LZ4 ||
            (p->codec == TSDB__CODEC_RAW && p->file_len != p->raw_len))
            return corrupt(b, err, s.off, "pages: bad entry");
        p->raw_off = raw_off;
        p->file_off = file_off;
        raw_off += p->raw_len;
        file_off += p->file_len;
    }
    if (r.p != r.end || file_off != b->meta.chunks_bytes)
        return corrupt(b, err, s.off, "pages: sizes do not match the chunks file");
    b->logical_len = raw_off;
    assert(file_off <= b->meta.chunks_bytes);
    return 0;
}

int tsdb__index_load(struct tsdb_block *b, bool verify_crc, struct scry_err *err)
{
    struct span sec[TSDB__N_SEC];
    struct scry_buf scratch = {0};
    int rc = read_toc(b, verify_crc, sec, err);
    if (!rc)
        rc = read_meta(b, sec[TSDB__SEC_META], err);
    if (!rc)
        rc = read_symbols(b, sec[TSDB__SEC_SYMBOLS], &scratch, err);
    if (!rc)
        rc = read_series(b, sec[TSDB__SEC_SERIES], err);
    if (!rc)
        rc = read_labels(b, sec[TSDB__SEC_LABELS], sec[TSDB__SEC_POSTINGS], &scratch, err);
    if (!rc)
        rc = read_pages(b, sec[TSDB__SEC_PAGES], &scratch, err);
    scry_buf_fini(&scratch);
    return rc;
}

void tsdb__index_free(struct tsdb_block *b)
{
    free(b->sym_buf);
    free(b->sym);
    free(b->sym_len);
    free(b->group_off);
    free(b->names);
    free(b->pairs);
    free(b->pages);
}

/* ---- lookups ------------------------------------------------------------------ */

int64_t tsdb__sym_find(const struct tsdb_block *b, const char *s)
{
    size_t lo = 0, hi = b->n_symbols;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(b->sym[mid], s);
        if (c == 0)
            return (int64_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const struct tsdb__name *tsdb__name_find(const struct tsdb_block *b, uint32_t name_sym)
{
    size_t lo = 0, hi = b->n_names;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->names[mid].sym == name_sym)
            return &b->names[mid];
        if (b->names[mid].sym < name_sym)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

uint64_t tsdb__page_find(const struct tsdb_block *b, uint64_t off)
{
    size_t lo = 0, hi = b->n_pages;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->pages[mid].raw_off + b->pages[mid].raw_len <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- series groups ------------------------------------------------------------- */

void tsdb__group_init(struct tsdb__group *g)
{
    memset(g, 0, sizeof *g);
    g->gi = UINT64_MAX;
}

void tsdb__group_fini(struct tsdb__group *g)
{
    free(g->s);
    free(g->labels);
    free(g->chunks);
    scry_buf_fini(&g->scratch);
}

#define GROW(p, n, cap, extra)                                               \
    do {                                                                     \
        if ((n) + (extra) > (cap)) {                                         \
            (cap) = ((n) + (extra)) * 2 + 16;                                \
            (p) = scry_realloc((p), (cap) * sizeof *(p));                    \
        }                                                                    \
    } while (0)

static int gcorrupt(const struct tsdb_block *b, uint64_t gi, const char *what, struct scry_err *err)
{
    return corrupt(b, err, (size_t)b->group_off[gi], what);
}

/* Reads one series' labels at the reader into g (sharing a prefix with the
 * previous series of the group). */
static int group_labels(const struct tsdb_block *b, uint64_t gi, struct tsdb__rd *r,
                        struct tsdb__group *g, uint32_t i, struct scry_err *err)
{
    struct tsdb__gseries *s = &g->s[i];
    const struct tsdb__gseries *p = i ? &g->s[i - 1] : NULL;
    uint64_t shared = tsdb__rd_uvarint_max(r, p ? p->n_labels : 0);
    uint64_t n_new = tsdb__rd_uvarint_max(r, TSDB__LABELS_MAX);
    if (r->bad || shared + n_new == 0 || shared + n_new > TSDB__LABELS_MAX)
        return gcorrupt(b, gi, "series: bad label count", err);
    size_t n_lab = p ? p->lab_off + p->n_labels : 0;
    GROW(g->labels, n_lab, g->labels_cap, shared + n_new);
    s->lab_off = (uint32_t)n_lab;
    s->n_labels = (uint32_t)(shared + n_new);
    if (shared)
        memcpy(g->labels + n_lab, g->labels + p->lab_off, (size_t)shared * sizeof *g->labels);
    for (uint64_t k = shared; k < shared + n_new; k++) {
        struct scry_label *l = &g->labels[n_lab + k];
        uint64_t ns = tsdb__rd_uvarint(r), vs = tsdb__rd_uvarint(r);
        if (r->bad || ns >= b->n_symbols || vs >= b->n_symbols)
            return gcorrupt(b, gi, "series: bad symbol", err);
        *l = (struct scry_label){b->sym[ns], b->sym[vs]};
        /* Shared labels were checked with the previous series. */
        if (k && strcmp(l[-1].name, l->name) >= 0)
            return gcorrupt(b, gi, "series: label names not sorted", err);
    }
    /* The series must come after its predecessor in label order. */
    if (p) {
        struct scry_labels a = {g->labels + p->lab_off, p->n_labels};
        struct scry_labels c = {g->labels + s->lab_off, s->n_labels};
        if (scry_labels_cmp(&a, &c) >= 0)
            return gcorrupt(b, gi, "series: not in label order", err);
    }
    return 0;
}

int tsdb__group_load(const struct tsdb_block *b, uint64_t gi, struct tsdb__group *g,
                     struct scry_err *err)
{
    if (g->gi == gi)
        return 0;
    g->gi = UINT64_MAX;
    if (gi >= b->n_groups)
        return scry_err_set(err, SCRY_EINVAL, "group %" PRIu64 " out of range", gi);
    const uint8_t *raw;
    size_t raw_len;
    uint64_t off = b->group_off[gi], end = b->group_off[gi + 1];
    if (tsdb__blob_get(b->idx + off, (size_t)(end - off), &g->scratch, &raw, &raw_len, err))
        return gcorrupt(b, gi, "series: bad group blob", err);
    struct tsdb__rd r = {raw, raw + raw_len, false};
    uint64_t first = gi * b->group_size;
    uint32_t n = (uint32_t)(b->n_series - first < b->group_size ? b->n_series - first
                                                                : b->group_size);
    GROW(g->s, 0, g->s_cap, n);
    g->n = 0;
    uint64_t coff = tsdb__rd_uvarint_max(&r, b->logical_len);
    int64_t prev_first = b->meta.mint_ms;
    size_t n_chunks = 0;
    uint64_t page = tsdb__page_find(b, coff);
    for (uint32_t i = 0; i < n; i++) {
        g->n = i + 1;
        int rc = group_labels(b, gi, &r, g, i, err);
        if (rc)
            return rc;
        uint64_t nc = tsdb__rd_uvarint_max(&r, TSDB__CHUNKS_PER_SERIES_MAX);
        if (r.bad || !nc)
            return gcorrupt(b, gi, "series: bad chunk count", err);
        GROW(g->chunks, n_chunks, g->chunks_cap, nc);
        g->s[i].chunk_first = (uint32_t)n_chunks;
        g->s[i].n_chunks = (uint32_t)nc;
        int64_t prev_t = 0;
        for (uint64_t c = 0; c < nc; c++) {
            struct tsdb__gchunk *ch = &g->chunks[n_chunks++];
            int64_t d = tsdb__rd_varint(&r);
            uint64_t dur = tsdb__rd_uvarint(&r);
            uint64_t len = tsdb__rd_uvarint_max(&r, tsdb_chunk_max_len(TSDB_CHUNK_MAX_SAMPLES));
            int64_t base = c ? prev_t : prev_first;
            /* Compute in uint64 and range-check: a wrapped sum is corrupt. */
            ch->mint_ms = (int64_t)((uint64_t)base + (uint64_t)d);
            ch->maxt_ms = (int64_t)((uint64_t)ch->mint_ms + dur);
            if (r.bad || !len || dur > (uint64_t)(b->meta.maxt_ms - b->meta.mint_ms) ||
                (d > 0 && ch->mint_ms < base) || (d < 0 && ch->mint_ms > base) ||
                ch->mint_ms < b->meta.mint_ms || ch->maxt_ms > b->meta.maxt_ms ||
                ch->maxt_ms < ch->mint_ms || (c && ch->mint_ms <= prev_t))
                return gcorrupt(b, gi, "series: bad chunk entry", err);
            if (c == 0)
                prev_first = ch->mint_ms;
            prev_t = ch->maxt_ms;
            ch->off = coff;
            ch->len = (uint32_t)len;
            /* Each chunk lies inside one page: pages are in logical order and
             * chunks increase, so a forward scan finds it. */
            while (page < b->n_pages && b->pages[page].raw_off + b->pages[page].raw_len <= coff)
                page++;
            if (page >= b->n_pages || coff + len > b->pages[page].raw_off + b->pages[page].raw_len)
                return gcorrupt(b, gi, "series: chunk outside its page", err);
            coff += len;
        }
    }
    if (r.p != r.end)
        return gcorrupt(b, gi, "series: trailing bytes in group", err);
    assert(g->n == n && n_chunks >= n);
    assert(g->s[n - 1].lab_off + g->s[n - 1].n_labels <= g->labels_cap);
    g->gi = gi;
    return 0;
}
