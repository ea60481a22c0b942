/* head.c — the in-memory part of the log store: streams found by label
 * hash (a chain per bucket, full label comparison, so colliding sets stay
 * apart), stream postings per label pair, and each stream's open chunk of
 * raw entries, cut (kept raw) at LS_CHUNK_CUT_BYTES or LS_CHUNK_MAX_SPAN_NS.
 * The caller (store.c) holds the store lock around every call. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/mem.h"
#include "core/postings.h"
#include "logstore/ls_internal.h"

#define HEAD_BUCKETS0 64
/* An open buffer is kept across cuts up to this capacity (a full chunk's
 * buffer grows to 512 KiB by doubling). */
#define OPEN_KEEP_MAX (1u << 20)

/* ---- the floor ---- */

static size_t floor_slot(const struct ls_floor *f, uint64_t hash)
{
    size_t j = hash & (f->cap - 1);
    while (f->v[j].hash && f->v[j].hash != hash)
        j = (j + 1) & (f->cap - 1);
    return j;
}

static const struct ls_floor_ent *floor_get(const struct ls_floor *f, uint64_t hash)
{
    hash = hash ? hash : 1;
    if (!f || !f->cap)
        return NULL;
    size_t j = floor_slot(f, hash);
    return f->v[j].hash ? &f->v[j] : NULL;
}

void ls__floor_set(struct ls_floor *f, uint64_t hash, int64_t t, uint64_t line_hash,
                   size_t line_len)
{
    hash = hash ? hash : 1; /* 0 marks an empty slot */
    if ((f->n + 1) * 2 > f->cap) {
        struct ls_floor g = { .cap = f->cap ? f->cap * 2 : 64 };
        g.v = scry_calloc(g.cap, sizeof *g.v);
        for (size_t i = 0; i < f->cap; i++)
            if (f->v[i].hash)
                g.v[floor_slot(&g, f->v[i].hash)] = f->v[i];
        g.n = f->n;
        free(f->v);
        *f = g;
    }
    struct ls_floor_ent *e = &f->v[floor_slot(f, hash)];
    if (!e->hash) {
        *e = (struct ls_floor_ent){ hash, t, line_hash, line_len };
        f->n++;
    } else if (t > e->t || (t == e->t && line_len != SIZE_MAX)) {
        *e = (struct ls_floor_ent){ hash, t, line_hash, line_len };
    }
}

void ls__floor_fini(struct ls_floor *f)
{
    free(f->v);
    memset(f, 0, sizeof *f);
}

void ls__head_save_floor(struct ls_head *h)
{
    if (!h->floor)
        return;
    for (size_t i = 0; i < h->n_buckets; i++)
        for (struct ls_stream *s = h->hb[i]; s; s = s->hnext)
            if (s->has_last)
                ls__floor_set(h->floor, s->hash, s->last_t,
                              s->open_n ? scry_xxh64(s->open.p + s->last_line_off,
                                                     s->last_line_len, 0)
                                        : s->last_line_hash,
                              s->last_line_len);
}

/* ---- the chunk slab ----
 *
 * Cut chunks hold nearly all of a head's memory (the raw lines until the
 * flush), and each 4 KiB page of it used to cost a page fault on first
 * touch: on the 2-vCPU KVM guest we measure on, faulting 100 MiB in 4 KiB
 * pages costs ~0.29 CPU-s, about a quarter of the whole push path, against
 * ~0.05-0.13 s in 2 MiB pages (bench/README.md "Loki push"). So a cut chunk
 * is copied (one memcpy of <= 272 KiB, in cache) into regions mapped for
 * transparent huge pages, bump-allocated and unmapped all at once when the
 * head goes (after its flush), and the stream's open buffer is kept and
 * refilled. Nothing is freed one chunk at a time: a head only grows until
 * it is flushed whole. Where THP is off, the regions are ordinary pages. */

#define SLAB_ALIGN (2u << 20)       /* a huge page */
#define SLAB_REGION_MIN (2u << 20)
#define SLAB_REGION_MAX (32u << 20)

struct slab_region {
    struct slab_region *next;
    void *map;                      /* what munmap takes */
    size_t map_len;
};

struct ls_slab {
    char *p, *end;                  /* the free part of the newest region */
    struct slab_region *regions;
    size_t next_len;                /* doubles from SLAB_REGION_MIN to SLAB_REGION_MAX */
};

static struct ls_slab *slab_create(void)
{
    struct ls_slab *sl = scry_calloc(1, sizeof *sl);
    sl->next_len = SLAB_REGION_MIN;
    return sl;
}

static void slab_destroy(struct ls_slab *sl)
{
    if (!sl)
        return;
    for (struct slab_region *r = sl->regions, *nx; r; r = nx) {
        nx = r->next;
        munmap(r->map, r->map_len);
    }
    free(sl);
}

/* A new region of at least need bytes, aligned to SLAB_ALIGN so that the
 * kernel can back it with huge pages from the first touch. */
static void slab_grow(struct ls_slab *sl, size_t need)
{
    size_t len = sl->next_len;
    while (len < need + sizeof(struct slab_region))
        len *= 2;
    if (sl->next_len < SLAB_REGION_MAX)
        sl->next_len *= 2;
    size_t map_len = len + SLAB_ALIGN;
    char *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        scry_panic("out of memory (head chunk slab)", __FILE__, __LINE__);
    char *p = (char *)(((uintptr_t)m + SLAB_ALIGN - 1) & ~(uintptr_t)(SLAB_ALIGN - 1));
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len, MADV_HUGEPAGE); /* a hint: without THP, 4 KiB pages */
#endif
    struct slab_region *r = (struct slab_region *)p;
    *r = (struct slab_region){ sl->regions, m, map_len };
    sl->regions = r;
    sl->p = p + sizeof *r;
    sl->end = p + len;
}

static void *slab_alloc(struct ls_slab *sl, size_t len)
{
    len = (len + 15) & ~(size_t)15;
    if ((size_t)(sl->end - sl->p) < len)
        slab_grow(sl, len);
    void *p = sl->p;
    sl->p += len;
    assert(sl->p <= sl->end);
    return p;
}

/* ---- the head ---- */

void ls__head_init(struct ls_head *h, uint64_t next_ref)
{
    memset(h, 0, sizeof *h);
    h->n_buckets = HEAD_BUCKETS0;
    h->n_pbuckets = HEAD_BUCKETS0;
    h->hb = scry_calloc(h->n_buckets, sizeof *h->hb);
    h->rb = scry_calloc(h->n_buckets, sizeof *h->rb);
    h->pb = scry_calloc(h->n_pbuckets, sizeof *h->pb);
    h->slab = slab_create();
    h->next_ref = next_ref ? next_ref : 1;
    h->mint = INT64_MAX;
    h->maxt = INT64_MIN;
}

void ls__head_fini(struct ls_head *h)
{
    for (size_t i = 0; h->hb && i < h->n_buckets; i++) {
        for (struct ls_stream *s = h->hb[i], *nx; s; s = nx) {
            nx = s->hnext;
            free(s->chunks); /* their bytes are in h->slab */
            scry_buf_fini(&s->open);
            free((void *)s->ls.v);
            free(s);
        }
    }
    for (size_t i = 0; h->pb && i < h->n_pbuckets; i++) {
        for (struct ls_pair *p = h->pb[i], *nx; p; p = nx) {
            nx = p->next;
            free(p->key);
            free(p->refs);
            free(p);
        }
    }
    free(h->hb);
    free(h->rb);
    free(h->pb);
    slab_destroy(h->slab);
    memset(h, 0, sizeof *h);
}

struct ls_stream *ls__head_get(struct ls_head *h, const struct scry_labels *ls, uint64_t hash)
{
    for (struct ls_stream *s = h->hb[hash & (h->n_buckets - 1)]; s; s = s->hnext)
        if (s->hash == hash && scry_labels_equal(&s->ls, ls))
            return s;
    return NULL;
}

struct ls_stream *ls__head_by_ref(struct ls_head *h, uint64_t ref)
{
    for (struct ls_stream *s = h->rb[ref & (h->n_buckets - 1)]; s; s = s->rnext)
        if (s->ref == ref)
            return s;
    return NULL;
}

static void grow(struct ls_head *h)
{
    size_t nb = h->n_buckets * 2;
    struct ls_stream **hb = scry_calloc(nb, sizeof *hb), **rb = scry_calloc(nb, sizeof *rb);
    for (size_t i = 0; i < h->n_buckets; i++) {
        for (struct ls_stream *s = h->hb[i], *nx; s; s = nx) {
            nx = s->hnext;
            s->hnext = hb[s->hash & (nb - 1)];
            hb[s->hash & (nb - 1)] = s;
            s->rnext = rb[s->ref & (nb - 1)];
            rb[s->ref & (nb - 1)] = s;
        }
    }
    free(h->hb);
    free(h->rb);
    h->hb = hb;
    h->rb = rb;
    h->n_buckets = nb;
}

static struct ls_pair *pair_get(struct ls_head *h, const char *key, bool create)
{
    uint64_t hv = scry_xxh64(key, strlen(key), 0);
    struct ls_pair **b = &h->pb[hv & (h->n_pbuckets - 1)];
    for (struct ls_pair *p = *b; p; p = p->next)
        if (strcmp(p->key, key) == 0)
            return p;
    if (!create)
        return NULL;
    struct ls_pair *p = scry_calloc(1, sizeof *p);
    p->key = scry_strdup(key);
    p->next = *b;
    *b = p;
    h->n_pairs++;
    return p;
}

static void pairs_grow(struct ls_head *h)
{
    size_t nb = h->n_pbuckets * 2;
    struct ls_pair **pb = scry_calloc(nb, sizeof *pb);
    for (size_t i = 0; i < h->n_pbuckets; i++) {
        for (struct ls_pair *p = h->pb[i], *nx; p; p = nx) {
            nx = p->next;
            uint64_t hv = scry_xxh64(p->key, strlen(p->key), 0);
            p->next = pb[hv & (nb - 1)];
            pb[hv & (nb - 1)] = p;
        }
    }
    free(h->pb);
    h->pb = pb;
    h->n_pbuckets = nb;
}

static char *pair_key(const char *name, const char *value)
{
    size_t ln = strlen(name), lv = strlen(value);
    char *k = scry_malloc(ln + lv + 2);
    memcpy(k, name, ln);
    k[ln] = '\xff';
    memcpy(k + ln + 1, value, lv + 1);
    return k;
}

struct ls_stream *ls__head_create(struct ls_head *h, const struct scry_labels *ls, uint64_t ref)
{
    assert(ls->n > 0);
    if (ref == 0)
        ref = h->next_ref;
    assert(!ls__head_by_ref(h, ref));
    if (ref >= h->next_ref)
        h->next_ref = ref + 1;
    /* One allocation: the label array, then the strings. */
    size_t len = ls->n * sizeof(struct scry_label);
    for (size_t i = 0; i < ls->n; i++)
        len += strlen(ls->v[i].name) + strlen(ls->v[i].value) + 2;
    struct scry_label *v = scry_malloc(len);
    char *z = (char *)(v + ls->n);
    for (size_t i = 0; i < ls->n; i++) {
        size_t a = strlen(ls->v[i].name) + 1, b = strlen(ls->v[i].value) + 1;
        v[i].name = memcpy(z, ls->v[i].name, a);
        v[i].value = memcpy(z + a, ls->v[i].value, b);
        z += a + b;
    }
    struct ls_stream *s = scry_calloc(1, sizeof *s);
    s->ref = ref;
    s->slab = h->slab;
    s->ls = (struct scry_labels){ v, ls->n };
    s->hash = scry_labels_hash(&s->ls);
    const struct ls_floor_ent *fl = floor_get(h->floor, s->hash);
    if (fl) {
        s->has_last = true;
        s->last_t = fl->t;
        s->last_line_hash = fl->line_hash;
        s->last_line_len = fl->line_len;
    }
    if (h->n_streams >= h->n_buckets)
        grow(h);
    size_t m = h->n_buckets - 1;
    s->hnext = h->hb[s->hash & m];
    h->hb[s->hash & m] = s;
    s->rnext = h->rb[ref & m];
    h->rb[ref & m] = s;
    h->n_streams++;
    for (size_t i = 0; i < ls->n; i++) {
        if (h->n_pairs >= h->n_pbuckets)
            pairs_grow(h);
        char *k = pair_key(v[i].name, v[i].value);
        struct ls_pair *p = pair_get(h, k, true);
        free(k);
        /* Refs arrive in increasing order except in replay; keep sorted. */
        if (p->n == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 4;
            p->refs = scry_realloc(p->refs, p->cap * sizeof *p->refs);
        }
        size_t j = p->n;
        while (j > 0 && p->refs[j - 1] > ref) {
            p->refs[j] = p->refs[j - 1];
            j--;
        }
        p->refs[j] = ref;
        p->n++;
    }
    return s;
}

int ls__order_check(bool has_last, int64_t last_t, const char *last_line, uint64_t last_hash,
                    size_t last_len, const struct scry_log_entry *e)
{
    if (!has_last || e->t_ns > last_t)
        return 0;
    if (e->t_ns < last_t)
        return SCRY_EINVAL;
    /* Equal t_ns: a duplicate only if the line is the same (Loki's rule). */
    if (e->line.len != last_len)
        return 0;
    if (last_line)
        return last_len == 0 || memcmp(e->line.p, last_line, last_len) == 0;
    if (scry_xxh64(e->line.p, e->line.len, 0) == last_hash)
        return 1;
    return 0;
}

void ls__head_cut(struct ls_stream *s)
{
    if (s->open_n == 0)
        return;
    assert(s->open.len > 0 && s->open.len <= LS_CHUNK_RAW_MAX);
    /* The newest line leaves the open buffer: keep its hash for the order check. */
    s->last_line_hash = scry_xxh64(s->open.p + s->last_line_off, s->last_line_len, 0);
    if (s->n_chunks == s->cap_chunks) {
        s->cap_chunks = s->cap_chunks ? s->cap_chunks * 2 : 4;
        s->chunks = scry_realloc(s->chunks, s->cap_chunks * sizeof *s->chunks);
    }
    /* The chunk keeps the raw bytes: no lz4 here and no lz4 decode at the
     * flush (together ~10 % of ingest CPU), for ~2.5x the head's memory
     * until the flush. They move into the slab; the open buffer stays with
     * the stream for its next chunk (its pages are already faulted in). */
    uint8_t *b = slab_alloc(s->slab, s->open.len + 1);
    memcpy(b, s->open.p, s->open.len);
    b[s->open.len] = 0;
    s->chunks[s->n_chunks++] = (struct ls_hchunk){
        .mint = s->open_mint, .maxt = s->open_maxt, .n = s->open_n,
        .raw_len = (uint32_t)s->open.len, .comp_len = (uint32_t)s->open.len, .bytes = b,
    };
    if (s->open.cap > OPEN_KEEP_MAX)
        scry_buf_fini(&s->open); /* a chunk of huge lines: don't hold on to it */
    else
        scry_buf_reset(&s->open);
    s->open_n = 0;
}

int ls__head_append(struct ls_head *h, struct ls_stream *s, const struct scry_log_entry *e)
{
    const char *last = s->open_n ? s->open.p + s->last_line_off : NULL;
    int rc = ls__order_check(s->has_last, s->last_t, last, s->last_line_hash, s->last_line_len, e);
    if (rc != 0)
        return rc;
    if (s->open_n > 0 && (s->open.len >= LS_CHUNK_CUT_BYTES ||
                          e->t_ns - s->open_mint > LS_CHUNK_MAX_SPAN_NS))
        ls__head_cut(s);
    if (s->open_n == 0) {
        s->open_mint = e->t_ns;
        /* A stream that filled a chunk will likely fill this one: one
         * allocation of its final size instead of doubling (copies and
         * fresh pages each time); untouched pages cost nothing. */
        if (s->n_chunks > 0 && s->open.cap == 0)
            scry_buf_reserve(&s->open, LS_CHUNK_CUT_BYTES + (16u << 10));
    }
    int64_t prev = s->open_n ? s->last_t : s->open_mint;
    s->last_line_off = s->open.len + ls__uvarint_len((uint64_t)e->t_ns - (uint64_t)prev) +
                       ls__uvarint_len(e->line.len);
    ls__entry_put(&s->open, prev, e);
    s->open_maxt = e->t_ns;
    s->open_n++;
    s->has_last = true;
    s->last_t = e->t_ns;
    s->last_line_len = e->line.len;
    h->n_entries++;
    h->raw_bytes += e->line.len;
    if (e->t_ns < h->mint)
        h->mint = e->t_ns;
    if (e->t_ns > h->maxt)
        h->maxt = e->t_ns;
    return 0;
}

/* Equality matchers through the pair postings, intersected with
 * core/postings; the other matchers filter the candidates' label sets. */
void ls__head_select(struct ls_head *h, const struct scry_matcher *ms, size_t n_ms,
                     struct scry_arena *a, uint64_t **out, size_t *n)
{
    struct scry_postings_iter **its = scry_arena_alloc(a, (n_ms + 1) * sizeof *its);
    size_t n_its = 0;
    for (size_t i = 0; i < n_ms; i++) {
        if (ms[i].type != SCRY_MATCH_EQ || !ms[i].value[0])
            continue;
        char *k = pair_key(ms[i].name, ms[i].value);
        struct ls_pair *p = pair_get(h, k, false);
        free(k);
        if (!p) {
            *out = NULL;
            *n = 0;
            return;
        }
        its[n_its++] = scry_postings_list(a, p->refs, p->n);
    }
    uint64_t *cand;
    size_t n_cand = 0;
    if (n_its > 0) {
        scry_postings_expand(scry_postings_intersect(a, its, n_its), a, &cand, &n_cand, NULL);
    } else {
        cand = scry_arena_alloc(a, (h->n_streams + 1) * sizeof *cand);
        for (size_t i = 0; i < h->n_buckets; i++)
            for (struct ls_stream *s = h->rb[i]; s; s = s->rnext)
                cand[n_cand++] = s->ref;
        qsort(cand, n_cand, sizeof *cand, ls__cmp_u64);
    }
    size_t k = 0;
    for (size_t i = 0; i < n_cand; i++) {
        struct ls_stream *s = ls__head_by_ref(h, cand[i]);
        assert(s);
        bool ok = true;
        for (size_t j = 0; j < n_ms && ok; j++)
            ok = scry_matcher_matches_labels(&ms[j], &s->ls);
        if (ok)
            cand[k++] = cand[i];
    }
    *out = cand;
    *n = k;
}
