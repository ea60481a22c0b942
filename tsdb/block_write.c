/* block_write.c — writes an immutable block from a series source.
 *
 * The source yields series in label order. Chunk bytes go straight into
 * 64 KiB logical pages of the chunks file (LZ4HC-compressed when that is
 * smaller), so memory holds only the label sets and one entry per chunk;
 * the index is built at the end (index_write.c), when every string is
 * known and symbols can be numbered in byte order. The directory is
 * written as <ID>.tmp, fsynced, renamed and the parent fsynced: a crash
 * leaves either no block or a whole one (FORMAT.md "Directory").
 *
 * Re-chunking (opts.rechunk) decodes a series' chunks and re-encodes them
 * in chunks of up to 512 samples: on the rwgen 10k set (480 samples per
 * series) that takes chunks from 1.204 to 1.104 bytes/sample before page
 * compression (headers 0.166 -> 0.048), and it is also how compaction
 * merges overlapping chunks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lz4.h>
#include <lz4hc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/mem.h"
#include "tsdb/block_internal.h"

/* ---- IDs ----------------------------------------------------------------- */

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void tsdb_block_id_new(char out[TSDB_BLOCK_ID_LEN + 1], int64_t now_ms)
{
    uint8_t b[16];
    uint64_t t = (uint64_t)now_ms;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(t >> (8 * (5 - i)));
    if (getrandom(b + 6, 10, 0) != 10) {
        /* No entropy source: fall back to clock bits and the pid, still unique
         * enough within one process and distinct from the timestamp. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec;
        for (int i = 0; i < 10; i++)
            b[6 + i] = (uint8_t)(x >> (8 * (i % 8))) ^ (uint8_t)i;
    }
    /* 128 bits as 26 base32 digits: the first digit carries 3 bits. */
    for (int i = 0; i < TSDB_BLOCK_ID_LEN; i++) {
        int bit = (TSDB_BLOCK_ID_LEN - 1 - i) * 5; /* low bit of this digit */
        unsigned v = 0;
        for (int k = 4; k >= 0; k--) {
            int pos = bit + k; /* bit position from the least significant end */
            unsigned bv = pos < 128 ? (b[15 - pos / 8] >> (pos % 8)) & 1u : 0;
            v = v << 1 | bv;
        }
        out[i] = crockford[v];
    }
    out[TSDB_BLOCK_ID_LEN] = '\0';
}

bool tsdb_block_id_valid(const char *s, size_t len)
{
    if (len != TSDB_BLOCK_ID_LEN || s[0] < '0' || s[0] > '7')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr(crockford, s[i]) || s[i] == '\0')
            return false;
    return true;
}

/* ---- blobs ---------------------------------------------------------------- */

/* LZ4_compress_HC allocates and clears its ~256 KiB state on every call,
 * which dominated the thousands of small index blobs; with one state per
 * block write (LZ4_compress_HC_extStateHC is what LZ4_compress_HC calls)
 * the bytes are the same. */
void *tsdb__lz4hc_state_create(void)
{
    return scry_malloc((size_t)LZ4_sizeofStateHC());
}

void tsdb__blob_put(struct scry_buf *out, const uint8_t *raw, size_t len, void *hc)
{
    if (hc && len >= 32 && len <= TSDB__BLOB_RAW_MAX) {
        int cap = LZ4_compressBound((int)len);
        char *z = scry_malloc((size_t)cap);
        int zl = LZ4_compress_HC_extStateHC(hc, (const char *)raw, z, (int)len, cap, 9);
        if (zl > 0 && (size_t)zl + tsdb__uvarint_len(len) < len) {
            scry_buf_putc(out, TSDB__CODEC_LZ4);
            tsdb__buf_uvarint(out, len);
            scry_buf_put(out, z, (size_t)zl);
            free(z);
            return;
        }
        free(z);
    }
    scry_buf_putc(out, TSDB__CODEC_RAW);
    scry_buf_put(out, raw, len);
}

/* ---- files ---------------------------------------------------------------- */

int tsdb__fsync_dir(const char *dir, struct scry_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return scry_err_sys(err, SCRY_EIO, "open %s", dir);
    int rc = fsync(fd);
    close(fd);
    if (rc)
        return scry_err_sys(err, SCRY_EIO, "fsync %s", dir);
    return 0;
}

int tsdb__rmdir_all(const char *dir, struct scry_err *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return scry_err_sys(err, SCRY_EIO, "opendir %s", dir);
    }
    struct scry_buf p = {0};
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        scry_buf_reset(&p);
        scry_buf_printf(&p, "%s/%s", dir, e->d_name);
        if (unlink(p.p) && errno != ENOENT && !rc)
            rc = scry_err_sys(err, SCRY_EIO, "unlink %s", p.p);
    }
    closedir(d);
    scry_buf_fini(&p);
    if (!rc && rmdir(dir) && errno != ENOENT)
        rc = scry_err_sys(err, SCRY_EIO, "rmdir %s", dir);
    return rc;
}

static int write_all(int fd, const void *p, size_t len, const char *path, struct scry_err *err)
{
    const uint8_t *q = p;
    while (len) {
        ssize_t n = write(fd, q, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return scry_err_sys(err, SCRY_EIO, "write %s", path);
        q += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_file(const char *path, const void *p, size_t len, struct scry_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return scry_err_sys(err, SCRY_EIO, "create %s", path);
    int rc = write_all(fd, p, len, path, err);
    if (!rc && fsync(fd))
        rc = scry_err_sys(err, SCRY_EIO, "fsync %s", path);
    if (close(fd) && !rc)
        rc = scry_err_sys(err, SCRY_EIO, "close %s", path);
    return rc;
}

/* ---- the writer model ------------------------------------------------------ */

#define GROW(p, n, cap, extra)                                               \
    do {                                                                     \
        if ((n) + (extra) > (cap)) {                                         \
            (cap) = ((n) + (extra)) * 2 + 16;                                \
            (p) = scry_realloc((p), (cap) * sizeof *(p));                    \
        }                                                                    \
    } while (0)

static uint32_t intern(struct tsdb__writer *w, const char *s)
{
    size_t len = strlen(s);
    if (w->n_strs * 2 >= w->ht_cap) {
        size_t cap = w->ht_cap ? w->ht_cap * 2 : 1024;
        uint32_t *ht = scry_calloc(cap, sizeof *ht);
        for (size_t i = 0; i < w->n_strs; i++) {
            size_t h = scry_xxh64(w->strs[i], strlen(w->strs[i]), 0) & (cap - 1);
            while (ht[h])
                h = (h + 1) & (cap - 1);
            ht[h] = (uint32_t)i + 1;
        }
        free(w->ht);
        w->ht = ht;
        w->ht_cap = cap;
    }
    size_t h = scry_xxh64(s, len, 0) & (w->ht_cap - 1);
    while (w->ht[h]) {
        const char *t = w->strs[w->ht[h] - 1];
        if (!strcmp(t, s))
            return w->ht[h] - 1;
        h = (h + 1) & (w->ht_cap - 1);
    }
    GROW(w->strs, w->n_strs, w->strs_cap, 1);
    w->strs[w->n_strs] = scry_arena_strndup(w->a, s, len);
    w->ht[h] = (uint32_t)w->n_strs + 1;
    return (uint32_t)w->n_strs++;
}

struct wstate {
    struct tsdb__writer w;
    int fd;
    const char *chunks_path;
    struct scry_buf page; /* the open logical page */
    uint64_t file_bytes;
    /* re-chunking scratch */
    int64_t *t;
    double *v;
    uint32_t *src;
    size_t n, cap;
    uint8_t *enc;
};

static int page_flush(struct wstate *s, struct scry_err *err)
{
    struct tsdb__writer *w = &s->w;
    if (!s->page.len)
        return 0;
    assert(s->page.len <= TSDB__PAGE_MAX);
    const uint8_t *out = (const uint8_t *)s->page.p;
    uint32_t out_len = (uint32_t)s->page.len;
    uint8_t codec = TSDB__CODEC_RAW;
    char *z = NULL;
    if (!w->opts->no_compress) {
        int cap = LZ4_compressBound((int)s->page.len);
        z = scry_malloc((size_t)cap);
        int zl = LZ4_compress_HC_extStateHC(w->lz4hc, s->page.p, z, (int)s->page.len, cap, 9);
        if (zl > 0 && (uint32_t)zl < out_len) {
            out = (const uint8_t *)z;
            out_len = (uint32_t)zl;
            codec = TSDB__CODEC_LZ4;
        }
    }
    int rc = write_all(s->fd, out, out_len, s->chunks_path, err);
    GROW(w->pages, w->n_pages, w->pages_cap, 1);
    w->pages[w->n_pages++] = (struct tsdb__wpage){
        .raw_len = (uint32_t)s->page.len, .file_len = out_len,
        .crc = scry_crc32c(0, out, out_len), .codec = codec};
    s->file_bytes += out_len;
    scry_buf_reset(&s->page);
    free(z);
    return rc;
}

static int add_chunk(struct wstate *s, int64_t mint, int64_t maxt, const uint8_t *p, uint32_t len,
                     struct scry_err *err)
{
    struct tsdb__writer *w = &s->w;
    assert(len > 0 && len <= tsdb_chunk_max_len(TSDB_CHUNK_MAX_SAMPLES));
    if (s->page.len + len > TSDB__PAGE_MAX) {
        int rc = page_flush(s, err);
        if (rc)
            return rc;
    }
    scry_buf_put(&s->page, p, len);
    GROW(w->chunks, w->n_chunks, w->chunks_cap, 1);
    w->chunks[w->n_chunks++] = (struct tsdb__wchunk){mint, maxt, len};
    w->series[w->n_series].n_chunks++;
    w->meta.n_chunks++;
    return 0;
}

static void push_sample(struct wstate *s, int64_t t, double v, uint32_t src)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->t = scry_realloc(s->t, s->cap * sizeof *s->t);
        s->v = scry_realloc(s->v, s->cap * sizeof *s->v);
        s->src = scry_realloc(s->src, s->cap * sizeof *s->src);
    }
    s->t[s->n] = t;
    s->v[s->n] = v;
    s->src[s->n++] = src;
}

struct tsv {
    int64_t t;
    uint32_t src, i;
    double v;
};

static int cmp_tsv(const void *a, const void *b)
{
    const struct tsv *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Overlapping chunks (compaction): sort by (t, source chunk) and keep the
 * first sample of each timestamp, so the earlier source wins a duplicate. */
static void sort_dedup(struct wstate *s)
{
    bool sorted = true;
    for (size_t i = 1; i < s->n && sorted; i++)
        sorted = s->t[i] > s->t[i - 1];
    if (sorted)
        return;
    struct tsv *a = scry_malloc(s->n * sizeof *a);
    for (size_t i = 0; i < s->n; i++)
        a[i] = (struct tsv){s->t[i], s->src[i], (uint32_t)i, s->v[i]};
    qsort(a, s->n, sizeof *a, cmp_tsv);
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (m && s->t[m - 1] == a[i].t)
            continue;
        s->t[m] = a[i].t;
        s->v[m++] = a[i].v;
    }
    s->n = m;
    free(a);
}

static int rechunk_series(struct wstate *s, const struct tsdb_block_series *bs, int64_t mint,
                          int64_t maxt, struct scry_err *err)
{
    s->n = 0;
    if (bs->samples) {
        struct scry_sample_iter *it = bs->samples;
        while (it->ops->next(it)) {
            int64_t t;
            double v;
            it->ops->at(it, &t, &v);
            if (t >= mint && t <= maxt)
                push_sample(s, t, v, 0);
        }
        int rc = it->ops->err(it, err);
        if (rc)
            return rc;
    }
    for (size_t c = 0; c < bs->n_chunks; c++) {
        const struct tsdb_chunk_meta *cm = &bs->chunks[c];
        struct tsdb_chunk_iter it;
        tsdb_chunk_iter_init(&it, cm->p, cm->len);
        while (tsdb_chunk_iter_next(&it)) {
            int64_t t;
            double v;
            tsdb_chunk_iter_at(&it, &t, &v);
            if (t >= mint && t <= maxt)
                push_sample(s, t, v, (uint32_t)c);
        }
        if (tsdb_chunk_iter_err(&it))
            return scry_err_set(err, SCRY_ECORRUPT, "chunk %zu of the source does not decode", c);
    }
    sort_dedup(s);
    size_t per = TSDB_CHUNK_MAX_SAMPLES;
    size_t n_out = (s->n + per - 1) / per;
    for (size_t k = 0, i = 0; k < n_out; k++) {
        /* Even cuts: 600 samples become 300 + 300, not 512 + 88. */
        size_t m = (s->n - i) / (n_out - k);
        size_t len;
        int rc = tsdb_chunk_encode(s->t + i, s->v + i, m, TSDB_VENC_AUTO, s->enc,
                                   tsdb_chunk_max_len(TSDB_CHUNK_MAX_SAMPLES), &len, err);
        if (rc)
            return rc;
        rc = add_chunk(s, s->t[i], s->t[i + m - 1], s->enc, (uint32_t)len, err);
        if (rc)
            return rc;
        i += m;
    }
    assert(s->w.series[s->w.n_series].n_chunks == n_out);
    s->w.meta.n_samples += s->n;
    return 0;
}

static int copy_series(struct wstate *s, const struct tsdb_block_series *bs, int64_t mint,
                       int64_t maxt, struct scry_err *err)
{
    int64_t prev = INT64_MIN;
    for (size_t c = 0; c < bs->n_chunks; c++) {
        const struct tsdb_chunk_meta *cm = &bs->chunks[c];
        if (cm->mint_ms > cm->maxt_ms || cm->mint_ms < mint || cm->maxt_ms > maxt ||
            (c && cm->mint_ms <= prev) || !cm->len ||
            cm->len > tsdb_chunk_max_len(TSDB_CHUNK_MAX_SAMPLES) || !cm->n_samples)
            return scry_err_set(err, SCRY_EINVAL,
                                "chunk %zu [%" PRId64 ", %" PRId64 "] out of order or range", c,
                                cm->mint_ms, cm->maxt_ms);
        prev = cm->maxt_ms;
        int rc = add_chunk(s, cm->mint_ms, cm->maxt_ms, cm->p, cm->len, err);
        if (rc)
            return rc;
        s->w.meta.n_samples += cm->n_samples;
    }
    return 0;
}

static int add_series(struct wstate *s, const struct tsdb_block_series *bs, int64_t mint,
                      int64_t maxt, struct scry_err *err)
{
    struct tsdb__writer *w = &s->w;
    if (!bs->ls.n || bs->ls.n > TSDB__LABELS_MAX)
        return scry_err_set(err, SCRY_EINVAL, "series with %zu labels", bs->ls.n);
    if (w->n_series) {
        const struct tsdb__wseries *p = &w->series[w->n_series - 1];
        struct scry_label prev[TSDB__LABELS_MAX];
        for (uint32_t i = 0; i < p->n_labels; i++)
            prev[i] = (struct scry_label){w->strs[w->labs[p->lab_off + 2 * i]],
                                          w->strs[w->labs[p->lab_off + 2 * i + 1]]};
        struct scry_labels pl = {prev, p->n_labels};
        if (scry_labels_cmp(&pl, &bs->ls) >= 0)
            return scry_err_set(err, SCRY_EINVAL, "series not in label order");
    }
    for (size_t i = 0; i < bs->ls.n; i++)
        if (!bs->ls.v[i].name[0] || !bs->ls.v[i].value[0] ||
            (i && strcmp(bs->ls.v[i - 1].name, bs->ls.v[i].name) >= 0))
            return scry_err_set(err, SCRY_EINVAL, "labels not sorted or empty");
    if (w->n_series >= TSDB__SERIES_MAX)
        return scry_err_set(err, SCRY_ELIMIT, "more than %u series in a block", TSDB__SERIES_MAX);
    GROW(w->series, w->n_series, w->series_cap, 1);
    GROW(w->labs, w->n_labs, w->labs_cap, 2 * bs->ls.n);
    struct tsdb__wseries *ws = &w->series[w->n_series];
    *ws = (struct tsdb__wseries){(uint32_t)w->n_labs, (uint32_t)bs->ls.n, w->n_chunks, 0};
    size_t labs0 = w->n_labs, chunks0 = w->n_chunks;
    for (size_t i = 0; i < bs->ls.n; i++) {
        w->labs[w->n_labs++] = intern(w, bs->ls.v[i].name);
        w->labs[w->n_labs++] = intern(w, bs->ls.v[i].value);
    }
    if (bs->samples && bs->n_chunks)
        return scry_err_set(err, SCRY_EINVAL, "series with both chunks and samples");
    int rc = s->w.opts->rechunk || bs->samples ? rechunk_series(s, bs, mint, maxt, err)
                                               : copy_series(s, bs, mint, maxt, err);
    if (rc)
        return rc;
    if (w->n_chunks == chunks0) {
        w->n_labs = labs0; /* no samples in range: the series is not written */
        return 0;
    }
    w->n_series++;
    return 0;
}

/* ---- meta.json ------------------------------------------------------------- */

void tsdb__meta_json(const struct tsdb_block_meta *m, struct scry_buf *out)
{
    scry_buf_printf(out,
                    "{\n  \"version\": 1,\n  \"id\": \"%s\",\n  \"mint_ms\": %" PRId64
                    ",\n  \"maxt_ms\": %" PRId64 ",\n  \"n_series\": %" PRIu64
                    ",\n  \"n_samples\": %" PRIu64 ",\n  \"n_chunks\": %" PRIu64
                    ",\n  \"level\": %" PRIu32 ",\n  \"index_bytes\": %" PRIu64
                    ",\n  \"chunks_bytes\": %" PRIu64 "\n}\n",
                    m->id, m->mint_ms, m->maxt_ms, m->n_series, m->n_samples, m->n_chunks,
                    m->level, m->index_bytes, m->chunks_bytes);
}

/* ---- tsdb_block_write -------------------------------------------------------- */

static void wstate_fini(struct wstate *s)
{
    struct tsdb__writer *w = &s->w;
    scry_arena_destroy(w->a);
    free(w->lz4hc);
    free(w->strs);
    free(w->ht);
    free(w->labs);
    free(w->series);
    free(w->chunks);
    free(w->pages);
    scry_buf_fini(&s->page);
    free(s->t);
    free(s->v);
    free(s->src);
    free(s->enc);
    if (s->fd >= 0)
        close(s->fd);
}

static int write_series(struct wstate *s, const struct tsdb_block_source *src, void *ud,
                        int64_t mint, int64_t maxt, struct scry_err *err)
{
    static const uint8_t hdr[TSDB__HDR_BYTES] = {'S', 'C', 'H', 'K', TSDB__FILE_VERSION, 0, 0, 0};
    int rc = write_all(s->fd, hdr, sizeof hdr, s->chunks_path, err);
    s->file_bytes = sizeof hdr;
    struct tsdb_block_series bs;
    while (!rc) {
        memset(&bs, 0, sizeof bs);
        rc = src->next(ud, &bs, err);
        if (rc < 0)
            return scry_err_prefix(err, "block source");
        if (rc == 0)
            break;
        rc = add_series(s, &bs, mint, maxt, err);
    }
    if (!rc)
        rc = page_flush(s, err);
    if (!rc && fsync(s->fd))
        rc = scry_err_sys(err, SCRY_EIO, "fsync %s", s->chunks_path);
    if (!rc && close(s->fd))
        rc = scry_err_sys(err, SCRY_EIO, "close %s", s->chunks_path);
    s->fd = -1;
    return rc;
}

int tsdb_block_write(const char *blocks_dir, const struct tsdb_block_source *src, void *ud,
                     int64_t mint_ms, int64_t maxt_ms, const struct tsdb_block_write_opts *opts,
                     char *id_out, struct tsdb_block_meta *meta_out, struct scry_err *err)
{
    static const struct tsdb_block_write_opts dflt = {0};
    if (!blocks_dir || !src || !src->next || mint_ms > maxt_ms)
        return scry_err_set(err, SCRY_EINVAL, "block write: bad arguments");
    if (mkdir(blocks_dir, 0755) && errno != EEXIST)
        return scry_err_sys(err, SCRY_EIO, "mkdir %s", blocks_dir);
    struct wstate s = {.fd = -1};
    struct tsdb__writer *w = &s.w;
    w->opts = opts ? opts : &dflt;
    w->a = scry_arena_create(0);
    if (!w->opts->no_compress)
        w->lz4hc = tsdb__lz4hc_state_create();
    s.enc = scry_malloc(tsdb_chunk_max_len(TSDB_CHUNK_MAX_SAMPLES));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    tsdb_block_id_new(w->meta.id, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    w->meta.mint_ms = mint_ms;
    w->meta.maxt_ms = maxt_ms;
    w->meta.level = w->opts->level ? w->opts->level : 1;

    struct scry_buf tmp = {0}, fin = {0}, path = {0}, chunks_path = {0}, idx = {0}, js = {0};
    scry_buf_printf(&tmp, "%s/%s.tmp", blocks_dir, w->meta.id);
    scry_buf_printf(&fin, "%s/%s", blocks_dir, w->meta.id);
    scry_buf_printf(&chunks_path, "%s/chunks", tmp.p);
    s.chunks_path = chunks_path.p;
    int rc = 0;
    if (mkdir(tmp.p, 0755)) {
        rc = scry_err_sys(err, SCRY_EIO, "mkdir %s", tmp.p);
        goto out;
    }
    s.fd = open(chunks_path.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s.fd < 0) {
        rc = scry_err_sys(err, SCRY_EIO, "create %s", chunks_path.p);
        goto fail;
    }
    if ((rc = write_series(&s, src, ud, mint_ms, maxt_ms, err)))
        goto fail;
    if (!w->n_series) {
        rc = scry_err_set(err, SCRY_ENOTFOUND, "block write: no series with samples in range");
        goto fail;
    }
    assert(w->meta.n_chunks == w->n_chunks && w->n_pages >= 1);
    w->meta.n_series = w->n_series;
    w->meta.chunks_bytes = s.file_bytes;
    tsdb__index_build(w, &idx);
    w->meta.index_bytes = idx.len;
    scry_buf_printf(&path, "%s/index", tmp.p);
    if ((rc = write_file(path.p, idx.p, idx.len, err)))
        goto fail;
    tsdb__meta_json(&w->meta, &js);
    w->meta.bytes = w->meta.index_bytes + w->meta.chunks_bytes + js.len;
    scry_buf_reset(&path);
    scry_buf_printf(&path, "%s/meta.json", tmp.p);
    if ((rc = write_file(path.p, js.p, js.len, err)) || (rc = tsdb__fsync_dir(tmp.p, err)))
        goto fail;
    if (rename(tmp.p, fin.p)) {
        rc = scry_err_sys(err, SCRY_EIO, "rename %s", tmp.p);
        goto fail;
    }
    if ((rc = tsdb__fsync_dir(blocks_dir, err)))
        goto out; /* renamed: the block exists; the caller sees the fsync error */
    if (id_out)
        memcpy(id_out, w->meta.id, TSDB_BLOCK_ID_LEN + 1);
    if (meta_out)
        *meta_out = w->meta;
    goto out;
fail:
    if (s.fd >= 0) {
        close(s.fd);
        s.fd = -1;
    }
    tsdb__rmdir_all(tmp.p, NULL);
out:
    wstate_fini(&s);
    scry_buf_fini(&tmp);
    scry_buf_fini(&fin);
    scry_buf_fini(&path);
    scry_buf_fini(&chunks_path);
    scry_buf_fini(&idx);
    scry_buf_fini(&js);
    return rc;
}
