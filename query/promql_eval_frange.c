/* promql_eval_frange.c — the range-vector functions of the library:
 * rate/increase/delta with Prometheus's extrapolatedRate (and the
 * experimental anchored/smoothed variants), irate/idelta, changes, resets,
 * deriv/predict_linear (linearRegression), the *_over_time family,
 * double_exponential_smoothing and absent_over_time. Each runs per series
 * and per step over the window (end - range, end] of the argument's raw
 * points, found by binary search without copying. This file is the
 * driver (argument setup, the per-series and per-step loop, output
 * series); the per-window functions and their table are in
 * promql_eval_winfns.c. Split from promql_eval_func.c, which dispatches
 * to pql__eval_range_call. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/buf.h"
#include "query/promql_eval_internal.h"
#include "query/promql_eval_win.h"

static bool name_is(const struct pql_expr *e, const char *n)
{
    return strcmp(e->u.call.func->name, n) == 0;
}


static size_t first_gt(const int64_t *t, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Evaluates the scalar arguments (all but the matrix one) into sc[j]. */
int pql__scalar_args(struct ev_ctx *c, const struct pql_call *call, double **sc, int skip)
{
    for (size_t j = 0; j < call->n_args && j < PQL_FUNC_MAX_ARGS; j++) {
        sc[j] = NULL;
        if ((int)j == skip)
            continue;
        struct ev_val v;
        int rc = pql__eval(c, call->args[j], &v);
        if (rc != 0)
            return rc;
        if (v.type == PQL_TYPE_SCALAR)
            sc[j] = v.sc;
    }
    return 0;
}


/* One range-function call: its arguments, and where its series go. */
struct rfx {
    const struct pql_expr *e;
    const struct range_fn *rf;
    double *sc[PQL_FUNC_MAX_ARGS];
    size_t n_sc;                   /* sc[n_sc..] are all NULL */
    struct ev_matrix hdr;          /* the argument's frame */
    bool quant, mad, ext, is_rate, is_inc, is_delta;
    int64_t *xt;
    double *xv;
    size_t x_cap;
    double *buf;
    size_t buf_cap;
    struct ev_series tmp;          /* the current series' steps */
    struct ev_vec *out;            /* generic: kept here */
    bool dup_labels;               /* the labels are the store's: copy them */
    ev_vec_fn fn;                  /* streaming: handed to fn */
    void *ud;
    uint64_t *seen;                /* streaming: hashes of the label sets given */
    size_t n_seen, cap_seen;
    bool one_name;                 /* a selector with __name__="...": no collisions */
    bool we_sorted;                /* hdr.win_end never decreases (the cursors never restart) */
};

/* Whether every series of e has the same name: a selector matching the
 * name by equality. The store's series are distinct label sets, so with
 * one name they stay distinct when it is dropped, and rf_seen (a label
 * hash a series) has nothing to find. */
static bool one_name(const struct pql_expr *e)
{
    e = pql__unparen(e);
    if (e->kind == PQL_MATRIX_SEL)
        e = e->u.ms.vs;
    if (e->kind != PQL_VECTOR_SEL)
        return false;
    for (size_t i = 0; i < e->u.vs.n_matchers; i++) {
        const struct scry_matcher *m = &e->u.vs.matchers[i];
        if (m->type == SCRY_MATCH_EQ && strcmp(m->name, "__name__") == 0)
            return true;
    }
    return false;
}

/* The scalar arguments and the checks that need no series. */
static int rf_setup(struct ev_ctx *c, const struct pql_expr *e, const struct range_fn *rf,
                    struct rfx *x)
{
    const struct pql_call *call = &e->u.call;
    memset(x, 0, sizeof(*x));
    x->e = e;
    x->rf = rf;
    int mi = name_is(e, "quantile_over_time") ? 1 : 0;
    int rc = pql__scalar_args(c, call, x->sc, mi);
    if (rc != 0)
        return rc;
    if (name_is(e, "double_exponential_smoothing") || name_is(e, "holt_winters")) {
        for (size_t i = 0; i < c->n_steps; i++) {
            double sf = x->sc[1][i], tf = x->sc[2][i];
            if (!(sf > 0 && sf < 1))
                return scry_err_set(c->err, SCRY_EINVAL, "invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf);
            if (!(tf > 0 && tf < 1))
                return scry_err_set(c->err, SCRY_EINVAL, "invalid trend factor. Expected: 0 < tf < 1, got: %f", tf);
        }
    }
    x->quant = name_is(e, "quantile_over_time");
    x->mad = name_is(e, "mad_over_time");
    x->is_rate = name_is(e, "rate");
    x->is_inc = name_is(e, "increase");
    x->is_delta = name_is(e, "delta");
    /* scalar arguments to pass per step (none for most functions) */
    for (size_t j = 0; j < call->n_args && j < PQL_FUNC_MAX_ARGS; j++)
        if (x->sc[j])
            x->n_sc = j + 1;
    x->tmp.v = scry_arena_alloc(c->a, c->n_steps * sizeof(double));
    x->tmp.ok = scry_arena_alloc(c->a, c->n_steps);
    return 0;
}

/* The argument's frame: anchored/smoothed only go with some functions. */
static int rf_frame(struct ev_ctx *c, struct rfx *x, const struct ev_matrix *m, bool is_matrix)
{
    const struct pql_call *call = &x->e->u.call;
    x->hdr = *m;
    x->hdr.s = NULL;
    x->hdr.n = 0;
    if (is_matrix && (m->anchored || m->smoothed)) {
        static const char *anch[] = { "changes", "delta", "increase", "rate", "resets" };
        bool ok = false;
        for (size_t j = 0; j < 5; j++)
            if (strcmp(call->func->name, anch[j]) == 0)
                ok = !m->smoothed || (j != 0 && j != 4);
        if (!ok)
            return scry_err_set(c->err, SCRY_EINVAL, m->smoothed
                ? "smoothed modifier can only be used with: delta, increase, rate - not with %s"
                : "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with %s",
                call->func->name);
    }
    x->ext = m->anchored || m->smoothed;
    x->we_sorted = true;
    for (size_t i = 1; m->win_end && i < c->n_steps; i++)
        x->we_sorted &= m->win_end[i] >= m->win_end[i - 1];
    return 0;
}

/* Whether the label set was given before (streaming, where the generic
 * path would have dropped names and then found two series colliding). */
static bool rf_seen(struct ev_ctx *c, struct rfx *x, uint64_t h)
{
    if (x->n_seen * 2 + 2 > x->cap_seen) {
        size_t cap = x->cap_seen ? x->cap_seen * 2 : 256;
        uint64_t *n = scry_arena_calloc(c->a, cap, sizeof(*n));
        for (size_t i = 0; i < x->cap_seen; i++) {
            if (!x->seen[i])
                continue;
            size_t k = x->seen[i] & (cap - 1);
            while (n[k])
                k = (k + 1) & (cap - 1);
            n[k] = x->seen[i];
        }
        x->seen = n;
        x->cap_seen = cap;
    }
    h |= 1; /* 0 marks an empty slot */
    size_t k = h & (x->cap_seen - 1);
    while (x->seen[k]) {
        if (x->seen[k] == h)
            return true;
        k = (k + 1) & (x->cap_seen - 1);
    }
    x->seen[k] = h;
    x->n_seen++;
    return false;
}

/* Whether some v[j] < v[j - 1]: branch-free, with SSE2 four points in
 * ~9 instructions, where a loop that stops at the first decrease takes
 * ~9 a point; the answer is the same (a comparison with a NaN is false
 * either way). */
static bool has_decrease(const double *v, size_t n)
{
    bool dec = false;
    size_t j = 1;
#if defined(__SSE2__)
    __m128d acc = _mm_setzero_pd();
    for (; j + 4 <= n; j += 4) {
        __m128d a = _mm_cmplt_pd(_mm_loadu_pd(v + j), _mm_loadu_pd(v + j - 1));
        __m128d b = _mm_cmplt_pd(_mm_loadu_pd(v + j + 2), _mm_loadu_pd(v + j + 1));
        acc = _mm_or_pd(acc, _mm_or_pd(a, b));
    }
    dec = _mm_movemask_pd(acc) != 0;
#endif
    for (; j < n; j++)
        dec |= v[j] < v[j - 1];
    return dec;
}

/* The first index at or after from whose time is past x (t[] increases):
 * at each step a window's edge usually moves by as many points as it did
 * at the step before, so that guess is checked first (two comparisons)
 * before the walk. *adv keeps the last move. */
static inline __attribute__((always_inline)) size_t
cursor_past(const int64_t *t, size_t n, size_t from, int64_t x, size_t *adv)
{
    size_t g = from + *adv;
    if (g <= n && (g == from || t[g - 1] <= x) && (g == n || t[g] > x)) {
        /* t[g - 1] <= x < t[g]: g is the answer (for g == from, the
         * caller's from is already past everything up to x - 1 step) */
    } else {
        g = from;
        while (g < n && t[g] <= x)
            g++;
    }
    *adv = g - from;
    return g;
}

/* The common case of rf_series: plain rate/increase/delta (no anchored or
 * smoothed window, no scalar argument), with counter and rate constant in
 * each instance so the compiler drops their tests. The arithmetic is
 * pql__extrapolated_rate's, expression for expression (reordered only
 * where the terms do not depend on each other), so the values are the
 * same bits; what goes is the per-step struct win, the function
 * dispatch and the argument copying (~100 of ~165 instructions a window). */
static inline __attribute__((always_inline)) bool
rate_steps(struct ev_ctx *c, const struct rfx *x, const struct ev_mseries *s, bool monotone,
           bool counter, bool rate)
{
    const struct ev_matrix *mm = &x->hdr;
    const int64_t *st = s->t, range = mm->range_ms, ext = mm->ext_ms;
    const int64_t *we = mm->win_end;
    const double *sv = s->v;
    const size_t n = s->n, n_steps = c->n_steps;
    const double range_s = (double)range / 1000;
    double *ov = x->tmp.v;
    uint8_t *ook = x->tmp.ok;
    size_t lo = 0, hi = 0, adv_lo = 0, adv_hi = 0;
    bool any = false;
    int64_t k_start = -1, k_end = -1; /* the last window's shape */
    size_t k_m = 0;
    double to_start0 = 0, to_end = 0, sampled = 0, factor0 = 0;
    for (size_t i = 0; i < n_steps; i++) {
        int64_t end = we[i], start = end - range;
        int64_t lo_t = start - ext;
        if (!x->we_sorted && i > 0 && end < we[i - 1])
            lo = hi = 0;
        lo = cursor_past(st, n, lo, lo_t, &adv_lo);
        if (hi < lo)
            hi = lo;
        hi = cursor_past(st, n, hi, end, &adv_hi);
        size_t m = hi - lo;
        if (m < 2)
            continue;
        const double *v = sv + lo;
        const int64_t *t = st + lo;
        double r = v[m - 1] - v[0];
        if (counter && !monotone) {
            double last = 0;
            for (size_t j = 0; j < m; j++) {
                if (v[j] < last)
                    r += last;
                last = v[j];
            }
        }
        /* Everything but the counter's zero point depends on the window's
         * shape only (its gaps and its number of points), which a regular
         * scrape repeats from step to step: computed again only when the
         * shape changes, it saves six of seven divisions a window. */
        /* (t[m - 1] - t[0] = range - d_start - d_end: two gaps and m
         * tell the shape) */
        int64_t d_start = t[0] - start, d_end = end - t[m - 1];
        if (d_start != k_start || d_end != k_end || m != k_m) {
            int64_t d_in = t[m - 1] - t[0];
            k_start = d_start;
            k_end = d_end;
            k_m = m;
            to_start0 = (double)d_start / 1000;
            to_end = (double)d_end / 1000;
            sampled = (double)d_in / 1000;
            double avg = sampled / (double)(m - 1);
            double thr = avg * 1.1;
            if (to_start0 >= thr)
                to_start0 = avg / 2;
            if (to_end >= thr)
                to_end = avg / 2;
            factor0 = (sampled + to_start0 + to_end) / sampled;
            if (rate)
                factor0 /= range_s;
        }
        double factor = factor0;
        if (counter) {
            double to_start = to_start0, to_zero = to_start;
            if (r > 0 && v[0] >= 0)
                to_zero = sampled * (v[0] / r);
            if (to_zero < to_start) {
                to_start = to_zero;
                factor = (sampled + to_start + to_end) / sampled;
                if (rate)
                    factor /= range_s;
            }
        }
        ov[i] = r * factor;
        ook[i] = 1;
        any = true;
    }
    return any;
}

static int rf_series(struct ev_ctx *c, const struct ev_mseries *s, void *ud)
{
    struct rfx *x = ud;
    const struct pql_call *call = &x->e->u.call;
    const struct ev_matrix *mm = &x->hdr;
    int rc = pql__check_limits(c);
    if (rc != 0)
        return rc;
    double argv[PQL_FUNC_MAX_ARGS] = { 0 };
    size_t lo = 0, hi = 0;
    bool any = false;
    memset(x->tmp.ok, 0, c->n_steps);
    /* a counter without a reset anywhere has none in any window: the
     * rate functions skip their per-window scan (the sum it would add
     * is exactly 0, so results do not change) */
    bool monotone = !has_decrease(s->v, s->n) && !(s->n && s->v[0] < 0);
    if (!x->quant && !x->mad && !x->ext && x->n_sc == 0 && !mm->smoothed) {
        if (x->is_rate)
            any = rate_steps(c, x, s, monotone, true, true);
        else if (x->is_inc)
            any = rate_steps(c, x, s, monotone, true, false);
        else if (x->is_delta)
            any = rate_steps(c, x, s, monotone, false, false);
        else
            goto generic;
        goto done;
    }
generic:
    for (size_t i = 0; i < c->n_steps; i++) {
        int64_t end = mm->win_end[i], start = end - mm->range_ms;
        int64_t lo_t = start - mm->ext_ms, hi_t = end + (mm->smoothed ? mm->ext_ms : 0);
        /* windows only move forward (steps, or one @ time): two cursors
         * walk the points once instead of two binary searches a step */
        if (i > 0 && end < mm->win_end[i - 1])
            lo = hi = 0;
        while (lo < s->n && s->t[lo] <= lo_t)
            lo++;
        if (hi < lo)
            hi = lo;
        while (hi < s->n && s->t[hi] <= hi_t)
            hi++;
        for (size_t j = 0; j < x->n_sc; j++)
            argv[j] = x->sc[j] ? x->sc[j][i] : 0;
        struct win w = { s->t + lo, s->v + lo, hi - lo, start, end, mm->range_ms, ev_ts(c, i), argv,
                         monotone };
        double v;
        bool ok;
        if (x->quant || x->mad) {
            if (!w.n)
                continue;
            if (x->buf_cap < w.n) {
                x->buf_cap = w.n * 2;
                x->buf = scry_arena_alloc(c->a, x->buf_cap * sizeof(double));
            }
            double *buf = x->buf;
            memcpy(buf, w.v, w.n * sizeof(double));
            if (x->quant) {
                if (!(argv[0] >= 0 && argv[0] <= 1))
                    pql__annotf(c, true, call->args[0],
                                "quantile value should be between 0 and 1, got %s",
                                pql__fmt_g(c, argv[0]));
                v = pql__quantile(argv[0], buf, w.n);
            } else {
                bool has_nan = false;
                for (size_t j = 0; j < w.n; j++)
                    has_nan |= isnan(w.v[j]);
                double med = pql__quantile(0.5, buf, w.n);
                for (size_t j = 0; j < w.n; j++)
                    buf[j] = fabs(w.v[j] - med);
                v = has_nan ? NAN : pql__quantile(0.5, buf, w.n);
            }
            ok = true;
        } else if (x->ext && (x->is_rate || x->is_inc || x->is_delta)) {
            ok = pql__extended_rate(&w, &v, !x->is_delta, x->is_rate, mm->smoothed);
        } else if (x->ext) {
            if (x->x_cap < w.n + 2) {
                x->x_cap = (w.n + 2) * 2;
                x->xt = scry_arena_alloc(c->a, x->x_cap * sizeof(int64_t));
                x->xv = scry_arena_alloc(c->a, x->x_cap * sizeof(double));
            }
            struct win xw;
            ok = pql__ext_points(&w, x->xt, x->xv, &xw) && x->rf->fn(&xw, &v);
        } else if (x->is_rate || x->is_inc || x->is_delta) {
            /* direct, so the compiler inlines it: the common case */
            ok = pql__extrapolated_rate(&w, &v, !x->is_delta, x->is_rate);
        } else {
            ok = x->rf->fn(&w, &v);
        }
        if (!ok)
            continue;
        x->tmp.v[i] = v;
        x->tmp.ok[i] = 1;
        any = true;
    }
done:
    if (!any)
        return 0;
    bool drop = !x->rf->keep_name || s->drop_name;
    if (x->fn) {
        x->tmp.ls = s->ls;
        x->tmp.drop_name = drop;
        if (!c->opts->delayed_name_removal) {
            /* what pql__eval does to this call's result: names go now, and
             * two series left with one label set are its business */
            if (drop)
                x->tmp.ls = pql__drop_name(c, &s->ls);
            x->tmp.drop_name = false;
            if (!x->one_name && rf_seen(c, x, scry_labels_hash(&x->tmp.ls)))
                return PQL__BAIL;
        }
        return x->fn(c, &x->tmp, x->ud);
    }
    struct scry_labels ls = x->dup_labels ? pql__labels_dup(c, &s->ls) : s->ls;
    struct ev_series *o = pql__vec_add(c, x->out, &ls, drop);
    memcpy(o->v, x->tmp.v, c->n_steps * sizeof(double));
    memcpy(o->ok, x->tmp.ok, c->n_steps);
    return 0;
}

static int mat_arg(const struct pql_expr *e)
{
    return name_is(e, "quantile_over_time") ? 1 : 0;
}

static int eval_range_fn(struct ev_ctx *c, const struct pql_expr *e, const struct range_fn *rf,
                         struct ev_val *out)
{
    const struct pql_expr *arg = e->u.call.args[mat_arg(e)];
    struct rfx x;
    int rc = rf_setup(c, e, rf, &x);
    if (rc != 0)
        return rc;
    out->type = PQL_TYPE_VECTOR;
    x.out = &out->vec;
    if (pql__mat_streamable(c, arg)) {
        /* the points of one series at a time, not all of them in the arena */
        struct ev_matrix hdr;
        uint64_t n_samples = c->n_samples;
        rc = pql__mat_header(c, arg, &hdr);
        if (rc == 0)
            rc = rf_frame(c, &x, &hdr, true);
        x.dup_labels = true;
        if (rc == 0)
            rc = pql__stream_mat(c, arg, &x.hdr, rf_series, &x);
        if (rc != PQL__BAIL)
            return rc;
        out->vec.n = 0;
        c->n_samples = n_samples;
        x.dup_labels = false;
    }
    struct ev_val m;
    rc = pql__eval(c, arg, &m);
    if (rc == 0)
        rc = rf_frame(c, &x, &m.m, m.type == PQL_TYPE_MATRIX);
    for (size_t k = 0; rc == 0 && k < m.m.n; k++)
        rc = rf_series(c, &m.m.s[k], &x);
    return rc;
}

bool pql__is_range_fn(const struct pql_expr *e, int *mat)
{
    if (e->kind != PQL_CALL)
        return false;
    for (size_t i = 0; i < pql__n_range_fns; i++)
        if (strcmp(e->u.call.func->name, pql__range_fns[i].name) == 0) {
            *mat = mat_arg(e);
            return true;
        }
    return false;
}

int pql__stream_range_call(struct ev_ctx *c, const struct pql_expr *e, ev_vec_fn fn, void *ud)
{
    const struct range_fn *rf = NULL;
    for (size_t i = 0; i < pql__n_range_fns; i++)
        if (strcmp(e->u.call.func->name, pql__range_fns[i].name) == 0)
            rf = &pql__range_fns[i];
    assert(rf);
    const struct pql_expr *arg = e->u.call.args[mat_arg(e)];
    struct rfx x;
    struct ev_matrix hdr;
    int rc = rf_setup(c, e, rf, &x);
    if (rc == 0)
        rc = pql__mat_header(c, arg, &hdr);
    if (rc == 0)
        rc = rf_frame(c, &x, &hdr, true);
    x.fn = fn;
    x.ud = ud;
    x.one_name = one_name(arg);
    if (rc == 0)
        rc = pql__stream_mat(c, arg, &x.hdr, rf_series, &x);
    return rc;
}

static int eval_absent_over_time(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    struct ev_val m;
    int rc = pql__eval(c, e->u.call.args[0], &m);
    if (rc != 0)
        return rc;
    struct scry_labels ls;
    rc = pql__absent_labels(c, e->u.call.args[0], &ls);
    if (rc != 0)
        return rc;
    out->type = PQL_TYPE_VECTOR;
    struct ev_series *o = NULL;
    for (size_t i = 0; i < c->n_steps; i++) {
        int64_t end = m.m.win_end[i], start = end - m.m.range_ms;
        bool any = false;
        for (size_t k = 0; k < m.m.n && !any; k++) {
            const struct ev_mseries *s = &m.m.s[k];
            any = first_gt(s->t, s->n, end) > first_gt(s->t, s->n, start);
        }
        if (any)
            continue;
        if (!o)
            o = pql__vec_add(c, &out->vec, &ls, false);
        o->v[i] = 1;
        o->ok[i] = 1;
    }
    return 0;
}


int pql__eval_range_call(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out,
                         bool *handled)
{
    const char *fn = e->u.call.func->name;
    *handled = true;
    for (size_t i = 0; i < pql__n_range_fns; i++)
        if (strcmp(fn, pql__range_fns[i].name) == 0)
            return eval_range_fn(c, e, &pql__range_fns[i], out);
    if (strcmp(fn, "absent_over_time") == 0)
        return eval_absent_over_time(c, e, out);
    *handled = false;
    return 0;
}
