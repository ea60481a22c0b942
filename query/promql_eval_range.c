/* promql_eval_range.c — subqueries: the inner expression is evaluated in its
 * own frame, steps aligned to absolute multiples of the subquery step (the
 * first one strictly after outer time - offset - range), and its per-step
 * vector becomes a matrix whose windows follow the outer steps. */
#include <assert.h>
#include <string.h>

#include "query/promql_eval_internal.h"

#define DEFAULT_SUBQUERY_STEP_MS 60000

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static void sq_params(const struct ev_ctx *c, const struct pql_subquery *sq, int64_t *range,
                      int64_t *step, int64_t *off)
{
    int64_t qrange = c->q_end - c->q_start;
    *range = sq->range_ms, *step = sq->step_ms, *off = sq->offset_ms;
    if (sq->range_expr)
        pql_dur_eval(sq->range_expr, c->is_range ? c->q_step : 0, qrange, range);
    if (sq->step_expr)
        pql_dur_eval(sq->step_expr, c->is_range ? c->q_step : 0, qrange, step);
    if (sq->offset_expr)
        pql_dur_eval(sq->offset_expr, c->is_range ? c->q_step : 0, qrange, off);
    if (*step <= 0)
        *step = DEFAULT_SUBQUERY_STEP_MS;
}

/* The windows of the outer steps; [*lo, *hi] their ends. */
static int64_t *sq_windows(struct ev_ctx *c, const struct pql_subquery *sq, int64_t off,
                           int64_t *lo, int64_t *hi)
{
    int64_t *win = scry_arena_alloc(c->a, c->n_steps * sizeof(int64_t));
    *lo = INT64_MAX, *hi = INT64_MIN;
    for (size_t i = 0; i < c->n_steps; i++) {
        win[i] = pql__ref_time(c, sq->at, sq->at_ms, off, i);
        if (win[i] < *lo)
            *lo = win[i];
        if (win[i] > *hi)
            *hi = win[i];
    }
    return win;
}

int pql__eval_subquery(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    const struct pql_subquery *sq = &e->u.sq;
    int64_t range, step, off, lo, hi;
    sq_params(c, sq, &range, &step, &off);
    int64_t *win = sq_windows(c, sq, off, &lo, &hi);
    int64_t start = floor_div(lo - range, step) * step;
    if (start <= lo - range)
        start += step;
    struct ev_val in;
    memset(out, 0, sizeof(*out));
    out->type = PQL_TYPE_MATRIX;
    out->m.range_ms = range;
    out->m.win_end = win;
    if (start > hi)
        return 0;
    struct ev_ctx saved = *c;
    c->start = start;
    c->end = start + (hi - start) / step * step;
    c->step = step;
    c->n_steps = (size_t)((c->end - start) / step) + 1;
    int rc = pql__eval(c, sq->expr, &in);
    size_t n_steps = c->n_steps;
    int64_t istart = c->start;
    saved.tick = c->tick;
    saved.n_samples = c->n_samples;
    saved.warn = c->warn, saved.n_warn = c->n_warn, saved.cap_warn = c->cap_warn;
    saved.info = c->info, saved.n_info = c->n_info, saved.cap_info = c->cap_info;
    saved.scratch_t = c->scratch_t, saved.scratch_v = c->scratch_v;
    saved.scratch_cap = c->scratch_cap;
    *c = saved;
    if (rc != 0)
        return rc;
    if (in.type == PQL_TYPE_SCALAR) {
        struct ev_mseries *s = scry_arena_calloc(c->a, 1, sizeof(*s));
        s->t = scry_arena_alloc(c->a, n_steps * sizeof(int64_t));
        s->v = in.sc;
        for (size_t i = 0; i < n_steps; i++)
            s->t[i] = istart + (int64_t)i * step;
        s->n = n_steps;
        out->m.s = s;
        out->m.n = 1;
        return 0;
    }
    out->m.s = scry_arena_alloc(c->a, (in.vec.n ? in.vec.n : 1) * sizeof(*out->m.s));
    uint64_t total = 0;
    for (size_t k = 0; k < in.vec.n; k++) {
        const struct ev_series *is = &in.vec.s[k];
        size_t n = 0;
        for (size_t i = 0; i < n_steps; i++)
            n += is->ok[i];
        if (!n)
            continue;
        total += n;
        struct ev_mseries *s = &out->m.s[out->m.n++];
        s->ls = is->ls;
        s->drop_name = is->drop_name;
        s->t = scry_arena_alloc(c->a, n * sizeof(int64_t));
        s->v = scry_arena_alloc(c->a, n * sizeof(double));
        s->n = 0;
        for (size_t i = 0; i < n_steps; i++) {
            if (!is->ok[i])
                continue;
            s->t[s->n] = istart + (int64_t)i * step;
            s->v[s->n++] = is->v[i];
        }
    }
    return pql__count_samples(c, total);
}

/* ---- streaming ---------------------------------------------------------------- */

struct frame {
    int64_t start, end, step;
    size_t n_steps;
};

static void frame_get(const struct ev_ctx *c, struct frame *f)
{
    *f = (struct frame){ c->start, c->end, c->step, c->n_steps };
}

static void frame_set(struct ev_ctx *c, const struct frame *f)
{
    c->start = f->start, c->end = f->end, c->step = f->step, c->n_steps = f->n_steps;
}

int pql__subquery_header(struct ev_ctx *c, const struct pql_expr *e, struct ev_matrix *hdr)
{
    int64_t range, step, off, lo, hi;
    sq_params(c, &e->u.sq, &range, &step, &off);
    memset(hdr, 0, sizeof(*hdr));
    hdr->range_ms = range;
    hdr->win_end = sq_windows(c, &e->u.sq, off, &lo, &hi);
    return 0;
}

struct sqs {
    ev_mat_fn fn;
    void *ud;
    struct frame outer, inner;
    int64_t *t;
    double *v;
};

/* An inner series (in the inner frame) becomes points for fn (in the outer). */
static int sq_series(struct ev_ctx *c, const struct ev_series *is, void *ud)
{
    struct sqs *x = ud;
    size_t n = 0;
    for (size_t i = 0; i < x->inner.n_steps; i++) {
        if (!is->ok[i])
            continue;
        x->t[n] = x->inner.start + (int64_t)i * x->inner.step;
        x->v[n++] = is->v[i];
    }
    int rc = pql__count_samples(c, n);
    if (rc != 0 || n == 0)
        return rc;
    struct ev_mseries s = { is->ls, is->drop_name, x->t, x->v, n };
    frame_set(c, &x->outer);
    rc = x->fn(c, &s, x->ud);
    frame_set(c, &x->inner);
    return rc;
}

int pql__stream_subquery(struct ev_ctx *c, const struct pql_expr *e, const struct ev_matrix *hdr,
                         ev_mat_fn fn, void *ud)
{
    const struct pql_subquery *sq = &e->u.sq;
    int64_t range, step, off;
    sq_params(c, sq, &range, &step, &off);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < c->n_steps; i++) {
        if (hdr->win_end[i] < lo)
            lo = hdr->win_end[i];
        if (hdr->win_end[i] > hi)
            hi = hdr->win_end[i];
    }
    int64_t start = floor_div(lo - range, step) * step;
    if (start <= lo - range)
        start += step;
    if (start > hi)
        return 0;
    struct sqs x = { fn, ud, { 0 }, { 0 }, NULL, NULL };
    frame_get(c, &x.outer);
    x.inner.start = start;
    x.inner.end = start + (hi - start) / step * step;
    x.inner.step = step;
    x.inner.n_steps = (size_t)((x.inner.end - start) / step) + 1;
    x.t = scry_arena_alloc(c->a, x.inner.n_steps * sizeof(int64_t));
    x.v = scry_arena_alloc(c->a, x.inner.n_steps * sizeof(double));
    frame_set(c, &x.inner);
    int rc = pql__stream_vec(c, sq->expr, sq_series, &x);
    frame_set(c, &x.outer);
    return rc;
}
