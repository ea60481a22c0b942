/* json.h — a streaming JSON writer into a scry_buf.
 *
 * It places commas and colons itself, so callers only say what comes next.
 * Strings are escaped the way Go's encoding/json does it, which is what
 * Grafana and the Prometheus API clients expect: ", \ and control characters
 * escaped (\n \r \t, the rest as \u00XX), invalid UTF-8 replaced by U+FFFD.
 * Nesting deeper than SCRY_JSON_MAX_DEPTH is a programming error (asserted). */
#ifndef SCRY_CORE_JSON_H
#define SCRY_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SCRY_JSON_MAX_DEPTH 64

struct scry_json {
    struct scry_buf *b;
    int depth;
    bool first[SCRY_JSON_MAX_DEPTH]; /* no element written yet at this depth */
    bool after_key;
};

void scry_json_init(struct scry_json *j, struct scry_buf *b);
void scry_json_obj_begin(struct scry_json *j);
void scry_json_obj_end(struct scry_json *j);
void scry_json_arr_begin(struct scry_json *j);
void scry_json_arr_end(struct scry_json *j);
void scry_json_key(struct scry_json *j, const char *k);
void scry_json_keyn(struct scry_json *j, const char *k, size_t len);
void scry_json_str(struct scry_json *j, const char *s);        /* NULL → null */
void scry_json_strn(struct scry_json *j, const char *s, size_t len);
void scry_json_int(struct scry_json *j, int64_t v);
void scry_json_uint(struct scry_json *j, uint64_t v);
/* A finite number as jsoniter writes float64s (1435781451.781, 1e-07);
 * NaN and ±Inf are written as null (JSON has none). For
 * Prometheus sample values use scry_json_double_str, which quotes them. */
void scry_json_double(struct scry_json *j, double v);
/* "1.5", "NaN", "+Inf", "-Inf" as a JSON string (Prometheus sample values). */
void scry_json_double_str(struct scry_json *j, double v);
void scry_json_bool(struct scry_json *j, bool v);
void scry_json_null(struct scry_json *j);
struct scry_labels;
/* ls as one object {"name":"value",...}, in ls's order (the label sets of
 * the Prometheus, Loki and targets APIs). */
void scry_json_labels(struct scry_json *j, const struct scry_labels *ls);
/* Writes already-encoded JSON as one value (trusted input only). */
void scry_json_raw(struct scry_json *j, const char *raw, size_t len);
/* Escapes s as a JSON string (with quotes) into b, outside any writer. */
void scry_json_escape(struct scry_buf *b, const char *s, size_t len);

#endif
