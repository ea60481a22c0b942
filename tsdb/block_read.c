/* block_read.c — opens a block and serves the querier seam over it.
 *
 * Files are mmapped read-only; the index is validated and its symbol and
 * postings tables decoded at open (index_read.c), series groups and
 * postings lists on demand. A series set keeps one decoded group and one
 * decompressed page, so walking results in label order (which is chunk
 * order) decompresses each group and page once. Chunk pages are checked
 * against their CRC when first read; corruption there ends the iteration
 * with SCRY_ECORRUPT (sticky), never a crash. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lz4.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/mem.h"
#include "tsdb/block_internal.h"

/* ---- open / close ------------------------------------------------------------ */

static int map_file(const char *path, const uint8_t **p, size_t *len, struct scry_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return scry_err_sys(err, errno == ENOENT ? SCRY_ECORRUPT : SCRY_EIO, "open %s", path);
    struct stat st;
    if (fstat(fd, &st)) {
        close(fd);
        return scry_err_sys(err, SCRY_EIO, "stat %s", path);
    }
    if (st.st_size < TSDB__HDR_BYTES) {
        close(fd);
        return scry_err_set(err, SCRY_ECORRUPT, "%s: file too short (%lld bytes) at offset 0",
                            path, (long long)st.st_size);
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return scry_err_sys(err, SCRY_EIO, "mmap %s", path);
    *p = m;
    *len = (size_t)st.st_size;
    return 0;
}

static int check_meta_json(struct tsdb_block *b, struct scry_err *err)
{
    struct scry_buf path = {0}, want = {0};
    scry_buf_printf(&path, "%s/meta.json", b->dir);
    const uint8_t *p = NULL;
    size_t len = 0;
    int rc = map_file(path.p, &p, &len, err);
    if (!rc) {
        tsdb__meta_json(&b->meta, &want);
        size_t i = 0;
        while (i < len && i < want.len && p[i] == (uint8_t)want.p[i])
            i++;
        if (i != len || len != want.len) {
            rc = scry_err_set(err, SCRY_ECORRUPT,
                              "%s: does not match the index at offset %zu", path.p, i);
            if (err)
                err->offset = i;
        }
        munmap((void *)p, len);
    }
    scry_buf_fini(&path);
    scry_buf_fini(&want);
    return rc;
}

void tsdb_block_close(struct tsdb_block *b)
{
    if (!b)
        return;
    if (b->idx)
        munmap((void *)b->idx, b->idx_len);
    if (b->chk)
        munmap((void *)b->chk, b->chk_len);
    tsdb__index_free(b);
    tsdb_tombs_fini(&b->tombs);
    free(b->dir);
    free(b->index_path);
    free(b->chunks_path);
    free(b);
}

int tsdb__block_open(struct tsdb_block **out, const char *dir, const struct tsdb__open_opts *o,
                     struct scry_err *err)
{
    static const struct tsdb__open_opts dflt = {0};
    if (!o)
        o = &dflt;
    if (!out || !dir)
        return scry_err_set(err, SCRY_EINVAL, "block open: bad arguments");
    struct tsdb_block *b = scry_calloc(1, sizeof *b);
    struct scry_buf p = {0};
    b->dir = scry_strdup(dir);
    scry_buf_printf(&p, "%s/index", dir);
    b->index_path = scry_buf_take(&p);
    scry_buf_printf(&p, "%s/chunks", dir);
    b->chunks_path = scry_buf_take(&p);
    b->verify_crc = !o->no_page_crc;
    int rc = map_file(b->index_path, &b->idx, &b->idx_len, err);
    if (!rc)
        rc = tsdb__index_load(b, !o->no_index_crc, err);
    if (!rc)
        rc = map_file(b->chunks_path, &b->chk, &b->chk_len, err);
    if (!rc && (memcmp(b->chk, TSDB__CHK_MAGIC, 4) || b->chk[4] != TSDB__FILE_VERSION ||
                b->chk[5] || b->chk[6] || b->chk[7]))
        rc = scry_err_set(err, SCRY_ECORRUPT, "%s: bad magic or version at offset 0",
                          b->chunks_path);
    if (!rc && b->chk_len != b->meta.chunks_bytes)
        rc = scry_err_set(err, SCRY_ECORRUPT, "%s: %zu bytes, the index says %" PRIu64
                          " at offset %zu", b->chunks_path, b->chk_len, b->meta.chunks_bytes,
                          b->chk_len);
    if (!rc)
        rc = tsdb_tombs_read_file(dir, b->meta.n_series, &b->tombs, err);
    if (!rc && !o->no_meta) {
        const char *base = strrchr(dir, '/');
        base = base ? base + 1 : dir;
        if (strcmp(base, b->meta.id))
            rc = scry_err_set(err, SCRY_ECORRUPT, "%s: block id %s differs from the directory",
                              b->index_path, b->meta.id);
        else
            rc = check_meta_json(b, err);
    }
    if (rc) {
        tsdb_block_close(b);
        return rc;
    }
    b->meta.bytes = b->meta.index_bytes + b->meta.chunks_bytes;
    if (!o->no_meta) {
        struct scry_buf js = {0};
        tsdb__meta_json(&b->meta, &js);
        b->meta.bytes += js.len;
        scry_buf_fini(&js);
    }
    *out = b;
    return 0;
}

int tsdb_block_open(struct tsdb_block **out, const char *dir, struct scry_err *err)
{
    return tsdb__block_open(out, dir, NULL, err);
}

const struct tsdb_block_meta *tsdb_block_meta(const struct tsdb_block *b)
{
    return &b->meta;
}

const char *tsdb_block_dir(const struct tsdb_block *b)
{
    return b->dir;
}

/* ---- chunk bytes ---------------------------------------------------------------- */

void tsdb__page_cache_fini(struct tsdb__page_cache *pc)
{
    free(pc->buf);
    pc->buf = NULL;
    pc->page = UINT64_MAX;
}

int tsdb__chunk_bytes(const struct tsdb_block *b, struct tsdb__page_cache *pc, uint64_t off,
                      uint32_t len, const uint8_t **p, struct scry_err *err)
{
    uint64_t pi = pc->page;
    if (pi == UINT64_MAX || off < b->pages[pi].raw_off ||
        off + len > b->pages[pi].raw_off + b->pages[pi].raw_len) {
        pc->page = UINT64_MAX;
        pi = tsdb__page_find(b, off);
        /* group_load checked that each chunk lies in one page. */
        if (pi >= b->n_pages || off + len > b->pages[pi].raw_off + b->pages[pi].raw_len)
            return scry_err_set(err, SCRY_ECORRUPT, "%s: chunk at %" PRIu64 " outside the pages",
                                b->index_path, off);
        const struct tsdb__page *pg = &b->pages[pi];
        assert(pg->file_off + pg->file_len <= b->chk_len);
        const uint8_t *src = b->chk + pg->file_off;
        if (b->verify_crc && scry_crc32c(0, src, pg->file_len) != pg->crc) {
            scry_err_set(err, SCRY_ECORRUPT, "%s: page %" PRIu64 " crc mismatch at offset %" PRIu64,
                         b->chunks_path, pi, pg->file_off);
            if (err)
                err->offset = (size_t)pg->file_off;
            return SCRY_ECORRUPT;
        }
        if (pg->codec == TSDB__CODEC_RAW) {
            pc->p = src;
        } else {
            if (!pc->buf)
                pc->buf = scry_malloc(TSDB__PAGE_MAX);
            int got = LZ4_decompress_safe((const char *)src, (char *)pc->buf, (int)pg->file_len,
                                          (int)pg->raw_len);
            if (got != (int)pg->raw_len) {
                scry_err_set(err, SCRY_ECORRUPT, "%s: page %" PRIu64 " does not decompress at "
                             "offset %" PRIu64, b->chunks_path, pi, pg->file_off);
                if (err)
                    err->offset = (size_t)pg->file_off;
                return SCRY_ECORRUPT;
            }
            pc->p = pc->buf;
        }
        pc->page = pi;
    }
    assert(pc->page == pi && off >= b->pages[pi].raw_off);
    assert(off + len <= b->pages[pi].raw_off + b->pages[pi].raw_len);
    *p = pc->p + (off - b->pages[pi].raw_off);
    return 0;
}

/* ---- samples of one series ------------------------------------------------------- */

struct bss;
struct bit {
    struct scry_sample_iter it;
    struct bss *ss;
    uint32_t ci, cend; /* chunks of the group still to read */
    bool in_chunk, done;
    struct tsdb_chunk_iter cit;
};

struct bss {
    struct scry_series_set ss;
    const struct tsdb_block *b;
    struct tsdb__plist ids;
    size_t i;
    int64_t mint, maxt;
    struct tsdb__group g;
    struct tsdb__page_cache pc;
    struct scry_labels cur;
    uint32_t c0, c1; /* chunk range of the current series in range */
    const struct tsdb_interval *del; /* its deleted ranges */
    size_t n_del;
    struct bit bit;
    struct tsdb_del_iter dit;
    int rc;
    struct scry_err err;
};

static bool bit_fail(struct bit *it, int rc)
{
    if (!it->ss->rc)
        it->ss->rc = rc;
    it->done = true;
    return false;
}

static bool bit_open_chunk(struct bit *it)
{
    struct bss *s = it->ss;
    const struct tsdb__gchunk *ch = &s->g.chunks[it->ci];
    const uint8_t *p;
    int rc = tsdb__chunk_bytes(s->b, &s->pc, ch->off, ch->len, &p, &s->err);
    if (rc)
        return bit_fail(it, rc);
    tsdb_chunk_iter_init(&it->cit, p, ch->len);
    it->in_chunk = true;
    return true;
}

/* The current chunk ended: report corruption, or move to the next one. */
static bool bit_chunk_end(struct bit *it)
{
    if (tsdb_chunk_iter_err(&it->cit)) {
        const struct tsdb__gchunk *ch = &it->ss->g.chunks[it->ci];
        scry_err_set(&it->ss->err, SCRY_ECORRUPT, "%s: chunk at logical offset %" PRIu64
                     " does not decode", it->ss->b->chunks_path, ch->off);
        return bit_fail(it, SCRY_ECORRUPT);
    }
    it->in_chunk = false;
    it->ci++;
    return true;
}

/* Checks the sample the chunk iterator stands on against the range. */
static int bit_check(struct bit *it)
{
    int64_t t;
    double v;
    tsdb_chunk_iter_at(&it->cit, &t, &v);
    const struct tsdb__gchunk *ch = &it->ss->g.chunks[it->ci];
    if (t < ch->mint_ms || t > ch->maxt_ms) {
        /* The index promised [mint, maxt] for this chunk. */
        scry_err_set(&it->ss->err, SCRY_ECORRUPT, "%s: sample outside its chunk's range",
                     it->ss->b->index_path);
        bit_fail(it, SCRY_ECORRUPT);
        return -1;
    }
    if (t < it->ss->mint)
        return 0;
    if (t > it->ss->maxt) {
        it->done = true;
        return -1;
    }
    return 1;
}

static bool bit_next(struct scry_sample_iter *sit)
{
    struct bit *it = (struct bit *)sit;
    while (!it->done) {
        if (!it->in_chunk) {
            if (it->ci >= it->cend) {
                it->done = true;
                break;
            }
            if (!bit_open_chunk(it))
                return false;
        }
        if (!tsdb_chunk_iter_next(&it->cit)) {
            if (!bit_chunk_end(it))
                return false;
            continue;
        }
        int c = bit_check(it);
        if (c > 0)
            return true;
        if (c < 0)
            return false;
    }
    return false;
}

static bool bit_seek(struct scry_sample_iter *sit, int64_t t_ms)
{
    struct bit *it = (struct bit *)sit;
    if (t_ms < it->ss->mint)
        t_ms = it->ss->mint;
    while (!it->done) {
        if (it->in_chunk && it->ss->g.chunks[it->ci].maxt_ms < t_ms) {
            it->in_chunk = false;
            it->ci++;
        }
        if (!it->in_chunk) {
            while (it->ci < it->cend && it->ss->g.chunks[it->ci].maxt_ms < t_ms)
                it->ci++;
            if (it->ci >= it->cend) {
                it->done = true;
                break;
            }
            if (!bit_open_chunk(it))
                return false;
        }
        if (!tsdb_chunk_iter_seek(&it->cit, t_ms)) {
            if (!bit_chunk_end(it))
                return false;
            continue;
        }
        int c = bit_check(it);
        if (c > 0)
            return true;
        if (c < 0)
            return false;
    }
    return false;
}

static void bit_at(const struct scry_sample_iter *sit, int64_t *t_ms, double *v)
{
    const struct bit *it = (const struct bit *)sit;
    tsdb_chunk_iter_at(&it->cit, t_ms, v);
}

static int bit_err(const struct scry_sample_iter *sit, struct scry_err *err)
{
    const struct bit *it = (const struct bit *)sit;
    if (it->ss->rc && err)
        *err = it->ss->err;
    return it->ss->rc;
}

/* bit_next, up to cap times, a chunk at a time. */
static size_t bit_next_batch(struct scry_sample_iter *sit, int64_t *t, double *v, size_t cap)
{
    struct bit *it = (struct bit *)sit;
    size_t n = 0;
    while (n < cap && !it->done) {
        if (!it->in_chunk) {
            if (it->ci >= it->cend) {
                it->done = true;
                break;
            }
            if (!bit_open_chunk(it))
                break;
        }
        size_t got = tsdb_chunk_iter_next_n(&it->cit, t + n, v + n, cap - n);
        if (got == 0) {
            if (!bit_chunk_end(it))
                break;
            continue;
        }
        /* bit_check on each: in the chunk's range, then in the querier's.
         * Timestamps increase (the decoder checks), so when the first and
         * the last pass, all do. */
        const struct tsdb__gchunk *ch = &it->ss->g.chunks[it->ci];
        size_t end = n + got;
        if (t[n] >= ch->mint_ms && t[end - 1] <= ch->maxt_ms) {
            size_t a = n, e = end;
            while (a < e && t[a] < it->ss->mint)
                a++;
            if (a < e && t[e - 1] > it->ss->maxt) {
                size_t lo = a, hi = e; /* the first after maxt */
                while (lo < hi) {
                    size_t mid = lo + (hi - lo) / 2;
                    if (t[mid] > it->ss->maxt)
                        hi = mid;
                    else
                        lo = mid + 1;
                }
                e = lo;
                it->done = true;
            }
            if (a > n) {
                memmove(t + n, t + a, (e - a) * sizeof(*t));
                memmove(v + n, v + a, (e - a) * sizeof(*v));
            }
            n += e - a;
            continue;
        }
        size_t w = n;
        for (size_t j = n; j < end; j++) {
            if (t[j] < ch->mint_ms || t[j] > ch->maxt_ms) {
                scry_err_set(&it->ss->err, SCRY_ECORRUPT, "%s: sample outside its chunk's range",
                             it->ss->b->index_path);
                bit_fail(it, SCRY_ECORRUPT);
                return w;
            }
            if (t[j] < it->ss->mint)
                continue;
            if (t[j] > it->ss->maxt) {
                it->done = true;
                return w;
            }
            t[w] = t[j];
            v[w++] = v[j];
        }
        n = w;
    }
    return n;
}

static const struct scry_sample_iter_ops bit_ops = {
    .next = bit_next, .seek = bit_seek, .at = bit_at, .err = bit_err,
    .next_batch = bit_next_batch};

/* ---- series set -------------------------------------------------------------------- */

static struct scry_sample_iter *bss_samples(struct scry_series_set *ss);

/* Whether the current series keeps a sample in range despite its deleted
 * ranges. Decodes at most up to the first live sample; the iterator is
 * rebuilt by samples(). */
static bool has_live_sample(struct bss *s)
{
    int64_t lo = s->g.chunks[s->c0].mint_ms, hi = s->g.chunks[s->c1 - 1].maxt_ms;
    lo = lo > s->mint ? lo : s->mint;
    hi = hi < s->maxt ? hi : s->maxt;
    if (tsdb_intervals_cover(s->del, s->n_del, lo, hi))
        return false;
    struct scry_sample_iter *it = bss_samples(&s->ss);
    return it->ops->next(it);
}

static bool bss_next(struct scry_series_set *ss)
{
    struct bss *s = (struct bss *)ss;
    while (!s->rc && s->i < s->ids.n) {
        uint32_t id = s->ids.v[s->i++];
        int rc = tsdb__group_load(s->b, id / s->b->group_size, &s->g, &s->err);
        if (rc) {
            s->rc = rc;
            return false;
        }
        const struct tsdb__gseries *gs = &s->g.s[id % s->b->group_size];
        uint32_t c0 = gs->chunk_first, c1 = gs->chunk_first + gs->n_chunks;
        while (c0 < c1 && s->g.chunks[c0].maxt_ms < s->mint)
            c0++;
        while (c1 > c0 && s->g.chunks[c1 - 1].mint_ms > s->maxt)
            c1--;
        if (c0 == c1)
            continue; /* no chunk in range */
        assert(gs->n_labels >= 1 && c1 <= s->g.chunks_cap);
        s->cur = (struct scry_labels){s->g.labels + gs->lab_off, gs->n_labels};
        s->c0 = c0;
        s->c1 = c1;
        s->del = tsdb_tombs_get(&s->b->tombs, id, &s->n_del);
        if (s->n_del && !has_live_sample(s)) {
            if (s->rc)
                return false;
            continue; /* wholly deleted in range: gone, as in Prometheus */
        }
        return true;
    }
    return false;
}

static const struct scry_labels *bss_labels(const struct scry_series_set *ss)
{
    return &((const struct bss *)ss)->cur;
}

static struct scry_sample_iter *bss_samples(struct scry_series_set *ss)
{
    struct bss *s = (struct bss *)ss;
    s->bit = (struct bit){.it = {&bit_ops}, .ss = s, .ci = s->c0, .cend = s->c1};
    if (s->rc)
        s->bit.done = true;
    if (s->n_del) {
        tsdb_del_iter_init(&s->dit, &s->bit.it, s->del, s->n_del);
        return &s->dit.base;
    }
    return &s->bit.it;
}

static int bss_err(const struct scry_series_set *ss, struct scry_err *err)
{
    const struct bss *s = (const struct bss *)ss;
    if (s->rc && err)
        *err = s->err;
    return s->rc;
}

static void bss_close(struct scry_series_set *ss)
{
    struct bss *s = (struct bss *)ss;
    if (!s)
        return;
    tsdb__plist_fini(&s->ids);
    tsdb__group_fini(&s->g);
    tsdb__page_cache_fini(&s->pc);
    free(s);
}

static const struct scry_series_set_ops bss_ops = {
    .next = bss_next, .labels = bss_labels, .samples = bss_samples, .err = bss_err,
    .close = bss_close};

/* ---- querier ------------------------------------------------------------------------ */

struct bq {
    struct scry_querier q;
    struct tsdb_block *b;
    int64_t mint, maxt;
};

static bool overlaps(const struct tsdb_block *b, int64_t mint, int64_t maxt)
{
    return mint <= maxt && b->meta.mint_ms <= maxt && b->meta.maxt_ms >= mint;
}

static int bq_select(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                     const struct scry_select_hints *h, struct scry_series_set **out,
                     struct scry_err *err)
{
    struct bq *bq = (struct bq *)q;
    struct bss *s = scry_calloc(1, sizeof *s);
    s->ss.ops = &bss_ops;
    s->b = bq->b;
    s->mint = bq->mint;
    s->maxt = bq->maxt;
    if (h) {
        s->mint = h->mint > s->mint ? h->mint : s->mint;
        s->maxt = h->maxt < s->maxt ? h->maxt : s->maxt;
    }
    tsdb__group_init(&s->g);
    s->pc.page = UINT64_MAX;
    if (overlaps(bq->b, s->mint, s->maxt)) {
        int rc = tsdb__select_postings(bq->b, ms, n_ms, &s->ids, err);
        if (rc) {
            bss_close(&s->ss);
            return rc;
        }
    }
    *out = &s->ss;
    return 0;
}

/* Series numbers for the matchers, or all series when there are none. */
static int ids_for(struct bq *bq, const struct scry_matcher *ms, size_t n_ms,
                   struct tsdb__plist *ids, struct scry_err *err)
{
    return tsdb__select_postings(bq->b, ms, n_ms, ids, err);
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (const char *const *)a, y = (uintptr_t) * (const char *const *)b;
    return (x > y) - (x < y);
}

/* Sorts symbol pointers (pointer order is symbol order, which is string
 * order), removes duplicates and copies them into the arena. */
static void finish_list(const char **v, size_t n, struct scry_arena *a, const char ***out,
                        size_t *n_out)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_ptr);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || v[i] != v[m - 1])
            v[m++] = v[i];
    const char **r = scry_arena_alloc(a, (m + 1) * sizeof *r);
    for (size_t i = 0; i < m; i++)
        r[i] = scry_arena_strdup(a, v[i]);
    r[m] = NULL;
    *out = r;
    *n_out = m;
}

/* Collects, for the series ids, either all names (name NULL) or the values
 * of name. */
static int collect(struct bq *bq, const struct tsdb__plist *ids, const char *name, const char ***v,
                   size_t *n, struct scry_err *err)
{
    struct tsdb__group g;
    tsdb__group_init(&g);
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < ids->n && !rc; i++) {
        rc = tsdb__group_load(bq->b, ids->v[i] / bq->b->group_size, &g, err);
        if (rc)
            break;
        const struct tsdb__gseries *gs = &g.s[ids->v[i] % bq->b->group_size];
        for (uint32_t k = 0; k < gs->n_labels; k++) {
            const struct scry_label *l = &g.labels[gs->lab_off + k];
            if (name && strcmp(l->name, name))
                continue;
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                *v = scry_realloc(*v, cap * sizeof **v);
            }
            (*v)[(*n)++] = name ? l->value : l->name;
        }
    }
    tsdb__group_fini(&g);
    return rc;
}

/* Names (name NULL) or values of name over the series that ms select. */
static int collect_matching(struct bq *bq, const struct scry_matcher *ms, size_t n_ms,
                            const char *name, const char ***v, size_t *n, struct scry_err *err)
{
    struct tsdb__plist ids = {0};
    int rc = ids_for(bq, ms, n_ms, &ids, err);
    if (!rc)
        rc = collect(bq, &ids, name, v, n, err);
    tsdb__plist_fini(&ids);
    return rc;
}

static int bq_label_names(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                          int64_t mint, int64_t maxt, struct scry_arena *a, const char ***out,
                          size_t *n_out, struct scry_err *err)
{
    struct bq *bq = (struct bq *)q;
    const struct tsdb_block *b = bq->b;
    const char **v = NULL;
    size_t n = 0;
    int rc = 0;
    if (overlaps(b, mint > bq->mint ? mint : bq->mint, maxt < bq->maxt ? maxt : bq->maxt)) {
        if (!n_ms) {
            v = scry_malloc((b->n_names + 1) * sizeof *v);
            for (uint32_t i = 0; i < b->n_names; i++)
                v[n++] = b->sym[b->names[i].sym];
        } else {
            rc = collect_matching(bq, ms, n_ms, NULL, &v, &n, err);
        }
    }
    if (!rc)
        finish_list(v, n, a, out, n_out);
    free(v);
    return rc;
}

static int bq_label_values(struct scry_querier *q, const char *name, const struct scry_matcher *ms,
                           size_t n_ms, int64_t mint, int64_t maxt, struct scry_arena *a,
                           const char ***out, size_t *n_out, struct scry_err *err)
{
    struct bq *bq = (struct bq *)q;
    const struct tsdb_block *b = bq->b;
    const char **v = NULL;
    size_t n = 0;
    int rc = 0;
    int64_t ns = name ? tsdb__sym_find(b, name) : -1;
    const struct tsdb__name *nm = ns >= 0 ? tsdb__name_find(b, (uint32_t)ns) : NULL;
    if (nm && overlaps(b, mint > bq->mint ? mint : bq->mint, maxt < bq->maxt ? maxt : bq->maxt)) {
        if (!n_ms) {
            v = scry_malloc((nm->n_pairs + 1) * sizeof *v);
            for (uint32_t i = 0; i < nm->n_pairs; i++)
                v[n++] = b->sym[b->pairs[nm->first_pair + i].value_sym];
        } else {
            rc = collect_matching(bq, ms, n_ms, name, &v, &n, err);
        }
    }
    if (!rc)
        finish_list(v, n, a, out, n_out);
    free(v);
    return rc;
}

static void bq_close(struct scry_querier *q)
{
    free(q);
}

static const struct scry_querier_ops bq_ops = {
    .select_series = bq_select,
    .select_streams = NULL,
    .label_names = bq_label_names,
    .label_values = bq_label_values,
    .close = bq_close,
};

int tsdb_block_querier(struct tsdb_block *b, int64_t mint_ms, int64_t maxt_ms,
                       struct scry_querier **out, struct scry_err *err)
{
    if (!b || !out)
        return scry_err_set(err, SCRY_EINVAL, "block querier: bad arguments");
    struct bq *q = scry_calloc(1, sizeof *q);
    q->q.ops = &bq_ops;
    q->b = b;
    q->mint = mint_ms;
    q->maxt = maxt_ms;
    *out = &q->q;
    return 0;
}

int tsdb_block_label_stats(struct tsdb_block *b,
                           void (*fn)(void *ud, const struct tsdb_block_label_stat *st), void *ud,
                           struct scry_err *err)
{
    for (uint32_t i = 0; i < b->n_names; i++) {
        const struct tsdb__name *nm = &b->names[i];
        struct tsdb_block_label_stat st = {b->sym[nm->sym], NULL, nm->n_pairs, nm->n_series};
        fn(ud, &st);
        for (uint32_t k = 0; k < nm->n_pairs; k++) {
            const struct tsdb__pair *p = &b->pairs[nm->first_pair + k];
            st.value = b->sym[p->value_sym];
            st.n_values = 1;
            st.n_series = p->n_series;
            fn(ud, &st);
        }
    }
    return 0;
}
