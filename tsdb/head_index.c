/* head_index.c — the head's inverted index: name=value → sorted refs.
 *
 * Lists are appended to in ref order as series are created (refs only
 * grow), so insertion never sorts; replay of a checkpoint written out of
 * order falls back to an insertion. Names and values are interned, so the
 * maps are keyed by string pointers. Each name keeps its values' lists in an
 * array, which label_values and regex matchers walk.
 *
 * Matchers become postings the way Prometheus's PostingsForMatchers does
 * it: a matcher that does not match the empty string selects the union of
 * its name's matching values; one that does (foo="", foo!="x", foo=~"x|")
 * also selects series without the label, so it subtracts the union of the
 * values it does NOT match from the rest. With no matcher of the first kind
 * the start is every series. Callers hold map_lock shared. */
#include <stdlib.h>

#include "core/matcher.h"
#include "core/mem.h"
#include "tsdb/head_internal.h"

static uint64_t name_key(const char *n) { return (uint64_t)(uintptr_t)n; }
static uint64_t pair_key(const char *n, const char *v)
{
    return (uint64_t)(uintptr_t)n * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)v;
}

struct tsdb__lname *tsdb__index_name(const struct tsdb__index *ix, const char *iname)
{
    size_t pos = SIZE_MAX;
    return iname ? tsdb__hmap_next(&ix->names, name_key(iname), &pos) : NULL;
}

static struct tsdb__plist *pair_find(const struct tsdb__index *ix, const char *in, const char *iv)
{
    size_t pos = SIZE_MAX;
    struct tsdb__plist *p;
    while ((p = tsdb__hmap_next(&ix->pairs, pair_key(in, iv), &pos)))
        if (p->name == in && p->value == iv)
            return p;
    return NULL;
}

static void refs_add(uint64_t **refs, uint32_t *n, uint32_t *cap, uint64_t ref)
{
    if (*n == *cap) {
        /* Grow by half: lists are many and most stay short. */
        *cap = *cap < 4 ? 4 : *cap + *cap / 2;
        *refs = scry_realloc(*refs, *cap * sizeof **refs);
    }
    uint32_t i = *n;
    while (i > 0 && (*refs)[i - 1] > ref) /* only out-of-order replay moves */
        i--;
    assert(i == 0 || (*refs)[i - 1] != ref);
    memmove(*refs + i + 1, *refs + i, (*n - i) * sizeof **refs);
    (*refs)[i] = ref;
    (*n)++;
}

void tsdb__index_add(struct tsdb__index *ix, const struct tsdb__series *s)
{
    if (ix->n_all == ix->cap_all) {
        ix->cap_all = ix->cap_all ? ix->cap_all * 2 : 1024;
        ix->all = scry_realloc(ix->all, ix->cap_all * sizeof *ix->all);
    }
    size_t i = ix->n_all;
    while (i > 0 && ix->all[i - 1] > s->ref)
        i--;
    memmove(ix->all + i + 1, ix->all + i, (ix->n_all - i) * sizeof *ix->all);
    ix->all[i] = s->ref;
    ix->n_all++;
    for (uint32_t j = 0; j < s->n_labels; j++) {
        const char *n = s->labels[j].name, *v = s->labels[j].value;
        struct tsdb__plist *p = pair_find(ix, n, v);
        if (!p) {
            struct tsdb__lname *ln = tsdb__index_name(ix, n);
            if (!ln) {
                ln = scry_calloc(1, sizeof *ln);
                ln->name = n;
                tsdb__hmap_put(&ix->names, name_key(n), ln);
            }
            p = scry_calloc(1, sizeof *p);
            p->name = n;
            p->value = v;
            if (ln->n == ln->cap) {
                ln->cap = ln->cap ? ln->cap * 2 : 4;
                ln->vals = scry_realloc(ln->vals, ln->cap * sizeof *ln->vals);
            }
            p->idx = ln->n;
            ln->vals[ln->n++] = p;
            tsdb__hmap_put(&ix->pairs, pair_key(n, v), p);
        }
        refs_add(&p->refs, &p->n, &p->cap, s->ref);
    }
}

static bool is_dead(const uint64_t *dead, size_t n, uint64_t ref)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (dead[mid] < ref)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && dead[lo] == ref;
}

static void plist_drop(struct tsdb__index *ix, struct tsdb__plist *p)
{
    struct tsdb__lname *ln = tsdb__index_name(ix, p->name);
    SCRY_ASSERT(ln && ln->vals[p->idx] == p);
    ln->vals[p->idx] = ln->vals[--ln->n];
    ln->vals[p->idx]->idx = p->idx;
    bool found = tsdb__hmap_del(&ix->pairs, pair_key(p->name, p->value), p);
    SCRY_ASSERT(found);
    if (!ln->n) {
        found = tsdb__hmap_del(&ix->names, name_key(ln->name), ln);
        SCRY_ASSERT(found);
        free(ln->vals);
        free(ln);
    }
    free(p->refs);
    free(p);
}

void tsdb__index_remove(struct tsdb__index *ix, struct tsdb__series *const *dead,
                        const uint64_t *dead_refs, size_t n_dead)
{
    if (!n_dead)
        return;
    size_t k = 0;
    for (size_t i = 0; i < ix->n_all; i++)
        if (!is_dead(dead_refs, n_dead, ix->all[i]))
            ix->all[k++] = ix->all[i];
    ix->n_all = k;
    /* Only the lists that hold a dead ref are filtered, each once. */
    struct tsdb__plist **dirty = NULL;
    size_t n_dirty = 0, cap = 0;
    for (size_t i = 0; i < n_dead; i++) {
        for (uint32_t j = 0; j < dead[i]->n_labels; j++) {
            struct tsdb__plist *p = pair_find(ix, dead[i]->labels[j].name, dead[i]->labels[j].value);
            SCRY_ASSERT(p);
            if (p->dirty)
                continue;
            p->dirty = true;
            if (n_dirty == cap) {
                cap = cap ? cap * 2 : 64;
                dirty = scry_realloc(dirty, cap * sizeof *dirty);
            }
            dirty[n_dirty++] = p;
        }
    }
    for (size_t i = 0; i < n_dirty; i++) {
        struct tsdb__plist *p = dirty[i];
        uint32_t m = 0;
        for (uint32_t j = 0; j < p->n; j++)
            if (!is_dead(dead_refs, n_dead, p->refs[j]))
                p->refs[m++] = p->refs[j];
        p->n = m;
        p->dirty = false;
        if (!m)
            plist_drop(ix, p);
    }
    free(dirty);
}

void tsdb__index_fini(struct tsdb__index *ix)
{
    for (size_t i = 0; i < ix->names.cap; i++) {
        struct tsdb__lname *ln = ix->names.v[i];
        if (!ln)
            continue;
        for (uint32_t j = 0; j < ln->n; j++) {
            free(ln->vals[j]->refs);
            free(ln->vals[j]);
        }
        free(ln->vals);
        free(ln);
    }
    tsdb__hmap_fini(&ix->names);
    tsdb__hmap_fini(&ix->pairs);
    free(ix->all);
    *ix = (struct tsdb__index){ 0 };
}

/* ---- matchers → postings ---------------------------------------------------- */

static struct scry_postings_iter *plist_it(struct scry_arena *a, const struct tsdb__plist *p)
{
    return p ? scry_postings_list(a, p->refs, p->n) : scry_postings_empty(a);
}

/* The union of the name's lists whose value matches (want true) or not. */
static struct scry_postings_iter *values_union(struct scry_arena *a, const struct tsdb__lname *ln,
                                               const struct scry_matcher *m, bool want)
{
    if (!ln)
        return scry_postings_empty(a);
    struct scry_postings_iter **its = scry_arena_alloc(a, (ln->n ? ln->n : 1) * sizeof *its);
    size_t k = 0;
    for (uint32_t i = 0; i < ln->n; i++) {
        const char *v = ln->vals[i]->value;
        if (scry_matcher_matches(m, v, strlen(v)) == want)
            its[k++] = plist_it(a, ln->vals[i]);
    }
    return scry_postings_merge(a, its, k);
}

struct scry_postings_iter *tsdb__index_select(struct tsdb_head *h, struct scry_arena *a,
                                              const struct scry_matcher *ms, size_t n_ms)
{
    struct tsdb__index *ix = &h->index;
    struct scry_postings_iter **pos = scry_arena_alloc(a, (n_ms + 1) * sizeof *pos);
    struct scry_postings_iter **neg = scry_arena_alloc(a, (n_ms + 1) * sizeof *neg);
    size_t n_pos = 0, n_neg = 0;
    for (size_t i = 0; i < n_ms; i++) {
        const struct scry_matcher *m = &ms[i];
        const char *in = tsdb__intern_find(&h->intern, m->name);
        const struct tsdb__lname *ln = tsdb__index_name(ix, in);
        bool matches_empty = scry_matcher_matches(m, "", 0);
        if (!matches_empty) {
            if (m->type == SCRY_MATCH_EQ) {
                const char *iv = in ? tsdb__intern_find(&h->intern, m->value) : NULL;
                pos[n_pos++] = plist_it(a, iv ? pair_find(ix, in, iv) : NULL);
            } else {
                pos[n_pos++] = values_union(a, ln, m, true);
            }
        } else if (m->type == SCRY_MATCH_NEQ) {
            const char *iv = in ? tsdb__intern_find(&h->intern, m->value) : NULL;
            if (iv)
                neg[n_neg++] = plist_it(a, pair_find(ix, in, iv));
        } else {
            neg[n_neg++] = values_union(a, ln, m, false);
        }
    }
    if (!n_pos)
        pos[n_pos++] = scry_postings_list(a, ix->all, ix->n_all);
    struct scry_postings_iter *it = scry_postings_intersect(a, pos, n_pos);
    if (n_neg)
        it = scry_postings_without(a, it, scry_postings_merge(a, neg, n_neg));
    return it;
}

/* ---- label names and values over a time range ---------------------------
 *
 * Prometheus and Grafana send start/end to the label APIs; a head series
 * contributes only when its samples reach into [mint, maxt], judged by the
 * series' oldest and newest sample in the head (out-of-order data
 * included; deleted samples still count, as the index does not see
 * deletions). Without matchers the walk stops at the first series of each
 * value that qualifies, so a range covering the head costs one check per
 * value. */

bool tsdb__series_overlaps(struct tsdb_head *h, const struct tsdb__series *s, int64_t mint,
                           int64_t maxt)
{
    pthread_mutex_t *mu = tsdb__stripe(h, s->ref);
    pthread_mutex_lock(mu);
    int64_t lo = INT64_MAX;
    int64_t hi = atomic_load_explicit(&s->maxt, memory_order_relaxed);
    if (s->n_sealed)
        lo = s->sealed[0]->mint;
    else if (s->open.n)
        lo = tsdb__ochunk_mint(&s->open);
    if (s->ooo) {
        for (uint32_t i = 0; i < s->ooo->n_c; i++)
            lo = s->ooo->c[i]->mint < lo ? s->ooo->c[i]->mint : lo;
        if (s->ooo->n)
            lo = s->ooo->s[0].t < lo ? s->ooo->s[0].t : lo;
    }
    pthread_mutex_unlock(mu);
    return lo <= hi && lo <= maxt && hi >= mint;
}

bool tsdb__plist_in_range(struct tsdb_head *h, const struct tsdb__plist *p, int64_t mint,
                          int64_t maxt)
{
    for (uint32_t i = 0; i < p->n; i++) {
        const struct tsdb__series *s = tsdb__series_by_ref(h, p->refs[i]);
        if (s && !s->dead && tsdb__series_overlaps(h, s, mint, maxt))
            return true;
    }
    return false;
}
