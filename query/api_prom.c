/* api_prom.c — route table, the per-request wrapper and the query slots.
 *
 * Every route goes through one wrapper: it answers 503 while the server is
 * not ready, resolves the tenant, runs the handler, releases the parsed
 * trees (their compiled regexes live outside the arena) and records the
 * self-metrics. Handlers only fill in the answer. The query semaphore is a
 * mutex and a condition variable rather than a sem_t because a waiter must
 * give up at its own deadline, and a query's deadline is its timeout. */
#include "query/api_prom.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "query/api_prom_internal.h"

#define DEFAULT_LOOKBACK_MS (5 * 60 * 1000)
#define DEFAULT_TIMEOUT_MS (2 * 60 * 1000)
#define DEFAULT_MAX_CONCURRENT 20

struct route {
    const char *endpoint;
    const char *path;
    bool post; /* also answer POST (form body merged with the URL query) */
    void (*fn)(struct pql_api_ctx *c);
};

static void rules(struct pql_api_ctx *c);
static void alerts(struct pql_api_ctx *c);

static const struct route routes[] = {
    { "query", "/api/v1/query", true, pql__api_query },
    { "query_range", "/api/v1/query_range", true, pql__api_query_range },
    { "query_exemplars", "/api/v1/query_exemplars", true, pql__api_exemplars },
    { "format_query", "/api/v1/format_query", true, pql__api_format_query },
    { "parse_query", "/api/v1/parse_query", true, pql__api_parse_query_h },
    { "series", "/api/v1/series", true, pql__api_series },
    { "labels", "/api/v1/labels", true, pql__api_labels },
    { "label_values", "/api/v1/label/:name/values", true, pql__api_label_values },
    { "rules", "/api/v1/rules", false, rules },
    { "alerts", "/api/v1/alerts", false, alerts },
};

struct binding {
    struct pql_api *api;
    const struct route *rt;
};

/* ---- the query slots ---------------------------------------------------- */

bool pql__api_slot_get(struct pql_api *api, int64_t timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    bool ok = true;
    pthread_mutex_lock(&api->mu);
    while (api->n_running >= api->opts.max_concurrent_queries) {
        if (pthread_cond_timedwait(&api->cv, &api->mu, &dl) == ETIMEDOUT &&
            api->n_running >= api->opts.max_concurrent_queries) {
            ok = false;
            break;
        }
    }
    if (ok)
        api->n_running++;
    pthread_mutex_unlock(&api->mu);
    return ok;
}

void pql__api_slot_put(struct pql_api *api)
{
    pthread_mutex_lock(&api->mu);
    assert(api->n_running > 0);
    api->n_running--;
    pthread_cond_signal(&api->cv);
    pthread_mutex_unlock(&api->mu);
}

/* ---- the wrapper ---------------------------------------------------------- */

static void observe(struct pql_api *api, const char *endpoint, int status, double s)
{
    if (!api->duration)
        return;
    const char *ep[] = { endpoint };
    scry_histogram_observe(scry_metric_with(api->duration, ep), s);
    char code[16];
    snprintf(code, sizeof code, "%d", status);
    const char *lv[] = { endpoint, code };
    scry_metric_inc(scry_metric_with(api->total, lv));
}

static void handle(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    const struct binding *b = ud;
    struct pql_api *api = b->api;
    double t0 = scry_mono_s();
    struct pql_api_ctx c = { .api = api, .endpoint = b->rt->endpoint, .req = req, .resp = resp };
    if (api->opts.readiness && !api->opts.readiness(api->opts.readiness_ud)) {
        scry_http_error(resp, 503, "unavailable", "service unavailable: the server is starting");
    } else if (api->opts.multi_tenant &&
               !(c.tenant = scry_http_header(req, api->tenant_header))) {
        scry_http_error(resp, 401, "bad_data", "no org id: missing %s header", api->tenant_header);
    } else {
        b->rt->fn(&c);
    }
    for (size_t i = 0; i < c.n_parsed; i++)
        pql_expr_fini(c.parsed[i]);
    int status = resp->status ? resp->status : 200;
    if (status >= 500 && api->opts.log)
        SCRY_LOG(api->opts.log, SCRY_LOG_WARN, "api", "query failed", "endpoint", b->rt->endpoint,
                 "err", resp->body.p ? resp->body.p : "");
    observe(api, b->rt->endpoint, status, scry_mono_s() - t0);
}

/* ---- stubs Grafana probes ---------------------------------------------- */

static void stub(struct pql_api_ctx *c, const char *key)
{
    struct scry_json j;
    pql__api_success_begin(&j, &c->resp->body);
    scry_json_obj_begin(&j);
    scry_json_key(&j, key);
    scry_json_arr_begin(&j);
    scry_json_arr_end(&j);
    scry_json_obj_end(&j);
    pql__api_success_end(c, &j, NULL, 0);
}

static void rules(struct pql_api_ctx *c) { stub(c, "groups"); }
static void alerts(struct pql_api_ctx *c) { stub(c, "alerts"); }


/* ---- lifecycle ------------------------------------------------------------- */

#define N_ROUTES (sizeof routes / sizeof routes[0])

struct pql_api_full {
    struct pql_api api;
    struct binding bind[N_ROUTES];
};

static void add_routes(struct pql_api_full *f, struct scry_http_server *srv, const char *prefix)
{
    for (size_t i = 0; i < N_ROUTES; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s%s", prefix, routes[i].path);
        scry_http_server_route(srv, "GET", path, handle, &f->bind[i], 0);
        if (routes[i].post)
            scry_http_server_route(srv, "POST", path, handle, &f->bind[i], 0);
    }
}

int pql_api_register(struct pql_api **out, struct scry_http_server *srv,
                     struct scry_queryable *store, const struct pql_api_opts *opts,
                     struct scry_err *err)
{
    if (!out || !srv || !store)
        return scry_err_set(err, SCRY_EINVAL, "pql_api_register: missing server or store");
    const char *prefix = opts && opts->prefix ? opts->prefix : "";
    size_t plen = strlen(prefix);
    if (plen >= 128 || (plen && (prefix[0] != '/' || prefix[plen - 1] == '/')))
        return scry_err_set(err, SCRY_EINVAL, "api prefix %s: want /path without a trailing /",
                            prefix);
    struct pql_api_full *f = scry_calloc(1, sizeof *f);
    struct pql_api *api = &f->api;
    if (opts)
        api->opts = *opts;
    if (!api->opts.lookback_delta_ms)
        api->opts.lookback_delta_ms = DEFAULT_LOOKBACK_MS;
    if (!api->opts.timeout_ms)
        api->opts.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!api->opts.max_concurrent_queries)
        api->opts.max_concurrent_queries = DEFAULT_MAX_CONCURRENT;
    api->tenant_header = scry_strdup(api->opts.tenant_header ? api->opts.tenant_header
                                                             : "X-Scope-OrgID");
    api->opts.tenant_header = api->tenant_header;
    api->opts.prefix = NULL;
    api->store = store;
    if (pql_pool_create(&api->pool, api->opts.threads, err) != 0) {
        free(api->tenant_header);
        free(f);
        return SCRY_ENOMEM;
    }
    pthread_mutex_init(&api->mu, NULL);
    pthread_cond_init(&api->cv, NULL);
    if (api->opts.metrics) {
        static const char *const ep[] = { "endpoint" }, *const epc[] = { "endpoint", "code" };
        api->duration = scry_metrics_family(
            api->opts.metrics, SCRY_METRIC_HISTOGRAM, "scry_query_duration_seconds",
            "Time spent answering Prometheus API requests, by endpoint.", ep, 1,
            scry_metrics_default_buckets, scry_metrics_n_default_buckets);
        api->total = scry_metrics_family(api->opts.metrics, SCRY_METRIC_COUNTER,
                                         "scry_queries_total",
                                         "Prometheus API requests, by endpoint and status code.",
                                         epc, 2, NULL, 0);
    }
    for (size_t i = 0; i < N_ROUTES; i++)
        f->bind[i] = (struct binding){ api, &routes[i] };
    add_routes(f, srv, "");
    if (plen)
        add_routes(f, srv, prefix);
    *out = api;
    return 0;
}

void pql_api_destroy(struct pql_api *api)
{
    if (!api)
        return;
    pql_pool_destroy(api->pool);
    pthread_mutex_destroy(&api->mu);
    pthread_cond_destroy(&api->cv);
    free(api->tenant_header);
    free((struct pql_api_full *)api); /* api is the first member */
}
