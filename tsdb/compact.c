/* compact.c — the set of blocks in a data directory: open and repair,
 * add, compact, retention.
 *
 * The catalog is the truth. Every change is: write files under a temp
 * name, rename, commit one catalog transaction, then delete what the
 * transaction made dead. A crash anywhere leaves the old state or the new,
 * and the next open deletes the leftovers (*.tmp directories, directories
 * without a live row) and purges dead rows.
 *
 * Compaction plan (tsdb/README.md "Compaction plan"): first any blocks
 * whose time ranges overlap are merged (out-of-order data, a re-cut head);
 * then, for ranges R = 3·D, 9·D, 27·D, ... (D = block duration, 2h:
 * 6h, 18h, 54h, ...) up to 10 % of retention, the blocks lying wholly in
 * one aligned window [k·R, (k+1)·R) are merged once the window is closed
 * (some block starts at or after its end) and it holds at least two. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "core/catalog.h"
#include "core/mem.h"
#include "tsdb/block_internal.h"

struct tsdb_blocks {
    char *data_dir, *blocks_dir;
    struct scry_catalog *cat;
    struct tsdb_block **b;
    size_t n, cap, n_missing;
    struct tsdb_blocks_opts opts;
};

static int64_t now_ms(const struct tsdb_blocks *bs)
{
    if (bs->opts.now_ms)
        return bs->opts.now_ms(bs->opts.clock_ud);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t tsdb_blocks_count(const struct tsdb_blocks *bs) { return bs->n; }
struct tsdb_block *tsdb_blocks_at(struct tsdb_blocks *bs, size_t i)
{
    return i < bs->n ? bs->b[i] : NULL;
}
size_t tsdb_blocks_missing(const struct tsdb_blocks *bs) { return bs->n_missing; }
const char *tsdb_blocks_dir(const struct tsdb_blocks *bs) { return bs->blocks_dir; }

void tsdb_blocks_close(struct tsdb_blocks *bs)
{
    if (!bs)
        return;
    for (size_t i = 0; i < bs->n; i++)
        tsdb_block_close(bs->b[i]);
    free(bs->b);
    scry_catalog_close(bs->cat);
    free(bs->data_dir);
    free(bs->blocks_dir);
    free(bs);
}

static void insert_sorted(struct tsdb_blocks *bs, struct tsdb_block *b)
{
    if (bs->n == bs->cap) {
        bs->cap = bs->cap ? bs->cap * 2 : 16;
        bs->b = scry_realloc(bs->b, bs->cap * sizeof *bs->b);
    }
    size_t i = bs->n;
    while (i > 0 && (bs->b[i - 1]->meta.mint_ms > b->meta.mint_ms ||
                     (bs->b[i - 1]->meta.mint_ms == b->meta.mint_ms &&
                      strcmp(bs->b[i - 1]->meta.id, b->meta.id) > 0))) {
        bs->b[i] = bs->b[i - 1];
        i--;
    }
    bs->b[i] = b;
    bs->n++;
    assert(i + 1 == bs->n || bs->b[i + 1]->meta.mint_ms >= b->meta.mint_ms);
}

/* ---- open: make the directory agree with the catalog ----------------------- */

struct rows {
    char (*live)[TSDB_BLOCK_ID_LEN + 1];
    size_t n, cap;
};

static int row_cb(void *ud, const struct tsdb__catalog_row *r)
{
    struct rows *rs = ud;
    if (!r->live)
        return 0;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 16;
        rs->live = scry_realloc(rs->live, rs->cap * sizeof *rs->live);
    }
    snprintf(rs->live[rs->n++], TSDB_BLOCK_ID_LEN + 1, "%s", r->id);
    return 0;
}

static bool is_live(const struct rows *rs, const char *id)
{
    for (size_t i = 0; i < rs->n; i++)
        if (!strcmp(rs->live[i], id))
            return true;
    return false;
}

static int cleanup_dir(struct tsdb_blocks *bs, const struct rows *rs, struct scry_err *err)
{
    DIR *d = opendir(bs->blocks_dir);
    if (!d)
        return scry_err_sys(err, SCRY_EIO, "opendir %s", bs->blocks_dir);
    struct dirent *e;
    struct scry_buf p = {0};
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        bool tmp = len > 4 && !strcmp(e->d_name + len - 4, ".tmp");
        bool id = tsdb_block_id_valid(e->d_name, len);
        if (!tmp && !(id && !is_live(rs, e->d_name)))
            continue; /* a live block, or something not ours */
        scry_buf_reset(&p);
        scry_buf_printf(&p, "%s/%s", bs->blocks_dir, e->d_name);
        rc = tsdb__rmdir_all(p.p, err);
    }
    closedir(d);
    scry_buf_fini(&p);
    return rc;
}

static int mkdir_p2(const char *a, const char *b, struct scry_err *err)
{
    if (mkdir(a, 0755) && errno != EEXIST)
        return scry_err_sys(err, SCRY_EIO, "mkdir %s", a);
    if (mkdir(b, 0755) && errno != EEXIST)
        return scry_err_sys(err, SCRY_EIO, "mkdir %s", b);
    return 0;
}

int tsdb_blocks_open(struct tsdb_blocks **out, const char *data_dir,
                     const struct tsdb_blocks_opts *opts, struct scry_err *err)
{
    if (!out || !data_dir)
        return scry_err_set(err, SCRY_EINVAL, "blocks open: bad arguments");
    struct tsdb_blocks *bs = scry_calloc(1, sizeof *bs);
    if (opts)
        bs->opts = *opts;
    if (!bs->opts.block_duration_ms)
        bs->opts.block_duration_ms = 2 * 3600 * 1000;
    bs->data_dir = scry_strdup(data_dir);
    struct scry_buf p = {0};
    struct rows rs = {0};
    scry_buf_printf(&p, "%s/tsdb", data_dir);
    char *tsdb_dir = scry_buf_take(&p);
    scry_buf_printf(&p, "%s/blocks", tsdb_dir);
    bs->blocks_dir = scry_buf_take(&p);
    scry_buf_printf(&p, "%s/catalog.db", data_dir);
    int rc = mkdir_p2(tsdb_dir, bs->blocks_dir, err);
    free(tsdb_dir);
    if (!rc)
        rc = scry_catalog_open(&bs->cat, p.p, err);
    if (!rc)
        rc = tsdb__catalog_migrate(bs->cat, err);
    if (!rc)
        rc = tsdb__catalog_list(bs->cat, row_cb, &rs, err);
    if (!rc)
        rc = cleanup_dir(bs, &rs, err);
    if (!rc)
        rc = tsdb__catalog_purge(bs->cat, err);
    for (size_t i = 0; !rc && i < rs.n; i++) {
        scry_buf_reset(&p);
        scry_buf_printf(&p, "%s/%s", bs->blocks_dir, rs.live[i]);
        struct stat st;
        if (stat(p.p, &st)) {
            bs->n_missing++; /* reported; the row stays for an operator to look at */
            continue;
        }
        struct tsdb_block *b;
        rc = tsdb_block_open(&b, p.p, err);
        if (rc)
            scry_err_prefix(err, "block %s", rs.live[i]);
        else
            insert_sorted(bs, b);
    }
    free(rs.live);
    scry_buf_fini(&p);
    if (rc) {
        tsdb_blocks_close(bs);
        return rc;
    }
    *out = bs;
    return 0;
}

static int open_new(struct tsdb_blocks *bs, const char *id, struct scry_err *err)
{
    struct scry_buf p = {0};
    scry_buf_printf(&p, "%s/%s", bs->blocks_dir, id);
    struct tsdb_block *b;
    int rc = tsdb_block_open(&b, p.p, err);
    scry_buf_fini(&p);
    if (!rc)
        insert_sorted(bs, b);
    return rc;
}

int tsdb_blocks_add(struct tsdb_blocks *bs, const struct tsdb_block_source *src, void *ud,
                    int64_t mint_ms, int64_t maxt_ms, struct tsdb_block_meta *meta_out,
                    struct scry_err *err)
{
    struct tsdb_block_write_opts o = {.rechunk = true, .level = 1};
    struct tsdb_block_meta m;
    char id[TSDB_BLOCK_ID_LEN + 1];
    int rc = tsdb_block_write(bs->blocks_dir, src, ud, mint_ms, maxt_ms, &o, id, &m, err);
    if (!rc)
        rc = tsdb__catalog_record(bs->cat, &m, NULL, 0, now_ms(bs), err);
    if (rc)
        return rc; /* an uncatalogued directory is removed by the next open */
    if (meta_out)
        *meta_out = m;
    return open_new(bs, id, err);
}

/* ---- merging source ------------------------------------------------------------ */

struct cur {
    struct tsdb_block *b;
    uint64_t i;
    struct tsdb__group g;
    struct tsdb__page_cache pc;
};

struct msrc {
    struct cur *c;
    size_t n;
    struct scry_label labs[TSDB__LABELS_MAX];
    struct tsdb_chunk_meta *cm;
    size_t n_cm, cm_cap;
    struct scry_buf bytes;
};

static const struct tsdb__gseries *cur_series(struct cur *c, struct scry_err *err, int *rc)
{
    *rc = tsdb__group_load(c->b, c->i / c->b->group_size, &c->g, err);
    return *rc ? NULL : &c->g.s[c->i % c->b->group_size];
}

static void cm_push(struct msrc *m, size_t **offs, int64_t mint, int64_t maxt, uint32_t n,
                    const void *p, uint32_t len)
{
    if (m->n_cm == m->cm_cap) {
        m->cm_cap = m->cm_cap ? 2 * m->cm_cap : 64;
        m->cm = scry_realloc(m->cm, m->cm_cap * sizeof *m->cm);
    }
    *offs = scry_realloc(*offs, m->cm_cap * sizeof **offs);
    (*offs)[m->n_cm] = m->bytes.len;
    m->cm[m->n_cm++] = (struct tsdb_chunk_meta){mint, maxt, n, NULL, len};
    scry_buf_put(&m->bytes, p, len);
}

/* Appends the samples of chunk p outside the deleted ranges del[0..n_del)
 * as new chunks (the writer re-chunks them anyway). */
static int cm_push_filtered(struct msrc *m, size_t **offs, const uint8_t *p, uint32_t len,
                            const struct tsdb_interval *del, size_t n_del, struct scry_err *err)
{
    int64_t t[TSDB_CHUNK_MAX_SAMPLES];
    double v[TSDB_CHUNK_MAX_SAMPLES];
    size_t cap = tsdb_chunk_max_len(TSDB_CHUNK_MAX_SAMPLES), n = 0, di = 0;
    uint8_t *out = scry_malloc(cap);
    int rc = 0;
    struct tsdb_chunk_iter it;
    tsdb_chunk_iter_init(&it, p, len);
    for (;;) {
        bool more = tsdb_chunk_iter_next(&it);
        if (more) {
            tsdb_chunk_iter_at(&it, &t[n], &v[n]);
            if (tsdb_intervals_skip(del, n_del, &di, t[n]))
                continue;
            n++;
        }
        if (n && (!more || n == TSDB_CHUNK_MAX_SAMPLES)) {
            size_t olen;
            if ((rc = tsdb_chunk_encode(t, v, n, TSDB_VENC_AUTO, out, cap, &olen, err)))
                break;
            cm_push(m, offs, t[0], t[n - 1], (uint32_t)n, out, (uint32_t)olen);
            n = 0;
        }
        if (!more)
            break;
    }
    free(out);
    if (!rc && tsdb_chunk_iter_err(&it))
        rc = scry_err_set(err, SCRY_ECORRUPT, "chunk does not decode");
    return rc;
}

static int msrc_next(void *ud, struct tsdb_block_series *out, struct scry_err *err)
{
    struct msrc *m = ud;
    int rc;
again:;
    struct scry_labels min = {0};
    size_t n_min = 0;
    for (size_t k = 0; k < m->n; k++) {
        struct cur *c = &m->c[k];
        if (c->i >= c->b->n_series)
            continue;
        const struct tsdb__gseries *gs = cur_series(c, err, &rc);
        if (rc)
            return rc;
        struct scry_labels ls = {c->g.labels + gs->lab_off, gs->n_labels};
        if (!n_min++ || scry_labels_cmp(&ls, &min) < 0) {
            memcpy(m->labs, ls.v, ls.n * sizeof *ls.v);
            min = (struct scry_labels){m->labs, ls.n};
        }
    }
    if (!n_min)
        return 0;
    m->n_cm = 0;
    scry_buf_reset(&m->bytes);
    size_t *offs = NULL;
    for (size_t k = 0; k < m->n; k++) {
        struct cur *c = &m->c[k];
        if (c->i >= c->b->n_series)
            continue;
        const struct tsdb__gseries *gs = cur_series(c, err, &rc);
        if (rc)
            goto out;
        struct scry_labels ls = {c->g.labels + gs->lab_off, gs->n_labels};
        if (!scry_labels_equal(&ls, &min))
            continue;
        size_t n_del;
        const struct tsdb_interval *del = tsdb_tombs_get(&c->b->tombs, c->i, &n_del);
        for (uint32_t j = 0; j < gs->n_chunks; j++) {
            const struct tsdb__gchunk *ch = &c->g.chunks[gs->chunk_first + j];
            const uint8_t *p;
            if (n_del && tsdb_intervals_cover(del, n_del, ch->mint_ms, ch->maxt_ms))
                continue; /* wholly deleted */
            if ((rc = tsdb__chunk_bytes(c->b, &c->pc, ch->off, ch->len, &p, err)))
                goto out;
            bool partly = false;
            for (size_t d = 0; d < n_del && !partly; d++)
                partly = del[d].mint <= ch->maxt_ms && del[d].maxt >= ch->mint_ms;
            if (partly) {
                if ((rc = cm_push_filtered(m, &offs, p, ch->len, del, n_del, err)))
                    goto out;
                continue;
            }
            struct tsdb_chunk_info info = {0};
            tsdb_chunk_info(p, ch->len, &info); /* a bad header fails in the re-encode */
            cm_push(m, &offs, ch->mint_ms, ch->maxt_ms, info.n, p, ch->len);
        }
        c->i++;
    }
    if (m->n_cm == 0) { /* every sample of the series was deleted */
        free(offs);
        goto again;
    }
    for (size_t j = 0; j < m->n_cm; j++)
        m->cm[j].p = (const uint8_t *)m->bytes.p + offs[j];
    *out = (struct tsdb_block_series){.ls = min, .chunks = m->cm, .n_chunks = m->n_cm};
    rc = 1;
out:
    free(offs);
    return rc;
}

static const struct tsdb_block_source msrc_ops = {.next = msrc_next};

static void remove_blocks(struct tsdb_blocks *bs, size_t first, size_t n)
{
    struct scry_buf p = {0};
    for (size_t i = first; i < first + n; i++) {
        scry_buf_reset(&p);
        scry_buf_puts(&p, bs->b[i]->dir);
        tsdb_block_close(bs->b[i]);
        /* A failure leaves a dead directory that the next open deletes. */
        tsdb__rmdir_all(p.p, NULL);
    }
    assert(first + n <= bs->n);
    memmove(bs->b + first, bs->b + first + n, (bs->n - first - n) * sizeof *bs->b);
    bs->n -= n;
    scry_buf_fini(&p);
}

static int delete_range(struct tsdb_blocks *bs, size_t first, size_t n, struct scry_err *err);

/* Writes blocks [first, first + n) as one new block at level (0: max + 1)
 * without their deleted samples, then swaps: one catalog transaction, the
 * sources' directories removed. Nothing left: the sources are deleted. */
static int rewrite(struct tsdb_blocks *bs, size_t first, size_t n, uint32_t level_set,
                   struct tsdb_block_meta *meta_out, struct scry_err *err)
{
    struct msrc m = {.c = scry_calloc(n, sizeof *m.c), .n = n};
    const char **ids = scry_calloc(n, sizeof *ids);
    int64_t mint = INT64_MAX, maxt = INT64_MIN;
    uint32_t level = 0;
    for (size_t k = 0; k < n; k++) {
        struct tsdb_block *b = bs->b[first + k];
        m.c[k].b = b;
        tsdb__group_init(&m.c[k].g);
        m.c[k].pc.page = UINT64_MAX;
        ids[k] = b->meta.id;
        mint = b->meta.mint_ms < mint ? b->meta.mint_ms : mint;
        maxt = b->meta.maxt_ms > maxt ? b->meta.maxt_ms : maxt;
        level = b->meta.level > level ? b->meta.level : level;
    }
    struct tsdb_block_write_opts o = {.rechunk = true, .level = level_set ? level_set : level + 1};
    struct tsdb_block_meta meta = {0};
    char id[TSDB_BLOCK_ID_LEN + 1];
    int rc = tsdb_block_write(bs->blocks_dir, &msrc_ops, &m, mint, maxt, &o, id, &meta, err);
    bool empty = rc == SCRY_ENOTFOUND;
    if (empty)
        rc = 0;
    else if (!rc)
        rc = tsdb__catalog_record(bs->cat, &meta, ids, n, now_ms(bs), err);
    for (size_t k = 0; k < n; k++) {
        tsdb__group_fini(&m.c[k].g);
        tsdb__page_cache_fini(&m.c[k].pc);
    }
    free(m.c);
    free(m.cm);
    scry_buf_fini(&m.bytes);
    free(ids);
    if (rc)
        return rc;
    if (empty) { /* every sample was deleted */
        if (meta_out)
            *meta_out = (struct tsdb_block_meta){0};
        return delete_range(bs, first, n, err);
    }
    remove_blocks(bs, first, n);
    if ((rc = tsdb__catalog_purge(bs->cat, err)))
        return rc;
    if (meta_out)
        *meta_out = meta;
    return open_new(bs, id, err);
}

int tsdb_blocks_compact_range(struct tsdb_blocks *bs, size_t first, size_t n,
                              struct tsdb_block_meta *meta_out, struct scry_err *err)
{
    if (n < 2 || first + n > bs->n)
        return scry_err_set(err, SCRY_EINVAL, "compact: bad range %zu+%zu of %zu", first, n,
                            bs->n);
    int rc = rewrite(bs, first, n, 0, meta_out, err);
    return rc ? scry_err_prefix(err, "compact") : 0;
}

int tsdb_blocks_clean_tombstones(struct tsdb_blocks *bs, size_t *n_done, struct scry_err *err)
{
    size_t done = 0;
    int rc = 0;
    /* A rewritten block has no tombstones, so each pass finds one less. */
    for (;;) {
        size_t i = 0;
        while (i < bs->n && !bs->b[i]->tombs.n_refs)
            i++;
        if (i == bs->n)
            break;
        char id[TSDB_BLOCK_ID_LEN + 1];
        memcpy(id, bs->b[i]->meta.id, sizeof id);
        if ((rc = rewrite(bs, i, 1, bs->b[i]->meta.level, NULL, err))) {
            scry_err_prefix(err, "clean tombstones of block %s", id);
            break;
        }
        done++;
    }
    if (n_done)
        *n_done = done;
    return rc;
}

/* ---- planning ------------------------------------------------------------------- */

/* Finds the next merge: [*first, *first + *n). False when there is none. */
static bool plan(const struct tsdb_blocks *bs, size_t *first, size_t *n)
{
    /* 1. Overlapping blocks (sorted by mint): a run where each starts before
     *    the furthest end so far. */
    for (size_t i = 0; i + 1 < bs->n; i++) {
        int64_t end = bs->b[i]->meta.maxt_ms;
        size_t j = i + 1;
        while (j < bs->n && bs->b[j]->meta.mint_ms <= end) {
            end = bs->b[j]->meta.maxt_ms > end ? bs->b[j]->meta.maxt_ms : end;
            j++;
        }
        if (j - i >= 2) {
            assert(j <= bs->n);
            *first = i;
            *n = j - i;
            return true;
        }
    }
    /* 2. Aligned windows of 3^k block durations, up to 10 % of retention. */
    int64_t D = bs->opts.block_duration_ms;
    int64_t max_range = bs->opts.retention_ms ? bs->opts.retention_ms / 10 : D * 81;
    int64_t newest = bs->n ? bs->b[bs->n - 1]->meta.mint_ms : 0;
    for (int64_t R = 3 * D; R <= max_range; R *= 3) {
        for (size_t i = 0; i < bs->n;) {
            int64_t w0 = bs->b[i]->meta.mint_ms - ((bs->b[i]->meta.mint_ms % R) + R) % R;
            int64_t w1 = w0 + R; /* window [w0, w1) */
            size_t j = i;
            while (j < bs->n && bs->b[j]->meta.maxt_ms < w1 && bs->b[j]->meta.mint_ms >= w0)
                j++;
            assert(w0 <= bs->b[i]->meta.mint_ms && bs->b[i]->meta.mint_ms < w1);
            if (j - i >= 2 && newest >= w1) {
                *first = i;
                *n = j - i;
                return true;
            }
            i = j > i ? j : i + 1;
        }
    }
    return false;
}

int tsdb_blocks_compact(struct tsdb_blocks *bs, size_t *n_done, struct scry_err *err)
{
    size_t done = 0, first, n;
    int rc = 0;
    while (!rc && plan(bs, &first, &n)) {
        rc = tsdb_blocks_compact_range(bs, first, n, NULL, err);
        done += !rc;
    }
    if (n_done)
        *n_done = done;
    return rc;
}

/* ---- retention ------------------------------------------------------------------ */

static int delete_range(struct tsdb_blocks *bs, size_t first, size_t n, struct scry_err *err)
{
    const char **ids = scry_calloc(n + 1, sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = bs->b[first + i]->meta.id;
    int rc = tsdb__catalog_delete(bs->cat, ids, n, err);
    free(ids);
    if (!rc)
        remove_blocks(bs, first, n);
    return rc;
}

static int delete_first(struct tsdb_blocks *bs, size_t n, struct scry_err *err)
{
    return delete_range(bs, 0, n, err);
}

int tsdb_blocks_retention(struct tsdb_blocks *bs, size_t *n_deleted, struct scry_err *err)
{
    size_t del = 0;
    int rc = 0;
    if (bs->opts.retention_ms > 0) {
        int64_t cut = now_ms(bs) - bs->opts.retention_ms;
        size_t n = 0;
        /* Blocks are sorted by mint and, after compaction, do not overlap, so
         * the expired ones are a prefix. */
        while (n < bs->n && bs->b[n]->meta.maxt_ms < cut)
            n++;
        if (n && !(rc = delete_first(bs, n, err)))
            del += n;
    }
    if (!rc && bs->opts.retention_size_bytes > 0) {
        uint64_t total = 0;
        for (size_t i = 0; i < bs->n; i++)
            total += bs->b[i]->meta.bytes;
        size_t n = 0;
        while (n < bs->n && total > (uint64_t)bs->opts.retention_size_bytes)
            total -= bs->b[n++]->meta.bytes;
        if (n && !(rc = delete_first(bs, n, err)))
            del += n;
    }
    if (n_deleted)
        *n_deleted = del;
    return rc;
}
