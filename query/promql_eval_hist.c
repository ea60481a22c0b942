/* promql_eval_hist.c — histogram_quantile, histogram_fraction and
 * histogram_quantiles over classic histograms (`_bucket` series with an
 * `le` label): a port of Prometheus's quantile.go, BucketQuantile with its
 * monotonicity fix included. Split from promql_eval_func.c, the rest of the
 * function library. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "query/promql_eval_internal.h"

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

/* histogram_quantiles(v, "label", q1, q2, ...) (experimental): one
 * histogram_quantile per q, told apart by the label. */
int pql__eval_histogram_quantiles(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
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
        rc = pql__eval_histogram_classic(c, &one, false, &part);
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

int pql__eval_histogram_classic(struct ev_ctx *c, const struct pql_expr *e, bool fraction,
                                  struct ev_val *out)
{
    const struct pql_call *call = &e->u.call;
    size_t vi = fraction ? 2 : 1;
    double *sc[PQL_FUNC_MAX_ARGS];
    int rc = pql__scalar_args(c, call, sc, (int)vi);
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

