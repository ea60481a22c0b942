/* otlp_logs.c — ExportLogsServiceRequest decoders: binary protobuf and
 * OTLP/JSON, both into the protobuf-c structs generated from
 * proto/otlp_logs*.proto, on the request's arena.
 *
 * The protobuf path is the metrics one (otlp_metrics.c): a depth pre-check
 * over the logs schema, then protobuf-c's unpack on the arena. The JSON
 * path walks core/json_read.h's DOM with the shared walker (otlp_json.c),
 * so both encodings give the same structs and therefore the same entries.
 * JSON specifics of logs: traceId/spanId are hex (proto3 JSON would say
 * base64; OTLP says hex), severityNumber may be the enum's name. */
#include "collector/otlp_json_internal.h"

#include <string.h>

/* ---- protobuf ----------------------------------------------------------- */

enum msg { M_NONE, M_REQ, M_RL, M_RES, M_SL, M_SCOPE, M_LR, M_KV, M_AV, M_ARR, M_KVL };

static const struct col__otlp_schema schema[] = {
    { M_REQ, 1, M_RL },   { M_RL, 1, M_RES },  { M_RL, 2, M_SL },   { M_RES, 1, M_KV },
    { M_SL, 1, M_SCOPE }, { M_SL, 2, M_LR },   { M_SCOPE, 3, M_KV }, { M_LR, 5, M_AV },
    { M_LR, 6, M_KV },    { M_KV, 2, M_AV },   { M_AV, 5, M_ARR },  { M_AV, 6, M_KVL },
    { M_ARR, 1, M_AV },   { M_KVL, 1, M_KV },
};

int col_otlp_logs_decode_proto(struct scry_arena *a, const char *body, size_t len,
                               struct col_otlp_logs_req **out, struct scry_err *err)
{
    void *r;
    int rc = col__otlp_unpack(
        a, body, len, schema, sizeof schema / sizeof schema[0], M_REQ,
        &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor, &r,
        err);
    if (rc == 0)
        *out = r;
    return rc;
}

/* ---- JSON --------------------------------------------------------------- */

/* SeverityNumber by name: SEVERITY_NUMBER_INFO2 → 10. */
static int severity_by_name(const char *s)
{
    static const char *const base[] = { "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL" };
    const char *pre = "SEVERITY_NUMBER_";
    if (strncmp(s, pre, strlen(pre)) != 0)
        return -1;
    s += strlen(pre);
    if (strcmp(s, "UNSPECIFIED") == 0)
        return 0;
    for (int i = 0; i < 6; i++) {
        size_t n = strlen(base[i]);
        if (strncmp(s, base[i], n) != 0)
            continue;
        if (s[n] == 0)
            return 1 + 4 * i;
        if (s[n] >= '2' && s[n] <= '4' && s[n + 1] == 0)
            return 1 + 4 * i + (s[n] - '1');
    }
    return -1;
}

static int log_record(struct col__oj *c, jv *v, ot_lr **out)
{
    ot_lr *lr = scry_arena_alloc(c->a, sizeof *lr);
    opentelemetry__proto__logs__v1__log_record__init(lr);
    *out = lr;
    int rc = col__oj_want_obj(c, v);
    if (rc == 0)
        rc = col__oj_get_u64(c, v, "timeUnixNano", "time_unix_nano", &lr->time_unix_nano);
    if (rc == 0)
        rc = col__oj_get_u64(c, v, "observedTimeUnixNano", "observed_time_unix_nano",
                             &lr->observed_time_unix_nano);
    jv *sn = col__oj_field(v, "severityNumber", "severity_number");
    if (rc == 0 && sn && sn->type == SCRY_JSON_STRING && severity_by_name(sn->u.s) >= 0) {
        lr->severity_number = severity_by_name(sn->u.s);
    } else if (rc == 0) {
        int64_t n = 0;
        rc = col__oj_get_i32(c, v, "severityNumber", "severity_number", INT32_MIN, INT32_MAX, &n);
        lr->severity_number = (int32_t)n;
    }
    if (rc == 0)
        rc = col__oj_get_str(c, v, "severityText", "severity_text", &lr->severity_text);
    jv *body = col__oj_field(v, "body", NULL);
    if (rc == 0 && body) {
        size_t at = col__oj_push(c, "body", -1);
        rc = col__oj_any_value(c, body, &lr->body);
        col__oj_pop(c, at);
    }
    if (rc == 0)
        rc = col__oj_key_values(c, v, "attributes", NULL, &lr->n_attributes, &lr->attributes);
    int64_t n = 0;
    if (rc == 0)
        rc = col__oj_get_i32(c, v, "droppedAttributesCount", "dropped_attributes_count", 0,
                             UINT32_MAX, &n);
    lr->dropped_attributes_count = (uint32_t)n;
    n = 0;
    if (rc == 0)
        rc = col__oj_get_i32(c, v, "flags", NULL, 0, UINT32_MAX, &n);
    lr->flags = (uint32_t)n;
    if (rc == 0)
        rc = col__oj_hex_id(c, v, "traceId", "trace_id", 16, &lr->trace_id);
    if (rc == 0)
        rc = col__oj_hex_id(c, v, "spanId", "span_id", 8, &lr->span_id);
    if (rc == 0)
        rc = col__oj_get_str(c, v, "eventName", "event_name", &lr->event_name);
    return rc;
}

static int scope_logs(struct col__oj *c, jv *v, ot_sl **out)
{
    ot_sl *sl = scry_arena_alloc(c->a, sizeof *sl);
    opentelemetry__proto__logs__v1__scope_logs__init(sl);
    *out = sl;
    int rc = col__oj_want_obj(c, v);
    jv *s = col__oj_field(v, "scope", NULL), *lrs;
    if (rc == 0 && s) {
        size_t at = col__oj_push(c, "scope", -1);
        ot_scope *sc = scry_arena_alloc(c->a, sizeof *sc);
        opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
        sl->scope = sc;
        if ((rc = col__oj_want_obj(c, s)) == 0 &&
            (rc = col__oj_get_str(c, s, "name", NULL, &sc->name)) == 0 &&
            (rc = col__oj_get_str(c, s, "version", NULL, &sc->version)) == 0)
            rc = col__oj_key_values(c, s, "attributes", NULL, &sc->n_attributes,
                                    &sc->attributes);
        col__oj_pop(c, at);
    }
    if (rc == 0)
        rc = col__oj_get_str(c, v, "schemaUrl", "schema_url", &sl->schema_url);
    if (rc == 0)
        rc = col__oj_get_arr(c, v, "logRecords", "log_records", &lrs, &sl->n_log_records);
    if (rc == 0 && sl->n_log_records)
        sl->log_records = scry_arena_alloc(c->a, sl->n_log_records * sizeof *sl->log_records);
    for (size_t i = 0; rc == 0 && i < sl->n_log_records; i++) {
        size_t at = col__oj_push(c, "logRecords", (long)i);
        rc = log_record(c, &lrs->u.arr[i], &sl->log_records[i]);
        col__oj_pop(c, at);
    }
    return rc;
}

static int resource_logs(struct col__oj *c, jv *v, ot_rl **out)
{
    ot_rl *rl = scry_arena_alloc(c->a, sizeof *rl);
    opentelemetry__proto__logs__v1__resource_logs__init(rl);
    *out = rl;
    int rc = col__oj_want_obj(c, v);
    jv *r = col__oj_field(v, "resource", NULL), *sls;
    if (rc == 0 && r) {
        size_t at = col__oj_push(c, "resource", -1);
        ot_resource *res = scry_arena_alloc(c->a, sizeof *res);
        opentelemetry__proto__resource__v1__resource__init(res);
        rl->resource = res;
        if ((rc = col__oj_want_obj(c, r)) == 0)
            rc = col__oj_key_values(c, r, "attributes", NULL, &res->n_attributes,
                                    &res->attributes);
        col__oj_pop(c, at);
    }
    if (rc == 0)
        rc = col__oj_get_str(c, v, "schemaUrl", "schema_url", &rl->schema_url);
    if (rc == 0)
        rc = col__oj_get_arr(c, v, "scopeLogs", "scope_logs", &sls, &rl->n_scope_logs);
    if (rc == 0 && rl->n_scope_logs)
        rl->scope_logs = scry_arena_alloc(c->a, rl->n_scope_logs * sizeof *rl->scope_logs);
    for (size_t i = 0; rc == 0 && i < rl->n_scope_logs; i++) {
        size_t at = col__oj_push(c, "scopeLogs", (long)i);
        rc = scope_logs(c, &sls->u.arr[i], &rl->scope_logs[i]);
        col__oj_pop(c, at);
    }
    return rc;
}

int col_otlp_logs_decode_json(struct scry_arena *a, const char *body, size_t len,
                              struct col_otlp_logs_req **out, struct scry_err *err)
{
    if (!a || (!body && len) || !out)
        return scry_err_set(err, SCRY_EINVAL, "otlp: missing arena, body or output");
    struct scry_jval *root;
    /* The walker recurses per AnyValue level: bound the nesting like the
     * protobuf pre-check does. */
    struct scry_json_parse_opts po = { .max_depth = COL__OTLP_MAX_DEPTH };
    int rc = scry_json_parse(a, body ? body : "", len, &po, &root, err);
    if (rc != 0)
        return scry_err_prefix(err, "otlp json"), SCRY_EPARSE;
    struct col__oj c = { .a = a, .err = err };
    ot_logs_req *r = scry_arena_alloc(a, sizeof *r);
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(r);
    jv *rls;
    rc = col__oj_want_obj(&c, root);
    if (rc == 0)
        rc = col__oj_get_arr(&c, root, "resourceLogs", "resource_logs", &rls, &r->n_resource_logs);
    if (rc == 0 && r->n_resource_logs)
        r->resource_logs = scry_arena_alloc(a, r->n_resource_logs * sizeof *r->resource_logs);
    for (size_t i = 0; rc == 0 && i < r->n_resource_logs; i++) {
        size_t at = col__oj_push(&c, "resourceLogs", (long)i);
        rc = resource_logs(&c, &rls->u.arr[i], &r->resource_logs[i]);
        col__oj_pop(&c, at);
    }
    scry_buf_fini(&c.path);
    if (rc != 0)
        return SCRY_EPARSE;
    *out = r;
    return 0;
}
