/* querier.c — select_streams over the segments and the head.
 *
 * A querier pins the segments that overlap its range (acquire/release) and
 * snapshots the head's matching streams at select time (their chunks are
 * copied into the querier's arena, so appends and flushes go on). Per
 * segment: matchers → stream postings; required_tokens → the chunk ids the
 * token index allows (README "Tokens"); time bounds → chunk refs. The
 * sources of one label set (segments in time order, then the head) form
 * one stream; its entry iterator decompresses one chunk at a time. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "logstore/ls_internal.h"

struct ls_querier {
    struct scry_querier base;
    struct ls_store *st;
    int64_t mint, maxt;
    struct ls_segment **segs;
    size_t n_segs;
    struct scry_arena *a;
};

struct grp {
    struct scry_labels ls;
    struct ls_chunk_src *v;
    size_t n, cap, seq;
};

struct grps {
    struct grp *v;
    size_t n, cap;
};

static struct grp *grp_new(struct grps *g, struct scry_arena *a, struct scry_labels ls)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        struct grp *v = scry_arena_alloc(a, nc * sizeof *v);
        if (g->n)
            memcpy(v, g->v, g->n * sizeof *v);
        g->v = v;
        g->cap = nc;
    }
    struct grp *r = &g->v[g->n];
    *r = (struct grp){ .ls = ls, .seq = g->n };
    g->n++;
    return r;
}

static void grp_add(struct grp *r, struct scry_arena *a, const struct ls_chunk_src *c)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 4;
        struct ls_chunk_src *v = scry_arena_alloc(a, nc * sizeof *v);
        if (r->n)
            memcpy(v, r->v, r->n * sizeof *v);
        r->v = v;
        r->cap = nc;
    }
    r->v[r->n++] = *c;
}

static int grp_cmp(const void *x, const void *y)
{
    const struct grp *a = x, *b = y;
    int c = scry_labels_cmp(&a->ls, &b->ls);
    return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

static bool allowed(const uint64_t *ids, size_t n, uint64_t id)
{
    if (n == SIZE_MAX)
        return true;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ids[mid] == id)
            return true;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int from_segment(struct ls_segment *s, const struct scry_matcher *ms, size_t n_ms,
                        const struct scry_select_hints *h, struct scry_arena *a, struct grps *g,
                        struct scry_err *err)
{
    if (s->maxt < h->mint || s->mint > h->maxt)
        return 0;
    uint64_t *ok = NULL;
    size_t n_ok = SIZE_MAX;
    if (h->n_required_tokens) {
        int rc = ls__segment_token_chunks(s, h->required_tokens, h->n_required_tokens, a, &ok,
                                          &n_ok, err);
        if (rc)
            return rc;
        if (n_ok == 0)
            return 0;
    }
    uint64_t *ids;
    size_t n;
    ls__segment_select(s, ms, n_ms, a, &ids, &n);
    for (size_t i = 0; i < n; i++) {
        const struct ls_seg_stream *ss = &s->streams[ids[i]];
        struct grp *r = NULL;
        for (uint32_t k = 0; k < ss->n_chunks; k++) {
            uint32_t cid = ss->first_chunk + k;
            const struct ls_seg_chunk *c = &s->chunks[cid];
            if (c->maxt < h->mint || c->mint > h->maxt || !allowed(ok, n_ok, cid))
                continue;
            struct ls_chunk_src src;
            int rc = ls__chunk_parse(s->map + c->off, c->len, &src, err);
            if (rc) {
                if (err)
                    err->offset = c->off;
                return scry_err_prefix(err, "%s: offset %llu: chunk %u", s->path,
                                       (unsigned long long)c->off, cid);
            }
            src.n = c->n;
            src.mint = c->mint;
            src.maxt = c->maxt;
            if (!r)
                r = grp_new(g, a, ss->ls);
            grp_add(r, a, &src);
        }
    }
    return 0;
}

static struct scry_labels copy_labels(struct scry_arena *a, const struct scry_labels *ls)
{
    struct scry_label *v = scry_arena_alloc(a, ls->n * sizeof *v);
    for (size_t i = 0; i < ls->n; i++) {
        v[i].name = scry_arena_strdup(a, ls->v[i].name);
        v[i].value = scry_arena_strdup(a, ls->v[i].value);
    }
    return (struct scry_labels){ v, ls->n };
}

/* The head is not token-indexed: its chunks are all scanned. */
static void from_head(struct ls_store *st, const struct scry_matcher *ms, size_t n_ms,
                      const struct scry_select_hints *h, struct scry_arena *a, struct grps *g)
{
    pthread_mutex_lock(&st->mu);
    uint64_t *refs;
    size_t n;
    ls__head_select(&st->head, ms, n_ms, a, &refs, &n);
    for (size_t i = 0; i < n; i++) {
        struct ls_stream *s = ls__head_by_ref(&st->head, refs[i]);
        struct grp *r = NULL;
        for (size_t k = 0; k <= s->n_chunks; k++) {
            struct ls_chunk_src src = { 0 };
            if (k < s->n_chunks) {
                const struct ls_hchunk *c = &s->chunks[k];
                src = (struct ls_chunk_src){ 0, NULL, c->comp_len, c->raw_len, c->n,
                                             c->mint, c->maxt };
                if (c->maxt >= h->mint && c->mint <= h->maxt) {
                    uint8_t *p = scry_arena_alloc(a, c->comp_len);
                    src.p = memcpy(p, c->bytes, c->comp_len);
                }
            } else if (s->open_n) {
                src = (struct ls_chunk_src){ 0, NULL, s->open.len, (uint32_t)s->open.len,
                                             s->open_n, s->open_mint, s->open_maxt };
                if (src.maxt >= h->mint && src.mint <= h->maxt) {
                    uint8_t *p = scry_arena_alloc(a, s->open.len);
                    src.p = memcpy(p, s->open.p, s->open.len);
                }
            }
            if (!src.p)
                continue;
            if (!r)
                r = grp_new(g, a, copy_labels(a, &s->ls));
            grp_add(r, a, &src);
        }
    }
    pthread_mutex_unlock(&st->mu);
}

/* ---- entry iterator ---- */

struct ls_entry_iter {
    struct scry_entry_iter base;
    const struct ls_chunk_src *srcs;
    size_t n_srcs, next_src;
    int64_t mint, maxt;
    bool backward;
    struct scry_buf dec;
    struct scry_arena *md;     /* metadata of the current chunk */
    struct scry_log_entry *ents;
    size_t n_ents, cap_ents, pos;
    struct scry_log_entry cur;
    struct scry_err err;
};

static int load_chunk(struct ls_entry_iter *it, const struct ls_chunk_src *c)
{
    const uint8_t *p;
    int rc = ls__chunk_payload(c, &it->dec, &p, &it->err);
    if (rc)
        return rc;
    scry_arena_reset(it->md);
    if (c->n > c->raw_len) /* every entry takes >= 3 payload bytes */
        return scry_err_set(&it->err, SCRY_ECORRUPT, "chunk of %u bytes cannot hold %u entries",
                            c->raw_len, c->n);
    if (c->n > it->cap_ents) {
        it->cap_ents = c->n;
        it->ents = scry_realloc(it->ents, c->n * sizeof *it->ents);
    }
    it->n_ents = 0;
    if (c->codec == LS_CODEC_ZSTD_COLS || c->codec == LS_CODEC_ZSTD_COLS2) {
        if (!ls__cols_get(c->codec, p, c->raw_len, c->n, c->mint, it->md, it->ents))
            return scry_err_set(&it->err, SCRY_ECORRUPT, "chunk payload");
        int64_t prev = c->mint;
        for (uint32_t i = 0; i < c->n; i++) {
            struct scry_log_entry e = it->ents[i];
            if (e.t_ns < prev || e.t_ns > c->maxt)
                return scry_err_set(&it->err, SCRY_ECORRUPT, "chunk entry %u", i);
            prev = e.t_ns;
            if (e.t_ns >= it->mint && e.t_ns <= it->maxt)
                it->ents[it->n_ents++] = e;
        }
        it->pos = 0;
        return 0;
    }
    struct ls_rd r = { p, p + c->raw_len, false };
    int64_t prev = c->mint;
    for (uint32_t i = 0; i < c->n; i++) {
        struct scry_log_entry e;
        if (!ls__entry_get(&r, prev, it->md, &e) || e.t_ns > c->maxt)
            return scry_err_set(&it->err, SCRY_ECORRUPT, "chunk entry %u", i);
        prev = e.t_ns;
        if (e.t_ns >= it->mint && e.t_ns <= it->maxt)
            it->ents[it->n_ents++] = e;
    }
    if (r.p != r.end)
        return scry_err_set(&it->err, SCRY_ECORRUPT, "bytes after the last entry");
    it->pos = 0;
    return 0;
}

static bool it_next(struct scry_entry_iter *base)
{
    struct ls_entry_iter *it = (struct ls_entry_iter *)base;
    if (it->err.code)
        return false;
    while (it->pos >= it->n_ents) {
        if (it->next_src >= it->n_srcs)
            return false;
        size_t k = it->next_src++;
        const struct ls_chunk_src *c = &it->srcs[it->backward ? it->n_srcs - 1 - k : k];
        if (load_chunk(it, c) != 0)
            return false;
    }
    size_t i = it->pos++;
    it->cur = it->ents[it->backward ? it->n_ents - 1 - i : i];
    return true;
}

static void it_at(const struct scry_entry_iter *base, struct scry_log_entry *out)
{
    *out = ((const struct ls_entry_iter *)base)->cur;
}

static int it_err(const struct scry_entry_iter *base, struct scry_err *err)
{
    const struct ls_entry_iter *it = (const struct ls_entry_iter *)base;
    if (it->err.code && err)
        *err = it->err;
    return it->err.code;
}

static const struct scry_entry_iter_ops it_ops = { .next = it_next, .at = it_at, .err = it_err };

/* ---- stream set ---- */

struct ls_stream_set {
    struct scry_stream_set base;
    struct grp *v;
    size_t n, i;
    bool started;
    struct ls_entry_iter it;
    int64_t mint, maxt;
    bool backward;
};

static bool ss_next(struct scry_stream_set *base)
{
    struct ls_stream_set *ss = (struct ls_stream_set *)base;
    if (ss->it.err.code)
        return false;
    if (ss->started)
        ss->i++;
    ss->started = true;
    return ss->i < ss->n;
}

static const struct scry_labels *ss_labels(const struct scry_stream_set *base)
{
    const struct ls_stream_set *ss = (const struct ls_stream_set *)base;
    return &ss->v[ss->i].ls;
}

static struct scry_entry_iter *ss_entries(struct scry_stream_set *base)
{
    struct ls_stream_set *ss = (struct ls_stream_set *)base;
    struct ls_entry_iter *it = &ss->it;
    it->srcs = ss->v[ss->i].v;
    it->n_srcs = ss->v[ss->i].n;
    it->next_src = 0;
    it->n_ents = it->pos = 0;
    return &it->base;
}

static int ss_err(const struct scry_stream_set *base, struct scry_err *err)
{
    return it_err(&((const struct ls_stream_set *)base)->it.base, err);
}

static void ss_close(struct scry_stream_set *base)
{
    struct ls_stream_set *ss = (struct ls_stream_set *)base;
    scry_buf_fini(&ss->it.dec);
    scry_arena_destroy(ss->it.md);
    free(ss->it.ents);
    free(ss);
}

static const struct scry_stream_set_ops ss_ops = {
    .next = ss_next, .labels = ss_labels, .entries = ss_entries, .err = ss_err, .close = ss_close,
};

/* Collects the groups of every matching stream, merged by label set. */
static int collect(struct ls_querier *q, const struct scry_matcher *ms, size_t n_ms,
                   const struct scry_select_hints *h, struct grps *out, struct scry_err *err)
{
    struct grps g = { 0 };
    for (size_t i = 0; i < q->n_segs; i++) {
        int rc = from_segment(q->segs[i], ms, n_ms, h, q->a, &g, err);
        if (rc)
            return rc;
    }
    from_head(q->st, ms, n_ms, h, q->a, &g);
    if (g.n)
        qsort(g.v, g.n, sizeof *g.v, grp_cmp);
    size_t k = 0;
    for (size_t i = 0; i < g.n; i++) {
        if (k && scry_labels_equal(&g.v[k - 1].ls, &g.v[i].ls)) {
            for (size_t j = 0; j < g.v[i].n; j++)
                grp_add(&g.v[k - 1], q->a, &g.v[i].v[j]);
        } else {
            g.v[k++] = g.v[i];
        }
    }
    g.n = k;
    *out = g;
    return 0;
}

static int select_streams(struct scry_querier *base, const struct scry_matcher *ms, size_t n_ms,
                          const struct scry_select_hints *hints, struct scry_stream_set **out,
                          struct scry_err *err)
{
    struct ls_querier *q = (struct ls_querier *)base;
    struct scry_select_hints h = hints ? *hints : (struct scry_select_hints){ 0 };
    if (!hints) {
        h.mint = q->mint;
        h.maxt = q->maxt;
    }
    if (h.mint < q->mint)
        h.mint = q->mint;
    if (h.maxt > q->maxt)
        h.maxt = q->maxt;
    struct grps g;
    int rc = collect(q, ms, n_ms, &h, &g, err);
    if (rc)
        return rc;
    struct ls_stream_set *ss = scry_calloc(1, sizeof *ss);
    ss->base.ops = &ss_ops;
    ss->v = g.v;
    ss->n = g.n;
    ss->it.base.ops = &it_ops;
    ss->it.mint = h.mint;
    ss->it.maxt = h.maxt;
    ss->it.backward = h.backward;
    ss->it.md = scry_arena_create(16384);
    *out = &ss->base;
    return 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int labels_common(struct ls_querier *q, const char *name, const struct scry_matcher *ms,
                         size_t n_ms, int64_t mint, int64_t maxt, struct scry_arena *a,
                         const char ***out, size_t *n_out, struct scry_err *err)
{
    struct scry_select_hints h = { .mint = mint < q->mint ? q->mint : mint,
                                   .maxt = maxt > q->maxt ? q->maxt : maxt };
    struct grps g;
    int rc = collect(q, ms, n_ms, &h, &g, err);
    if (rc)
        return rc;
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < g.n; i++)
        cap += g.v[i].ls.n;
    const char **v = scry_arena_alloc(a, (cap + 1) * sizeof *v);
    for (size_t i = 0; i < g.n; i++) {
        if (name) {
            const char *val = scry_labels_get(&g.v[i].ls, name);
            if (val)
                v[n++] = val;
        } else {
            for (size_t k = 0; k < g.v[i].ls.n; k++)
                v[n++] = g.v[i].ls.v[k].name;
        }
    }
    qsort(v, n, sizeof *v, str_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || strcmp(v[k - 1], v[i]))
            v[k++] = scry_arena_strdup(a, v[i]);
    *out = v;
    *n_out = k;
    return 0;
}

static int label_names(struct scry_querier *base, const struct scry_matcher *ms, size_t n_ms,
                       int64_t mint, int64_t maxt, struct scry_arena *a, const char ***out,
                       size_t *n_out, struct scry_err *err)
{
    return labels_common((struct ls_querier *)base, NULL, ms, n_ms, mint, maxt, a, out, n_out,
                         err);
}

static int label_values(struct scry_querier *base, const char *name,
                        const struct scry_matcher *ms, size_t n_ms, int64_t mint, int64_t maxt,
                        struct scry_arena *a, const char ***out, size_t *n_out,
                        struct scry_err *err)
{
    if (!name)
        return scry_err_set(err, SCRY_EINVAL, "label_values needs a name");
    return labels_common((struct ls_querier *)base, name, ms, n_ms, mint, maxt, a, out, n_out,
                         err);
}

static void q_close(struct scry_querier *base)
{
    struct ls_querier *q = (struct ls_querier *)base;
    for (size_t i = 0; i < q->n_segs; i++)
        ls__segment_release(q->segs[i]);
    free(q->segs);
    scry_arena_destroy(q->a);
    free(q);
}

static const struct scry_querier_ops q_ops = {
    .select_streams = select_streams,
    .label_names = label_names,
    .label_values = label_values,
    .close = q_close,
};

int ls__querier_new(struct ls_store *st, int64_t mint, int64_t maxt, struct scry_querier **out,
                    struct scry_err *err)
{
    if (mint > maxt)
        return scry_err_set(err, SCRY_EINVAL, "mint > maxt");
    struct ls_querier *q = scry_calloc(1, sizeof *q);
    q->base.ops = &q_ops;
    q->st = st;
    q->mint = mint;
    q->maxt = maxt;
    q->a = scry_arena_create(0);
    pthread_mutex_lock(&st->mu);
    q->segs = scry_malloc((st->n_segs + 1) * sizeof *q->segs);
    for (size_t i = 0; i < st->n_segs; i++) {
        struct ls_segment *s = st->segs[i];
        if (s->maxt < mint || s->mint > maxt)
            continue;
        ls__segment_acquire(s);
        q->segs[q->n_segs++] = s;
    }
    pthread_mutex_unlock(&st->mu);
    *out = &q->base;
    return 0;
}
