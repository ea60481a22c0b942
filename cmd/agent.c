/* agent.c — `scry agent`: scrape, and forward by remote_write through a
 * disk-backed queue (collector/rw_queue.h), keeping no local store; tail
 * the `logs:` section and forward the lines by Loki push (agent_logs.c).
 *
 * Start-up order, as the server's: flags (exit 2), config (exit 2 with
 * file:line:col), at least one remote_write or logs push target (exit 2), data dir lock
 * and listener (exit 1), then the queues (each replays what was not yet
 * acknowledged and starts sending), the scrape manager, and signals handled
 * synchronously in sigwait() on the main thread. SIGHUP reloads the scrape
 * configs; remote_write changes need a restart. SIGTERM/SIGINT stop the
 * scrapes, give the queues a bounded time to send what is pending, persist
 * the acknowledged positions and exit 0; what was not sent stays on disk. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/signals.h"
#include "collector/rw_queue.h"
#include "collector/scrape.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timeparse.h"
#include "scry_build.h"

#define DEFAULT_LISTEN "127.0.0.1:9091"
#define FLUSH_TIMEOUT_MS 10000
#define MAX_TARGETS 16

static const char usage[] =
    "usage: scry agent [options]\n"
    "\n"
    "Scrapes targets like the server, keeps no local store, and forwards every\n"
    "sample by remote_write (to a scry server, Prometheus, VictoriaMetrics, ...)\n"
    "through a queue on disk that survives restarts. Tails the config's logs:\n"
    "section like the server and forwards the lines by Loki push.\n"
    "\n"
    "  --config FILE          YAML config: scrape_configs, remote_write, logs and\n"
    "                         logs_push (default: scrape the agent's own /metrics every 15s)\n"
    "  --remote-write URL     send here too (e.g. http://127.0.0.1:9090/api/v1/write);\n"
    "                         a URL also in the config uses the config's settings\n"
    "  --logs-url URL         Loki push endpoint for the tailed lines (e.g.\n"
    "                         http://127.0.0.1:9090/loki/api/v1/push); overrides\n"
    "                         logs_push.url, keeps the section's other settings\n"
    "  --data DIR             queue, spool and checkpoints (default ./data-agent)\n"
    "  --listen HOST:PORT     /metrics, /-/ready, /-/healthy, /api/v1/targets\n"
    "                         (default " DEFAULT_LISTEN "; port 0 picks one, logged)\n"
    "  --log-format logfmt|json   (default logfmt)\n"
    "  --log-level debug|info|warn|error   (default info)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Signals: SIGHUP reloads scrape_configs and logs; SIGTERM and SIGINT send\n"
    "what is pending (for up to 10s) and stop; the rest is sent after the next start.\n";

struct agent {
    const char *config_path, *rw_flag, *logs_url_flag, *data_dir, *listen, *log_format, *log_level;
    char addr[96];
    struct scry_log *log;
    struct scry_metrics *metrics;
    struct scry_config *cfg;       /* the config in force for scraping */
    struct scry_config *rw_cfg;    /* the one the queues borrow (the first) */
    struct scry_config *flag_cfg;  /* holds the --remote-write target */
    struct col_rwq *q[MAX_TARGETS];
    size_t n_q;
    struct col_scrape_manager *scrape;
    struct scry_agent_logs *logs;
    atomic_bool ready;
    int lock_fd;
};

/* ---- fan-out: one scrape appended to every queue ------------------------- */

struct fanout {
    struct scry_appendable a; /* first */
    struct agent *ag;
};

struct fanout_app {
    struct scry_appender app; /* first */
    size_t n;
    struct scry_appender *sub[MAX_TARGETS];
};

static int fan_append(struct scry_appender *app, uint64_t *ref, const struct scry_labels *ls,
                      int64_t t_ms, double v, struct scry_err *err)
{
    struct fanout_app *f = (struct fanout_app *)app;
    for (size_t i = 0; i < f->n; i++) {
        uint64_t r = 0;
        int rc = scry_append_sample(f->sub[i], &r, ls, t_ms, v, err);
        if (rc)
            return rc;
    }
    if (ref)
        *ref = 1;
    return 0;
}

static void fan_rollback(struct scry_appender *app)
{
    struct fanout_app *f = (struct fanout_app *)app;
    for (size_t i = 0; i < f->n; i++)
        scry_appender_rollback(f->sub[i]);
    free(f);
}

/* Every queue commits on its own: a failing disk under one queue must not
 * hold back the others, so the first error is returned after all ran. */
static int fan_commit(struct scry_appender *app, struct scry_err *err)
{
    struct fanout_app *f = (struct fanout_app *)app;
    int first = 0;
    for (size_t i = 0; i < f->n; i++) {
        struct scry_err e = { 0 };
        int rc = scry_appender_commit(f->sub[i], &e);
        if (rc && !first) {
            first = rc;
            if (err)
                *err = e;
        }
    }
    free(f);
    return first;
}

static const struct scry_appender_ops fan_ops = {
    .append_sample = fan_append, .commit = fan_commit, .rollback = fan_rollback,
};

static int fan_begin(struct scry_appendable *store, const char *tenant, struct scry_appender **out,
                     struct scry_err *err)
{
    struct agent *ag = ((struct fanout *)store)->ag;
    struct fanout_app *f = scry_calloc(1, sizeof *f);
    f->app.ops = &fan_ops;
    for (; f->n < ag->n_q; f->n++) {
        int rc = scry_appender_begin(col_rwq_appendable(ag->q[f->n]), tenant, &f->sub[f->n], err);
        if (rc) {
            fan_rollback(&f->app);
            return rc;
        }
    }
    *out = &f->app;
    return 0;
}

/* ---- HTTP ------------------------------------------------------------------- */

static void text(struct scry_http_resp *resp, int status, const char *body)
{
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    scry_buf_puts(&resp->body, body);
}

static void h_healthy(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    text(resp, 200, "scry agent is Healthy.\n");
}

static void h_ready(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct agent *ag = ud;
    if (atomic_load(&ag->ready))
        text(resp, 200, "scry agent is Ready.\n");
    else
        text(resp, 503, "Service Unavailable\n");
}

static void h_metrics(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct agent *ag = ud;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    scry_metrics_render(ag->metrics, &resp->body);
}

/* ---- config ------------------------------------------------------------------ */

static int load_config(struct agent *ag, struct scry_config **out, struct scry_err *err)
{
    if (ag->config_path)
        return scry_config_load_file(ag->config_path, out, err);
    struct scry_buf y = { 0 };
    scry_buf_printf(&y,
                    "global:\n  scrape_interval: 15s\n"
                    "scrape_configs:\n  - job_name: scry-agent\n"
                    "    static_configs:\n      - targets: ['%s']\n",
                    ag->addr);
    int rc = scry_config_load_string("<default>", y.p, y.len, out, err);
    scry_buf_fini(&y);
    return rc;
}

/* The --remote-write URL as a config of its own, so it gets the same
 * defaults and URL checks as one from a file. */
static int load_flag_target(struct agent *ag, struct scry_err *err)
{
    struct scry_buf y = { 0 };
    scry_buf_puts(&y, "remote_write:\n  - url: '");
    for (const char *p = ag->rw_flag; *p; p++) {
        if (*p == '\'')
            scry_buf_putc(&y, '\'');
        scry_buf_putc(&y, *p);
    }
    scry_buf_puts(&y, "'\n");
    int rc = scry_config_load_string("--remote-write", y.p, y.len, &ag->flag_cfg, err);
    scry_buf_fini(&y);
    return rc;
}

static void reload(struct agent *ag)
{
    struct scry_err err = { 0 };
    struct scry_config *cfg = NULL;
    if (load_config(ag, &cfg, &err) != 0) {
        char line[SCRY_ERR_MSG_MAX + 256];
        scry_err_format(&err, line, sizeof line);
        SCRY_LOG(ag->log, SCRY_LOG_ERROR, "config", "reload failed; keeping the old config",
                 "err", line);
        return;
    }
    if (ag->scrape)
        col_scrape_manager_apply_config(ag->scrape, cfg, &err);
    scry__agent_logs_apply(ag->logs, cfg);
    if (ag->cfg != ag->rw_cfg)
        scry_config_destroy(ag->cfg);
    ag->cfg = cfg;
    SCRY_LOG(ag->log, SCRY_LOG_INFO, "config", "scrape_configs and logs reloaded (remote_write "
             "and logs_push changes take effect after a restart)");
}

/* ---- run ------------------------------------------------------------------------ */

static int open_queues(struct agent *ag)
{
    const struct scry_remote_write_config *t[MAX_TARGETS];
    size_t n = 0;
    for (size_t i = 0; i < ag->rw_cfg->n_remote_write && n < MAX_TARGETS; i++)
        t[n++] = &ag->rw_cfg->remote_write[i];
    if (ag->flag_cfg) {
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            dup |= strcmp(t[i]->url, ag->flag_cfg->remote_write[0].url) == 0;
        if (!dup && n < MAX_TARGETS)
            t[n++] = &ag->flag_cfg->remote_write[0];
    }
    char qdir[4096];
    snprintf(qdir, sizeof qdir, "%s/queue", ag->data_dir);
    mkdir(qdir, 0755);
    for (size_t i = 0; i < n; i++) {
        char name[17], dir[4200];
        col_rwq_dir_name(t[i]->url, name);
        snprintf(dir, sizeof dir, "%s/%s", qdir, name);
        struct scry_err err = { 0 };
        struct col_rwq_opts o = {
            .cfg = t[i],
            .dir = dir,
            .external_labels = &ag->rw_cfg->global.external_labels,
            .metrics = ag->metrics,
            .log = ag->log,
        };
        if (col_rwq_open(&ag->q[i], &o, &err) != 0) {
            SCRY_LOG(ag->log, SCRY_LOG_ERROR, "remote_write", "cannot open the queue", "url",
                     t[i]->url, "err", err.msg);
            return -1;
        }
        ag->n_q++;
        SCRY_LOG(ag->log, SCRY_LOG_INFO, "remote_write", "forwarding", "url", t[i]->url, "queue",
                 dir);
    }
    return 0;
}

static void on_hup(void *ud)
{
    reload(ud);
}

static int wait_for_signals(struct agent *ag, const sigset_t *set)
{
    scry__signals_wait(set, ag->log, "agent", on_hup, ag);
    return 0;
}

static int run(struct agent *ag)
{
    struct scry_err err = { 0 };
    struct scry_http_server *http = NULL;
    char line[SCRY_ERR_MSG_MAX + 256];
    int rc = SCRY_EXIT_FAIL;

    snprintf(ag->addr, sizeof ag->addr, "%s", ag->listen);
    if (load_config(ag, &ag->cfg, &err) != 0 || (ag->rw_flag && load_flag_target(ag, &err))) {
        scry_err_format(&err, line, sizeof line);
        fprintf(stderr, "scry agent: %s\n", line);
        return SCRY_EXIT_USAGE;
    }
    ag->rw_cfg = ag->cfg;
    const char *logs_url = ag->logs_url_flag ? ag->logs_url_flag : ag->cfg->logs_push.url;
    if (ag->cfg->n_remote_write == 0 && !ag->flag_cfg && !logs_url) {
        fprintf(stderr, "scry agent: no remote_write target: give --remote-write URL or a "
                        "remote_write: section in the config (or --logs-url to forward logs)\n");
        return SCRY_EXIT_USAGE;
    }
    if (ag->cfg->n_logs > 0 && !logs_url) {
        fprintf(stderr, "scry agent: the config tails logs: but has nowhere to send them: give "
                        "--logs-url URL or logs_push.url\n");
        return SCRY_EXIT_USAGE;
    }
    if (logs_url && strncmp(logs_url, "http://", 7) && strncmp(logs_url, "https://", 8)) {
        fprintf(stderr, "scry agent: --logs-url \"%s\": want an http:// or https:// URL\n",
                logs_url);
        return SCRY_EXIT_USAGE;
    }
    ag->lock_fd = scry__datadir_lock(ag->data_dir, line, sizeof line);
    if (ag->lock_fd < 0) {
        SCRY_LOG(ag->log, SCRY_LOG_ERROR, "agent", line);
        return SCRY_EXIT_FAIL;
    }
    sigset_t set;
    scry__signals_block(&set);

    scry_metrics_add_process_collector(ag->metrics);
    struct scry_http_opts ho = { .listen = ag->listen };
    if (scry_http_server_create(&http, &ho, &err) != 0) {
        SCRY_LOG(ag->log, SCRY_LOG_ERROR, "http", "cannot listen", "err", err.msg);
        goto out;
    }
    const char *colon = strrchr(ag->listen, ':');
    snprintf(ag->addr, sizeof ag->addr, "%.*s:%d", colon ? (int)(colon - ag->listen) : 0,
             ag->listen, scry_http_server_port(http));
    if (!ag->config_path) { /* the default self-scrape names the resolved port */
        scry_config_destroy(ag->cfg);
        ag->cfg = ag->rw_cfg = NULL;
        if (load_config(ag, &ag->cfg, &err) != 0)
            goto out;
        ag->rw_cfg = ag->cfg;
    }
    if (open_queues(ag) != 0)
        goto out;
    if (logs_url) {
        struct scry_agent_logs_opts lo = {
            .cfg = ag->cfg, .url = logs_url, .data_dir = ag->data_dir,
            .log = ag->log, .metrics = ag->metrics,
        };
        if (scry__agent_logs_start(&ag->logs, &lo, &err) != 0) {
            SCRY_LOG(ag->log, SCRY_LOG_ERROR, "logs_push", "cannot start", "err", err.msg);
            goto out;
        }
    }
    struct fanout fan = { .a.begin = fan_begin, .ag = ag };
    struct col_scrape_opts so = {
        .appendable = ag->n_q == 1 ? col_rwq_appendable(ag->q[0]) : &fan.a,
        .metrics = ag->metrics,
        .log = ag->log,
        .user_agent = "scry-agent/" SCRY_VERSION,
    };
    if (col_scrape_manager_create(&so, &ag->scrape, &err) != 0) {
        SCRY_LOG(ag->log, SCRY_LOG_ERROR, "scrape", "cannot start the scrape manager", "err",
                 err.msg);
        goto out;
    }
    scry_http_server_route(http, "GET", "/-/healthy", h_healthy, ag, 0);
    scry_http_server_route(http, "GET", "/-/ready", h_ready, ag, 0);
    scry_http_server_route(http, "GET", "/metrics", h_metrics, ag, 0);
    col_scrape_register_api(ag->scrape, http);
    if (scry_http_server_start(http, &err) != 0) {
        SCRY_LOG(ag->log, SCRY_LOG_ERROR, "http", "cannot start", "err", err.msg);
        goto out;
    }
    SCRY_LOG(ag->log, SCRY_LOG_INFO, "http", "listening", "addr", ag->addr);
    col_scrape_manager_apply_config(ag->scrape, ag->cfg, &err);
    atomic_store(&ag->ready, true);
    SCRY_LOG(ag->log, SCRY_LOG_INFO, "agent", "ready", "config",
             ag->config_path ? ag->config_path : "<default>", "data", ag->data_dir);

    wait_for_signals(ag, &set);
    atomic_store(&ag->ready, false);
    rc = SCRY_EXIT_OK;
out:
    /* Scrapes stop first, so nothing is appended while the queues drain;
     * tailing sends what it read (for up to the same time) and stops. */
    col_scrape_manager_destroy(ag->scrape);
    ag->scrape = NULL;
    scry__agent_logs_stop(ag->logs, rc == SCRY_EXIT_OK ? FLUSH_TIMEOUT_MS : 0);
    ag->logs = NULL;
    for (size_t i = 0; i < ag->n_q; i++)
        if (rc == SCRY_EXIT_OK && col_rwq_flush(ag->q[i], FLUSH_TIMEOUT_MS) != 0)
            SCRY_LOG(ag->log, SCRY_LOG_WARN, "remote_write", "not everything was sent; the "
                     "rest is sent after the next start");
    for (size_t i = 0; i < ag->n_q; i++) {
        struct scry_err e = { 0 };
        if (col_rwq_close(ag->q[i], &e) != 0)
            SCRY_LOG(ag->log, SCRY_LOG_ERROR, "remote_write", "closing the queue failed", "err",
                     e.msg);
    }
    ag->n_q = 0;
    scry_http_server_stop(http);
    scry_http_server_destroy(http);
    if (rc == SCRY_EXIT_OK)
        SCRY_LOG(ag->log, SCRY_LOG_INFO, "agent", "stopped");
    return rc;
}

static int parse_flags(struct agent *ag, int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "remote-write", required_argument, NULL, 'r' },
        { "logs-url", required_argument, NULL, 'L' },
        { "data", required_argument, NULL, 'd' },
        { "listen", required_argument, NULL, 'l' },
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
        case 'c': ag->config_path = optarg; break;
        case 'r': ag->rw_flag = optarg; break;
        case 'L': ag->logs_url_flag = optarg; break;
        case 'd': ag->data_dir = optarg; break;
        case 'l': ag->listen = optarg; break;
        case 'f': ag->log_format = optarg; break;
        case 'v': ag->log_level = optarg; break;
        case 'h': fputs(usage, stdout); return -1;
        case ':':
            return scry_cmd_usage_error(usage, "agent", "option %s needs a value",
                                        argv[optind - 1]);
        default:
            return scry_cmd_usage_error(usage, "agent", "unknown option %s", argv[optind - 1]);
        }
    }
    return scry_cmd_check_rest(usage, "agent", argc, argv, ag->log_format, ag->log_level);
}

int scry_cmd_agent(int argc, char **argv)
{
    struct agent ag = {
        .data_dir = "./data-agent",
        .listen = DEFAULT_LISTEN,
        .log_format = "logfmt",
        .log_level = "info",
        .lock_fd = -1,
    };
    int rc = parse_flags(&ag, argc, argv);
    if (rc != 0)
        return rc < 0 ? SCRY_EXIT_OK : rc;
    ag.log = scry_log_create(STDERR_FILENO, scry_log_level_parse(ag.log_level),
                             scry_log_format_parse(ag.log_format));
    ag.metrics = scry_metrics_create();
    rc = run(&ag);
    if (ag.cfg != ag.rw_cfg)
        scry_config_destroy(ag.cfg);
    scry_config_destroy(ag.rw_cfg);
    scry_config_destroy(ag.flag_cfg);
    scry_metrics_destroy(ag.metrics);
    scry_log_destroy(ag.log);
    if (ag.lock_fd >= 0)
        close(ag.lock_fd);
    return rc;
}
