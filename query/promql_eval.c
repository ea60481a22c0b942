/* promql_eval.c — the evaluator's entry points (engine.h), node dispatch,
 * limits, and turning the step-wise value into a struct pql_result.
 * See promql_eval_internal.h for the value model. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/mem.h"
#include "query/promql_eval_internal.h"

#define DEFAULT_LOOKBACK_MS (5 * 60 * 1000)
#define DEFAULT_TIMEOUT_MS (2 * 60 * 1000)
#define DEFAULT_MAX_SAMPLES 50000000ULL

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int pql__check_deadline(struct ev_ctx *c)
{
    return pql__deadline(c->deadline_ns, c->err);
}

int pql__deadline(int64_t deadline_ns, struct scry_err *err)
{
    if (now_ns() > deadline_ns)
        return scry_err_set(err, SCRY_ETIMEOUT, "query timed out in query execution");
    return 0;
}

void pql__pts_grow(struct ev_pts *b)
{
    size_t cap = b->cap ? b->cap * 2 : 1024;
    b->t = scry_realloc(b->t, cap * sizeof(int64_t));
    b->v = scry_realloc(b->v, cap * sizeof(double));
    b->cap = cap;
}

int pql__check_limits(struct ev_ctx *c)
{
    if ((++c->tick & 63) != 0)
        return 0;
    if (now_ns() > c->deadline_ns)
        return scry_err_set(c->err, SCRY_ETIMEOUT, "query timed out in query execution");
    return 0;
}

int pql__count_samples(struct ev_ctx *c, uint64_t n)
{
    c->n_samples += n;
    if (c->n_samples > c->max_samples)
        return scry_err_set(c->err, SCRY_ELIMIT,
                            "query processing would load too many samples into memory in query execution");
    return 0;
}

struct scry_labels pql__labels_copy(struct ev_ctx *c, const struct scry_labels *ls)
{
    struct scry_labels r = { NULL, ls->n };
    struct scry_label *v = scry_arena_alloc(c->a, (ls->n ? ls->n : 1) * sizeof(*v));
    if (ls->n)
        memcpy(v, ls->v, ls->n * sizeof(*v));
    r.v = v;
    return r;
}

struct ev_series *pql__vec_add(struct ev_ctx *c, struct ev_vec *v, const struct scry_labels *ls,
                               bool drop_name)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        struct ev_series *s = scry_arena_alloc(c->a, cap * sizeof(*s));
        if (v->n)
            memcpy(s, v->s, v->n * sizeof(*s));
        v->s = s;
        v->cap = cap;
    }
    struct ev_series *s = &v->s[v->n++];
    s->ls = *ls;
    s->drop_name = drop_name;
    s->v = scry_arena_alloc(c->a, c->n_steps * sizeof(double));
    s->ok = scry_arena_calloc(c->a, c->n_steps, 1);
    return s;
}

void pql__annot(struct ev_ctx *c, bool warning, const char *msg)
{
    const char ***v = warning ? &c->warn : &c->info;
    size_t *n = warning ? &c->n_warn : &c->n_info, *cap = warning ? &c->cap_warn : &c->cap_info;
    /* de-duplicated by the text without the " (L:C)" position; the last wins */
    const char *p = strrchr(msg, '(');
    size_t len = p ? (size_t)(p - msg) : strlen(msg);
    for (size_t i = 0; i < *n; i++) {
        const char *q = strrchr((*v)[i], '(');
        size_t l2 = q ? (size_t)(q - (*v)[i]) : strlen((*v)[i]);
        if (l2 == len && strncmp((*v)[i], msg, len) == 0) {
            (*v)[i] = scry_arena_strdup(c->a, msg);
            return;
        }
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        const char **nv = scry_arena_alloc(c->a, nc * sizeof(*nv));
        if (*n)
            memcpy(nv, *v, *n * sizeof(*nv));
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = scry_arena_strdup(c->a, msg);
}

void pql__annotf(struct ev_ctx *c, bool warning, const struct pql_expr *at, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    char *msg = scry_arena_printf(c->a, "PromQL %s: %s (1:%u)", warning ? "warning" : "info", text,
                                  (unsigned)at->pos.start + 1);
    pql__annot(c, warning, msg);
}

const char *pql__fmt_g(struct ev_ctx *c, double v)
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    char b[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(b, sizeof(b), "%.*g", p, v);
        if (strtod(b, NULL) == v)
            break;
    }
    return scry_arena_strdup(c->a, b);
}

const char *pql__fmt_labels(struct ev_ctx *c, const struct scry_labels *ls)
{
    struct scry_buf b;
    scry_buf_init(&b);
    scry_buf_putc(&b, '{');
    for (size_t i = 0; i < ls->n; i++) {
        if (i)
            scry_buf_puts(&b, ", ");
        scry_buf_puts(&b, ls->v[i].name);
        scry_buf_putc(&b, '=');
        pql_quote(ls->v[i].value, strlen(ls->v[i].value), &b);
    }
    scry_buf_putc(&b, '}');
    const char *r = scry_arena_strdup(c->a, b.p);
    scry_buf_fini(&b);
    return r;
}

double *pql__scalar_const(struct ev_ctx *c, double x)
{
    double *v = scry_arena_alloc(c->a, c->n_steps * sizeof(double));
    for (size_t i = 0; i < c->n_steps; i++)
        v[i] = x;
    return v;
}

const struct pql_expr *pql__unparen(const struct pql_expr *e)
{
    while (e->kind == PQL_PAREN)
        e = e->u.paren;
    return e;
}

/* ---- the output map ------------------------------------------------------ */

void pql__map_init(struct ev_ctx *c, struct ev_map *m, size_t n_hint)
{
    size_t cap = 16;
    while (cap < n_hint * 2)
        cap *= 2;
    m->cap = cap;
    m->h = scry_arena_alloc(c->a, cap * sizeof(*m->h));
    m->idx = scry_arena_calloc(c->a, cap, sizeof(*m->idx));
}

void pql__map_grow(struct ev_ctx *c, struct ev_map *m)
{
    struct ev_map n;
    pql__map_init(c, &n, m->cap);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->idx[i])
            continue;
        size_t k = m->h[i] & (n.cap - 1);
        while (n.idx[k])
            k = (k + 1) & (n.cap - 1);
        n.h[k] = m->h[i];
        n.idx[k] = m->idx[i];
    }
    *m = n;
}

struct ev_series *pql__map_get(struct ev_ctx *c, struct ev_map *m, struct ev_vec *v,
                               const struct scry_labels *ls, bool drop_name)
{
    if (v->n * 2 + 2 > m->cap)
        pql__map_grow(c, m);
    uint64_t h = scry_labels_hash(ls);
    size_t k = h & (m->cap - 1);
    while (m->idx[k]) {
        struct ev_series *s = &v->s[m->idx[k] - 1];
        if (m->h[k] == h && scry_labels_equal(&s->ls, ls))
            return s;
        k = (k + 1) & (m->cap - 1);
    }
    struct scry_labels cp = pql__labels_copy(c, ls);
    pql__vec_add(c, v, &cp, drop_name);
    m->h[k] = h;
    m->idx[k] = (uint32_t)v->n;
    return &v->s[v->n - 1];
}

/* Removes __name__ (and __type__/__unit__) from series marked for it. */
struct scry_labels pql__drop_name(struct ev_ctx *c, const struct scry_labels *ls)
{
    struct scry_label *v = scry_arena_alloc(c->a, (ls->n ? ls->n : 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < ls->n; i++) {
        const char *nm = ls->v[i].name;
        /* (the first two bytes rule out nearly every name without a call) */
        if (nm[0] == '_' && nm[1] == '_' &&
            (strcmp(nm, "__name__") == 0 || strcmp(nm, "__type__") == 0 || strcmp(nm, "__unit__") == 0))
            continue;
        v[n++] = ls->v[i];
    }
    return (struct scry_labels){ v, n };
}

static int cmp_series_ls(const void *x, const void *y)
{
    return scry_labels_cmp(&(*(struct ev_series *const *)x)->ls,
                           &(*(struct ev_series *const *)y)->ls);
}

/* Prometheus's default (no delayed name removal): the node that made a new
 * value drops __name__ right here, so what comes next (aggregation by
 * __name__, label_replace onto it, the next function) sees no name. Series
 * that now share a label set at one step are Prometheus's "same labelset"
 * error, as its evaluator checks after each such step. */
static int drop_names_now(struct ev_ctx *c, struct ev_val *out)
{
    if (out->type != PQL_TYPE_VECTOR)
        return 0;
    size_t n = 0;
    for (size_t k = 0; k < out->vec.n; k++) {
        struct ev_series *s = &out->vec.s[k];
        if (!s->drop_name)
            continue;
        s->ls = pql__drop_name(c, &s->ls);
        s->drop_name = false;
        n++;
    }
    if (n == 0 || out->vec.n < 2)
        return 0;
    struct ev_series **ix = scry_arena_alloc(c->a, out->vec.n * sizeof(*ix));
    for (size_t k = 0; k < out->vec.n; k++)
        ix[k] = &out->vec.s[k];
    qsort(ix, out->vec.n, sizeof(*ix), cmp_series_ls);
    /* equal label sets at disjoint steps (a range query) are one series from
     * here on: fold the later into the first of its run and mark it dead */
    bool dead = false;
    for (size_t k = 1, first = 0; k < out->vec.n; k++) {
        if (!scry_labels_equal(&ix[first]->ls, &ix[k]->ls)) {
            first = k;
            continue;
        }
        if (k == first + 1) { /* its arrays may be shared with an input: copy */
            uint8_t *ok = scry_arena_alloc(c->a, c->n_steps);
            double *v = scry_arena_alloc(c->a, c->n_steps * sizeof(*v));
            memcpy(ok, ix[first]->ok, c->n_steps);
            memcpy(v, ix[first]->v, c->n_steps * sizeof(*v));
            ix[first]->ok = ok;
            ix[first]->v = v;
        }
        for (size_t i = 0; i < c->n_steps; i++) {
            if (!ix[k]->ok[i])
                continue;
            if (ix[first]->ok[i])
                return scry_err_set(c->err, SCRY_EINVAL,
                                    "vector cannot contain metrics with the same labelset");
            ix[first]->ok[i] = 1;
            ix[first]->v[i] = ix[k]->v[i];
        }
        ix[k]->ok = NULL;
        dead = true;
    }
    if (dead) {
        size_t w = 0;
        for (size_t k = 0; k < out->vec.n; k++)
            if (out->vec.s[k].ok)
                out->vec.s[w++] = out->vec.s[k];
        out->vec.n = w;
    }
    return 0;
}

/* ---- dispatch -------------------------------------------------------------- */

static int eval_unary(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    int rc = pql__eval(c, e->u.unary.expr, out);
    if (rc != 0 || e->u.unary.op != PQL_OP_SUB)
        return rc;
    if (out->type == PQL_TYPE_SCALAR) {
        double *v = scry_arena_alloc(c->a, c->n_steps * sizeof(double));
        for (size_t i = 0; i < c->n_steps; i++)
            v[i] = -out->sc[i];
        out->sc = v;
        return 0;
    }
    for (size_t k = 0; k < out->vec.n; k++) {
        struct ev_series *s = &out->vec.s[k];
        for (size_t i = 0; i < c->n_steps; i++)
            s->v[i] = -s->v[i];
        s->drop_name = true;
    }
    return 0;
}

static int eval_node(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    int rc = pql__check_limits(c);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    switch (e->kind) {
    case PQL_NUMBER:
        out->type = PQL_TYPE_SCALAR;
        out->sc = pql__scalar_const(c, e->u.number.val);
        return 0;
    case PQL_STRING:
        out->type = PQL_TYPE_STRING;
        out->str = e->u.string.val;
        return 0;
    case PQL_PAREN:
        return pql__eval(c, e->u.paren, out);
    case PQL_UNARY:
        return eval_unary(c, e, out);
    case PQL_VECTOR_SEL:
        return pql__eval_vector_sel(c, e, out);
    case PQL_MATRIX_SEL:
        return pql__eval_matrix_sel(c, e, out);
    case PQL_SUBQUERY:
        return pql__eval_subquery(c, e, out);
    case PQL_BINARY:
        return pql__eval_binary(c, e, out);
    case PQL_AGGREGATE:
        return pql__eval_aggregate(c, e, out);
    case PQL_CALL:
        return pql__eval_call(c, e, out);
    }
    return scry_err_set(c->err, SCRY_EINVAL, "unknown expression kind %d", (int)e->kind);
}

int pql__eval(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    int rc = eval_node(c, e, out);
    if (rc != 0 || c->opts->delayed_name_removal || e->kind == PQL_PAREN)
        return rc;
    return drop_names_now(c, out);
}

/* ---- results ---------------------------------------------------------------- */

static int cmp_out(const void *x, const void *y)
{
    return scry_labels_cmp(&((const struct pql_out_series *)x)->labels,
                           &((const struct pql_out_series *)y)->labels);
}

static int finish(struct ev_ctx *c, const struct ev_val *v, struct pql_result *out)
{
    memset(out, 0, sizeof(*out));
    out->type = v->type;
    out->t_ms = c->end;
    if (v->type == PQL_TYPE_STRING) {
        out->string = v->str;
    } else if (v->type == PQL_TYPE_SCALAR && !c->is_range) {
        out->scalar = v->sc[0];
    } else if (v->type == PQL_TYPE_SCALAR) {
        out->type = PQL_TYPE_MATRIX;
        out->series = scry_arena_calloc(c->a, 1, sizeof(*out->series));
        out->n_series = 1;
        out->series[0].points = scry_arena_alloc(c->a, c->n_steps * sizeof(struct pql_point));
        for (size_t i = 0; i < c->n_steps; i++)
            out->series[0].points[i] = (struct pql_point){ ev_ts(c, i), v->sc[i] };
        out->series[0].n_points = c->n_steps;
    } else if (v->type == PQL_TYPE_MATRIX) {
        out->series = scry_arena_calloc(c->a, v->m.n ? v->m.n : 1, sizeof(*out->series));
        int64_t hi = v->m.win_end[0], lo = hi - v->m.range_ms;
        for (size_t k = 0; k < v->m.n; k++) {
            const struct ev_mseries *s = &v->m.s[k];
            struct pql_out_series *o = &out->series[out->n_series];
            o->labels = s->drop_name ? pql__drop_name(c, &s->ls) : s->ls;
            o->points = scry_arena_alloc(c->a, (s->n ? s->n : 1) * sizeof(*o->points));
            for (size_t i = 0; i < s->n; i++)
                if (s->t[i] > lo && s->t[i] <= hi)
                    o->points[o->n_points++] = (struct pql_point){ s->t[i], s->v[i] };
            if (o->n_points)
                out->n_series++;
        }
        qsort(out->series, out->n_series, sizeof(*out->series), cmp_out);
    } else {
        out->type = c->is_range ? PQL_TYPE_MATRIX : PQL_TYPE_VECTOR;
        out->series = scry_arena_calloc(c->a, v->vec.n ? v->vec.n : 1, sizeof(*out->series));
        for (size_t k = 0; k < v->vec.n; k++) {
            const struct ev_series *s = &v->vec.s[k];
            size_t n = 0;
            for (size_t i = 0; i < c->n_steps; i++)
                n += s->ok[i];
            if (!n)
                continue;
            struct pql_out_series *o = &out->series[out->n_series++];
            o->labels = s->drop_name ? pql__drop_name(c, &s->ls) : s->ls;
            o->points = scry_arena_alloc(c->a, n * sizeof(*o->points));
            for (size_t i = 0; i < c->n_steps; i++)
                if (s->ok[i])
                    o->points[o->n_points++] = (struct pql_point){ ev_ts(c, i), s->v[i] };
        }
        if (c->is_range || v->vec.n > 0) {
            /* duplicate label sets (after name removal) are an error */
            struct pql_out_series *tmp = scry_arena_alloc(c->a, (out->n_series + 1) * sizeof(*tmp));
            memcpy(tmp, out->series, out->n_series * sizeof(*tmp));
            qsort(tmp, out->n_series, sizeof(*tmp), cmp_out);
            for (size_t k = 1; k < out->n_series; k++) {
                if (scry_labels_equal(&tmp[k - 1].labels, &tmp[k].labels)) {
                    /* only a problem when both have a point at the same step */
                    size_t a = 0, b = 0;
                    while (a < tmp[k - 1].n_points && b < tmp[k].n_points) {
                        int64_t ta = tmp[k - 1].points[a].t_ms, tb = tmp[k].points[b].t_ms;
                        if (ta == tb)
                            return scry_err_set(c->err, SCRY_EINVAL,
                                                "vector cannot contain metrics with the same labelset");
                        if (ta < tb)
                            a++;
                        else
                            b++;
                    }
                }
            }
            if (c->is_range) {
                /* merge series that became equal after name removal */
                size_t w = 0;
                for (size_t k = 0; k < out->n_series; k++) {
                    if (w && scry_labels_equal(&tmp[w - 1].labels, &tmp[k].labels)) {
                        struct pql_out_series *d = &tmp[w - 1];
                        struct pql_point *p = scry_arena_alloc(
                            c->a, (d->n_points + tmp[k].n_points) * sizeof(*p));
                        size_t n = 0, a = 0, b = 0;
                        while (a < d->n_points || b < tmp[k].n_points) {
                            if (b >= tmp[k].n_points ||
                                (a < d->n_points && d->points[a].t_ms < tmp[k].points[b].t_ms))
                                p[n++] = d->points[a++];
                            else
                                p[n++] = tmp[k].points[b++];
                        }
                        d->points = p;
                        d->n_points = n;
                    } else {
                        tmp[w++] = tmp[k];
                    }
                }
                out->series = tmp;
                out->n_series = w;
            }
        }
    }
    out->warnings = c->warn;
    out->n_warnings = c->n_warn;
    out->infos = c->info;
    out->n_infos = c->n_info;
    return 0;
}

static int run(const struct pql_engine_opts *opts, struct scry_queryable *store,
               const struct pql_expr *e, int64_t start, int64_t end, int64_t step, bool is_range,
               struct scry_arena *a, struct pql_result *out, struct scry_err *err)
{
    static const struct pql_engine_opts defaults;
    if (!store || !e || !a || !out || step <= 0 || end < start)
        return scry_err_set(err, SCRY_EINVAL, "pql_eval: invalid arguments");
    if (!opts)
        opts = &defaults;
    struct ev_ctx c = {
        .opts = opts, .store = store, .a = a, .err = err,
        .start = start, .end = end, .step = step,
        .n_steps = (size_t)((end - start) / step) + 1,
        .q_start = start, .q_end = end, .q_step = step,
        .lookback_ms = opts->lookback_delta_ms > 0 ? opts->lookback_delta_ms : DEFAULT_LOOKBACK_MS,
        .max_samples = opts->max_samples ? opts->max_samples : DEFAULT_MAX_SAMPLES,
        .is_range = is_range,
    };
    int64_t timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    c.deadline_ns = now_ns() + timeout_ms * 1000000;
    if (is_range && (e->type == PQL_TYPE_MATRIX || e->type == PQL_TYPE_STRING))
        return scry_err_set(err, SCRY_EINVAL,
                            "invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
                            e->type == PQL_TYPE_MATRIX ? "range vector" : "string");
    struct ev_val v;
    int rc = pql__eval(&c, e, &v);
    if (rc == 0)
        rc = finish(&c, &v, out);
    free(c.scratch_t);
    free(c.scratch_v);
    return rc;
}

int pql_eval_instant(const struct pql_engine_opts *opts, struct scry_queryable *store,
                     const struct pql_expr *e, int64_t t_ms, struct scry_arena *a,
                     struct pql_result *out, struct scry_err *err)
{
    return run(opts, store, e, t_ms, t_ms, 1, false, a, out, err);
}

int pql_eval_range(const struct pql_engine_opts *opts, struct scry_queryable *store,
                   const struct pql_expr *e, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                   struct scry_arena *a, struct pql_result *out, struct scry_err *err)
{
    return run(opts, store, e, start_ms, end_ms, step_ms, true, a, out, err);
}
