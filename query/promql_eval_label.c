/* promql_eval_label.c — label_replace and label_join: Prometheus's
 * Expand of $1/${name} templates against a PCRE2 match, the streaming
 * label_replace over a vector, and label_join. Split out of
 * promql_eval_func.c (dispatch) by concern; pql__eval_call routes here. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <assert.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "query/promql_eval_internal.h"

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

struct lrep {
    const char *dst, *repl, *src;
    pcre2_code *re;
    pcre2_match_data *md;
    int n_groups;
    struct scry_buf o;
    ev_vec_fn fn;   /* streaming */
    void *ud;
};

static int lrep_init(struct ev_ctx *c, const struct pql_call *call, struct lrep *x)
{
    memset(x, 0, sizeof(*x));
    struct ev_val a[4];
    for (int j = 0; j < 4; j++) {
        int rc = pql__eval(c, call->args[j + 1], &a[j]);
        if (rc != 0)
            return rc;
    }
    const char *rs = a[3].str;
    x->dst = a[0].str, x->repl = a[1].str, x->src = a[2].str;
    char *pat = scry_arena_printf(c->a, "^(?s:%s)$", rs);
    int ec;
    PCRE2_SIZE eo;
    x->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &eo, NULL);
    if (!x->re)
        return scry_err_set(c->err, SCRY_EINVAL, "invalid regular expression in label_replace(): %s", rs);
    if (!scry_label_name_valid(x->dst, strlen(x->dst))) {
        pcre2_code_free(x->re);
        x->re = NULL;
        return scry_err_set(c->err, SCRY_EINVAL, "invalid destination label name in label_replace(): %s", x->dst);
    }
    x->md = pcre2_match_data_create_from_pattern(x->re, NULL);
    pcre2_pattern_info(x->re, PCRE2_INFO_CAPTURECOUNT, &x->n_groups);
    x->n_groups++;
    scry_buf_init(&x->o);
    return 0;
}

static void lrep_fini(struct lrep *x)
{
    if (!x->re)
        return;
    scry_buf_fini(&x->o);
    pcre2_match_data_free(x->md);
    pcre2_code_free(x->re);
}

/* The series' new labels; false when they stay as they are. */
static bool lrep_apply(struct ev_ctx *c, struct lrep *x, const struct ev_series *s,
                       struct scry_labels *ls, bool *drop_name)
{
    const char *sv = scry_labels_get(&s->ls, x->src);
    if (!sv)
        sv = "";
    int r = pcre2_match(x->re, (PCRE2_SPTR)sv, strlen(sv), 0, 0, x->md, NULL);
    if (r < 0)
        return false;
    scry_buf_reset(&x->o);
    scry_buf_putc(&x->o, 0);
    x->o.len = 0;
    expand(&x->o, x->repl, sv, pcre2_get_ovector_pointer(x->md), x->n_groups, x->re);
    *ls = set_label(c, &s->ls, x->dst, x->o.p ? x->o.p : "");
    if (strcmp(x->dst, "__name__") == 0)
        *drop_name = false;
    return true;
}

int pql__eval_label_replace(struct ev_ctx *c, const struct pql_call *call, struct ev_val *v)
{
    struct lrep x;
    int rc = lrep_init(c, call, &x);
    if (rc != 0)
        return rc;
    for (size_t k = 0; k < v->vec.n; k++) {
        struct ev_series *s = &v->vec.s[k];
        lrep_apply(c, &x, s, &s->ls, &s->drop_name);
    }
    lrep_fini(&x);
    return 0;
}

static int lrep_series(struct ev_ctx *c, const struct ev_series *s, void *ud)
{
    struct lrep *x = ud;
    struct ev_series o = *s;
    lrep_apply(c, x, s, &o.ls, &o.drop_name);
    return x->fn(c, &o, x->ud);
}

int pql__stream_label_replace(struct ev_ctx *c, const struct pql_expr *e, ev_vec_fn fn, void *ud)
{
    /* the generic order: the vector first, then the strings */
    struct lrep x;
    int rc = lrep_init(c, &e->u.call, &x);
    if (rc != 0)
        return rc;
    x.fn = fn;
    x.ud = ud;
    rc = pql__stream_vec(c, e->u.call.args[0], lrep_series, &x);
    lrep_fini(&x);
    return rc;
}

int pql__eval_label_join(struct ev_ctx *c, const struct pql_call *call, struct ev_val *v)
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
