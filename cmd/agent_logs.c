/* agent_logs.c — `scry agent` tails the `logs:` section and forwards the
 * lines by Loki push (collector/loki_send.h).
 *
 * The tail manager runs as in the server, with the agent's own catalog
 * (DIR/catalog.db) for its checkpoints and the forwarder as its
 * appendable, so a round commits only once the server acknowledged it.
 * Start-up runs in a thread of its own: a spool left by a crash is resent
 * first (which waits for the server), and only then does tailing start,
 * so the positions it moves are in place; the main thread keeps serving
 * signals meanwhile. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "collector/loki_send.h"
#include "collector/tail.h"
#include "core/mem.h"

struct scry_agent_logs {
    struct col_loki_send *send;
    struct col_tail_manager *tail;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards tail, cfg, stopping */
    const struct scry_config *cfg;
    bool stopping;
    char catalog[4200];
    struct scry_log *log;
    struct scry_metrics *metrics;
};

static void *start_thread(void *arg)
{
    struct scry_agent_logs *al = arg;
    struct scry_err err = { 0 };
    if (col_loki_send_recover(al->send, al->catalog, &err) != 0) {
        SCRY_LOG(al->log, SCRY_LOG_WARN, "logs_push", "spool not resent; tailing not started",
                 "err", err.msg);
        return NULL;
    }
    /* Test hook, as the server's (tests/integration/test_agent_logs.py). */
    const char *delay = getenv("SCRY_TAIL_CHECKPOINT_DELAY_MS");
    struct col_tail_opts o = {
        .appendable = col_loki_send_appendable(al->send),
        .catalog_path = al->catalog,
        .log = al->log,
        .metrics = al->metrics,
        .checkpoint_delay_ms = delay ? atoll(delay) : 0,
        .on_checkpoint = col_loki_send_on_checkpoint,
        .hook_ud = al->send,
    };
    pthread_mutex_lock(&al->mu);
    if (!al->stopping) {
        if (col_tail_manager_create(&o, &al->tail, &err) != 0 ||
            col_tail_manager_apply_config(al->tail, al->cfg, &err) != 0)
            SCRY_LOG(al->log, SCRY_LOG_ERROR, "tail", "cannot start tailing", "err", err.msg);
    }
    pthread_mutex_unlock(&al->mu);
    return NULL;
}

int scry__agent_logs_start(struct scry_agent_logs **out, const struct scry_agent_logs_opts *o,
                           struct scry_err *err)
{
    struct scry_agent_logs *al = scry_calloc(1, sizeof *al);
    pthread_mutex_init(&al->mu, NULL);
    al->cfg = o->cfg;
    al->log = o->log;
    al->metrics = o->metrics;
    snprintf(al->catalog, sizeof al->catalog, "%s/catalog.db", o->data_dir);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/logs", o->data_dir);
    const struct scry_logs_push_config *pc = &o->cfg->logs_push;
    struct col_loki_send_opts so = {
        .url = o->url,
        .dir = dir,
        .tenant = pc->tenant_id,
        .batch_bytes = (size_t)pc->batch_bytes,
        .timeout_ms = pc->timeout_ms,
        .min_backoff_ms = pc->min_backoff_ms,
        .max_backoff_ms = pc->max_backoff_ms,
        .metrics = o->metrics,
        .log = o->log,
    };
    if (col_loki_send_open(&al->send, &so, err) != 0) {
        scry__agent_logs_stop(al, 0);
        return -1;
    }
    if (pthread_create(&al->thread, NULL, start_thread, al) != 0) {
        scry__agent_logs_stop(al, 0);
        return scry_err_sys(err, SCRY_EIO, "cannot start the tailing thread");
    }
    al->started = true;
    SCRY_LOG(o->log, SCRY_LOG_INFO, "logs_push", "forwarding tailed lines", "url", o->url,
             "spool", dir);
    *out = al;
    return 0;
}

void scry__agent_logs_apply(struct scry_agent_logs *al, const struct scry_config *cfg)
{
    if (!al)
        return;
    struct scry_err err = { 0 };
    pthread_mutex_lock(&al->mu);
    al->cfg = cfg;
    if (al->tail && col_tail_manager_apply_config(al->tail, cfg, &err) != 0)
        SCRY_LOG(al->log, SCRY_LOG_ERROR, "tail", "reload failed", "err", err.msg);
    pthread_mutex_unlock(&al->mu);
}

void scry__agent_logs_stop(struct scry_agent_logs *al, int64_t grace_ms)
{
    if (!al)
        return;
    /* A push still retrying gives up after grace_ms; what it held stays in
     * the spool (or in the files, behind the checkpoints) for the next start. */
    if (al->send)
        col_loki_send_stop(al->send, grace_ms);
    pthread_mutex_lock(&al->mu);
    al->stopping = true;
    pthread_mutex_unlock(&al->mu);
    if (al->started)
        pthread_join(al->thread, NULL);
    col_tail_manager_destroy(al->tail); /* finishes its round: sends what it read */
    col_loki_send_close(al->send);
    pthread_mutex_destroy(&al->mu);
    free(al);
}
