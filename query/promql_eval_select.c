/* promql_eval_select.c — vector and matrix selectors: one select from the
 * store over [min ref - lookback/range, max ref], the raw points of each
 * series into arena arrays, then per step the latest sample within the
 * lookback (an instant selector) or the window (a range selector). A stale
 * marker (0x7ff0000000000002) ends a series; @ and offset move the
 * reference time of each step. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "core/mem.h"
#include "query/promql_eval_internal.h"
#include "query/promql_series.h"

int64_t pql__ref_time(const struct ev_ctx *c, enum pql_at at, int64_t at_ms, int64_t offset_ms,
                      size_t i)
{
    int64_t t;
    switch (at) {
    case PQL_AT_TIMESTAMP: t = at_ms; break;
    case PQL_AT_START: t = c->q_start; break;
    case PQL_AT_END: t = c->q_end; break;
    default: t = ev_ts(c, i); break;
    }
    return t - offset_ms;
}

static int64_t sel_offset(const struct ev_ctx *c, const struct pql_vector_sel *vs)
{
    if (vs->offset_expr) {
        int64_t ms = 0;
        if (pql_dur_eval(vs->offset_expr, c->is_range ? c->q_step : 0, c->q_end - c->q_start, &ms) == 0)
            return ms;
    }
    return vs->offset_ms;
}

struct raw {
    int64_t *t;
    double *v;
    size_t n;
};

static void raw_push(struct ev_ctx *c, struct raw *r, int64_t t, double v)
{
    if (r->n == c->scratch_cap) {
        size_t cap = c->scratch_cap ? c->scratch_cap * 2 : 1024;
        c->scratch_t = scry_realloc(c->scratch_t, cap * sizeof(int64_t));
        c->scratch_v = scry_realloc(c->scratch_v, cap * sizeof(double));
        c->scratch_cap = cap;
    }
    c->scratch_t[r->n] = t;
    c->scratch_v[r->n] = v;
    r->n++;
}

/* Copies the scratch points into the arena. */
static void raw_keep(struct ev_ctx *c, struct raw *r)
{
    r->t = scry_arena_alloc(c->a, (r->n ? r->n : 1) * sizeof(int64_t));
    r->v = scry_arena_alloc(c->a, (r->n ? r->n : 1) * sizeof(double));
    memcpy(r->t, c->scratch_t, r->n * sizeof(int64_t));
    memcpy(r->v, c->scratch_v, r->n * sizeof(double));
}

/* Copies a label set and its strings into the arena (a store's labels are
 * only valid until its series set moves on). */
static struct scry_labels labels_dup(struct ev_ctx *c, const struct scry_labels *ls)
{
    struct scry_label *v = scry_arena_alloc(c->a, (ls->n ? ls->n : 1) * sizeof(*v));
    for (size_t i = 0; i < ls->n; i++) {
        v[i].name = scry_arena_strdup(c->a, ls->v[i].name);
        v[i].value = scry_arena_strdup(c->a, ls->v[i].value);
    }
    return (struct scry_labels){ v, ls->n };
}

typedef int (*series_fn)(struct ev_ctx *c, const struct scry_labels *ls, struct raw *r, void *ud);

/* Selects vs over [mint, maxt] and calls fn with each series' raw points
 * (stale markers kept when keep_stale). */
static int select_raw(struct ev_ctx *c, const struct pql_vector_sel *vs, int64_t mint,
                      int64_t maxt, bool keep_stale, series_fn fn, void *ud)
{
    struct scry_querier *q = NULL;
    struct scry_series_set *ss = NULL;
    int rc = c->store->querier(c->store, c->opts->tenant, mint, maxt, &q, c->err);
    if (rc != 0)
        return rc;
    struct scry_select_hints h = { .mint = mint, .maxt = maxt };
    rc = q->ops->select_series(q, vs->matchers, vs->n_matchers, &h, &ss, c->err);
    if (rc != 0) {
        q->ops->close(q);
        return rc;
    }
    while (rc == 0 && ss->ops->next(ss)) {
        struct scry_sample_iter *it = ss->ops->samples(ss);
        struct raw r = { 0 };
        if (it->ops->seek(it, mint)) {
            do {
                int64_t t;
                double v;
                it->ops->at(it, &t, &v);
                if (t > maxt)
                    break;
                if (!keep_stale && pql_is_stale_nan(v))
                    continue;
                raw_push(c, &r, t, v);
                if ((r.n & 1023) == 0 && (rc = pql__check_deadline(c)) != 0)
                    break;
            } while (it->ops->next(it));
        }
        if (rc == 0)
            rc = it->ops->err(it, c->err);
        if (rc == 0)
            rc = pql__count_samples(c, r.n);
        if (rc == 0)
            rc = pql__check_limits(c);
        if (rc == 0 && r.n) {
            struct scry_labels ls = labels_dup(c, ss->ops->labels(ss));
            raw_keep(c, &r);
            rc = fn(c, &ls, &r, ud);
        }
    }
    if (rc == 0)
        rc = ss->ops->err(ss, c->err);
    ss->ops->close(ss);
    q->ops->close(q);
    return rc;
}

/* ---- instant selectors ------------------------------------------------------ */

struct vsel {
    const struct pql_vector_sel *vs;
    int64_t *ref;
    struct ev_vec *out;
    bool ts;       /* timestamps (s) instead of values */
};

static int vsel_series(struct ev_ctx *c, const struct scry_labels *ls, struct raw *r, void *ud)
{
    struct vsel *x = ud;
    struct ev_series *s = NULL;
    /* The reference times never decrease (a step's time minus a fixed
     * offset, or one @ time), so one cursor walks the points forward once
     * instead of a binary search per step. */
    long k = -1;
    for (size_t i = 0; i < c->n_steps; i++) {
        if (i > 0 && x->ref[i] < x->ref[i - 1])
            k = -1;
        while ((size_t)(k + 1) < r->n && r->t[k + 1] <= x->ref[i])
            k++;
        if (k < 0 || r->t[k] <= x->ref[i] - c->lookback_ms || pql_is_stale_nan(r->v[k]))
            continue;
        double v = x->ts ? (double)r->t[k] / 1000 : r->v[k];
        if (x->vs->smoothed && r->t[k] < x->ref[i] && (size_t)k + 1 < r->n &&
            r->t[k + 1] <= x->ref[i] + c->lookback_ms && !pql_is_stale_nan(r->v[k + 1])) {
            /* experimental: interpolate between the samples around ref */
            double y1 = r->v[k], y2 = r->v[k + 1];
            v = y1 + (y2 - y1) * (double)(x->ref[i] - r->t[k]) / (double)(r->t[k + 1] - r->t[k]);
        }
        if (!s)
            s = pql__vec_add(c, x->out, ls, false);
        s->v[i] = v;
        s->ok[i] = 1;
    }
    return 0;
}

static int vector_sel(struct ev_ctx *c, const struct pql_expr *e, bool ts, struct ev_val *out)
{
    const struct pql_vector_sel *vs = &e->u.vs;
    int64_t off = sel_offset(c, vs);
    memset(out, 0, sizeof(*out));
    struct vsel x = { vs, scry_arena_alloc(c->a, c->n_steps * sizeof(int64_t)), &out->vec, ts };
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < c->n_steps; i++) {
        x.ref[i] = pql__ref_time(c, vs->at, vs->at_ms, off, i);
        if (x.ref[i] < lo)
            lo = x.ref[i];
        if (x.ref[i] > hi)
            hi = x.ref[i];
    }
    out->type = PQL_TYPE_VECTOR;
    return select_raw(c, vs, lo - c->lookback_ms + 1, hi + (vs->smoothed ? c->lookback_ms : 0),
                      true, vsel_series, &x);
}

int pql__eval_vector_sel(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    return vector_sel(c, e, false, out);
}

int pql__eval_vector_sel_ts(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    return vector_sel(c, e, true, out);
}

/* ---- range selectors ------------------------------------------------------- */

struct msel {
    struct ev_matrix *m;
    size_t cap;
};

static int msel_series(struct ev_ctx *c, const struct scry_labels *ls, struct raw *r, void *ud)
{
    struct msel *x = ud;
    if (x->m->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        struct ev_mseries *s = scry_arena_alloc(c->a, cap * sizeof(*s));
        if (x->m->n)
            memcpy(s, x->m->s, x->m->n * sizeof(*s));
        x->m->s = s;
        x->cap = cap;
    }
    x->m->s[x->m->n++] = (struct ev_mseries){ *ls, false, r->t, r->v, r->n };
    return 0;
}

int pql__eval_matrix_sel(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    const struct pql_vector_sel *vs = &e->u.ms.vs->u.vs;
    int64_t off = sel_offset(c, vs), range = e->u.ms.range_ms;
    if (e->u.ms.range_expr)
        pql_dur_eval(e->u.ms.range_expr, c->is_range ? c->q_step : 0, c->q_end - c->q_start, &range);
    out->type = PQL_TYPE_MATRIX;
    out->m.range_ms = range;
    out->m.win_end = scry_arena_alloc(c->a, c->n_steps * sizeof(int64_t));
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < c->n_steps; i++) {
        int64_t t = pql__ref_time(c, vs->at, vs->at_ms, off, i);
        out->m.win_end[i] = t;
        if (t < lo)
            lo = t;
        if (t > hi)
            hi = t;
    }
    struct msel x = { &out->m, 0 };
    out->m.anchored = vs->anchored;
    out->m.smoothed = vs->smoothed;
    if (vs->anchored || vs->smoothed)
        out->m.ext_ms = c->lookback_ms;
    return select_raw(c, vs, lo - range + 1 - out->m.ext_ms,
                      hi + (vs->smoothed ? out->m.ext_ms : 0), false, msel_series, &x);
}
