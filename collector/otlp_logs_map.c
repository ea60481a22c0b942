/* otlp_logs_map.c — OTLP log records → Loki's model (stream labels,
 * structured metadata, line), as Loki's own OTLP ingestion does
 * (shared/contracts/otlp-http.md §6, Loki's pkg/loghttp/push/otlp.go):
 *
 *  - resource attributes on the allow-list become stream labels, names
 *    sanitised like Prometheus label names (service.name → service_name);
 *    a resource without service.name gets service_name="unknown_service";
 *  - every other resource attribute, the scope's name (scope_name),
 *    version (scope_version) and attributes, the record's attributes,
 *    severity_text, severity_number, trace_id and span_id (hex), flags,
 *    dropped_attributes_count, observed_timestamp and event_name become
 *    structured metadata; nested maps are flattened with "_", other
 *    non-string values are written as text or JSON. Later sources win on a
 *    name clash (record over scope over resource);
 *  - the body is the line: a string as is, anything else as JSON;
 *  - the timestamp is timeUnixNano, else observedTimeUnixNano, else now.
 *
 * Labels are computed once per resource and the resource/scope metadata
 * once per scope; per record only its own attributes are added. */
#include "collector/otlp_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>


const char *const col_otlp_default_log_labels[] = {
    "service.name", "service.namespace", "service.instance.id", "deployment.environment",
    "deployment.environment.name", "cloud.region", "cloud.availability_zone",
    "k8s.cluster.name", "k8s.namespace.name", "k8s.pod.name", "k8s.container.name",
    "container.name", "k8s.replicaset.name", "k8s.deployment.name", "k8s.statefulset.name",
    "k8s.daemonset.name", "k8s.cronjob.name", "k8s.job.name", NULL,
};

/* ---- labels and metadata ------------------------------------------------ */

struct mapper {
    struct scry_arena *a;
    struct scry_buf name, val; /* scratch, reused for every attribute */
};

/* The builder copies both strings into the arena; empty values carry
 * nothing and are left out. */
static void set_pair(struct scry_labels_builder *b, const char *name, const char *val)
{
    if (*name && *val)
        scry_labels_builder_set(b, name, val);
}

/* Adds key (sanitised, after the prefix already in m->name) = value; maps
 * are flattened into name_key. m->name is restored on return, so one
 * scratch buffer serves every attribute of a request. */
static void add_attr(struct mapper *m, struct scry_labels_builder *b, const char *key,
                     const ot_any *v, int depth)
{
    size_t at = m->name.len;
    if (at)
        scry_buf_putc(&m->name, '_');
    col_otlp_label_name(key ? key : "", &m->name);
    if (v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE &&
        v->kvlist_value && depth < COL__OTLP_MAX_DEPTH) {
        for (size_t i = 0; i < v->kvlist_value->n_values; i++)
            add_attr(m, b, v->kvlist_value->values[i]->key, v->kvlist_value->values[i]->value,
                     depth + 1);
    } else if (m->name.len > at) {
        scry_buf_reset(&m->val);
        col__otlp_anyvalue_str(&m->val, v, COL__OTLP_AV_LOKI);
        set_pair(b, m->name.p, m->val.p ? m->val.p : "");
    }
    m->name.len = at;
    if (m->name.p)
        m->name.p[at] = 0;
}

static void add_str(struct mapper *m, struct scry_labels_builder *b, const char *name,
                    const char *v)
{
    (void)m;
    if (v)
        set_pair(b, name, v);
}

static void add_hex(struct mapper *m, struct scry_labels_builder *b, const char *name,
                    const ProtobufCBinaryData *id)
{
    static const char hex[] = "0123456789abcdef";
    char s[65];
    size_t n = 0;
    for (size_t i = 0; i < id->len && i < 32; i++) {
        s[n++] = hex[id->data[i] >> 4];
        s[n++] = hex[id->data[i] & 15];
    }
    (void)m;
    s[n] = 0;
    set_pair(b, name, s);
}

static void add_u64(struct mapper *m, struct scry_labels_builder *b, const char *name,
                    uint64_t v)
{
    char s[24];
    (void)m;
    snprintf(s, sizeof s, "%" PRIu64, v);
    set_pair(b, name, s);
}

static bool listed(const char *const *attrs, const char *key)
{
    for (; *attrs; attrs++)
        if (strcmp(*attrs, key) == 0)
            return true;
    return false;
}

static int record(struct mapper *m, const struct scry_labels *stream,
                  const struct scry_labels *base, const ot_lr *lr, int64_t now_ns,
                  col_otlp_log_fn fn, void *ud, struct col_otlp_logs_result *res,
                  struct scry_err *err)
{
    res->n_records++;
    struct scry_log_entry e = { 0 };
    uint64_t t = lr->time_unix_nano ? lr->time_unix_nano : lr->observed_time_unix_nano;
    e.t_ns = t ? (t > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)t) : now_ns;
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, m->a);
    scry_labels_builder_reset(&b, base);
    for (size_t i = 0; i < lr->n_attributes; i++)
        add_attr(m, &b, lr->attributes[i]->key, lr->attributes[i]->value, 0);
    add_str(m, &b, "severity_text", lr->severity_text);
    if (lr->severity_number)
        add_u64(m, &b, "severity_number", (uint64_t)lr->severity_number);
    const char *bad = NULL;
    if (lr->trace_id.len && lr->trace_id.len != 16)
        bad = "trace_id";
    else if (lr->span_id.len && lr->span_id.len != 8)
        bad = "span_id";
    if (bad) {
        res->n_rejected++;
        if (!res->first.len)
            scry_buf_printf(&res->first, "log record %" PRIu64 ": %s of %zu bytes (want %d)",
                            res->n_records - 1, bad,
                            bad[0] == 't' ? lr->trace_id.len : lr->span_id.len,
                            bad[0] == 't' ? 16 : 8);
        return 0;
    }
    add_hex(m, &b, "trace_id", &lr->trace_id);
    add_hex(m, &b, "span_id", &lr->span_id);
    if (lr->flags)
        add_u64(m, &b, "flags", lr->flags);
    if (lr->dropped_attributes_count)
        add_u64(m, &b, "dropped_attributes_count", lr->dropped_attributes_count);
    if (lr->time_unix_nano && lr->observed_time_unix_nano)
        add_u64(m, &b, "observed_timestamp", lr->observed_time_unix_nano);
    add_str(m, &b, "event_name", lr->event_name);
    e.metadata = scry_labels_builder_labels(&b);
    if (lr->body &&
        lr->body->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE &&
        lr->body->string_value) {
        e.line = scry_str_c(lr->body->string_value); /* the common case: no copy */
    } else {
        scry_buf_reset(&m->val);
        col__otlp_anyvalue_str(&m->val, lr->body, COL__OTLP_AV_LOKI);
        e.line = (struct scry_str){ scry_arena_strndup(m->a, m->val.p ? m->val.p : "", m->val.len),
                                    m->val.len };
    }
    int rc = fn(ud, stream, &e, err);
    if (rc == SCRY_EINVAL || rc == SCRY_ELIMIT) {
        res->n_rejected++;
        if (!res->first.len)
            scry_buf_printf(&res->first, "log record %" PRIu64 ": %s", res->n_records - 1,
                            err ? err->msg : "refused");
        return 0;
    }
    return rc;
}

int col_otlp_logs_translate(struct scry_arena *a, const struct col_otlp_logs_req *req,
                            const char *const *label_attrs, int64_t now_ns, col_otlp_log_fn fn,
                            void *ud, struct col_otlp_logs_result *res, struct scry_err *err)
{
    if (!label_attrs)
        label_attrs = col_otlp_default_log_labels;
    struct mapper m = { .a = a };
    int rc = 0;
    for (size_t ri = 0; rc == 0 && ri < req->n_resource_logs; ri++) {
        const ot_rl *rl = req->resource_logs[ri];
        struct scry_labels_builder lb, mb;
        scry_labels_builder_init(&lb, a);
        scry_labels_builder_init(&mb, a);
        size_t n_attrs = rl->resource ? rl->resource->n_attributes : 0;
        for (size_t i = 0; i < n_attrs; i++) {
            const ot_kv *kv = rl->resource->attributes[i];
            const char *key = kv->key ? kv->key : "";
            add_attr(&m, listed(label_attrs, key) ? &lb : &mb, key, kv->value, 0);
        }
        if (!scry_labels_builder_labels(&lb).n ||
            !scry_labels_get(&(struct scry_labels){ lb.v, lb.n }, "service_name"))
            scry_labels_builder_set(&lb, "service_name", "unknown_service");
        struct scry_labels stream = scry_labels_builder_labels(&lb);
        struct scry_labels res_md = scry_labels_builder_labels(&mb);
        for (size_t si = 0; rc == 0 && si < rl->n_scope_logs; si++) {
            const ot_sl *sl = rl->scope_logs[si];
            struct scry_labels_builder sb;
            scry_labels_builder_init(&sb, a);
            scry_labels_builder_reset(&sb, &res_md);
            if (sl->scope) {
                add_str(&m, &sb, "scope_name", sl->scope->name);
                add_str(&m, &sb, "scope_version", sl->scope->version);
                for (size_t i = 0; i < sl->scope->n_attributes; i++)
                    add_attr(&m, &sb, sl->scope->attributes[i]->key,
                             sl->scope->attributes[i]->value, 0);
            }
            struct scry_labels base = scry_labels_builder_labels(&sb);
            for (size_t k = 0; rc == 0 && k < sl->n_log_records; k++)
                rc = record(&m, &stream, &base, sl->log_records[k], now_ns, fn, ud, res, err);
        }
    }
    scry_buf_fini(&m.name);
    scry_buf_fini(&m.val);
    return rc;
}
