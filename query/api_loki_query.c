/* api_loki_query.c — /loki/api/v1/query and /query_range: LogQL evaluation
 * and Loki's result encodings (contract §4): streams as
 * ["<ns>", "<line>"] pairs (or 3-tuples with categorize-labels), matrix,
 * vector and scalar as Prometheus does, a `stats` object, plain-text
 * errors (400 parse/validation, 504 timeout, 500 store). Answers are
 * encoded while they are sent (encode()), never whole in memory. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/timeparse.h"
#include "query/api_loki_internal.h"
#include "query/logql.h"

#define DEFAULT_LIMIT 100
#define MAX_POINTS 11000
#define DEFAULT_SINCE_NS (3600LL * 1000000000LL)

static void fini_expr(void *e) { lql_expr_fini(e); }

/* Parses the query parameter; on failure the 400 is written. */
static int parse_query(struct loki_api_ctx *c, struct lql_expr **out)
{
    const char *q = scry_http_param(c->req, "query");
    if (!q)
        q = "";
    struct scry_err err = { 0 };
    if (lql_parse(c->req->arena, q, strlen(q), out, &err) != 0) {
        loki__error(c, 400, "%s", err.msg);
        return SCRY_EINVAL;
    }
    loki__defer(c, fini_expr, *out);
    return 0;
}

static bool categorize(struct loki_api_ctx *c)
{
    const char *h = scry_http_header(c->req, "X-Loki-Response-Encoding-Flags");
    if (!h)
        return false;
    /* a comma-separated list: act on the exact token only */
    for (const char *p = h; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == 17 && !strncasecmp(p, "categorize-labels", 17))
            return true;
        p = e;
    }
    return false;
}

static void eval_error(struct loki_api_ctx *c, int rc, const struct scry_err *err)
{
    int status = rc == SCRY_ETIMEOUT                        ? 504
               : (rc == SCRY_EINVAL || rc == SCRY_ELIMIT)   ? 400
                                                            : 500;
    loki__error(c, status, "%s", err->msg[0] ? err->msg : "query failed");
}

/* ---- encoding ---- */

/* Unix seconds as a JSON number with up to 9 decimals. */
static void put_sec(struct scry_json *j, int64_t t_ns)
{
    char b[48];
    int64_t s = t_ns / 1000000000, f = t_ns % 1000000000;
    if (f < 0)
        f += 1000000000, s--;
    int n;
    if (!f) {
        n = snprintf(b, sizeof b, "%lld", (long long)s);
    } else {
        n = snprintf(b, sizeof b, "%lld.%09lld", (long long)s, (long long)f);
        while (b[n - 1] == '0')
            n--;
    }
    scry_json_raw(j, b, (size_t)n);
}

static void put_stats(struct scry_json *j, const struct lql_result *r, double exec_s)
{
    scry_json_key(j, "stats");
    scry_json_obj_begin(j);
    scry_json_key(j, "summary");
    scry_json_obj_begin(j);
    double s = exec_s > 0 ? exec_s : 1e-9;
    scry_json_key(j, "bytesProcessedPerSecond");
    scry_json_uint(j, (uint64_t)((double)r->bytes_processed / s));
    scry_json_key(j, "linesProcessedPerSecond");
    scry_json_uint(j, (uint64_t)((double)r->lines_processed / s));
    scry_json_key(j, "totalBytesProcessed");
    scry_json_uint(j, r->bytes_processed);
    scry_json_key(j, "totalLinesProcessed");
    scry_json_uint(j, r->lines_processed);
    scry_json_key(j, "execTime");
    scry_json_double(j, exec_s);
    scry_json_key(j, "queueTime");
    scry_json_int(j, 0);
    scry_json_key(j, "totalEntriesReturned");
    scry_json_uint(j, r->entries_returned);
    scry_json_obj_end(j);
    const char *const empty[] = { "querier", "ingester", "cache" };
    for (size_t i = 0; i < 3; i++) {
        scry_json_key(j, empty[i]);
        scry_json_obj_begin(j);
        scry_json_obj_end(j);
    }
    scry_json_obj_end(j);
}

void loki__put_entry(struct scry_json *j, const struct lql_out_entry *e, bool cat)
{
    char ns[24];
    scry_json_arr_begin(j);
    snprintf(ns, sizeof ns, "%lld", (long long)e->t_ns);
    scry_json_str(j, ns);
    scry_json_strn(j, e->line.p, e->line.len);
    if (cat) {
        scry_json_obj_begin(j);
        if (e->meta.n) {
            scry_json_key(j, "structuredMetadata");
            scry_json_labels(j, &e->meta);
        }
        if (e->parsed.n) {
            scry_json_key(j, "parsed");
            scry_json_labels(j, &e->parsed);
        }
        scry_json_obj_end(j);
    }
    scry_json_arr_end(j);
}

static void put_stream(struct scry_json *j, const struct lql_out_stream *s, bool cat)
{
    scry_json_obj_begin(j);
    scry_json_key(j, "stream");
    scry_json_labels(j, &s->labels);
    scry_json_key(j, "values");
    scry_json_arr_begin(j);
    for (size_t k = 0; k < s->n_entries; k++)
        loki__put_entry(j, &s->entries[k], cat);
    scry_json_arr_end(j);
    scry_json_obj_end(j);
}

static void put_series(struct scry_json *j, const struct lql_out_series *s, bool matrix)
{
    scry_json_obj_begin(j);
    scry_json_key(j, "metric");
    scry_json_labels(j, &s->labels);
    scry_json_key(j, matrix ? "values" : "value");
    if (matrix)
        scry_json_arr_begin(j);
    for (size_t k = 0; k < s->n_points; k++) {
        scry_json_arr_begin(j);
        put_sec(j, s->points[k].t_ns);
        scry_json_double_str(j, s->points[k].v);
        scry_json_arr_end(j);
    }
    if (matrix)
        scry_json_arr_end(j);
    scry_json_obj_end(j);
}

/* The answer is written while core sends it (scry_http_resp.stream, core/
 * README.md): a metric query over many streams is a matrix as large as a
 * Prometheus one. The state lives in the request arena, as the result. */
struct answer {
    struct scry_json j; /* carries over from call to call */
    struct lql_result r;
    bool cat;
    double exec_s;
    size_t i; /* next stream or series */
    bool begun;
};

static void answer_head(struct answer *a)
{
    struct scry_json *j = &a->j;
    scry_json_obj_begin(j);
    scry_json_key(j, "status");
    scry_json_str(j, "success");
    scry_json_key(j, "data");
    scry_json_obj_begin(j);
    scry_json_key(j, "resultType");
    static const char *const types[] = { "streams", "matrix", "vector", "scalar" };
    scry_json_str(j, types[a->r.type]);
    if (a->r.type == LQL_RES_STREAMS && a->cat) {
        /* must come before result: Grafana reads data as a stream */
        scry_json_key(j, "encodingFlags");
        scry_json_arr_begin(j);
        scry_json_str(j, "categorize-labels");
        scry_json_arr_end(j);
    }
    scry_json_key(j, "result");
    scry_json_arr_begin(j);
    if (a->r.type == LQL_RES_SCALAR) {
        put_sec(j, a->r.t_ns);
        scry_json_double_str(j, a->r.scalar);
    }
}

/* scry_http_stream_fn: the head, whole streams or series until out holds
 * a chunk's worth, then the stats. */
static bool answer_fill(void *ud, struct scry_buf *out)
{
    struct answer *a = ud;
    const struct lql_result *r = &a->r;
    if (!a->begun) {
        a->begun = true;
        scry_json_init(&a->j, out);
        answer_head(a);
    }
    a->j.b = out;
    size_t n = r->type == LQL_RES_STREAMS                             ? r->n_streams
               : r->type == LQL_RES_MATRIX || r->type == LQL_RES_VECTOR ? r->n_series
                                                                        : 0;
    for (; a->i < n && out->len < SCRY_HTTP_STREAM_CHUNK_BYTES; a->i++) {
        if (r->type == LQL_RES_STREAMS)
            put_stream(&a->j, &r->streams[a->i], a->cat);
        else
            put_series(&a->j, &r->series[a->i], r->type == LQL_RES_MATRIX);
    }
    if (a->i < n)
        return false;
    scry_json_arr_end(&a->j);
    put_stats(&a->j, r, a->exec_s);
    scry_json_obj_end(&a->j);
    scry_json_obj_end(&a->j);
    return true;
}

static void encode(struct loki_api_ctx *c, const struct lql_result *r, bool cat, double exec_s)
{
    struct answer *a = scry_arena_calloc(c->req->arena, 1, sizeof *a);
    a->r = *r;
    a->cat = cat;
    a->exec_s = exec_s;
    scry_buf_reset(&c->resp->body);
    c->resp->stream = answer_fill;
    c->resp->stream_ud = a;
}

static struct lql_opts opts_of(struct loki_api_ctx *c)
{
    return (struct lql_opts){ .timeout_ms = c->api->opts.timeout_ms, .tenant = c->tenant };
}

void loki__query(struct loki_api_ctx *c)
{
    int64_t t;
    uint64_t limit;
    bool backward;
    struct lql_expr *e;
    if (loki__time(c, "time", loki__now_ns(c), &t) || loki__limit(c, DEFAULT_LIMIT, &limit) ||
        loki__direction(c, &backward) || parse_query(c, &e))
        return;
    if (lql_is_log(e)) {
        loki__error(c, 400, "log queries are not supported as an instant query type, please "
                            "change your query to a range query type");
        return;
    }
    struct lql_opts o = opts_of(c);
    struct lql_result r;
    struct scry_err err = { 0 };
    double t0 = scry_mono_s();
    int rc = lql_eval_metric(&o, c->api->store, e, t, t, 0, true, c->req->arena, &r, &err);
    if (rc) {
        eval_error(c, rc, &err);
        return;
    }
    encode(c, &r, false, scry_mono_s() - t0);
}

void loki__query_range(struct loki_api_ctx *c)
{
    int64_t start, end, step, interval;
    uint64_t limit;
    bool backward;
    struct lql_expr *e;
    if (loki__range(c, DEFAULT_SINCE_NS, &start, &end) ||
        loki__limit(c, DEFAULT_LIMIT, &limit) || loki__direction(c, &backward))
        return;
    /* Loki's default step: max(floor((end - start) / 250 s), 1 s) */
    int64_t dflt = (end - start) / 250 / 1000000000 * 1000000000;
    if (dflt < 1000000000)
        dflt = 1000000000;
    if (loki__duration(c, "step", dflt, &step) || loki__duration(c, "interval", 0, &interval))
        return;
    if (step <= 0) {
        loki__error(c, 400, "zero or negative query resolution step widths are not accepted. "
                            "Try a positive integer");
        return;
    }
    if ((end - start) / step > MAX_POINTS) {
        loki__error(c, 400, "exceeded maximum resolution of 11,000 points per time series. "
                            "Try increasing the value of the step parameter");
        return;
    }
    if (interval < 0) {
        loki__error(c, 400, "negative interval widths are not accepted");
        return;
    }
    if (parse_query(c, &e))
        return;
    struct lql_opts o = opts_of(c);
    o.categorize = categorize(c);
    o.interval_ns = interval;
    struct lql_result r;
    struct scry_err err = { 0 };
    double t0 = scry_mono_s();
    int rc;
    if (lql_is_log(e))
        rc = lql_eval_logs(&o, c->api->store, e, start, end, limit, backward, c->req->arena, &r,
                           &err);
    else
        rc = lql_eval_metric(&o, c->api->store, e, start, end, step, false, c->req->arena, &r,
                             &err);
    if (rc) {
        eval_error(c, rc, &err);
        return;
    }
    encode(c, &r, o.categorize, scry_mono_s() - t0);
}
