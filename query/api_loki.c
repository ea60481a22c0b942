/* api_loki.c — route table, the per-request wrapper, /ready and buildinfo
 * of the Loki HTTP API.
 *
 * Every route goes through one wrapper, as in api_prom.c: 503 while the
 * server is not ready, the tenant header in multi-tenant mode, then the
 * handler, then the deferred clean-ups and the self-metrics. Loki answers
 * errors as plain text, so the wrapper does too. */
#include "query/api_loki.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "query/api_loki_internal.h"

#define DEFAULT_TIMEOUT_MS (2 * 60 * 1000)
#define DEFAULT_MAX_ENTRIES 5000
#define DEFAULT_MAX_CONCURRENT 20

struct route {
    const char *endpoint;
    const char *path;
    void (*fn)(struct loki_api_ctx *c);
};

static void buildinfo(struct loki_api_ctx *c);

/* Grafana only ever GETs (contract §1); Loki accepts POST for query_range
 * and the metadata endpoints too, with form bodies, so we do as well. */
static const struct route routes[] = {
    { "query", "/loki/api/v1/query", loki__query },
    { "query_range", "/loki/api/v1/query_range", loki__query_range },
    { "labels", "/loki/api/v1/labels", loki__labels },
    { "labels", "/loki/api/v1/label", loki__labels },
    { "label_values", "/loki/api/v1/label/:name/values", loki__label_values },
    { "series", "/loki/api/v1/series", loki__series },
    { "index_stats", "/loki/api/v1/index/stats", loki__index_stats },
    { "index_volume", "/loki/api/v1/index/volume", loki__index_volume },
    { "index_volume_range", "/loki/api/v1/index/volume_range", loki__index_volume_range },
    { "detected_fields", "/loki/api/v1/detected_fields", loki__detected_fields },
    { "detected_field_values", "/loki/api/v1/detected_field/:name/values",
      loki__detected_field_values },
    { "patterns", "/loki/api/v1/patterns", loki__patterns },
    { "buildinfo", "/loki/api/v1/status/buildinfo", buildinfo },
    { "tail", "/loki/api/v1/tail", loki__tail },
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

struct binding {
    struct loki_api *api;
    const struct route *rt;
};

struct loki_api_full {
    struct loki_api api;
    struct binding bind[N_ROUTES];
};

void loki__error(struct loki_api_ctx *c, int status, const char *fmt, ...)
{
    struct scry_http_resp *resp = c->resp;
    va_list ap;
    va_start(ap, fmt);
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body.len = 0;
    scry_buf_puts(&resp->body, msg);
    scry_buf_putc(&resp->body, '\n');
}

void loki__defer(struct loki_api_ctx *c, void (*fn)(void *arg), void *arg)
{
    if (c->n_cleanup == sizeof c->cleanup / sizeof c->cleanup[0])
        abort(); /* a handler that parses more than 8 queries is a bug */
    c->cleanup[c->n_cleanup] = fn;
    c->cleanup_arg[c->n_cleanup++] = arg;
}

static void observe(struct loki_api *api, const char *endpoint, int status, double s)
{
    if (!api->duration)
        return;
    const char *l1[] = { endpoint };
    scry_histogram_observe(scry_metric_with(api->duration, l1), s);
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    const char *l2[] = { endpoint, code };
    scry_metric_inc(scry_metric_with(api->total, l2));
}

static void handle(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    const struct binding *b = ud;
    struct loki_api *api = b->api;
    double t0 = scry_mono_s();
    struct loki_api_ctx c = { .api = api, .endpoint = b->rt->endpoint, .req = req, .resp = resp };
    if (api->opts.readiness && !api->opts.readiness(api->opts.readiness_ud))
        loki__error(&c, 503, "service unavailable: the server is starting");
    else if (api->opts.multi_tenant && !(c.tenant = scry_http_header(req, api->tenant_header)))
        loki__error(&c, 401, "no org id: missing %s header", api->tenant_header);
    else
        b->rt->fn(&c);
    while (c.n_cleanup > 0) {
        c.n_cleanup--;
        c.cleanup[c.n_cleanup](c.cleanup_arg[c.n_cleanup]);
    }
    int status = resp->status ? resp->status : 200;
    if (status >= 500 && api->opts.log)
        SCRY_LOG(api->opts.log, SCRY_LOG_WARN, "loki", "query failed", "endpoint",
                 b->rt->endpoint, "err", resp->body.p ? resp->body.p : "");
    observe(api, b->rt->endpoint, status, scry_mono_s() - t0);
}

/* Loki's /ready is plain text; Promtail and Alloy probe it. */
static void ready(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    (void)req;
    struct loki_api *api = ud;
    bool ok = !api->opts.readiness || api->opts.readiness(api->opts.readiness_ud);
    resp->status = ok ? 200 : 503;
    resp->content_type = "text/plain; charset=utf-8";
    scry_buf_puts(&resp->body, ok ? "ready\n" : "Ingester not ready: starting\n");
}

static void buildinfo(struct loki_api_ctx *c)
{
    /* Clients gate features on the version; answer as the Loki release
     * whose API we follow (contract §2). */
    struct scry_json j;
    scry_json_init(&j, &c->resp->body);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "version");
    scry_json_str(&j, "3.0.0");
    scry_json_key(&j, "revision");
    scry_json_str(&j, "scry");
    scry_json_key(&j, "branch");
    scry_json_str(&j, "main");
    scry_json_key(&j, "buildUser");
    scry_json_str(&j, "scry");
    scry_json_key(&j, "buildDate");
    scry_json_str(&j, "");
    scry_json_key(&j, "goVersion");
    scry_json_str(&j, "");
    scry_json_obj_end(&j);
}

int loki_api_register(struct loki_api **out, struct scry_http_server *srv,
                      struct scry_queryable *store, const struct loki_api_opts *opts,
                      struct scry_err *err)
{
    if (!out || !srv || !store)
        return scry_err_set(err, SCRY_EINVAL, "loki_api_register: missing server or store");
    struct loki_api_full *f = scry_calloc(1, sizeof *f);
    struct loki_api *api = &f->api;
    if (opts)
        api->opts = *opts;
    if (!api->opts.timeout_ms)
        api->opts.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!api->opts.max_entries_limit)
        api->opts.max_entries_limit = DEFAULT_MAX_ENTRIES;
    if (!api->opts.max_concurrent_queries)
        api->opts.max_concurrent_queries = DEFAULT_MAX_CONCURRENT;
    api->tenant_header = scry_strdup(api->opts.tenant_header ? api->opts.tenant_header
                                                             : "X-Scope-OrgID");
    api->opts.tenant_header = api->tenant_header;
    api->store = store;
    if (api->opts.metrics) {
        static const char *const ep[] = { "endpoint" }, *const epc[] = { "endpoint", "code" };
        api->duration = scry_metrics_family(
            api->opts.metrics, SCRY_METRIC_HISTOGRAM, "scry_loki_request_duration_seconds",
            "Time spent answering Loki API requests, by endpoint.", ep, 1,
            scry_metrics_default_buckets, scry_metrics_n_default_buckets);
        api->total = scry_metrics_family(api->opts.metrics, SCRY_METRIC_COUNTER,
                                         "scry_loki_requests_total",
                                         "Loki API requests, by endpoint and status code.", epc,
                                         2, NULL, 0);
    }
    for (size_t i = 0; i < N_ROUTES; i++) {
        f->bind[i] = (struct binding){ api, &routes[i] };
        scry_http_server_route(srv, "GET", routes[i].path, handle, &f->bind[i], 0);
        scry_http_server_route(srv, "POST", routes[i].path, handle, &f->bind[i], 0);
    }
    scry_http_server_route(srv, "GET", "/ready", ready, api, 0);
    *out = api;
    return 0;
}

void loki_api_destroy(struct loki_api *api)
{
    if (!api)
        return;
    free(api->tenant_header);
    free((struct loki_api_full *)api); /* api is the first member */
}
