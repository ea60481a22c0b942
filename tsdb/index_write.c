/* index_write.c — builds the index file of a block from the writer model
 * (FORMAT.md "index file").
 *
 * Every section is built in memory: strings are numbered in byte order so a
 * symbol number compares like its string; series are stored in groups of G
 * with labels shared with the previous series elided (node-exporter series
 * in label order mostly differ in one label) and each group is one lz4hc
 * blob; postings are delta varints, one blob per list; the postings table
 * doubles as the label-name and label-value lists. On rwgen 10k the whole
 * index is about 0.02 bytes/sample (bench/blockbench.c). */
#include <stdlib.h>

#include "core/crc32c.h"
#include "core/mem.h"
#include "tsdb/block_internal.h"

struct sctx {
    const struct tsdb__writer *w;
    uint32_t *sym_of; /* string id -> symbol number */
};

static int cmp_str_ptr(const void *a, const void *b, void *ud)
{
    const char *const *strs = ud;
    return strcmp(strs[*(const uint32_t *)a], strs[*(const uint32_t *)b]);
}

/* Symbols: front-coded, sorted. Returns the id -> number map. */
static uint32_t *build_symbols(const struct tsdb__writer *w, struct scry_buf *sec, void *hc)
{
    uint32_t *ord = scry_malloc((w->n_strs + 1) * sizeof *ord);
    uint32_t *sym_of = scry_malloc((w->n_strs + 1) * sizeof *sym_of);
    for (size_t i = 0; i < w->n_strs; i++)
        ord[i] = (uint32_t)i;
    /* strcmp order equals FORMAT.md's memcmp-then-length: strings hold no NUL. */
    qsort_r(ord, w->n_strs, sizeof *ord, cmp_str_ptr, (void *)w->strs);
    struct scry_buf raw = {0};
    tsdb__buf_uvarint(&raw, w->n_strs);
    const char *prev = "";
    for (size_t i = 0; i < w->n_strs; i++) {
        const char *s = w->strs[ord[i]];
        size_t k = 0;
        while (prev[k] && prev[k] == s[k])
            k++;
        size_t len = strlen(s + k);
        tsdb__buf_uvarint(&raw, k);
        tsdb__buf_uvarint(&raw, len);
        scry_buf_put(&raw, s + k, len);
        sym_of[ord[i]] = (uint32_t)i;
        prev = s;
    }
    tsdb__blob_put(sec, (const uint8_t *)raw.p, raw.len, hc);
    scry_buf_fini(&raw);
    free(ord);
    return sym_of;
}

static void build_series(const struct tsdb__writer *w, const uint32_t *sym_of, struct scry_buf *sec,
                         void *hc)
{
    uint32_t G = w->opts->group_size ? w->opts->group_size : TSDB__GROUP_DEFAULT;
    if (G > TSDB__GROUP_MAX)
        G = TSDB__GROUP_MAX;
    size_t n_groups = (w->n_series + G - 1) / G;
    struct scry_buf raw = {0}, groups = {0};
    size_t *glen = scry_malloc((n_groups + 1) * sizeof *glen);
    uint64_t off = 0; /* logical offset of the next chunk */
    for (size_t g = 0; g < n_groups; g++) {
        scry_buf_reset(&raw);
        tsdb__buf_uvarint(&raw, off);
        int64_t prev_first = w->meta.mint_ms;
        const struct tsdb__wseries *prev = NULL;
        for (size_t si = g * G; si < w->n_series && si < (g + 1) * G; si++) {
            const struct tsdb__wseries *s = &w->series[si];
            uint32_t shared = 0;
            while (prev && shared < s->n_labels && shared < prev->n_labels &&
                   w->labs[prev->lab_off + 2 * shared] == w->labs[s->lab_off + 2 * shared] &&
                   w->labs[prev->lab_off + 2 * shared + 1] == w->labs[s->lab_off + 2 * shared + 1])
                shared++;
            /* Label order is strict, so a series never equals its predecessor. */
            assert(shared < s->n_labels || !prev || prev->n_labels > s->n_labels);
            tsdb__buf_uvarint(&raw, shared);
            tsdb__buf_uvarint(&raw, s->n_labels - shared);
            for (uint32_t i = shared; i < s->n_labels; i++) {
                tsdb__buf_uvarint(&raw, sym_of[w->labs[s->lab_off + 2 * i]]);
                tsdb__buf_uvarint(&raw, sym_of[w->labs[s->lab_off + 2 * i + 1]]);
            }
            tsdb__buf_uvarint(&raw, s->n_chunks);
            int64_t prev_t = 0;
            for (uint32_t c = 0; c < s->n_chunks; c++) {
                const struct tsdb__wchunk *ch = &w->chunks[s->chunk_first + c];
                assert(ch->mint_ms <= ch->maxt_ms);
                if (c == 0) {
                    tsdb__buf_varint(&raw, (int64_t)((uint64_t)ch->mint_ms - (uint64_t)prev_first));
                    prev_first = ch->mint_ms;
                } else {
                    assert(ch->mint_ms > prev_t);
                    tsdb__buf_varint(&raw, (int64_t)((uint64_t)ch->mint_ms - (uint64_t)prev_t));
                }
                tsdb__buf_uvarint(&raw, (uint64_t)ch->maxt_ms - (uint64_t)ch->mint_ms);
                tsdb__buf_uvarint(&raw, ch->len);
                prev_t = ch->maxt_ms;
                off += ch->len;
            }
            prev = s;
        }
        size_t before = groups.len;
        tsdb__blob_put(&groups, (const uint8_t *)raw.p, raw.len, hc);
        glen[g] = groups.len - before;
    }
    tsdb__buf_uvarint(sec, w->n_series);
    tsdb__buf_uvarint(sec, G);
    for (size_t g = 0; g < n_groups; g++)
        tsdb__buf_uvarint(sec, glen[g]);
    scry_buf_put(sec, groups.p, groups.len);
    free(glen);
    scry_buf_fini(&raw);
    scry_buf_fini(&groups);
}

struct entry {
    uint32_t name, value, series;
};

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->name != y->name)
        return x->name < y->name ? -1 : 1;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return (x->series > y->series) - (x->series < y->series);
}

/* Postings lists and the table that names them. */
static void build_postings(const struct tsdb__writer *w, const uint32_t *sym_of,
                           struct scry_buf *post, struct scry_buf *labels, void *hc)
{
    struct entry *e = scry_malloc((w->n_labs / 2 + 1) * sizeof *e);
    size_t n = 0;
    for (size_t si = 0; si < w->n_series; si++) {
        const struct tsdb__wseries *s = &w->series[si];
        for (uint32_t i = 0; i < s->n_labels; i++)
            e[n++] = (struct entry){sym_of[w->labs[s->lab_off + 2 * i]],
                                    sym_of[w->labs[s->lab_off + 2 * i + 1]], (uint32_t)si};
    }
    qsort(e, n, sizeof *e, cmp_entry);
    struct scry_buf table = {0}, raw = {0}, names = {0};
    size_t n_names = 0;
    for (size_t i = 0; i < n;) {
        uint32_t name = e[i].name;
        size_t n_values = 0;
        struct scry_buf vals = {0};
        uint32_t prev_v = 0;
        while (i < n && e[i].name == name) {
            uint32_t value = e[i].value;
            size_t j = i;
            scry_buf_reset(&raw);
            while (j < n && e[j].name == name && e[j].value == value)
                j++;
            tsdb__buf_uvarint(&raw, j - i);
            for (size_t k = i; k < j; k++)
                tsdb__buf_uvarint(&raw, k == i ? e[k].series : e[k].series - e[k - 1].series - 1);
            size_t before = post->len;
            tsdb__blob_put(post, (const uint8_t *)raw.p, raw.len, hc);
            tsdb__buf_uvarint(&vals, n_values ? value - prev_v - 1 : value);
            tsdb__buf_uvarint(&vals, post->len - before);
            tsdb__buf_uvarint(&vals, j - i);
            prev_v = value;
            n_values++;
            i = j;
        }
        tsdb__buf_uvarint(&names, name);
        tsdb__buf_uvarint(&names, n_values);
        scry_buf_put(&names, vals.p, vals.len);
        scry_buf_fini(&vals);
        n_names++;
    }
    tsdb__buf_uvarint(&table, n_names);
    scry_buf_put(&table, names.p, names.len);
    tsdb__blob_put(labels, (const uint8_t *)table.p, table.len, hc);
    scry_buf_fini(&table);
    scry_buf_fini(&raw);
    scry_buf_fini(&names);
    free(e);
}

static void build_pages(const struct tsdb__writer *w, struct scry_buf *sec, void *hc)
{
    struct scry_buf raw = {0};
    tsdb__buf_uvarint(&raw, w->n_pages);
    for (size_t i = 0; i < w->n_pages; i++) {
        const struct tsdb__wpage *p = &w->pages[i];
        uint8_t crc[4];
        tsdb__buf_uvarint(&raw, p->raw_len);
        tsdb__buf_uvarint(&raw, p->file_len);
        scry_buf_putc(&raw, (char)p->codec);
        tsdb__le32_put(crc, p->crc);
        scry_buf_put(&raw, crc, 4);
    }
    tsdb__blob_put(sec, (const uint8_t *)raw.p, raw.len, hc);
    scry_buf_fini(&raw);
}

static void build_meta(const struct tsdb_block_meta *m, struct scry_buf *sec)
{
    scry_buf_put(sec, m->id, TSDB_BLOCK_ID_LEN);
    tsdb__buf_varint(sec, m->mint_ms);
    tsdb__buf_varint(sec, m->maxt_ms);
    tsdb__buf_uvarint(sec, m->n_series);
    tsdb__buf_uvarint(sec, m->n_samples);
    tsdb__buf_uvarint(sec, m->n_chunks);
    tsdb__buf_uvarint(sec, m->chunks_bytes);
    tsdb__buf_uvarint(sec, m->level);
}

void tsdb__index_build(const struct tsdb__writer *w, struct scry_buf *out)
{
    void *z = w->lz4hc;
    struct scry_buf sec[TSDB__N_SEC] = {{0}};
    build_meta(&w->meta, &sec[TSDB__SEC_META]);
    uint32_t *sym_of = build_symbols(w, &sec[TSDB__SEC_SYMBOLS], z);
    build_series(w, sym_of, &sec[TSDB__SEC_SERIES], z);
    build_postings(w, sym_of, &sec[TSDB__SEC_POSTINGS], &sec[TSDB__SEC_LABELS], z);
    build_pages(w, &sec[TSDB__SEC_PAGES], z);
    free(sym_of);

    static const uint8_t hdr[TSDB__HDR_BYTES] = {'S', 'I', 'D', 'X', TSDB__FILE_VERSION, 0, 0, 0};
    scry_buf_put(out, hdr, sizeof hdr);
    uint8_t toc[TSDB__TOC_BYTES] = {0};
    for (int i = 0; i < TSDB__N_SEC; i++) {
        struct tsdb__toc_entry *te = (struct tsdb__toc_entry *)(toc + 24 * i);
        tsdb__le64_put(te->off, out->len);
        tsdb__le64_put(te->len, sec[i].len);
        tsdb__le32_put(te->crc, scry_crc32c(0, sec[i].p, sec[i].len));
        scry_buf_put(out, sec[i].p, sec[i].len);
        scry_buf_fini(&sec[i]);
    }
    tsdb__le32_put(toc + TSDB__N_SEC * 24, scry_crc32c(0, toc, TSDB__N_SEC * 24));
    memcpy(toc + TSDB__N_SEC * 24 + 4, TSDB__IDX_END_MAGIC, 4);
    scry_buf_put(out, toc, sizeof toc);
}
