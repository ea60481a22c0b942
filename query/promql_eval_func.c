/* promql_eval_func.c — the function library. Range-vector functions run per
 * series and per step over the window (end - range, end] of the argument's
 * raw points (found by binary search, no copying); instant-vector functions
 * map values or relabel series. Ports of Prometheus's functions.go and
 * quantile.go (extrapolatedRate, instantValue, linearRegression,
 * BucketQuantile with its monotonicity fix, label_replace's Expand). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <assert.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "query/promql_eval_internal.h"

struct win {
    const int64_t *t;
    const double *v;
    size_t n;
    int64_t start, end, range, ts; /* window bounds, range, step time (ms) */
    const double *arg;             /* the scalar arguments at this step */
};

typedef bool (*win_fn)(const struct win *w, double *out);

static bool name_is(const struct pql_expr *e, const char *n)
{
    return strcmp(e->u.call.func->name, n) == 0;
}

/* ---- range-vector functions ------------------------------------------------ */

static bool extrapolated_rate(const struct win *w, double *out, bool counter, bool rate)
{
    if (w->n < 2)
        return false;
    double r = w->v[w->n - 1] - w->v[0];
    if (counter) {
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
static int scalar_args(struct ev_ctx *c, const struct pql_call *call, double **sc, int skip)
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

static int absent_labels(struct ev_ctx *c, const struct pql_expr *arg, struct scry_labels *out);

static int eval_range_fn(struct ev_ctx *c, const struct pql_expr *e, const struct range_fn *rf,
                         struct ev_val *out)
{
    const struct pql_call *call = &e->u.call;
    int mi = name_is(e, "quantile_over_time") ? 1 : 0;
    double *sc[PQL_FUNC_MAX_ARGS];
    int rc = scalar_args(c, call, sc, mi);
    struct ev_val m;
    if (rc == 0)
        rc = pql__eval(c, call->args[mi], &m);
    if (rc != 0)
        return rc;
    if (name_is(e, "double_exponential_smoothing") || name_is(e, "holt_winters")) {
        for (size_t i = 0; i < c->n_steps; i++) {
            double sf = sc[1][i], tf = sc[2][i];
            if (!(sf > 0 && sf < 1))
                return scry_err_set(c->err, SCRY_EINVAL, "invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf);
            if (!(tf > 0 && tf < 1))
                return scry_err_set(c->err, SCRY_EINVAL, "invalid trend factor. Expected: 0 < tf < 1, got: %f", tf);
        }
    }
    out->type = PQL_TYPE_VECTOR;
    bool quant = name_is(e, "quantile_over_time"), mad = name_is(e, "mad_over_time");
    if (m.type == PQL_TYPE_MATRIX && (m.m.anchored || m.m.smoothed)) {
        static const char *anch[] = { "changes", "delta", "increase", "rate", "resets" };
        bool ok = false;
        for (size_t j = 0; j < 5; j++)
            if (strcmp(call->func->name, anch[j]) == 0)
                ok = !m.m.smoothed || (j != 0 && j != 4);
        if (!ok)
            return scry_err_set(c->err, SCRY_EINVAL, m.m.smoothed
                ? "smoothed modifier can only be used with: delta, increase, rate - not with %s"
                : "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with %s",
                call->func->name);
    }
    bool ext = m.m.anchored || m.m.smoothed;
    bool is_rate = name_is(e, "rate"), is_inc = name_is(e, "increase"), is_delta = name_is(e, "delta");
    int64_t *xt = NULL;
    double *xv = NULL;
    size_t x_cap = 0;
    double *buf = NULL;
    size_t buf_cap = 0;
    double argv[PQL_FUNC_MAX_ARGS];
    for (size_t k = 0; k < m.m.n; k++) {
        const struct ev_mseries *s = &m.m.s[k];
        struct ev_series *o = NULL;
        rc = pql__check_limits(c);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < c->n_steps; i++) {
            int64_t end = m.m.win_end[i], start = end - m.m.range_ms;
            size_t lo = first_gt(s->t, s->n, start - m.m.ext_ms),
                   hi = first_gt(s->t, s->n, end + (m.m.smoothed ? m.m.ext_ms : 0));
            for (size_t j = 0; j < call->n_args && j < PQL_FUNC_MAX_ARGS; j++)
                argv[j] = sc[j] ? sc[j][i] : 0;
            struct win w = { s->t + lo, s->v + lo, hi - lo, start, end, m.m.range_ms, ev_ts(c, i), argv };
            double v;
            bool ok;
            if (quant || mad) {
                if (!w.n)
                    continue;
                if (buf_cap < w.n) {
                    buf_cap = w.n * 2;
                    buf = scry_arena_alloc(c->a, buf_cap * sizeof(double));
                }
                memcpy(buf, w.v, w.n * sizeof(double));
                if (quant) {
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
            } else if (ext && (is_rate || is_inc || is_delta)) {
                ok = extended_rate(&w, &v, !is_delta, is_rate, m.m.smoothed);
            } else if (ext) {
                if (x_cap < w.n + 2) {
                    x_cap = (w.n + 2) * 2;
                    xt = scry_arena_alloc(c->a, x_cap * sizeof(int64_t));
                    xv = scry_arena_alloc(c->a, x_cap * sizeof(double));
                }
                struct win xw;
                ok = ext_points(&w, xt, xv, &xw) && rf->fn(&xw, &v);
            } else {
                ok = rf->fn(&w, &v);
            }
            if (!ok)
                continue;
            if (!o)
                o = pql__vec_add(c, &out->vec, &s->ls, !rf->keep_name || s->drop_name);
            o->v[i] = v;
            o->ok[i] = 1;
        }
    }
    return 0;
}

static int eval_absent_over_time(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    struct ev_val m;
    int rc = pql__eval(c, e->u.call.args[0], &m);
    if (rc != 0)
        return rc;
    struct scry_labels ls;
    rc = absent_labels(c, e->u.call.args[0], &ls);
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

/* ---- instant-vector math ----------------------------------------------------- */

static double go_min(double a, double b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    return a < b ? a : b;
}
static double go_max(double a, double b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    return a > b ? a : b;
}

static double sgn(double x)
{
    return x > 0 ? 1 : x < 0 ? -1 : x;
}

struct math_fn {
    const char *name;
    double (*fn)(double);
};
static double deg(double x) { return x * 180 / M_PI; }
static double rad(double x) { return x * M_PI / 180; }
static const struct math_fn math_fns[] = {
    { "abs", fabs }, { "ceil", ceil }, { "floor", floor }, { "exp", exp }, { "sqrt", sqrt },
    { "ln", log }, { "log2", log2 }, { "log10", log10 }, { "sgn", sgn }, { "sin", sin },
    { "cos", cos }, { "tan", tan }, { "asin", asin }, { "acos", acos }, { "atan", atan },
    { "sinh", sinh }, { "cosh", cosh }, { "tanh", tanh }, { "asinh", asinh },
    { "acosh", acosh }, { "atanh", atanh }, { "deg", deg }, { "rad", rad },
};

/* Applies fn to every value; drops the name. */
static int map_values(struct ev_ctx *c, struct ev_val *v, double (*fn)(double, const double *),
                      double **sc)
{
    double argv[PQL_FUNC_MAX_ARGS];
    for (size_t k = 0; k < v->vec.n; k++) {
        struct ev_series *s = &v->vec.s[k];
        s->drop_name = true;
        for (size_t i = 0; i < c->n_steps; i++) {
            if (!s->ok[i])
                continue;
            for (size_t j = 0; j < PQL_FUNC_MAX_ARGS; j++)
                argv[j] = sc && sc[j] ? sc[j][i] : 0;
            s->v[i] = fn(s->v[i], argv);
        }
    }
    return 0;
}

static double m_round(double x, const double *a)
{
    double to = a[1];
    double inv = 1.0 / to;
    return floor(x * inv + 0.5) / inv;
}
static double m_clamp(double x, const double *a) { return go_max(a[1], go_min(a[2], x)); }
static double m_clamp_min(double x, const double *a) { return go_max(a[1], x); }
static double m_clamp_max(double x, const double *a) { return go_min(a[1], x); }

static struct tm to_tm(double x)
{
    time_t t = (time_t)(int64_t)x;
    struct tm tm;
    gmtime_r(&t, &tm);
    return tm;
}
static double t_minute(double x, const double *a) { (void)a; return to_tm(x).tm_min; }
static double t_hour(double x, const double *a) { (void)a; return to_tm(x).tm_hour; }
static double t_dom(double x, const double *a) { (void)a; return to_tm(x).tm_mday; }
static double t_dow(double x, const double *a) { (void)a; return to_tm(x).tm_wday; }
static double t_doy(double x, const double *a) { (void)a; return to_tm(x).tm_yday + 1; }
static double t_month(double x, const double *a) { (void)a; return to_tm(x).tm_mon + 1; }
static double t_year(double x, const double *a) { (void)a; return to_tm(x).tm_year + 1900; }
static double t_dim(double x, const double *a)
{
    (void)a;
    struct tm tm = to_tm(x);
    static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y = tm.tm_year + 1900;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d[tm.tm_mon] + (tm.tm_mon == 1 && leap);
}

struct time_fn {
    const char *name;
    double (*fn)(double, const double *);
};
static const struct time_fn time_fns[] = {
    { "minute", t_minute }, { "hour", t_hour }, { "day_of_month", t_dom },
    { "day_of_week", t_dow }, { "day_of_year", t_doy }, { "days_in_month", t_dim },
    { "month", t_month }, { "year", t_year },
};

/* ---- absent --------------------------------------------------------------- */

static int absent_labels(struct ev_ctx *c, const struct pql_expr *arg, struct scry_labels *out)
{
    arg = pql__unparen(arg);
    const struct pql_vector_sel *vs = NULL;
    if (arg->kind == PQL_VECTOR_SEL)
        vs = &arg->u.vs;
    else if (arg->kind == PQL_MATRIX_SEL)
        vs = &arg->u.ms.vs->u.vs;
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, c->a);
    scry_labels_builder_reset(&b, &(struct scry_labels){ NULL, 0 });
    if (vs) {
        for (size_t i = 0; i < vs->n_matchers; i++) {
            const struct scry_matcher *m = &vs->matchers[i];
            if (strcmp(m->name, "__name__") == 0)
                continue;
            bool seen = false;
            for (size_t j = 0; j < i; j++)
                if (strcmp(vs->matchers[j].name, m->name) == 0)
                    seen = true;
            if (m->type == SCRY_MATCH_EQ && !seen)
                scry_labels_builder_set(&b, m->name, m->value);
            else
                scry_labels_builder_del(&b, m->name);
        }
    }
    *out = scry_labels_builder_labels(&b);
    return 0;
}

/* ---- label_replace / label_join --------------------------------------------- */

static void expand(struct scry_buf *o, const char *tmpl, const char *src, PCRE2_SIZE *ov,
                   int n_groups, pcre2_code *re)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p != '$') {
            scry_buf_putc(o, *p);
            continue;
        }
        p++;
        if (*p == '$') {
            scry_buf_putc(o, '$');
            continue;
        }
        const char *name;
        size_t len;
        bool brace = *p == '{';
        if (brace) {
            name = p + 1;
            const char *e = strchr(name, '}');
            if (!e) {
                scry_buf_putc(o, '$');
                p--;
                continue;
            }
            len = (size_t)(e - name);
            p = e;
        } else {
            name = p;
            len = 0;
            while (name[len] == '_' || (name[len] >= '0' && name[len] <= '9') ||
                   (name[len] >= 'a' && name[len] <= 'z') || (name[len] >= 'A' && name[len] <= 'Z'))
                len++;
            if (!len) {
                scry_buf_putc(o, '$');
                p--;
                continue;
            }
            p = name + len - 1;
        }
        int g = -1;
        bool num = len > 0;
        for (size_t i = 0; i < len; i++)
            if (name[i] < '0' || name[i] > '9')
                num = false;
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "%.*s", (int)len, name);
        if (num)
            g = atoi(tmp);
        else
            g = pcre2_substring_number_from_name(re, (PCRE2_SPTR)tmp);
        if (g >= 0 && g < n_groups && ov[2 * g] != PCRE2_UNSET)
            scry_buf_put(o, src + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    }
}

static struct scry_labels set_label(struct ev_ctx *c, const struct scry_labels *ls,
                                    const char *name, const char *val)
{
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, c->a);
    scry_labels_builder_reset(&b, ls);
    scry_labels_builder_set(&b, name, val);
    return scry_labels_builder_labels(&b);
}

static int eval_label_replace(struct ev_ctx *c, const struct pql_call *call, struct ev_val *v)
{
    struct ev_val a[4];
    for (int j = 0; j < 4; j++) {
        int rc = pql__eval(c, call->args[j + 1], &a[j]);
        if (rc != 0)
            return rc;
    }
    const char *dst = a[0].str, *repl = a[1].str, *src = a[2].str, *rs = a[3].str;
    char *pat = scry_arena_printf(c->a, "^(?s:%s)$", rs);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &eo, NULL);
    if (!re)
        return scry_err_set(c->err, SCRY_EINVAL, "invalid regular expression in label_replace(): %s", rs);
    if (!scry_label_name_valid(dst, strlen(dst))) {
        pcre2_code_free(re);
        return scry_err_set(c->err, SCRY_EINVAL, "invalid destination label name in label_replace(): %s", dst);
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int n_groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &n_groups);
    n_groups++;
    struct scry_buf o;
    scry_buf_init(&o);
    for (size_t k = 0; k < v->vec.n; k++) {
        struct ev_series *s = &v->vec.s[k];
        const char *sv = scry_labels_get(&s->ls, src);
        if (!sv)
            sv = "";
        int r = pcre2_match(re, (PCRE2_SPTR)sv, strlen(sv), 0, 0, md, NULL);
        if (r < 0)
            continue;
        scry_buf_reset(&o);
        scry_buf_putc(&o, 0);
        o.len = 0;
        expand(&o, repl, sv, pcre2_get_ovector_pointer(md), n_groups, re);
        s->ls = set_label(c, &s->ls, dst, o.p ? o.p : "");
        if (strcmp(dst, "__name__") == 0)
            s->drop_name = false;
    }
    scry_buf_fini(&o);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return 0;
}

static int eval_label_join(struct ev_ctx *c, const struct pql_call *call, struct ev_val *v)
{
    struct ev_val a[PQL_FUNC_MAX_ARGS + 16];
    size_t n = call->n_args - 1;
    if (n > sizeof(a) / sizeof(a[0]))
        n = sizeof(a) / sizeof(a[0]);
    for (size_t j = 0; j < n; j++) {
        int rc = pql__eval(c, call->args[j + 1], &a[j]);
        if (rc != 0)
            return rc;
    }
    const char *dst = a[0].str, *sep = a[1].str;
    if (!scry_label_name_valid(dst, strlen(dst)))
        return scry_err_set(c->err, SCRY_EINVAL, "invalid destination label name in label_join(): %s", dst);
    for (size_t j = 2; j < n; j++)
        if (!scry_label_name_valid(a[j].str, strlen(a[j].str)))
            return scry_err_set(c->err, SCRY_EINVAL, "invalid source label name in label_join(): %s", a[j].str);
    struct scry_buf o;
    scry_buf_init(&o);
    for (size_t k = 0; k < v->vec.n; k++) {
        struct ev_series *s = &v->vec.s[k];
        scry_buf_reset(&o);
        scry_buf_putc(&o, 0);
        o.len = 0;
        for (size_t j = 2; j < n; j++) {
            if (j > 2)
                scry_buf_puts(&o, sep);
            const char *sv = scry_labels_get(&s->ls, a[j].str);
            if (sv)
                scry_buf_puts(&o, sv);
        }
        s->ls = set_label(c, &s->ls, dst, o.p ? o.p : "");
        if (strcmp(dst, "__name__") == 0)
            s->drop_name = false;
    }
    scry_buf_fini(&o);
    return 0;
}

/* ---- histogram_quantile / histogram_fraction over classic buckets ----------- */

struct bucket {
    double ub, count;
};

static int cmp_bucket(const void *x, const void *y)
{
    double a = ((const struct bucket *)x)->ub, b = ((const struct bucket *)y)->ub;
    return (a > b) - (a < b);
}

static bool almost_eq(double a, double b, double eps)
{
    const double min_normal = 2.2250738585072014e-308;
    if (a == b)
        return true;
    double sum = fabs(a) + fabs(b), diff = fabs(a - b);
    if (a == 0 || b == 0 || sum < min_normal)
        return diff < eps * min_normal;
    return diff / fmin(sum, 1.7976931348623157e308) < eps;
}

static size_t prep_buckets(struct bucket *b, size_t n, bool *forced)
{
    qsort(b, n, sizeof(*b), cmp_bucket);
    size_t i = 0;
    struct bucket last = b[0];
    for (size_t k = 1; k < n; k++) {
        if (b[k].ub == last.ub) {
            last.count += b[k].count;
        } else {
            b[i++] = last;
            last = b[k];
        }
    }
    b[i++] = last;
    double prev = b[0].count;
    for (size_t k = 1; k < i; k++) {
        double cur = b[k].count;
        if (cur == prev)
            continue;
        if (almost_eq(prev, cur, 1e-12)) {
            b[k].count = prev;
            continue;
        }
        if (cur < prev) {
            b[k].count = prev;
            *forced = true;
            continue;
        }
        prev = cur;
    }
    return i;
}

static double bucket_quantile(double q, struct bucket *b, size_t n, bool *forced)
{
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(b, n, sizeof(*b), cmp_bucket);
    if (!isinf(b[n - 1].ub) || b[n - 1].ub < 0)
        return NAN;
    n = prep_buckets(b, n, forced);
    if (n < 2)
        return NAN;
    double obs = b[n - 1].count;
    if (obs == 0)
        return NAN;
    double rank = q * obs;
    size_t k = 0;
    while (k < n - 1 && !(b[k].count >= rank))
        k++;
    if (k == n - 1)
        return b[n - 2].ub;
    if (k == 0 && b[0].ub <= 0)
        return b[0].ub;
    double start = 0, end = b[k].ub, count = b[k].count;
    if (k > 0) {
        start = b[k - 1].ub;
        count -= b[k - 1].count;
        rank -= b[k - 1].count;
    }
    return start + (end - start) * (rank / count);
}

static double bucket_fraction(double lower, double upper, struct bucket *b, size_t n)
{
    bool forced = false;
    qsort(b, n, sizeof(*b), cmp_bucket);
    if (!isinf(b[n - 1].ub) || b[n - 1].ub < 0)
        return NAN;
    n = prep_buckets(b, n, &forced);
    double count = b[n - 1].count;
    if (count == 0 || isnan(lower) || isnan(upper))
        return NAN;
    if (lower >= upper)
        return 0;
    double rank = 0, lr = 0, ur = 0;
    bool ls = false, us = false;
    for (size_t i = 0; i < n; i++) {
        double lb = i > 0 ? b[i - 1].ub : (b[i].ub > 0 ? 0 : -INFINITY);
        double ub = b[i].ub;
        if (i == 0 && b[i].ub <= 0)
            lb = -INFINITY;
        if (!ls && ub >= lower) {
            if (lower <= lb)
                lr = rank;
            else if (isinf(ub) || isinf(lb))
                lr = isinf(ub) ? rank : b[i].count;
            else
                lr = rank + (b[i].count - rank) * (lower - lb) / (ub - lb);
            ls = true;
        }
        if (!us && ub >= upper) {
            if (upper >= ub)
                ur = b[i].count;
            else if (upper <= lb)
                ur = rank;
            else if (isinf(lb) || isinf(ub))
                ur = isinf(ub) ? rank : b[i].count;
            else
                ur = rank + (b[i].count - rank) * (upper - lb) / (ub - lb);
            us = true;
        }
        if (ls && us)
            break;
        rank = b[i].count;
    }
    if (!ls || lr > count)
        lr = count;
    if (!us || ur > count)
        ur = count;
    return (ur - lr) / count;
}

/* OpenMetrics float text for a quantile label: Go's 'g' -1, ".0" appended
 * to integers ("0.0", "0.25", "1.0", "-0.1") */
static const char *om_float(struct ev_ctx *c, double v)
{
    const char *g = pql__fmt_g(c, v);
    if (strpbrk(g, ".eIN"))
        return g;
    return scry_arena_printf(c->a, "%s.0", g);
}

static int eval_histogram_classic(struct ev_ctx *c, const struct pql_expr *e, bool fraction,
                                  struct ev_val *out);

/* histogram_quantiles(v, "label", q1, q2, ...) (experimental): one
 * histogram_quantile per q, told apart by the label. */
static int eval_histogram_quantiles(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    const struct pql_call *call = &e->u.call;
    struct ev_val lbl;
    int rc = pql__eval(c, call->args[1], &lbl);
    if (rc != 0)
        return rc;
    struct ev_vec all = { 0 };
    for (size_t j = 2; j < call->n_args; j++) {
        struct pql_expr one = *e;
        const struct pql_expr *args[2] = { call->args[j], call->args[0] };
        one.u.call.args = (struct pql_expr **)args;
        one.u.call.n_args = 2;
        struct ev_val part;
        rc = eval_histogram_classic(c, &one, false, &part);
        if (rc != 0)
            return rc;
        struct ev_val q;
        rc = pql__eval(c, call->args[j], &q);
        if (rc != 0)
            return rc;
        for (size_t k = 0; k < part.vec.n; k++) {
            struct ev_series *ps = &part.vec.s[k];
            if (scry_labels_get(&ps->ls, lbl.str))
                return scry_err_set(c->err, SCRY_EINVAL,
                                    "label %s already exists in the input of histogram_quantiles()", lbl.str);
            struct scry_labels_builder b;
            scry_labels_builder_init(&b, c->a);
            scry_labels_builder_reset(&b, &ps->ls);
            scry_labels_builder_set(&b, lbl.str, om_float(c, q.sc[0]));
            struct scry_labels ls = scry_labels_builder_labels(&b);
            struct ev_series *o = pql__vec_add(c, &all, &ls, true);
            memcpy(o->v, ps->v, c->n_steps * sizeof(double));
            memcpy(o->ok, ps->ok, c->n_steps);
        }
    }
    memset(out, 0, sizeof(*out));
    out->type = PQL_TYPE_VECTOR;
    out->vec = all;
    return 0;
}

static int eval_histogram_classic(struct ev_ctx *c, const struct pql_expr *e, bool fraction,
                                  struct ev_val *out)
{
    const struct pql_call *call = &e->u.call;
    size_t vi = fraction ? 2 : 1;
    double *sc[PQL_FUNC_MAX_ARGS];
    int rc = scalar_args(c, call, sc, (int)vi);
    struct ev_val v;
    if (rc == 0)
        rc = pql__eval(c, call->args[vi], &v);
    if (rc != 0)
        return rc;
    out->type = PQL_TYPE_VECTOR;
    /* groups: labels without le */
    struct ev_map map;
    pql__map_init(c, &map, v.vec.n);
    struct ev_vec groups = { 0 };
    uint32_t *gid = scry_arena_alloc(c->a, (v.vec.n + 1) * sizeof(uint32_t));
    double *ub = scry_arena_alloc(c->a, (v.vec.n + 1) * sizeof(double));
    bool *valid = scry_arena_calloc(c->a, v.vec.n + 1, sizeof(bool));
    if (!fraction)
        for (size_t i = 0; i < c->n_steps; i++)
            if (!(sc[0][i] >= 0 && sc[0][i] <= 1))
                pql__annotf(c, true, call->args[0], "quantile value should be between 0 and 1, got %s",
                            pql__fmt_g(c, sc[0][i]));
    for (size_t k = 0; k < v.vec.n; k++) {
        const char *le = scry_labels_get(&v.vec.s[k].ls, "le");
        char *end = NULL;
        if (le)
            ub[k] = strtod(le, &end);
        if (!le || end == le || *end) {
            const char *nm = scry_labels_get(&v.vec.s[k].ls, "__name__");
            pql__annotf(c, true, call->args[vi],
                        "bucket label \"le\" is missing or has a malformed value of \"%s\" for metric name \"%s\"",
                        le ? le : "", nm ? nm : "");
            continue;
        }
        valid[k] = true;
        struct scry_labels_builder b;
        scry_labels_builder_init(&b, c->a);
        scry_labels_builder_reset(&b, &v.vec.s[k].ls);
        scry_labels_builder_del(&b, "le");
        struct scry_labels ls = scry_labels_builder_labels(&b);
        struct ev_series *g = pql__map_get(c, &map, &groups, &ls, true);
        gid[k] = (uint32_t)(g - groups.s);
    }
    struct bucket *bk = scry_arena_alloc(c->a, (v.vec.n + 1) * sizeof(*bk));
    size_t *n_in = scry_arena_alloc(c->a, (groups.n + 1) * sizeof(size_t));
    size_t *off = scry_arena_calloc(c->a, groups.n + 1, sizeof(size_t));
    for (size_t k = 0; k < v.vec.n; k++)
        if (valid[k])
            off[gid[k] + 1]++;
    for (size_t g = 0; g < groups.n; g++)
        off[g + 1] += off[g];
    out->vec = groups;
    for (size_t i = 0; i < c->n_steps; i++) {
        memset(n_in, 0, groups.n * sizeof(size_t));
        for (size_t k = 0; k < v.vec.n; k++) {
            if (!valid[k] || !v.vec.s[k].ok[i])
                continue;
            uint32_t g = gid[k];
            bk[off[g] + n_in[g]++] = (struct bucket){ ub[k], v.vec.s[k].v[i] };
        }
        for (size_t g = 0; g < groups.n; g++) {
            if (!n_in[g])
                continue;
            bool forced = false;
            double r = fraction ? bucket_fraction(sc[0][i], sc[1][i], bk + off[g], n_in[g])
                                : bucket_quantile(sc[0][i], bk + off[g], n_in[g], &forced);
            if (forced) {
                const char *nm = scry_labels_get(&groups.s[g].ls, "__name__");
                pql__annotf(c, false, call->args[vi],
                            "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"%s\"",
                            nm ? nm : "");
            }
            groups.s[g].v[i] = r;
            groups.s[g].ok[i] = 1;
        }
    }
    return 0;
}

/* ---- sort ------------------------------------------------------------------- */

struct sort_ctx {
    bool desc;
    const char **labels;
    size_t n_labels;
    bool by_label;
};

/* facette/natsort's order, as sort_by_label uses: runs of digits compare
 * as numbers, everything else as bytes. */
static int natcmp(const char *a, const char *b)
{
    while (*a && *b) {
        bool da = *a >= '0' && *a <= '9', db = *b >= '0' && *b <= '9';
        size_t la = 0, lb = 0;
        while (a[la] && ((a[la] >= '0' && a[la] <= '9') == da))
            la++;
        while (b[lb] && ((b[lb] >= '0' && b[lb] <= '9') == db))
            lb++;
        if (da && db) {
            const char *x = a, *y = b;
            size_t lx = la, ly = lb;
            while (lx > 1 && *x == '0')
                x++, lx--;
            while (ly > 1 && *y == '0')
                y++, ly--;
            if (lx != ly)
                return lx < ly ? -1 : 1;
            int r = memcmp(x, y, lx);
            if (r)
                return r;
        } else {
            size_t l = la < lb ? la : lb;
            int r = memcmp(a, b, l);
            if (r)
                return r;
            if (la != lb)
                return la < lb ? -1 : 1;
        }
        a += la;
        b += lb;
    }
    return (*a != 0) - (*b != 0);
}

static int cmp_sort(const struct sort_ctx *sx, const struct ev_series *a, const struct ev_series *b)
{
    if (sx->by_label) {
        for (size_t i = 0; i < sx->n_labels; i++) {
            const char *x = scry_labels_get(&a->ls, sx->labels[i]), *y = scry_labels_get(&b->ls, sx->labels[i]);
            int r = natcmp(x ? x : "", y ? y : "");
            if (r)
                return sx->desc ? -r : r;
        }
        int r = scry_labels_cmp(&a->ls, &b->ls);
        return sx->desc ? -r : r;
    }
    double x = a->v[0], y = b->v[0];
    bool nx = isnan(x), ny = isnan(y);
    if (nx || ny)
        return nx - ny;
    if (x == y)
        return 0;
    return sx->desc ? (x > y ? -1 : 1) : (x < y ? -1 : 1);
}

static void sort_vec(struct ev_ctx *c, struct ev_vec *v, const struct sort_ctx *sx)
{
    if (c->n_steps != 1)
        return;
    /* drop series without a value, then a stable insertion sort */
    size_t w = 0;
    for (size_t k = 0; k < v->n; k++)
        if (v->s[k].ok[0])
            v->s[w++] = v->s[k];
    v->n = w;
    for (size_t i = 1; i < v->n; i++) {
        struct ev_series x = v->s[i];
        size_t j = i;
        while (j > 0 && cmp_sort(sx, &v->s[j - 1], &x) > 0) {
            v->s[j] = v->s[j - 1];
            j--;
        }
        v->s[j] = x;
    }
}

/* ---- info() (experimental) ------------------------------------------------- */

static bool is_identifying(const char *name)
{
    return strcmp(name, "instance") == 0 || strcmp(name, "job") == 0;
}

static bool str_eq0(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int eval_info(struct ev_ctx *c, const struct pql_call *call, struct ev_val *out)
{
    int rc = pql__eval(c, call->args[0], out);
    if (rc != 0)
        return rc;
    const struct pql_vector_sel *sel = NULL;
    if (call->n_args > 1) {
        const struct pql_expr *a1 = pql__unparen(call->args[1]);
        if (a1->kind == PQL_VECTOR_SEL)
            sel = &a1->u.vs;
    }
    size_t n_ms = sel ? sel->n_matchers : 0;
    struct scry_matcher *ms = scry_arena_calloc(c->a, n_ms + 1, sizeof(*ms));
    size_t n_name = 0, n_data = 0;
    for (size_t i = 0; i < n_ms; i++)
        if (strcmp(sel->matchers[i].name, "__name__") == 0)
            n_name++;
    for (size_t i = 0; i < n_ms; i++)
        ms[i] = sel->matchers[i];
    n_data = n_ms - n_name;
    bool own_default = false;
    if (n_name == 0) {
        rc = scry_matcher_init(&ms[n_ms], SCRY_MATCH_EQ, "__name__", "target_info", c->err);
        if (rc != 0)
            return rc;
        own_default = true;
        n_ms++;
    }
    /* the info series, per step */
    struct pql_expr ie = { .kind = PQL_VECTOR_SEL, .type = PQL_TYPE_VECTOR };
    ie.u.vs.matchers = ms;
    ie.u.vs.n_matchers = n_ms;
    struct ev_val info;
    rc = pql__eval_vector_sel(c, &ie, &info);
    if (rc != 0)
        goto done;
    struct ev_vec in = out->vec;
    memset(&out->vec, 0, sizeof(out->vec));
    struct ev_map map;
    pql__map_init(c, &map, in.n);
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, c->a);
    for (size_t k = 0; k < in.n; k++) {
        const struct ev_series *s = &in.s[k];
        /* a series that is itself one of the info metrics is left alone */
        bool is_info = true;
        for (size_t j = 0; j < n_ms; j++)
            if (strcmp(ms[j].name, "__name__") == 0 && !scry_matcher_matches_labels(&ms[j], &s->ls))
                is_info = false;
        for (size_t i = 0; i < c->n_steps; i++) {
            if (!s->ok[i])
                continue;
            scry_labels_builder_reset(&b, &s->ls);
            bool matched = false;
            if (!is_info) {
                for (size_t q = 0; q < info.vec.n; q++) {
                    const struct ev_series *f = &info.vec.s[q];
                    if (!f->ok[i] ||
                        !str_eq0(scry_labels_get(&f->ls, "instance"), scry_labels_get(&s->ls, "instance")) ||
                        !str_eq0(scry_labels_get(&f->ls, "job"), scry_labels_get(&s->ls, "job")))
                        continue;
                    matched = true;
                    for (size_t l = 0; l < f->ls.n; l++) {
                        const char *nm = f->ls.v[l].name;
                        if (strcmp(nm, "__name__") == 0 || is_identifying(nm) ||
                            scry_labels_get(&s->ls, nm))
                            continue;
                        bool wanted = n_data == 0;
                        for (size_t j = 0; j < n_ms && !wanted; j++)
                            wanted = strcmp(ms[j].name, nm) == 0;
                        if (wanted)
                            scry_labels_builder_set(&b, nm, f->ls.v[l].value);
                    }
                }
            }
            if (!matched && !is_info) {
                bool keep = true;
                for (size_t j = 0; j < n_ms && keep; j++)
                    if (strcmp(ms[j].name, "__name__") != 0)
                        keep = scry_matcher_matches(&ms[j], "", 0);
                if (!keep)
                    continue;
            }
            struct scry_labels ls = scry_labels_builder_labels(&b);
            struct ev_series *o = pql__map_get(c, &map, &out->vec, &ls, s->drop_name);
            if (o->ok[i]) {
                rc = scry_err_set(c->err, SCRY_EINVAL, "vector cannot contain metrics with the same labelset");
                goto done;
            }
            o->v[i] = s->v[i];
            o->ok[i] = 1;
        }
    }
done:
    if (own_default)
        scry_matcher_fini(&ms[n_ms - 1]);
    return rc;
}

/* ---- dispatch -------------------------------------------------------------- */

static int eval_timestamp(struct ev_ctx *c, const struct pql_expr *arg, struct ev_val *out)
{
    const struct pql_expr *u = pql__unparen(arg);
    int rc;
    if (u->kind == PQL_VECTOR_SEL) {
        /* the sample timestamps, not the step times */
        rc = pql__eval_vector_sel_ts(c, u, out);
        if (rc != 0)
            return rc;
        for (size_t k = 0; k < out->vec.n; k++)
            out->vec.s[k].drop_name = true;
        return 0;
    }
    rc = pql__eval(c, arg, out);
    if (rc != 0)
        return rc;
    for (size_t k = 0; k < out->vec.n; k++) {
        struct ev_series *s = &out->vec.s[k];
        s->drop_name = true;
        for (size_t i = 0; i < c->n_steps; i++)
            s->v[i] = (double)ev_ts(c, i) / 1000;
    }
    return 0;
}

int pql__eval_call(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    const struct pql_call *call = &e->u.call;
    const char *fn = call->func->name;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(range_fns) / sizeof(range_fns[0]); i++)
        if (strcmp(fn, range_fns[i].name) == 0)
            return eval_range_fn(c, e, &range_fns[i], out);
    if (strcmp(fn, "absent_over_time") == 0)
        return eval_absent_over_time(c, e, out);
    if (strcmp(fn, "time") == 0) {
        out->type = PQL_TYPE_SCALAR;
        out->sc = scry_arena_alloc(c->a, c->n_steps * sizeof(double));
        for (size_t i = 0; i < c->n_steps; i++)
            out->sc[i] = (double)ev_ts(c, i) / 1000;
        return 0;
    }
    if (strcmp(fn, "start") == 0 || strcmp(fn, "end") == 0 || strcmp(fn, "step") == 0 ||
        strcmp(fn, "range") == 0) {
        double v = fn[0] == 's' && fn[1] == 't' && fn[2] == 'a' ? (double)c->q_start / 1000
                   : fn[0] == 'e' ? (double)c->q_end / 1000
                   : fn[0] == 'r' ? (double)(c->q_end - c->q_start) / 1000
                                  : (double)(c->is_range ? c->q_step : 0) / 1000;
        out->type = PQL_TYPE_SCALAR;
        out->sc = pql__scalar_const(c, v);
        return 0;
    }
    if (strcmp(fn, "min_of") == 0 || strcmp(fn, "max_of") == 0) {
        double *sc[PQL_FUNC_MAX_ARGS] = { 0 };
        int rc = scalar_args(c, call, sc, -1);
        if (rc != 0)
            return rc;
        out->type = PQL_TYPE_SCALAR;
        out->sc = scry_arena_alloc(c->a, c->n_steps * sizeof(double));
        for (size_t i = 0; i < c->n_steps; i++) {
            double m = sc[0][i];
            for (size_t j = 1; j < call->n_args && j < PQL_FUNC_MAX_ARGS; j++)
                m = fn[1] == 'i' ? go_min(m, sc[j][i]) : go_max(m, sc[j][i]);
            out->sc[i] = m;
        }
        return 0;
    }
    if (strcmp(fn, "pi") == 0) {
        out->type = PQL_TYPE_SCALAR;
        out->sc = pql__scalar_const(c, M_PI);
        return 0;
    }
    if (strcmp(fn, "vector") == 0) {
        struct ev_val s;
        int rc = pql__eval(c, call->args[0], &s);
        if (rc != 0)
            return rc;
        out->type = PQL_TYPE_VECTOR;
        struct ev_series *o = pql__vec_add(c, &out->vec, &(struct scry_labels){ NULL, 0 }, false);
        memcpy(o->v, s.sc, c->n_steps * sizeof(double));
        memset(o->ok, 1, c->n_steps);
        return 0;
    }
    if (strcmp(fn, "scalar") == 0) {
        struct ev_val v;
        int rc = pql__eval(c, call->args[0], &v);
        if (rc != 0)
            return rc;
        out->type = PQL_TYPE_SCALAR;
        out->sc = pql__scalar_const(c, NAN);
        for (size_t i = 0; i < c->n_steps; i++) {
            size_t n = 0;
            for (size_t k = 0; k < v.vec.n; k++)
                if (v.vec.s[k].ok[i]) {
                    n++;
                    out->sc[i] = v.vec.s[k].v[i];
                }
            if (n != 1)
                out->sc[i] = NAN;
        }
        return 0;
    }
    if (strcmp(fn, "absent") == 0) {
        struct ev_val v;
        int rc = pql__eval(c, call->args[0], &v);
        if (rc != 0)
            return rc;
        struct scry_labels ls;
        absent_labels(c, call->args[0], &ls);
        out->type = PQL_TYPE_VECTOR;
        struct ev_series *o = NULL;
        for (size_t i = 0; i < c->n_steps; i++) {
            bool any = false;
            for (size_t k = 0; k < v.vec.n && !any; k++)
                any = v.vec.s[k].ok[i];
            if (any)
                continue;
            if (!o)
                o = pql__vec_add(c, &out->vec, &ls, false);
            o->v[i] = 1;
            o->ok[i] = 1;
        }
        return 0;
    }
    if (strcmp(fn, "timestamp") == 0)
        return eval_timestamp(c, call->args[0], out);
    if (strcmp(fn, "info") == 0)
        return eval_info(c, call, out);
    if (strcmp(fn, "histogram_quantile") == 0)
        return eval_histogram_classic(c, e, false, out);
    if (strcmp(fn, "histogram_fraction") == 0)
        return eval_histogram_classic(c, e, true, out);
    if (strcmp(fn, "histogram_quantiles") == 0)
        return eval_histogram_quantiles(c, e, out);
    if (strncmp(fn, "histogram_", 10) == 0) {
        /* native histograms only: floats give nothing */
        out->type = PQL_TYPE_VECTOR;
        return 0;
    }
    for (size_t i = 0; i < sizeof(time_fns) / sizeof(time_fns[0]); i++) {
        if (strcmp(fn, time_fns[i].name) != 0)
            continue;
        if (call->n_args == 0) {
            out->type = PQL_TYPE_VECTOR;
            struct ev_series *o = pql__vec_add(c, &out->vec, &(struct scry_labels){ NULL, 0 }, false);
            for (size_t k = 0; k < c->n_steps; k++) {
                o->v[k] = time_fns[i].fn((double)ev_ts(c, k) / 1000, NULL);
                o->ok[k] = 1;
            }
            return 0;
        }
        int rc = pql__eval(c, call->args[0], out);
        if (rc != 0)
            return rc;
        map_values(c, out, time_fns[i].fn, NULL);
        return 0;
    }
    if (call->n_args == 0)
        return scry_err_set(c->err, SCRY_EINVAL, "function %s is not supported", fn);
    /* functions over an instant vector (first argument) */
    double *sc[PQL_FUNC_MAX_ARGS] = { 0 };
    if (strcmp(fn, "label_replace") && strcmp(fn, "label_join") && strncmp(fn, "sort_by_label", 13)) {
        int rc = scalar_args(c, call, sc, 0);
        if (rc != 0)
            return rc;
    }
    int rc = pql__eval(c, call->args[0], out);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < sizeof(math_fns) / sizeof(math_fns[0]); i++) {
        if (strcmp(fn, math_fns[i].name) != 0)
            continue;
        for (size_t k = 0; k < out->vec.n; k++) {
            struct ev_series *s = &out->vec.s[k];
            s->drop_name = true;
            for (size_t j = 0; j < c->n_steps; j++)
                if (s->ok[j])
                    s->v[j] = math_fns[i].fn(s->v[j]);
        }
        return 0;
    }
    if (strcmp(fn, "round") == 0) {
        if (!sc[1])
            sc[1] = pql__scalar_const(c, 1);
        return map_values(c, out, m_round, sc);
    }
    if (strcmp(fn, "clamp") == 0) {
        for (size_t k = 0; k < out->vec.n; k++)
            for (size_t j = 0; j < c->n_steps; j++)
                if (sc[2][j] < sc[1][j])
                    out->vec.s[k].ok[j] = 0;
        return map_values(c, out, m_clamp, sc);
    }
    if (strcmp(fn, "clamp_min") == 0)
        return map_values(c, out, m_clamp_min, sc);
    if (strcmp(fn, "clamp_max") == 0)
        return map_values(c, out, m_clamp_max, sc);
    if (strcmp(fn, "label_replace") == 0)
        return eval_label_replace(c, call, out);
    if (strcmp(fn, "label_join") == 0)
        return eval_label_join(c, call, out);
    if (strcmp(fn, "sort") == 0 || strcmp(fn, "sort_desc") == 0) {
        struct sort_ctx sx = { .desc = strcmp(fn, "sort_desc") == 0 };
        sort_vec(c, &out->vec, &sx);
        if (c->is_range)
            pql__annotf(c, true, e, "sort is ineffective for range queries since results are always ordered by labels");
        return 0;
    }
    if (strncmp(fn, "sort_by_label", 13) == 0) {
        struct sort_ctx sx = { .desc = strcmp(fn, "sort_by_label_desc") == 0, .by_label = true };
        sx.n_labels = call->n_args - 1;
        sx.labels = scry_arena_alloc(c->a, (sx.n_labels + 1) * sizeof(char *));
        for (size_t j = 1; j < call->n_args; j++) {
            struct ev_val s;
            rc = pql__eval(c, call->args[j], &s);
            if (rc != 0)
                return rc;
            sx.labels[j - 1] = s.str;
        }
        sort_vec(c, &out->vec, &sx);
        if (c->is_range)
            pql__annotf(c, true, e, "sort is ineffective for range queries since results are always ordered by labels");
        return 0;
    }
    return scry_err_set(c->err, SCRY_EINVAL, "function %s is not supported", fn);
}
