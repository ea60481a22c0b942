/* logql_eval_vec.c — the metric side above range aggregations: literals,
 * vector(), vector aggregations, binary operators with vector matching,
 * label_replace, and the entry point lql_eval_metric.
 *
 * Every intermediate result is a set of dense series over the query's
 * steps (value + presence per step), so an instant query is the one-step
 * case of a range query, as in Loki's step evaluator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ctype.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/mem.h"
#include "core/timeparse.h"
#include "query/logql_internal.h"

#define DEFAULT_TIMEOUT_MS (2 * 60 * 1000)

/* The returned struct may move when v grows (the old copy stays in the
 * arena); its v/has arrays never move, so callers keep the pointer only to
 * write values, never to change labels after another add. */
struct lql_ser *lql__vec_add(struct lql_ctx *c, struct lql_vec *v, struct scry_labels ls)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? 2 * v->cap : 16;
        struct lql_ser *w = scry_arena_alloc(c->a, nc * sizeof *w);
        if (v->n)
            memcpy(w, v->s, v->n * sizeof *w);
        v->s = w;
        v->cap = nc;
    }
    struct lql_ser *s = &v->s[v->n++];
    s->labels = ls;
    s->v = scry_arena_calloc(c->a, c->n_steps, sizeof *s->v);
    s->has = scry_arena_calloc(c->a, c->n_steps, 1);
    return s;
}

static bool in_names(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

struct scry_labels lql__labels_group(const struct scry_labels *ls, const char *const *names,
                                     size_t n, bool without, struct scry_arena *a)
{
    struct scry_label *v = scry_arena_alloc(a, (ls->n + 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < ls->n; i++) {
        bool in = in_names(ls->v[i].name, names, n);
        if (without ? !in : in)
            v[k++] = ls->v[i];
    }
    return (struct scry_labels){ v, k };
}

static const struct scry_labels *vec_at(void *ud, size_t i)
{
    return &((struct lql_vec *)ud)->s[i].labels;
}

/* The series of out with labels ls, created when missing. */
static struct lql_ser *vec_get(struct lql_ctx *c, struct lql_vec *out, struct lql_smap *m,
                               struct scry_labels ls)
{
    uint64_t h = scry_labels_hash(&ls);
    long i = lql__smap_find(m, h, &ls, vec_at, out);
    if (i >= 0)
        return &out->s[i];
    lql__smap_add(m, h, out->n);
    return lql__vec_add(c, out, ls);
}

/* ---- vector aggregations ---- */

struct grp {
    double sum, mean, m2, mn, mx;
    size_t count;
};

static int cmp_val_asc(const void *a, const void *b, const double *v)
{
    double x = v[*(const size_t *)a], y = v[*(const size_t *)b];
    if (isnan(x))
        return isnan(y) ? 0 : 1;
    if (isnan(y))
        return -1;
    return x < y ? -1 : x > y;
}

static void sort_idx(size_t *idx, size_t n, const double *v, bool desc)
{
    /* insertion sort: groups are small, and this keeps it reentrant */
    for (size_t i = 1; i < n; i++) {
        size_t x = idx[i], j = i;
        while (j > 0) {
            int c = cmp_val_asc(&idx[j - 1], &x, v);
            if (desc ? c >= 0 : c <= 0)
                break;
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
}

int lql__eval_vagg(struct lql_ctx *c, const struct lql_expr *e, struct lql_vec *out)
{
    struct lql_vec in = { 0 };
    enum lql_vagg_op op = e->u.vagg.op;
    const struct lql_grouping *g = &e->u.vagg.grouping;
    const struct lql_expr *inner = e->u.vagg.inner;
    while (inner->kind == LQL_PAREN)
        inner = inner->u.paren;
    int rc;
    if (op == LQL_SUM && inner->kind == LQL_RANGE && !inner->u.range.grouping.present &&
        (inner->u.range.op == LQL_COUNT_OVER_TIME || inner->u.range.op == LQL_RATE ||
         inner->u.range.op == LQL_BYTES_OVER_TIME || inner->u.range.op == LQL_BYTES_RATE ||
         inner->u.range.op == LQL_SUM_OVER_TIME)) {
        /* additive over series: group while counting (Grafana's volume query) */
        static const struct lql_grouping all = { .present = true };
        rc = lql__eval_range(c, inner, g->present ? g : &all, &in);
    } else {
        rc = lql__eval_node(c, e->u.vagg.inner, &in);
    }
    if (rc)
        return rc;
    if (op == LQL_SORT || op == LQL_SORT_DESC) {
        *out = in;
        if (c->n_steps == 1) {
            size_t *idx = scry_calloc(in.n + 1, sizeof *idx);
            double *vals = scry_calloc(in.n + 1, sizeof *vals);
            for (size_t i = 0; i < in.n; i++)
                idx[i] = i, vals[i] = in.s[i].v[0];
            sort_idx(idx, in.n, vals, op == LQL_SORT_DESC);
            struct lql_ser *s = scry_arena_alloc(c->a, (in.n + 1) * sizeof *s);
            for (size_t i = 0; i < in.n; i++)
                s[i] = in.s[idx[i]];
            out->s = s;
            free(idx);
            free(vals);
        }
        return 0;
    }
    /* group key of each input series */
    struct lql_vec keys = { 0 };
    struct lql_smap m;
    lql__smap_init(&m);
    size_t *gi = scry_arena_alloc(c->a, (in.n + 1) * sizeof *gi);
    for (size_t i = 0; i < in.n; i++) {
        struct scry_labels k = g->present ? lql__labels_group(&in.s[i].labels, g->labels, g->n,
                                                              g->without, c->a)
                                          : (struct scry_labels){ NULL, 0 };
        uint64_t h = scry_labels_hash(&k);
        long j = lql__smap_find(&m, h, &k, vec_at, &keys);
        if (j < 0) {
            lql__smap_add(&m, h, keys.n);
            lql__vec_add(c, &keys, k);
            j = (long)keys.n - 1;
        }
        gi[i] = (size_t)j;
    }
    lql__smap_fini(&m);
    if (op == LQL_TOPK || op == LQL_BOTTOMK) {
        size_t k = (size_t)e->u.vagg.param;
        struct lql_ser **res = scry_arena_calloc(c->a, in.n + 1, sizeof *res);
        size_t *idx = scry_calloc(in.n + 1, sizeof *idx);
        double *vals = scry_calloc(in.n + 1, sizeof *vals);
        for (size_t t = 0; t < c->n_steps; t++) {
            for (size_t grp = 0; grp < keys.n; grp++) {
                size_t n = 0;
                for (size_t i = 0; i < in.n; i++)
                    if (gi[i] == grp && in.s[i].has[t]) {
                        idx[n] = i;
                        vals[i] = in.s[i].v[t];
                        n++;
                    }
                sort_idx(idx, n, vals, op == LQL_TOPK);
                for (size_t j = 0; j < n && j < k; j++) {
                    size_t i = idx[j];
                    if (!res[i])
                        res[i] = lql__vec_add(c, out, in.s[i].labels);
                    res[i]->v[t] = in.s[i].v[t];
                    res[i]->has[t] = 1;
                }
            }
        }
        free(idx);
        free(vals);
        if (c->n_steps == 1) {
            /* instant: order by value like Loki */
            size_t *o = scry_calloc(out->n + 1, sizeof *o);
            double *v = scry_calloc(out->n + 1, sizeof *v);
            for (size_t i = 0; i < out->n; i++)
                o[i] = i, v[i] = out->s[i].v[0];
            sort_idx(o, out->n, v, op == LQL_TOPK);
            struct lql_ser *s = scry_arena_alloc(c->a, (out->n + 1) * sizeof *s);
            for (size_t i = 0; i < out->n; i++)
                s[i] = out->s[o[i]];
            out->s = s;
            free(o);
            free(v);
        }
        return 0;
    }
    struct grp *acc = scry_calloc(keys.n + 1, sizeof *acc);
    struct lql_ser **res = scry_arena_calloc(c->a, keys.n + 1, sizeof *res);
    for (size_t t = 0; t < c->n_steps; t++) {
        memset(acc, 0, (keys.n + 1) * sizeof *acc);
        for (size_t i = 0; i < in.n; i++) {
            if (!in.s[i].has[t])
                continue;
            struct grp *a = &acc[gi[i]];
            double v = in.s[i].v[t];
            if (a->count == 0)
                a->mn = a->mx = v;
            a->count++;
            a->sum += v;
            double d = v - a->mean;
            a->mean += d / (double)a->count;
            a->m2 += d * (v - a->mean);
            if (v < a->mn || isnan(a->mn))
                a->mn = v;
            if (v > a->mx || isnan(a->mx))
                a->mx = v;
        }
        for (size_t grp = 0; grp < keys.n; grp++) {
            struct grp *a = &acc[grp];
            if (!a->count)
                continue;
            double v;
            switch (op) {
            case LQL_SUM: v = a->sum; break;
            case LQL_AVG: v = a->mean; break;
            case LQL_MIN: v = a->mn; break;
            case LQL_MAX: v = a->mx; break;
            case LQL_COUNT: v = (double)a->count; break;
            case LQL_STDVAR: v = a->m2 / (double)a->count; break;
            case LQL_STDDEV: v = sqrt(a->m2 / (double)a->count); break;
            default: v = NAN;
            }
            if (!res[grp])
                res[grp] = lql__vec_add(c, out, keys.s[grp].labels);
            res[grp]->v[t] = v;
            res[grp]->has[t] = 1;
        }
    }
    free(acc);
    return 0;
}

/* ---- binary operators ---- */

static bool is_cmp(enum lql_binop op) { return op >= LQL_CMP_EQ && op <= LQL_CMP_LE; }

/* Applies op; *keep false when a comparison filters the sample out. */
static double apply(enum lql_binop op, double a, double b, bool ret_bool, bool *keep)
{
    *keep = true;
    bool r;
    switch (op) {
    case LQL_ADD: return a + b;
    case LQL_SUB: return a - b;
    case LQL_MUL: return a * b;
    case LQL_DIV: return a / b;
    case LQL_MOD: return fmod(a, b);
    case LQL_POW: return pow(a, b);
    case LQL_CMP_EQ: r = a == b; break;
    case LQL_CMP_NE: r = a != b; break;
    case LQL_CMP_GT: r = a > b; break;
    case LQL_CMP_GE: r = a >= b; break;
    case LQL_CMP_LT: r = a < b; break;
    case LQL_CMP_LE: r = a <= b; break;
    default: return NAN;
    }
    if (ret_bool)
        return r ? 1 : 0;
    *keep = r;
    return a;
}

static struct scry_labels match_key(const struct lql_expr *e, const struct scry_labels *ls,
                                    struct scry_arena *a)
{
    if (e->u.bin.on)
        return lql__labels_group(ls, e->u.bin.match, e->u.bin.n_match, false, a);
    return lql__labels_group(ls, e->u.bin.match, e->u.bin.n_match, true, a);
}

/* Result labels of a vector/vector arithmetic or bool comparison (many side ls). */
static struct scry_labels result_labels(struct lql_ctx *c, const struct lql_expr *e,
                                        const struct scry_labels *many,
                                        const struct scry_labels *one)
{
    enum lql_binop op = e->u.bin.op;
    bool keep_all = is_cmp(op) && !e->u.bin.return_bool;
    if (e->u.bin.card == 0) {
        if (keep_all)
            return *many;
        if (e->u.bin.on)
            return lql__labels_group(many, e->u.bin.match, e->u.bin.n_match, false, c->a);
        if (e->u.bin.ignoring)
            return lql__labels_group(many, e->u.bin.match, e->u.bin.n_match, true, c->a);
        return *many;
    }
    /* group_left/right: the many side plus the included labels of the one side */
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, c->a);
    scry_labels_builder_reset(&b, many);
    for (size_t i = 0; i < e->u.bin.n_include; i++) {
        const char *v = scry_labels_get(one, e->u.bin.include[i]);
        if (v)
            scry_labels_builder_set(&b, e->u.bin.include[i], v);
        else
            scry_labels_builder_del(&b, e->u.bin.include[i]);
    }
    return scry_labels_builder_labels(&b);
}

static int vec_vec(struct lql_ctx *c, const struct lql_expr *e, struct lql_vec *l,
                   struct lql_vec *r, struct lql_vec *out)
{
    enum lql_binop op = e->u.bin.op;
    bool right_many = e->u.bin.card == 2;
    struct lql_vec *many = right_many ? r : l, *one = right_many ? l : r;
    /* keys of the one side */
    struct lql_vec okeys = { 0 };
    struct lql_smap km;
    lql__smap_init(&km);
    size_t *ogrp = scry_arena_alloc(c->a, (one->n + 1) * sizeof *ogrp);
    for (size_t i = 0; i < one->n; i++) {
        struct scry_labels k = match_key(e, &one->s[i].labels, c->a);
        uint64_t h = scry_labels_hash(&k);
        long j = lql__smap_find(&km, h, &k, vec_at, &okeys);
        if (j < 0) {
            lql__smap_add(&km, h, okeys.n);
            lql__vec_add(c, &okeys, k);
            j = (long)okeys.n - 1;
        }
        ogrp[i] = (size_t)j;
    }
    /* per key and step: the one-side series present there (first wins) */
    long *at = scry_calloc(okeys.n + 1, sizeof *at);
    struct lql_smap om;
    lql__smap_init(&om);
    int rc = 0;
    size_t *mgrp = scry_arena_alloc(c->a, (many->n + 1) * sizeof *mgrp);
    for (size_t i = 0; i < many->n; i++) {
        struct scry_labels k = match_key(e, &many->s[i].labels, c->a);
        long j = lql__smap_find(&km, scry_labels_hash(&k), &k, vec_at, &okeys);
        mgrp[i] = j < 0 ? (size_t)-1 : (size_t)j;
    }
    for (size_t t = 0; t < c->n_steps && !rc; t++) {
        for (size_t j = 0; j < okeys.n; j++)
            at[j] = -1;
        for (size_t i = 0; i < one->n; i++)
            if (one->s[i].has[t]) {
                if (at[ogrp[i]] >= 0 && op > LQL_UNLESS) {
                    struct scry_buf b;
                    scry_buf_init(&b);
                    scry_labels_format(&okeys.s[ogrp[i]].labels, &b);
                    rc = scry_err_set(c->err, SCRY_EINVAL, "found duplicate series for the "
                                      "match group %s on the %s hand-side of the operation; "
                                      "many-to-many matching not allowed: matching labels "
                                      "must be unique on one side", b.p,
                                      right_many ? "left" : "right");
                    scry_buf_fini(&b);
                    break;
                }
                at[ogrp[i]] = (long)i;
            }
        for (size_t i = 0; i < many->n && !rc; i++) {
            if (!many->s[i].has[t])
                continue;
            long o = mgrp[i] == (size_t)-1 ? -1 : at[mgrp[i]];
            if (op == LQL_AND || op == LQL_UNLESS || op == LQL_OR) {
                if ((op == LQL_AND) != (o >= 0) && op != LQL_OR)
                    continue;
                struct lql_ser *s = vec_get(c, out, &om, many->s[i].labels);
                s->v[t] = many->s[i].v[t];
                s->has[t] = 1;
                continue;
            }
            if (o < 0)
                continue;
            double a = many->s[i].v[t], b = one->s[o].v[t];
            if (right_many) {
                double x = a;
                a = b;
                b = x;
            }
            bool keep;
            double v = apply(op, a, b, e->u.bin.return_bool, &keep);
            if (!keep)
                continue;
            if (is_cmp(op) && !e->u.bin.return_bool)
                v = many->s[i].v[t];
            struct scry_labels ls = result_labels(c, e, &many->s[i].labels, &one->s[o].labels);
            struct lql_ser *s = vec_get(c, out, &om, ls);
            s->v[t] = v;
            s->has[t] = 1;
        }
        if (op == LQL_OR) {
            /* rhs series whose key has no lhs sample at t */
            for (size_t i = 0; i < r->n; i++) {
                if (!r->s[i].has[t])
                    continue;
                struct scry_labels k = match_key(e, &r->s[i].labels, c->a);
                bool seen = false;
                for (size_t j = 0; j < l->n && !seen; j++)
                    if (l->s[j].has[t] && mgrp[j] != (size_t)-1 &&
                        scry_labels_equal(&okeys.s[mgrp[j]].labels, &k))
                        seen = true;
                if (!seen) {
                    struct lql_ser *s = vec_get(c, out, &om, r->s[i].labels);
                    s->v[t] = r->s[i].v[t];
                    s->has[t] = 1;
                }
            }
        }
    }
    free(at);
    lql__smap_fini(&km);
    lql__smap_fini(&om);
    return rc;
}

int lql__eval_binary(struct lql_ctx *c, const struct lql_expr *e, struct lql_vec *out)
{
    struct lql_vec l = { 0 }, r = { 0 };
    int rc = lql__eval_node(c, e->u.bin.lhs, &l);
    if (!rc)
        rc = lql__eval_node(c, e->u.bin.rhs, &r);
    if (rc)
        return rc;
    enum lql_binop op = e->u.bin.op;
    if (!l.scalar && !r.scalar)
        return vec_vec(c, e, &l, &r, out);
    /* at least one scalar */
    out->scalar = l.scalar && r.scalar;
    struct lql_vec *vec = l.scalar ? &r : &l;
    for (size_t i = 0; i < vec->n; i++) {
        struct lql_ser *s = NULL;
        for (size_t t = 0; t < c->n_steps; t++) {
            if (!l.s[l.scalar ? 0 : i].has[t] || !r.s[r.scalar ? 0 : i].has[t])
                continue;
            double a = l.s[l.scalar ? 0 : i].v[t], b = r.s[r.scalar ? 0 : i].v[t];
            bool keep;
            double v = apply(op, a, b, e->u.bin.return_bool, &keep);
            if (!keep)
                continue;
            /* a filtering comparison keeps the vector side's value */
            if (is_cmp(op) && !e->u.bin.return_bool)
                v = l.scalar ? b : a;
            if (!s)
                s = lql__vec_add(c, out, vec->s[i].labels);
            s->v[t] = v;
            s->has[t] = 1;
        }
        if (out->scalar && !s) {
            s = lql__vec_add(c, out, vec->s[i].labels);
        }
    }
    return 0;
}

/* ---- dispatch ---- */

/* Prometheus's label_replace: $1, ${1}, $name, ${name} from the anchored
 * regex's groups. */
static void expand(pcre2_code *re, pcre2_match_data *md, const char *src, const char *repl,
                   struct scry_buf *b)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t n_ov = pcre2_get_ovector_count(md);
    for (const char *p = repl; *p;) {
        if (*p != '$') {
            scry_buf_putc(b, *p++);
            continue;
        }
        p++;
        if (*p == '$') {
            scry_buf_putc(b, *p++);
            continue;
        }
        bool brace = *p == '{';
        if (brace)
            p++;
        const char *ns = p;
        while (*p && (isalnum((unsigned char)*p) || *p == '_'))
            p++;
        size_t nl = (size_t)(p - ns);
        if (brace) {
            if (*p != '}') {
                scry_buf_putc(b, '$');
                p = ns - 1;
                scry_buf_putc(b, *p++);
                continue;
            }
            p++;
        }
        if (!nl)
            continue;
        char name[64];
        if (nl >= sizeof name)
            continue;
        memcpy(name, ns, nl);
        name[nl] = 0;
        int g = -1;
        if (isdigit((unsigned char)name[0])) {
            char *end;
            long v = strtol(name, &end, 10);
            if (!*end)
                g = (int)v;
        } else {
            g = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
        }
        if (g >= 0 && (uint32_t)g < n_ov && ov[2 * g] != PCRE2_UNSET)
            scry_buf_put(b, src + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    }
}

static int eval_label_replace(struct lql_ctx *c, const struct lql_expr *e, struct lql_vec *out)
{
    struct lql_vec in = { 0 };
    int rc = lql__eval_node(c, e->u.lrep.inner, &in);
    if (rc)
        return rc;
    char *pat = scry_arena_printf(c->a, "^(?:%s)$", e->u.lrep.regex);
    char why[128];
    void *md;
    pcre2_code *re = lql__re_compile(pat, strlen(pat), &md, why, sizeof why, NULL);
    if (!re)
        return scry_err_set(c->err, SCRY_EINVAL, "invalid regex in label_replace: %s", why);
    for (size_t i = 0; i < in.n; i++) {
        struct lql_ser *s = &in.s[i];
        const char *src = scry_labels_get(&s->labels, e->u.lrep.src);
        if (!src)
            src = "";
        if (pcre2_match(re, (PCRE2_SPTR)src, strlen(src), 0, 0, md, NULL) < 0)
            continue;
        struct scry_buf b;
        scry_buf_init(&b);
        expand(re, md, src, e->u.lrep.repl, &b);
        struct scry_labels_builder lb;
        scry_labels_builder_init(&lb, c->a);
        scry_labels_builder_reset(&lb, &s->labels);
        if (b.len)
            scry_labels_builder_set(&lb, e->u.lrep.dst, scry_arena_strndup(c->a, b.p, b.len));
        else
            scry_labels_builder_del(&lb, e->u.lrep.dst);
        s->labels = scry_labels_builder_labels(&lb);
        scry_buf_fini(&b);
    }
    lql__re_free(re, md);
    *out = in;
    return 0;
}

int lql__eval_node(struct lql_ctx *c, const struct lql_expr *e, struct lql_vec *out)
{
    memset(out, 0, sizeof *out);
    int rc = lql__check_deadline(c);
    if (rc)
        return rc;
    switch (e->kind) {
    case LQL_PAREN: return lql__eval_node(c, e->u.paren, out);
    case LQL_NUMBER:
    case LQL_VECTOR: {
        struct lql_ser *s = lql__vec_add(c, out, (struct scry_labels){ NULL, 0 });
        for (size_t t = 0; t < c->n_steps; t++)
            s->v[t] = e->u.num, s->has[t] = 1;
        out->scalar = e->kind == LQL_NUMBER;
        return 0;
    }
    case LQL_RANGE: return lql__eval_range(c, e, NULL, out);
    case LQL_VAGG: return lql__eval_vagg(c, e, out);
    case LQL_BINARY: return lql__eval_binary(c, e, out);
    case LQL_LABEL_REPLACE: return eval_label_replace(c, e, out);
    case LQL_LOG:
        return scry_err_set(c->err, SCRY_EINVAL, "a log query is not a metric query");
    }
    return 0;
}

static int cmp_series(const void *a, const void *b)
{
    return scry_labels_cmp(&((const struct lql_out_series *)a)->labels,
                           &((const struct lql_out_series *)b)->labels);
}

static bool keeps_order(const struct lql_expr *e)
{
    while (e->kind == LQL_PAREN)
        e = e->u.paren;
    return e->kind == LQL_VAGG && (e->u.vagg.op == LQL_SORT || e->u.vagg.op == LQL_SORT_DESC ||
                                   e->u.vagg.op == LQL_TOPK || e->u.vagg.op == LQL_BOTTOMK);
}

int lql_eval_metric(const struct lql_opts *opts, struct scry_queryable *store,
                    const struct lql_expr *e, int64_t start_ns, int64_t end_ns, int64_t step_ns,
                    bool instant, struct scry_arena *a, struct lql_result *out,
                    struct scry_err *err)
{
    struct lql_opts o = opts ? *opts : (struct lql_opts){ 0 };
    if (!o.timeout_ms)
        o.timeout_ms = DEFAULT_TIMEOUT_MS;
    memset(out, 0, sizeof *out);
    if (lql_is_log(e))
        return scry_err_set(err, SCRY_EINVAL, "log queries are not supported as an instant "
                            "query type, please change your query to a range query type");
    if (!instant && (step_ns <= 0 || end_ns < start_ns))
        return scry_err_set(err, SCRY_EINVAL, "invalid range or step");
    struct lql_ctx c = { .opts = &o, .store = store, .a = a, .err = err,
                         .start_ns = start_ns, .step_ns = instant ? 1 : step_ns };
    c.n_steps = instant ? 1 : (size_t)((end_ns - start_ns) / step_ns) + 1;
    c.deadline_s = scry_mono_s() + (double)o.timeout_ms / 1000.0;
    struct lql_vec v;
    int rc = lql__eval_node(&c, e, &v);
    out->lines_processed = c.lines;
    out->bytes_processed = c.bytes;
    if (rc)
        return rc;
    out->t_ns = start_ns;
    if (instant && v.scalar) {
        out->type = LQL_RES_SCALAR;
        out->scalar = v.n && v.s[0].has[0] ? v.s[0].v[0] : NAN;
        return 0;
    }
    out->type = instant ? LQL_RES_VECTOR : LQL_RES_MATRIX;
    out->series = scry_arena_calloc(a, v.n + 1, sizeof *out->series);
    for (size_t i = 0; i < v.n; i++) {
        struct lql_ser *s = &v.s[i];
        size_t n = 0;
        for (size_t t = 0; t < c.n_steps; t++)
            n += s->has[t];
        if (!n)
            continue;
        struct lql_out_series *os = &out->series[out->n_series++];
        os->labels = s->labels;
        os->points = scry_arena_alloc(a, n * sizeof *os->points);
        for (size_t t = 0; t < c.n_steps; t++)
            if (s->has[t])
                os->points[os->n_points++] =
                    (struct lql_point){ start_ns + (int64_t)t * c.step_ns, s->v[t] };
    }
    if (!(instant && keeps_order(e)))
        qsort(out->series, out->n_series, sizeof *out->series, cmp_series);
    return 0;
}
