/* promql_eval_agg.c — aggregation operators. Groups are computed once per
 * input series (by/without labels), then every step folds the present
 * samples of each group: sum/avg with Prometheus's kahanSumInc, avg
 * switching to an incremental mean on overflow, stddev/stdvar by Welford,
 * topk/bottomk/limitk keeping the input series, quantile with Prometheus's
 * interpolation, count_values with Go's FormatFloat 'f' -1. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "query/promql_eval_internal.h"
#include "query/promql_internal.h"


static int cmp_nan_first(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    bool na = isnan(a), nb = isnan(b);
    if (na || nb)
        return nb - na;
    return (a > b) - (a < b);
}

double pql__quantile(double q, double *vals, size_t n)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(vals, n, sizeof(double), cmp_nan_first);
    double rank = q * (double)(n - 1);
    double lo = fmax(0, floor(rank));
    double hi = fmin((double)n - 1, lo + 1);
    double w = rank - floor(rank);
    return vals[(size_t)lo] * (1 - w) + vals[(size_t)hi] * w;
}

static bool listed(const char *name, const char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, l[i]) == 0)
            return true;
    return false;
}

static struct scry_labels group_labels(struct ev_ctx *c, const struct pql_aggregate *ag,
                                       const struct scry_labels *ls)
{
    struct scry_label *v = scry_arena_alloc(c->a, (ls->n ? ls->n : 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < ls->n; i++) {
        bool in = listed(ls->v[i].name, ag->grouping, ag->n_grouping);
        if (ag->without ? (!in && strcmp(ls->v[i].name, "__name__") != 0) : in)
            v[n++] = ls->v[i];
    }
    return (struct scry_labels){ v, n };
}

struct grp {
    double v, c, mean, cnt;
    bool seen, incr;
    size_t n_members;
};

/* topk/bottomk order: keep the larger (smaller) values, NaN last. */
struct kctx {
    const struct ev_vec *in;
    size_t step;
    bool top;
};

static int k_cmp(const struct kctx *k, size_t a, size_t b)
{
    double x = k->in->s[a].v[k->step], y = k->in->s[b].v[k->step];
    bool nx = isnan(x), ny = isnan(y);
    if (nx || ny)
        return nx - ny; /* NaN sorts last */
    if (x == y)
        return 0;
    return k->top ? (x > y ? -1 : 1) : (x < y ? -1 : 1);
}

/* The first cap of the members present at k's step (mem[0..n_mem), input
 * order) in a stable sort by k_cmp, into idx, in that order; returns how
 * many. A member goes in after every kept one that does not sort after
 * it, so ties keep input order, and one that does not beat the last of a
 * full idx is skipped: the same series and order as sorting all members
 * and taking cap, in ~n_mem comparisons a step instead of ~n_mem^2 / 4. */
static size_t k_select(const struct kctx *k, const size_t *mem, size_t n_mem, size_t *idx,
                       size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return 0;
    for (size_t m = 0; m < n_mem; m++) {
        size_t x = mem[m];
        if (!k->in->s[x].ok[k->step])
            continue;
        if (n == cap) {
            if (k_cmp(k, idx[n - 1], x) <= 0)
                continue;
            n--; /* the last one drops out */
        }
        size_t j = n;
        while (j > 0 && k_cmp(k, idx[j - 1], x) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
        n++;
    }
    return n;
}

static int agg_k(struct ev_ctx *c, const struct pql_aggregate *ag, struct ev_vec *in,
                 const uint32_t *gid, size_t n_groups, const double *param, struct ev_val *out)
{
    /* members per group, in input order */
    size_t *cnt = scry_arena_calloc(c->a, n_groups + 1, sizeof(size_t));
    for (size_t k = 0; k < in->n; k++)
        cnt[gid[k] + 1]++;
    for (size_t g = 0; g < n_groups; g++)
        cnt[g + 1] += cnt[g];
    size_t *mem = scry_arena_alloc(c->a, (in->n + 1) * sizeof(size_t));
    size_t *fill = scry_arena_calloc(c->a, n_groups + 1, sizeof(size_t));
    for (size_t k = 0; k < in->n; k++)
        mem[cnt[gid[k]] + fill[gid[k]]++] = k;
    size_t *tmp = scry_arena_alloc(c->a, (in->n + 1) * sizeof(size_t));
    struct ev_series **outs = scry_arena_calloc(c->a, in->n + 1, sizeof(*outs));
    out->type = PQL_TYPE_VECTOR;
    for (size_t i = 0; i < c->n_steps; i++) {
        double kf = param[i];
        if (ag->op != PQL_AGG_LIMIT_RATIO && isnan(kf))
            return scry_err_set(c->err, SCRY_EINVAL, "Parameter value is NaN");
        if (ag->op != PQL_AGG_LIMIT_RATIO && fabs(kf) > 9.2e18)
            return scry_err_set(c->err, SCRY_EINVAL, "Scalar value %s overflows int64",
                                pql__fmt_g(c, kf));
        int64_t kk = (int64_t)kf;
        if (ag->op != PQL_AGG_LIMIT_RATIO && kk < 1)
            continue;
        struct kctx kx = { in, i, ag->op == PQL_AGG_TOPK };
        for (size_t g = 0; g < n_groups; g++) {
            size_t n = 0;
            if (ag->op == PQL_AGG_TOPK || ag->op == PQL_AGG_BOTTOMK) {
                size_t cap = cnt[g + 1] - cnt[g];
                if ((uint64_t)kk < cap)
                    cap = (size_t)kk;
                n = k_select(&kx, mem + cnt[g], cnt[g + 1] - cnt[g], tmp, cap);
            } else {
                for (size_t j = cnt[g]; j < cnt[g + 1]; j++)
                    if (in->s[mem[j]].ok[i])
                        tmp[n++] = mem[j];
            }
            size_t take = n < (uint64_t)kk ? n : (size_t)kk;
            for (size_t j = 0; j < take; j++) {
                size_t s = tmp[j];
                if (!outs[s])
                    outs[s] = pql__vec_add(c, &out->vec, &in->s[s].ls, in->s[s].drop_name);
                outs[s]->v[i] = in->s[s].v[i];
                outs[s]->ok[i] = 1;
            }
        }
    }
    return 0;
}

/* limit_ratio(r, v): a series is kept when its label hash, as a fraction of
 * 2^64, is below r (r > 0) or at least 1 + r (r < 0), so the same series
 * stay selected from step to step and query to query. */
static int agg_limit_ratio(struct ev_ctx *c, const struct pql_aggregate *ag, struct ev_vec *in,
                           const double *param, struct ev_val *out)
{
    out->type = PQL_TYPE_VECTOR;
    double *off = scry_arena_alloc(c->a, (in->n + 1) * sizeof(double));
    for (size_t k = 0; k < in->n; k++)
        off[k] = (double)scry_labels_hash(&in->s[k].ls) / 18446744073709551615.0;
    struct ev_series **outs = scry_arena_calloc(c->a, in->n + 1, sizeof(*outs));
    for (size_t i = 0; i < c->n_steps; i++) {
        double r = param[i];
        if (isnan(r))
            return scry_err_set(c->err, SCRY_EINVAL, "Ratio value is NaN");
        if (r > 1 || r < -1) {
            double capped = r > 1 ? 1 : -1;
            pql__annotf(c, true, ag->param, "ratio value should be between -1 and 1, got %s, capping to %s",
                        pql__fmt_g(c, r), pql__fmt_g(c, capped));
            r = capped;
        }
        for (size_t k = 0; k < in->n; k++) {
            if (!in->s[k].ok[i])
                continue;
            bool keep = (r >= 0 && off[k] < r) || (r < 0 && off[k] >= 1 + r);
            if (!keep)
                continue;
            if (!outs[k])
                outs[k] = pql__vec_add(c, &out->vec, &in->s[k].ls, in->s[k].drop_name);
            outs[k]->v[i] = in->s[k].v[i];
            outs[k]->ok[i] = 1;
        }
    }
    return 0;
}

static int agg_count_values(struct ev_ctx *c, const struct pql_aggregate *ag, struct ev_vec *in,
                            const char *label, struct ev_val *out)
{
    if (!scry_label_name_valid(label, strlen(label)))
        return scry_err_set(c->err, SCRY_EINVAL, "invalid label name \"%s\"", label);
    struct ev_map map;
    pql__map_init(c, &map, in->n);
    out->type = PQL_TYPE_VECTOR;
    struct scry_buf b;
    scry_buf_init(&b);
    struct scry_labels_builder bld;
    scry_labels_builder_init(&bld, c->a);
    for (size_t i = 0; i < c->n_steps; i++) {
        for (size_t k = 0; k < in->n; k++) {
            if (!in->s[k].ok[i])
                continue;
            scry_buf_reset(&b);
            pql__put_float_f(&b, in->s[k].v[i]);
            struct scry_labels g = group_labels(c, ag, &in->s[k].ls);
            scry_labels_builder_reset(&bld, &g);
            scry_labels_builder_set(&bld, label, b.p);
            struct scry_labels ls = scry_labels_builder_labels(&bld);
            struct ev_series *o = pql__map_get(c, &map, &out->vec, &ls, false);
            if (!o->ok[i]) {
                o->ok[i] = 1;
                o->v[i] = 0;
            }
            o->v[i] += 1;
        }
    }
    scry_buf_fini(&b);
    return 0;
}

static void fold(enum pql_agg op, struct grp *g, double f)
{
    if (!g->seen) {
        g->seen = true;
        g->cnt = 1;
        g->c = 0;
        g->mean = f;
        g->incr = false;
        switch (op) {
        case PQL_AGG_STDDEV: case PQL_AGG_STDVAR:
            g->v = (isnan(f) || isinf(f)) ? NAN : 0;
            break;
        case PQL_AGG_COUNT: case PQL_AGG_GROUP:
            g->v = 1;
            break;
        default:
            g->v = f;
        }
        return;
    }
    switch (op) {
    case PQL_AGG_SUM:
        pql__kahan_inc(f, &g->v, &g->c);
        break;
    case PQL_AGG_AVG:
        g->cnt++;
        if (!g->incr) {
            double nv = g->v, nc = g->c;
            pql__kahan_inc(f, &nv, &nc);
            if (!isinf(nv)) {
                g->v = nv;
                g->c = nc;
                break;
            }
            g->incr = true;
            g->mean = g->v / (g->cnt - 1);
            g->c /= g->cnt - 1;
        }
        if (isinf(g->mean)) {
            if (isinf(f) && (g->mean > 0) == (f > 0))
                break;
            if (!isinf(f) && !isnan(f))
                break;
        }
        {
            double cur = g->mean + g->c;
            pql__kahan_inc(f / g->cnt - cur / g->cnt, &g->mean, &g->c);
        }
        break;
    case PQL_AGG_COUNT:
        g->v++;
        break;
    case PQL_AGG_MAX:
        if (g->v < f || isnan(g->v))
            g->v = f;
        break;
    case PQL_AGG_MIN:
        if (g->v > f || isnan(g->v))
            g->v = f;
        break;
    case PQL_AGG_STDDEV: case PQL_AGG_STDVAR: {
        g->cnt++;
        double delta = f - g->mean;
        g->mean += delta / g->cnt;
        g->v += delta * (f - g->mean);
        break;
    }
    default:
        break;
    }
}

static double result(enum pql_agg op, const struct grp *g)
{
    switch (op) {
    case PQL_AGG_SUM: return g->v + g->c;
    case PQL_AGG_AVG: return g->incr ? g->mean + g->c : (g->v + g->c) / g->cnt;
    case PQL_AGG_STDVAR: return g->v / g->cnt;
    case PQL_AGG_STDDEV: return sqrt(g->v / g->cnt);
    default: return g->v;
    }
}

/* ---- streaming: each input series folded into its group as it comes ------ */

/* One group's per-step state, folded exactly as fold() does for the ops
 * taken here (sum, count, group, min, max); the per-step order of the
 * folds is the input order, as in the generic path. */
struct sgrp {
    double *comp;         /* sum: Kahan compensation (the group's series in
                           * sagg.groups has the value in v, seen in ok) */
};

struct sagg {
    const struct pql_aggregate *ag;
    struct ev_map map;
    struct ev_vec groups;
    struct sgrp *g;
    size_t cap_g;
};

static bool agg_streams(enum pql_agg op)
{
    return op == PQL_AGG_SUM || op == PQL_AGG_COUNT || op == PQL_AGG_GROUP || op == PQL_AGG_MIN ||
           op == PQL_AGG_MAX;
}

/* The group of ls, created (labels copied with their strings) when new. */
static size_t sagg_group(struct ev_ctx *c, struct sagg *x, const struct scry_labels *g)
{
    struct ev_map *m = &x->map;
    struct ev_vec *v = &x->groups;
    if (v->n * 2 + 2 > m->cap)
        pql__map_grow(c, m);
    uint64_t h = scry_labels_hash(g);
    size_t k = h & (m->cap - 1);
    while (m->idx[k]) {
        struct ev_series *s = &v->s[m->idx[k] - 1];
        if (m->h[k] == h && scry_labels_equal(&s->ls, g))
            return m->idx[k] - 1;
        k = (k + 1) & (m->cap - 1);
    }
    struct scry_labels cp = pql__labels_dup(c, g);
    pql__vec_add(c, v, &cp, false);
    m->h[k] = h;
    m->idx[k] = (uint32_t)v->n;
    if (v->n > x->cap_g) {
        size_t cap = x->cap_g ? x->cap_g * 2 : 16;
        struct sgrp *ng = scry_arena_alloc(c->a, cap * sizeof(*ng));
        if (x->cap_g)
            memcpy(ng, x->g, (v->n - 1) * sizeof(*ng));
        x->g = ng;
        x->cap_g = cap;
    }
    x->g[v->n - 1].comp =
        x->ag->op == PQL_AGG_SUM ? scry_arena_calloc(c->a, c->n_steps, sizeof(double)) : NULL;
    return v->n - 1;
}

static int sagg_series(struct ev_ctx *c, const struct ev_series *s, void *ud)
{
    struct sagg *x = ud;
    const struct pql_aggregate *ag = x->ag;
    /* group labels point into s's labels: the group copies them if new */
    struct scry_label gv[64];
    struct scry_labels g;
    if (s->ls.n <= 64) {
        size_t n = 0;
        for (size_t i = 0; i < s->ls.n; i++) {
            bool in = listed(s->ls.v[i].name, ag->grouping, ag->n_grouping);
            if (ag->without ? (!in && strcmp(s->ls.v[i].name, "__name__") != 0) : in)
                gv[n++] = s->ls.v[i];
        }
        g = (struct scry_labels){ gv, n };
    } else {
        g = group_labels(c, ag, &s->ls);
    }
    size_t gi = sagg_group(c, x, &g);
    struct sgrp *sg = &x->g[gi];
    struct ev_series *o = &x->groups.s[gi];
    if (s->drop_name && scry_labels_get(&g, "__name__"))
        o->drop_name = true;
    const double *sv = s->v;
    const uint8_t *sok = s->ok;
    double *ov = o->v, *comp = sg->comp;
    uint8_t *ook = o->ok;
    const size_t n_steps = c->n_steps;
    /* One loop per op (the op test stays out of the per-step loop): a step
     * the series has is copied into an empty group slot (FIRST) or merged
     * into a filled one (MERGE). */
#define SAGG_STEPS(FIRST, MERGE)                                                                \
    for (size_t i = 0; i < n_steps; i++) {                                                      \
        if (!sok[i])                                                                            \
            continue;                                                                           \
        if (!ook[i]) {                                                                          \
            ook[i] = 1;                                                                         \
            FIRST;                                                                              \
        } else {                                                                                \
            MERGE;                                                                              \
        }                                                                                       \
    }
    switch (ag->op) {
    case PQL_AGG_SUM:
        SAGG_STEPS((ov[i] = sv[i], comp[i] = 0), pql__kahan_inc(sv[i], &ov[i], &comp[i]))
        break;
    case PQL_AGG_COUNT:
        SAGG_STEPS(ov[i] = 1, ov[i]++)
        break;
    case PQL_AGG_GROUP:
        SAGG_STEPS(ov[i] = 1, (void)0)
        break;
    case PQL_AGG_MAX:
        SAGG_STEPS(ov[i] = sv[i], if (ov[i] < sv[i] || isnan(ov[i])) ov[i] = sv[i])
        break;
    default: /* MIN */
        SAGG_STEPS(ov[i] = sv[i], if (ov[i] > sv[i] || isnan(ov[i])) ov[i] = sv[i])
        break;
    }
#undef SAGG_STEPS
    return pql__check_limits(c);
}

/* 0 done, PQL__BAIL: evaluate the generic way. */
static int agg_stream(struct ev_ctx *c, const struct pql_aggregate *ag, struct ev_val *out)
{
    struct sagg x = { .ag = ag };
    pql__map_init(c, &x.map, 64);
    uint64_t n_samples = c->n_samples;
    int rc = pql__stream_vec(c, ag->expr, sagg_series, &x);
    if (rc == PQL__BAIL) {
        c->n_samples = n_samples;
        return rc;
    }
    if (rc != 0)
        return rc;
    if (ag->op == PQL_AGG_SUM)
        for (size_t k = 0; k < x.groups.n; k++)
            for (size_t i = 0; i < c->n_steps; i++)
                if (x.groups.s[k].ok[i])
                    x.groups.s[k].v[i] += x.g[k].comp[i];
    memset(out, 0, sizeof(*out));
    out->type = PQL_TYPE_VECTOR;
    out->vec = x.groups;
    return 0;
}

int pql__eval_aggregate(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    const struct pql_aggregate *ag = &e->u.agg;
    if (!ag->param && agg_streams(ag->op) && pql__vec_streamable(c, ag->expr)) {
        int src = agg_stream(c, ag, out);
        if (src != PQL__BAIL)
            return src;
    }
    struct ev_val pv = { 0 }, in;
    int rc = 0;
    if (ag->param)
        rc = pql__eval(c, ag->param, &pv);
    if (rc == 0)
        rc = pql__eval(c, ag->expr, &in);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->type = PQL_TYPE_VECTOR;
    if (ag->op == PQL_AGG_COUNT_VALUES)
        return agg_count_values(c, ag, &in.vec, pv.str, out);
    /* group ids */
    uint32_t *gid = scry_arena_alloc(c->a, (in.vec.n + 1) * sizeof(uint32_t));
    struct ev_map map;
    pql__map_init(c, &map, in.vec.n);
    struct ev_vec groups = { 0 };
    for (size_t k = 0; k < in.vec.n; k++) {
        struct scry_labels g = group_labels(c, ag, &in.vec.s[k].ls);
        struct ev_series *o = pql__map_get(c, &map, &groups, &g, false);
        if (in.vec.s[k].drop_name && scry_labels_get(&g, "__name__"))
            o->drop_name = true;
        gid[k] = (uint32_t)(o - groups.s);
    }
    if (ag->op == PQL_AGG_TOPK || ag->op == PQL_AGG_BOTTOMK || ag->op == PQL_AGG_LIMITK)
        return agg_k(c, ag, &in.vec, gid, groups.n, pv.sc, out);
    if (ag->op == PQL_AGG_LIMIT_RATIO)
        return agg_limit_ratio(c, ag, &in.vec, pv.sc, out);
    struct grp *gs = scry_arena_alloc(c->a, (groups.n + 1) * sizeof(*gs));
    double *qv = NULL;
    size_t *qn = NULL;
    size_t *qoff = NULL;
    if (ag->op == PQL_AGG_QUANTILE) {
        qv = scry_arena_alloc(c->a, (in.vec.n + 1) * sizeof(double));
        qn = scry_arena_alloc(c->a, (groups.n + 1) * sizeof(size_t));
        qoff = scry_arena_calloc(c->a, groups.n + 1, sizeof(size_t));
        for (size_t k = 0; k < in.vec.n; k++)
            qoff[gid[k] + 1]++;
        for (size_t g = 0; g < groups.n; g++)
            qoff[g + 1] += qoff[g];
    }
    out->vec = groups;
    if (ag->op == PQL_AGG_QUANTILE)
        for (size_t i = 0; i < c->n_steps; i++)
            if (!(pv.sc[i] >= 0 && pv.sc[i] <= 1))
                pql__annotf(c, true, ag->param, "quantile value should be between 0 and 1, got %s",
                            pql__fmt_g(c, pv.sc[i]));
    for (size_t i = 0; i < c->n_steps; i++) {
        rc = pql__check_limits(c);
        if (rc != 0)
            return rc;
        memset(gs, 0, groups.n * sizeof(*gs));
        if (qn)
            memset(qn, 0, groups.n * sizeof(size_t));
        for (size_t k = 0; k < in.vec.n; k++) {
            if (!in.vec.s[k].ok[i])
                continue;
            double f = in.vec.s[k].v[i];
            if (ag->op == PQL_AGG_QUANTILE) {
                uint32_t g = gid[k];
                qv[qoff[g] + qn[g]++] = f;
                gs[g].seen = true;
            } else {
                fold(ag->op, &gs[gid[k]], f);
            }
        }
        for (size_t g = 0; g < groups.n; g++) {
            groups.s[g].ok[i] = gs[g].seen;
            if (!gs[g].seen)
                continue;
            groups.s[g].v[i] = ag->op == PQL_AGG_QUANTILE
                                   ? pql__quantile(pv.sc[i], qv + qoff[g], qn[g])
                                   : result(ag->op, &gs[g]);
        }
    }
    return 0;
}
