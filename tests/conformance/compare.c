/* compare.c — checking an evaluation against an eval block (FORMAT.md §5.2,
 * §5.4, §6): the error expectation, annotations, and the result (scalar,
 * string, vector, matrix; floats and native histograms).
 *
 * Every check returns true when it passes, or false with a one-line reason
 * in why, which the runner prints under the failing eval. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tests/conformance/conformance.h"

/* util/almost.Equal with epsilon 1e-6, plus the stale-marker rule: exact
 * against zero (or below the smallest normal), relative otherwise. */
bool conf_float_eq(double a, double e)
{
    bool sa = pql_is_stale_nan(a), se = pql_is_stale_nan(e);
    if (sa || se)
        return sa && se;
    if (isnan(a) && isnan(e))
        return true;
    if (a == e)
        return true;
    const double eps = 1e-6;
    double absum = fabs(a) + fabs(e);
    double diff = fabs(a - e);
    if (a == 0 || e == 0 || absum < DBL_MIN)
        return diff < eps * DBL_MIN;
    return diff / fmin(absum, DBL_MAX) < eps;
}

static bool fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return false;
}

/* RE2-style unanchored search (PCRE2 is close enough for the corpus). */
static bool regex_search(const char *re, const char *s)
{
    int errc;
    PCRE2_SIZE erro;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &errc,
                                     &erro, NULL);
    if (!code)
        return false;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    int rc = pcre2_match(code, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    return rc >= 0;
}

static bool expect_matches(const struct conf_expect *x, const char *msg)
{
    if (x->msg)
        return strcmp(x->msg, msg) == 0;
    if (x->regex)
        return regex_search(x->regex, msg);
    return true;
}

bool conf_check_error(const struct conf_cmd *c, int rc, const char *msg, char *why, size_t n)
{
    const struct conf_expect *fx = NULL;
    for (size_t i = 0; i < c->n_expects && !fx; i++)
        if (c->expects[i].kind == CONF_EXP_FAIL)
            fx = &c->expects[i];
    if (rc == 0)
        return fx ? fail(why, n, "expected error%s%s but got none", fx->msg ? ": " : "",
                         fx->msg ? fx->msg : "")
                  : true;
    if (!fx)
        return fail(why, n, "unexpected error: %s", msg);
    if (!expect_matches(fx, msg))
        return fail(why, n, "expected error %s %s, got: %s", fx->msg ? "message" : "matching",
                    fx->msg ? fx->msg : fx->regex, msg);
    return true;
}

static bool check_kind(const struct conf_cmd *c, enum conf_expect_kind want,
                       enum conf_expect_kind none, const char **got, size_t n_got,
                       const char *what, char *why, size_t n)
{
    bool any = false;
    for (size_t i = 0; i < c->n_expects; i++) {
        const struct conf_expect *x = &c->expects[i];
        if (x->kind == none && n_got > 0)
            return fail(why, n, "expected no %s, got: %s", what, got[0]);
        if (x->kind != want)
            continue;
        any = true;
        bool hit = false;
        for (size_t k = 0; k < n_got && !hit; k++)
            hit = expect_matches(x, got[k]);
        if (!hit)
            return fail(why, n, "expected %s %s not raised", what,
                        x->msg ? x->msg : x->regex ? x->regex : "(any)");
    }
    if (!any)
        return true;
    if (n_got == 0)
        return fail(why, n, "expected a %s, got none", what);
    for (size_t k = 0; k < n_got; k++) {
        bool hit = false;
        for (size_t i = 0; i < c->n_expects && !hit; i++)
            hit = c->expects[i].kind == want && expect_matches(&c->expects[i], got[k]);
        if (!hit)
            return fail(why, n, "unexpected %s: %s", what, got[k]);
    }
    return true;
}

bool conf_check_annotations(const struct conf_cmd *c, const struct conf_result *r, char *why,
                            size_t n)
{
    return check_kind(c, CONF_EXP_WARN, CONF_EXP_NO_WARN, r->warnings, r->n_warnings, "warning",
                      why, n) &&
           check_kind(c, CONF_EXP_INFO, CONF_EXP_NO_INFO, r->infos, r->n_infos, "info", why, n);
}

/* ---- histograms (§6.4) ------------------------------------------------- */

/* The non-zero buckets of one sign as (index, count), in index order. */
static size_t nonzero(const double *b, size_t n, int32_t off, int32_t *idx, double *cnt,
                      size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++)
        if (b[i] != 0) {
            idx[k] = off + (int32_t)i;
            cnt[k++] = b[i];
        }
    return k;
}

static bool buckets_eq(const double *a, size_t na, int32_t oa, const double *b, size_t nb,
                       int32_t ob)
{
    int32_t ia[512], ib[512];
    double ca[512], cb[512];
    size_t ka = nonzero(a, na, oa, ia, ca, 512), kb = nonzero(b, nb, ob, ib, cb, 512);
    if (ka != kb)
        return false;
    for (size_t i = 0; i < ka; i++)
        if (ia[i] != ib[i] || !conf_float_eq(ca[i], cb[i]))
            return false;
    return true;
}

bool conf_histogram_eq(const struct pql_histogram *a, const struct pql_histogram *e)
{
    if (a->schema != e->schema || !conf_float_eq(a->count, e->count) ||
        !conf_float_eq(a->sum, e->sum) || !conf_float_eq(a->zero_count, e->zero_count) ||
        a->zero_threshold != e->zero_threshold)
        return false;
    if (e->n_custom_values) {
        if (a->n_custom_values != e->n_custom_values)
            return false;
        for (size_t i = 0; i < e->n_custom_values; i++)
            if (a->custom_values[i] != e->custom_values[i])
                return false;
    }
    if (e->hint_set && a->hint != e->hint)
        return false;
    return buckets_eq(a->buckets, a->n_buckets, a->offset, e->buckets, e->n_buckets, e->offset) &&
           buckets_eq(a->n_buckets_v, a->n_n_buckets, a->n_offset, e->n_buckets_v,
                      e->n_n_buckets, e->n_offset);
}

/* ---- vectors and matrices (§6.3) ---------------------------------------- */

static void labels_str(const struct scry_labels *ls, char *out, size_t n)
{
    struct scry_buf b = { 0 };
    scry_buf_putc(&b, '{');
    for (size_t i = 0; i < ls->n; i++)
        scry_buf_printf(&b, "%s%s=\"%s\"", i ? ", " : "", ls->v[i].name, ls->v[i].value);
    scry_buf_putc(&b, '}');
    snprintf(out, n, "%s", b.p);
    scry_buf_fini(&b);
}

static bool same_labels(const struct scry_labels *a, const struct scry_labels *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].name, b->v[i].name) != 0 || strcmp(a->v[i].value, b->v[i].value) != 0)
            return false;
    return true;
}

static long find_expected(const struct conf_cmd *c, const struct scry_labels *ls)
{
    for (size_t i = 0; i < c->n_results; i++)
        if (same_labels(&c->results[i].desc.labels, ls))
            return (long)i;
    return -1;
}

static bool value_eq(const struct conf_point *p, const struct pql_seq_value *e)
{
    if (e->h || p->h)
        return e->h && p->h && conf_histogram_eq(p->h, e->h);
    return conf_float_eq(p->v, e->v);
}

static bool check_vector(const struct conf_cmd *c, const struct conf_result *r, char *why,
                         size_t n)
{
    char ls[512];
    if (r->type != PQL_TYPE_VECTOR)
        return fail(why, n, "expected an instant vector, got %s", pql_type_name(r->type));
    if (r->n_series != c->n_results)
        return fail(why, n, "expected %zu series, got %zu", c->n_results, r->n_series);
    for (size_t i = 0; i < r->n_series; i++) {
        const struct conf_result_series *s = &r->series[i];
        long k = find_expected(c, &s->labels);
        labels_str(&s->labels, ls, sizeof(ls));
        if (k < 0)
            return fail(why, n, "unexpected series %s", ls);
        if (c->ordered && (size_t)k != i)
            return fail(why, n, "series %s at position %zu, expected %ld", ls, i + 1, k + 1);
        const struct pql_series_desc *d = &c->results[k].desc;
        if (d->n_values != 1 || d->values[0].omitted)
            return fail(why, n, "expected line %d must have exactly one value",
                        c->results[k].line);
        if (s->n_points != 1 || !value_eq(&s->points[0], &d->values[0]))
            return fail(why, n, "wrong value for %s (line %d)", ls, c->results[k].line);
    }
    return true;
}

static bool check_matrix(const struct conf_cmd *c, const struct conf_result *r, int64_t start_ms,
                         int64_t end_ms, int64_t step_ms, char *why, size_t n)
{
    char ls[512];
    if (r->type != PQL_TYPE_MATRIX)
        return fail(why, n, "expected a range vector, got %s", pql_type_name(r->type));
    for (size_t i = 1; i < r->n_series; i++)
        if (scry_labels_cmp(&r->series[i - 1].labels, &r->series[i].labels) >= 0)
            return fail(why, n, "matrix not sorted by labels at series %zu", i + 1);
    if (r->n_series != c->n_results)
        return fail(why, n, "expected %zu series, got %zu", c->n_results, r->n_series);
    for (size_t i = 0; i < r->n_series; i++) {
        const struct conf_result_series *s = &r->series[i];
        long k = find_expected(c, &s->labels);
        labels_str(&s->labels, ls, sizeof(ls));
        if (k < 0)
            return fail(why, n, "unexpected series %s", ls);
        const struct pql_series_desc *d = &c->results[k].desc;
        /* floats and histograms are compared as two separate point lists */
        for (int hist = 0; hist < 2; hist++) {
            size_t pi = 0;
            for (size_t vi = 0; vi < d->n_values; vi++) {
                const struct pql_seq_value *e = &d->values[vi];
                int64_t t = start_ms + (int64_t)vi * step_ms;
                if (t > end_ms)
                    return fail(why, n, "expected line %d has values past the end",
                                c->results[k].line);
                if (e->omitted || (e->h != NULL) != hist)
                    continue;
                while (pi < s->n_points && (s->points[pi].h != NULL) != hist)
                    pi++;
                if (pi >= s->n_points)
                    return fail(why, n, "%s: missing point at %lld", ls, (long long)t);
                if (s->points[pi].t_ms != t || !value_eq(&s->points[pi], e))
                    return fail(why, n, "%s: point %lld differs from expected at %lld", ls,
                                (long long)s->points[pi].t_ms, (long long)t);
                pi++;
            }
            while (pi < s->n_points && (s->points[pi].h != NULL) != hist)
                pi++;
            if (pi < s->n_points)
                return fail(why, n, "%s: unexpected point at %lld", ls,
                            (long long)s->points[pi].t_ms);
        }
    }
    return true;
}

bool conf_check_result(const struct conf_cmd *c, const struct conf_result *r, bool matrix,
                       int64_t start_ms, int64_t end_ms, int64_t step_ms, char *why, size_t n)
{
    if (c->has_string) {
        if (r->type != PQL_TYPE_STRING || !r->string || strcmp(r->string, c->string_val) != 0)
            return fail(why, n, "expected string \"%s\"", c->string_val);
        return true;
    }
    if (c->has_scalar) {
        if (r->type != PQL_TYPE_SCALAR)
            return fail(why, n, "expected a scalar, got %s", pql_type_name(r->type));
        if (!conf_float_eq(r->scalar, c->scalar))
            return fail(why, n, "expected scalar %g, got %g", c->scalar, r->scalar);
        return true;
    }
    if (matrix)
        return check_matrix(c, r, start_ms, end_ms, step_ms, why, n);
    return check_vector(c, r, why, n);
}
