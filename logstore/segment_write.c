/* segment_write.c — the head's streams into one immutable segment file
 * (FORMAT.md "Segment"): chunks recompressed lz4 → zstd, then the stream
 * index, label postings, token index and TOC. The file is built in memory
 * (a head is bounded), written as segment.tmp, fsynced, renamed and the
 * directory fsynced, so it exists whole or not at all. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "core/crc32c.h"
#include "core/mem.h"
#include "logstore/ls_internal.h"
#include "logstore/tokenize.h"

/* ---- the token map: token → chunk ids (appended in increasing order) ---- */

struct tok {
    uint8_t len;
    char s[LS_TOKEN_MAX];
    uint32_t n, cap;
    uint32_t *ids;
};
struct tokmap {
    struct tok *v;      /* entries */
    uint32_t *slots;    /* index + 1 into v, 0 = empty */
    size_t n, cap, n_slots;
    uint32_t chunk;     /* the chunk being tokenized */
};

static void tokmap_grow(struct tokmap *m)
{
    size_t ns = m->n_slots ? m->n_slots * 2 : 1024;
    uint32_t *sl = scry_calloc(ns, sizeof *sl);
    for (size_t i = 0; i < m->n; i++) {
        size_t j = scry_xxh64(m->v[i].s, m->v[i].len, 0) & (ns - 1);
        while (sl[j])
            j = (j + 1) & (ns - 1);
        sl[j] = (uint32_t)i + 1;
    }
    free(m->slots);
    m->slots = sl;
    m->n_slots = ns;
}

static void tokmap_add(void *ud, const char *p, size_t len)
{
    struct tokmap *m = ud;
    if (m->n * 2 >= m->n_slots)
        tokmap_grow(m);
    size_t j = scry_xxh64(p, len, 0) & (m->n_slots - 1);
    struct tok *t = NULL;
    for (; m->slots[j]; j = (j + 1) & (m->n_slots - 1)) {
        struct tok *c = &m->v[m->slots[j] - 1];
        if (c->len == len && memcmp(c->s, p, len) == 0) {
            t = c;
            break;
        }
    }
    if (!t) {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 1024;
            m->v = scry_realloc(m->v, m->cap * sizeof *m->v);
        }
        t = &m->v[m->n++];
        t->len = (uint8_t)len;
        memcpy(t->s, p, len);
        t->n = t->cap = 0;
        t->ids = NULL;
        m->slots[j] = (uint32_t)m->n;
    }
    if (t->n && t->ids[t->n - 1] == m->chunk)
        return;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 2;
        t->ids = scry_realloc(t->ids, t->cap * sizeof *t->ids);
    }
    t->ids[t->n++] = m->chunk;
}

static int tok_cmp(const void *a, const void *b)
{
    const struct tok *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    return c ? c : (int)x->len - (int)y->len;
}

static void tokmap_fini(struct tokmap *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].ids);
    free(m->v);
    free(m->slots);
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

struct cref {
    uint64_t off, len;
};

/* Chunks: decompress, tokenize every line, recompress with zstd. */
static int write_chunks(struct scry_buf *f, struct ls_stream **ss, size_t n, int level,
                        struct tokmap *tm, struct cref *refs, struct ls_segment_stats *st,
                        struct scry_err *err)
{
    struct scry_buf raw = { 0 }, z = { 0 };
    uint32_t id = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        for (size_t k = 0; k < ss[i]->n_chunks; k++, id++) {
            const struct ls_hchunk *c = &ss[i]->chunks[k];
            scry_buf_reset(&raw);
            scry_buf_reserve(&raw, c->raw_len);
            int got = LZ4_decompress_safe((const char *)c->bytes, raw.p, (int)c->comp_len,
                                          (int)c->raw_len);
            SCRY_ASSERT(got == (int)c->raw_len); /* our own memory */
            struct ls_rd r = { (const uint8_t *)raw.p, (const uint8_t *)raw.p + got, false };
            int64_t prev = c->mint;
            tm->chunk = id;
            for (uint32_t e = 0; e < c->n; e++) {
                struct scry_log_entry en;
                SCRY_ASSERT(ls__entry_get(&r, prev, NULL, &en));
                prev = en.t_ns;
                ls_tokenize(en.line.p, en.line.len, tokmap_add, tm);
                st->raw_bytes += en.line.len;
            }
            size_t bound = ZSTD_compressBound(c->raw_len);
            scry_buf_reset(&z);
            scry_buf_reserve(&z, bound);
            size_t zn = ZSTD_compress(z.p, bound, raw.p, c->raw_len, level);
            if (ZSTD_isError(zn)) {
                rc = scry_err_set(err, SCRY_EIO, "zstd: %s", ZSTD_getErrorName(zn));
                break;
            }
            size_t start = f->len;
            scry_buf_putc(f, LS_CODEC_ZSTD);
            ls__put_uvarint(f, c->raw_len);
            ls__put_uvarint(f, zn);
            scry_buf_put(f, z.p, zn);
            section_crc(f, start);
            refs[id] = (struct cref){ start, f->len - start };
            st->n_entries += c->n;
            if (c->mint < st->mint)
                st->mint = c->mint;
            if (c->maxt > st->maxt)
                st->maxt = c->maxt;
        }
    }
    scry_buf_fini(&raw);
    scry_buf_fini(&z);
    return rc;
}

static void write_streams(struct scry_buf *f, struct ls_stream **ss, size_t n,
                          const struct cref *refs)
{
    size_t start = f->len;
    uint32_t id = 0;
    ls__put_uvarint(f, n);
    for (size_t i = 0; i < n; i++) {
        const struct ls_stream *s = ss[i];
        ls__put_uvarint(f, s->ls.n);
        for (size_t k = 0; k < s->ls.n; k++) {
            ls__put_str(f, s->ls.v[k].name, strlen(s->ls.v[k].name));
            ls__put_str(f, s->ls.v[k].value, strlen(s->ls.v[k].value));
        }
        ls__put_uvarint(f, s->n_chunks);
        for (size_t k = 0; k < s->n_chunks; k++, id++) {
            const struct ls_hchunk *c = &s->chunks[k];
            ls__put_uvarint(f, refs[id].off);
            ls__put_uvarint(f, refs[id].len);
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

static void write_tokens(struct scry_buf *f, struct tokmap *tm)
{
    qsort(tm->v, tm->n, sizeof *tm->v, tok_cmp);
    struct scry_buf post = { 0 };
    size_t start = f->len, blob_len = 0;
    uint32_t *poff = scry_malloc((tm->n + 1) * sizeof *poff);
    for (size_t i = 0; i < tm->n; i++) {
        const struct tok *t = &tm->v[i];
        poff[i] = (uint32_t)post.len;
        ls__put_uvarint(&post, t->n);
        ls__put_uvarint(&post, t->ids[0]);
        for (uint32_t k = 1; k < t->n; k++)
            ls__put_uvarint(&post, t->ids[k] - t->ids[k - 1]);
        blob_len += t->len;
    }
    poff[tm->n] = (uint32_t)post.len;
    ls__put_le32(f, (uint32_t)tm->n);
    ls__put_le32(f, (uint32_t)blob_len);
    ls__put_le32(f, (uint32_t)post.len);
    uint32_t o = 0;
    for (size_t i = 0; i <= tm->n; i++) {
        ls__put_le32(f, o);
        if (i < tm->n)
            o += tm->v[i].len;
    }
    for (size_t i = 0; i <= tm->n; i++)
        ls__put_le32(f, poff[i]);
    for (size_t i = 0; i < tm->n; i++)
        scry_buf_put(f, tm->v[i].s, tm->v[i].len);
    scry_buf_put(f, post.p, post.len);
    section_crc(f, start);
    free(poff);
    scry_buf_fini(&post);
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

int ls__segment_write(const char *dir, struct ls_stream **ss, size_t n, int level,
                      struct ls_segment_stats *st, struct scry_err *err)
{
    memset(st, 0, sizeof *st);
    st->mint = INT64_MAX;
    st->maxt = INT64_MIN;
    qsort(ss, n, sizeof *ss, stream_cmp);
    size_t n_chunks = 0;
    for (size_t i = 0; i < n; i++) {
        ls__head_cut(ss[i]);
        assert(ss[i]->n_chunks > 0);
        n_chunks += ss[i]->n_chunks;
    }
    struct scry_buf f = { 0 };
    struct tokmap tm = { 0 };
    struct cref *refs = scry_malloc((n_chunks + 1) * sizeof *refs);
    scry_buf_put(&f, LS_SEGMENT_MAGIC, LS_MAGIC_BYTES);
    int rc = write_chunks(&f, ss, n, level, &tm, refs, st, err);
    if (rc == 0) {
        uint64_t streams_off = f.len;
        write_streams(&f, ss, n, refs);
        uint64_t labels_off = f.len;
        write_labels(&f, ss, n);
        uint64_t tokens_off = f.len;
        write_tokens(&f, &tm);
        size_t toc = f.len;
        ls__put_le64(&f, streams_off);
        ls__put_le64(&f, labels_off);
        ls__put_le64(&f, tokens_off);
        ls__put_le64(&f, (uint64_t)st->mint);
        ls__put_le64(&f, (uint64_t)st->maxt);
        ls__put_le64(&f, st->n_entries);
        ls__put_le32(&f, (uint32_t)n_chunks);
        ls__put_le32(&f, scry_crc32c(0, f.p + toc, LS_TOC_CRC));
        scry_buf_put(&f, LS_SEGMENT_END_MAGIC, LS_MAGIC_BYTES);
        assert(f.len - toc == LS_TOC_BYTES);
        st->n_streams = (uint32_t)n;
        st->n_chunks = (uint32_t)n_chunks;
        st->bytes = f.len;
        rc = write_file(dir, &f, err);
    }
    free(refs);
    tokmap_fini(&tm);
    scry_buf_fini(&f);
    return rc;
}
