/* loki_push.h — the Loki push receiver (POST /loki/api/v1/push).
 *
 * Two layers, each usable on its own (tests and the fuzz targets do):
 *  - decoders: a push body, JSON ({"streams":[{"stream":{..},"values":[..]}]})
 *    or protobuf (logproto.PushRequest, already snappy-decoded), into one
 *    arena-allocated representation, so everything after decoding sees the
 *    same streams whichever encoding came in;
 *  - the HTTP handler: Content-Type/Content-Encoding per
 *    shared/contracts/grafana-loki.md §8, Loki's validation limits, appends
 *    through the appender seam, Loki's status codes.
 *
 * Design: collector/README.md, "Loki push". */
#ifndef SCRY_COLLECTOR_LOKI_PUSH_H
#define SCRY_COLLECTOR_LOKI_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "core/appender.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/http.h"
#include "core/labels.h"
#include "core/log.h"
#include "core/metrics.h"

/* ---- decoders ----------------------------------------------------------- */

/* One stream of a push. labels are sorted by name but not validated (the
 * handler checks them with col_loki_validate_stream, so a bad stream is
 * refused alone); entries keep the request's order; strings are
 * NUL-terminated and live in the decoding arena. Structured metadata is
 * sorted by name, duplicates resolved to the last value. */
struct col_loki_stream {
    struct scry_labels labels;
    struct scry_log_entry *entries;
    size_t n_entries;
    /* Set when the stream's label text (protobuf) could not be parsed: the
     * stream is refused with this message; labels is then empty. */
    const char *labels_error;
};

struct col_loki_push {
    struct col_loki_stream *streams;
    size_t n_streams;
};

/* A JSON push body. SCRY_EPARSE naming where ("streams[1].values[0][0]:
 * timestamp must be a string of nanoseconds") on malformed input. */
int col_loki_decode_json(struct scry_arena *a, const char *body, size_t len,
                         struct col_loki_push *out, struct scry_err *err);
/* A protobuf PushRequest (not snappy-compressed). SCRY_EPARSE on malformed
 * input. Stream label texts that do not parse leave labels_error set. */
int col_loki_decode_proto(struct scry_arena *a, const char *body, size_t len,
                          struct col_loki_push *out, struct scry_err *err);
/* Parses a stream label text in Prometheus form ({job="app", env="prod"};
 * values double- or back-quoted with Go escapes) into a set sorted by name,
 * strings in a. SCRY_EPARSE with the byte offset in the message. */
int col_loki_parse_labels(struct scry_arena *a, const char *s, size_t len,
                          struct scry_labels *out, struct scry_err *err);

/* ---- validation --------------------------------------------------------- */

/* Loki's defaults (its limits_config). */
struct col_loki_limits {
    size_t max_label_names;       /* per stream; 0 → 15 */
    size_t max_label_name_bytes;  /* 0 → 1024 */
    size_t max_label_value_bytes; /* 0 → 2048 */
    size_t max_line_bytes;        /* 0 → 256 KiB */
};

/* Checks a stream's labels: at least one, names [a-zA-Z_][a-zA-Z0-9_]*,
 * unique, within the limits, values non-empty UTF-8. SCRY_EINVAL with
 * Loki-like wording (the caller prefixes where). */
int col_loki_validate_stream(const struct col_loki_limits *lim, const struct scry_labels *ls,
                             struct scry_err *err);

/* ---- HTTP receiver ------------------------------------------------------ */

struct col_loki_opts {
    size_t max_body_bytes;    /* compressed and decoded; 0 → 32 MiB */
    unsigned retry_after_s;   /* Retry-After on 429/503; 0 → 5 */
    struct col_loki_limits limits;
    struct scry_metrics *metrics; /* may be NULL */
    struct scry_log *log;         /* may be NULL */
};

struct col_loki;

/* Registers POST /loki/api/v1/push (and Loki's legacy /api/prom/push) on
 * srv before it starts, appending into store. Destroy *out after srv
 * stopped. SCRY_EINVAL for missing arguments. */
int col_loki_register(struct col_loki **out, struct scry_http_server *srv,
                      struct scry_appendable *store, const struct col_loki_opts *opts,
                      struct scry_err *err);
void col_loki_destroy(struct col_loki *l); /* NULL is a no-op */

#endif
