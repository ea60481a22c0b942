/* promql_eval_binop.c — binary operators: scalar/scalar, vector/scalar and
 * vector/vector with on/ignoring matching, group_left/group_right, the set
 * operators and/or/unless, bool, and Prometheus's error messages for
 * many-to-many matching. __name__ is only marked for dropping (delayed
 * removal, as the conformance suite runs Prometheus). */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "query/promql_eval_internal.h"

static bool drops_name(enum pql_op op)
{
    switch (op) {
    case PQL_OP_ADD: case PQL_OP_SUB: case PQL_OP_MUL: case PQL_OP_DIV: case PQL_OP_MOD:
    case PQL_OP_POW: case PQL_OP_ATAN2:
        return true;
    default:
        return false;
    }
}

/* Prometheus's vectorElemBinop for floats: the value and whether to keep it. */
static double elem(enum pql_op op, double l, double r, bool *keep)
{
    *keep = true;
    switch (op) {
    case PQL_OP_ADD: return l + r;
    case PQL_OP_SUB: return l - r;
    case PQL_OP_MUL: return l * r;
    case PQL_OP_DIV: return l / r;
    case PQL_OP_POW: return pow(l, r);
    case PQL_OP_MOD: return fmod(l, r);
    case PQL_OP_ATAN2: return atan2(l, r);
    case PQL_OP_EQLC: *keep = l == r; return l;
    case PQL_OP_NEQ: *keep = l != r; return l;
    case PQL_OP_GTR: *keep = l > r; return l;
    case PQL_OP_LSS: *keep = l < r; return l;
    case PQL_OP_GTE: *keep = l >= r; return l;
    case PQL_OP_LTE: *keep = l <= r; return l;
    default: *keep = false; return NAN;
    }
}

static int scalar_scalar(struct ev_ctx *c, const struct pql_binary *b, struct ev_val *l,
                         struct ev_val *r, struct ev_val *out)
{
    out->type = PQL_TYPE_SCALAR;
    out->sc = scry_arena_alloc(c->a, c->n_steps * sizeof(double));
    for (size_t i = 0; i < c->n_steps; i++) {
        bool keep;
        double v = elem(b->op, l->sc[i], r->sc[i], &keep);
        if (pql_op_is_comparison(b->op))
            v = keep ? 1 : 0;
        out->sc[i] = v;
    }
    return 0;
}

static int vector_scalar(struct ev_ctx *c, const struct pql_binary *b, struct ev_vec *vec,
                         const double *sc, bool swap, struct ev_val *out)
{
    bool cmp = pql_op_is_comparison(b->op);
    for (size_t k = 0; k < vec->n; k++) {
        struct ev_series *s = &vec->s[k];
        for (size_t i = 0; i < c->n_steps; i++) {
            if (!s->ok[i])
                continue;
            double lf = s->v[i], rf = sc[i];
            if (swap) {
                double t = lf;
                lf = rf;
                rf = t;
            }
            bool keep;
            double v = elem(b->op, lf, rf, &keep);
            if (cmp && swap)
                v = rf;
            if (b->return_bool) {
                v = keep ? 1 : 0;
                keep = true;
            }
            s->v[i] = v;
            s->ok[i] = keep;
        }
        if (drops_name(b->op) || b->return_bool)
            s->drop_name = true;
    }
    out->type = PQL_TYPE_VECTOR;
    out->vec = *vec;
    return 0;
}

/* ---- signatures ---------------------------------------------------------- */

static bool in_list(const char *name, const char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, l[i]) == 0)
            return true;
    return false;
}

/* The matching labels of ls (Prometheus's MatchLabels). */
static struct scry_labels match_labels(struct ev_ctx *c, const struct scry_labels *ls, bool on,
                                       const char **names, size_t n_names)
{
    struct scry_label *v = scry_arena_alloc(c->a, (ls->n ? ls->n : 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < ls->n; i++) {
        bool listed = in_list(ls->v[i].name, names, n_names);
        if (on ? listed : (!listed && strcmp(ls->v[i].name, "__name__") != 0))
            v[n++] = ls->v[i];
    }
    return (struct scry_labels){ v, n };
}

struct sigs {
    uint32_t *l, *r;   /* signature id per series */
    size_t n_ids;
};

static uint32_t sig_id(struct ev_ctx *c, uint64_t *hs, uint32_t *ids, size_t cap, size_t *n_ids,
                       uint64_t h)
{
    size_t k = h & (cap - 1);
    while (ids[k]) {
        if (hs[k] == h)
            return ids[k] - 1;
        k = (k + 1) & (cap - 1);
    }
    (void)c;
    hs[k] = h;
    ids[k] = (uint32_t)++*n_ids;
    return ids[k] - 1;
}

static void signatures(struct ev_ctx *c, const struct pql_vector_matching *vm,
                       const struct ev_vec *l, const struct ev_vec *r, struct sigs *s)
{
    bool on = vm && vm->on;
    const char **names = vm ? vm->labels : NULL;
    size_t n_names = vm ? vm->n_labels : 0;
    size_t cap = 16;
    while (cap < (l->n + r->n) * 2)
        cap *= 2;
    uint64_t *hs = scry_arena_alloc(c->a, cap * sizeof(*hs));
    uint32_t *ids = scry_arena_calloc(c->a, cap, sizeof(*ids));
    s->l = scry_arena_alloc(c->a, (l->n + 1) * sizeof(uint32_t));
    s->r = scry_arena_alloc(c->a, (r->n + 1) * sizeof(uint32_t));
    s->n_ids = 0;
    for (size_t k = 0; k < l->n; k++) {
        struct scry_labels m = match_labels(c, &l->s[k].ls, on, names, n_names);
        s->l[k] = sig_id(c, hs, ids, cap, &s->n_ids, scry_labels_hash(&m));
    }
    for (size_t k = 0; k < r->n; k++) {
        struct scry_labels m = match_labels(c, &r->s[k].ls, on, names, n_names);
        s->r[k] = sig_id(c, hs, ids, cap, &s->n_ids, scry_labels_hash(&m));
    }
}

/* ---- set operators --------------------------------------------------------- */

static int set_op(struct ev_ctx *c, const struct pql_binary *b, struct ev_vec *l,
                  struct ev_vec *r, struct ev_val *out)
{
    struct sigs sg;
    signatures(c, b->vm, l, r, &sg);
    uint32_t *seen = scry_arena_calloc(c->a, sg.n_ids + 1, sizeof(uint32_t));
    out->type = PQL_TYPE_VECTOR;
    for (size_t i = 0; i < c->n_steps; i++) {
        uint32_t stamp = (uint32_t)i + 1;
        int rc = pql__check_limits(c);
        if (rc != 0)
            return rc;
        if (b->op == PQL_OP_OR) {
            for (size_t k = 0; k < l->n; k++)
                if (l->s[k].ok[i])
                    seen[sg.l[k]] = stamp;
            for (size_t k = 0; k < r->n; k++)
                if (r->s[k].ok[i] && seen[sg.r[k]] == stamp)
                    r->s[k].ok[i] = 0;
        } else {
            for (size_t k = 0; k < r->n; k++)
                if (r->s[k].ok[i])
                    seen[sg.r[k]] = stamp;
            bool want = b->op == PQL_OP_AND;
            for (size_t k = 0; k < l->n; k++)
                if (l->s[k].ok[i] && (seen[sg.l[k]] == stamp) != want)
                    l->s[k].ok[i] = 0;
        }
    }
    out->vec = *l;
    if (b->op == PQL_OP_OR)
        for (size_t k = 0; k < r->n; k++) {
            struct ev_series *s = pql__vec_add(c, &out->vec, &r->s[k].ls, r->s[k].drop_name);
            memcpy(s->v, r->s[k].v, c->n_steps * sizeof(double));
            memcpy(s->ok, r->s[k].ok, c->n_steps);
        }
    return 0;
}

/* ---- vector matching ----------------------------------------------------- */

static struct scry_labels result_metric(struct ev_ctx *c, const struct scry_labels *ls,
                                        const struct scry_labels *rs,
                                        const struct pql_vector_matching *vm)
{
    struct scry_labels_builder bld;
    scry_labels_builder_init(&bld, c->a);
    scry_labels_builder_reset(&bld, ls);
    if (vm->card == PQL_CARD_ONE_TO_ONE) {
        if (vm->on) {
            for (size_t i = 0; i < ls->n; i++)
                if (!in_list(ls->v[i].name, vm->labels, vm->n_labels))
                    scry_labels_builder_del(&bld, ls->v[i].name);
        } else {
            for (size_t i = 0; i < vm->n_labels; i++)
                scry_labels_builder_del(&bld, vm->labels[i]);
        }
    }
    for (size_t i = 0; i < vm->n_include; i++) {
        const char *v = scry_labels_get(rs, vm->include[i]);
        if (v && *v)
            scry_labels_builder_set(&bld, vm->include[i], v);
        else
            scry_labels_builder_del(&bld, vm->include[i]);
    }
    return scry_labels_builder_labels(&bld);
}


static int vector_vector(struct ev_ctx *c, const struct pql_binary *b, struct ev_vec *l,
                         struct ev_vec *r, struct ev_val *out)
{
    const struct pql_vector_matching *vm = b->vm;
    struct ev_vec *many = l, *one = r;
    bool swap = vm->card == PQL_CARD_ONE_TO_MANY;
    if (swap) {
        many = r;
        one = l;
    }
    struct sigs sg;
    signatures(c, vm, many, one, &sg);
    /* per step: which "one"-side series holds a signature; which were matched */
    int64_t *one_at = scry_arena_alloc(c->a, (sg.n_ids + 1) * sizeof(int64_t));
    uint32_t *one_stamp = scry_arena_calloc(c->a, sg.n_ids + 1, sizeof(uint32_t));
    uint32_t *match_stamp = scry_arena_calloc(c->a, sg.n_ids + 1, sizeof(uint32_t));
    size_t *cache_r = scry_arena_alloc(c->a, (many->n + 1) * sizeof(size_t));
    struct ev_series **cache_o = scry_arena_calloc(c->a, many->n + 1, sizeof(*cache_o));
    struct ev_map map;
    pql__map_init(c, &map, many->n);
    out->type = PQL_TYPE_VECTOR;
    bool cmp = pql_op_is_comparison(b->op);
    /* experimental fill modifiers: as Prometheus swaps the operands of a
     * one-to-many match but not the fill values, fill_right always stands
     * in for the "one" side and fill_left for the "many" side */
    bool fill_one = vm->fill_rhs_set, fill_many = vm->fill_lhs_set;
    double fill_one_v = vm->fill_rhs, fill_many_v = vm->fill_lhs;
    static const struct scry_labels no_labels;
    for (size_t i = 0; i < c->n_steps; i++) {
        uint32_t stamp = (uint32_t)i + 1;
        int rc = pql__check_limits(c);
        if (rc != 0)
            return rc;
        for (size_t k = 0; k < one->n; k++) {
            if (!one->s[k].ok[i])
                continue;
            uint32_t sid = sg.r[k];
            if (one_stamp[sid] == stamp) {
                struct scry_labels m = match_labels(c, &one->s[k].ls, vm->on, vm->labels, vm->n_labels);
                const struct scry_labels *x = &one->s[one_at[sid]].ls, *y = &one->s[k].ls;
                if (scry_labels_cmp(x, y) > 0) {
                    const struct scry_labels *t = x;
                    x = y;
                    y = t;
                }
                return scry_err_set(c->err, SCRY_EINVAL,
                    "found duplicate series for the match group %s on the %s hand-side of the operation: [%s, %s];many-to-many matching not allowed: matching labels must be unique on one side",
                    pql__fmt_labels(c, &m), swap ? "left" : "right", pql__fmt_labels(c, x),
                    pql__fmt_labels(c, y));
            }
            one_stamp[sid] = stamp;
            one_at[sid] = (int64_t)k;
        }
        for (size_t k = 0; k < many->n; k++) {
            struct ev_series *ls = &many->s[k];
            uint32_t sid = sg.l[k];
            if (!ls->ok[i])
                continue;
            bool matched = one_stamp[sid] == stamp;
            if (!matched && !fill_one)
                continue;
            struct ev_series *rs = matched ? &one->s[one_at[sid]] : NULL;
            if (matched) {
                if (vm->card == PQL_CARD_ONE_TO_ONE && match_stamp[sid] == stamp)
                    return scry_err_set(c->err, SCRY_EINVAL,
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
                match_stamp[sid] = stamp;
            }
            double fl = ls->v[i], fr = matched ? rs->v[i] : fill_one_v;
            if (swap) {
                double t = fl;
                fl = fr;
                fr = t;
            }
            bool keep;
            double v = elem(b->op, fl, fr, &keep);
            if (b->return_bool) {
                v = keep ? 1 : 0;
            } else if (!keep) {
                continue;
            }
            size_t key = matched ? (size_t)one_at[sid] : SIZE_MAX;
            struct ev_series *o;
            if (cache_o[k] && cache_r[k] == key) {
                o = cache_o[k];
            } else {
                struct scry_labels m = result_metric(c, &ls->ls, rs ? &rs->ls : &no_labels, vm);
                o = pql__map_get(c, &map, &out->vec, &m,
                                 drops_name(b->op) || b->return_bool || (cmp && ls->drop_name));
                cache_o[k] = o;
                cache_r[k] = key;
            }
            if (vm->card != PQL_CARD_ONE_TO_ONE && o->ok[i]) {
                return scry_err_set(c->err, SCRY_EINVAL,
                    "multiple matches for labels: grouping labels must ensure unique matches");
            }
            if (o->ok[i])
                return scry_err_set(c->err, SCRY_EINVAL,
                                    "vector cannot contain metrics with the same labelset");
            o->v[i] = v;
            o->ok[i] = 1;
        }
        if (!fill_many)
            continue;
        /* experimental fill: a "one" series no "many" series matched */
        for (size_t k = 0; k < one->n; k++) {
            struct ev_series *rs = &one->s[k];
            if (!rs->ok[i] || match_stamp[sg.r[k]] == stamp)
                continue;
            double fl = fill_many_v, fr = rs->v[i];
            if (swap) {
                double t = fl;
                fl = fr;
                fr = t;
            }
            bool keep;
            double v = elem(b->op, fl, fr, &keep);
            if (b->return_bool)
                v = keep ? 1 : 0;
            else if (!keep)
                continue;
            if (cmp && !b->return_bool)
                v = swap ? fr : fl;
            struct scry_labels m = match_labels(c, &rs->ls, vm->on, vm->labels, vm->n_labels);
            struct ev_series *o = pql__map_get(c, &map, &out->vec, &m, true);
            if (o->ok[i])
                return scry_err_set(c->err, SCRY_EINVAL,
                                    "vector cannot contain metrics with the same labelset");
            o->v[i] = v;
            o->ok[i] = 1;
        }
    }
    return 0;
}

int pql__eval_binary(struct ev_ctx *c, const struct pql_expr *e, struct ev_val *out)
{
    const struct pql_binary *b = &e->u.bin;
    struct ev_val l, r;
    int rc = pql__eval(c, b->lhs, &l);
    if (rc == 0)
        rc = pql__eval(c, b->rhs, &r);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    if (l.type == PQL_TYPE_SCALAR && r.type == PQL_TYPE_SCALAR)
        return scalar_scalar(c, b, &l, &r, out);
    if (l.type == PQL_TYPE_VECTOR && r.type == PQL_TYPE_SCALAR)
        return vector_scalar(c, b, &l.vec, r.sc, false, out);
    if (l.type == PQL_TYPE_SCALAR && r.type == PQL_TYPE_VECTOR)
        return vector_scalar(c, b, &r.vec, l.sc, true, out);
    if (l.type != PQL_TYPE_VECTOR || r.type != PQL_TYPE_VECTOR)
        return scry_err_set(c->err, SCRY_EINVAL, "binary expression must contain only scalar and instant vector types");
    if (pql_op_is_set(b->op))
        return set_op(c, b, &l.vec, &r.vec, out);
    static const struct pql_vector_matching def = { .card = PQL_CARD_ONE_TO_ONE };
    if (!b->vm) {
        struct pql_binary bb = *b;
        bb.vm = (struct pql_vector_matching *)&def;
        return vector_vector(c, &bb, &l.vec, &r.vec, out);
    }
    return vector_vector(c, b, &l.vec, &r.vec, out);
}
