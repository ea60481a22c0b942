/* api_loki_params.c — Loki's parameter rules (contract §5), which differ
 * from Prometheus's: an integer timestamp of more than 10 digits is
 * nanoseconds, errors are plain text, and limit/direction are checked with
 * Loki's own messages. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "query/api_loki_internal.h"
#include "query/promql.h"

int64_t loki__now_ns(struct loki_api_ctx *c)
{
    return scry_clock_now_ms(c->api->opts.clock) * 1000000;
}

static bool all_digits(const char *s)
{
    const char *p = s + (*s == '-');
    if (!*p)
        return false;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

int loki__time(struct loki_api_ctx *c, const char *name, int64_t dflt, int64_t *out_ns)
{
    const char *v = scry_http_param(c->req, name);
    if (!v || !*v) {
        *out_ns = dflt;
        return 0;
    }
    if (strchr(v, '.') && !strchr(v, 'T')) {
        char *end;
        errno = 0;
        double s = strtod(v, &end);
        if (!*end && !errno && isfinite(s) && fabs(s) < 9.2e9) {
            *out_ns = (int64_t)llround(s * 1000.0) * 1000000; /* Loki rounds to ms */
            return 0;
        }
    } else if (all_digits(v)) {
        errno = 0;
        long long n = strtoll(v, NULL, 10);
        size_t digits = strlen(v) - (v[0] == '-');
        if (!errno) {
            if (digits <= 10)
                *out_ns = (int64_t)n * 1000000000;
            else
                *out_ns = (int64_t)n;
            return 0;
        }
    } else {
        int64_t ms;
        struct scry_err e = { 0 };
        if (scry_time_parse(v, strlen(v), &ms, &e) == 0) {
            *out_ns = ms * 1000000;
            return 0;
        }
    }
    loki__error(c, 400, "cannot parse \"%s\" to a valid timestamp", v);
    return SCRY_EINVAL;
}

int loki__duration(struct loki_api_ctx *c, const char *name, int64_t dflt, int64_t *out_ns)
{
    const char *v = scry_http_param(c->req, name);
    if (!v || !*v) {
        *out_ns = dflt;
        return 0;
    }
    int64_t ms;
    struct scry_err e = { 0 };
    if (scry_duration_or_seconds_parse(v, strlen(v), &ms, &e) != 0) {
        loki__error(c, 400, "cannot parse \"%s\" to a valid duration", v);
        return SCRY_EINVAL;
    }
    *out_ns = ms * 1000000;
    return 0;
}

int loki__range(struct loki_api_ctx *c, int64_t since_dflt_ns, int64_t *start_ns,
                int64_t *end_ns)
{
    int64_t since;
    if (loki__time(c, "end", loki__now_ns(c), end_ns) != 0 ||
        loki__duration(c, "since", since_dflt_ns, &since) != 0 ||
        loki__time(c, "start", *end_ns - since, start_ns) != 0)
        return SCRY_EINVAL;
    if (*end_ns < *start_ns) {
        loki__error(c, 400, "end timestamp must not be before or equal to start time");
        return SCRY_EINVAL;
    }
    return 0;
}

int loki__limit(struct loki_api_ctx *c, uint64_t dflt, uint64_t *out)
{
    const char *v = scry_http_param(c->req, "limit");
    if (!v || !*v) {
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*end || errno) {
        loki__error(c, 400, "cannot parse \"%s\" to a valid limit", v);
        return SCRY_EINVAL;
    }
    if (n <= 0) {
        loki__error(c, 400, "limit must be a positive value");
        return SCRY_EINVAL;
    }
    if ((uint64_t)n > c->api->opts.max_entries_limit) {
        loki__error(c, 400, "max entries limit per query exceeded, limit > max_entries_limit "
                            "(%lld > %llu)",
                    n, (unsigned long long)c->api->opts.max_entries_limit);
        return SCRY_EINVAL;
    }
    *out = (uint64_t)n;
    return 0;
}

int loki__direction(struct loki_api_ctx *c, bool *backward)
{
    const char *v = scry_http_param(c->req, "direction");
    *backward = true;
    if (!v || !*v || !strcasecmp(v, "backward"))
        return 0;
    if (!strcasecmp(v, "forward")) {
        *backward = false;
        return 0;
    }
    loki__error(c, 400, "invalid direction '%s'", v);
    return SCRY_EINVAL;
}

/* ---- stream selectors ----------------------------------------------------
 * Until the LogQL parser takes this over, the first {...} of the query is
 * cut out (quotes and back-quotes respected) and parsed as a PromQL vector
 * selector, whose matcher syntax is the same as LogQL's. */

static void fini_expr(void *e) { pql_expr_fini(e); }

int loki__selector(struct loki_api_ctx *c, const char *query, struct scry_matcher **out,
                   size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!query || !*query)
        return 0;
    const char *open = strchr(query, '{'), *p = open;
    char quote = 0;
    for (; p && *p; p++) {
        if (quote) {
            if (*p == '\\' && quote == '"' && p[1])
                p++;
            else if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '`') {
            quote = *p;
        } else if (*p == '}') {
            break;
        }
    }
    if (!open || !p || *p != '}') {
        loki__error(c, 400, "parse error at line 1, col 1: syntax error: unexpected end of "
                            "input, expecting {");
        return SCRY_EINVAL;
    }
    struct pql_expr *e;
    struct scry_err err = { 0 };
    if (pql_parse(c->req->arena, open, (size_t)(p + 1 - open), &e, &err) != 0) {
        loki__error(c, 400, "parse error: %s", err.msg);
        return SCRY_EINVAL;
    }
    loki__defer(c, fini_expr, e);
    if (e->kind != PQL_VECTOR_SEL) {
        loki__error(c, 400, "parse error: expected a stream selector");
        return SCRY_EINVAL;
    }
    *out = e->u.vs.matchers;
    *n_out = e->u.vs.n_matchers;
    return 0;
}
