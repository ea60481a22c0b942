/* server.c — `scry server`: flags, start-up, signals, reload, shutdown.
 *
 * Start-up order matters for clear failures: flags, then config (exit 2
 * with file:line:col), then the data-dir lock and the listening sockets
 * (exit 1 with one line naming the cause), and only then threads. Signals
 * are blocked before any thread starts so that every thread inherits the
 * mask and the main thread alone receives them, synchronously, in
 * sigwait(): no async-signal-safety puzzles in handlers. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/signals.h"
#include "cmd/server.h"
#include "collector/scrape.h"
#include "core/config.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/timeparse.h"
#include "tsdb/tsdb.h"
#include "scry_build.h"

#define DEFAULT_LISTEN "127.0.0.1:9090"
#define DEFAULT_OTLP_LISTEN "127.0.0.1:4318"

static const char usage[] =
    "usage: scry server [options]\n"
    "\n"
    "Runs the collector, the stores and the query API in one process.\n"
    "\n"
    "  --config FILE        YAML config (default: the embedded config, which scrapes\n"
    "                       scry's own /metrics every 15s)\n"
    "  --data DIR           data directory (default ./data)\n"
    "  --listen HOST:PORT   query API, ingest and UI (default " DEFAULT_LISTEN ";\n"
    "                       port 0 picks a free port and the log says which)\n"
    "  --otlp-listen HOST:PORT\n"
    "                       OTLP/HTTP receiver (default " DEFAULT_OTLP_LISTEN ")\n"
    "  --log-format logfmt|json   (default logfmt)\n"
    "  --log-level debug|info|warn|error   (default info)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Signals: SIGHUP reloads the config (as does POST /-/reload); SIGTERM and\n"
    "SIGINT stop gracefully.\n";

static int parse_flags(struct scry_server *s, int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "data", required_argument, NULL, 'd' },
        { "listen", required_argument, NULL, 'l' },
        { "otlp-listen", required_argument, NULL, 'o' },
        { "log-format", required_argument, NULL, 'f' },
        { "log-level", required_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': s->config_path = optarg; break;
        case 'd': s->data_dir = optarg; break;
        case 'l': s->listen_flag = optarg; break;
        case 'o': s->otlp_listen_flag = optarg; break;
        case 'f': s->log_format = optarg; break;
        case 'v': s->log_level = optarg; break;
        case 'h': fputs(usage, stdout); return -1;
        case ':':
            return scry_cmd_usage_error(usage, "server", "option %s needs a value",
                                        argv[optind - 1]);
        default:
            return scry_cmd_usage_error(usage, "server", "unknown option %s", argv[optind - 1]);
        }
    }
    return scry_cmd_check_rest(usage, "server", argc, argv, s->log_format, s->log_level);
}

/* The embedded default scrapes scry itself; it names 127.0.0.1:9090, so
 * when we listen elsewhere (or on port 0) the target follows our address. */
static int load_default_config(const char *self_addr, struct scry_config **out,
                               struct scry_err *err)
{
    const char *tpl = scry_config_default_yaml;
    const char *hit = strstr(tpl, DEFAULT_LISTEN);
    if (!hit || !self_addr || !strcmp(self_addr, DEFAULT_LISTEN))
        return scry_config_load_string("<default>", tpl, strlen(tpl), out, err);
    size_t pre = (size_t)(hit - tpl), alen = strlen(self_addr);
    size_t post = strlen(hit + strlen(DEFAULT_LISTEN));
    char *y = malloc(pre + alen + post + 1);
    if (!y)
        return scry_err_set(err, SCRY_ENOMEM, "out of memory");
    memcpy(y, tpl, pre);
    memcpy(y + pre, self_addr, alen);
    memcpy(y + pre + alen, hit + strlen(DEFAULT_LISTEN), post + 1);
    int rc = scry_config_load_string("<default>", y, strlen(y), out, err);
    free(y);
    return rc;
}

static int load_config(struct scry_server *s, struct scry_config **out, struct scry_err *err)
{
    if (!s->config_path)
        return load_default_config(s->api_addr[0] ? s->api_addr : NULL, out, err);
    return scry_config_load_file(s->config_path, out, err);
}

/* Hands the config in force to the scrape manager. The manager borrows
 * it until the next apply returns, so the caller frees the previous config
 * only after this. Called with reload_mu held. */
static void apply_scrape_config(struct scry_server *s)
{
    struct scry_err err = { 0 };
    if (!s->scrape || !atomic_load(&s->ready))
        return;
    if (col_scrape_manager_apply_config(s->scrape, s->cfg, &err) != 0)
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "scrape", "applying scrape_configs failed", "err",
                 err.msg);
    if (scry__server_tail_apply(s, &err) != 0)
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "tail", "applying logs failed", "err", err.msg);
}

int scry__server_reload(struct scry_server *s, char *errbuf, size_t errlen)
{
    struct scry_err err = { 0 };
    struct scry_config *cfg = NULL, *old = NULL;
    pthread_mutex_lock(&s->reload_mu); /* SIGHUP and POST /-/reload, one at a time */
    int rc = load_config(s, &cfg, &err);
    pthread_mutex_lock(&s->mu);
    s->last_reload_ok = rc == 0;
    if (rc == 0) {
        old = s->cfg;
        s->cfg = cfg;
        s->last_reload_ms = scry_now_ms();
        if (strcmp(old->server.listen, cfg->server.listen) ||
            strcmp(old->server.otlp_listen, cfg->server.otlp_listen))
            SCRY_LOG(s->log, SCRY_LOG_WARN, "config",
                     "listen addresses changed; they take effect after a restart");
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == 0) {
        apply_scrape_config(s);
        scry_config_destroy(old);
    }
    pthread_mutex_unlock(&s->reload_mu);
    scry_metric_set(s->reload_ok_metric, rc == 0);
    if (rc != 0) {
        scry_err_format(&err, errbuf, errlen);
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "config", "reload failed; keeping the old config", "err",
                 errbuf);
        return -1;
    }
    scry_metric_set(s->reload_ts_metric, (double)s->last_reload_ms / 1000.0);
    SCRY_LOG(s->log, SCRY_LOG_INFO, "config", "config reloaded", "source",
             s->config_path ? s->config_path : "<default>");
    return 0;
}

static void observe_http(void *ud, const char *method, const char *route, int status,
                         double seconds)
{
    struct scry_server *s = ud;
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    const char *handler = route[0] ? route : "other";
    const char *rv[] = { handler, code };
    scry_metric_inc(scry_metric_with(s->http_requests, rv));
    scry_histogram_observe(scry_metric_with(s->http_duration, rv), seconds);
    if (scry_log_enabled(s->log, SCRY_LOG_DEBUG)) {
        char dur[32];
        snprintf(dur, sizeof dur, "%.6f", seconds);
        SCRY_LOG(s->log, SCRY_LOG_DEBUG, "http", "request", "method", method, "handler", handler,
                 "code", code, "seconds", dur);
    }
}

static void register_metrics(struct scry_server *s)
{
    struct scry_metrics *m = s->metrics;
    const char *bl[] = { "version", "revision", "branch" };
    const char *bv[] = { SCRY_VERSION, SCRY_REVISION, "main" };
    struct scry_metric_family *bi = scry_metrics_family(
        m, SCRY_METRIC_GAUGE, "scry_build_info",
        "A metric with a constant '1' value labeled by version, revision and branch.", bl, 3,
        NULL, 0);
    scry_metric_set(scry_metric_with(bi, bv), 1);
    const char *hl[] = { "handler", "code" };
    s->http_requests = scry_metrics_family(m, SCRY_METRIC_COUNTER, "scry_http_requests_total",
                                           "HTTP requests by handler and status code.", hl, 2,
                                           NULL, 0);
    s->http_duration = scry_metrics_family(
        m, SCRY_METRIC_HISTOGRAM, "scry_http_request_duration_seconds",
        "HTTP request latency by handler and status code.", hl, 2, scry_metrics_default_buckets,
        scry_metrics_n_default_buckets);
    s->reload_ok_metric = scry_metrics_gauge(m, "scry_config_last_reload_successful",
                                             "Whether the last config reload attempt succeeded.");
    s->reload_ts_metric =
        scry_metrics_gauge(m, "scry_config_last_reload_success_timestamp_seconds",
                           "Timestamp of the last successful config reload.");
    s->ready_metric = scry_metrics_gauge(m, "scry_ready",
                                         "1 once start-up (WAL replay) is done and scry serves.");
    scry_metric_set(s->reload_ok_metric, 1);
    scry_metric_set(s->reload_ts_metric, (double)s->last_reload_ms / 1000.0);
    struct scry_metric *st = scry_metrics_gauge(m, "scry_start_time_seconds",
                                                "Start time of the process since the epoch.");
    scry_metric_set(st, (double)s->start_ms / 1000.0);
    scry_metrics_add_process_collector(m);
}

static int open_listener(struct scry_server *s, const char *which, const char *addr,
                         struct scry_http_server **out, char *resolved, size_t rlen)
{
    struct scry_err err = { 0 };
    struct scry_http_opts o = {
        .listen = addr,
        .max_body_bytes = (size_t)s->cfg->server.max_body_bytes,
        .observe = observe_http,
        .observe_ud = s,
    };
    if (scry_http_server_create(out, &o, &err) != 0) {
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "http", "cannot listen", "listener", which, "err",
                 err.msg);
        return -1;
    }
    /* Keep the host as given and put the resolved port after it. */
    const char *colon = strrchr(addr, ':');
    int hostlen = colon ? (int)(colon - addr) : 0;
    snprintf(resolved, rlen, "%.*s:%d", hostlen, addr, scry_http_server_port(*out));
    return 0;
}

static void on_hup(void *ud)
{
    char msg[SCRY_ERR_MSG_MAX + 64];
    scry__server_reload(ud, msg, sizeof msg);
}

static int wait_for_signals(struct scry_server *s, const sigset_t *set)
{
    scry__signals_wait(set, s->log, "server", on_hup, s);
    return 0;
}

static int run(struct scry_server *s)
{
    struct scry_err err = { 0 };
    struct scry_http_server *api = NULL, *otlp = NULL;
    int rc = SCRY_EXIT_FAIL;
    char line[SCRY_ERR_MSG_MAX + 64];

    if (load_config(s, &s->cfg, &err) != 0) {
        scry_err_format(&err, line, sizeof line);
        fprintf(stderr, "scry server: %s\n", line);
        return SCRY_EXIT_USAGE;
    }
    s->last_reload_ok = true;
    s->last_reload_ms = s->start_ms;
    s->lock_fd = scry__datadir_lock(s->data_dir, line, sizeof line);
    if (s->lock_fd < 0) {
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "server", line);
        return SCRY_EXIT_FAIL;
    }
    register_metrics(s);

    sigset_t set;
    scry__signals_block(&set);

    const char *listen = s->listen_flag ? s->listen_flag : s->cfg->server.listen;
    const char *olisten = s->otlp_listen_flag ? s->otlp_listen_flag : s->cfg->server.otlp_listen;
    if (open_listener(s, "api", listen, &api, s->api_addr, sizeof s->api_addr) != 0 ||
        open_listener(s, "otlp", olisten, &otlp, s->otlp_addr, sizeof s->otlp_addr) != 0)
        goto out;
    if (!s->config_path && strcmp(s->api_addr, DEFAULT_LISTEN)) {
        /* Re-derive the default config so the self-scrape names our port. */
        struct scry_config *cfg = NULL;
        if (load_default_config(s->api_addr, &cfg, &err) == 0) {
            scry_config_destroy(s->cfg);
            s->cfg = cfg;
        }
    }
    scry__server_routes(s, api, otlp);
    scry__server_admin_routes(s, api);
    scry__server_logs_routes(s, api);
    if (scry__server_ingest_routes(s, api, otlp) != 0 || scry__server_query_routes(s, api) != 0)
        goto out;
    struct col_scrape_opts so = { .appendable = &s->ingest, .metrics = s->metrics, .log = s->log };
    if (col_scrape_manager_create(&so, &s->scrape, &err) != 0) {
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "scrape", "cannot start the scrape manager", "err",
                 err.msg);
        goto out;
    }
    col_scrape_register_api(s->scrape, api);
    if (scry_http_server_start(api, &err) != 0 || scry_http_server_start(otlp, &err) != 0) {
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "http", "cannot start", "err", err.msg);
        goto out;
    }
    SCRY_LOG(s->log, SCRY_LOG_INFO, "http", "listening", "listener", "api", "addr", s->api_addr);
    SCRY_LOG(s->log, SCRY_LOG_INFO, "http", "listening", "listener", "otlp", "addr",
             s->otlp_addr);

    /* Start-up work: the WAL replay. /-/ready answers 503 until it is done,
     * and handlers that need the stores answer 503 too. */
    struct tsdb_opts to = {
        .data_dir = s->data_dir,
        .storage = s->cfg->storage,
        .log = s->log,
        .metrics = s->metrics,
    };
    if (tsdb_open(&s->db, &to, &err) != 0) {
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "tsdb", "cannot open the time-series store", "err",
                 err.msg);
        goto out;
    }
    if (scry__server_logs_open(s, &err) != 0) {
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "logstore", "cannot open the log store", "err", err.msg);
        goto out;
    }
    atomic_store(&s->ready, true);
    scry_metric_set(s->ready_metric, 1);
    pthread_mutex_lock(&s->reload_mu);
    apply_scrape_config(s); /* scraping starts once the store takes samples */
    if (scry__server_tail_start(s, &err) != 0)
        SCRY_LOG(s->log, SCRY_LOG_ERROR, "tail", "cannot start tailing", "err", err.msg);
    pthread_mutex_unlock(&s->reload_mu);
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)(scry_now_ms() - s->start_ms));
    SCRY_LOG(s->log, SCRY_LOG_INFO, "server", "ready", "config",
             s->config_path ? s->config_path : "<default>", "data", s->data_dir, "startup_ms", ms);

    wait_for_signals(s, &set);
    atomic_store(&s->stopping, true);
    scry_metric_set(s->ready_metric, 0);
    rc = SCRY_EXIT_OK;
out:
    /* Stop accepting and let in-flight requests finish (bounded), then
     * flush the stores (none yet) and release the data dir. */
    scry_http_server_stop(api);
    scry_http_server_stop(otlp);
    scry_http_server_destroy(api);
    scry_http_server_destroy(otlp);
    col_scrape_manager_destroy(s->scrape); /* stops appending before the store closes */
    s->scrape = NULL;
    scry__server_ingest_close(s);
    scry__server_query_close(s);
    scry__server_tail_stop(s); /* commits its last round before the log store closes */
    scry__server_logs_close(s);
    tsdb_close(s->db); /* syncs the WAL: the head is replayed from it next time */
    if (rc == SCRY_EXIT_OK)
        SCRY_LOG(s->log, SCRY_LOG_INFO, "server", "stopped");
    return rc;
}

int scry_cmd_server(int argc, char **argv)
{
    struct scry_server s = {
        .data_dir = "./data",
        .log_format = "logfmt",
        .log_level = "info",
        .lock_fd = -1,
    };
    int rc = parse_flags(&s, argc, argv);
    if (rc != 0)
        return rc < 0 ? SCRY_EXIT_OK : rc;
    s.start_ms = scry_now_ms();
    pthread_mutex_init(&s.mu, NULL);
    pthread_mutex_init(&s.reload_mu, NULL);
    s.log = scry_log_create(STDERR_FILENO, scry_log_level_parse(s.log_level),
                            scry_log_format_parse(s.log_format));
    s.metrics = scry_metrics_create();
    rc = run(&s);
    scry_config_destroy(s.cfg);
    scry_metrics_destroy(s.metrics);
    scry_log_destroy(s.log);
    if (s.lock_fd >= 0)
        close(s.lock_fd);
    pthread_mutex_destroy(&s.mu);
    pthread_mutex_destroy(&s.reload_mu);
    return rc;
}
