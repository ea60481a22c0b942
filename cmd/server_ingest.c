/* server_ingest.c — the ingest endpoints and the appendable they share.
 *
 * Routes are registered before the listeners start, but the store opens
 * only after (its WAL replay is what /-/ready waits for). The handlers
 * therefore append to the server's own appendable, which forwards to the
 * store once it is ready and fails begin until then: remote_write answers
 * 5xx and senders retry (OTLP: 503 with Retry-After), so nothing is lost
 * during start-up. */
#include "cmd/cmd.h"
#include "cmd/server.h"
#include "collector/loki_push.h"
#include "collector/otlp.h"
#include "collector/remote_write.h"
#include "core/http.h"

static int ingest_begin(struct scry_appendable *a, const char *tenant, struct scry_appender **out,
                        struct scry_err *err)
{
    struct scry_server *s = (struct scry_server *)((char *)a - offsetof(struct scry_server, ingest));
    if (!atomic_load(&s->ready))
        return scry_err_set(err, SCRY_ETIMEOUT, "scry is starting up (WAL replay); retry");
    struct scry_appendable *store = tsdb_appendable(s->db);
    return store->begin(store, tenant, out, err);
}

int scry__server_ingest_routes(struct scry_server *s, struct scry_http_server *api,
                               struct scry_http_server *otlp)
{
    struct scry_err err = { 0 };
    s->ingest.begin = ingest_begin;
    struct col_rw_opts ro = {
        .max_body_bytes = (size_t)s->cfg->server.max_body_bytes,
        .metrics = s->metrics,
        .log = s->log,
    };
    if (col_rw_register(&s->rw, api, &s->ingest, &ro, &err) != 0) {
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "server", "cannot register remote_write", "err",
                 err.msg);
        return -1;
    }
    /* OTLP/HTTP on both listeners, as the OpenTelemetry exporters expect
     * port 4318 and scry users may point them at the API port too. */
    struct col_otlp_opts oo = {
        .max_body_bytes = (size_t)s->cfg->server.max_body_bytes,
        .metrics = s->metrics,
        .log = s->log,
        .logs = &s->log_ingest, /* /v1/logs into the log store (server_logs.c) */
    };
    if (col_otlp_register(&s->otlp, api, &s->ingest, &oo, &err) != 0) {
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "server", "cannot register OTLP", "err", err.msg);
        return -1;
    }
    col_otlp_add_server(s->otlp, otlp);
    /* Loki push into the log store, through log_ingest (server_logs.c). */
    struct col_loki_opts lo = {
        .max_body_bytes = (size_t)s->cfg->server.max_body_bytes,
        .metrics = s->metrics,
        .log = s->log,
    };
    if (col_loki_register(&s->loki_push, api, &s->log_ingest, &lo, &err) != 0) {
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "server", "cannot register Loki push", "err", err.msg);
        return -1;
    }
    return 0;
}

void scry__server_ingest_close(struct scry_server *s)
{
    col_rw_destroy(s->rw);
    s->rw = NULL;
    col_otlp_destroy(s->otlp);
    s->otlp = NULL;
    col_loki_destroy(s->loki_push);
    s->loki_push = NULL;
}
