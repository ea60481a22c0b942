/* server_routes.c — the endpoints the house serves itself: health,
 * readiness, self-metrics, reload and the Prometheus status API
 * (buildinfo, config, flags, runtimeinfo, tsdb). The
 * stores, ingest and query modules register their own routes beside these. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/server.h"
#include "core/http.h"
#include "core/json.h"
#include "core/timeparse.h"
#include "query/api_prom_status.h"
#include "scry_build.h"
#include "tsdb/status.h"

/* Grafana checks that buildinfo's version is semver and decides
 * "Prometheus, not Mimir" when `features` is absent: we report the
 * Prometheus API level we implement, and our own version in revision. */
#define PROMETHEUS_API_VERSION "2.53.0"

static void text(struct scry_http_resp *resp, int status, const char *body)
{
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    scry_buf_puts(&resp->body, body);
}

static void healthy(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    text(resp, 200, "scry is Healthy.\n");
}

static void ready(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct scry_server *s = ud;
    if (atomic_load(&s->ready) && !atomic_load(&s->stopping))
        text(resp, 200, "scry is Ready.\n");
    else
        text(resp, 503, "Service Unavailable\n");
}

static void metrics(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct scry_server *s = ud;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    scry_metrics_render(s->metrics, &resp->body);
}

static void reload(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    char msg[SCRY_ERR_MSG_MAX + 64];
    if (scry__server_reload(ud, msg, sizeof msg) != 0) {
        /* Prometheus answers a failed reload with 500 and the reason. */
        resp->status = 500;
        resp->content_type = "text/plain; charset=utf-8";
        scry_buf_printf(&resp->body, "failed to reload config: %s\n", msg);
        return;
    }
    text(resp, 200, "");
}

static void success_begin(struct scry_json *j, struct scry_http_resp *resp)
{
    scry_json_init(j, &resp->body);
    scry_json_obj_begin(j);
    scry_json_key(j, "status");
    scry_json_str(j, "success");
    scry_json_key(j, "data");
}

static void kv(struct scry_json *j, const char *k, const char *v)
{
    scry_json_key(j, k);
    scry_json_str(j, v);
}

static void buildinfo(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct scry_json j;
    success_begin(&j, resp);
    scry_json_obj_begin(&j);
    kv(&j, "version", PROMETHEUS_API_VERSION);
    kv(&j, "revision", "scry-" SCRY_VERSION "-" SCRY_REVISION);
    kv(&j, "branch", "main");
    kv(&j, "buildUser", "scry");
    kv(&j, "buildDate", SCRY_BUILD_DATE);
    kv(&j, "goVersion", "n/a");
    scry_json_obj_end(&j);
    scry_json_obj_end(&j);
}

static void status_config(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct scry_server *s = ud;
    struct scry_buf y = { 0 };
    pthread_mutex_lock(&s->mu);
    scry_config_dump_redacted(s->cfg, &y);
    pthread_mutex_unlock(&s->mu);
    struct scry_json j;
    success_begin(&j, resp);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "yaml");
    scry_json_strn(&j, y.p ? y.p : "", y.len);
    scry_json_obj_end(&j);
    scry_json_obj_end(&j);
    scry_buf_fini(&y);
}

static void status_flags(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct scry_server *s = ud;
    struct scry_json j;
    success_begin(&j, resp);
    scry_json_obj_begin(&j);
    kv(&j, "config", s->config_path ? s->config_path : "");
    kv(&j, "data", s->data_dir);
    kv(&j, "listen", s->api_addr);
    kv(&j, "otlp-listen", s->otlp_addr);
    kv(&j, "log-format", s->log_format);
    kv(&j, "log-level", s->log_level);
    scry_json_obj_end(&j);
    scry_json_obj_end(&j);
}

static void rfc3339(char *out, size_t len, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03dZ", (int)(ms % 1000));
}

static void status_runtimeinfo(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct scry_server *s = ud;
    char start[64], last[64], cwd[PATH_MAX] = "";
    struct scry_buf ret = { 0 };
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    rfc3339(start, sizeof start, s->start_ms);
    pthread_mutex_lock(&s->mu);
    bool ok = s->last_reload_ok;
    rfc3339(last, sizeof last, s->last_reload_ms);
    scry_duration_format(s->cfg->storage.retention_ms, &ret);
    pthread_mutex_unlock(&s->mu);
    struct scry_json j;
    success_begin(&j, resp);
    scry_json_obj_begin(&j);
    kv(&j, "startTime", start);
    kv(&j, "CWD", cwd);
    scry_json_key(&j, "reloadConfigSuccess");
    scry_json_bool(&j, ok);
    kv(&j, "lastConfigTime", last);
    scry_json_key(&j, "corruptionCount");
    scry_json_int(&j, 0);
    scry_json_key(&j, "goroutineCount");
    scry_json_int(&j, 0);
    scry_json_key(&j, "GOMAXPROCS");
    scry_json_int(&j, sysconf(_SC_NPROCESSORS_ONLN));
    kv(&j, "GOGC", "");
    kv(&j, "GODEBUG", "");
    kv(&j, "storageRetention", ret.p ? ret.p : "");
    scry_json_obj_end(&j);
    scry_json_obj_end(&j);
    scry_buf_fini(&ret);
}

/* The head's cardinality statistics (query/api_prom_status.c has the
 * format, tsdb/head_status.c the numbers). 503 until start-up is done. */
static void status_tsdb(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct scry_server *s = ud;
    struct scry_err err = { 0 };
    size_t limit;
    struct tsdb_status st;
    if (pql_tsdb_status_limit(scry_http_param(req, "limit"), &limit, &err) != 0) {
        scry_http_error(resp, 400, "bad_data", "%s", err.msg);
        return;
    }
    if (!atomic_load(&s->ready)) {
        scry_http_error(resp, 503, "unavailable", "scry is starting up (WAL replay)");
        return;
    }
    if (tsdb_status(s->db, limit, req->arena, &st) != 0) {
        scry_http_error(resp, 500, "internal", "tsdb status failed");
        return;
    }
    pql_tsdb_status_json(&resp->body, &st);
}

void scry__server_routes(struct scry_server *s, struct scry_http_server *api,
                         struct scry_http_server *otlp)
{
    struct scry_http_server *both[] = { api, otlp };
    for (size_t i = 0; i < 2; i++) {
        scry_http_server_route(both[i], "GET", "/-/healthy", healthy, s, 0);
        scry_http_server_route(both[i], "HEAD", "/-/healthy", healthy, s, 0);
        scry_http_server_route(both[i], "GET", "/-/ready", ready, s, 0);
        scry_http_server_route(both[i], "HEAD", "/-/ready", ready, s, 0);
    }
    scry_http_server_route(api, "GET", "/metrics", metrics, s, 0);
    scry_http_server_route(api, "POST", "/-/reload", reload, s, 0);
    scry_http_server_route(api, "PUT", "/-/reload", reload, s, 0);
    scry_http_server_route(api, "GET", "/api/v1/status/buildinfo", buildinfo, s, 0);
    scry_http_server_route(api, "GET", "/api/v1/status/config", status_config, s, 0);
    scry_http_server_route(api, "GET", "/api/v1/status/flags", status_flags, s, 0);
    scry_http_server_route(api, "GET", "/api/v1/status/runtimeinfo", status_runtimeinfo, s, 0);
    scry_http_server_route(api, "GET", "/api/v1/status/tsdb", status_tsdb, s, 0);
}
