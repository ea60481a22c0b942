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
        scry_http_resp_header(resp, "Retry-After", o->reply.retry_after);
    col__reply_count(&o->reply, status);
    col__reply_log_refusal(&o->reply, status, msg);
}

void col__otlp_answer_text(struct col_otlp *o, struct scry_http_resp *resp, int status,
                        const char *msg)
{
    /* only 405 and 415 come here: never a Retry-After */
    col__reply_text(&o->reply, resp, status, "text/plain", false, "%s", msg);
}

void col__otlp_answer_ok(struct col_otlp *o, struct scry_http_resp *resp, enum enc enc,
                         const char *json_key, const char *noun, uint64_t n_rejected,
                         uint64_t n_total, const char *first)
{
    resp->status = 200;
    char msg[SCRY_ERR_MSG_MAX + 256] = "";
    if (n_rejected)
        snprintf(msg, sizeof msg, "%" PRIu64 " of %" PRIu64 " %s rejected; first: %s",
                 n_rejected, n_total, noun, first ? first : "");
    if (enc == ENC_JSON) {
        resp->content_type = "application/json";
        struct scry_json j;
        scry_json_init(&j, &resp->body);
        scry_json_obj_begin(&j);
        if (n_rejected) {
            scry_json_key(&j, "partialSuccess");
            scry_json_obj_begin(&j);
            scry_json_key(&j, json_key);
            char n[24];
            snprintf(n, sizeof n, "%" PRIu64, n_rejected);
            scry_json_str(&j, n); /* int64 → decimal string in OTLP/JSON */
            scry_json_key(&j, "errorMessage");
            scry_json_str(&j, msg);
            scry_json_obj_end(&j);
        }
        scry_json_obj_end(&j);
    } else {
        /* Every Export*ServiceResponse is {1: partial_success} and every
         * Export*PartialSuccess is {1: int64 rejected, 2: string message}:
         * the same bytes for metrics and logs, so no generated code. */
        resp->content_type = "application/x-protobuf";
        scry_buf_puts(&resp->body, "");
        if (n_rejected) {
            struct scry_buf ps = { 0 };
            size_t ml = strlen(msg);
            scry_buf_putc(&ps, 0x08);
            put_varint(&ps, n_rejected);
            scry_buf_putc(&ps, 0x12);
            put_varint(&ps, ml);
            scry_buf_put(&ps, msg, ml);
            scry_buf_putc(&resp->body, 0x0a);
            put_varint(&resp->body, ps.len);
            scry_buf_put(&resp->body, ps.p, ps.len);
            scry_buf_fini(&ps);
        }
    }
    col__reply_count(&o->reply, 200);
    if (n_rejected)
        /* logged like a 4xx: the sender sent bad data */
        col__reply_log_refusal(&o->reply, 400, msg);
}

bool col__otlp_check_request(struct col_otlp *o, struct scry_http_req *req,
                             struct scry_http_resp *resp, enum enc *enc)
{
    if (strcmp(req->method, "POST") != 0) {
        scry_http_resp_header(resp, "Allow", "POST");
        col__otlp_answer_text(o, resp, 405, "405 method not allowed, supported: [POST]");
        return false;
    }
    *enc = ENC_PROTO;
    const char *ct = scry_http_header(req, "Content-Type");
    if (col__otlp_media_type(ct, enc) != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "415 unsupported media type, supported: "
                 "[application/json, application/x-protobuf] (got \"%.100s\")", ct ? ct : "");
        col__otlp_answer_text(o, resp, 415, msg);
        return false;
    }
    return true;
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
    enum enc enc;
    if (!col__otlp_check_request(o, req, resp, &enc))
        return;
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
        col__otlp_answer_ok(o, resp, enc, "rejectedDataPoints", "data points",
                            b.n_rejected_points, b.n_points, b.first.p);
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
    col__reply_init(&o->reply, "otlp", "otlp", "export refused",
                    opts && opts->retry_after_s ? opts->retry_after_s : DEFAULT_RETRY_AFTER_S,
                    opts ? opts->log : NULL, LOG_INTERVAL_MS);
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
        o->reply.requests =
            scry_metrics_family(m, SCRY_METRIC_COUNTER, "scry_otlp_requests_total",
                                "OTLP/HTTP metrics requests answered, by status code.", code, 1,
                                NULL, 0);
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
    col__reply_fini(&o->reply);
    free(o);
}
