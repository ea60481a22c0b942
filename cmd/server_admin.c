/* server_admin.c — Prometheus's TSDB admin API, plus flush:
 *   POST /api/v1/admin/tsdb/flush             cut the head into a block now (204)
 *   POST /api/v1/admin/tsdb/snapshot          hard-linked copy under data/snapshots/
 *   POST /api/v1/admin/tsdb/delete_series     match[] (repeated), start, end (204)
 *   POST /api/v1/admin/tsdb/clean_tombstones  rewrite blocks without deleted data (204)
 * Snapshot, delete_series and clean_tombstones also answer PUT, as in
 * Prometheus. Everything is 503 until start-up is done. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/server.h"
#include "core/http.h"
#include "core/json.h"
#include "core/timeparse.h"
#include "query/promql.h"
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

/* start/end as Prometheus's parseTimeParam: absent or empty → dflt. */
static bool time_param(struct scry_http_req *req, struct scry_http_resp *resp, const char *name,
                       int64_t dflt, int64_t *out)
{
    const char *v = scry_http_param(req, name);
    struct scry_err err = { 0 };
    *out = dflt;
    if (!v || !*v)
        return true;
    if (scry_time_parse(v, strlen(v), out, &err) == 0)
        return true;
    scry_http_error(resp, 400, "bad_data", "invalid parameter \"%s\": %s", name, err.msg);
    return false;
}

/* Prometheus's parser.ParseMetricSelector: a bare series selector with at
 * least one matcher that does not match "". On success *e must be
 * released with pql_expr_fini. */
static bool parse_selector(struct scry_http_req *req, struct scry_http_resp *resp, const char *s,
                           struct pql_expr **e)
{
    struct scry_err err = { 0 };
    if (pql_parse(req->arena, s, strlen(s), e, &err) != 0) {
        scry_http_error(resp, 400, "bad_data", "invalid parameter \"match[]\": %s", err.msg);
        return false;
    }
    const char *why = NULL;
    if ((*e)->kind != PQL_VECTOR_SEL) {
        why = scry_arena_printf(req->arena, "1:1: parse error: expected a series selector, got %s",
                                pql_type_name((*e)->type));
    } else {
        bool nonempty = false;
        for (size_t k = 0; k < (*e)->u.vs.n_matchers; k++)
            nonempty |= !scry_matcher_matches(&(*e)->u.vs.matchers[k], "", 0);
        if (!nonempty)
            why = "1:1: parse error: vector selector must contain at least one non-empty matcher";
    }
    if (!why)
        return true;
    scry_http_error(resp, 400, "bad_data", "invalid parameter \"match[]\": %s", why);
    pql_expr_fini(*e);
    return false;
}

/* Prometheus's MinTime and MaxTime in ms (what timestamp.FromTime makes of them). */
#define ADMIN_MIN_TIME_MS (-9223309901257974000LL)
#define ADMIN_MAX_TIME_MS (9223309901257974999LL)

static void delete_series(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct tsdb *db = ready_db(ud, resp);
    if (!db)
        return;
    const char **sel;
    size_t n = scry_http_param_all(req, "match[]", &sel);
    if (n == 0) {
        scry_http_error(resp, 400, "bad_data", "no match[] parameter provided");
        return;
    }
    int64_t start, end;
    if (!time_param(req, resp, "start", ADMIN_MIN_TIME_MS, &start) ||
        !time_param(req, resp, "end", ADMIN_MAX_TIME_MS, &end))
        return;
    /* Every selector is parsed before anything is deleted, so a bad one
     * in the middle deletes nothing. */
    struct pql_expr **ex = scry_arena_calloc(req->arena, n, sizeof *ex);
    size_t ok = 0;
    while (ok < n && parse_selector(req, resp, sel[ok], &ex[ok]))
        ok++;
    bool failed = ok < n;
    for (size_t i = 0; !failed && i < n; i++) {
        struct scry_err err = { 0 };
        if (tsdb_delete_series(db, ex[i]->u.vs.matchers, ex[i]->u.vs.n_matchers, start, end,
                               &err) != 0) {
            scry_http_error(resp, 500, "internal", "%s", err.msg);
            failed = true;
        }
    }
    if (!failed)
        resp->status = 204;
    for (size_t i = 0; i < ok; i++)
        pql_expr_fini(ex[i]);
}

static void clean_tombstones(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct tsdb *db = ready_db(ud, resp);
    struct scry_err err = { 0 };
    if (!db)
        return;
    if (tsdb_clean_tombstones(db, &err) != 0) {
        scry_http_error(resp, 500, "internal", "clean tombstones: %s", err.msg);
        return;
    }
    resp->status = 204;
}

void scry__server_admin_routes(struct scry_server *s, struct scry_http_server *api)
{
    scry_http_server_route(api, "POST", "/api/v1/admin/tsdb/flush", flush, s, 0);
    scry_http_server_route(api, "POST", "/api/v1/admin/tsdb/snapshot", snapshot, s, 0);
    scry_http_server_route(api, "PUT", "/api/v1/admin/tsdb/snapshot", snapshot, s, 0);
    scry_http_server_route(api, "POST", "/api/v1/admin/tsdb/delete_series", delete_series, s, 0);
    scry_http_server_route(api, "PUT", "/api/v1/admin/tsdb/delete_series", delete_series, s, 0);
    scry_http_server_route(api, "POST", "/api/v1/admin/tsdb/clean_tombstones", clean_tombstones,
                           s, 0);
    scry_http_server_route(api, "PUT", "/api/v1/admin/tsdb/clean_tombstones", clean_tombstones,
                           s, 0);
}
