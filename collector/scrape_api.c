/* scrape_api.c — GET /api/v1/targets and GET /api/v1/metadata in
 * Prometheus's shapes (web/api/v1/api.go: targets, metricMetadata).
 *
 * Both copy what they need into the request's arena while holding the
 * manager's lock (col__manager_visit), then write JSON without it, so a
 * slow client never holds up scrapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/scrape_internal.h"
#include "core/http.h"
#include "core/json.h"
#include "core/timeparse.h"

/* Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped. A
 * target never scraped shows Go's zero time, as Prometheus does. */
static void rfc3339nano(char *out, size_t len, int64_t ms)
{
    if (ms == 0) {
        snprintf(out, len, "0001-01-01T00:00:00Z");
        return;
    }
    time_t s = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        s--;
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32], f[8] = "";
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac) {
        snprintf(f, sizeof f, ".%03d", frac);
        size_t n = strlen(f);
        while (n > 1 && f[n - 1] == '0') /* f[0] is the dot */
            f[--n] = '\0';
    }
    snprintf(out, len, "%s%sZ", base, f);
}

static const char *health_name(enum col__health h)
{
    return h == COL__UP ? "up" : h == COL__DOWN ? "down" : "unknown";
}

struct tvisit {
    struct scry_json *j;
    struct scry_arena *a;
    const char *pool; /* filter, or NULL */
    bool active, dropped;
    int phase; /* 0 active, 1 dropped, 2 counts */
};

static void v_target(void *ud, const struct col__target *t, const struct scry_scrape_config *sc)
{
    struct tvisit *v = ud;
    if (v->phase != 0 || (v->pool && strcmp(v->pool, sc->job_name) != 0))
        return;
    struct scry_json *j = v->j;
    char ts[48];
    scry_json_obj_begin(j);
    scry_json_key(j, "discoveredLabels");
    scry_json_labels(j, &t->discovered);
    scry_json_key(j, "labels");
    scry_json_labels(j, &t->pub);
    scry_json_key(j, "scrapePool");
    scry_json_str(j, sc->job_name);
    scry_json_key(j, "scrapeUrl");
    scry_json_str(j, t->url);
    scry_json_key(j, "globalUrl");
    scry_json_str(j, t->url);
    scry_json_key(j, "lastError");
    scry_json_str(j, t->last_error);
    scry_json_key(j, "lastScrape");
    rfc3339nano(ts, sizeof ts, t->last_scrape_ms);
    scry_json_str(j, ts);
    scry_json_key(j, "lastScrapeDuration");
    scry_json_double(j, t->last_duration_s);
    scry_json_key(j, "health");
    scry_json_str(j, health_name(t->health));
    struct scry_buf d = { 0 };
    scry_duration_format(t->interval_ms, &d);
    scry_json_key(j, "scrapeInterval");
    scry_json_str(j, d.p);
    scry_buf_reset(&d);
    scry_duration_format(t->timeout_ms, &d);
    scry_json_key(j, "scrapeTimeout");
    scry_json_str(j, d.p);
    scry_buf_fini(&d);
    scry_json_obj_end(j);
}

static void v_dropped(void *ud, const char *job, const struct scry_labels *disc)
{
    struct tvisit *v = ud;
    if (v->phase != 1 || (v->pool && strcmp(v->pool, job) != 0))
        return;
    scry_json_obj_begin(v->j);
    scry_json_key(v->j, "discoveredLabels");
    scry_json_labels(v->j, disc);
    scry_json_obj_end(v->j);
}

static void v_pool(void *ud, const char *job, size_t n_dropped)
{
    struct tvisit *v = ud;
    if (v->phase != 2 || (v->pool && strcmp(v->pool, job) != 0))
        return;
    scry_json_key(v->j, job);
    scry_json_uint(v->j, n_dropped);
}

static void targets_handler(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct col_scrape_manager *m = ud;
    const char *state = scry_http_param(req, "state");
    struct tvisit v = { .a = req->arena, .pool = scry_http_param(req, "scrapePool") };
    if (v.pool && !*v.pool)
        v.pool = NULL;
    v.active = !state || !*state || strcmp(state, "active") == 0 || strcmp(state, "any") == 0;
    v.dropped = !state || !*state || strcmp(state, "dropped") == 0 || strcmp(state, "any") == 0;
    struct scry_json j;
    scry_json_init(&j, &resp->body);
    v.j = &j;
    static const struct col__api_visit visit = { v_pool, v_target, v_dropped };
    /* The JSON is written while the lock is held: it is proportional to the
     * number of targets, not samples, and copying first would cost as much. */
    scry_json_obj_begin(&j);
    scry_json_key(&j, "status");
    scry_json_str(&j, "success");
    scry_json_key(&j, "data");
    scry_json_obj_begin(&j);
    scry_json_key(&j, "activeTargets");
    scry_json_arr_begin(&j);
    if (v.active) {
        v.phase = 0;
        col__manager_visit(m, &visit, &v);
    }
    scry_json_arr_end(&j);
    scry_json_key(&j, "droppedTargets");
    scry_json_arr_begin(&j);
    if (v.dropped) {
        v.phase = 1;
        col__manager_visit(m, &visit, &v);
    }
    scry_json_arr_end(&j);
    scry_json_key(&j, "droppedTargetCounts");
    scry_json_obj_begin(&j);
    v.phase = 2;
    col__manager_visit(m, &visit, &v);
    scry_json_obj_end(&j);
    scry_json_obj_end(&j);
    scry_json_obj_end(&j);
}

/* ---- metadata ------------------------------------------------------------- */

struct mrow {
    const char *name, *type, *help, *unit;
    size_t order;
};

struct mvisit {
    struct scry_arena *a;
    const char *metric;
    struct mrow *v;
    size_t n, cap;
};

static void v_meta(void *ud, const struct col__target *t, const struct scry_scrape_config *sc)
{
    struct mvisit *v = ud;
    (void)sc;
    for (size_t i = 0; i < t->meta.n; i++) {
        const struct col__meta_entry *e = &t->meta.v[i];
        if (v->metric && strcmp(v->metric, e->name) != 0)
            continue;
        if (v->n == v->cap) {
            size_t cap = v->cap ? v->cap * 2 : 256;
            struct mrow *nv = scry_arena_alloc(v->a, cap * sizeof *nv);
            if (v->n)
                memcpy(nv, v->v, v->n * sizeof *nv);
            v->v = nv;
            v->cap = cap;
        }
        v->v[v->n] = (struct mrow){ scry_arena_strdup(v->a, e->name),
                                    col_metric_type_name(e->type),
                                    scry_arena_strdup(v->a, e->help ? e->help : ""),
                                    scry_arena_strdup(v->a, e->unit ? e->unit : ""), v->n };
        v->n++;
    }
}

static int mrow_cmp(const void *x, const void *y)
{
    const struct mrow *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    if (!c)
        c = strcmp(a->type, b->type);
    if (!c)
        c = strcmp(a->help, b->help);
    if (!c)
        c = strcmp(a->unit, b->unit);
    if (c)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

static bool mrow_same(const struct mrow *a, const struct mrow *b)
{
    return strcmp(a->type, b->type) == 0 && strcmp(a->help, b->help) == 0 &&
           strcmp(a->unit, b->unit) == 0;
}

static void metadata_handler(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct col_scrape_manager *m = ud;
    long limit = -1, per = -1;
    const char *s;
    if ((s = scry_http_param(req, "limit")) && *s)
        limit = strtol(s, NULL, 10);
    if ((s = scry_http_param(req, "limit_per_metric")) && *s)
        per = strtol(s, NULL, 10);
    struct mvisit v = { .a = req->arena, .metric = scry_http_param(req, "metric") };
    if (v.metric && !*v.metric)
        v.metric = NULL;
    static const struct col__api_visit visit = { NULL, v_meta, NULL };
    col__manager_visit(m, &visit, &v);
    if (v.n > 1)
        qsort(v.v, v.n, sizeof *v.v, mrow_cmp);

    struct scry_json j;
    scry_json_init(&j, &resp->body);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "status");
    scry_json_str(&j, "success");
    scry_json_key(&j, "data");
    scry_json_obj_begin(&j);
    long n_metrics = 0;
    for (size_t i = 0; i < v.n;) {
        size_t end = i;
        while (end < v.n && strcmp(v.v[end].name, v.v[i].name) == 0)
            end++;
        if (limit >= 0 && n_metrics >= limit)
            break;
        n_metrics++;
        scry_json_key(&j, v.v[i].name);
        scry_json_arr_begin(&j);
        long n_out = 0;
        for (size_t k = i; k < end; k++) {
            /* Sorted by content too, so duplicates across targets are adjacent. */
            bool dup = k > i && mrow_same(&v.v[k - 1], &v.v[k]);
            if (dup || (per >= 0 && n_out >= per))
                continue;
            n_out++;
            scry_json_obj_begin(&j);
            scry_json_key(&j, "type");
            scry_json_str(&j, v.v[k].type);
            scry_json_key(&j, "help");
            scry_json_str(&j, v.v[k].help);
            scry_json_key(&j, "unit");
            scry_json_str(&j, v.v[k].unit);
            scry_json_obj_end(&j);
        }
        scry_json_arr_end(&j);
        i = end;
    }
    scry_json_obj_end(&j);
    scry_json_obj_end(&j);
}

void col_scrape_register_api(struct col_scrape_manager *m, struct scry_http_server *srv)
{
    scry_http_server_route(srv, "GET", "/api/v1/targets", targets_handler, m, 0);
    scry_http_server_route(srv, "GET", "/api/v1/metadata", metadata_handler, m, 0);
}
