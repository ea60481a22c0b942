/* api_loki.h — the Loki HTTP API (/loki/api/v1/query, query_range, labels,
 * label values, series, index/stats, index/volume, detected fields,
 * patterns, /ready), as Grafana's built-in Loki datasource uses it. The
 * contract is /work/shared/contracts/grafana-loki.md; the design is in
 * query/README.md, "Loki HTTP API".
 *
 * loki_api_register() adds the routes to a server that has not been
 * started yet; the handlers read log streams through the queryable (the
 * log store's, core/querier.h: select_streams, label_names, label_values).
 * Errors are plain text with 400/500/503/504 like Loki, never the
 * Prometheus envelope. Lifecycle as api_prom.h: register, start the
 * server, ..., stop the server, then destroy. */
#ifndef SCRY_QUERY_API_LOKI_H
#define SCRY_QUERY_API_LOKI_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/querier.h"
#include "core/timeparse.h"

struct loki_api;
struct scry_http_server;
struct scry_metrics;
struct scry_log;

/* Returns false while the server is not ready: the API answers 503. */
typedef bool (*loki_api_ready_fn)(void *ud);

struct loki_api_opts {
    int64_t timeout_ms;              /* 0 → 2 min */
    uint64_t max_entries_limit;      /* limit above this → 400; 0 → 5000 (Loki's default) */
    unsigned max_concurrent_queries; /* 0 → 20 */
    struct scry_metrics *metrics;    /* NULL: no self-metrics */
    struct scry_log *log;            /* NULL: no logging */
    bool multi_tenant;               /* require the tenant header; else tenant NULL */
    const char *tenant_header;       /* NULL → "X-Scope-OrgID" (copied) */
    loki_api_ready_fn readiness;     /* NULL: always ready */
    void *readiness_ud;
    const struct scry_clock *clock;  /* "now" for defaults; NULL → real */
};

/* Registers the routes on srv and returns the API in *out. store (the log
 * store's queryable) is borrowed and must outlive the api. */
int loki_api_register(struct loki_api **out, struct scry_http_server *srv,
                      struct scry_queryable *store, const struct loki_api_opts *opts,
                      struct scry_err *err);
/* After the server has stopped. NULL is a no-op. */
void loki_api_destroy(struct loki_api *api);

#endif
