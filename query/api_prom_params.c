/* api_prom_params.c — request parameters as Prometheus's web/api/v1 reads
 * them: timestamps (float seconds, RFC 3339, the min/max sentinels),
 * durations (float seconds, then Prometheus syntax), limit, query and
 * match[]. Every failure is answered here, as 400 bad_data with
 * `invalid parameter "<name>": <why>`, so a handler only checks the code.
 * Parameters come from core/http.c already merged (form body first, then
 * the URL query, repeats kept), which is Go's r.Form. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/labels.h"
#include "query/api_prom_internal.h"

static int bad(struct pql_api_ctx *c, const char *name, const char *why)
{
    scry_http_error(c->resp, 400, "bad_data", "invalid parameter \"%s\": %s", name, why);
    return SCRY_EINVAL;
}

int pql__api_time(struct pql_api_ctx *c, const char *name, int64_t dflt, int64_t *out_ms)
{
    const char *v = scry_http_param(c->req, name);
    if (!v || !*v) {
        *out_ms = dflt;
        return 0;
    }
    struct scry_err err = { 0 };
    if (scry_time_parse(v, strlen(v), out_ms, &err) != 0)
        return bad(c, name, err.msg);
    return 0;
}

int pql__api_time_required(struct pql_api_ctx *c, const char *name, int64_t *out_ms)
{
    const char *v = scry_http_param(c->req, name);
    struct scry_err err = { 0 };
    if (scry_time_parse(v ? v : "", v ? strlen(v) : 0, out_ms, &err) != 0)
        return bad(c, name, err.msg);
    return 0;
}

int pql__api_duration(struct pql_api_ctx *c, const char *name, int64_t dflt, int64_t *out_ms)
{
    const char *v = scry_http_param(c->req, name);
    if (!v || (!*v && dflt >= 0)) {
        *out_ms = dflt;
        return 0;
    }
    struct scry_err err = { 0 };
    if (scry_duration_or_seconds_parse(v, strlen(v), out_ms, &err) != 0)
        return bad(c, name, err.msg);
    return 0;
}

int pql__api_limit(struct pql_api_ctx *c, size_t *out)
{
    const char *v = scry_http_param(c->req, "limit");
    *out = 0;
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || end == v) {
        scry_http_error(c->resp, 400, "bad_data",
                        "invalid parameter \"limit\": strconv.Atoi: parsing \"%s\": %s", v,
                        errno == ERANGE ? "value out of range" : "invalid syntax");
        return SCRY_EINVAL;
    }
    if (n < 0)
        return bad(c, "limit", "limit must be non-negative");
    *out = (size_t)n;
    return 0;
}

static void keep_parsed(struct pql_api_ctx *c, struct pql_expr *e)
{
    if (c->n_parsed == c->cap_parsed) {
        size_t cap = c->cap_parsed ? c->cap_parsed * 2 : 4;
        struct pql_expr **v = scry_arena_alloc(c->req->arena, cap * sizeof *v);
        if (c->n_parsed)
            memcpy(v, c->parsed, c->n_parsed * sizeof *v);
        c->parsed = v;
        c->cap_parsed = cap;
    }
    c->parsed[c->n_parsed++] = e;
}

static int parse_text(struct pql_api_ctx *c, const char *param, const char *q,
                      struct pql_expr **out)
{
    struct scry_err err = { 0 };
    if (pql_parse(c->req->arena, q, strlen(q), out, &err) != 0)
        return bad(c, param, err.msg);
    keep_parsed(c, *out);
    return 0;
}

int pql__api_parse_query(struct pql_api_ctx *c, const char *param, struct pql_expr **out)
{
    const char *q = scry_http_param(c->req, param);
    return parse_text(c, param, q ? q : "", out);
}

/* Prometheus parser.ParseMetricSelector: a bare vector selector, with at
 * least one matcher that does not match the empty string. */
int pql__api_matchers(struct pql_api_ctx *c, struct scry_matcher ***sets, size_t **n_ms,
                      size_t *n_sets)
{
    const char **v;
    size_t n = scry_http_param_all(c->req, "match[]", &v);
    *sets = scry_arena_calloc(c->req->arena, n ? n : 1, sizeof **sets);
    *n_ms = scry_arena_calloc(c->req->arena, n ? n : 1, sizeof **n_ms);
    *n_sets = n;
    for (size_t i = 0; i < n; i++) {
        struct pql_expr *e;
        if (parse_text(c, "match[]", v[i], &e) != 0)
            return SCRY_EINVAL;
        if (e->kind != PQL_VECTOR_SEL)
            return bad(c, "match[]",
                       scry_arena_printf(c->req->arena,
                                         "1:1: parse error: expected a series selector, got %s",
                                         pql_type_name(e->type)));
        bool nonempty = false;
        for (size_t k = 0; k < e->u.vs.n_matchers; k++)
            if (!scry_matcher_matches(&e->u.vs.matchers[k], "", 0))
                nonempty = true;
        if (!nonempty)
            return bad(c, "match[]", "1:1: parse error: vector selector must contain at least "
                                     "one non-empty matcher");
        (*sets)[i] = e->u.vs.matchers;
        (*n_ms)[i] = e->u.vs.n_matchers;
    }
    return 0;
}

void pql__api_warn(struct pql_api_ctx *c, const char *msg)
{
    if (c->n_warnings == c->cap_warnings) {
        size_t cap = c->cap_warnings ? c->cap_warnings * 2 : 4;
        const char **v = scry_arena_alloc(c->req->arena, cap * sizeof *v);
        if (c->n_warnings)
            memcpy(v, c->warnings, c->n_warnings * sizeof *v);
        c->warnings = v;
        c->cap_warnings = cap;
    }
    c->warnings[c->n_warnings++] = msg;
}

/* ---- U__ label names ---------------------------------------------------- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A code point escape is at most 6 hex digits and must be a valid rune (not
 * a surrogate, at most U+10FFFF), as in Go's utf8.ValidRune. */
const char *pql__api_unescape_name(struct scry_arena *a, const char *name)
{
    if (strncmp(name, "U__", 3) != 0)
        return name;
    const char *s = name + 3;
    size_t len = strlen(s);
    char *o = scry_arena_alloc(a, len * 4 + 1), *p = o;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '_') {
            *p++ = s[i];
            continue;
        }
        if (++i >= len)
            return name;
        if (s[i] == '_') {
            *p++ = '_';
            continue;
        }
        unsigned cp = 0;
        int j = 0;
        for (; i < len && s[i] != '_'; i++, j++) {
            int h = hexval(s[i]);
            if (j >= 6 || h < 0)
                return name;
            cp = cp * 16 + (unsigned)h;
        }
        /* Go checks the digit count before the closing underscore, so a
         * sixth digit already makes the escape invalid. */
        if (i >= len || j >= 6 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return name;
        p += put_utf8(p, cp);
    }
    *p = 0;
    return o;
}
