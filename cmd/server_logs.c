/* server_logs.c — the log store inside `scry server`.
 *
 * The log store opens after tsdb, in the same start-up phase that keeps
 * /-/ready at 503 (its WAL replay is start-up work too). As for metrics,
 * ingest handlers (Loki push, OTLP logs, file tailing) append to the
 * server's own log_ingest appendable and queries read its log_query
 * queryable: both fail until the store is open, so senders retry and the
 * API answers 503 instead of reaching a NULL store.
 *
 * A maintenance thread cuts the head into a segment when it holds
 * LOGS_FLUSH_BYTES of raw lines or its oldest line is one block duration
 * old, and applies retention. POST /flush (Loki's ingester flush) cuts it
 * now, for backups, benchmarks and tests. */
#include <errno.h>
#include <stddef.h>
#include <time.h>

#include "cmd/cmd.h"
#include "cmd/server.h"
#include "core/http.h"
#include "logstore/logstore.h"

/* Raw bytes in the head that trigger a cut: big enough that segments
 * compress well, small enough that the head's memory stays bounded. */
#define LOGS_FLUSH_BYTES (256ull << 20)
#define LOGS_MAINTAIN_MS 10000

static struct scry_server *from_ingest(struct scry_appendable *a)
{
    return (struct scry_server *)((char *)a - offsetof(struct scry_server, log_ingest));
}

static struct scry_server *from_query(struct scry_queryable *q)
{
    return (struct scry_server *)((char *)q - offsetof(struct scry_server, log_query));
}

static int log_ingest_begin(struct scry_appendable *a, const char *tenant,
                            struct scry_appender **out, struct scry_err *err)
{
    struct scry_server *s = from_ingest(a);
    if (!atomic_load(&s->ready) || !s->logs)
        return scry_err_set(err, SCRY_ETIMEOUT, "scry is starting up (WAL replay); retry");
    struct scry_appendable *store = ls_appendable(s->logs);
    return store->begin(store, tenant, out, err);
}

static int log_querier(struct scry_queryable *q, const char *tenant, int64_t mint, int64_t maxt,
                       struct scry_querier **out, struct scry_err *err)
{
    struct scry_server *s = from_query(q);
    if (!atomic_load(&s->ready) || !s->logs)
        return scry_err_set(err, SCRY_ETIMEOUT, "scry is starting up (WAL replay)");
    struct scry_queryable *store = ls_queryable(s->logs);
    return store->querier(store, tenant, mint, maxt, out, err);
}

static void flush(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    (void)req;
    struct scry_server *s = ud;
    struct scry_err err = { 0 };
    if (!atomic_load(&s->ready) || !s->logs) {
        scry_http_error(resp, 503, "unavailable", "scry is starting up (WAL replay)");
        return;
    }
    if (ls_flush(s->logs, &err) != 0) {
        scry_http_error(resp, 500, "internal", "flush: %s", err.msg);
        return;
    }
    resp->status = 204;
}

void scry__server_logs_routes(struct scry_server *s, struct scry_http_server *api)
{
    s->log_ingest.begin = log_ingest_begin;
    s->log_query.querier = log_querier;
    scry_http_server_route(api, "POST", "/flush", flush, s, 0);
}

static void maintain_once(struct scry_server *s, int64_t *last_cut_ms)
{
    struct scry_err err = { 0 };
    struct ls_stats st;
    ls_stats(s->logs, &st);
    int64_t now = scry_now_ms();
    bool old = st.head_entries > 0 && now - *last_cut_ms >= s->cfg->storage.block_duration_ms;
    if (st.head_raw_bytes >= LOGS_FLUSH_BYTES || old) {
        if (ls_flush(s->logs, &err) != 0)
            SCRY_LOG(s->log, SCRY_LOG_ERROR, "logstore", "cannot cut the head", "err", err.msg);
        *last_cut_ms = now;
    } else if (st.head_entries == 0) {
        *last_cut_ms = now; /* age counts from the first line after a cut */
    }
    if (ls_maintain(s->logs, &err) != 0)
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "logstore", "retention failed", "err", err.msg);
}

static void *maintain_thread(void *arg)
{
    struct scry_server *s = arg;
    int64_t last_cut_ms = scry_now_ms();
    pthread_mutex_lock(&s->logs_mu);
    while (!s->logs_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += LOGS_MAINTAIN_MS / 1000;
        int rc = pthread_cond_timedwait(&s->logs_cv, &s->logs_mu, &ts);
        if (s->logs_stop)
            break;
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&s->logs_mu);
            maintain_once(s, &last_cut_ms);
            pthread_mutex_lock(&s->logs_mu);
        }
    }
    pthread_mutex_unlock(&s->logs_mu);
    return NULL;
}

int scry__server_logs_open(struct scry_server *s, struct scry_err *err)
{
    const struct scry_storage_config *sc = &s->cfg->storage;
    struct ls_opts o = {
        .data_dir = s->data_dir,
        .retention_ms = sc->logs_retention_ms,
        .retention_size_bytes = sc->retention_size_bytes,
        .wal_fsync = sc->wal_fsync,
        .wal_segment_bytes = sc->wal_segment_bytes,
        .log = s->log,
        .metrics = s->metrics,
    };
    if (ls_open(&s->logs, &o, err) != 0)
        return -1;
    pthread_mutex_init(&s->logs_mu, NULL);
    pthread_cond_init(&s->logs_cv, NULL);
    s->logs_stop = false;
    if (pthread_create(&s->logs_thread, NULL, maintain_thread, s) != 0) {
        ls_close(s->logs);
        s->logs = NULL;
        return scry_err_set(err, SCRY_EIO, "cannot start the log store's maintenance thread");
    }
    s->logs_thread_started = true;
    return 0;
}

void scry__server_logs_close(struct scry_server *s)
{
    if (s->logs_thread_started) {
        pthread_mutex_lock(&s->logs_mu);
        s->logs_stop = true;
        pthread_cond_signal(&s->logs_cv);
        pthread_mutex_unlock(&s->logs_mu);
        pthread_join(s->logs_thread, NULL);
        pthread_mutex_destroy(&s->logs_mu);
        pthread_cond_destroy(&s->logs_cv);
        s->logs_thread_started = false;
    }
    ls_close(s->logs); /* syncs the WAL: the head is replayed from it next time */
    s->logs = NULL;
}
