/* logql_parsers.c — the parser stages: json (all fields flattened with `_`,
 * or the paths given), unpack, logfmt (lenient by default, --strict,
 * --keep-empty), regexp (named groups) and pattern (`<_> <ip> - <user>`).
 * Extracted label names are sanitised to [a-zA-Z0-9_]; a name that
 * collides with a stream label gets `_extracted` (lql__row_set). On a
 * malformed line the parsers set __error__ like Loki: JSONParserErr,
 * LogfmtParserErr. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/json_read.h"
#include "query/logql_internal.h"

static void set_err(struct lql_row *r, const char *e, const char *details)
{
    if (lql__row_get(r, "__error__"))
        return;
    lql__row_set(r, "__error__", 9, e, strlen(e), LQL_LBL_PARSED, true);
    if (details)
        lql__row_set(r, "__error_details__", 17, details, strlen(details), LQL_LBL_PARSED, false);
}

/* name bytes → [a-zA-Z0-9_], leading digit prefixed with '_' (Loki's
 * sanitizeLabelKey), appended to out[*n] (bounded). */
static void sanitize(char *out, size_t *n, size_t cap, const char *s, size_t len)
{
    for (size_t i = 0; i < len && *n + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (*n == 0 && i == 0 && isdigit(c) && *n + 2 < cap)
            out[(*n)++] = '_';
        out[(*n)++] = (isalnum(c) || c == '_') ? (char)c : '_';
    }
    out[*n] = 0;
}

/* ---- json ---- */

static void put_value(struct lql_row *r, const char *name, size_t nlen,
                      const struct scry_jval *v)
{
    switch (v->type) {
    case SCRY_JSON_STRING: /* NUL-terminated in the DOM */
        lql__row_set(r, name, nlen, v->u.s, v->n, LQL_LBL_PARSED, true);
        break;
    case SCRY_JSON_NUMBER: /* the source text: not terminated */
        lql__row_set(r, name, nlen, v->u.s, v->n, LQL_LBL_PARSED, false);
        break;
    case SCRY_JSON_BOOL:
        lql__row_set(r, name, nlen, v->b ? "true" : "false", v->b ? 4 : 5, LQL_LBL_PARSED, true);
        break;
    default: break;
    }
}

static void flatten(struct lql_row *r, const struct scry_jval *obj, char *prefix, size_t plen)
{
    for (size_t i = 0; i < obj->n; i++) {
        const struct scry_jmember *m = &obj->u.obj[i];
        char name[256];
        size_t n = 0;
        if (plen) {
            memcpy(name, prefix, plen);
            n = plen;
            name[n++] = '_';
        }
        sanitize(name, &n, sizeof name, m->key.p, m->key.len);
        if (m->val.type == SCRY_JSON_OBJECT)
            flatten(r, &m->val, name, n);
        else if (lql__row_wants(r, name, n))
            put_value(r, name, n, &m->val);
    }
}

/* `a.b[0]["c d"]` */
static const struct scry_jval *json_path(const struct scry_jval *v, const char *p)
{
    while (v && *p) {
        if (*p == '.') {
            p++;
            continue;
        }
        if (*p == '[') {
            p++;
            if (*p == '"' || *p == '\'') {
                char q = *p++;
                const char *e = strchr(p, q);
                if (!e)
                    return NULL;
                v = scry_jval_getn(v, p, (size_t)(e - p));
                p = e + 1;
                if (*p == ']')
                    p++;
            } else {
                size_t idx = 0;
                while (isdigit((unsigned char)*p))
                    idx = idx * 10 + (size_t)(*p++ - '0');
                if (*p != ']')
                    return NULL;
                p++;
                v = scry_jval_at(v, idx);
            }
            continue;
        }
        const char *e = p;
        while (*e && *e != '.' && *e != '[')
            e++;
        v = scry_jval_getn(v, p, (size_t)(e - p));
        p = e;
    }
    return v;
}

void lql__parse_json(const struct lql_stage *st, struct lql_row *r)
{
    struct scry_jval *root;
    struct scry_err e = { 0 };
    if (scry_json_parse(r->ea, r->line, r->line_len, NULL, &root, &e) != 0 ||
        root->type != SCRY_JSON_OBJECT) {
        set_err(r, "JSONParserErr", e.code ? e.msg : "not a JSON object");
        return;
    }
    if (st->kind == LQL_ST_UNPACK) {
        const struct scry_jval *entry = NULL;
        for (size_t i = 0; i < root->n; i++) {
            const struct scry_jmember *m = &root->u.obj[i];
            if (m->val.type != SCRY_JSON_STRING)
                continue;
            if (!strcmp(m->key.p, "_entry")) {
                entry = &m->val;
                continue;
            }
            char name[256];
            size_t n = 0;
            sanitize(name, &n, sizeof name, m->key.p, m->key.len);
            lql__row_set(r, name, n, m->val.u.s, m->val.n, LQL_LBL_PARSED, true);
        }
        if (entry) {
            r->line = entry->u.s;
            r->line_len = entry->n;
        }
        return;
    }
    if (st->u.kv.n_kv == 0) {
        flatten(r, root, NULL, 0);
        return;
    }
    for (size_t i = 0; i < st->u.kv.n_kv; i++) {
        const struct lql_kv *kv = &st->u.kv.kv[i];
        const struct scry_jval *v = json_path(root, kv->value ? kv->value : kv->name);
        if (v)
            put_value(r, kv->name, strlen(kv->name), v);
    }
}

/* ---- logfmt ---- */

static const struct lql_kv *wanted(const struct lql_stage *st, const char *k, size_t kl)
{
    for (size_t i = 0; i < st->u.kv.n_kv; i++) {
        const char *src = st->u.kv.kv[i].value ? st->u.kv.kv[i].value : st->u.kv.kv[i].name;
        if (strlen(src) == kl && !memcmp(src, k, kl))
            return &st->u.kv.kv[i];
    }
    return NULL;
}

void lql__parse_logfmt(const struct lql_stage *st, struct lql_row *r)
{
    const char *s = r->line, *end = s + r->line_len;
    char *unq = NULL;
    while (s < end) {
        while (s < end && (unsigned char)*s <= ' ')
            s++;
        if (s >= end)
            break;
        const char *k = s;
        while (s < end && (unsigned char)*s > ' ' && *s != '=' && *s != '"')
            s++;
        size_t kl = (size_t)(s - k);
        if (kl == 0) {
            if (st->u.kv.strict) {
                set_err(r, "LogfmtParserErr", "logfmt syntax error: unexpected '='");
                return;
            }
            s++; /* a stray '=' or '"': skip it */
            continue;
        }
        const char *v = NULL;
        size_t vl = 0;
        bool has_eq = s < end && *s == '=';
        if (has_eq) {
            s++;
            if (s < end && *s == '"') {
                s++;
                const char *vs = s;
                bool esc = false;
                while (s < end && *s != '"') {
                    if (*s == '\\' && s + 1 < end) {
                        esc = true;
                        s++;
                    }
                    s++;
                }
                if (s >= end) {
                    if (st->u.kv.strict) {
                        set_err(r, "LogfmtParserErr", "logfmt syntax error: unterminated "
                                                      "quoted value");
                        return;
                    }
                }
                size_t raw = (size_t)(s - vs);
                if (s < end)
                    s++;
                if (esc) {
                    unq = scry_arena_alloc(r->ea, raw + 1);
                    size_t o = 0;
                    for (size_t i = 0; i < raw; i++) {
                        char c = vs[i];
                        if (c == '\\' && i + 1 < raw) {
                            c = vs[++i];
                            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
                        }
                        unq[o++] = c;
                    }
                    unq[o] = 0;
                    v = unq, vl = o;
                } else {
                    v = vs, vl = raw;
                }
            } else {
                v = s;
                while (s < end && (unsigned char)*s > ' ')
                    s++;
                vl = (size_t)(s - v);
            }
        } else if (s < end && *s == '"' && st->u.kv.strict) {
            set_err(r, "LogfmtParserErr", "logfmt syntax error: unexpected '\"'");
            return;
        } else if (s < end && *s == '"') {
            s++;
        }
        if (vl == 0 && !st->u.kv.keep_empty)
            continue;
        const char *lname = k;
        size_t lnl = kl;
        if (!st->u.kv.n_kv && r->want) {
            char nm[256];
            size_t nn = 0;
            sanitize(nm, &nn, sizeof nm, k, kl);
            if (!lql__row_wants(r, nm, nn))
                continue;
        }
        if (st->u.kv.n_kv) {
            const struct lql_kv *w = wanted(st, k, kl);
            if (!w)
                continue;
            lname = w->name;
            lnl = strlen(w->name);
        }
        char name[256];
        size_t n = 0;
        sanitize(name, &n, sizeof name, lname, lnl);
        lql__row_set(r, name, n, v ? v : "", vl, LQL_LBL_PARSED, false);
    }
}

/* ---- regexp ---- */

void lql__parse_regexp(const struct lql_stage *st, struct lql_row *r)
{
    pcre2_match_data *md = st->u.text.md;
    int rc = pcre2_match(st->u.text.re, (PCRE2_SPTR)r->line, r->line_len, 0, 0, md, NULL);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
        rc = pcre2_match(st->u.text.re, (PCRE2_SPTR)r->line, r->line_len, 0, PCRE2_NO_JIT, md,
                         NULL);
    if (rc < 0)
        return;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t n_ov = pcre2_get_ovector_count(md);
    for (uint32_t g = 1; g <= st->u.text.n_groups && g < n_ov; g++) {
        const char *name = st->u.text.names[g];
        if (!name || ov[2 * g] == PCRE2_UNSET)
            continue;
        lql__row_set(r, name, strlen(name), r->line + ov[2 * g], ov[2 * g + 1] - ov[2 * g],
                     LQL_LBL_PARSED, false);
    }
}

/* ---- pattern ---- */


static int pattern_compile(struct scry_arena *a, const char *src, size_t len,
                           struct lql_pat_part **out, size_t *n_out, char *why, size_t why_len,
                           bool need_named)
{
    struct lql_pat_part *v = scry_arena_calloc(a, len + 1, sizeof *v);
    size_t n = 0, named = 0, i = 0, lit = 0;
    while (i < len) {
        if (src[i] == '<') {
            size_t j = i + 1;
            if (j < len && (isalpha((unsigned char)src[j]) || src[j] == '_')) {
                while (j < len && (isalnum((unsigned char)src[j]) || src[j] == '_'))
                    j++;
                if (j < len && src[j] == '>') {
                    if (i > lit)
                        v[n++] = (struct lql_pat_part){ src + lit, i - lit, NULL };
                    if (n && !v[n - 1].lit) {
                        snprintf(why, why_len, "found consecutive capture '%.*s': invalid "
                                 "pattern", (int)(j + 1 - i), src + i);
                        return -1;
                    }
                    const char *nm = scry_arena_strndup(a, src + i + 1, j - i - 1);
                    v[n++] = (struct lql_pat_part){ NULL, 0, nm };
                    named += strcmp(nm, "_") != 0;
                    i = lit = j + 1;
                    continue;
                }
            }
        }
        i++;
    }
    if (len > lit)
        v[n++] = (struct lql_pat_part){ src + lit, len - lit, NULL };
    if (!named && need_named) {
        snprintf(why, why_len, "at least one capture is required: invalid pattern");
        return -1;
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* The first n[0..m) in h[0..len), m > 0: memchr on the literal's first
 * byte then a compare. Pattern literals are short (" ", "\" ", " - "),
 * where memmem's set-up costs more than the search. */
static const char *pat_find(const char *h, size_t len, const char *n, size_t m)
{
    if (m == 0)
        return h;
    if (m > len)
        return NULL;
    const char *last = h + len - m;
    for (const char *p = h; p <= last;) {
        const char *q = memchr(p, n[0], (size_t)(last - p) + 1);
        if (!q)
            return NULL;
        if (!memcmp(q + 1, n + 1, m - 1))
            return q;
        p = q + 1;
    }
    return NULL;
}

int lql__pattern_compile(struct scry_arena *a, const char *src, size_t len,
                         struct lql_pat_part **out, size_t *n_out, char *why, size_t why_len)
{
    return pattern_compile(a, src, len, out, n_out, why, why_len, true);
}

int lql__pattern_compile_filter(struct scry_arena *a, const char *src, size_t len,
                                struct lql_pat_part **out, size_t *n_out, char *why,
                                size_t why_len)
{
    return pattern_compile(a, src, len, out, n_out, why, why_len, false);
}

/* Loki's filter semantics (pkg/logql/log/pattern Matcher.Test): each
 * literal at its first occurrence after the previous one, no capture may be
 * empty (a literal right after the previous one fails), a pattern ending in
 * a literal must end the line and one ending in a capture must not. The
 * first literal is searched, not anchored, as Loki does. An empty pattern
 * matches only the empty line. */
bool lql__pattern_test(const struct lql_pat_part *p, size_t n, const char *s, size_t len)
{
    if (!len || !n)
        return !len && !n;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (!p[i].lit)
            continue;
        const char *at = len - off >= p[i].len ? pat_find(s + off, len - off, p[i].lit, p[i].len)
                                               : NULL;
        if (!at)
            return false;
        size_t j = (size_t)(at - (s + off));
        if (i != 0 && j == 0)
            return false;
        off += j + p[i].len;
    }
    bool ends_capture = !p[n - 1].lit;
    return ends_capture == (off != len);
}

void lql__parse_pattern(const struct lql_stage *st, struct lql_row *r)
{
    const char *s = r->line, *end = s + r->line_len;
    const struct lql_pat_part *p = st->u.text.parts;
    size_t n = st->u.text.n_parts;
    for (size_t i = 0; i < n; i++) {
        if (p[i].lit) {
            if ((size_t)(end - s) < p[i].len || memcmp(s, p[i].lit, p[i].len))
                return; /* no match: stop */
            s += p[i].len;
            continue;
        }
        const char *ce = end;
        if (i + 1 < n) {
            ce = pat_find(s, (size_t)(end - s), p[i + 1].lit, p[i + 1].len);
            if (!ce)
                return;
        }
        if (p[i].name[0] != '_' || p[i].name[1])
            lql__row_set(r, p[i].name, strlen(p[i].name), s, (size_t)(ce - s), LQL_LBL_PARSED,
                         false);
        s = ce;
    }
}
