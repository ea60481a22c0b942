/* fake_engine.c — a test-only stand-in for query/engine.h, linked into
 * test_query_api_prom instead of the real evaluator (which lives on
 * another branch). It evaluates just enough PromQL to exercise the HTTP
 * layer: number and string literals, parentheses, unary minus, scalar
 * arithmetic (1+1), and plain vector selectors against the store with the
 * lookback window. Some numbers trigger the engine's error classes so the
 * API's status mapping can be tested:
 *   422 → SCRY_EINVAL, 4220 → SCRY_ELIMIT, 503 → SCRY_ETIMEOUT,
 *   500 → SCRY_EIO, 999 → sleeps 1 s, then answers 999;
 *   7 → a scalar with one warning and one info;
 *   8 → answers opts->timeout_ms, 9 → opts->lookback_delta_ms (what the API passed). */
#include <math.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "query/engine.h"

struct fake {
    const struct pql_engine_opts *o;
    struct scry_queryable *store;
    struct scry_arena *a;
};

static int scalar_of(const struct pql_expr *e, double *out, struct scry_err *err)
{
    switch (e->kind) {
    case PQL_NUMBER:
        *out = e->u.number.val;
        return 0;
    case PQL_PAREN:
        return scalar_of(e->u.paren, out, err);
    case PQL_UNARY: {
        int rc = scalar_of(e->u.unary.expr, out, err);
        if (e->u.unary.op == PQL_OP_SUB)
            *out = -*out;
        return rc;
    }
    case PQL_BINARY: {
        double l, r;
        int rc = scalar_of(e->u.bin.lhs, &l, err);
        if (rc == 0)
            rc = scalar_of(e->u.bin.rhs, &r, err);
        if (rc != 0)
            return rc;
        switch (e->u.bin.op) {
        case PQL_OP_ADD: *out = l + r; return 0;
        case PQL_OP_SUB: *out = l - r; return 0;
        case PQL_OP_MUL: *out = l * r; return 0;
        case PQL_OP_DIV: *out = l / r; return 0;
        default: break;
        }
        break;
    }
    default:
        break;
    }
    return scry_err_set(err, SCRY_EINVAL, "fake engine: unsupported expression");
}

static int trigger(double v, struct scry_err *err)
{
    if (v == 422)
        return scry_err_set(err, SCRY_EINVAL, "many-to-many matching not allowed");
    if (v == 4220)
        return scry_err_set(err, SCRY_ELIMIT,
                            "query processing would load too many samples into memory in query execution");
    if (v == 503)
        return scry_err_set(err, SCRY_ETIMEOUT, "query timed out in expression evaluation");
    if (v == 500)
        return scry_err_set(err, SCRY_EIO, "read chunk: input/output error");
    if (v == 999)
        nanosleep(&(struct timespec){ 1, 0 }, NULL);
    return 0;
}

/* The last sample in (t - lookback, t], per series, for each step. */
static int select_points(struct fake *f, const struct pql_vector_sel *vs, int64_t start_ms,
                         int64_t end_ms, int64_t step_ms, struct pql_result *out,
                         struct scry_err *err)
{
    int64_t lb = f->o->lookback_delta_ms ? f->o->lookback_delta_ms : 300000;
    struct scry_querier *q;
    int rc = f->store->querier(f->store, f->o->tenant, start_ms - lb, end_ms, &q, err);
    if (rc != 0)
        return rc;
    struct scry_select_hints h = { .mint = start_ms - lb, .maxt = end_ms };
    struct scry_series_set *ss;
    rc = q->ops->select_series(q, vs->matchers, vs->n_matchers, &h, &ss, err);
    if (rc != 0) {
        q->ops->close(q);
        return rc;
    }
    size_t cap = 0, n_steps = (size_t)((end_ms - start_ms) / step_ms) + 1;
    while (ss->ops->next(ss)) {
        struct pql_point *pts = scry_arena_alloc(f->a, n_steps * sizeof *pts);
        size_t n = 0;
        for (int64_t t = start_ms; t <= end_ms; t += step_ms) {
            struct scry_sample_iter *it = ss->ops->samples(ss);
            int64_t ts, best_t = 0;
            double v, best_v = 0;
            bool found = false;
            while (it->ops->next(it)) {
                it->ops->at(it, &ts, &v);
                if (ts > t)
                    break;
                if (ts > t - lb) {
                    best_t = ts, best_v = v;
                    found = true;
                }
            }
            (void)best_t;
            if (found)
                pts[n++] = (struct pql_point){ t, best_v };
        }
        if (!n)
            continue;
        if (out->n_series == cap) {
            cap = cap ? cap * 2 : 8;
            struct pql_out_series *v = scry_arena_alloc(f->a, cap * sizeof *v);
            if (out->n_series)
                memcpy(v, out->series, out->n_series * sizeof *v);
            out->series = v;
        }
        const struct scry_labels *ls = ss->ops->labels(ss);
        struct scry_label *lv = scry_arena_alloc(f->a, (ls->n + 1) * sizeof *lv);
        for (size_t i = 0; i < ls->n; i++)
            lv[i] = (struct scry_label){ scry_arena_strdup(f->a, ls->v[i].name),
                                         scry_arena_strdup(f->a, ls->v[i].value) };
        out->series[out->n_series++] =
            (struct pql_out_series){ { lv, ls->n }, pts, n };
    }
    rc = ss->ops->err(ss, err);
    ss->ops->close(ss);
    q->ops->close(q);
    return rc;
}

static int eval(const struct pql_engine_opts *o, struct scry_queryable *store,
                const struct pql_expr *e, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                bool range, struct scry_arena *a, struct pql_result *out, struct scry_err *err)
{
    struct fake f = { o, store, a };
    memset(out, 0, sizeof *out);
    while (e->kind == PQL_PAREN)
        e = e->u.paren;
    if (e->kind == PQL_VECTOR_SEL) {
        out->type = range ? PQL_TYPE_MATRIX : PQL_TYPE_VECTOR;
        return select_points(&f, &e->u.vs, start_ms, end_ms, step_ms, out, err);
    }
    if (e->kind == PQL_STRING && !range) {
        out->type = PQL_TYPE_STRING;
        out->string = e->u.string.val;
        out->t_ms = start_ms;
        return 0;
    }
    double v;
    int rc = scalar_of(e, &v, err);
    if (rc == 0)
        rc = trigger(v, err);
    if (rc != 0)
        return rc;
    if (v == 8)
        v = (double)o->timeout_ms;
    else if (v == 9)
        v = (double)o->lookback_delta_ms;
    if (v == 7) {
        static const char *w[] = { "PromQL warning: fake warning" };
        static const char *i[] = { "PromQL info: fake info" };
        out->warnings = w, out->n_warnings = 1;
        out->infos = i, out->n_infos = 1;
    }
    if (!range) {
        out->type = PQL_TYPE_SCALAR;
        out->scalar = v;
        out->t_ms = start_ms;
        return 0;
    }
    size_t n = (size_t)((end_ms - start_ms) / step_ms) + 1;
    out->type = PQL_TYPE_MATRIX;
    out->series = scry_arena_calloc(a, 1, sizeof *out->series);
    out->series->points = scry_arena_alloc(a, n * sizeof *out->series->points);
    for (size_t k = 0; k < n; k++)
        out->series->points[k] = (struct pql_point){ start_ms + (int64_t)k * step_ms, v };
    out->series->n_points = n;
    out->n_series = 1;
    return 0;
}

int pql_eval_instant(const struct pql_engine_opts *opts, struct scry_queryable *store,
                     const struct pql_expr *e, int64_t t_ms, struct scry_arena *a,
                     struct pql_result *out, struct scry_err *err)
{
    return eval(opts, store, e, t_ms, t_ms, 1, false, a, out, err);
}

int pql_eval_range(const struct pql_engine_opts *opts, struct scry_queryable *store,
                   const struct pql_expr *e, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                   struct scry_arena *a, struct pql_result *out, struct scry_err *err)
{
    return eval(opts, store, e, start_ms, end_ms, step_ms, true, a, out, err);
}
