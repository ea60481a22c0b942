/* querier_merge.c — merging the answers of several queriers (see
 * querier_merge.h for the semantics).
 *
 * The number of parts is small (the head plus the blocks that overlap the
 * query range: after compaction, about ten for a 15-day retention), so the
 * merge scans the parts linearly instead of keeping a heap: fewer branches
 * and no bookkeeping for the common case of a single part holding the
 * series. A series found in exactly one part hands out that part's own
 * sample iterator, so the merge costs nothing per sample then; a series in
 * several parts (every series of a running server once older data is in a
 * block) is read in runs through next_batch, which costs little per sample
 * unless parts interleave sample by sample. */
#include "tsdb/querier_merge.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* ---- samples ------------------------------------------------------------ */

/* Each part keeps its current sample (t, v) and, after it, the samples it
 * read ahead (buf[pos..len)): next_batch reads a part in runs and keeps
 * what it read past the run's end. next, seek and next_batch all move a
 * part through part_next and part_seek, which take the read-ahead first. */

static void iter_pick(struct tsdb_merge_iter *it)
{
    size_t best = it->n;
    for (size_t i = 0; i < it->n; i++)
        if (it->parts[i].have && (best == it->n || it->parts[i].t < it->parts[best].t))
            best = i;
    it->cur = best;
    it->state = best == it->n ? 2 : 1;
}

static void part_load(struct tsdb_merge_part *p, bool ok)
{
    p->have = ok;
    if (ok)
        p->it->ops->at(p->it, &p->t, &p->v);
    else
        p->done = true;
}

static void part_next(struct tsdb_merge_part *p)
{
    if (p->pos < p->len) {
        p->t = p->buf_t[p->pos];
        p->v = p->buf_v[p->pos++];
    } else if (p->done) {
        p->have = false;
    } else {
        part_load(p, p->it->ops->next(p->it));
    }
}

static void part_seek(struct tsdb_merge_part *p, int64_t t_ms)
{
    while (p->pos < p->len && p->buf_t[p->pos] < t_ms)
        p->pos++;
    if (p->pos < p->len)
        part_next(p);
    else if (p->done)
        p->have = false;
    else /* the part's own position is the last sample read ahead, < t_ms */
        part_load(p, p->it->ops->seek(p->it, t_ms));
}

static bool iter_next(struct scry_sample_iter *base)
{
    struct tsdb_merge_iter *it = (struct tsdb_merge_iter *)base;
    if (it->state == 2)
        return false;
    if (it->state == 0) {
        for (size_t i = 0; i < it->n; i++)
            part_next(&it->parts[i]);
    } else {
        /* Advance every part positioned at the current timestamp: that is
         * the deduplication of equal timestamps. */
        int64_t t = it->parts[it->cur].t;
        for (size_t i = 0; i < it->n; i++)
            if (it->parts[i].have && it->parts[i].t == t)
                part_next(&it->parts[i]);
    }
    iter_pick(it);
    return it->state == 1;
}

static bool iter_seek(struct scry_sample_iter *base, int64_t t_ms)
{
    struct tsdb_merge_iter *it = (struct tsdb_merge_iter *)base;
    if (it->state == 2)
        return false;
    if (it->state == 1 && it->parts[it->cur].t >= t_ms)
        return true; /* never backwards */
    for (size_t i = 0; i < it->n; i++) {
        struct tsdb_merge_part *p = &it->parts[i];
        if (it->state == 1 && p->have && p->t >= t_ms)
            continue;
        if (it->state == 1 && !p->have)
            continue; /* that part is exhausted */
        part_seek(p, t_ms);
    }
    iter_pick(it);
    return it->state == 1;
}

/* Hands out up to room samples of part p after its current one that are
 * below bound (all of them when !bounded), into t[], v[]; the first sample
 * read at or past bound is kept in the read-ahead. Afterwards the part's
 * current sample is the last one handed out, as if next() had been called
 * for each, so iter_next continues from there. */
static size_t part_run(struct tsdb_merge_part *p, bool bounded, int64_t bound, int64_t *t,
                       double *v, size_t room)
{
    size_t n = 0;
    while (n < room && p->pos < p->len && (!bounded || p->buf_t[p->pos] < bound)) {
        t[n] = p->buf_t[p->pos];
        v[n++] = p->buf_v[p->pos++];
    }
    const struct scry_sample_iter_ops *ops = p->it->ops;
    if (p->pos < p->len || p->done) {
        /* stopped at the bound, or nothing more to read */
    } else if (ops->next_batch) {
        p->pos = p->len = 0;
        while (n < room) {
            /* Bounded reads are at most a read-ahead long, so what passes
             * the bound always fits there. */
            size_t want = room - n;
            if (bounded && want > TSDB_MERGE_AHEAD)
                want = TSDB_MERGE_AHEAD;
            size_t got = ops->next_batch(p->it, t + n, v + n, want);
            size_t k = got;
            if (bounded && got && t[n + got - 1] >= bound) {
                k = 0; /* timestamps increase: the first at or past bound */
                while (t[n + k] < bound)
                    k++;
                memcpy(p->buf_t, t + n + k, (got - k) * sizeof *t);
                memcpy(p->buf_v, v + n + k, (got - k) * sizeof *v);
                p->len = (unsigned)(got - k);
            }
            n += k;
            if (got < want)
                p->done = true; /* its end (or an error, which err() reports) */
            if (k < got || got < want)
                break;
        }
    } else {
        while (n < room) {
            if (!ops->next(p->it)) {
                p->done = true;
                break;
            }
            ops->at(p->it, &t[n], &v[n]);
            if (bounded && t[n] >= bound) {
                p->buf_t[0] = t[n];
                p->buf_v[0] = v[n];
                p->pos = 0;
                p->len = 1;
                break;
            }
            n++;
        }
    }
    if (n) {
        p->t = t[n - 1];
        p->v = v[n - 1];
    }
    return n;
}

/* next() and at() up to cap times: one merge step for the part with the
 * smallest timestamp (equal timestamps deduplicate there), then that part's
 * run up to the smallest timestamp of the others, read in bulk. */
static size_t iter_next_batch(struct scry_sample_iter *base, int64_t *t, double *v, size_t cap)
{
    struct tsdb_merge_iter *it = (struct tsdb_merge_iter *)base;
    size_t n = 0;
    while (n < cap && iter_next(base)) {
        struct tsdb_merge_part *c = &it->parts[it->cur];
        t[n] = c->t;
        v[n++] = c->v;
        bool bounded = false;
        int64_t bound = 0;
        for (size_t i = 0; i < it->n; i++) {
            const struct tsdb_merge_part *p = &it->parts[i];
            if (p != c && p->have && (!bounded || p->t < bound)) {
                bound = p->t;
                bounded = true;
            }
        }
        n += part_run(c, bounded, bound, t + n, v + n, cap - n);
    }
    return n;
}

static void iter_at(const struct scry_sample_iter *base, int64_t *t_ms, double *v)
{
    const struct tsdb_merge_iter *it = (const struct tsdb_merge_iter *)base;
    assert(it->state == 1);
    *t_ms = it->parts[it->cur].t;
    *v = it->parts[it->cur].v;
}

static int iter_err(const struct scry_sample_iter *base, struct scry_err *err)
{
    const struct tsdb_merge_iter *it = (const struct tsdb_merge_iter *)base;
    for (size_t i = 0; i < it->n; i++) {
        struct scry_sample_iter *sub = it->parts[i].it;
        int rc = sub->ops->err(sub, err);
        if (rc)
            return rc;
    }
    return 0;
}

static const struct scry_sample_iter_ops merge_iter_ops = {
    .next = iter_next,
    .seek = iter_seek,
    .at = iter_at,
    .err = iter_err,
    .next_batch = iter_next_batch,
};

void tsdb_merge_iter_init(struct tsdb_merge_iter *it)
{
    memset(it, 0, sizeof *it);
    it->base.ops = &merge_iter_ops;
}

void tsdb_merge_iter_reset(struct tsdb_merge_iter *it, struct scry_sample_iter *const *its,
                           size_t n)
{
    if (n > it->cap) {
        it->parts = scry_realloc(it->parts, n * sizeof *it->parts);
        it->cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        struct tsdb_merge_part *p = &it->parts[i];
        p->it = its[i];
        p->have = p->done = false;
        p->pos = p->len = 0;
    }
    it->n = n;
    it->cur = 0;
    it->state = 0;
}

void tsdb_merge_iter_fini(struct tsdb_merge_iter *it)
{
    free(it->parts);
    memset(it, 0, sizeof *it);
}

/* ---- series sets -------------------------------------------------------- */

struct merge_set {
    struct scry_series_set base;
    struct scry_series_set **sets;
    bool *live;                    /* sets[i] is positioned on a series */
    size_t *cur, n_cur;            /* the sets positioned on the current series */
    struct scry_sample_iter **its; /* scratch for the merge iterator */
    size_t n;
    bool started;
    struct tsdb_merge_iter merged;
};

static bool set_next(struct scry_series_set *base)
{
    struct merge_set *m = (struct merge_set *)base;
    if (!m->started) {
        for (size_t i = 0; i < m->n; i++)
            m->live[i] = m->sets[i]->ops->next(m->sets[i]);
        m->started = true;
    } else {
        for (size_t k = 0; k < m->n_cur; k++) {
            size_t i = m->cur[k];
            m->live[i] = m->sets[i]->ops->next(m->sets[i]);
        }
    }
    /* The smallest label set among the live parts, and every part on it. */
    m->n_cur = 0;
    const struct scry_labels *min = NULL;
    for (size_t i = 0; i < m->n; i++) {
        if (!m->live[i])
            continue;
        const struct scry_labels *ls = m->sets[i]->ops->labels(m->sets[i]);
        int c = min ? scry_labels_cmp(ls, min) : -1;
        if (c < 0) {
            min = ls;
            m->n_cur = 0;
        }
        if (c <= 0)
            m->cur[m->n_cur++] = i;
    }
    return m->n_cur > 0;
}

static const struct scry_labels *set_labels(const struct scry_series_set *base)
{
    const struct merge_set *m = (const struct merge_set *)base;
    assert(m->n_cur > 0);
    struct scry_series_set *s = m->sets[m->cur[0]];
    return s->ops->labels(s);
}

static struct scry_sample_iter *set_samples(struct scry_series_set *base)
{
    struct merge_set *m = (struct merge_set *)base;
    assert(m->n_cur > 0);
    if (m->n_cur == 1) {
        struct scry_series_set *s = m->sets[m->cur[0]];
        return s->ops->samples(s);
    }
    for (size_t k = 0; k < m->n_cur; k++) {
        struct scry_series_set *s = m->sets[m->cur[k]];
        m->its[k] = s->ops->samples(s);
    }
    tsdb_merge_iter_reset(&m->merged, m->its, m->n_cur);
    return &m->merged.base;
}

static int set_err(const struct scry_series_set *base, struct scry_err *err)
{
    const struct merge_set *m = (const struct merge_set *)base;
    for (size_t i = 0; i < m->n; i++) {
        int rc = m->sets[i]->ops->err(m->sets[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

static void set_close(struct scry_series_set *base)
{
    struct merge_set *m = (struct merge_set *)base;
    for (size_t i = 0; i < m->n; i++)
        if (m->sets[i])
            m->sets[i]->ops->close(m->sets[i]);
    tsdb_merge_iter_fini(&m->merged);
    free(m->sets);
    free(m->live);
    free(m->cur);
    free(m->its);
    free(m);
}

static const struct scry_series_set_ops merge_set_ops = {
    .next = set_next,
    .labels = set_labels,
    .samples = set_samples,
    .err = set_err,
    .close = set_close,
};

/* ---- the querier ---------------------------------------------------------- */

struct merge_querier {
    struct scry_querier base;
    struct scry_querier **subs;
    size_t n;
};

static int mq_select_series(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                            const struct scry_select_hints *h, struct scry_series_set **out,
                            struct scry_err *err)
{
    struct merge_querier *mq = (struct merge_querier *)q;
    struct merge_set *m = scry_calloc(1, sizeof *m);
    m->base.ops = &merge_set_ops;
    m->n = mq->n;
    m->sets = scry_calloc(mq->n, sizeof *m->sets);
    m->live = scry_calloc(mq->n, sizeof *m->live);
    m->cur = scry_calloc(mq->n, sizeof *m->cur);
    m->its = scry_calloc(mq->n, sizeof *m->its);
    tsdb_merge_iter_init(&m->merged);
    for (size_t i = 0; i < mq->n; i++) {
        int rc = mq->subs[i]->ops->select_series(mq->subs[i], ms, n_ms, h, &m->sets[i], err);
        if (rc) {
            set_close(&m->base);
            return rc;
        }
    }
    *out = &m->base;
    return 0;
}

/* Appends the strings of b to the sorted unique list (a, n_a), keeping it
 * sorted and unique; the result lives in the arena. */
static void merge_sorted(struct scry_arena *ar, const char ***a, size_t *n_a, const char **b,
                         size_t n_b)
{
    const char **out = scry_arena_alloc(ar, (*n_a + n_b) * sizeof *out);
    size_t i = 0, j = 0, n = 0;
    while (i < *n_a || j < n_b) {
        int c = i == *n_a ? 1 : j == n_b ? -1 : strcmp((*a)[i], b[j]);
        if (c <= 0)
            out[n++] = (*a)[i++];
        else
            out[n++] = b[j++];
        if (c == 0)
            j++;
    }
    *a = out;
    *n_a = n;
}

static int mq_label_names(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms,
                          int64_t mint, int64_t maxt, struct scry_arena *a, const char ***out,
                          size_t *n_out, struct scry_err *err)
{
    struct merge_querier *mq = (struct merge_querier *)q;
    *out = NULL;
    *n_out = 0;
    for (size_t i = 0; i < mq->n; i++) {
        const char **v;
        size_t n;
        int rc = mq->subs[i]->ops->label_names(mq->subs[i], ms, n_ms, mint, maxt, a, &v, &n, err);
        if (rc)
            return rc;
        merge_sorted(a, out, n_out, v, n);
    }
    return 0;
}

static int mq_label_values(struct scry_querier *q, const char *name, const struct scry_matcher *ms,
                           size_t n_ms, int64_t mint, int64_t maxt, struct scry_arena *a,
                           const char ***out, size_t *n_out, struct scry_err *err)
{
    struct merge_querier *mq = (struct merge_querier *)q;
    *out = NULL;
    *n_out = 0;
    for (size_t i = 0; i < mq->n; i++) {
        const char **v;
        size_t n;
        int rc = mq->subs[i]->ops->label_values(mq->subs[i], name, ms, n_ms, mint, maxt, a, &v,
                                                &n, err);
        if (rc)
            return rc;
        merge_sorted(a, out, n_out, v, n);
    }
    return 0;
}

static void mq_close(struct scry_querier *q)
{
    struct merge_querier *mq = (struct merge_querier *)q;
    for (size_t i = 0; i < mq->n; i++)
        mq->subs[i]->ops->close(mq->subs[i]);
    free(mq->subs);
    free(mq);
}

static const struct scry_querier_ops merge_querier_ops = {
    .select_series = mq_select_series,
    .label_names = mq_label_names,
    .label_values = mq_label_values,
    .close = mq_close,
};

int tsdb_merge_querier(struct scry_querier **subs, size_t n, struct scry_querier **out,
                       struct scry_err *err)
{
    if (n == 1) {
        *out = subs[0];
        return 0;
    }
    struct merge_querier *mq = scry_calloc(1, sizeof *mq);
    mq->base.ops = &merge_querier_ops;
    mq->subs = scry_calloc(n ? n : 1, sizeof *mq->subs);
    if (n)
        memcpy(mq->subs, subs, n * sizeof *subs);
    mq->n = n;
    *out = &mq->base;
    return 0;
}
