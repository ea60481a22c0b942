/* head_status.c — the head's cardinality statistics (tsdb/status.h), the
 * numbers of Prometheus's GET /api/v1/status/tsdb.
 *
 * Prometheus computes them from its in-memory postings (MemPostings.Stats):
 * per label name the number of values, per name=value the number of
 * series, per name the summed length of its values, and per __name__ value
 * the number of series, each cut to the `limit` largest. Our index has the
 * same shape (name → values → postings list), so one walk over it gives all
 * four; the top-k is a bounded min-heap per list, O(pairs · log limit),
 * holding pointers to the interned strings, which are copied into the
 * caller's arena only for the winners, before the map lock is released. A
 * second walk over the series under their stripe locks counts the chunks and
 * finds the time range. Nothing is allocated per series or per pair.
 *
 * Ties: Prometheus walks Go maps (random order) and keeps whichever equal
 * entry came last, so its order among equal values is unspecified. We
 * break ties by name, byte order, so an answer is reproducible. */
#include <stdlib.h>

#include "core/mem.h"
#include "tsdb/head_internal.h"
#include "tsdb/status.h"

/* A candidate: a label name or name=value pair (value != NULL), interned. */
struct ent {
    const char *name, *value;
    uint64_t count;
};

/* The k best candidates seen so far, as a min-heap: e[0] is the worst. */
struct topk {
    struct ent *e;
    size_t n, k;
};

/* Compares the names as shown: `name`, or `name=value`, byte by byte. */
static int shown_cmp(const struct ent *a, const struct ent *b)
{
    if (!a->value && !b->value)
        return strcmp(a->name, b->name);
    const char *pa[3] = { a->name, a->value ? "=" : "", a->value ? a->value : "" };
    const char *pb[3] = { b->name, b->value ? "=" : "", b->value ? b->value : "" };
    const char *x = pa[0], *y = pb[0];
    int ia = 0, ib = 0;
    for (;;) {
        while (!*x && ia < 2)
            x = pa[++ia];
        while (!*y && ib < 2)
            y = pb[++ib];
        if (!*x || !*y || *x != *y)
            return (int)(unsigned char)*x - (int)(unsigned char)*y;
        x++;
        y++;
    }
}

/* Whether a ranks below b: a smaller count, or the same and a later name. */
static bool worse(const struct ent *a, const struct ent *b)
{
    if (a->count != b->count)
        return a->count < b->count;
    return shown_cmp(a, b) > 0;
}

static void topk_init(struct topk *t, struct scry_arena *a, size_t limit, size_t candidates)
{
    t->k = limit < candidates ? limit : candidates;
    t->n = 0;
    t->e = t->k ? scry_arena_alloc(a, t->k * sizeof *t->e) : NULL;
}

static void sift_down(struct topk *t, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && worse(&t->e[l], &t->e[m]))
            m = l;
        if (r < t->n && worse(&t->e[r], &t->e[m]))
            m = r;
        if (m == i)
            return;
        struct ent x = t->e[i];
        t->e[i] = t->e[m];
        t->e[m] = x;
        i = m;
    }
}

static void topk_push(struct topk *t, const char *name, const char *value, uint64_t count)
{
    struct ent x = { name, value, count };
    if (t->n < t->k) {
        size_t i = t->n++;
        while (i > 0 && worse(&x, &t->e[(i - 1) / 2])) {
            t->e[i] = t->e[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        t->e[i] = x;
        return;
    }
    /* Candidates were counted beforehand, so k == 0 means none come. */
    assert(t->k > 0);
    if (!worse(&t->e[0], &x))
        return;
    t->e[0] = x;
    sift_down(t, 0);
}

static int best_first(const void *pa, const void *pb)
{
    const struct ent *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return shown_cmp(a, b);
}

/* Sorts the winners and copies their names out of the head into a. */
static struct tsdb_stat_list topk_take(struct topk *t, struct scry_arena *a)
{
    if (t->n > 1) /* qsort's base must not be NULL, even for 0 elements */
        qsort(t->e, t->n, sizeof *t->e, best_first);
    struct tsdb_stat *out = t->n ? scry_arena_alloc(a, t->n * sizeof *out) : NULL;
    for (size_t i = 0; i < t->n; i++) {
        const struct ent *e = &t->e[i];
        size_t ln = tsdb__intern_len(e->name);
        size_t lv = e->value ? tsdb__intern_len(e->value) : 0;
        char *z = scry_arena_alloc(a, ln + (e->value ? 1 + lv : 0) + 1), *p = z;
        memcpy(p, e->name, ln);
        p += ln;
        if (e->value) {
            *p++ = '=';
            memcpy(p, e->value, lv);
            p += lv;
        }
        *p = 0;
        out[i] = (struct tsdb_stat){ z, e->count };
    }
    assert(t->n <= t->k);
    return (struct tsdb_stat_list){ out, t->n };
}

/* The four top-k lists and the pair count; map_lock held shared. */
static void postings_stats(struct tsdb_head *h, size_t limit, struct scry_arena *a,
                           struct tsdb_status *out)
{
    const struct tsdb__index *ix = &h->index;
    const struct tsdb__lname *metric = tsdb__index_name(ix, tsdb__intern_find(&h->intern, "__name__"));
    struct topk by_metric, by_name, by_bytes, by_pair;
    topk_init(&by_metric, a, limit, metric ? metric->n : 0);
    topk_init(&by_name, a, limit, ix->names.n);
    topk_init(&by_bytes, a, limit, ix->names.n);
    topk_init(&by_pair, a, limit, ix->pairs.n);
    uint64_t pairs = 0;
    for (size_t i = 0; i < ix->names.cap; i++) {
        const struct tsdb__lname *ln = ix->names.v[i];
        if (!ln)
            continue;
        /* Empty lists are dropped by truncate, as Prometheus deletes them. */
        assert(ln->n > 0);
        uint64_t bytes = 0;
        for (uint32_t j = 0; j < ln->n; j++) {
            const struct tsdb__plist *p = ln->vals[j];
            assert(p->n > 0 && p->name == ln->name);
            if (ln == metric)
                topk_push(&by_metric, p->value, NULL, p->n);
            topk_push(&by_pair, p->name, p->value, p->n);
            bytes += tsdb__intern_len(p->value);
        }
        topk_push(&by_name, ln->name, NULL, ln->n);
        topk_push(&by_bytes, ln->name, NULL, bytes);
        pairs += ln->n;
    }
    assert(pairs == ix->pairs.n);
    out->num_label_pairs = pairs;
    out->series_by_metric = topk_take(&by_metric, a);
    out->values_by_name = topk_take(&by_name, a);
    out->value_bytes_by_name = topk_take(&by_bytes, a);
    out->series_by_pair = topk_take(&by_pair, a);
}

/* Chunks and in-order time range of every series; map_lock held shared. */
static void series_stats(struct tsdb_head *h, struct tsdb_status *out)
{
    out->min_time_ms = INT64_MAX;
    out->max_time_ms = INT64_MIN;
    for (size_t i = 0; i < h->index.n_all; i++) {
        const struct tsdb__series *s = tsdb__series_by_ref(h, h->index.all[i]);
        SCRY_ASSERT(s);
        pthread_mutex_t *mu = tsdb__stripe(h, s->ref);
        pthread_mutex_lock(mu);
        out->chunk_count += s->n_sealed + (s->open.n > 0);
        if (s->ooo)
            out->chunk_count += s->ooo->n_c + (s->ooo->n > 0);
        /* Prometheus's head range covers in-order samples only. */
        int64_t mint = s->n_sealed ? s->sealed[0]->mint
                       : s->open.n ? tsdb__ochunk_mint(&s->open) : INT64_MAX;
        int64_t maxt = s->open.n ? s->open.tlast
                       : s->n_sealed ? s->sealed[s->n_sealed - 1]->maxt : INT64_MIN;
        pthread_mutex_unlock(mu);
        out->min_time_ms = mint < out->min_time_ms ? mint : out->min_time_ms;
        out->max_time_ms = maxt > out->max_time_ms ? maxt : out->max_time_ms;
    }
}

int tsdb_head_status(struct tsdb_head *h, size_t limit, struct scry_arena *a,
                     struct tsdb_status *out)
{
    if (!h || !a || !out || limit < 1 || limit > TSDB_STATUS_MAX_LIMIT)
        return SCRY_EINVAL;
    *out = (struct tsdb_status){ 0 };
    pthread_rwlock_rdlock(&h->map_lock);
    out->num_series = h->index.n_all;
    postings_stats(h, limit, a, out);
    series_stats(h, out);
    pthread_rwlock_unlock(&h->map_lock);
    return 0;
}
