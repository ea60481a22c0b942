/* server_query.c — the query APIs and the queryable they share.
 *
 * As for ingest (server_ingest.c), routes exist before the store opens:
 * the API answers 503 through its readiness callback until the WAL replay
 * is done, and the queryable forwards to the store from then on. */
#include <stddef.h>

#include "cmd/cmd.h"
#include "cmd/server.h"
#include "core/http.h"
#include "query/api_loki.h"
#include "query/api_prom.h"

static int query_querier(struct scry_queryable *q, const char *tenant, int64_t mint, int64_t maxt,
                         struct scry_querier **out, struct scry_err *err)
{
    struct scry_server *s = (struct scry_server *)((char *)q - offsetof(struct scry_server, query));
    if (!atomic_load(&s->ready))
        return scry_err_set(err, SCRY_ETIMEOUT, "scry is starting up (WAL replay)");
    struct scry_queryable *store = tsdb_queryable(s->db);
    return store->querier(store, tenant, mint, maxt, out, err);
}

static bool is_ready(void *ud)
{
    struct scry_server *s = ud;
    return atomic_load(&s->ready);
}

/* The options the Prometheus and Loki APIs both take, from the same
 * server: and tenants: keys; the two opts structs name them alike. */
#define QUERY_API_OPTS(s)                                                                       \
    .timeout_ms = (s)->cfg->server.query_timeout_ms,                                            \
    .max_concurrent_queries = (unsigned)(s)->cfg->server.max_concurrent_queries,                \
    .metrics = (s)->metrics, .log = (s)->log, .multi_tenant = (s)->cfg->tenants.enabled,        \
    .tenant_header = (s)->cfg->tenants.header, .readiness = is_ready, .readiness_ud = (s)

int scry__server_query_routes(struct scry_server *s, struct scry_http_server *api)
{
    struct scry_err err = { 0 };
    s->query.querier = query_querier;
    const struct scry_server_config *sc = &s->cfg->server;
    struct pql_api_opts o = {
        QUERY_API_OPTS(s),
        .lookback_delta_ms = sc->lookback_delta_ms,
        .delayed_name_removal = sc->promql_delayed_name_removal,
        .max_samples = sc->query_max_samples,
        .threads = (unsigned)sc->query_threads,
    };
    if (pql_api_register(&s->prom_api, api, &s->query, &o, &err) != 0) {
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "server", "cannot register the Prometheus API", "err",
                 err.msg);
        return -1;
    }
    struct loki_api_opts lo = { QUERY_API_OPTS(s) };
    if (loki_api_register(&s->loki_api, api, &s->log_query, &lo, &err) != 0) {
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "server", "cannot register the Loki API", "err",
                 err.msg);
        return -1;
    }
    return 0;
}

void scry__server_query_close(struct scry_server *s)
{
    pql_api_destroy(s->prom_api);
    s->prom_api = NULL;
    loki_api_destroy(s->loki_api);
    s->loki_api = NULL;
}
