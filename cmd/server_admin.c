/* server_admin.c — Prometheus's TSDB admin API, plus flush:
 *   POST /api/v1/admin/tsdb/flush      cut the head into a block now (204)
 *   POST /api/v1/admin/tsdb/snapshot   hard-linked copy under data/snapshots/
 * delete_series and clean_tombstones are not offered yet (404). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/server.h"
#include "core/http.h"
#include "core/json.h"
#include "tsdb/tsdb.h"

/* The database, or NULL (with a 503 written) while start-up runs. */
static struct tsdb *ready_db(struct scry_server *s, struct scry_http_resp *resp)
{
    if (!atomic_load(&s->ready)) {
        scry_http_error(resp, 503, "unavailable", "scry is starting up (WAL replay)");
        return NULL;
    }
    return s->db;
}

static void flush(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct tsdb *db = ready_db(ud, resp);
    struct scry_err err = { 0 };
    if (!db)
        return;
    if (tsdb_flush(db, &err) != 0) {
        scry_http_error(resp, 500, "internal", "flush: %s", err.msg);
        return;
    }
    resp->status = 204;
}

static bool truthy(const char *v) { return v && (!strcmp(v, "true") || !strcmp(v, "1")); }

static void snapshot(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct scry_server *s = ud;
    struct tsdb *db = ready_db(s, resp);
    if (!db)
        return;
    char dir[4200], name[64];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(name, sizeof name, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(name + n, sizeof name - n, "-%08lx", (unsigned long)(ts.tv_nsec ^ (long)getpid()));
    snprintf(dir, sizeof dir, "%s/snapshots", s->data_dir);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/snapshots/%s", s->data_dir, name);
    struct scry_err err = { 0 };
    if (tsdb_snapshot(db, dir, truthy(scry_http_param(req, "skip_head")), &err) != 0) {
        scry_http_error(resp, 500, "internal", "create snapshot: %s", err.msg);
        return;
    }
    struct scry_json j;
    scry_json_init(&j, &resp->body);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "status");
    scry_json_str(&j, "success");
    scry_json_key(&j, "data");
    scry_json_obj_begin(&j);
    scry_json_key(&j, "name");
    scry_json_str(&j, name);
    scry_json_obj_end(&j);
    scry_json_obj_end(&j);
}

void scry__server_admin_routes(struct scry_server *s, struct scry_http_server *api)
{
    scry_http_server_route(api, "POST", "/api/v1/admin/tsdb/flush", flush, s, 0);
    scry_http_server_route(api, "POST", "/api/v1/admin/tsdb/snapshot", snapshot, s, 0);
    scry_http_server_route(api, "PUT", "/api/v1/admin/tsdb/snapshot", snapshot, s, 0);
}
