/* promql_series.c — series descriptions of PromQL test files.
 *
 * Prometheus parses these with its PromQL lexer in a "series description"
 * mode and a few grammar rules; the notation is small and fully specified
 * in the conformance FORMAT.md §3, so a direct hand parser is shorter than
 * bending the query lexer. Where the two could disagree we follow the
 * lexer: a sign belongs to the item it precedes ("1 +2x3" is 1 then
 * 2 2 2 2), "NxK" gives K+1 values but "_xK" gives K gaps, and stale, Inf
 * and NaN take no "xK".
 *
 * Native-histogram literals are parsed completely (schema, sums, spans,
 * custom bounds, reset hint). {{A}}+{{B}}xK adds bucket-wise when both use
 * the same schema; other combinations repeat A and mark it inexact (no test
 * before tier 3 needs them). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/promql.h"
#include "query/promql_series.h"

double pql_stale_nan(void)
{
    uint64_t bits = PQL_STALE_NAN_BITS;
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

bool pql_is_stale_nan(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return bits == PQL_STALE_NAN_BITS;
}

struct sp {
    struct scry_arena *a;
    const char *s;
    size_t len, i;
    struct scry_err *err;
};

static int fail(struct sp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct sp *p, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    scry_err_set(p->err, SCRY_EPARSE, "1:%zu: parse error: %s", p->i + 1, buf);
    if (p->err) {
        p->err->line = 1;
        p->err->col = (int)p->i + 1;
        p->err->offset = p->i;
    }
    return SCRY_EPARSE;
}

static bool at_end(const struct sp *p) { return p->i >= p->len; }
static int cur(const struct sp *p) { return p->i < p->len ? (unsigned char)p->s[p->i] : -1; }
static bool is_sp(int c) { return c == ' ' || c == '\t'; }
static void skip_ws(struct sp *p)
{
    while (is_sp(cur(p)) || cur(p) == '\n' || cur(p) == '\r')
        p->i++;
}

/* ---- labels ------------------------------------------------------------- */

static bool name_start(int c) { return c == '_' || c == ':' || isalpha(c); }
static bool name_char(int c) { return name_start(c) || isdigit(c); }

static int quoted(struct sp *p, const char **out)
{
    int q = cur(p);
    size_t start = p->i++;
    while (!at_end(p) && cur(p) != q) {
        if (cur(p) == '\\' && q != '`')
            p->i++;
        p->i++;
    }
    if (at_end(p))
        return fail(p, "unterminated quoted string");
    p->i++;
    size_t n;
    if (pql_unquote(p->a, p->s + start, p->i - start, out, &n, NULL) != 0)
        return fail(p, "invalid quoted string");
    return 0;
}

static int cmp_label(const void *x, const void *y)
{
    return strcmp(((const struct scry_label *)x)->name, ((const struct scry_label *)y)->name);
}

static int parse_labels(struct sp *p, struct scry_labels *out)
{
    struct scry_label v[128];
    size_t n = 0;
    if (name_start(cur(p))) {
        size_t st = p->i;
        while (name_char(cur(p)))
            p->i++;
        v[n].name = SCRY_METRIC_NAME;
        v[n++].value = scry_arena_strndup(p->a, p->s + st, p->i - st);
    }
    if (cur(p) == '{') {
        p->i++;
        for (;;) {
            skip_ws(p);
            if (cur(p) == '}') {
                p->i++;
                break;
            }
            if (n >= 127)
                return fail(p, "too many labels");
            const char *name;
            if (cur(p) == '"' || cur(p) == '\'' || cur(p) == '`') {
                if (quoted(p, &name) != 0)
                    return SCRY_EPARSE;
                skip_ws(p);
                if (cur(p) == ',' || cur(p) == '}') { /* {"metric", a="b"} */
                    v[n].name = SCRY_METRIC_NAME;
                    v[n++].value = name;
                    if (cur(p) == ',')
                        p->i++;
                    continue;
                }
            } else if (isalpha(cur(p)) || cur(p) == '_') {
                size_t st = p->i;
                while (isalnum(cur(p)) || cur(p) == '_')
                    p->i++;
                name = scry_arena_strndup(p->a, p->s + st, p->i - st);
            } else {
                return fail(p, "unexpected character in label set: expected identifier or \"}\"");
            }
            skip_ws(p);
            if (cur(p) != '=')
                return fail(p, "unexpected character in label set: expected \"=\"");
            p->i++;
            skip_ws(p);
            if (cur(p) != '"' && cur(p) != '\'' && cur(p) != '`')
                return fail(p, "unexpected character in label set: expected string");
            const char *val;
            if (quoted(p, &val) != 0)
                return SCRY_EPARSE;
            v[n].name = name;
            v[n++].value = val;
            skip_ws(p);
            if (cur(p) == ',') {
                p->i++;
                continue;
            }
            if (cur(p) != '}')
                return fail(p, "unexpected character in label set: expected \",\" or \"}\"");
        }
    }
    /* Sort by name; a later duplicate wins. */
    qsort(v, n, sizeof(v[0]), cmp_label);
    struct scry_label *o = scry_arena_alloc(p->a, (n ? n : 1) * sizeof(*o));
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        if (m > 0 && strcmp(o[m - 1].name, v[k].name) == 0)
            o[m - 1] = v[k];
        else
            o[m++] = v[k];
    }
    out->v = o;
    out->n = m;
    return 0;
}

int pql_series_parse_labels(struct scry_arena *a, const char *s, size_t len,
                            struct scry_labels *out, size_t *used, struct scry_err *err)
{
    struct sp p = { .a = a, .s = s, .len = len, .err = err };
    int rc = parse_labels(&p, out);
    *used = p.i;
    return rc;
}

/* ---- numbers ------------------------------------------------------------- */

bool pql_series_float(const char *s, size_t len, double *out)
{
    char z[128];
    size_t n = 0;
    if (len == 0 || len >= sizeof(z))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_')
            continue;
        z[n++] = s[i];
    }
    z[n] = 0;
    const char *b = z;
    if (*b == '+' || *b == '-')
        b++;
    if (strcasecmp(b, "inf") == 0 || strcasecmp(b, "nan") == 0) {
        double v = tolower((unsigned char)*b) == 'n' ? NAN : INFINITY;
        *out = z[0] == '-' ? -v : v;
        return true;
    }
    if (!*b || !(isdigit((unsigned char)*b) || *b == '.'))
        return false;
    for (const char *c = b; *c; c++)
        if (!isdigit((unsigned char)*c) && !strchr(".eE+-", *c))
            return false;
    char *end;
    *out = strtod(z, &end);
    return *end == 0;
}

/* The extent of a float token at p->i (sign not included). */
static size_t float_len(const struct sp *p, size_t i)
{
    size_t st = i;
    if (i + 3 <= p->len && (strncasecmp(p->s + i, "inf", 3) == 0 || strncasecmp(p->s + i, "nan", 3) == 0))
        return 3;
    while (i < p->len) {
        char c = p->s[i];
        if (isdigit((unsigned char)c) || c == '.' || c == '_') {
            i++;
        } else if ((c == 'e' || c == 'E') && i > st) {
            i++;
            if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
                i++;
        } else {
            break;
        }
    }
    return i - st;
}

static int read_float(struct sp *p, bool allow_sign, double *out)
{
    size_t st = p->i;
    if (allow_sign && (cur(p) == '+' || cur(p) == '-'))
        p->i++;
    size_t n = float_len(p, p->i);
    p->i += n;
    if (n == 0 || !pql_series_float(p->s + st, p->i - st, out)) {
        p->i = st;
        return fail(p, "bad number syntax in series values");
    }
    return 0;
}

static int read_uint(struct sp *p, uint64_t *out)
{
    if (!isdigit(cur(p)))
        return fail(p, "invalid repetition in series values: expected a number after 'x'");
    uint64_t v = 0;
    while (isdigit(cur(p))) {
        v = v * 10 + (uint64_t)(cur(p) - '0');
        if (v > 10000000)
            return fail(p, "invalid repetition in series values: too large");
        p->i++;
    }
    *out = v;
    return 0;
}

static bool item_end(const struct sp *p) { return at_end(p) || is_sp(cur(p)); }

/* ---- histograms ------------------------------------------------------- */

static int read_float_list(struct sp *p, double **out, size_t *n_out)
{
    if (cur(p) != '[')
        return fail(p, "expected '[' in histogram buckets");
    p->i++;
    size_t cap = 8, n = 0;
    double *v = scry_arena_alloc(p->a, cap * sizeof(double));
    for (;;) {
        while (is_sp(cur(p)))
            p->i++;
        if (cur(p) == ']') {
            p->i++;
            break;
        }
        if (n == cap) {
            double *nv = scry_arena_alloc(p->a, cap * 2 * sizeof(double));
            memcpy(nv, v, n * sizeof(double));
            v = nv, cap *= 2;
        }
        if (read_float(p, true, &v[n]) != 0)
            return SCRY_EPARSE;
        n++;
    }
    *out = v;
    *n_out = n;
    return 0;
}

static int read_int(struct sp *p, int32_t *out)
{
    double v;
    if (read_float(p, true, &v) != 0)
        return SCRY_EPARSE;
    if (v != floor(v) || fabs(v) > 1e9)
        return fail(p, "expected an integer in histogram description");
    *out = (int32_t)v;
    return 0;
}

static int parse_histogram(struct sp *p, struct pql_histogram **out)
{
    struct pql_histogram *h = scry_arena_calloc(p->a, 1, sizeof(*h));
    static const char *const keys[] = { "schema", "sum", "count", "z_bucket", "z_bucket_w",
                                        "buckets", "offset", "n_buckets", "n_offset",
                                        "custom_values", "counter_reset_hint" };
    unsigned seen = 0;
    p->i += 2; /* {{ */
    for (;;) {
        while (is_sp(cur(p)))
            p->i++;
        if (cur(p) == '}' && p->i + 1 < p->len && p->s[p->i + 1] == '}') {
            p->i += 2;
            break;
        }
        size_t st = p->i;
        while (isalpha(cur(p)) || cur(p) == '_')
            p->i++;
        int k = -1;
        for (int j = 0; j < 11; j++)
            if (strlen(keys[j]) == p->i - st && strncmp(keys[j], p->s + st, p->i - st) == 0)
                k = j;
        if (k < 0) {
            p->i = st;
            return fail(p, "bad histogram descriptor found: \"%.*s\"", (int)(p->len - st > 20 ? 20 : p->len - st), p->s + st);
        }
        if (cur(p) != ':')
            return fail(p, "missing `:` for histogram descriptor");
        p->i++;
        if (seen & (1u << k))
            return fail(p, "duplicate key \"%s\" in histogram", keys[k]);
        seen |= 1u << k;
        int rc = 0;
        switch (k) {
        case 0: rc = read_int(p, &h->schema); break;
        case 1: rc = read_float(p, true, &h->sum); break;
        case 2: rc = read_float(p, true, &h->count); break;
        case 3: rc = read_float(p, true, &h->zero_count); break;
        case 4: rc = read_float(p, true, &h->zero_threshold); break;
        case 5: rc = read_float_list(p, &h->buckets, &h->n_buckets); break;
        case 6: rc = read_int(p, &h->offset); break;
        case 7: rc = read_float_list(p, &h->n_buckets_v, &h->n_n_buckets); break;
        case 8: rc = read_int(p, &h->n_offset); break;
        case 9: rc = read_float_list(p, &h->custom_values, &h->n_custom_values); break;
        case 10: {
            static const char *const hints[] = { "unknown", "reset", "not_reset", "gauge" };
            size_t hs = p->i;
            while (isalpha(cur(p)) || cur(p) == '_')
                p->i++;
            int found = -1;
            for (int j = 0; j < 4; j++)
                if (strlen(hints[j]) == p->i - hs && strncmp(hints[j], p->s + hs, p->i - hs) == 0)
                    found = j;
            if (found < 0)
                return fail(p, "error parsing counter_reset_hint");
            h->hint = (enum pql_reset_hint)found;
            h->hint_set = true;
            break;
        }
        }
        if (rc != 0)
            return rc;
        if (!is_sp(cur(p)) && cur(p) != '}')
            return fail(p, "histogram description incomplete");
    }
    *out = h;
    return 0;
}

/* Absolute bucket counts of one sign as index → count over [lo, hi). */
static void add_span(double *dst, int32_t lo, const double *b, size_t n, int32_t off, double k)
{
    for (size_t i = 0; i < n; i++)
        dst[off + (int32_t)i - lo] += k * b[i];
}

static void span_range(const double *b1, size_t n1, int32_t o1, const double *b2, size_t n2,
                       int32_t o2, int32_t *lo, int32_t *hi)
{
    (void)b1, (void)b2;
    *lo = INT32_MAX, *hi = INT32_MIN;
    if (n1) {
        *lo = o1 < *lo ? o1 : *lo;
        *hi = o1 + (int32_t)n1 > *hi ? o1 + (int32_t)n1 : *hi;
    }
    if (n2) {
        *lo = o2 < *lo ? o2 : *lo;
        *hi = o2 + (int32_t)n2 > *hi ? o2 + (int32_t)n2 : *hi;
    }
}

static void combine_side(struct sp *p, const double *b1, size_t n1, int32_t o1, const double *b2,
                         size_t n2, int32_t o2, double k, double **out, size_t *n_out,
                         int32_t *off_out)
{
    int32_t lo, hi;
    span_range(b1, n1, o1, b2, n2, o2, &lo, &hi);
    if (lo > hi) {
        *out = NULL, *n_out = 0, *off_out = 0;
        return;
    }
    size_t n = (size_t)(hi - lo);
    double *v = scry_arena_calloc(p->a, n ? n : 1, sizeof(double));
    add_span(v, lo, b1, n1, o1, 1);
    add_span(v, lo, b2, n2, o2, k);
    *out = v, *n_out = n, *off_out = lo;
}

/* a + k·b for histograms of the same schema. */
static struct pql_histogram *hist_combine(struct sp *p, const struct pql_histogram *a,
                                          const struct pql_histogram *b, double k)
{
    struct pql_histogram *h = scry_arena_alloc(p->a, sizeof(*h));
    *h = *a;
    h->hint_set = b->hint_set;
    h->hint = b->hint_set ? b->hint : a->hint;
    if (a->schema != b->schema) {
        h->inexact = true;
        return h;
    }
    h->sum = a->sum + k * b->sum;
    h->count = a->count + k * b->count;
    h->zero_count = a->zero_count + k * b->zero_count;
    combine_side(p, a->buckets, a->n_buckets, a->offset, b->buckets, b->n_buckets, b->offset, k,
                 &h->buckets, &h->n_buckets, &h->offset);
    combine_side(p, a->n_buckets_v, a->n_n_buckets, a->n_offset, b->n_buckets_v, b->n_n_buckets,
                 b->n_offset, k, &h->n_buckets_v, &h->n_n_buckets, &h->n_offset);
    return h;
}

/* ---- values ------------------------------------------------------------- */

struct vals {
    struct pql_seq_value *v;
    size_t n, cap;
};

static struct pql_seq_value *push(struct sp *p, struct vals *vs)
{
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 16;
        struct pql_seq_value *nv = scry_arena_alloc(p->a, cap * sizeof(*nv));
        if (vs->n)
            memcpy(nv, vs->v, vs->n * sizeof(*nv));
        vs->v = nv, vs->cap = cap;
    }
    struct pql_seq_value *x = &vs->v[vs->n++];
    memset(x, 0, sizeof(*x));
    return x;
}

static int hist_item(struct sp *p, struct vals *vs)
{
    struct pql_histogram *a, *b = NULL;
    if (parse_histogram(p, &a) != 0)
        return SCRY_EPARSE;
    uint64_t times = 0;
    double sign = 1;
    if ((cur(p) == '+' || cur(p) == '-') && p->i + 2 < p->len && p->s[p->i + 1] == '{' &&
        p->s[p->i + 2] == '{') {
        sign = cur(p) == '-' ? -1 : 1;
        p->i++;
        if (parse_histogram(p, &b) != 0)
            return SCRY_EPARSE;
        if (cur(p) != 'x')
            return fail(p, "unexpected character in series values: expected 'x'");
    }
    if (cur(p) == 'x') {
        p->i++;
        if (read_uint(p, &times) != 0)
            return SCRY_EPARSE;
    }
    const struct pql_histogram *h = a;
    for (uint64_t i = 0; i <= times; i++) {
        push(p, vs)->h = h;
        if (b)
            h = hist_combine(p, h, b, sign);
    }
    return 0;
}

static int float_item(struct sp *p, struct vals *vs)
{
    if (cur(p) == '_') {
        p->i++;
        uint64_t k = 1;
        if (cur(p) == 'x') {
            p->i++;
            if (read_uint(p, &k) != 0)
                return SCRY_EPARSE;
        }
        for (uint64_t i = 0; i < k; i++)
            push(p, vs)->omitted = true;
        return 0;
    }
    if (p->i + 5 <= p->len && strncmp(p->s + p->i, "stale", 5) == 0 &&
        (p->i + 5 == p->len || is_sp(p->s[p->i + 5]))) {
        p->i += 5;
        push(p, vs)->v = pql_stale_nan();
        return 0;
    }
    double v, d = 0;
    size_t st = p->i;
    if (read_float(p, true, &v) != 0)
        return SCRY_EPARSE;
    bool special = isalpha((unsigned char)p->s[p->i - 1]); /* Inf/NaN: no xK */
    uint64_t times = 0;
    if (!special && (cur(p) == '+' || cur(p) == '-')) {
        if (read_float(p, true, &d) != 0)
            return SCRY_EPARSE;
        if (cur(p) != 'x')
            return fail(p, "unexpected character in series values: expected 'x'");
    }
    if (!special && cur(p) == 'x') {
        p->i++;
        if (read_uint(p, &times) != 0)
            return SCRY_EPARSE;
    }
    if (!item_end(p)) {
        p->i = st;
        return fail(p, "bad series value");
    }
    for (uint64_t i = 0; i <= times; i++) {
        push(p, vs)->v = v;
        v += d;
    }
    return 0;
}

int pql_series_parse(struct scry_arena *a, const char *s, size_t len, struct pql_series_desc *out,
                     struct scry_err *err)
{
    struct sp p = { .a = a, .s = s, .len = len, .err = err };
    memset(out, 0, sizeof(*out));
    skip_ws(&p);
    if (parse_labels(&p, &out->labels) != 0)
        return SCRY_EPARSE;
    if (!at_end(&p) && !is_sp(cur(&p)))
        return fail(&p, "unexpected character after the label set");
    struct vals vs = { 0 };
    for (;;) {
        while (is_sp(cur(&p)))
            p.i++;
        if (at_end(&p))
            break;
        int rc = cur(&p) == '{' && p.i + 1 < len && s[p.i + 1] == '{' ? hist_item(&p, &vs)
                                                                         : float_item(&p, &vs);
        if (rc != 0)
            return rc;
        if (!item_end(&p))
            return fail(&p, "unexpected character in series values");
    }
    out->values = vs.v;
    out->n_values = vs.n;
    return 0;
}
