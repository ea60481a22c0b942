/* promql_eval_winfns.c — the per-window functions of the range-vector
 * library: rate/increase/delta (extrapolatedRate, promql_eval_win.h) and
 * the experimental anchored/smoothed variants, irate/idelta, changes,
 * resets, deriv/predict_linear (linearRegression), the *_over_time family,
 * double_exponential_smoothing, and the table by name. Each sees one
 * series' window at one step; promql_eval_frange.c drives them. Split out
 * of promql_eval_frange.c by concern. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/promql_eval_internal.h"
#include "query/promql_eval_win.h"

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

bool pql__extended_rate(const struct win *w, double *out, bool counter, bool rate, bool smoothed)
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

static bool f_rate(const struct win *w, double *o) { return pql__extrapolated_rate(w, o, true, true); }
static bool f_increase(const struct win *w, double *o) { return pql__extrapolated_rate(w, o, true, false); }
static bool f_delta(const struct win *w, double *o) { return pql__extrapolated_rate(w, o, false, false); }

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


/* changes/resets over an anchored range: the boundary value, the points
 * inside, the last value (Go's extendFloats) */
bool pql__ext_points(const struct win *w, int64_t *t, double *v, struct win *out)
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

const struct range_fn pql__range_fns[] = {
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
const size_t pql__n_range_fns = sizeof(pql__range_fns) / sizeof(pql__range_fns[0]);
