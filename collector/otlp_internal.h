/* otlp_internal.h — shared by collector/otlp*.c only: short names for the
 * protobuf-c types generated from proto/otlp_*.proto, and helpers the files
 * share. Not a public header: it includes generated code. */
#ifndef SCRY_COLLECTOR_OTLP_INTERNAL_H
#define SCRY_COLLECTOR_OTLP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/otlp.h"
#include "collector/reply_internal.h"
#include "collector/proto/otlp_logs_service.pb-c.h"
#include "collector/proto/otlp_metrics_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest ot_req;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ot_rm;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ot_sm;
typedef Opentelemetry__Proto__Resource__V1__Resource ot_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope ot_scope;
typedef Opentelemetry__Proto__Common__V1__KeyValue ot_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue ot_any;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ot_array;
typedef Opentelemetry__Proto__Common__V1__KeyValueList ot_kvlist;
typedef Opentelemetry__Proto__Metrics__V1__Metric ot_metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge ot_gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum ot_sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram ot_hist;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram ot_ehist;
typedef Opentelemetry__Proto__Metrics__V1__Summary ot_summary;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint ot_ndp;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint ot_hdp;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ot_edp;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets ot_buckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint ot_sdp;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile ot_quantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar ot_exemplar;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest ot_logs_req;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ot_rl;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ot_sl;
typedef Opentelemetry__Proto__Logs__V1__LogRecord ot_lr;

#define OT_DELTA OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA
#define OT_CUMULATIVE \
    OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
#define OT_NO_RECORDED_VALUE 1u

/* Nesting limit for both decoders, counted in messages from the request
 * down (a KeyValue inside a data point is at depth 6; each AnyValue array
 * or kvlist level adds 2), so AnyValue recursion cannot exhaust the stack. */
#define COL__OTLP_MAX_DEPTH 64

/* Which fields of which message are messages, for the depth pre-check:
 * message ids are the caller's (0 means "not a message"). */
struct col__otlp_schema {
    unsigned char parent, field, child;
};
/* Walks a protobuf body following only the schema's message fields and
 * refuses malformed wire format and nesting past COL__OTLP_MAX_DEPTH
 * (SCRY_EPARSE with the byte offset), before protobuf-c recurses into it. */
int col__otlp_check_depth(const struct col__otlp_schema *sc, size_t n_sc, const char *body,
                          size_t len, unsigned root, struct scry_err *err);
/* Both protobuf decoders: checks the arguments and the nesting (above),
 * then unpacks the message desc describes with protobuf-c, allocating from
 * the arena (nothing is freed one by one). *out is only written on success;
 * SCRY_EPARSE names the message when protobuf-c refuses the body. */
int col__otlp_unpack(struct scry_arena *a, const char *body, size_t len,
                     const struct col__otlp_schema *sc, size_t n_sc, unsigned root,
                     const ProtobufCMessageDescriptor *desc, void **out, struct scry_err *err);

/* ---- AnyValue as text (otlp_anyvalue.c) ---- */

struct scry_json;
/* How a double AnyValue is spelled. PROM (the metrics translator): as the
 * Prometheus HTTP API writes numbers ("1000000"), NaN/Inf in JSON as
 * strings. LOKI (the log mapper): as the text format does ("1e+06"),
 * NaN/Inf in JSON as null. Everything else is written alike. */
enum col__otlp_av_style { COL__OTLP_AV_PROM, COL__OTLP_AV_LOKI };
/* Standard base64 with padding, appended to out. */
void col__otlp_b64(struct scry_buf *out, const uint8_t *p, size_t len);
/* Appends v as text: scalars as pcommon's AsString, arrays and maps as
 * JSON, bytes as base64, nothing for an empty value or NULL. */
void col__otlp_anyvalue_str(struct scry_buf *out, const ot_any *v, enum col__otlp_av_style style);
/* Writes v as one JSON value (null for NULL or an empty value). */
void col__otlp_anyvalue_json(struct scry_json *j, const ot_any *v, enum col__otlp_av_style style);

/* ---- the delta → cumulative map (otlp_delta.c), used by otlp_translate.c */

struct dentry {
    uint64_t h1, h2;
    double total, tent_total; /* committed / tentative (owned by batch `owner`) */
    int64_t t_ms, tent_t_ms;
    uint64_t owner;           /* batch id holding a tentative value, 0 = none */
    uint32_t prev, next;      /* LRU: head = most recent */
    uint32_t chain;           /* next in the hash bucket */
    bool used;
};

struct col__otlp_pending {
    uint32_t idx;
    uint64_t h1, h2;
};

struct col_otlp_translator {
    pthread_mutex_t mu;
    struct dentry *e;     /* cap entries, allocated at the first delta point */
    uint32_t *bucket;     /* n_bucket heads */
    uint32_t cap, n, n_bucket, head, tail, free_next;
    _Atomic uint64_t next_batch;
    bool scope_labels;
};

/* The entry for (h1, h2), created (evicting the least recently used) when
 * absent; *fresh tells which. Called with tr->mu held. */
uint32_t col__otlp_delta_entry(struct col_otlp_translator *tr, uint64_t h1, uint64_t h2,
                               bool *fresh);

/* ---- the HTTP receiver (otlp_http.c), shared with otlp_logs_http.c ---- */

#define GRPC_INVALID_ARGUMENT 3
#define GRPC_RESOURCE_EXHAUSTED 8
#define GRPC_UNAVAILABLE 14

struct col__otlp_logs; /* otlp_logs_http.c */

struct col_otlp {
    struct scry_appendable *store;
    struct col_otlp_translator *tr;
    size_t max_body_bytes;
    struct col__reply reply; /* counts and logs answers, Retry-After */
    struct scry_metric *accepted, *rejected; /* NULL without a registry */
    struct col__otlp_logs *logs; /* NULL: no /v1/logs */
};

enum enc { ENC_PROTO, ENC_JSON };

/* The media type of Content-Type, parameters ignored: 0 and *enc, or -1. */
int col__otlp_media_type(const char *ct, enum enc *enc);
/* A google.rpc.Status {code, message} in the request's encoding, with
 * Retry-After on 429/503; counted and logged (rate-limited). */
void col__otlp_answer_status(struct col_otlp *o, struct scry_http_resp *resp, enum enc enc,
                             int status, int grpc_code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void col__otlp_answer_text(struct col_otlp *o, struct scry_http_resp *resp, int status,
                           const char *msg);
/* 405 unless POST, 415 unless JSON or protobuf: false when answered. */
bool col__otlp_check_request(struct col_otlp *o, struct scry_http_req *req,
                             struct scry_http_resp *resp, enum enc *enc);
/* 200: empty, or a partial_success naming how many of n_total were
 * rejected (json_key: "rejectedDataPoints", "rejectedLogRecords"). */
void col__otlp_answer_ok(struct col_otlp *o, struct scry_http_resp *resp, enum enc enc,
                         const char *json_key, const char *noun, uint64_t n_rejected,
                         uint64_t n_total, const char *first);

/* /v1/logs: set up from opts->logs, routes, teardown (NULL-safe). */
void col__otlp_logs_init(struct col_otlp *o, const struct col_otlp_opts *opts);
void col__otlp_logs_add_server(struct col_otlp *o, struct scry_http_server *srv);
void col__otlp_logs_fini(struct col_otlp *o);

#endif
