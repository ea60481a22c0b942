/* api_prom_meta.c — /api/v1/series, /api/v1/labels and
 * /api/v1/label/:name/values, straight on the querier seam
 * (core/querier.h), without the engine.
 *
 * Several match[] selectors are a union: each is selected on its own and
 * the results are merged, sorted and deduplicated, as Prometheus's merge
 * querier does. Without start/end the range is Prometheus's MinTime to
 * MaxTime. limit keeps the first N after sorting and adds the warning
 * "results truncated due to limit" only when something was cut. The
 * answers are encoded while they are sent (api_prom_encode.c): /series
 * over 100k series is ~10 MB of JSON. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/labels.h"
#include "query/api_prom_internal.h"

struct meta_req {
    int64_t start_ms, end_ms;
    size_t limit;
    struct scry_matcher **sets;
    size_t *n_ms, n_sets;
    struct scry_querier *q;
};

static void store_error(struct pql_api_ctx *c, int rc, const struct scry_err *err)
{
    const char *msg = err->msg[0] ? err->msg : scry_errcode_name(rc);
    if (rc == SCRY_ETIMEOUT)
        scry_http_error(c->resp, 503, "timeout", "%s", msg);
    else
        scry_http_error(c->resp, 500, "internal", "%s", msg);
}

/* Parameters in Prometheus's order (start, end, match[], limit), then the querier. */
static int meta_begin(struct pql_api_ctx *c, struct meta_req *m)
{
    memset(m, 0, sizeof *m);
    if (pql__api_time(c, "start", PQL_API_MIN_TIME_MS, &m->start_ms) != 0 ||
        pql__api_time(c, "end", PQL_API_MAX_TIME_MS, &m->end_ms) != 0 ||
        pql__api_matchers(c, &m->sets, &m->n_ms, &m->n_sets) != 0 ||
        pql__api_limit(c, &m->limit) != 0)
        return SCRY_EINVAL;
    struct scry_err err = { 0 };
    int rc = c->api->store->querier(c->api->store, c->tenant, m->start_ms, m->end_ms, &m->q, &err);
    if (rc != 0) {
        store_error(c, rc, &err);
        return rc;
    }
    return 0;
}

static void meta_end(struct meta_req *m)
{
    if (m->q)
        m->q->ops->close(m->q);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static size_t sort_uniq(const char **v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_str);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[k - 1], v[i]) != 0)
            v[k++] = v[i];
    return k;
}

static void limit_strings(struct pql_api_ctx *c, size_t limit, size_t *n)
{
    if (limit && *n > limit) {
        *n = limit;
        pql__api_warn(c, "results truncated due to limit");
    }
}

/* Appends src to the arena vector dst. */
static void append(struct scry_arena *a, const char ***dst, size_t *n, const char **src,
                   size_t n_src)
{
    const char **v = scry_arena_alloc(a, (*n + n_src + 1) * sizeof *v);
    if (*n)
        memcpy(v, *dst, *n * sizeof *v);
    if (n_src)
        memcpy(v + *n, src, n_src * sizeof *v);
    *dst = v;
    *n += n_src;
}

/* labels and label values share everything but the querier call. */
static void names_or_values(struct pql_api_ctx *c, const char *name)
{
    struct meta_req m;
    if (meta_begin(c, &m) != 0) {
        meta_end(&m);
        return;
    }
    struct scry_arena *a = c->req->arena;
    const char **all = NULL;
    size_t n_all = 0;
    size_t n_rounds = m.n_sets ? m.n_sets : 1;
    for (size_t i = 0; i < n_rounds; i++) {
        const struct scry_matcher *ms = m.n_sets ? m.sets[i] : NULL;
        size_t n_ms = m.n_sets ? m.n_ms[i] : 0;
        const char **v = NULL;
        size_t n = 0;
        struct scry_err err = { 0 };
        int rc = name ? m.q->ops->label_values(m.q, name, ms, n_ms, m.start_ms, m.end_ms, a, &v,
                                               &n, &err)
                      : m.q->ops->label_names(m.q, ms, n_ms, m.start_ms, m.end_ms, a, &v, &n,
                                              &err);
        if (rc != 0) {
            store_error(c, rc, &err);
            meta_end(&m);
            return;
        }
        append(a, &all, &n_all, v, n);
    }
    meta_end(&m);
    n_all = sort_uniq(all, n_all);
    limit_strings(c, m.limit, &n_all);
    pql__api_answer_strings(c, all, n_all);
}

void pql__api_labels(struct pql_api_ctx *c)
{
    names_or_values(c, NULL);
}

void pql__api_label_values(struct pql_api_ctx *c)
{
    const char *raw = scry_http_path_param(c->req, "name");
    const char *name = pql__api_unescape_name(c->req->arena, raw ? raw : "");
    if (!*name || !scry_utf8_valid(name, strlen(name))) {
        struct scry_buf q = { 0 };
        pql_quote(name, strlen(name), &q);
        scry_http_error(c->resp, 400, "bad_data", "invalid label name: %s", q.p);
        scry_buf_fini(&q);
        return;
    }
    names_or_values(c, name);
}

/* ---- series ---------------------------------------------------------------- */

static struct scry_labels copy_labels(struct scry_arena *a, const struct scry_labels *ls)
{
    struct scry_label *v = scry_arena_alloc(a, (ls->n ? ls->n : 1) * sizeof *v);
    for (size_t i = 0; i < ls->n; i++) {
        v[i].name = scry_arena_strdup(a, ls->v[i].name);
        v[i].value = scry_arena_strdup(a, ls->v[i].value);
    }
    return (struct scry_labels){ v, ls->n };
}

static int cmp_labels(const void *a, const void *b)
{
    return scry_labels_cmp(a, b);
}

struct series_vec {
    struct scry_labels *v;
    size_t n, cap;
};

/* A series counts when it has a sample in [start, end]; stores may return
 * series that only exist outside the range. */
static bool in_range(struct scry_series_set *ss, int64_t start_ms, int64_t end_ms)
{
    struct scry_sample_iter *it = ss->ops->samples(ss);
    if (!it || !it->ops->seek(it, start_ms))
        return false;
    int64_t t;
    double v;
    it->ops->at(it, &t, &v);
    return t <= end_ms;
}

static int select_into(struct pql_api_ctx *c, struct meta_req *m, size_t i, struct series_vec *out,
                       struct scry_err *err)
{
    struct scry_select_hints h = { .mint = m->start_ms, .maxt = m->end_ms };
    struct scry_series_set *ss;
    int rc = m->q->ops->select_series(m->q, m->sets[i], m->n_ms[i], &h, &ss, err);
    if (rc != 0)
        return rc;
    while (ss->ops->next(ss)) {
        if (!in_range(ss, m->start_ms, m->end_ms))
            continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 64;
            struct scry_labels *v = scry_arena_alloc(c->req->arena, cap * sizeof *v);
            if (out->n)
                memcpy(v, out->v, out->n * sizeof *v);
            out->v = v;
            out->cap = cap;
        }
        out->v[out->n++] = copy_labels(c->req->arena, ss->ops->labels(ss));
    }
    rc = ss->ops->err(ss, err);
    ss->ops->close(ss);
    return rc;
}

void pql__api_series(struct pql_api_ctx *c)
{
    if (scry_http_param(c->req, "match[]") == NULL) {
        scry_http_error(c->resp, 400, "bad_data", "no match[] parameter provided");
        return;
    }
    struct meta_req m;
    if (meta_begin(c, &m) != 0) {
        meta_end(&m);
        return;
    }
    struct series_vec sv = { 0 };
    for (size_t i = 0; i < m.n_sets; i++) {
        struct scry_err err = { 0 };
        int rc = select_into(c, &m, i, &sv, &err);
        if (rc != 0) {
            store_error(c, rc, &err);
            meta_end(&m);
            return;
        }
    }
    meta_end(&m);
    if (sv.n > 1) {
        qsort(sv.v, sv.n, sizeof *sv.v, cmp_labels);
        size_t k = 1;
        for (size_t i = 1; i < sv.n; i++)
            if (!scry_labels_equal(&sv.v[k - 1], &sv.v[i]))
                sv.v[k++] = sv.v[i];
        sv.n = k;
    }
    limit_strings(c, m.limit, &sv.n);
    pql__api_answer_label_sets(c, sv.v, sv.n);
}
