/* logql_stage.c — one entry through a pipeline: the row of labels, line
 * filters, label filters, formatters, drop/keep, decolorize, unwrap; the
 * required tokens for the store's token index; Go durations and byte sizes.
 *
 * A row holds the entry's labels as a small array of (name, value, kind)
 * where a later set hides an earlier one; strings made while processing
 * (parsed values, formatted lines) live in the row's scratch arena, which
 * the evaluator resets per entry, so nothing is malloc'ed per entry. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query/logql_internal.h"

/* ---- Go durations, byte sizes ---- */

bool lql__parse_go_duration(const char *s, size_t len, double *out_s)
{
    size_t i = 0;
    double sign = 1, total = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        sign = s[i++] == '-' ? -1 : 1;
    if (i == len)
        return false;
    if (len - i == 1 && s[i] == '0') {
        *out_s = 0;
        return true;
    }
    while (i < len) {
        size_t j = i;
        bool digits = false;
        while (j < len && (isdigit((unsigned char)s[j]) || s[j] == '.')) {
            digits |= s[j] != '.';
            j++;
        }
        if (!digits || j == len)
            return false;
        char num[40];
        if (j - i >= sizeof num)
            return false;
        memcpy(num, s + i, j - i);
        num[j - i] = 0;
        char *end;
        double v = strtod(num, &end);
        if (*end)
            return false;
        size_t k = j;
        while (k < len && !isdigit((unsigned char)s[k]) && s[k] != '.')
            k++;
        size_t ul = k - j;
        const char *u = s + j;
        double mult;
        if (ul == 2 && !memcmp(u, "ns", 2)) mult = 1e-9;
        else if (ul == 2 && (!memcmp(u, "us", 2) || !memcmp(u, "\xc2\xb5", 2))) mult = 1e-6;
        else if (ul == 3 && !memcmp(u, "\xc2\xb5s", 3)) mult = 1e-6;
        else if (ul == 2 && !memcmp(u, "ms", 2)) mult = 1e-3;
        else if (ul == 1 && u[0] == 's') mult = 1;
        else if (ul == 1 && u[0] == 'm') mult = 60;
        else if (ul == 1 && u[0] == 'h') mult = 3600;
        else return false;
        total += v * mult;
        i = k;
    }
    *out_s = sign * total;
    return true;
}

bool lql__parse_bytes(const char *s, size_t len, double *out)
{
    size_t i = 0;
    while (i < len && (isdigit((unsigned char)s[i]) || s[i] == '.'))
        i++;
    if (i == 0 || i > 39)
        return false;
    char num[40];
    memcpy(num, s, i);
    num[i] = 0;
    char *end;
    double v = strtod(num, &end);
    if (*end)
        return false;
    size_t j = i;
    while (j < len && s[j] == ' ')
        j++;
    char u[8];
    size_t ul = len - j;
    if (ul >= sizeof u)
        return false;
    for (size_t k = 0; k < ul; k++)
        u[k] = (char)tolower((unsigned char)s[j + k]);
    u[ul] = 0;
    static const struct {
        const char *u;
        double m;
    } units[] = {
        { "", 1 }, { "b", 1 }, { "kb", 1e3 }, { "k", 1e3 }, { "kib", 1024.0 }, { "ki", 1024.0 },
        { "mb", 1e6 }, { "m", 1e6 }, { "mib", 1048576.0 }, { "mi", 1048576.0 }, { "gb", 1e9 },
        { "g", 1e9 }, { "gib", 1073741824.0 }, { "gi", 1073741824.0 }, { "tb", 1e12 },
        { "t", 1e12 }, { "tib", 1099511627776.0 }, { "ti", 1099511627776.0 }, { "pb", 1e15 },
        { "p", 1e15 }, { "pib", 1125899906842624.0 }, { "pi", 1125899906842624.0 },
        { "eb", 1e18 }, { "eib", 1152921504606846976.0 },
    };
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
        if (!strcmp(u, units[k].u)) {
            *out = v * units[k].m;
            return true;
        }
    return false;
}

/* ---- required tokens ----
 * The store's tokenizer (logstore/tokenize.h) makes words of maximal runs
 * of ASCII letters and digits, lower-cased, and its index answers a
 * required word with every chunk holding a token that *contains* it
 * (core/querier.h). A line containing the literal contains each of the
 * literal's alphanumeric runs inside one of its tokens — a run touching an
 * end of the literal may continue in the line (`|= "needle"` matches
 * "xneedley"), which containment covers — so every run is required, and a
 * bare word costs an index lookup, not a scan. Only `|=` filters before
 * the first stage that may rewrite the line count, and only single-valued
 * ones (`|= "a" or "b"` requires neither). */

static bool alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void lql_required_tokens(const struct lql_log *log, struct scry_arena *a,
                         struct scry_str **out, size_t *n_out)
{
    size_t n = 0, cap = 0;
    struct scry_str *v = NULL;
    for (size_t i = 0; i < log->n_stages; i++) {
        const struct lql_stage *st = &log->stages[i];
        if (st->kind != LQL_ST_FILTER)
            break; /* a later filter may see a rewritten line */
        if (st->u.filter.op != LQL_CONTAINS || st->u.filter.n_vals != 1 ||
            st->u.filter.vals[0].ip)
            continue;
        const unsigned char *s = (const unsigned char *)st->u.filter.vals[0].s;
        size_t len = st->u.filter.vals[0].len;
        for (size_t j = 0; j < len;) {
            if (!alnum(s[j])) {
                j++;
                continue;
            }
            size_t k = j;
            while (k < len && alnum(s[k]))
                k++;
            char *w = scry_arena_alloc(a, k - j + 1);
            for (size_t m = j; m < k; m++)
                w[m - j] = (char)tolower(s[m]);
            w[k - j] = 0;
            bool dup = false;
            for (size_t m = 0; m < n && !dup; m++)
                dup = v[m].len == k - j && !memcmp(v[m].p, w, k - j);
            if (!dup) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 8;
                    struct scry_str *nv = scry_arena_alloc(a, cap * sizeof *nv);
                    if (n)
                        memcpy(nv, v, n * sizeof *nv);
                    v = nv;
                }
                v[n++] = (struct scry_str){ w, k - j };
            }
            j = k;
        }
    }
    *out = v;
    *n_out = n;
}

/* ---- the row ---- */

const struct lql_lbl *lql__row_get(const struct lql_row *r, const char *name)
{
    for (size_t i = r->n; i-- > 0;)
        if (!r->v[i].dead && !strcmp(r->v[i].name, name))
            return &r->v[i];
    return NULL;
}

static void row_push(struct lql_row *r, const char *name, const char *val, size_t vlen,
                     enum lql_lbl_kind kind)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? 2 * r->cap : 32;
        struct lql_lbl *w = scry_arena_alloc(r->ea, nc * sizeof *w);
        if (r->n)
            memcpy(w, r->v, r->n * sizeof *w);
        r->v = w;
        r->cap = nc;
    }
    r->v[r->n++] = (struct lql_lbl){ name, val, vlen, (uint8_t)kind, false };
}

void lql__row_set(struct lql_row *r, const char *name, size_t nlen, const char *val,
                  size_t vlen, enum lql_lbl_kind kind, bool borrowed)
{
    char nb[256];
    if (nlen >= sizeof nb)
        nlen = sizeof nb - 1;
    memcpy(nb, name, nlen);
    nb[nlen] = 0;
    const char *nm = nb;
    for (size_t i = r->n; i-- > 0;) {
        struct lql_lbl *l = &r->v[i];
        if (l->dead || strcmp(l->name, nb))
            continue;
        if (kind == LQL_LBL_PARSED && l->kind == LQL_LBL_STREAM) {
            /* Loki keeps the stream label and renames the parsed one */
            nm = scry_arena_printf(r->ea, "%s_extracted", nb);
            const struct lql_lbl *ex = lql__row_get(r, nm);
            if (ex)
                ((struct lql_lbl *)ex)->dead = true;
            goto push;
        }
        l->dead = true;
    }
    nm = scry_arena_strndup(r->ea, nb, nlen);
push:
    if (!borrowed)
        val = scry_arena_strndup(r->ea, val, vlen);
    row_push(r, nm, val, vlen, kind);
}

void lql__row_del(struct lql_row *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!r->v[i].dead && !strcmp(r->v[i].name, name))
            r->v[i].dead = true;
}

static int lbl_cmp(const void *a, const void *b)
{
    return strcmp(((const struct scry_label *)a)->name, ((const struct scry_label *)b)->name);
}

struct scry_labels lql__row_labels(const struct lql_row *r, struct scry_arena *a, int only_kind)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += !r->v[i].dead && (only_kind < 0 || r->v[i].kind == only_kind);
    struct scry_label *v = scry_arena_alloc(a, (n ? n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct lql_lbl *l = &r->v[i];
        if (l->dead || (only_kind >= 0 && l->kind != only_kind))
            continue;
        /* an empty value is an absent label, as in Prometheus */
        if (l->vlen == 0)
            continue;
        v[k].name = a == r->ea ? l->name : scry_arena_strdup(a, l->name);
        v[k].value = a == r->ea ? l->val : scry_arena_strndup(a, l->val, l->vlen);
        k++;
    }
    qsort(v, k, sizeof *v, lbl_cmp);
    return (struct scry_labels){ v, k };
}

uint64_t lql__row_hash(const struct lql_row *r)
{
    /* order-independent: a sum of per-label hashes; callers compare sets */
    uint64_t h = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct lql_lbl *l = &r->v[i];
        if (l->dead || l->vlen == 0)
            continue;
        uint64_t x = scry_xxh64(l->name, strlen(l->name), 0);
        h += scry_xxh64(l->val, l->vlen, x) * 0x9E3779B97F4A7C15ull + x;
    }
    return h;
}

/* ---- stages ---- */

static bool filter_line(const struct lql_stage *st, const char *s, size_t len)
{
    bool any = false;
    for (size_t i = 0; i < st->u.filter.n_vals && !any; i++) {
        const struct lql_fval *f = &st->u.filter.vals[i];
        if (f->ip)
            any = lql__ip_match(f, s, len);
        else if (f->re)
            any = lql__re_match(f->re, f->md, s, len);
        else if (f->pat || st->u.filter.op >= LQL_PATTERN)
            any = lql__pattern_test(f->pat, f->n_pat, s, len);
        else
            any = f->len == 0 || (f->len <= len && memmem(s, len, f->s, f->len));
    }
    enum lql_filter_op op = st->u.filter.op;
    return (op == LQL_CONTAINS || op == LQL_MATCH || op == LQL_PATTERN) ? any : !any;
}

static void set_err(struct lql_row *r, const char *err, const char *details)
{
    if (lql__row_get(r, "__error__"))
        return; /* the first error stays */
    lql__row_set(r, "__error__", 9, err, strlen(err), LQL_LBL_PARSED, true);
    if (details)
        lql__row_set(r, "__error_details__", 17, details, strlen(details), LQL_LBL_PARSED,
                     false);
}

static bool cmp_num(enum lql_cmp c, double a, double b)
{
    switch (c) {
    case LQL_EQ: return a == b;
    case LQL_NE: return a != b;
    case LQL_GT: return a > b;
    case LQL_GE: return a >= b;
    case LQL_LT: return a < b;
    case LQL_LE: return a <= b;
    }
    return false;
}

static bool label_filter(const struct lql_lf *f, struct lql_row *r)
{
    switch (f->kind) {
    case LQL_LF_AND: return label_filter(f->l, r) && label_filter(f->r, r);
    case LQL_LF_OR: return label_filter(f->l, r) || label_filter(f->r, r);
    case LQL_LF_STR: {
        const struct lql_lbl *l = lql__row_get(r, f->name);
        return scry_matcher_matches(&f->m, l ? l->val : "", l ? l->vlen : 0);
    }
    case LQL_LF_IP: {
        const struct lql_lbl *l = lql__row_get(r, f->name);
        bool m = l && lql__ip_match(&f->ip, l->val, l->vlen);
        return f->cmp == LQL_NE ? !m : m;
    }
    default: {
        const struct lql_lbl *l = lql__row_get(r, f->name);
        if (!l)
            return false;
        char buf[64];
        size_t n = l->vlen < sizeof buf - 1 ? l->vlen : sizeof buf - 1;
        memcpy(buf, l->val, n);
        buf[n] = 0;
        double v;
        bool ok;
        if (f->kind == LQL_LF_NUM) {
            char *end;
            v = strtod(buf, &end);
            ok = n > 0 && !*end;
        } else if (f->kind == LQL_LF_DUR) {
            ok = lql__parse_go_duration(buf, n, &v);
        } else {
            ok = lql__parse_bytes(buf, n, &v);
        }
        if (!ok) {
            /* Loki keeps the entry and marks it; `__error__=""` drops it */
            set_err(r, "LabelFilterErr", NULL);
            return true;
        }
        return cmp_num(f->cmp, v, f->num);
    }
    }
}

static void decolorize(struct lql_row *r)
{
    if (!memchr(r->line, 0x1b, r->line_len))
        return;
    char *o = scry_arena_alloc(r->ea, r->line_len + 1);
    size_t k = 0;
    for (size_t i = 0; i < r->line_len; i++) {
        if (r->line[i] == 0x1b && i + 1 < r->line_len && r->line[i + 1] == '[') {
            size_t j = i + 2;
            while (j < r->line_len && ((r->line[j] >= '0' && r->line[j] <= '9') ||
                                       r->line[j] == ';'))
                j++;
            if (j < r->line_len && isalpha((unsigned char)r->line[j])) {
                i = j;
                continue;
            }
        }
        o[k++] = r->line[i];
    }
    o[k] = 0;
    r->line = o;
    r->line_len = k;
}

static bool unwrap(const struct lql_stage *st, struct lql_row *r)
{
    const struct lql_lbl *l = lql__row_get(r, st->u.unwrap.label);
    if (!l)
        return false;
    char buf[64];
    size_t n = l->vlen < sizeof buf - 1 ? l->vlen : sizeof buf - 1;
    memcpy(buf, l->val, n);
    buf[n] = 0;
    /* trim, as Loki does */
    char *s = buf;
    while (*s == ' ')
        s++;
    size_t sl = strlen(s);
    while (sl && s[sl - 1] == ' ')
        s[--sl] = 0;
    double v = 0;
    bool ok;
    switch (st->u.unwrap.conv) {
    case LQL_CONV_DURATION:
    case LQL_CONV_DURATION_SECONDS: ok = lql__parse_go_duration(s, sl, &v); break;
    case LQL_CONV_BYTES: ok = lql__parse_bytes(s, sl, &v); break;
    default: {
        char *end;
        v = strtod(s, &end);
        ok = sl > 0 && !*end;
    }
    }
    if (!ok) {
        set_err(r, "SampleExtractionErr", NULL);
        v = 0;
    }
    r->value = v;
    r->has_value = true;
    lql__row_del(r, st->u.unwrap.label);
    return true;
}

bool lql__run_stages(const struct lql_stage *st, size_t n, struct lql_row *r)
{
    struct scry_buf tb;
    for (size_t i = 0; i < n; i++) {
        const struct lql_stage *s = &st[i];
        switch (s->kind) {
        case LQL_ST_FILTER:
            if (!filter_line(s, r->line, r->line_len))
                return false;
            break;
        case LQL_ST_JSON:
        case LQL_ST_UNPACK: lql__parse_json(s, r); break;
        case LQL_ST_LOGFMT: lql__parse_logfmt(s, r); break;
        case LQL_ST_REGEXP: lql__parse_regexp(s, r); break;
        case LQL_ST_PATTERN: lql__parse_pattern(s, r); break;
        case LQL_ST_LABEL_FILTER:
            if (!label_filter(s->u.lf, r))
                return false;
            break;
        case LQL_ST_LINE_FORMAT:
            scry_buf_init(&tb);
            lql__tmpl_exec(s->u.text.tmpl, r, &tb);
            r->line = scry_arena_strndup(r->ea, tb.p, tb.len);
            r->line_len = tb.len;
            scry_buf_fini(&tb);
            break;
        case LQL_ST_LABEL_FORMAT:
            for (size_t k = 0; k < s->u.kv.n_kv; k++) {
                const struct lql_kv *kv = &s->u.kv.kv[k];
                if (kv->is_tmpl) {
                    scry_buf_init(&tb);
                    lql__tmpl_exec(kv->tmpl, r, &tb);
                    lql__row_set(r, kv->name, strlen(kv->name), tb.p, tb.len, LQL_LBL_PARSED,
                                 false);
                    scry_buf_fini(&tb);
                } else {
                    const struct lql_lbl *src = lql__row_get(r, kv->value);
                    const char *v = src ? src->val : "";
                    size_t vl = src ? src->vlen : 0;
                    if (strcmp(kv->name, kv->value))
                        lql__row_del(r, kv->value);
                    lql__row_set(r, kv->name, strlen(kv->name), v, vl, LQL_LBL_PARSED, true);
                }
            }
            break;
        case LQL_ST_DROP:
            for (size_t k = 0; k < s->u.kv.n_kv; k++) {
                const struct lql_kv *kv = &s->u.kv.kv[k];
                const struct lql_lbl *l = lql__row_get(r, kv->name);
                if (l && (!kv->m || scry_matcher_matches(kv->m, l->val, l->vlen))) {
                    lql__row_del(r, kv->name);
                    /* the details mean nothing without the error (Grafana
                     * appends `| drop __error__` to its volume queries) */
                    if (!strcmp(kv->name, "__error__"))
                        lql__row_del(r, "__error_details__");
                }
            }
            break;
        case LQL_ST_KEEP:
            for (size_t j = 0; j < r->n; j++) {
                struct lql_lbl *l = &r->v[j];
                if (l->dead)
                    continue;
                bool keep = false;
                for (size_t k = 0; k < s->u.kv.n_kv && !keep; k++) {
                    const struct lql_kv *kv = &s->u.kv.kv[k];
                    keep = !strcmp(kv->name, l->name) &&
                           (!kv->m || scry_matcher_matches(kv->m, l->val, l->vlen));
                }
                l->dead = !keep;
            }
            break;
        case LQL_ST_DECOLORIZE: decolorize(r); break;
        case LQL_ST_UNWRAP:
            if (!unwrap(s, r))
                return false;
            break;
        }
    }
    return true;
}

/* ---- parser hints ---- */

bool lql__row_wants(const struct lql_row *r, const char *name, size_t len)
{
    if (!r->want)
        return true;
    for (size_t i = 0; i < r->n_want; i++)
        if (strlen(r->want[i]) == len && !memcmp(r->want[i], name, len))
            return true;
    return false;
}

static void hint_add(struct scry_arena *a, const char ***v, size_t *n, size_t *cap,
                     const char *name)
{
    /* `x_extracted` comes from a parsed `x` that met a stream label x */
    size_t len = strlen(name);
    if (len > 10 && !strcmp(name + len - 10, "_extracted"))
        hint_add(a, v, n, cap, scry_arena_strndup(a, name, len - 10));
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i], name))
            return;
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        const char **w = scry_arena_alloc(a, *cap * sizeof *w);
        if (*n)
            memcpy(w, *v, *n * sizeof *w);
        *v = w;
    }
    (*v)[(*n)++] = name;
}

static void hint_lf(struct scry_arena *a, const struct lql_lf *f, const char ***v, size_t *n,
                    size_t *cap)
{
    if (f->kind == LQL_LF_AND || f->kind == LQL_LF_OR) {
        hint_lf(a, f->l, v, n, cap);
        hint_lf(a, f->r, v, n, cap);
    } else {
        hint_add(a, v, n, cap, f->name);
    }
}

bool lql__parser_hints(const struct lql_log *log, const struct lql_grouping *g,
                       struct scry_arena *a, const char *const **out, size_t *n_out)
{
    if (!g || !g->present || g->without)
        return false;
    const char **v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < g->n; i++)
        hint_add(a, &v, &n, &cap, g->labels[i]);
    for (size_t i = 0; i < log->n_stages; i++) {
        const struct lql_stage *st = &log->stages[i];
        switch (st->kind) {
        case LQL_ST_LABEL_FILTER: hint_lf(a, st->u.lf, &v, &n, &cap); break;
        case LQL_ST_UNWRAP: hint_add(a, &v, &n, &cap, st->u.unwrap.label); break;
        case LQL_ST_DROP:
            for (size_t k = 0; k < st->u.kv.n_kv; k++)
                hint_add(a, &v, &n, &cap, st->u.kv.kv[k].name);
            break;
        case LQL_ST_LINE_FORMAT:
        case LQL_ST_LABEL_FORMAT:
        case LQL_ST_KEEP:
            return false; /* may read any label */
        default: break;
        }
    }
    *out = v;
    *n_out = n;
    return true;
}
