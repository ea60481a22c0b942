/* promql_eval_win.h — the window a range-vector function sees (one
 * series' raw points in (end - range, end] at one step), the function
 * table, and extrapolatedRate, shared by promql_eval_frange.c (the per
 * series driver, which inlines the rate path) and promql_eval_winfns.c
 * (the per-window functions). Internal to the evaluator. */
#ifndef SCRY_QUERY_PROMQL_EVAL_WIN_H
#define SCRY_QUERY_PROMQL_EVAL_WIN_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct win {
    const int64_t *t;
    const double *v;
    size_t n;
    int64_t start, end, range, ts; /* window bounds, range, step time (ms) */
    const double *arg;             /* the scalar arguments at this step */
    bool monotone;                 /* the whole series never decreases */
};

typedef bool (*win_fn)(const struct win *w, double *out);

struct range_fn {
    const char *name;
    win_fn fn;
    bool keep_name;
};

/* The range-vector functions by name (promql_eval_winfns.c). */
extern const struct range_fn pql__range_fns[];
extern const size_t pql__n_range_fns;

/* Prometheus's extrapolatedRate for rate/increase/delta; inlined into the
 * per-series loop, whose hot path it is. */
static inline __attribute__((always_inline)) bool pql__extrapolated_rate(const struct win *w,
                                                                       double *out, bool counter,
                                                                       bool rate)
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

/* The experimental anchored/smoothed rate, increase and delta, and the
 * anchored window of changes/resets (Go's extendFloats) into t/v. */
bool pql__extended_rate(const struct win *w, double *out, bool counter, bool rate, bool smoothed);
bool pql__ext_points(const struct win *w, int64_t *t, double *v, struct win *out);

#endif
