/* api_prom.h — the Prometheus HTTP API (/api/v1/query, query_range, series,
 * labels, label values, exemplars, format_query, parse_query, rules,
 * alerts), as Grafana's built-in Prometheus datasource uses it. The contract
 * is /work/shared/contracts/grafana-prometheus.md; the design is in
 * query/README.md, "Prometheus HTTP API".
 *
 * pql_api_register() adds the routes to a server that has not been started
 * yet; the handlers then run on the server's threads and share nothing but
 * the store, the self-metrics and a counting semaphore that bounds the
 * queries evaluated at once. Every request allocates from its own arena
 * (req->arena). Lifecycle: register, start the server, ..., stop the
 * server, then destroy the api (the routes keep a pointer to it). */
#ifndef SCRY_QUERY_API_PROM_H
#define SCRY_QUERY_API_PROM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/querier.h"
#include "core/timeparse.h"

struct pql_api;
struct scry_http_server;
struct scry_metrics;
struct scry_log;

/* Returns false while the server is not ready (WAL replay): the API then
 * answers 503 unavailable. */
typedef bool (*pql_api_ready_fn)(void *ud);

struct pql_api_opts {
    int64_t lookback_delta_ms;       /* 0 → 5 min; a lookback_delta param overrides it */
    bool delayed_name_removal;       /* see struct pql_engine_opts */
    int64_t timeout_ms;              /* 0 → 2 min; a timeout param can only lower it */
    uint64_t max_samples;            /* 0 → the engine's default (50 000 000) */
    unsigned max_concurrent_queries; /* 0 → 20; more wait up to their timeout, then 503 */
    unsigned threads;                /* PromQL evaluation threads shared by all queries
                                      * (pql_pool_create): 0 → online CPUs (max 16), 1 → one */
    struct scry_metrics *metrics;    /* NULL: no self-metrics */
    struct scry_log *log;            /* NULL: no logging */
    bool multi_tenant;               /* require the tenant header; else tenant NULL */
    const char *tenant_header;       /* NULL → "X-Scope-OrgID" (copied) */
    pql_api_ready_fn readiness;      /* NULL: always ready */
    void *readiness_ud;
    const struct scry_clock *clock;  /* "now" for a query without time; NULL → real */
    const char *prefix;              /* served under this path prefix too ("/prom"); NULL → none */
};

/* Registers the routes on srv (before scry_http_server_start) and returns
 * the API object in *out. store is borrowed and must outlive the api;
 * opts may be NULL. Returns 0 or SCRY_EINVAL with err filled in. */
int pql_api_register(struct pql_api **out, struct scry_http_server *srv,
                     struct scry_queryable *store, const struct pql_api_opts *opts,
                     struct scry_err *err);
/* After the server has stopped. NULL is a no-op. */
void pql_api_destroy(struct pql_api *api);

#endif
