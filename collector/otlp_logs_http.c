/* otlp_logs_http.c — POST /v1/logs (and Loki's /otlp/v1/logs): OTLP logs
 * into the log store.
 *
 * The same exchange as /v1/metrics (otlp_http.c, whose answers this file
 * reuses): 200 with an empty ExportLogsServiceResponse, or with
 * partial_success {rejected_log_records, error_message} when some records
 * were refused (out of order, invalid ids, a label the store refuses) while
 * the rest is committed; 400 Status for an undecodable body; 415 for other
 * media types; 405 for other methods; 429/503 with Retry-After when the log
 * store refuses to begin (it is not open yet during start-up) or fails, so
 * exporters retry. One appender per request. */
#include "collector/otlp_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/mem.h"
#include "core/timeparse.h"

struct col__otlp_logs {
    struct scry_appendable *store;
    const char *const *label_attrs;
    struct scry_metric *accepted, *rejected; /* NULL without a registry */
};

static void answer_ok(struct col_otlp *o, struct scry_http_resp *resp, enum enc enc,
                      const struct col_otlp_logs_result *r)
{
    resp->status = 200;
    char msg[SCRY_ERR_MSG_MAX + 256] = "";
    if (r->n_rejected)
        snprintf(msg, sizeof msg, "%" PRIu64 " of %" PRIu64 " log records rejected; first: %s",
                 r->n_rejected, r->n_records, r->first.p ? r->first.p : "");
    if (enc == ENC_JSON) {
        resp->content_type = "application/json";
        struct scry_json j;
        scry_json_init(&j, &resp->body);
        scry_json_obj_begin(&j);
        if (r->n_rejected) {
            scry_json_key(&j, "partialSuccess");
            scry_json_obj_begin(&j);
            scry_json_key(&j, "rejectedLogRecords");
            char n[24];
            snprintf(n, sizeof n, "%" PRIu64, r->n_rejected);
            scry_json_str(&j, n); /* int64 → decimal string in OTLP/JSON */
            scry_json_key(&j, "errorMessage");
            scry_json_str(&j, msg);
            scry_json_obj_end(&j);
        }
        scry_json_obj_end(&j);
    } else {
        resp->content_type = "application/x-protobuf";
        scry_buf_puts(&resp->body, "");
        if (r->n_rejected) {
            Opentelemetry__Proto__Collector__Logs__V1__ExportLogsPartialSuccess ps =
                OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_PARTIAL_SUCCESS__INIT;
            Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse rs =
                OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_RESPONSE__INIT;
            ps.rejected_log_records = (int64_t)r->n_rejected;
            ps.error_message = msg;
            rs.partial_success = &ps;
            size_t len =
                opentelemetry__proto__collector__logs__v1__export_logs_service_response__get_packed_size(&rs);
            scry_buf_reserve(&resp->body, len);
            opentelemetry__proto__collector__logs__v1__export_logs_service_response__pack(
                &rs, (uint8_t *)resp->body.p);
            resp->body.len = len;
            resp->body.p[len] = 0;
        }
    }
    col__otlp_count_request(o, 200);
    if (r->n_rejected)
        col__otlp_log_refusal(o, 400, msg);
}

struct sink {
    struct scry_appender *app;
};

static int append(void *ud, const struct scry_labels *stream, const struct scry_log_entry *e,
                  struct scry_err *err)
{
    struct sink *s = ud;
    uint64_t ref = 0;
    return scry_append_log(s->app, &ref, stream, e, err);
}

static void handle_logs(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct col_otlp *o = ud;
    struct col__otlp_logs *lg = o->logs;
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
    struct col_otlp_logs_req *r = NULL;
    int rc = enc == ENC_JSON
                 ? col_otlp_logs_decode_json(req->arena, req->body, req->body_len, &r, &err)
                 : col_otlp_logs_decode_proto(req->arena, req->body, req->body_len, &r, &err);
    if (rc != 0) {
        col__otlp_answer_status(o, resp, enc, 400, GRPC_INVALID_ARGUMENT,
                                "undecodable ExportLogsServiceRequest: %s", err.msg);
        return;
    }
    struct sink s = { 0 };
    rc = scry_appender_begin(lg->store, NULL, &s.app, &err);
    if (rc == SCRY_ELIMIT) {
        col__otlp_answer_status(o, resp, enc, 429, GRPC_RESOURCE_EXHAUSTED, "log store: %s",
                                err.msg);
        return;
    }
    if (rc != 0) {
        col__otlp_answer_status(o, resp, enc, 503, GRPC_UNAVAILABLE, "log store: %s", err.msg);
        return;
    }
    struct col_otlp_logs_result res = { 0 };
    int64_t now_ns = scry_now_ms() * 1000000;
    rc = col_otlp_logs_translate(req->arena, r, lg->label_attrs, now_ns, append, &s, &res, &err);
    if (rc != 0) {
        scry_appender_rollback(s.app);
        col__otlp_answer_status(o, resp, enc, 503, GRPC_UNAVAILABLE, "log store: %s", err.msg);
    } else if (scry_appender_commit(s.app, &err) != 0) {
        col__otlp_answer_status(o, resp, enc, 503, GRPC_UNAVAILABLE, "log store commit: %s",
                                err.msg);
    } else {
        if (lg->accepted) {
            scry_metric_add(lg->accepted, (double)(res.n_records - res.n_rejected));
            scry_metric_add(lg->rejected, (double)res.n_rejected);
        }
        answer_ok(o, resp, enc, &res);
    }
    scry_buf_fini(&res.first);
}

static const char *const paths[] = { "/v1/logs", "/otlp/v1/logs" };

void col__otlp_logs_add_server(struct col_otlp *o, struct scry_http_server *srv)
{
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        scry_http_server_route(srv, NULL, paths[i], handle_logs, o, o->max_body_bytes);
}

void col__otlp_logs_init(struct col_otlp *o, const struct col_otlp_opts *opts)
{
    struct col__otlp_logs *lg = scry_calloc(1, sizeof *lg);
    lg->store = opts->logs;
    lg->label_attrs = opts->log_label_attrs;
    if (opts->metrics) {
        static const char *const result[] = { "result" };
        struct scry_metric_family *f = scry_metrics_family(
            opts->metrics, SCRY_METRIC_COUNTER, "scry_otlp_log_records_total",
            "OTLP log records received, by result (accepted or rejected).", result, 1, NULL, 0);
        const char *acc[] = { "accepted" }, *rej[] = { "rejected" };
        lg->accepted = scry_metric_with(f, acc);
        lg->rejected = scry_metric_with(f, rej);
    }
    o->logs = lg;
}

void col__otlp_logs_fini(struct col_otlp *o)
{
    free(o->logs);
    o->logs = NULL;
}
