/* cmd.h — the roles of the scry binary and what they share.
 *
 * Each role is a function taking the arguments after its name and
 * returning the process exit code: 0 success, 1 runtime failure (port in
 * use, data dir unusable, query error), 2 usage or config error. */
#ifndef SCRY_CMD_H
#define SCRY_CMD_H

#include <stdint.h>
#include <stdio.h>

#define SCRY_EXIT_OK 0
#define SCRY_EXIT_FAIL 1
#define SCRY_EXIT_USAGE 2

int scry_cmd_server(int argc, char **argv);
int scry_cmd_agent(int argc, char **argv);
int scry_cmd_query(int argc, char **argv);
int scry_cmd_check(int argc, char **argv);
int scry_cmd_tsdb(int argc, char **argv);
int scry_cmd_logs(int argc, char **argv);

/* "scry 0.1.0 (revision abc, built 2026...)" */
void scry_cmd_print_version(FILE *f);

/* Prints "scry <role>: <msg>" and the role's usage to stderr; returns 2. */
int scry_cmd_usage_error(const char *usage, const char *role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* After getopt_long: no argument left over, and --log-format and --log-level
 * name a known format and level. 0, or the usage error's exit code. */
int scry_cmd_check_rest(const char *usage, const char *role, int argc, char **argv,
                        const char *log_format, const char *log_level);

/* Server-side pieces (cmd/server*.c). */
struct scry_server;
struct scry_http_server;
void scry__server_routes(struct scry_server *s, struct scry_http_server *api,
                         struct scry_http_server *otlp);
int scry__server_reload(struct scry_server *s, char *errbuf, size_t errlen);
void scry__server_admin_routes(struct scry_server *s, struct scry_http_server *api);
/* Registers the ingest endpoints (remote_write, ...) on the listeners. */
int scry__server_ingest_routes(struct scry_server *s, struct scry_http_server *api,
                               struct scry_http_server *otlp);
void scry__server_ingest_close(struct scry_server *s);
/* Registers the query APIs (Prometheus; later Loki and Tempo). */
int scry__server_query_routes(struct scry_server *s, struct scry_http_server *api);
void scry__server_query_close(struct scry_server *s);
struct scry_err;
void scry__server_logs_routes(struct scry_server *s, struct scry_http_server *api);
int scry__server_logs_open(struct scry_server *s, struct scry_err *err);
void scry__server_logs_close(struct scry_server *s);
/* File tailing (cmd/server_tail.c): start after the log store is ready,
 * apply on reload, stop before the log store closes. */
int scry__server_tail_start(struct scry_server *s, struct scry_err *err);
int scry__server_tail_apply(struct scry_server *s, struct scry_err *err);
void scry__server_tail_stop(struct scry_server *s);

/* agent_logs.c: tailing and Loki push forwarding inside `scry agent`. */
struct scry_agent_logs;
struct scry_config;
struct scry_log;
struct scry_metrics;
struct scry_err;
struct scry_agent_logs_opts {
    const struct scry_config *cfg; /* logs: and logs_push:; borrowed until the next apply */
    const char *url;               /* the push URL (flag or logs_push.url) */
    const char *data_dir;
    struct scry_log *log;
    struct scry_metrics *metrics;
};
int scry__agent_logs_start(struct scry_agent_logs **out, const struct scry_agent_logs_opts *o,
                           struct scry_err *err);
void scry__agent_logs_apply(struct scry_agent_logs *al, const struct scry_config *cfg);
/* Gives a push in flight grace_ms, stops tailing, frees. NULL is a no-op. */
void scry__agent_logs_stop(struct scry_agent_logs *al, int64_t grace_ms);

/* Data directory lock (cmd/datadir.c): creates dir if missing, takes an
 * exclusive flock on dir/LOCK and writes our pid into it. Returns the fd,
 * or -1 with a one-line reason in errbuf. */
int scry__datadir_lock(const char *dir, char *errbuf, size_t errlen);

#endif
