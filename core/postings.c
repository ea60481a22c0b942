/* postings.c — lazy postings algebra over sorted u64 refs (postings.h).
 *
 * Why iterators and not arrays: a selector such as {__name__="x", job="y"}
 * intersects a 10k-entry list with a 1M-entry one; seeking the long list by
 * galloping costs O(10k · log(1M/10k)), while materialising either side
 * would touch all of it. Merge uses a binary heap so a regex matching
 * thousands of values stays O(total · log values). Everything is allocated
 * from the caller's arena when the iterator is built, nothing afterwards. */
#include <assert.h>
#include <string.h>

#include "core/mem.h"
#include "core/postings.h"

/* ---- list ---------------------------------------------------------------- */

struct list_it {
    struct scry_postings_iter base;
    const uint64_t *refs;
    size_t n, i; /* i: index of the current ref + 1 (0 before the first next) */
};

static bool list_next(struct scry_postings_iter *it)
{
    struct list_it *l = (struct list_it *)it;
    if (l->i >= l->n) {
        l->i = l->n + 1;
        return false;
    }
    l->i++;
    return true;
}

static bool list_seek(struct scry_postings_iter *it, uint64_t ref)
{
    struct list_it *l = (struct list_it *)it;
    size_t lo = l->i ? l->i - 1 : 0;
    if (lo >= l->n) {
        l->i = l->n + 1;
        return false;
    }
    if (l->refs[lo] >= ref) {
        l->i = lo + 1;
        return true;
    }
    /* Gallop to bracket ref, then binary search inside the bracket. */
    size_t step = 1, hi = lo + 1;
    while (hi < l->n && l->refs[hi] < ref) {
        lo = hi;
        step <<= 1;
        hi = lo + step;
    }
    if (hi > l->n)
        hi = l->n;
    while (lo + 1 < hi) { /* invariant: refs[lo] < ref, refs[hi] >= ref or hi == n */
        size_t mid = lo + (hi - lo) / 2;
        if (l->refs[mid] < ref)
            lo = mid;
        else
            hi = mid;
    }
    if (hi >= l->n) {
        l->i = l->n + 1;
        return false;
    }
    l->i = hi + 1;
    return true;
}

static uint64_t list_at(const struct scry_postings_iter *it)
{
    const struct list_it *l = (const struct list_it *)it;
    assert(l->i >= 1 && l->i <= l->n);
    return l->refs[l->i - 1];
}

static int no_err(const struct scry_postings_iter *it) { return 0; }

static const struct scry_postings_ops list_ops = {
    .next = list_next, .seek = list_seek, .at = list_at, .err = no_err,
};

struct scry_postings_iter *scry_postings_list(struct scry_arena *a, const uint64_t *refs, size_t n)
{
    struct list_it *l = scry_arena_alloc(a, sizeof *l);
    *l = (struct list_it){ .base.ops = &list_ops, .refs = refs, .n = n };
    return &l->base;
}

struct scry_postings_iter *scry_postings_empty(struct scry_arena *a)
{
    return scry_postings_list(a, NULL, 0);
}

/* ---- intersect ----------------------------------------------------------- */

struct isect_it {
    struct scry_postings_iter base;
    struct scry_postings_iter **its;
    size_t n;
    uint64_t cur;
    int err;
};

/* Moves every child to the first common ref >= target. */
static bool isect_align(struct isect_it *x, uint64_t target)
{
    for (;;) {
        bool moved = false;
        for (size_t i = 0; i < x->n; i++) {
            if (!scry_postings_seek(x->its[i], target)) {
                x->err = scry_postings_err(x->its[i]);
                return false;
            }
            uint64_t r = scry_postings_at(x->its[i]);
            if (r > target) {
                target = r;
                moved = true;
            }
        }
        if (!moved) {
            x->cur = target;
            return true;
        }
    }
}

static bool isect_next(struct scry_postings_iter *it)
{
    struct isect_it *x = (struct isect_it *)it;
    if (x->n == 0 || !scry_postings_next(x->its[0])) {
        if (x->n)
            x->err = scry_postings_err(x->its[0]);
        return false;
    }
    return isect_align(x, scry_postings_at(x->its[0]));
}

static bool isect_seek(struct scry_postings_iter *it, uint64_t ref)
{
    struct isect_it *x = (struct isect_it *)it;
    if (x->n == 0)
        return false;
    return isect_align(x, ref);
}

static uint64_t isect_at(const struct scry_postings_iter *it)
{
    return ((const struct isect_it *)it)->cur;
}

static int isect_err(const struct scry_postings_iter *it)
{
    return ((const struct isect_it *)it)->err;
}

static const struct scry_postings_ops isect_ops = {
    .next = isect_next, .seek = isect_seek, .at = isect_at, .err = isect_err,
};

struct scry_postings_iter *scry_postings_intersect(struct scry_arena *a,
                                                   struct scry_postings_iter **its, size_t n)
{
    if (n == 1)
        return its[0];
    struct isect_it *x = scry_arena_alloc(a, sizeof *x);
    *x = (struct isect_it){ .base.ops = &isect_ops, .n = n };
    x->its = scry_arena_alloc(a, (n ? n : 1) * sizeof *x->its);
    if (n)
        memcpy(x->its, its, n * sizeof *its);
    return &x->base;
}

/* ---- merge (union) ------------------------------------------------------- */

struct merge_it {
    struct scry_postings_iter base;
    struct scry_postings_iter **heap; /* min-heap by at(); only live children */
    size_t n;
    bool started;
    uint64_t cur;
    int err;
};

static void heap_down(struct merge_it *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->n && scry_postings_at(m->heap[l]) < scry_postings_at(m->heap[s]))
            s = l;
        if (r < m->n && scry_postings_at(m->heap[r]) < scry_postings_at(m->heap[s]))
            s = r;
        if (s == i)
            return;
        struct scry_postings_iter *t = m->heap[i];
        m->heap[i] = m->heap[s];
        m->heap[s] = t;
        i = s;
    }
}

static void heap_pop(struct merge_it *m)
{
    if (!m->err)
        m->err = scry_postings_err(m->heap[0]);
    m->heap[0] = m->heap[--m->n];
    heap_down(m, 0);
}

/* Every child positioned with at() >= ref, or dropped; then heapify. */
static bool merge_start(struct merge_it *m, uint64_t ref, bool use_seek)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) {
        bool ok = use_seek ? scry_postings_seek(m->heap[i], ref) : scry_postings_next(m->heap[i]);
        if (ok)
            m->heap[k++] = m->heap[i];
        else if (!m->err)
            m->err = scry_postings_err(m->heap[i]);
    }
    m->n = k;
    for (size_t i = m->n / 2; i-- > 0;)
        heap_down(m, i);
    m->started = true;
    if (!m->n || m->err)
        return false;
    m->cur = scry_postings_at(m->heap[0]);
    return true;
}

static bool merge_next(struct scry_postings_iter *it)
{
    struct merge_it *m = (struct merge_it *)it;
    if (!m->started)
        return merge_start(m, 0, false);
    /* Advance every child sitting on cur. */
    while (m->n && scry_postings_at(m->heap[0]) == m->cur) {
        if (scry_postings_next(m->heap[0]))
            heap_down(m, 0);
        else
            heap_pop(m);
    }
    if (!m->n || m->err)
        return false;
    m->cur = scry_postings_at(m->heap[0]);
    return true;
}

static bool merge_seek(struct scry_postings_iter *it, uint64_t ref)
{
    struct merge_it *m = (struct merge_it *)it;
    if (!m->started)
        return merge_start(m, ref, true);
    if (m->n && m->cur >= ref)
        return true;
    while (m->n && scry_postings_at(m->heap[0]) < ref) {
        if (scry_postings_seek(m->heap[0], ref))
            heap_down(m, 0);
        else
            heap_pop(m);
    }
    if (!m->n || m->err)
        return false;
    m->cur = scry_postings_at(m->heap[0]);
    return true;
}

static uint64_t merge_at(const struct scry_postings_iter *it)
{
    return ((const struct merge_it *)it)->cur;
}

static int merge_err(const struct scry_postings_iter *it)
{
    return ((const struct merge_it *)it)->err;
}

static const struct scry_postings_ops merge_ops = {
    .next = merge_next, .seek = merge_seek, .at = merge_at, .err = merge_err,
};

struct scry_postings_iter *scry_postings_merge(struct scry_arena *a,
                                               struct scry_postings_iter **its, size_t n)
{
    if (n == 0)
        return scry_postings_empty(a);
    if (n == 1)
        return its[0];
    struct merge_it *m = scry_arena_alloc(a, sizeof *m);
    *m = (struct merge_it){ .base.ops = &merge_ops, .n = n };
    m->heap = scry_arena_alloc(a, n * sizeof *m->heap);
    memcpy(m->heap, its, n * sizeof *its);
    return &m->base;
}

/* ---- without (subtract) -------------------------------------------------- */

struct without_it {
    struct scry_postings_iter base;
    struct scry_postings_iter *full, *drop;
    bool drop_done;
    int err;
};

/* full is on a candidate: skip forward while drop holds it. */
static bool without_settle(struct without_it *w, bool ok)
{
    while (ok) {
        uint64_t r = scry_postings_at(w->full);
        if (w->drop_done)
            return true;
        if (!scry_postings_seek(w->drop, r)) {
            w->drop_done = true;
            if ((w->err = scry_postings_err(w->drop)))
                return false;
            return true;
        }
        if (scry_postings_at(w->drop) != r)
            return true;
        ok = scry_postings_next(w->full);
    }
    if (!w->err)
        w->err = scry_postings_err(w->full);
    return false;
}

static bool without_next(struct scry_postings_iter *it)
{
    struct without_it *w = (struct without_it *)it;
    return without_settle(w, scry_postings_next(w->full));
}

static bool without_seek(struct scry_postings_iter *it, uint64_t ref)
{
    struct without_it *w = (struct without_it *)it;
    return without_settle(w, scry_postings_seek(w->full, ref));
}

static uint64_t without_at(const struct scry_postings_iter *it)
{
    return scry_postings_at(((const struct without_it *)it)->full);
}

static int without_err(const struct scry_postings_iter *it)
{
    return ((const struct without_it *)it)->err;
}

static const struct scry_postings_ops without_ops = {
    .next = without_next, .seek = without_seek, .at = without_at, .err = without_err,
};

struct scry_postings_iter *scry_postings_without(struct scry_arena *a,
                                                 struct scry_postings_iter *full,
                                                 struct scry_postings_iter *drop)
{
    struct without_it *w = scry_arena_alloc(a, sizeof *w);
    *w = (struct without_it){ .base.ops = &without_ops, .full = full, .drop = drop };
    return &w->base;
}

/* ---- expand -------------------------------------------------------------- */

int scry_postings_expand(struct scry_postings_iter *it, struct scry_arena *a, uint64_t **out,
                         size_t *n, struct scry_err *err)
{
    size_t cap = 64, k = 0;
    uint64_t *v = scry_arena_alloc(a, cap * sizeof *v);
    while (scry_postings_next(it)) {
        if (k == cap) { /* arena: the old array is abandoned, total stays < 2x */
            uint64_t *nv = scry_arena_alloc(a, 2 * cap * sizeof *nv);
            memcpy(nv, v, k * sizeof *v);
            v = nv;
            cap *= 2;
        }
        uint64_t r = scry_postings_at(it);
        assert(k == 0 || r > v[k - 1]);
        v[k++] = r;
    }
    int rc = scry_postings_err(it);
    if (rc)
        return scry_err_set(err, rc, "postings: iteration failed");
    *out = v;
    *n = k;
    return 0;
}
