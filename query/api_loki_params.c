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
#include "query/logql.h"

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
 * The metadata endpoints take a LogQL query and use the matchers of its
 * first stream selector ({a="b"} |= "x" → a="b"; sum(rate({a="b"}[1m])) →
 * a="b"). The whole query must parse (Loki answers 400 otherwise). */

static void fini_expr(void *e) { lql_expr_fini(e); }

static const struct lql_log *first_log(const struct lql_expr *e)
{
    if (!e)
        return NULL;
    switch (e->kind) {
    case LQL_LOG: return &e->u.log;
    case LQL_RANGE: return &e->u.range.log;
    case LQL_VAGG: return first_log(e->u.vagg.inner);
    case LQL_BINARY: {
        const struct lql_log *l = first_log(e->u.bin.lhs);
        return l ? l : first_log(e->u.bin.rhs);
    }
    case LQL_LABEL_REPLACE: return first_log(e->u.lrep.inner);
    case LQL_PAREN: return first_log(e->u.paren);
    default: return NULL;
    }
}

int loki__selector(struct loki_api_ctx *c, const char *query, struct scry_matcher **out,
                   size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!query || !*query)
        return 0;
    struct lql_expr *e;
    struct scry_err err = { 0 };
    if (lql_parse(c->req->arena, query, strlen(query), &e, &err) != 0) {
        loki__error(c, 400, "%s", err.msg);
        return SCRY_EINVAL;
    }
    loki__defer(c, fini_expr, e);
    const struct lql_log *log = first_log(e);
    if (!log) {
        loki__error(c, 400, "parse error : queries require a stream selector");
        return SCRY_EINVAL;
    }
    *out = log->matchers;
    *n_out = log->n_matchers;
    return 0;
}
