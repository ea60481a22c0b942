/* otlp_http.c — POST /v1/metrics: the OTLP/HTTP metrics receiver.
 *
 * shared/contracts/otlp-http.md is the contract; in short:
 *   200  all accepted: an empty ExportMetricsServiceResponse (a zero-length
 *        protobuf body, or {} in JSON); some points rejected: 200 with
 *        partial_success {rejected_data_points, error_message} (the client
 *        must not retry; the good points are committed)
 *   400  undecodable body: google.rpc.Status {code 3, message}, encoded like
 *        the request (protobuf or JSON); nothing is written
 *   405  not POST, text/plain with Allow: POST (the Collector's answer; the
 *        route takes every method so core/http's JSON 405 is not used)
 *   415  a Content-Type other than application/x-protobuf,
 *        application/protobuf or application/json: text/plain
 *   429  the store's appender refuses to begin with SCRY_ELIMIT (it is
 *        shedding load): Retry-After
 *   503  any other store failure (begin, a non-sample append error, commit):
 *        Retry-After. OTLP exporters retry 429/502/503/504 only and drop the
 *        batch for good on 500, so a full disk or a slow WAL must not be 500.
 * core/http answers some errors before the handler runs, with its JSON
 * envelope: 413 for bodies over the limit (also while reading a chunked
 * body), 415 for unknown Content-Encodings, 400 for corrupt gzip. Exporters
 * act on the status only.
 *
 * One appender per request, as in remote_write_http.c: the request is the
 * unit that is committed or rolled back, and delta totals advance only
 * after the commit (otlp_translate.c). */
#include "collector/otlp_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"
#include "core/mem.h"

#define DEFAULT_MAX_BYTES (64u << 20)
#define DEFAULT_RETRY_AFTER_S 5
#define LOG_INTERVAL_MS 10000


/* ---- responses ---------------------------------------------------------- */

void col__otlp_count_request(struct col_otlp *o, int status)
{
    if (!o->requests)
        return;
    char code[16];
    snprintf(code, sizeof code, "%d", status);
    const char *v[] = { code };
    scry_metric_inc(scry_metric_with(o->requests, v));
}

void col__otlp_log_refusal(struct col_otlp *o, int status, const char *msg)
{
    if (status < 400 || !o->log)
        return;
    char key[24], st[16], sup[24];
    uint64_t n = 0;
    snprintf(key, sizeof key, "otlp%d", status);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (scry_log_limit_allow(&o->log_limit, key, now_ms, &n)) {
        snprintf(st, sizeof st, "%d", status);
        snprintf(sup, sizeof sup, "%" PRIu64, n);
        SCRY_LOG(o->log, status >= 500 ? SCRY_LOG_ERROR : SCRY_LOG_WARN, "otlp",
                 "export refused", "status", st, "err", msg, "suppressed", sup);
    }
}

static void put_varint(struct scry_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        scry_buf_putc(b, (char)(v | 0x80));
        v >>= 7;
    }
    scry_buf_putc(b, (char)v);
}

/* A google.rpc.Status {1: code, 2: message}, in the request's encoding. */
void col__otlp_answer_status(struct col_otlp *o, struct scry_http_resp *resp, enum enc enc,
                          int status, int grpc_code, const char *fmt, ...)
{
    char msg[SCRY_ERR_MSG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp->status = status;
    if (enc == ENC_JSON) {
        struct scry_json j;
        resp->content_type = "application/json";
        scry_json_init(&j, &resp->body);
        scry_json_obj_begin(&j);
        scry_json_key(&j, "code");
        scry_json_int(&j, grpc_code);
        scry_json_key(&j, "message");
        scry_json_str(&j, msg);
        scry_json_obj_end(&j);
    } else {
        resp->content_type = "application/x-protobuf";
        size_t len = strlen(msg);
        scry_buf_puts(&resp->body, ""); /* a body, even if empty */
        scry_buf_putc(&resp->body, 0x08);
        put_varint(&resp->body, (uint64_t)grpc_code);
        scry_buf_putc(&resp->body, 0x12);
        put_varint(&resp->body, len);
        scry_buf_put(&resp->body, msg, len);
    }
    if (status == 429 || status == 503)
        scry_http_resp_header(resp, "Retry-After", o->retry_after);
    col__otlp_count_request(o, status);
    col__otlp_log_refusal(o, status, msg);
}

void col__otlp_answer_text(struct col_otlp *o, struct scry_http_resp *resp, int status,
                        const char *msg)
{
    resp->status = status;
    resp->content_type = "text/plain";
    scry_buf_puts(&resp->body, msg);
    col__otlp_count_request(o, status);
    col__otlp_log_refusal(o, status, msg);
}

/* 200: empty, or partial_success when points were rejected. */
static void answer_ok(struct col_otlp *o, struct scry_http_resp *resp, enum enc enc,
                      const struct col_otlp_batch *b)
{
    resp->status = 200;
    char msg[SCRY_ERR_MSG_MAX + 256] = "";
    if (b->n_rejected_points)
        snprintf(msg, sizeof msg, "%" PRIu64 " of %" PRIu64 " data points rejected; first: %s",
                 b->n_rejected_points, b->n_points, b->first.p ? b->first.p : "");
    if (enc == ENC_JSON) {
        resp->content_type = "application/json";
        struct scry_json j;
        scry_json_init(&j, &resp->body);
        scry_json_obj_begin(&j);
        if (b->n_rejected_points) {
            scry_json_key(&j, "partialSuccess");
            scry_json_obj_begin(&j);
            scry_json_key(&j, "rejectedDataPoints");
            char n[24];
            snprintf(n, sizeof n, "%" PRIu64, b->n_rejected_points);
            scry_json_str(&j, n); /* int64 → decimal string in OTLP/JSON */
            scry_json_key(&j, "errorMessage");
            scry_json_str(&j, msg);
            scry_json_obj_end(&j);
        }
        scry_json_obj_end(&j);
    } else {
        resp->content_type = "application/x-protobuf";
        scry_buf_puts(&resp->body, "");
        if (b->n_rejected_points) {
            Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess ps =
                OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_PARTIAL_SUCCESS__INIT;
            Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse r =
                OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_RESPONSE__INIT;
            ps.rejected_data_points = (int64_t)b->n_rejected_points;
            ps.error_message = msg;
            r.partial_success = &ps;
            size_t len =
                opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__get_packed_size(&r);
            scry_buf_reserve(&resp->body, len);
            opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__pack(
                &r, (uint8_t *)resp->body.p);
            resp->body.len = len;
            resp->body.p[len] = 0;
        }
    }
    col__otlp_count_request(o, 200);
    if (b->n_rejected_points)
        col__otlp_log_refusal(o, 400, msg); /* logged like a 4xx: the sender sent bad points */
}

/* ---- the request -------------------------------------------------------- */

/* The media type of Content-Type, parameters ignored: 0 and *enc, or -1. */
int col__otlp_media_type(const char *ct, enum enc *enc)
{
    if (!ct)
        return -1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if ((n == 22 && strncasecmp(ct, "application/x-protobuf", n) == 0) ||
        (n == 20 && strncasecmp(ct, "application/protobuf", n) == 0)) {
        *enc = ENC_PROTO;
        return 0;
    }
    if (n == 16 && strncasecmp(ct, "application/json", n) == 0) {
        *enc = ENC_JSON;
        return 0;
    }
    return -1;
}

struct sink {
    struct scry_appender *app;
    bool fatal;
};

static int append(void *ud, const struct scry_labels *ls, int64_t t_ms, double v,
                  struct scry_err *err)
{
    struct sink *s = ud;
    uint64_t ref = 0; /* series differ from sample to sample here */
    int rc = scry_append_sample(s->app, &ref, ls, t_ms, v, err);
    if (rc != 0 && rc != SCRY_EINVAL && rc != SCRY_ELIMIT)
        s->fatal = true;
    return rc;
}

static void handle_metrics(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct col_otlp *o = ud;
    if (strcmp(req->method, "POST") != 0) {
        scry_http_resp_header(resp, "Allow", "POST");
        col__otlp_answer_text(o, resp, 405, "405 method not allowed, supported: [POST]");
        return;
    }
    enum enc enc = ENC_PROTO;
    const char *ct = scry_http_header(req, "Content-Type");
    if (col__otlp_media_type(ct, &enc) != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "415 unsupported media type, supported: "
                 "[application/json, application/x-protobuf] (got \"%.100s\")", ct ? ct : "");
        col__otlp_answer_text(o, resp, 415, msg);
        return;
    }
    struct scry_err err = { 0 };
    struct col_otlp_metrics_req *r = NULL;
    int rc = enc == ENC_JSON
                 ? col_otlp_metrics_decode_json(req->arena, req->body, req->body_len, &r, &err)
                 : col_otlp_metrics_decode_proto(req->arena, req->body, req->body_len, &r, &err);
    if (rc != 0) {
        col__otlp_answer_status(o, resp, enc, 400, GRPC_INVALID_ARGUMENT,
                      "undecodable ExportMetricsServiceRequest: %s", err.msg);
        return;
    }
    struct sink s = { 0 };
    /* Multi-tenancy: the tenant will come from X-Scope-OrgID here. */
    rc = scry_appender_begin(o->store, NULL, &s.app, &err);
    if (rc == SCRY_ELIMIT) {
        col__otlp_answer_status(o, resp, enc, 429, GRPC_RESOURCE_EXHAUSTED, "store: %s", err.msg);
        return;
    }
    if (rc != 0) {
        col__otlp_answer_status(o, resp, enc, 503, GRPC_UNAVAILABLE, "store: %s", err.msg);
        return;
    }
    struct col_otlp_batch b;
    col_otlp_batch_init(&b);
    rc = col_otlp_translate(o->tr, req->arena, r, append, &s, &b, &err);
    if (rc != 0) {
        scry_appender_rollback(s.app);
        col__otlp_answer_status(o, resp, enc, 503, GRPC_UNAVAILABLE, "store: %s", err.msg);
    } else if (scry_appender_commit(s.app, &err) != 0) {
        col__otlp_answer_status(o, resp, enc, 503, GRPC_UNAVAILABLE, "store commit: %s", err.msg);
    } else {
        col_otlp_batch_commit(o->tr, &b);
        if (o->accepted) {
            scry_metric_add(o->accepted, (double)(b.n_points - b.n_rejected_points));
            scry_metric_add(o->rejected, (double)b.n_rejected_points);
        }
        answer_ok(o, resp, enc, &b);
    }
    col_otlp_batch_fini(&b);
}

/* ---- registration ------------------------------------------------------- */

static const char *const paths[] = { "/v1/metrics", "/api/v1/otlp/v1/metrics", "/otlp/v1/metrics" };

void col_otlp_add_server(struct col_otlp *o, struct scry_http_server *srv)
{
    /* Every method: non-POST gets the Collector's text/plain 405 from the handler. */
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        scry_http_server_route(srv, NULL, paths[i], handle_metrics, o, o->max_body_bytes);
    if (o->logs)
        col__otlp_logs_add_server(o, srv);
}

int col_otlp_register(struct col_otlp **out, struct scry_http_server *srv,
                      struct scry_appendable *store, const struct col_otlp_opts *opts,
                      struct scry_err *err)
{
    if (!out || !srv || !store)
        return scry_err_set(err, SCRY_EINVAL, "otlp: missing server or store");
    struct col_otlp *o = scry_calloc(1, sizeof *o);
    struct col_otlp_translator_opts to = { .max_delta_series = opts ? opts->max_delta_series : 0 };
    int rc = col_otlp_translator_create(&o->tr, &to, err);
    if (rc != 0) {
        free(o);
        return rc;
    }
    o->store = store;
    o->max_body_bytes = opts && opts->max_body_bytes ? opts->max_body_bytes : DEFAULT_MAX_BYTES;
    snprintf(o->retry_after, sizeof o->retry_after, "%u",
             opts && opts->retry_after_s ? opts->retry_after_s : DEFAULT_RETRY_AFTER_S);
    o->log = opts ? opts->log : NULL;
    scry_log_limit_init(&o->log_limit, LOG_INTERVAL_MS);
    if (opts && opts->logs)
        col__otlp_logs_init(o, opts);
    struct scry_metrics *m = opts ? opts->metrics : NULL;
    if (m) {
        static const char *const result[] = { "result" }, *const code[] = { "code" };
        struct scry_metric_family *f = scry_metrics_family(
            m, SCRY_METRIC_COUNTER, "scry_otlp_datapoints_total",
            "OTLP metric data points received, by result (accepted or rejected).", result, 1,
            NULL, 0);
        const char *acc[] = { "accepted" }, *rej[] = { "rejected" };
        o->accepted = scry_metric_with(f, acc);
        o->rejected = scry_metric_with(f, rej);
        o->requests = scry_metrics_family(m, SCRY_METRIC_COUNTER, "scry_otlp_requests_total",
                                          "OTLP/HTTP metrics requests answered, by status code.",
                                          code, 1, NULL, 0);
    }
    col_otlp_add_server(o, srv);
    *out = o;
    return 0;
}

void col_otlp_destroy(struct col_otlp *o)
{
    if (!o)
        return;
    col_otlp_translator_destroy(o->tr);
    col__otlp_logs_fini(o);
    scry_log_limit_fini(&o->log_limit);
    free(o);
}
