/* promql_eval_func.c — the function library's dispatch and its
 * instant-vector functions: math, clamp/round, date and time functions,
 * absent, sort*, info(), vector/scalar/timestamp. The range-vector
 * functions live in promql_eval_frange.c, the classic-histogram quantiles
 * in promql_eval_hist.c, label_replace/label_join in promql_eval_label.c;
 * pql__eval_call routes to them. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "query/promql_eval_internal.h"

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

int pql__absent_labels(struct ev_ctx *c, const struct pql_expr *arg, struct scry_labels *out)
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
    bool handled = false;
    int range_rc = pql__eval_range_call(c, e, out, &handled);
    if (handled)
        return range_rc;
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
        int rc = pql__scalar_args(c, call, sc, -1);
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
        pql__absent_labels(c, call->args[0], &ls);
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
        return pql__eval_histogram_classic(c, e, false, out);
    if (strcmp(fn, "histogram_fraction") == 0)
        return pql__eval_histogram_classic(c, e, true, out);
    if (strcmp(fn, "histogram_quantiles") == 0)
        return pql__eval_histogram_quantiles(c, e, out);
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
        int rc = pql__scalar_args(c, call, sc, 0);
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
        return pql__eval_label_replace(c, call, out);
    if (strcmp(fn, "label_join") == 0)
        return pql__eval_label_join(c, call, out);
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
