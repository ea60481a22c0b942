/* server.h — the state of a running `scry server`, shared by cmd/server*.c. */
#ifndef SCRY_CMD_SERVER_H
#define SCRY_CMD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "tsdb/tsdb.h"

struct col_rw;
struct col_otlp;
struct col_loki;
struct col_scrape_manager;
struct pql_api;
struct loki_api;
struct ls_store;
struct col_tail_manager;

struct scry_server {
    /* From the command line; NULL when not given. */
    const char *config_path; /* NULL: the embedded default config */
    const char *data_dir;
    const char *listen_flag, *otlp_listen_flag;
    const char *log_format, *log_level;

    char api_addr[96], otlp_addr[96]; /* resolved HOST:PORT */
    struct scry_log *log;
    struct scry_metrics *metrics;
    int lock_fd;
    int64_t start_ms;

    /* The config in force. Readers hold mu while they use it: a reload
     * swaps the pointer and frees the old config under the lock. */
    pthread_mutex_t mu;
    struct scry_config *cfg;
    bool last_reload_ok;
    int64_t last_reload_ms;

    atomic_bool ready; /* false until start-up (WAL replay) is done */
    /* From the shutdown signal on, /-/ready answers 503 while the stores keep
     * serving: requests and tail sessions in flight finish during the HTTP
     * drain instead of failing as if the server were starting up. */
    atomic_bool stopping;
    struct tsdb *db;   /* set before ready turns true */
    /* What ingest handlers append to: the store once ready; before that,
     * begin fails and they answer 5xx, so senders retry (server_ingest.c). */
    struct scry_appendable ingest;
    struct col_rw *rw;
    struct col_otlp *otlp;
    struct col_loki *loki_push;
    struct col_scrape_manager *scrape;
    struct scry_queryable query; /* what the query APIs read: the store once ready */
    struct pql_api *prom_api;
    struct loki_api *loki_api;

    /* The log store (cmd/server_logs.c), opened after tsdb. Ingest handlers
     * append to log_ingest and the Loki API reads log_query: both forward
     * to the store once ready and fail before. */
    struct ls_store *logs;
    struct scry_appendable log_ingest;
    struct scry_queryable log_query;
    pthread_t logs_thread;
    pthread_mutex_t logs_mu;
    pthread_cond_t logs_cv;
    bool logs_stop, logs_thread_started;
    struct col_tail_manager *tail; /* the logs: section (cmd/server_tail.c) */
    pthread_mutex_t reload_mu; /* serialises reloads (SIGHUP, POST /-/reload) */

    struct scry_metric_family *http_requests, *http_duration;
    struct scry_metric *reload_ok_metric, *reload_ts_metric, *ready_metric;
};

#endif
