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
#include "logstore/ls_internal.h"
#include "logstore/segment_tokens.h"

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
    struct ls_tokmap *tm;
    struct ls_segment_stats *st;
};

/* Codec 4 (FORMAT.md "Chunk"): the entry columns and the lines in two
 * frames. One frame for both was 4 % bigger: the timestamps' noise spoils
 * the entropy tables of the text around them. */
static int cw_cut(struct cw *w, struct scry_err *err)
{
    if (w->n_ent == 0)
        return 0;
    ls__tokmap_end_chunk(w->tm);
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
                    ls__tokmap_begin_chunk(w->tm, (uint32_t)w->n);
                }
                ls__cols_add(&w->cols, w->prev, &en);
                w->prev = en.t_ns;
                w->n_ent++;
                ls__tokmap_line(w->tm, en.line.p, en.line.len);
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
    ls__advise_huge(f.p, f.cap);
    struct ls_tokmap *tm = ls__tokmap_create(values);
    size_t *per_stream = scry_calloc(n + 1, sizeof *per_stream);
    struct cw w = { .f = &f, .level = level, .tm = tm, .st = st, .cc = ZSTD_createCCtx(),
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
        rc = ls__tokmap_write(tm, &f, (uint32_t)w.n, level, w.ch, st, err);
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
    ls__tokmap_destroy(tm);
    scry_buf_fini(&f);
    return rc;
}
