/* promql_eval_frange.c — the range-vector functions of the library:
 * rate/increase/delta with Prometheus's extrapolatedRate (and the
 * experimental anchored/smoothed variants), irate/idelta, changes, resets,
 * deriv/predict_linear (linearRegression), the *_over_time family,
 * double_exponential_smoothing and absent_over_time. Each runs per series
 * and per step over the window (end - range, end] of the argument's raw
 * points, found by binary search without copying. Split from
 * promql_eval_func.c, which dispatches to pql__eval_range_call. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "query/promql_eval_internal.h"

struct win {
    const int64_t *t;
    const double *v;
    size_t n;
    int64_t start, end, range, ts; /* window bounds, range, step time (ms) */
    const double *arg;             /* the scalar arguments at this step */
    bool monotone;                 /* the whole series never decreases */
};

typedef bool (*win_fn)(const struct win *w, double *out);

static bool name_is(const struct pql_expr *e, const char *n)
{
    return strcmp(e->u.call.func->name, n) == 0;
}

/* ---- range-vector functions ------------------------------------------------ */

static inline __attribute__((always_inline)) bool extrapolated_rate(const struct win *w, double *out,
                                                                   bool counter, bool rate)
{
    if (w->n < 2)
        return false;
    double r = w->v[w->n - 1] - w->v[0];
    if (counter && !w->monotone) {
        double last = 0;
        for (size_t i = 0; i < w->n; i++) {
            if (w->v[i] < last)
                r += last;
            last = w->v[i];
        }
    }
    double to_start = (double)(w->t[0] - w->start) / 1000;
    double to_end = (double)(w->end - w->t[w->n - 1]) / 1000;
    double sampled = (double)(w->t[w->n - 1] - w->t[0]) / 1000;
    double avg = sampled / (double)(w->n - 1);
    double thr = avg * 1.1;
    if (to_start >= thr)
        to_start = avg / 2;
    if (counter) {
        double to_zero = to_start;
        if (r > 0 && w->v[0] >= 0)
            to_zero = sampled * (w->v[0] / r);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    if (to_end >= thr)
        to_end = avg / 2;
    double factor = (sampled + to_start + to_end) / sampled;
    if (rate)
        factor /= (double)w->range / 1000;
    *out = r * factor;
    return true;
}
/* ---- experimental anchored / smoothed ranges ---------------------------------- */

/* Go's sort.Search(n, t[i] > x), or t[i] >= x with ge */
static size_t search_gt(const int64_t *t, size_t n, int64_t x, bool ge)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ge ? t[mid] >= x : t[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Linear interpolation at `at` between points a and a+1; across a counter
 * reset the counter is taken to restart from 0 at the first point. */
static double interp(const int64_t *t, const double *v, size_t a, int64_t at, bool counter, bool left)
{
    double y1 = v[a], y2 = v[a + 1];
    (void)left;
    if (counter && y2 < y1)
        y1 = 0;
    return y1 + (y2 - y1) * (double)(at - t[a]) / (double)(t[a + 1] - t[a]);
}

/* The values at the range boundaries (the sample at or before the start for
 * anchored; interpolated for smoothed) and [*first, *last) the points
 * strictly inside. w holds the points from lookback before the window (and
 * after it, smoothed). */
static bool ext_bounds(const struct win *w, bool smoothed, bool counter, double *left,
                       double *right, size_t *first, size_t *last)
{
    if (!w->n)
        return false;
    size_t li = w->n - 1;
    size_t fi = search_gt(w->t, li, w->start, false);
    fi = fi > 0 ? fi - 1 : 0;
    if (smoothed)
        li = search_gt(w->t, li, w->end, true);
    if (w->t[li] <= w->start || w->t[fi] > w->end)
        return false;
    *left = (smoothed && w->t[fi] < w->start) ? interp(w->t, w->v, fi, w->start, counter, true)
                                               : w->v[fi];
    *right = (smoothed && li > 0 && w->t[li] > w->end)
                 ? interp(w->t, w->v, li - 1, w->end, counter, false)
                 : w->v[li];
    if (w->t[fi] <= w->start)
        fi++;
    size_t end = w->t[li] >= w->end ? li : li + 1;
    *first = fi;
    *last = end < fi ? fi : end;
    return true;
}

static bool extended_rate(const struct win *w, double *out, bool counter, bool rate, bool smoothed)
{
    double left, right;
    size_t fi, li;
    if (!ext_bounds(w, smoothed, counter, &left, &right, &fi, &li))
        return false;
    double r = right - left;
    if (counter) {
        double corr = 0, prev = left;
        for (size_t i = fi; i < li; i++) {
            if (w->v[i] < prev)
                corr += prev;
            prev = w->v[i];
        }
        if (right < prev)
            corr += prev;
        r += corr;
    }
    if (rate)
        r /= (double)w->range / 1000;
    *out = r;
    return true;
}

static bool f_rate(const struct win *w, double *o) { return extrapolated_rate(w, o, true, true); }
static bool f_increase(const struct win *w, double *o) { return extrapolated_rate(w, o, true, false); }
static bool f_delta(const struct win *w, double *o) { return extrapolated_rate(w, o, false, false); }

static bool instant_value(const struct win *w, double *out, bool rate)
{
    if (w->n < 2)
        return false;
    double last = w->v[w->n - 1], prev = w->v[w->n - 2];
    double r = (rate && last < prev) ? last : last - prev;
    int64_t iv = w->t[w->n - 1] - w->t[w->n - 2];
    if (iv == 0)
        return false;
    if (rate)
        r /= (double)iv / 1000;
    *out = r;
    return true;
}
static bool f_irate(const struct win *w, double *o) { return instant_value(w, o, true); }
static bool f_idelta(const struct win *w, double *o) { return instant_value(w, o, false); }

static bool f_changes(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    double n = 0;
    for (size_t i = 1; i < w->n; i++) {
        double p = w->v[i - 1], c = w->v[i];
        if (c != p && !(isnan(c) && isnan(p)))
            n++;
    }
    *o = n;
    return true;
}

static bool f_resets(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    double n = 0;
    for (size_t i = 1; i < w->n; i++)
        if (w->v[i] < w->v[i - 1])
            n++;
    *o = n;
    return true;
}

static void linreg(const struct win *w, int64_t icpt, double *slope, double *intercept)
{
    double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
    double init = w->v[0];
    bool const_y = true;
    for (size_t i = 0; i < w->n; i++) {
        if (const_y && i > 0 && w->v[i] != init)
            const_y = false;
        n += 1;
        double x = (double)(w->t[i] - icpt) / 1e3;
        pql__kahan_inc(x, &sx, &cx);
        pql__kahan_inc(w->v[i], &sy, &cy);
        pql__kahan_inc(x * w->v[i], &sxy, &cxy);
        pql__kahan_inc(x * x, &sx2, &cx2);
    }
    if (const_y) {
        if (isinf(init)) {
            *slope = NAN;
            *intercept = NAN;
        } else {
            *slope = 0;
            *intercept = init;
        }
        return;
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    double cov = sxy - sx * sy / n, var = sx2 - sx * sx / n;
    *slope = cov / var;
    *intercept = sy / n - *slope * sx / n;
}

static bool f_deriv(const struct win *w, double *o)
{
    if (w->n < 2)
        return false;
    double icpt;
    linreg(w, w->t[0], o, &icpt);
    return true;
}

static bool f_predict_linear(const struct win *w, double *o)
{
    if (w->n < 2)
        return false;
    double slope, icpt;
    linreg(w, w->ts, &slope, &icpt);
    *o = slope * w->arg[1] + icpt;
    return true;
}

static bool f_avg_over_time(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    double sum = 0, mean = 0, count = 0, c = 0;
    bool incr = false;
    for (size_t i = 0; i < w->n; i++) {
        double f = w->v[i];
        count++;
        if (!incr) {
            double ns = sum, nc = c;
            pql__kahan_inc(f, &ns, &nc);
            if (count == 1 || !isinf(ns)) {
                sum = ns;
                c = nc;
                continue;
            }
            incr = true;
            mean = sum / (count - 1);
            c /= count - 1;
        }
        if (isinf(mean)) {
            if (isinf(f) && (mean > 0) == (f > 0))
                continue;
            if (!isinf(f) && !isnan(f))
                continue;
        }
        double cm = mean + c;
        pql__kahan_inc(f / count - cm / count, &mean, &c);
    }
    *o = incr ? mean + c : (sum + c) / count;
    return true;
}

static bool f_sum_over_time(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    double s = 0, c = 0;
    for (size_t i = 0; i < w->n; i++)
        pql__kahan_inc(w->v[i], &s, &c);
    *o = s + c;
    return true;
}

static bool f_count_over_time(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    *o = (double)w->n;
    return true;
}

static bool f_min_over_time(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    double m = w->v[0];
    for (size_t i = 1; i < w->n; i++)
        if (w->v[i] < m || isnan(m))
            m = w->v[i];
    *o = m;
    return true;
}

static bool f_max_over_time(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    double m = w->v[0];
    for (size_t i = 1; i < w->n; i++)
        if (w->v[i] > m || isnan(m))
            m = w->v[i];
    *o = m;
    return true;
}

static bool stdvar(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    double count = 0, mean = 0, cm = 0, aux = 0, ca = 0;
    for (size_t i = 0; i < w->n; i++) {
        double f = w->v[i];
        count++;
        double delta = f - (mean + cm);
        pql__kahan_inc(delta / count, &mean, &cm);
        pql__kahan_inc(delta * (f - (mean + cm)), &aux, &ca);
    }
    *o = (aux + ca) / count;
    return true;
}
static bool f_stdvar_over_time(const struct win *w, double *o) { return stdvar(w, o); }
static bool f_stddev_over_time(const struct win *w, double *o)
{
    if (!stdvar(w, o))
        return false;
    *o = sqrt(*o);
    return true;
}

static bool f_last_over_time(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    *o = w->v[w->n - 1];
    return true;
}
static bool f_first_over_time(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    *o = w->v[0];
    return true;
}
static bool f_ts_of_last(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    *o = (double)w->t[w->n - 1] / 1000;
    return true;
}
static bool f_ts_of_first(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    *o = (double)w->t[0] / 1000;
    return true;
}
static bool ts_of_ext(const struct win *w, double *o, bool max)
{
    if (!w->n)
        return false;
    size_t k = 0;
    for (size_t i = 1; i < w->n; i++) {
        double m = w->v[k];
        if (max ? (w->v[i] >= m || isnan(m)) : (w->v[i] <= m || isnan(m)))
            k = i;
    }
    *o = (double)w->t[k] / 1000;
    return true;
}
static bool f_ts_of_max(const struct win *w, double *o) { return ts_of_ext(w, o, true); }
static bool f_ts_of_min(const struct win *w, double *o) { return ts_of_ext(w, o, false); }

static bool f_present_over_time(const struct win *w, double *o)
{
    if (!w->n)
        return false;
    *o = 1;
    return true;
}

/* quantile_over_time and mad_over_time need a buffer: eval_range_fn does them */
static bool f_needs_buffer(const struct win *w, double *o)
{
    (void)w;
    (void)o;
    return false;
}

static bool f_des(const struct win *w, double *o)
{
    double sf = w->arg[1], tf = w->arg[2];
    if (w->n < 2)
        return false;
    double s0 = 0, s1 = w->v[0], b = w->v[1] - w->v[0];
    for (size_t i = 1; i < w->n; i++) {
        double x = sf * w->v[i];
        if (i - 1 != 0)
            b = tf * (s1 - s0) + (1 - tf) * b;
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    *o = s1;
    return true;
}

struct range_fn {
    const char *name;
    win_fn fn;
    bool keep_name;
};

/* changes/resets over an anchored range: the boundary value, the points
 * inside, the last value (Go's extendFloats) */
static bool ext_points(const struct win *w, int64_t *t, double *v, struct win *out)
{
    double left, right;
    size_t fi, li;
    if (!ext_bounds(w, false, false, &left, &right, &fi, &li))
        return false;
    size_t n = 0;
    t[n] = w->start;
    v[n++] = left;
    for (size_t i = fi; i < li; i++) {
        t[n] = w->t[i];
        v[n++] = w->v[i];
    }
    t[n] = w->end;
    v[n++] = right;
    *out = *w;
    out->t = t;
    out->v = v;
    out->n = n;
    out->monotone = false;
    return true;
}

static const struct range_fn range_fns[] = {
    { "rate", f_rate, false }, { "increase", f_increase, false }, { "delta", f_delta, false },
    { "irate", f_irate, false }, { "idelta", f_idelta, false }, { "changes", f_changes, false },
    { "resets", f_resets, false }, { "deriv", f_deriv, false },
    { "predict_linear", f_predict_linear, false }, { "avg_over_time", f_avg_over_time, false },
    { "sum_over_time", f_sum_over_time, false }, { "count_over_time", f_count_over_time, false },
    { "min_over_time", f_min_over_time, false }, { "max_over_time", f_max_over_time, false },
    { "stddev_over_time", f_stddev_over_time, false },
    { "stdvar_over_time", f_stdvar_over_time, false },
    { "last_over_time", f_last_over_time, true }, { "first_over_time", f_first_over_time, true },
    { "ts_of_last_over_time", f_ts_of_last, false }, { "ts_of_first_over_time", f_ts_of_first, false },
    { "ts_of_max_over_time", f_ts_of_max, false }, { "ts_of_min_over_time", f_ts_of_min, false },
    { "present_over_time", f_present_over_time, false },
    { "quantile_over_time", f_needs_buffer, false },
    { "mad_over_time", f_needs_buffer, false },
    { "double_exponential_smoothing", f_des, false }, { "holt_winters", f_des, false },
};

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
};

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
    bool monotone = true;
    for (size_t j = 1; j < s->n && monotone; j++)
        monotone = !(s->v[j] < s->v[j - 1]);
    monotone = monotone && !(s->n && s->v[0] < 0);
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
            ok = extended_rate(&w, &v, !x->is_delta, x->is_rate, mm->smoothed);
        } else if (x->ext) {
            if (x->x_cap < w.n + 2) {
                x->x_cap = (w.n + 2) * 2;
                x->xt = scry_arena_alloc(c->a, x->x_cap * sizeof(int64_t));
                x->xv = scry_arena_alloc(c->a, x->x_cap * sizeof(double));
            }
            struct win xw;
            ok = ext_points(&w, x->xt, x->xv, &xw) && x->rf->fn(&xw, &v);
        } else if (x->is_rate || x->is_inc || x->is_delta) {
            /* direct, so the compiler inlines it: the common case */
            ok = extrapolated_rate(&w, &v, !x->is_delta, x->is_rate);
        } else {
            ok = x->rf->fn(&w, &v);
        }
        if (!ok)
            continue;
        x->tmp.v[i] = v;
        x->tmp.ok[i] = 1;
        any = true;
    }
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
            if (rf_seen(c, x, scry_labels_hash(&x->tmp.ls)))
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
    for (size_t i = 0; i < sizeof(range_fns) / sizeof(range_fns[0]); i++)
        if (strcmp(e->u.call.func->name, range_fns[i].name) == 0) {
            *mat = mat_arg(e);
            return true;
        }
    return false;
}

int pql__stream_range_call(struct ev_ctx *c, const struct pql_expr *e, ev_vec_fn fn, void *ud)
{
    const struct range_fn *rf = NULL;
    for (size_t i = 0; i < sizeof(range_fns) / sizeof(range_fns[0]); i++)
        if (strcmp(e->u.call.func->name, range_fns[i].name) == 0)
            rf = &range_fns[i];
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
    for (size_t i = 0; i < sizeof(range_fns) / sizeof(range_fns[0]); i++)
        if (strcmp(fn, range_fns[i].name) == 0)
            return eval_range_fn(c, e, &range_fns[i], out);
    if (strcmp(fn, "absent_over_time") == 0)
        return eval_absent_over_time(c, e, out);
    *handled = false;
    return 0;
}
