/* otlp.h — the OTLP/HTTP receiver: metrics (POST /v1/metrics) into the
 * TSDB and, when a log store is given, logs (POST /v1/logs) into it.
 *
 * Three layers, each usable on its own (tests and the fuzz target do):
 *  - decoders: an ExportMetricsServiceRequest body, binary protobuf
 *    (protobuf-c, allocating from an arena) or OTLP/JSON (core/json_read.h,
 *    filling the same protobuf-c structs), so everything after decoding sees
 *    one representation and both encodings give identical series;
 *  - translation to Prometheus series, following Prometheus's own OTLP
 *    receiver (otlptranslator, UnderscoreEscapingWithSuffixes): metric and
 *    label names, job/instance/target_info, every metric type, delta to
 *    cumulative, staleness;
 *  - the HTTP handler, answering per shared/contracts/otlp-http.md.
 *
 * Design, rules and measurements: collector/README.md, "OTLP metrics". */
#ifndef SCRY_COLLECTOR_OTLP_H
#define SCRY_COLLECTOR_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/appender.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/http.h"
#include "core/labels.h"
#include "core/log.h"
#include "core/metrics.h"

/* The generated protobuf-c type (collector/proto/otlp_metrics_service.proto);
 * include "collector/proto/otlp_metrics_service.pb-c.h" to look inside. */
struct Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest;
#define col_otlp_metrics_req Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest

/* The same for logs (collector/proto/otlp_logs_service.proto). */
struct Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest;
#define col_otlp_logs_req Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest

/* Prometheus's staleness marker, written for NO_RECORDED_VALUE points. */
#define COL_OTLP_STALE_NAN_BITS 0x7ff0000000000002ull

/* ---- decoders ----------------------------------------------------------- */

/* Decodes a binary protobuf body into a request allocated from a (freed with
 * the arena; nothing to free by hand). SCRY_EPARSE with a message on
 * malformed input or nesting past the limit. Thread-safe for distinct arenas. */
int col_otlp_metrics_decode_proto(struct scry_arena *a, const char *body, size_t len,
                                  struct col_otlp_metrics_req **out, struct scry_err *err);
/* The same for an OTLP/JSON body (lowerCamelCase or snake_case keys, 64-bit
 * integers as numbers or strings, hex exemplar ids, unknown keys ignored).
 * SCRY_EPARSE with the JSON path of the offending value in the message. */
int col_otlp_metrics_decode_json(struct scry_arena *a, const char *body, size_t len,
                                 struct col_otlp_metrics_req **out, struct scry_err *err);

/* Logs: an ExportLogsServiceRequest, protobuf or OTLP/JSON (hex trace and
 * span ids, timeUnixNano/observedTimeUnixNano as strings or numbers,
 * severityNumber as a number or its enum name). Same rules as above. */
int col_otlp_logs_decode_proto(struct scry_arena *a, const char *body, size_t len,
                               struct col_otlp_logs_req **out, struct scry_err *err);
int col_otlp_logs_decode_json(struct scry_arena *a, const char *body, size_t len,
                              struct col_otlp_logs_req **out, struct scry_err *err);

/* ---- naming ------------------------------------------------------------- */

enum col_otlp_kind {
    COL_OTLP_GAUGE,     /* gauges, non-monotonic sums */
    COL_OTLP_COUNTER,   /* monotonic sums: _total */
    COL_OTLP_HISTOGRAM, /* explicit and exponential histograms */
    COL_OTLP_SUMMARY,
};

/* Appends the Prometheus metric name for an OTLP name and UCUM unit:
 * invalid characters split words, unit suffix, _total for counters, _ratio
 * for gauges of unit "1", leading digit prefixed with "_". */
void col_otlp_metric_name(const char *name, const char *unit, enum col_otlp_kind kind,
                          struct scry_buf *out);
/* Appends the label name for an attribute key: invalid characters → "_",
 * a leading digit gets "key_", a single leading "_" gets "key". */
void col_otlp_label_name(const char *key, struct scry_buf *out);

/* ---- translation -------------------------------------------------------- */

/* Called once per sample, labels sorted and valid, with a metric name. 0:
 * accepted. SCRY_EINVAL or SCRY_ELIMIT: this sample is refused (out of
 * order, a limit); its data point is counted as rejected and err->msg is
 * kept as the reason. Any other error stops the translation and is returned. */
typedef int (*col_otlp_sample_fn)(void *ud, const struct scry_labels *ls, int64_t t_ms,
                                  double v, struct scry_err *err);

struct col_otlp_translator_opts {
    size_t max_delta_series; /* delta → cumulative running totals kept (LRU); 0 → 65536 */
    bool no_scope_labels;    /* leave out otel_scope_name/otel_scope_version */
};

/* Holds the delta → cumulative state; shared by all requests, thread-safe. */
struct col_otlp_translator;
int col_otlp_translator_create(struct col_otlp_translator **out,
                               const struct col_otlp_translator_opts *opts, struct scry_err *err);
void col_otlp_translator_destroy(struct col_otlp_translator *tr); /* NULL is a no-op */
/* Running totals currently kept (for tests). */
size_t col_otlp_translator_delta_series(struct col_otlp_translator *tr);

/* The outcome of one translation. Delta updates stay pending in the batch
 * until col_otlp_batch_commit, so a request the store refuses (and the
 * client retries) is not counted twice. init/fini; reusable after fini. */
struct col_otlp_batch {
    uint64_t n_points, n_rejected_points;   /* OTLP data points */
    uint64_t n_samples, n_rejected_samples; /* Prometheus samples (incl. target_info) */
    struct scry_buf first;                  /* why the first point was rejected */
    struct col__otlp_pending *pending;      /* delta updates, applied on commit */
    size_t n_pending, cap_pending;
    uint64_t id;
};
void col_otlp_batch_init(struct col_otlp_batch *b);
void col_otlp_batch_fini(struct col_otlp_batch *b);

/* Translates req, calling fn per sample; scratch comes from a. Returns 0 or
 * the error fn returned. Points that cannot be translated (delta or
 * unspecified temporality that cannot be converted, bucket counts that do
 * not match the bounds, invalid UTF-8) are counted as rejected in b. */
int col_otlp_translate(struct col_otlp_translator *tr, struct scry_arena *a,
                       const struct col_otlp_metrics_req *req, col_otlp_sample_fn fn, void *ud,
                       struct col_otlp_batch *b, struct scry_err *err);
/* Applies b's pending delta totals (after the store committed). */
void col_otlp_batch_commit(struct col_otlp_translator *tr, struct col_otlp_batch *b);

/* ---- logs → the Loki model ---------------------------------------------- */

/* Resource attributes that become stream labels by default (Loki's list):
 * service.name, service.namespace, service.instance.id,
 * deployment.environment(.name), cloud.region, cloud.availability_zone,
 * k8s.{cluster,namespace,pod,container,replicaset,deployment,statefulset,
 * daemonset,cronjob,job}.name, container.name. NULL-terminated. */
extern const char *const col_otlp_default_log_labels[];

/* Called once per log record: stream labels sorted and valid (at least
 * service_name), entry with metadata sorted. 0: stored. SCRY_EINVAL or
 * SCRY_ELIMIT: refused (counted, err->msg kept); other errors stop. */
typedef int (*col_otlp_log_fn)(void *ud, const struct scry_labels *stream,
                               const struct scry_log_entry *e, struct scry_err *err);

struct col_otlp_logs_result {
    uint64_t n_records, n_rejected;
    struct scry_buf first; /* why the first record was refused; fini it */
};

/* Maps req like Loki's OTLP ingestion: label_attrs (NULL → the default
 * list) on the resource become stream labels, dots and other invalid
 * characters → "_"; everything else (other resource attributes, scope
 * name/version/attributes, record attributes, severity, trace/span ids,
 * flags, event name) becomes structured metadata; the body is the line
 * (strings as is, other values as JSON); the timestamp is timeUnixNano,
 * else observedTimeUnixNano, else now_ns. Scratch from a. Returns 0 or the
 * error fn returned. */
int col_otlp_logs_translate(struct scry_arena *a, const struct col_otlp_logs_req *req,
                            const char *const *label_attrs, int64_t now_ns, col_otlp_log_fn fn,
                            void *ud, struct col_otlp_logs_result *res, struct scry_err *err);

/* ---- HTTP receiver ------------------------------------------------------ */

struct col_otlp_opts {
    size_t max_body_bytes;    /* after decompression; 0 → 64 MiB (the contract's default) */
    unsigned retry_after_s;   /* Retry-After on 429/503; 0 → 5 */
    size_t max_delta_series;  /* see col_otlp_translator_opts; 0 → 65536 */
    struct scry_metrics *metrics; /* may be NULL: no self-metrics */
    struct scry_log *log;         /* may be NULL: no logging */
    /* Logs: POST /v1/logs (and /otlp/v1/logs) append here; NULL: no logs
     * routes. log_label_attrs: see col_otlp_logs_translate (borrowed). */
    struct scry_appendable *logs;
    const char *const *log_label_attrs;
};

struct col_otlp;

/* Registers POST /v1/metrics (and the aliases /api/v1/otlp/v1/metrics and
 * /otlp/v1/metrics), with opts->logs also POST /v1/logs and /otlp/v1/logs, on srv, before it starts, appending into store. *out
 * holds the receiver's state (delta totals, metrics): destroy it after
 * every server it was added to has stopped. SCRY_EINVAL for missing
 * arguments. */
int col_otlp_register(struct col_otlp **out, struct scry_http_server *srv,
                      struct scry_appendable *store, const struct col_otlp_opts *opts,
                      struct scry_err *err);
/* Adds the same routes to another listener, sharing o's state (scry server
 * listens on :9090 and :4318). */
void col_otlp_add_server(struct col_otlp *o, struct scry_http_server *srv);
void col_otlp_destroy(struct col_otlp *o); /* NULL is a no-op */

#endif
