/* api_prom_client.h — reading the Prometheus API's answers, for `scry
 * query` (cmd/query.c): a query response rendered as text a person reads.
 *
 *   vector   an aligned table: SERIES  VALUE  TIME, one row per series
 *   matrix   per series its labels, then one "  value @time" line per point
 *   scalar   "value @time";  string: the text, then "@time"
 *
 * Works on any Prometheus-compatible server's JSON, not only scry's. */
#ifndef SCRY_QUERY_API_PROM_CLIENT_H
#define SCRY_QUERY_API_PROM_CLIENT_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

/* Renders body (a /api/v1/query or query_range response) into out, and
 * each warning and info as a line "warning: …" / "info: …" into notes.
 * Returns 0; SCRY_EINVAL when the envelope says status "error" (err->msg is
 * "<errorType>: <error>", as Grafana shows it); SCRY_EPARSE when body is
 * not such a JSON envelope. */
int pql_api_client_render(const char *body, size_t len, struct scry_buf *out,
                          struct scry_buf *notes, struct scry_err *err);

#endif
