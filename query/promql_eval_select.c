/* promql_eval_select.c — vector and matrix selectors: one select from the
 * store over [min ref - lookback/range, max ref], the raw points of each
 * series into arena arrays, then per step the latest sample within the
 * lookback (an instant selector) or the window (a range selector). A stale
 * marker (0x7ff0000000000002) ends a series; @ and offset move the
 * reference time of each step. */
#include <assert.h>
#include <math.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* Copies the scratch points into the arena. */
static void raw_keep(struct ev_ctx *c, struct raw *r)
{
    int64_t *t = scry_arena_alloc(c->a, (r->n ? r->n : 1) * sizeof(int64_t));
    double *v = scry_arena_alloc(c->a, (r->n ? r->n : 1) * sizeof(double));
    memcpy(t, r->t, r->n * sizeof(int64_t));
    memcpy(v, r->v, r->n * sizeof(double));
    r->t = t;
    r->v = v;
}

static inline bool is_stale(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return bits == PQL_STALE_NAN_BITS;
}

/* Whether v[0..n) holds a NaN (a stale marker is one): branch-free, with
 * SSE2 four points in ~9 instructions, instead of the copy loop's ~15 a
 * point when there is nothing to drop. */
static bool any_nan(const double *v, size_t n)
{
    bool nan = false;
    size_t k = 0;
#if defined(__SSE2__)
    __m128d acc = _mm_setzero_pd();
    for (; k + 4 <= n; k += 4) {
        __m128d a = _mm_loadu_pd(v + k), b = _mm_loadu_pd(v + k + 2);
        acc = _mm_or_pd(acc, _mm_or_pd(_mm_cmpunord_pd(a, a), _mm_cmpunord_pd(b, b)));
    }
    nan = _mm_movemask_pd(acc) != 0;
#endif
    for (; k < n; k++)
        nan |= v[k] != v[k];
    return nan;
}

struct scry_labels pql__labels_dup(struct ev_ctx *c, const struct scry_labels *ls)
{
    struct scry_label *v = scry_arena_alloc(c->a, (ls->n ? ls->n : 1) * sizeof(*v));
    for (size_t i = 0; i < ls->n; i++) {
        v[i].name = scry_arena_strdup(c->a, ls->v[i].name);
        v[i].value = scry_arena_strdup(c->a, ls->v[i].value);
    }
    return (struct scry_labels){ v, ls->n };
}

/* fn gets the store's labels (valid during the call only: a consumer that
 * keeps them copies them with pql__labels_dup) and the points in the
 * reused scratch buffer. */
typedef int (*series_fn)(struct ev_ctx *c, const struct scry_labels *ls, struct raw *r, void *ud);

/* b is full at n points: grows it, refreshes the caller's cached arrays
 * and capacity, and checks the deadline (growing is where a long series
 * read notices it). */
static int grow_full(struct ev_pts *b, size_t n, int64_t **tt, double **vv, size_t *cap,
                     int64_t deadline_ns, struct scry_err *err)
{
    b->n = n;
    pql__pts_grow(b);
    *tt = b->t, *vv = b->v, *cap = b->cap;
    return pql__deadline(deadline_ns, err);
}

int pql__read_series(struct scry_sample_iter *it, int64_t mint, int64_t maxt, bool keep_stale,
                     struct ev_pts *b, int64_t deadline_ns, struct scry_err *err)
{
    const struct scry_sample_iter_ops *ops = it->ops;
    if (b->cap == 0)
        pql__pts_grow(b);
    size_t n = b->n, cap = b->cap;
    int64_t *tt = b->t;
    double *vv = b->v;
    int rc = 0;
    if (ops->seek(it, mint)) {
        int64_t t;
        double v;
        ops->at(it, &t, &v);
        if (t <= maxt && (keep_stale || !is_stale(v))) {
            if (n == cap) {
                b->n = n;
                pql__pts_grow(b);
                tt = b->t, vv = b->v, cap = b->cap;
            }
            tt[n] = t;
            vv[n++] = v;
        }
        if (t > maxt) {
            /* nothing in range */
        } else if (ops->next_batch) {
            /* the store decodes a chunk at a time into the buffer */
            for (;;) {
                if (n == cap && (rc = grow_full(b, n, &tt, &vv, &cap, deadline_ns, err)) != 0)
                    break;
                size_t want = cap - n;
                size_t got = ops->next_batch(it, tt + n, vv + n, want);
                size_t end = n + got, w = n;
                bool past = false;
                if (got && tt[end - 1] <= maxt && (keep_stale || !any_nan(vv + n, got))) {
                    n = end; /* the common case: nothing to drop */
                    if (got < want)
                        break;
                    continue;
                }
                for (size_t k = n; k < end; k++) {
                    if (tt[k] > maxt) {
                        past = true;
                        break;
                    }
                    if (!keep_stale && is_stale(vv[k]))
                        continue;
                    tt[w] = tt[k];
                    vv[w++] = vv[k];
                }
                n = w;
                if (past || got < want)
                    break;
            }
        } else {
            while (ops->next(it)) {
                ops->at(it, &t, &v);
                if (t > maxt)
                    break;
                if (!keep_stale && is_stale(v))
                    continue;
                if (n == cap && (rc = grow_full(b, n, &tt, &vv, &cap, deadline_ns, err)) != 0)
                    break;
                tt[n] = t;
                vv[n++] = v;
            }
        }
    }
    b->n = n;
    if (rc == 0)
        rc = ops->err(it, err);
    return rc;
}

/* Samples read on the query's own thread before a helper takes over the
 * reading (promql_eval_prefetch.c): about 0.3 ms of work, ten times what
 * handing over costs, so small queries never involve a second thread. */
#define PREFETCH_AFTER_SAMPLES 4096

/* The points of one series, for fn: counted against the limits first. */
static int deliver(struct ev_ctx *c, const struct scry_labels *ls, struct raw *r, series_fn fn,
                   void *ud)
{
    int rc = pql__count_samples(c, r->n);
    if (rc == 0)
        rc = pql__check_limits(c);
    if (rc == 0 && r->n)
        rc = fn(c, ls, r, ud);
    return rc;
}

/* Selects vs over [mint, maxt] and calls fn with each series' raw points
 * (stale markers kept when keep_stale), in the store's order. The first
 * series are read here; once they add up to PREFETCH_AFTER_SAMPLES, an
 * idle helper of the pool (if any) reads the rest ahead while this
 * thread runs fn, which therefore sees exactly the same calls. */
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
    struct pql__prefetch *pf = NULL;
    uint64_t n_inline = 0;
    while (rc == 0 && ss->ops->next(ss)) {
        struct ev_pts b = { c->scratch_t, c->scratch_v, 0, c->scratch_cap };
        rc = pql__read_series(ss->ops->samples(ss), mint, maxt, keep_stale, &b, c->deadline_ns,
                              c->err);
        c->scratch_t = b.t, c->scratch_v = b.v, c->scratch_cap = b.cap;
        if (rc == 0) {
            struct raw r = { b.t, b.v, b.n };
            rc = deliver(c, ss->ops->labels(ss), &r, fn, ud);
        }
        n_inline += b.n + 1;
        if (rc == 0 && c->opts->pool && n_inline >= PREFETCH_AFTER_SAMPLES) {
            pf = pql__prefetch_start(c->opts->pool, ss, mint, maxt, keep_stale, c->deadline_ns);
            if (pf)
                break;
            n_inline = 0; /* no helper idle: ask again later */
        }
    }
    if (pf) {
        struct scry_labels ls;
        struct raw r;
        while (rc == 0 && pql__prefetch_next(pf, &ls, &r.t, &r.v, &r.n))
            rc = deliver(c, &ls, &r, fn, ud);
        /* the helper's error counts only when fn stopped nothing */
        int prc = pql__prefetch_finish(pf, rc == 0 ? c->err : NULL);
        if (rc == 0)
            rc = prc;
    } else if (rc == 0) {
        rc = ss->ops->err(ss, c->err);
    }
    ss->ops->close(ss);
    q->ops->close(q);
    return rc;
}

/* ---- instant selectors ------------------------------------------------------ */

struct vsel {
    const struct pql_vector_sel *vs;
    int64_t *ref;
    bool ts;       /* timestamps (s) instead of values */
    bool ref_monotone; /* ref never decreases */
    struct ev_vec *out;          /* generic: the series are kept here */
    ev_vec_fn fn;                /* streaming: or handed to fn */
    void *ud;
    struct ev_series tmp;        /* the step arrays of the current series */
};

/* The values of one series at every step; false when it has none. */
static bool vsel_steps(struct ev_ctx *c, const struct vsel *x, const struct raw *r, double *out_v,
                       uint8_t *out_ok)
{
    const int64_t *ref = x->ref, *t = r->t;
    const double *rv = r->v;
    const size_t n = r->n, n_steps = c->n_steps;
    const int64_t lb = c->lookback_ms;
    bool any = false;
    memset(out_ok, 0, n_steps);
    if (x->ref_monotone && !x->ts && !x->vs->smoothed) {
        /* the common case: one merge of the points and the steps */
        size_t k = 0; /* first point after ref */
        for (size_t i = 0; i < n_steps; i++) {
            int64_t rt = ref[i];
            while (k < n && t[k] <= rt)
                k++;
            if (k == 0 || t[k - 1] <= rt - lb || is_stale(rv[k - 1]))
                continue;
            out_v[i] = rv[k - 1];
            out_ok[i] = 1;
            any = true;
        }
        return any;
    }
    /* The reference times never decrease (a step's time minus a fixed
     * offset, or one @ time), so one cursor walks the points forward once
     * instead of a binary search per step. */
    long k = -1;
    for (size_t i = 0; i < n_steps; i++) {
        if (i > 0 && ref[i] < ref[i - 1])
            k = -1;
        while ((size_t)(k + 1) < n && t[k + 1] <= ref[i])
            k++;
        if (k < 0 || t[k] <= ref[i] - lb || is_stale(rv[k]))
            continue;
        double v = x->ts ? (double)t[k] / 1000 : rv[k];
        if (x->vs->smoothed && t[k] < ref[i] && (size_t)k + 1 < n &&
            t[k + 1] <= ref[i] + lb && !is_stale(rv[k + 1])) {
            /* experimental: interpolate between the samples around ref */
            double y1 = rv[k], y2 = rv[k + 1];
            v = y1 + (y2 - y1) * (double)(ref[i] - t[k]) / (double)(t[k + 1] - t[k]);
        }
        out_v[i] = v;
        out_ok[i] = 1;
        any = true;
    }
    return any;
}

static int vsel_series(struct ev_ctx *c, const struct scry_labels *ls, struct raw *r, void *ud)
{
    struct vsel *x = ud;
    if (!vsel_steps(c, x, r, x->tmp.v, x->tmp.ok))
        return 0;
    if (x->fn) {
        x->tmp.ls = *ls;
        x->tmp.drop_name = false;
        return x->fn(c, &x->tmp, x->ud);
    }
    struct scry_labels cp = pql__labels_dup(c, ls);
    struct ev_series *s = pql__vec_add(c, x->out, &cp, false);
    memcpy(s->v, x->tmp.v, c->n_steps * sizeof(double));
    memcpy(s->ok, x->tmp.ok, c->n_steps);
    return 0;
}

static int vector_sel(struct ev_ctx *c, const struct pql_expr *e, bool ts, struct ev_val *out,
                      ev_vec_fn fn, void *ud)
{
    const struct pql_vector_sel *vs = &e->u.vs;
    int64_t off = sel_offset(c, vs);
    if (out)
        memset(out, 0, sizeof(*out));
    struct vsel x = { .vs = vs, .ref = scry_arena_alloc(c->a, c->n_steps * sizeof(int64_t)),
                      .ts = ts, .ref_monotone = true, .out = out ? &out->vec : NULL, .fn = fn,
                      .ud = ud };
    x.tmp.v = scry_arena_alloc(c->a, c->n_steps * sizeof(double));
    x.tmp.ok = scry_arena_alloc(c->a, c->n_steps);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < c->n_steps; i++) {
        x.ref[i] = pql__ref_time(c, vs->at, vs->at_ms, off, i);
        if (i > 0 && x.ref[i] < x.ref[i - 1])
            x.ref_monotone = false;
        if (x.ref[i] < lo)
            lo = x.ref[i];
        if (x.ref[i] > hi)
            hi = x.ref[i];
    }
    if (out)
        out->type = PQL_TYPE_VECTOR;
    return select_raw(c, vs, lo - c->lookback_ms + 1, hi + (vs->smoothed ? c->lookback_ms : 0),
                      true, vsel_series, &x);
}

int pql__eval_vector_sel(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    return vector_sel(c, e, false, out, NULL, NULL);
}

int pql__eval_vector_sel_ts(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    return vector_sel(c, e, true, out, NULL, NULL);
}

int pql__stream_vector_sel(struct ev_ctx *c, const struct pql_expr *e, ev_vec_fn fn, void *ud)
{
    return vector_sel(c, e, false, NULL, fn, ud);
}

/* ---- range selectors ------------------------------------------------------- */

struct msel {
    struct ev_matrix *m;
    size_t cap;
    ev_mat_fn fn;  /* streaming: the points go to fn instead */
    void *ud;
};

static int msel_series(struct ev_ctx *c, const struct scry_labels *ls, struct raw *r, void *ud)
{
    struct msel *x = ud;
    if (x->fn) {
        struct ev_mseries s = { *ls, false, r->t, r->v, r->n };
        return x->fn(c, &s, x->ud);
    }
    if (x->m->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        struct ev_mseries *s = scry_arena_alloc(c->a, cap * sizeof(*s));
        if (x->m->n)
            memcpy(s, x->m->s, x->m->n * sizeof(*s));
        x->m->s = s;
        x->cap = cap;
    }
    raw_keep(c, r);
    x->m->s[x->m->n++] = (struct ev_mseries){ pql__labels_dup(c, ls), false, r->t, r->v, r->n };
    return 0;
}

int pql__matrix_sel_header(struct ev_ctx *c, const struct pql_expr *e, struct ev_matrix *hdr)
{
    const struct pql_vector_sel *vs = &e->u.ms.vs->u.vs;
    int64_t off = sel_offset(c, vs), range = e->u.ms.range_ms;
    if (e->u.ms.range_expr)
        pql_dur_eval(e->u.ms.range_expr, c->is_range ? c->q_step : 0, c->q_end - c->q_start, &range);
    memset(hdr, 0, sizeof(*hdr));
    hdr->range_ms = range;
    hdr->win_end = scry_arena_alloc(c->a, c->n_steps * sizeof(int64_t));
    for (size_t i = 0; i < c->n_steps; i++)
        hdr->win_end[i] = pql__ref_time(c, vs->at, vs->at_ms, off, i);
    hdr->anchored = vs->anchored;
    hdr->smoothed = vs->smoothed;
    if (vs->anchored || vs->smoothed)
        hdr->ext_ms = c->lookback_ms;
    return 0;
}

static int matrix_sel(struct ev_ctx *c, const struct pql_expr *e, struct ev_matrix *m,
                      ev_mat_fn fn, void *ud)
{
    const struct pql_vector_sel *vs = &e->u.ms.vs->u.vs;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < c->n_steps; i++) {
        int64_t t = m->win_end[i];
        if (t < lo)
            lo = t;
        if (t > hi)
            hi = t;
    }
    struct msel x = { m, 0, fn, ud };
    return select_raw(c, vs, lo - m->range_ms + 1 - m->ext_ms,
                      hi + (vs->smoothed ? m->ext_ms : 0), false, msel_series, &x);
}

int pql__stream_matrix_sel(struct ev_ctx *c, const struct pql_expr *e, const struct ev_matrix *hdr,
                           ev_mat_fn fn, void *ud)
{
    struct ev_matrix m = *hdr;
    return matrix_sel(c, e, &m, fn, ud);
}

int pql__eval_matrix_sel(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    out->type = PQL_TYPE_MATRIX;
    pql__matrix_sel_header(c, e, &out->m);
    return matrix_sel(c, e, &out->m, NULL, NULL);
}
