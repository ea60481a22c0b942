/* querier.c — select_streams over the segments and the head.
 *
 * Each select pins the segments that overlap its range (acquire; released
 * at close) and copies the matching chunks of the frozen head (a flush in
 * progress) and the head into the querier's arena, all under one store lock
 * hold (so appends and flushes go on, and each entry is seen once). Per
 * segment: matchers → stream postings; required_tokens → the chunk ids the
 * token index allows (README "Tokens"); time bounds → chunk refs. The
 * sources of one label set (segments in time order, the frozen head, the
 * head) form one stream (querier_iter.c); its entry iterator decodes one
 * chunk at a time, possibly ahead on worker threads (querier_decode.c).
 * Also here: label_names / label_values, and the count_only / newest_limit
 * hints that spare decoding (from_segment, drop_older). */
#include <pthread.h>
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

struct grps {
    struct ls_grp *v;
    size_t n, cap;
};

static struct ls_grp *grp_new(struct grps *g, struct scry_arena *a, struct scry_labels ls)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        struct ls_grp *v = scry_arena_alloc(a, nc * sizeof *v);
        if (g->n)
            memcpy(v, g->v, g->n * sizeof *v);
        g->v = v;
        g->cap = nc;
    }
    struct ls_grp *r = &g->v[g->n];
    *r = (struct ls_grp){ .ls = ls, .seq = g->n };
    g->n++;
    return r;
}

static void grp_add(struct ls_grp *r, struct scry_arena *a, const struct ls_chunk_src *c)
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
    const struct ls_grp *a = x, *b = y;
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

static int parse_chunk(const struct ls_segment *s, uint32_t cid, struct ls_chunk_src *src,
                       struct scry_err *err)
{
    const struct ls_seg_chunk *c = &s->chunks[cid];
    int rc = ls__chunk_parse(s->map + c->off, c->len, src, err);
    if (rc) {
        if (err)
            err->offset = c->off;
        return scry_err_prefix(err, "%s: offset %llu: chunk %u", s->path,
                               (unsigned long long)c->off, cid);
    }
    return 0;
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
    /* counting: the token index's line counts replace decoding where
     * they are exact (README "Counting from the index") */
    uint32_t *cnt = NULL;
    /* fewer allowed chunks than count_min: the needle's own token (if
     * any) has no counts, so the dictionary walk would only cost */
    if ((h->count_only || h->newest_limit) && h->n_line_contains == 1 && s->counts &&
        (n_ok == SIZE_MAX || n_ok >= s->count_min))
        cnt = ls__segment_line_counts(s, h->line_contains[0].p, h->line_contains[0].len, a);
    bool lazy = cnt && h->newest_limit && h->backward;
    uint64_t *ids;
    size_t n;
    ls__segment_select(s, ms, n_ms, a, &ids, &n);
    for (size_t i = 0; i < n; i++) {
        const struct ls_seg_stream *ss = &s->streams[ids[i]];
        struct ls_grp *r = NULL;
        for (uint32_t k = 0; k < ss->n_chunks; k++) {
            uint32_t cid = ss->first_chunk + k;
            const struct ls_seg_chunk *c = &s->chunks[cid];
            if (c->maxt < h->mint || c->mint > h->maxt || !allowed(ok, n_ok, cid))
                continue;
            struct ls_chunk_src src = { 0 };
            bool whole = c->mint >= h->mint && c->maxt <= h->maxt;
            if (cnt && cnt[cid] == 0)
                continue; /* no line holds the literal */
            if (cnt && cnt[cid] != LS_COUNT_DECODE && whole && h->count_only) {
                src = (struct ls_chunk_src){ .n = c->n, .mint = c->mint, .maxt = c->maxt,
                                             .counted = cnt[cid] };
                if (!r)
                    r = grp_new(g, a, ss->ls);
                grp_add(r, a, &src);
                continue;
            }
            if (lazy) {
                /* parsed (its CRC checked: a pass over its bytes) only if
                 * it survives drop_older */
                src.codec = LS_CODEC_STORED;
                src.p = s->map + c->off;
                src.len = c->len;
            } else {
                int rc = parse_chunk(s, cid, &src, err);
                if (rc)
                    return rc;
            }
            src.n = c->n;
            src.mint = c->mint;
            src.maxt = c->maxt;
            if (cnt && cnt[cid] != LS_COUNT_DECODE && whole)
                src.match1 = cnt[cid] + 1;
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

/* The head is not token-indexed: its chunks are all scanned. Copies the
 * matching chunks of one head (the frozen one or the live one) into a;
 * called under st->mu. */
static void from_head(struct ls_head *hd, const struct scry_matcher *ms, size_t n_ms,
                      const struct scry_select_hints *h, struct scry_arena *a, struct grps *g)
{
    uint64_t *refs;
    size_t n;
    ls__head_select(hd, ms, n_ms, a, &refs, &n);
    for (size_t i = 0; i < n; i++) {
        struct ls_stream *s = ls__head_by_ref(hd, refs[i]);
        struct ls_grp *r = NULL;
        for (size_t k = 0; k <= s->n_chunks; k++) {
            struct ls_chunk_src src = { 0 };
            if (k < s->n_chunks) {
                const struct ls_hchunk *c = &s->chunks[k];
                src = (struct ls_chunk_src){ 0, NULL, c->comp_len, c->raw_len, c->n,
                                             c->mint, c->maxt, 0, 0 };
                if (c->maxt >= h->mint && c->mint <= h->maxt) {
                    uint8_t *p = scry_arena_alloc(a, c->comp_len);
                    src.p = memcpy(p, c->bytes, c->comp_len);
                }
            } else if (s->open_n) {
                src = (struct ls_chunk_src){ 0, NULL, s->open.len, (uint32_t)s->open.len,
                                             s->open_n, s->open_mint, s->open_maxt, 0, 0 };
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
}

/* One lock hold: the segments overlapping the range (pinned until the
 * querier closes), then the frozen head and the head copied. A flush moves
 * entries head → frozen → segment under the same lock, so each entry is
 * seen exactly once. Returns the first pinned segment's index in q->segs. */
static size_t snapshot(struct ls_querier *q, const struct scry_matcher *ms, size_t n_ms,
                       const struct scry_select_hints *h, struct grps *heads)
{
    struct ls_store *st = q->st;
    pthread_mutex_lock(&st->mu);
    size_t first = q->n_segs;
    q->segs = scry_realloc(q->segs, (q->n_segs + st->n_segs + 1) * sizeof *q->segs);
    for (size_t i = 0; i < st->n_segs; i++) {
        struct ls_segment *s = st->segs[i];
        if (s->maxt < h->mint || s->mint > h->maxt)
            continue;
        ls__segment_acquire(s);
        q->segs[q->n_segs++] = s;
    }
    if (st->frozen)
        from_head(st->frozen, ms, n_ms, h, q->a, heads);
    from_head(&st->head, ms, n_ms, h, q->a, heads);
    pthread_mutex_unlock(&st->mu);
    return first;
}

static int cmp_mint_desc(const void *x, const void *y)
{
    const struct ls_chunk_src *a = *(const struct ls_chunk_src *const *)x;
    const struct ls_chunk_src *b = *(const struct ls_chunk_src *const *)y;
    return (a->mint < b->mint) - (a->mint > b->mint);
}

/* newest_limit: when chunks of known matching counts, newest first by
 * their oldest entry, hold limit matches at or after some time T, no entry
 * before T can be among the newest limit ones: chunks ending before T are
 * dropped without being decoded. */
static void drop_older(struct grps *g, uint64_t limit)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++)
        for (size_t k = 0; k < g->v[i].n; k++)
            n += g->v[i].v[k].match1 > 1;
    if (n == 0)
        return;
    const struct ls_chunk_src **v = scry_malloc(n * sizeof *v);
    n = 0;
    for (size_t i = 0; i < g->n; i++)
        for (size_t k = 0; k < g->v[i].n; k++)
            if (g->v[i].v[k].match1 > 1)
                v[n++] = &g->v[i].v[k];
    qsort(v, n, sizeof *v, cmp_mint_desc);
    uint64_t sum = 0;
    int64_t cut = INT64_MIN;
    for (size_t i = 0; i < n && cut == INT64_MIN; i++)
        if ((sum += v[i]->match1 - 1) >= limit)
            cut = v[i]->mint;
    free(v);
    if (cut == INT64_MIN)
        return;
    size_t m = 0;
    for (size_t i = 0; i < g->n; i++) {
        struct ls_grp *r = &g->v[i];
        size_t k = 0;
        for (size_t j = 0; j < r->n; j++)
            if (r->v[j].maxt >= cut)
                r->v[k++] = r->v[j];
        r->n = k;
        if (k)
            g->v[m++] = *r;
    }
    g->n = m;
}

/* Parses a chunk from_segment left stored (lazy), keeping what the
 * segment's index gave (entries, times, match count). */
static int parse_stored(struct ls_querier *q, struct ls_chunk_src *src, struct scry_err *err)
{
    for (size_t i = 0; i < q->n_segs; i++) {
        const struct ls_segment *s = q->segs[i];
        if (src->p < s->map || src->p >= s->map + s->len)
            continue;
        uint64_t off = (uint64_t)(src->p - s->map);
        for (uint32_t cid = 0; cid < s->n_chunks; cid++)
            if (s->chunks[cid].off == off) {
                struct ls_chunk_src p = *src;
                int rc = parse_chunk(s, cid, &p, err);
                if (rc)
                    return rc;
                src->codec = p.codec;
                src->p = p.p;
                src->len = p.len;
                src->raw_len = p.raw_len;
                return 0;
            }
    }
    SCRY_ASSERT(!"a stored chunk lies in a pinned segment");
    return scry_err_set(err, SCRY_ECORRUPT, "stored chunk not found");
}

/* Collects the groups of every matching stream, merged by label set. */
static int collect(struct ls_querier *q, const struct scry_matcher *ms, size_t n_ms,
                   const struct scry_select_hints *h, struct grps *out, struct scry_err *err)
{
    struct grps g = { 0 }, heads = { 0 };
    size_t first = snapshot(q, ms, n_ms, h, &heads);
    for (size_t i = first; i < q->n_segs; i++) {
        int rc = from_segment(q->segs[i], ms, n_ms, h, q->a, &g, err);
        if (rc)
            return rc;
    }
    /* The heads' groups after the segments' (time order within a label set). */
    for (size_t i = 0; i < heads.n; i++) {
        struct ls_grp *r = grp_new(&g, q->a, heads.v[i].ls);
        r->v = heads.v[i].v;
        r->n = heads.v[i].n;
        r->cap = heads.v[i].cap;
    }
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
    if (h->newest_limit && h->backward && h->n_line_contains == 1)
        drop_older(&g, h->newest_limit);
    for (size_t i = 0; i < g.n; i++)
        for (size_t j = 0; j < g.v[i].n; j++)
            if (g.v[i].v[j].codec == LS_CODEC_STORED) {
                int rc = parse_stored(q, &g.v[i].v[j], err);
                if (rc)
                    return rc;
            }
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
    *out = ls__stream_set_new(g.v, g.n, &h, q->a);
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
    /* The segments are pinned at each select, with the heads (snapshot). */
    *out = &q->base;
    return 0;
}
