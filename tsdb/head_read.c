/* head_read.c — the head's querier (core/querier.h) and the chunk set the
 * block writer reads.
 *
 * select takes map_lock shared for as long as it turns matchers into refs,
 * sorts the series by label set and snapshots each one under its stripe
 * lock: the sealed chunks it needs are pinned by reference count, the open
 * chunk's bytes (at most a few hundred) and the series' out-of-order samples
 * in range are copied into the querier's arena, and so are the label
 * strings (truncate may free the interned ones). After that the query
 * iterates without any lock, so appends are never blocked by a slow reader
 * and a reader never sees half a sample.
 *
 * The sample iterator merges two sorted streams: the in-order chunks
 * (sealed, then open) and the out-of-order samples, which the snapshot has
 * already sorted. A series is returned only when it has a sample in
 * [mint, maxt]: the set primes each series' iterator before returning it. */
#include <stdlib.h>

#include "core/matcher.h"
#include "core/mem.h"
#include "tsdb/head_internal.h"

struct snap {
    struct scry_labels ls;
    const char **il; /* interned name, value, ...: for sorting under map_lock only */
    struct tsdb__chunk **c; /* pinned */
    uint32_t n_c;
    uint16_t open_n;
    uint32_t open_len;
    const uint8_t *open;
    struct tsdb__sample *ooo; /* sorted */
    uint32_t n_ooo;
    const struct tsdb_interval *del; /* deleted ranges overlapping the query */
    uint32_t n_del;
};

struct hiter {
    struct scry_sample_iter base;
    const struct snap *s;
    int64_t mint, maxt;
    uint32_t ci;   /* current chunk; n_c is the open chunk */
    bool in_chunk;
    struct tsdb_chunk_iter cit;
    struct tsdb__ochunk_iter oit;
    bool a_ok;     /* in-order stream has a pending sample (at, av) */
    int64_t at;
    double av;
    uint32_t oi;   /* out-of-order stream: next index */
    size_t di;     /* cursor into s->del */
    bool ok, pending, done;
    int64_t t;
    double v;
    int err;
};

struct hquerier;

struct hset {
    struct scry_series_set base;
    struct hquerier *q;
    struct snap **s; /* sorted by labels */
    size_t n, i;
    struct hiter it;
    int err;
    bool released;
    int64_t mint, maxt;
    struct hset *next;
    struct tsdb_chunk_meta *metas; /* chunk set only */
};

struct hquerier {
    struct scry_querier base;
    struct tsdb_head *h;
    int64_t mint, maxt;
    struct scry_arena *a;
    struct hset *sets;
};

/* ---- sample iterator ------------------------------------------------------------- */

static void a_advance(struct hiter *it)
{
    const struct snap *s = it->s;
    it->a_ok = false;
    while (!it->err && it->ci <= s->n_c) {
        if (it->ci < s->n_c) {
            if (!it->in_chunk) {
                tsdb_chunk_iter_init(&it->cit, s->c[it->ci]->b, s->c[it->ci]->len);
                it->in_chunk = true;
            }
            if (tsdb_chunk_iter_next(&it->cit)) {
                tsdb_chunk_iter_at(&it->cit, &it->at, &it->av);
                it->a_ok = true;
                return;
            }
            it->err = tsdb_chunk_iter_err(&it->cit);
        } else {
            if (!it->in_chunk) {
                tsdb__ochunk_iter_init(&it->oit, s->open, s->open_len, s->open_n);
                it->in_chunk = true;
            }
            if (tsdb__ochunk_iter_next(&it->oit)) {
                it->at = it->oit.t;
                it->av = tsdb__bitsf(it->oit.v);
                it->a_ok = true;
                return;
            }
            it->err = it->oit.err;
        }
        it->ci++;
        it->in_chunk = false;
    }
}

static void a_seek(struct hiter *it, int64_t t)
{
    const struct snap *s = it->s;
    if (it->a_ok && it->at >= t)
        return;
    while (it->ci < s->n_c && s->c[it->ci]->maxt < t) {
        it->ci++;
        it->in_chunk = false;
    }
    if (it->ci < s->n_c) {
        if (!it->in_chunk) {
            tsdb_chunk_iter_init(&it->cit, s->c[it->ci]->b, s->c[it->ci]->len);
            it->in_chunk = true;
        }
        if (tsdb_chunk_iter_seek(&it->cit, t)) {
            tsdb_chunk_iter_at(&it->cit, &it->at, &it->av);
            it->a_ok = true;
            return;
        }
        if ((it->err = tsdb_chunk_iter_err(&it->cit)))
            return;
        it->ci++;
        it->in_chunk = false;
    }
    do
        a_advance(it);
    while (it->a_ok && it->at < t);
}

/* Takes the smaller pending sample; equal timestamps keep the in-order one. */
static bool step(struct hiter *it)
{
    for (;;) {
        bool b_ok = it->oi < it->s->n_ooo;
        if (!it->a_ok && !b_ok)
            break;
        if (it->a_ok && (!b_ok || it->at <= it->s->ooo[it->oi].t)) {
            if (b_ok && it->s->ooo[it->oi].t == it->at)
                it->oi++;
            it->t = it->at;
            it->v = it->av;
            a_advance(it);
        } else {
            it->t = it->s->ooo[it->oi].t;
            it->v = it->s->ooo[it->oi].v;
            it->oi++;
        }
        if (it->t > it->maxt)
            break;
        if (it->t >= it->mint &&
            !(it->s->n_del && tsdb_intervals_skip(it->s->del, it->s->n_del, &it->di, it->t)))
            return it->ok = true;
    }
    it->done = true;
    return it->ok = false;
}

static bool hiter_next(struct scry_sample_iter *base)
{
    struct hiter *it = (struct hiter *)base;
    if (it->pending) {
        it->pending = false;
        return true;
    }
    if (it->done || it->err)
        return it->ok = false;
    return step(it);
}

static bool hiter_seek(struct scry_sample_iter *base, int64_t t)
{
    struct hiter *it = (struct hiter *)base;
    it->pending = false;
    if (it->ok && it->t >= t)
        return true;
    if (it->done || it->err)
        return it->ok = false;
    if (t < it->mint)
        t = it->mint;
    a_seek(it, t);
    while (it->oi < it->s->n_ooo && it->s->ooo[it->oi].t < t)
        it->oi++;
    return step(it);
}

static void hiter_at(const struct scry_sample_iter *base, int64_t *t, double *v)
{
    const struct hiter *it = (const struct hiter *)base;
    assert(it->ok);
    *t = it->t;
    *v = it->v;
}

static int hiter_err(const struct scry_sample_iter *base, struct scry_err *err)
{
    const struct hiter *it = (const struct hiter *)base;
    return it->err ? scry_err_set(err, it->err, "head chunk: corrupt") : 0;
}

static const struct scry_sample_iter_ops hiter_ops = {
    .next = hiter_next, .seek = hiter_seek, .at = hiter_at, .err = hiter_err,
};

static void hiter_init(struct hiter *it, const struct snap *s, int64_t mint, int64_t maxt)
{
    *it = (struct hiter){ .base.ops = &hiter_ops, .s = s, .mint = mint, .maxt = maxt };
    a_seek(it, mint);
}

/* ---- snapshots ---------------------------------------------------------------------- */

/* Compares the interned pointers copied next to the labels: contiguous in
 * the arena, so the sort does not walk the series structs; equal strings
 * are equal pointers, so strcmp runs once per pair, at the difference. */
static int cmp_snap(const void *pa, const void *pb)
{
    const struct snap *x = *(const struct snap *const *)pa, *y = *(const struct snap *const *)pb;
    size_t n = 2 * (x->ls.n < y->ls.n ? x->ls.n : y->ls.n);
    for (size_t i = 0; i < n; i++)
        if (x->il[i] != y->il[i])
            return strcmp(x->il[i], y->il[i]);
    return (x->ls.n > y->ls.n) - (x->ls.n < y->ls.n);
}

static int cmp_sample(const void *pa, const void *pb)
{
    const struct tsdb__sample *a = pa, *b = pb;
    return (a->t > b->t) - (a->t < b->t);
}

static void ooo_collect(struct scry_arena *a, const struct tsdb__ooo *o, int64_t mint,
                        int64_t maxt, struct snap *sn)
{
    size_t cap = o->n;
    for (uint32_t i = 0; i < o->n_c; i++)
        cap += o->c[i]->n;
    sn->ooo = scry_arena_alloc(a, (cap ? cap : 1) * sizeof *sn->ooo);
    for (uint32_t i = 0; i < o->n; i++)
        if (o->s[i].t >= mint && o->s[i].t <= maxt)
            sn->ooo[sn->n_ooo++] = o->s[i];
    for (uint32_t i = 0; i < o->n_c; i++) {
        if (o->c[i]->maxt < mint || o->c[i]->mint > maxt)
            continue;
        struct tsdb_chunk_iter it;
        tsdb_chunk_iter_init(&it, o->c[i]->b, o->c[i]->len);
        int64_t t;
        double v;
        while (tsdb_chunk_iter_next(&it)) {
            tsdb_chunk_iter_at(&it, &t, &v);
            if (t >= mint && t <= maxt)
                sn->ooo[sn->n_ooo++] = (struct tsdb__sample){ t, v };
        }
        SCRY_ASSERT(!tsdb_chunk_iter_err(&it)); /* our own bytes */
    }
}

/* Stripe lock held. Returns false when nothing of s can be in range. */
static bool snapshot(struct scry_arena *a, const struct tsdb__series *s, int64_t mint,
                     int64_t maxt, struct snap *sn)
{
    *sn = (struct snap){ 0 };
    if (s->n_sealed) {
        sn->c = scry_arena_alloc(a, s->n_sealed * sizeof *sn->c);
        for (uint32_t i = 0; i < s->n_sealed; i++) {
            struct tsdb__chunk *c = s->sealed[i];
            if (c->maxt < mint || c->mint > maxt)
                continue;
            tsdb__chunk_acquire(c);
            sn->c[sn->n_c++] = c;
        }
    }
    /* The open chunk's mint is in its bytes: read only when it decides. */
    if (s->open.n && s->open.tlast >= mint &&
        (s->open.tlast <= maxt || tsdb__ochunk_mint(&s->open) <= maxt)) {
        size_t len = tsdb__ochunk_len(&s->open);
        uint8_t *p = scry_arena_alloc(a, len);
        memcpy(p, s->open.b, len);
        sn->open = p;
        sn->open_len = (uint32_t)len;
        sn->open_n = s->open.n;
    }
    if (s->ooo)
        ooo_collect(a, s->ooo, mint, maxt, sn);
    if (s->del) {
        struct tsdb_interval *d = scry_arena_alloc(a, s->del->n * sizeof *d);
        for (uint32_t i = 0; i < s->del->n; i++)
            if (s->del->v[i].maxt >= mint && s->del->v[i].mint <= maxt)
                d[sn->n_del++] = s->del->v[i];
        sn->del = d;
    }
    return sn->n_c || sn->open_n || sn->n_ooo;
}

/* One arena allocation per series: the pairs, the interned pointers, then
 * the strings. */
static void copy_labels(struct scry_arena *a, const struct tsdb__series *s, struct snap *sn)
{
    size_t nl[2 * 64], k = 0;
    size_t len = s->n_labels * (sizeof(struct scry_label) + 2 * sizeof(char *));
    SCRY_ASSERT(s->n_labels <= 64);
    for (uint32_t i = 0; i < s->n_labels; i++) {
        nl[k] = tsdb__intern_len(s->labels[i].name) + 1;
        nl[k + 1] = tsdb__intern_len(s->labels[i].value) + 1;
        len += nl[k] + nl[k + 1];
        k += 2;
    }
    struct scry_label *v = scry_arena_alloc(a, len);
    const char **il = (const char **)(v + s->n_labels);
    char *p = (char *)(il + 2 * s->n_labels);
    k = 0;
    for (uint32_t i = 0; i < s->n_labels; i++, k += 2) {
        il[k] = s->labels[i].name;
        il[k + 1] = s->labels[i].value;
        v[i].name = memcpy(p, s->labels[i].name, nl[k]);
        p += nl[k];
        v[i].value = memcpy(p, s->labels[i].value, nl[k + 1]);
        p += nl[k + 1];
    }
    sn->ls = (struct scry_labels){ v, s->n_labels };
    sn->il = il;
}

static void set_release(struct hset *set)
{
    if (set->released)
        return;
    set->released = true;
    for (size_t i = 0; i < set->n; i++)
        for (uint32_t j = 0; j < set->s[i]->n_c; j++)
            tsdb__chunk_release(set->s[i]->c[j]);
}

/* Selects and snapshots; ms may be empty (every series). */
static int select_into(struct hquerier *q, const struct scry_matcher *ms, size_t n_ms,
                       int64_t mint, int64_t maxt, struct hset *set, struct scry_err *err)
{
    struct tsdb_head *h = q->h;
    struct scry_arena *a = q->a;
    set->mint = mint;
    set->maxt = maxt;
    if (mint > maxt)
        return 0;
    pthread_rwlock_rdlock(&h->map_lock);
    uint64_t *refs;
    size_t n;
    int rc = scry_postings_expand(tsdb__index_select(h, a, ms, n_ms), a, &refs, &n, err);
    if (rc) {
        pthread_rwlock_unlock(&h->map_lock);
        return rc;
    }
    /* Series structs are scattered over the heap: resolve refs ahead of
     * their use and prefetch, so the cache misses overlap. */
    enum { AHEAD = 8 };
    struct snap *sv = scry_arena_alloc(a, (n ? n : 1) * sizeof *sv);
    set->s = scry_arena_alloc(a, (n ? n : 1) * sizeof *set->s);
    for (size_t i = 0; i < n && i < 2 * AHEAD; i++)
        __builtin_prefetch(tsdb__series_by_ref(h, refs[i]));
    for (size_t i = 0; i < n; i++) {
        if (i + 2 * AHEAD < n)
            __builtin_prefetch(tsdb__series_by_ref(h, refs[i + 2 * AHEAD]));
        if (i + AHEAD < n) {
            const struct tsdb__series *sa = tsdb__series_by_ref(h, refs[i + AHEAD]);
            __builtin_prefetch((const char *)sa + 64);
            const uint8_t *b = __atomic_load_n(&sa->open.b, __ATOMIC_RELAXED);
            if (b)
                __builtin_prefetch(b);
        }
        struct tsdb__series *se = tsdb__series_by_ref(h, refs[i]);
        SCRY_ASSERT(se && se->ref == refs[i]);
        struct snap *sn = &sv[set->n];
        pthread_mutex_t *mu = tsdb__stripe(h, se->ref);
        pthread_mutex_lock(mu);
        bool any = snapshot(a, se, mint, maxt, sn);
        pthread_mutex_unlock(mu);
        if (!any)
            continue;
        copy_labels(a, se, sn);
        set->s[set->n++] = sn;
    }
    qsort(set->s, set->n, sizeof *set->s, cmp_snap); /* under map_lock: series alive */
    pthread_rwlock_unlock(&h->map_lock);
    for (size_t i = 0; i < set->n; i++) {
        set->s[i]->il = NULL;
        if (set->s[i]->n_ooo > 1)
            qsort(set->s[i]->ooo, set->s[i]->n_ooo, sizeof *set->s[i]->ooo, cmp_sample);
    }
    return 0;
}

/* ---- series set -------------------------------------------------------------------- */

static bool hset_next(struct scry_series_set *base)
{
    struct hset *set = (struct hset *)base;
    while (!set->err && set->i < set->n) {
        const struct snap *s = set->s[set->i++];
        hiter_init(&set->it, s, set->mint, set->maxt);
        if (step(&set->it)) {
            set->it.pending = true;
            return true;
        }
        set->err = set->it.err;
    }
    return false;
}

static const struct scry_labels *hset_labels(const struct scry_series_set *base)
{
    const struct hset *set = (const struct hset *)base;
    assert(set->i >= 1);
    return &set->s[set->i - 1]->ls;
}

static struct scry_sample_iter *hset_samples(struct scry_series_set *base)
{
    return &((struct hset *)base)->it.base;
}

static int hset_err(const struct scry_series_set *base, struct scry_err *err)
{
    const struct hset *set = (const struct hset *)base;
    return set->err ? scry_err_set(err, set->err, "head chunk: corrupt") : 0;
}

static void hset_close(struct scry_series_set *base)
{
    set_release((struct hset *)base);
}

static const struct scry_series_set_ops hset_ops = {
    .next = hset_next, .labels = hset_labels, .samples = hset_samples, .err = hset_err,
    .close = hset_close,
};

static struct hset *hset_new(struct hquerier *q)
{
    struct hset *set = scry_arena_calloc(q->a, 1, sizeof *set);
    set->base.ops = &hset_ops;
    set->q = q;
    set->next = q->sets;
    q->sets = set;
    return set;
}

/* ---- querier ----------------------------------------------------------------------- */

static int q_select_series(struct scry_querier *base, const struct scry_matcher *ms, size_t n_ms,
                           const struct scry_select_hints *hints, struct scry_series_set **out,
                           struct scry_err *err)
{
    struct hquerier *q = (struct hquerier *)base;
    int64_t mint = q->mint, maxt = q->maxt;
    if (hints) {
        mint = hints->mint > mint ? hints->mint : mint;
        maxt = hints->maxt < maxt ? hints->maxt : maxt;
    }
    struct hset *set = hset_new(q);
    int rc = select_into(q, ms, n_ms, mint, maxt, set, err);
    if (rc)
        return scry_err_prefix(err, "head select");
    *out = &set->base;
    return 0;
}

static int cmp_str(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* Sorts, removes duplicates, copies into a. */
static void strings_out(struct scry_arena *a, const char **v, size_t n, const char ***out,
                        size_t *n_out)
{
    qsort(v, n, sizeof *v, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
            v[k++] = v[i];
    for (size_t i = 0; i < k; i++)
        v[i] = scry_arena_strdup(a, v[i]);
    *out = v;
    *n_out = k;
}

/* Series refs for ms under map_lock (held by the caller). */
static int refs_for(struct tsdb_head *h, struct scry_arena *a, const struct scry_matcher *ms,
                    size_t n_ms, uint64_t **refs, size_t *n, struct scry_err *err)
{
    return scry_postings_expand(tsdb__index_select(h, a, ms, n_ms), a, refs, n, err);
}

static int q_label_names(struct scry_querier *base, const struct scry_matcher *ms, size_t n_ms,
                         int64_t mint, int64_t maxt, struct scry_arena *a, const char ***out,
                         size_t *n_out, struct scry_err *err)
{
    struct hquerier *q = (struct hquerier *)base;
    struct tsdb_head *h = q->h;
    int rc = 0;
    const char **v = NULL;
    size_t n = 0;
    pthread_rwlock_rdlock(&h->map_lock);
    if (!n_ms) {
        v = scry_arena_alloc(a, (h->index.names.n + 1) * sizeof *v);
        for (size_t i = 0; i < h->index.names.cap; i++) {
            const struct tsdb__lname *ln = h->index.names.v[i];
            for (uint32_t j = 0; ln && j < ln->n; j++)
                if (tsdb__plist_in_range(h, ln->vals[j], mint, maxt)) {
                    v[n++] = ln->name;
                    break;
                }
        }
    } else {
        uint64_t *refs;
        size_t nr;
        if (!(rc = refs_for(h, q->a, ms, n_ms, &refs, &nr, err))) {
            size_t cap = 16;
            v = scry_arena_alloc(a, cap * sizeof *v);
            for (size_t i = 0; i < nr; i++) {
                const struct tsdb__series *s = tsdb__series_by_ref(h, refs[i]);
                if (!tsdb__series_overlaps(h, s, mint, maxt))
                    continue;
                for (uint32_t j = 0; j < s->n_labels; j++) {
                    if (n == cap) {
                        const char **nv = scry_arena_alloc(a, 2 * cap * sizeof *nv);
                        memcpy(nv, v, n * sizeof *v);
                        v = nv;
                        cap *= 2;
                    }
                    v[n++] = s->labels[j].name;
                }
            }
        }
    }
    if (!rc)
        strings_out(a, v, n, out, n_out); /* copies while the strings are pinned */
    pthread_rwlock_unlock(&h->map_lock);
    return rc;
}

static int q_label_values(struct scry_querier *base, const char *name,
                          const struct scry_matcher *ms, size_t n_ms, int64_t mint, int64_t maxt,
                          struct scry_arena *a, const char ***out, size_t *n_out,
                          struct scry_err *err)
{
    struct hquerier *q = (struct hquerier *)base;
    struct tsdb_head *h = q->h;
    int rc = 0;
    const char **v = NULL;
    size_t n = 0;
    pthread_rwlock_rdlock(&h->map_lock);
    const char *in = tsdb__intern_find(&h->intern, name);
    const struct tsdb__lname *ln = tsdb__index_name(&h->index, in);
    if (!ln) {
        v = scry_arena_alloc(a, sizeof *v);
    } else if (!n_ms) {
        v = scry_arena_alloc(a, ln->n * sizeof *v);
        for (uint32_t i = 0; i < ln->n; i++)
            if (tsdb__plist_in_range(h, ln->vals[i], mint, maxt))
                v[n++] = ln->vals[i]->value;
    } else {
        uint64_t *refs;
        size_t nr;
        if (!(rc = refs_for(h, q->a, ms, n_ms, &refs, &nr, err))) {
            v = scry_arena_alloc(a, (nr ? nr : 1) * sizeof *v);
            for (size_t i = 0; i < nr; i++) {
                const struct tsdb__series *s = tsdb__series_by_ref(h, refs[i]);
                if (!tsdb__series_overlaps(h, s, mint, maxt))
                    continue;
                for (uint32_t j = 0; j < s->n_labels; j++)
                    if (s->labels[j].name == in)
                        v[n++] = s->labels[j].value;
            }
        }
    }
    if (!rc)
        strings_out(a, v, n, out, n_out);
    pthread_rwlock_unlock(&h->map_lock);
    return rc;
}

static void q_close(struct scry_querier *base)
{
    struct hquerier *q = (struct hquerier *)base;
    for (struct hset *s = q->sets; s; s = s->next)
        set_release(s);
    scry_arena_destroy(q->a);
    free(q);
}

static const struct scry_querier_ops hquerier_ops = {
    .select_series = q_select_series,
    .select_streams = NULL,
    .label_names = q_label_names,
    .label_values = q_label_values,
    .close = q_close,
};

int tsdb_head_querier(struct tsdb_head *h, int64_t mint, int64_t maxt, struct scry_querier **out,
                      struct scry_err *err)
{
    struct hquerier *q = scry_calloc(1, sizeof *q);
    q->base.ops = &hquerier_ops;
    q->h = h;
    q->mint = mint;
    q->maxt = maxt;
    q->a = scry_arena_create(0);
    *out = &q->base;
    return 0;
}

int tsdb__head_querier(struct scry_queryable *store, const char *tenant, int64_t mint,
                       int64_t maxt, struct scry_querier **out, struct scry_err *err)
{
    struct tsdb_head *h = (struct tsdb_head *)((char *)store - offsetof(struct tsdb_head, queryable));
    return tsdb_head_querier(h, mint, maxt, out, err);
}

/* ---- chunk set (block writer) ---------------------------------------------------------- */

struct tsdb_head_chunk_set {
    struct hquerier *q;
    struct hset *set;
};

int tsdb_head_chunk_set_open(struct tsdb_head *h, int64_t mint, int64_t maxt,
                             struct tsdb_head_chunk_set **out, struct scry_err *err)
{
    struct scry_querier *qb;
    tsdb_head_querier(h, mint, maxt, &qb, err);
    struct hquerier *q = (struct hquerier *)qb;
    struct tsdb_head_chunk_set *cs = scry_arena_calloc(q->a, 1, sizeof *cs);
    cs->q = q;
    cs->set = hset_new(q);
    int rc = select_into(q, NULL, 0, mint, maxt, cs->set, err);
    if (rc) {
        q_close(qb);
        return scry_err_prefix(err, "head chunk set");
    }
    *out = cs;
    return 0;
}

bool tsdb_head_chunk_set_next(struct tsdb_head_chunk_set *cs)
{
    return hset_next(&cs->set->base);
}

const struct scry_labels *tsdb_head_chunk_set_labels(const struct tsdb_head_chunk_set *cs)
{
    return hset_labels(&cs->set->base);
}

const struct tsdb_chunk_meta *tsdb_head_chunk_set_chunks(const struct tsdb_head_chunk_set *cs,
                                                              size_t *n, bool *complete)
{
    const struct hset *set = cs->set;
    const struct snap *s = set->s[set->i - 1];
    struct tsdb_chunk_meta *m = scry_arena_alloc(cs->q->a, (s->n_c + 1) * sizeof *m);
    /* Deleted samples are not written: re-encode a series with deletions. */
    bool all_in = !s->open_n && !s->n_ooo && !s->n_del;
    for (uint32_t i = 0; i < s->n_c; i++) {
        const struct tsdb__chunk *c = s->c[i];
        m[i] = (struct tsdb_chunk_meta){ .mint_ms = c->mint, .maxt_ms = c->maxt, .n_samples = c->n,
                                        .p = c->b, .len = (uint32_t)c->len };
        all_in = all_in && c->mint >= set->mint && c->maxt <= set->maxt;
    }
    *n = s->n_c;
    if (complete)
        *complete = all_in;
    return m;
}

struct scry_sample_iter *tsdb_head_chunk_set_samples(struct tsdb_head_chunk_set *cs)
{
    return hset_samples(&cs->set->base);
}

void tsdb_head_chunk_set_close(struct tsdb_head_chunk_set *cs)
{
    if (cs)
        q_close(&cs->q->base);
}
