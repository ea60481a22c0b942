/* api_loki_meta.c — the metadata endpoints of the Loki API: labels, label
 * values, series, index stats and volume, patterns. Detected fields are in
 * api_loki_fields.c.
 *
 * Shapes per shared/contracts/grafana-loki.md §2 and §4.4. Everything reads
 * the log store through its querier: label names and values come from the
 * store's label_names/label_values, series from select_streams' label sets,
 * and the index statistics and volumes from the entries in range, since
 * the querier seam has no cheaper count. Loki's index answers those from
 * chunk metadata; ours costs a pass over the selected entries, bounded by
 * the selector and the range. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/querier.h"
#include "query/api_loki_internal.h"

#define HOUR_NS (3600ll * 1000000000ll)
#define DEFAULT_VOLUME_LIMIT 100

/* ---- shared ------------------------------------------------------------- */

/* A querier over [start, end], or the error answer (503 while the store is
 * not ready, 500 otherwise) and NULL. */
static struct scry_querier *open_querier(struct loki_api_ctx *c, int64_t start, int64_t end)
{
    struct scry_querier *q = NULL;
    struct scry_err err = { 0 };
    int rc = c->api->store->querier(c->api->store, c->tenant, start, end, &q, &err);
    if (rc != 0) {
        loki__error(c, rc == SCRY_ETIMEOUT ? 503 : 500, "%s", err.msg);
        return NULL;
    }
    return q;
}

static void store_error(struct loki_api_ctx *c, const struct scry_err *err)
{
    loki__error(c, err->code == SCRY_ETIMEOUT ? 503 : 500, "%s", err->msg);
}

static void begin_success(struct loki_api_ctx *c, struct scry_json *j)
{
    scry_json_init(j, &c->resp->body);
    scry_json_obj_begin(j);
    scry_json_key(j, "status");
    scry_json_str(j, "success");
    scry_json_key(j, "data");
}

static void answer_strings(struct loki_api_ctx *c, const char **v, size_t n)
{
    struct scry_json j;
    begin_success(c, &j);
    scry_json_arr_begin(&j);
    for (size_t i = 0; i < n; i++)
        scry_json_str(&j, v[i]);
    scry_json_arr_end(&j);
    scry_json_obj_end(&j);
}

static struct scry_labels copy_labels(struct scry_arena *a, const struct scry_labels *ls)
{
    struct scry_label *v = scry_arena_alloc(a, (ls->n ? ls->n : 1) * sizeof *v);
    for (size_t i = 0; i < ls->n; i++) {
        v[i].name = scry_arena_strdup(a, ls->v[i].name);
        v[i].value = scry_arena_strdup(a, ls->v[i].value);
    }
    return (struct scry_labels){ v, ls->n };
}

/* ---- labels, label values ----------------------------------------------- */

static void names_or_values(struct loki_api_ctx *c, const char *name)
{
    int64_t start, end;
    struct scry_matcher *ms;
    size_t n_ms;
    if (loki__range(c, HOUR_NS, &start, &end) != 0 ||
        loki__selector(c, scry_http_param(c->req, "query"), &ms, &n_ms) != 0)
        return;
    struct scry_querier *q = open_querier(c, start, end);
    if (!q)
        return;
    const char **v = NULL;
    size_t n = 0;
    struct scry_err err = { 0 };
    int rc = name ? q->ops->label_values(q, name, ms, n_ms, start, end, c->req->arena, &v, &n,
                                         &err)
                  : q->ops->label_names(q, ms, n_ms, start, end, c->req->arena, &v, &n, &err);
    q->ops->close(q);
    if (rc != 0) {
        store_error(c, &err);
        return;
    }
    answer_strings(c, v, n);
}

void loki__labels(struct loki_api_ctx *c) { names_or_values(c, NULL); }

void loki__label_values(struct loki_api_ctx *c)
{
    const char *name = scry_http_path_param(c->req, "name");
    if (!name || !*name) {
        loki__error(c, 400, "missing label name");
        return;
    }
    names_or_values(c, name);
}

/* ---- series ------------------------------------------------------------- */

static int labels_cmp(const void *a, const void *b)
{
    return scry_labels_cmp(a, b);
}

/* The label sets of the streams with entries in [start, end] matching ms;
 * appended to *v (arena-grown). 0 or the error (answered). */
static int collect_sets(struct loki_api_ctx *c, struct scry_querier *q,
                        const struct scry_matcher *ms, size_t n_ms, int64_t start, int64_t end,
                        struct scry_labels **v, size_t *n, size_t *cap)
{
    struct scry_select_hints h = { .mint = start, .maxt = end };
    struct scry_stream_set *ss;
    struct scry_err err = { 0 };
    if (q->ops->select_streams(q, ms, n_ms, &h, &ss, &err) != 0) {
        store_error(c, &err);
        return SCRY_EIO;
    }
    while (ss->ops->next(ss)) {
        struct scry_entry_iter *it = ss->ops->entries(ss);
        if (!it->ops->next(it))
            continue; /* chunks overlap the range, but no entry lies in it */
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            struct scry_labels *nv = scry_arena_alloc(c->req->arena, *cap * sizeof *nv);
            if (*n)
                memcpy(nv, *v, *n * sizeof *nv);
            *v = nv;
        }
        (*v)[(*n)++] = copy_labels(c->req->arena, ss->ops->labels(ss));
    }
    int rc = ss->ops->err(ss, &err);
    ss->ops->close(ss);
    if (rc != 0)
        store_error(c, &err);
    return rc;
}

void loki__series(struct loki_api_ctx *c)
{
    int64_t start, end;
    if (loki__range(c, HOUR_NS, &start, &end) != 0)
        return;
    const char **match;
    size_t n_match = scry_http_param_all(c->req, "match[]", &match);
    if (n_match == 0)
        n_match = scry_http_param_all(c->req, "match", &match);
    struct scry_querier *q = open_querier(c, start, end);
    if (!q)
        return;
    struct scry_labels *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (n_match == 0)
        rc = collect_sets(c, q, NULL, 0, start, end, &v, &n, &cap);
    for (size_t i = 0; rc == 0 && i < n_match; i++) {
        struct scry_matcher *ms;
        size_t n_ms;
        rc = loki__selector(c, match[i], &ms, &n_ms);
        if (rc == 0)
            rc = collect_sets(c, q, ms, n_ms, start, end, &v, &n, &cap);
    }
    q->ops->close(q);
    if (rc != 0)
        return;
    if (n > 1)
        qsort(v, n, sizeof *v, labels_cmp);
    struct scry_json j;
    begin_success(c, &j);
    scry_json_arr_begin(&j);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || !scry_labels_equal(&v[i - 1], &v[i]))
            scry_json_labels(&j, &v[i]);
    scry_json_arr_end(&j);
    scry_json_obj_end(&j);
}

/* ---- index stats -------------------------------------------------------- */

/* Bytes an entry counts for: the line and its structured metadata, as
 * Loki's chunk statistics count the uncompressed entry. */
uint64_t loki__entry_bytes(const struct scry_log_entry *e)
{
    uint64_t n = e->line.len;
    for (size_t i = 0; i < e->metadata.n; i++)
        n += strlen(e->metadata.v[i].name) + strlen(e->metadata.v[i].value);
    return n;
}

int loki__scan(struct loki_api_ctx *c, const char *query, int64_t start, int64_t end,
               bool backward, loki_entry_fn fn, void *ud)
{
    struct scry_matcher *ms;
    size_t n_ms;
    if (loki__selector(c, query, &ms, &n_ms) != 0)
        return SCRY_EINVAL;
    if (n_ms == 0) {
        loki__error(c, 400, "parse error : queries require at least one regexp or equality "
                            "matcher that does not have an empty-compatible value");
        return SCRY_EINVAL;
    }
    struct scry_querier *q = open_querier(c, start, end);
    if (!q)
        return SCRY_EIO;
    struct scry_select_hints h = { .mint = start, .maxt = end, .backward = backward };
    struct scry_stream_set *ss;
    struct scry_err err = { 0 };
    int rc = q->ops->select_streams(q, ms, n_ms, &h, &ss, &err);
    size_t si = 0;
    bool more = true;
    if (rc == 0) {
        while (more && ss->ops->next(ss)) {
            const struct scry_labels *ls = ss->ops->labels(ss);
            struct scry_entry_iter *it = ss->ops->entries(ss);
            bool any = false;
            while (more && it->ops->next(it)) {
                struct scry_log_entry e;
                it->ops->at(it, &e);
                more = fn(ud, si, ls, &e);
                any = true;
            }
            if ((rc = it->ops->err(it, &err)) != 0)
                break;
            si += any;
        }
        if (rc == 0)
            rc = ss->ops->err(ss, &err);
        ss->ops->close(ss);
    }
    q->ops->close(q);
    if (rc != 0)
        store_error(c, &err);
    return rc;
}

struct stats {
    uint64_t streams, entries, bytes;
    size_t last_stream;
    bool any;
};

static bool stats_entry(void *ud, size_t si, const struct scry_labels *ls,
                        const struct scry_log_entry *e)
{
    (void)ls;
    struct stats *s = ud;
    if (!s->any || s->last_stream != si)
        s->streams++;
    s->any = true;
    s->last_stream = si;
    s->entries++;
    s->bytes += loki__entry_bytes(e);
    return true;
}

void loki__index_stats(struct loki_api_ctx *c)
{
    int64_t start, end;
    if (loki__range(c, HOUR_NS, &start, &end) != 0)
        return;
    struct stats s = { 0 };
    if (loki__scan(c, scry_http_param(c->req, "query"), start, end, false, stats_entry, &s) != 0)
        return;
    /* The querier seam does not expose chunks: one per stream with data is
     * the lower bound Grafana's size hint can live with. */
    struct scry_json j;
    scry_json_init(&j, &c->resp->body);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "streams");
    scry_json_uint(&j, s.streams);
    scry_json_key(&j, "chunks");
    scry_json_uint(&j, s.streams);
    scry_json_key(&j, "entries");
    scry_json_uint(&j, s.entries);
    scry_json_key(&j, "bytes");
    scry_json_uint(&j, s.bytes);
    scry_json_obj_end(&j);
}

/* ---- volume ------------------------------------------------------------- */

struct vgroup {
    struct scry_labels ls; /* the target labels the stream has */
    uint64_t bytes;
    uint64_t *steps; /* volume_range: bytes per step */
};

struct volume {
    struct scry_arena *a;
    const char **targets; /* label names to aggregate by */
    size_t n_targets;
    struct vgroup *g;
    size_t n, cap;
    int64_t start, step; /* step 0: instant */
    size_t n_steps;
    size_t last_stream; /* the group of the previous entry's stream */
    struct vgroup *last;
};

static struct vgroup *group_of(struct volume *v, const struct scry_labels *ls)
{
    struct scry_label tmp[64];
    size_t n = 0;
    for (size_t i = 0; i < v->n_targets && n < 64; i++) {
        const char *val = scry_labels_get(ls, v->targets[i]);
        if (val)
            tmp[n++] = (struct scry_label){ v->targets[i], val };
    }
    /* targets are sorted, so tmp is a sorted set */
    struct scry_labels key = { tmp, n };
    for (size_t i = 0; i < v->n; i++)
        if (scry_labels_equal(&v->g[i].ls, &key))
            return &v->g[i];
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        struct vgroup *ng = scry_arena_alloc(v->a, v->cap * sizeof *ng);
        if (v->n)
            memcpy(ng, v->g, v->n * sizeof *ng);
        v->g = ng;
    }
    struct vgroup *g = &v->g[v->n++];
    g->ls = copy_labels(v->a, &key);
    g->bytes = 0;
    g->steps = v->n_steps ? scry_arena_calloc(v->a, v->n_steps, sizeof *g->steps) : NULL;
    return g;
}

static bool volume_entry(void *ud, size_t si, const struct scry_labels *ls,
                         const struct scry_log_entry *e)
{
    struct volume *v = ud;
    if (!v->last || v->last_stream != si) {
        v->last = group_of(v, ls);
        v->last_stream = si;
    }
    uint64_t b = loki__entry_bytes(e);
    v->last->bytes += b;
    if (v->step) {
        /* The point at T sums (T-step, T], like bytes_over_time[step]. */
        int64_t d = e->t_ns - v->start;
        size_t k = d <= 0 ? 0 : (size_t)((d + v->step - 1) / v->step);
        if (k < v->n_steps)
            v->last->steps[k] += b;
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_group(const void *a, const void *b)
{
    const struct vgroup *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return scry_labels_cmp(&x->ls, &y->ls);
}

static void put_time(struct scry_json *j, int64_t t_ns)
{
    if (t_ns % 1000000000 == 0)
        scry_json_int(j, t_ns / 1000000000);
    else
        scry_json_double(j, (double)t_ns / 1e9);
}

static void put_bytes(struct scry_json *j, uint64_t b)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)b);
    scry_json_str(j, s);
}

static void volume(struct loki_api_ctx *c, bool range)
{
    int64_t start, end, step = 0;
    uint64_t limit;
    const char *query = scry_http_param(c->req, "query");
    if (loki__range(c, HOUR_NS, &start, &end) != 0 ||
        loki__limit(c, DEFAULT_VOLUME_LIMIT, &limit) != 0)
        return;
    if (range) {
        int64_t dflt = (end - start) / 250;
        dflt -= dflt % 1000000000;
        if (dflt < 1000000000)
            dflt = 1000000000;
        if (loki__duration(c, "step", dflt, &step) != 0)
            return;
        if (step <= 0) {
            loki__error(c, 400, "zero or negative query resolution step widths are not "
                                "accepted. Try a positive integer");
            return;
        }
        if ((end - start) / step > 11000) {
            loki__error(c, 400, "exceeded maximum resolution of 11,000 points per time "
                                "series. Try increasing the value of the step parameter");
            return;
        }
    }
    struct volume v = { .a = c->req->arena, .start = start, .step = step };
    if (range)
        v.n_steps = (size_t)((end - start) / step) + 1;
    /* Aggregate by targetLabels, else by the selector's label names. */
    const char *tl = scry_http_param(c->req, "targetLabels");
    struct scry_matcher *ms;
    size_t n_ms;
    if (loki__selector(c, query, &ms, &n_ms) != 0)
        return;
    v.targets = scry_arena_alloc(c->req->arena, (n_ms + 64) * sizeof *v.targets);
    if (tl && *tl) {
        char *s = scry_arena_strdup(c->req->arena, tl), *save = NULL;
        for (char *t = strtok_r(s, ",", &save); t && v.n_targets < 64;
             t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ')
                t++;
            if (*t)
                v.targets[v.n_targets++] = t;
        }
    } else {
        for (size_t i = 0; i < n_ms && i < 64; i++)
            v.targets[v.n_targets++] = ms[i].name;
    }
    qsort(v.targets, v.n_targets, sizeof *v.targets, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < v.n_targets; i++)
        if (!k || strcmp(v.targets[k - 1], v.targets[i]))
            v.targets[k++] = v.targets[i];
    v.n_targets = k;
    if (loki__scan(c, query, start, end, false, volume_entry, &v) != 0)
        return;
    qsort(v.g, v.n, sizeof *v.g, cmp_group);
    if (v.n > limit)
        v.n = (size_t)limit;
    struct scry_json j;
    begin_success(c, &j);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "resultType");
    scry_json_str(&j, range ? "matrix" : "vector");
    scry_json_key(&j, "result");
    scry_json_arr_begin(&j);
    for (size_t i = 0; i < v.n; i++) {
        scry_json_obj_begin(&j);
        scry_json_key(&j, "metric");
        scry_json_labels(&j, &v.g[i].ls);
        if (!range) {
            scry_json_key(&j, "value");
            scry_json_arr_begin(&j);
            put_time(&j, end);
            put_bytes(&j, v.g[i].bytes);
            scry_json_arr_end(&j);
        } else {
            scry_json_key(&j, "values");
            scry_json_arr_begin(&j);
            for (size_t s = 0; s < v.n_steps; s++) {
                if (!v.g[i].steps[s])
                    continue;
                scry_json_arr_begin(&j);
                put_time(&j, start + (int64_t)s * step);
                put_bytes(&j, v.g[i].steps[s]);
                scry_json_arr_end(&j);
            }
            scry_json_arr_end(&j);
        }
        scry_json_obj_end(&j);
    }
    scry_json_arr_end(&j);
    scry_json_obj_end(&j);
    scry_json_obj_end(&j);
}

void loki__index_volume(struct loki_api_ctx *c) { volume(c, false); }
void loki__index_volume_range(struct loki_api_ctx *c) { volume(c, true); }

/* ---- patterns ----------------------------------------------------------- */

/* Pattern detection (Loki's pattern ingester) is not done: an empty answer
 * is what Logs Drilldown shows as "no patterns". */
void loki__patterns(struct loki_api_ctx *c)
{
    int64_t start, end;
    if (loki__range(c, HOUR_NS, &start, &end) != 0)
        return;
    struct scry_json j;
    begin_success(c, &j);
    scry_json_arr_begin(&j);
    scry_json_arr_end(&j);
    scry_json_obj_end(&j);
}
