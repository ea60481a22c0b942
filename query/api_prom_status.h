/* api_prom_status.h — GET /api/v1/status/tsdb, Prometheus's "TSDB Status"
 * answer, encoded from the store's numbers (tsdb/status.h). cmd/ owns the
 * database handle and the route; this file owns the wire format, so that a
 * unit test can pin the exact bytes. query/README.md, "Status endpoints". */
#ifndef SCRY_QUERY_API_PROM_STATUS_H
#define SCRY_QUERY_API_PROM_STATUS_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "tsdb/status.h"

/* Parses the limit parameter as Prometheus (>= 2.45; the cap is 3.x's) does: NULL or "" →
 * TSDB_STATUS_DEFAULT_LIMIT; otherwise a decimal integer (optional sign)
 * in 1..TSDB_STATUS_MAX_LIMIT. Returns 0, or SCRY_EINVAL with Prometheus's
 * message in err (the caller answers 400 bad_data). */
int pql_tsdb_status_limit(const char *s, size_t *limit, struct scry_err *err);

/* Appends {"status":"success","data":{"headStats":{...},...}} to b: the
 * field names and order of Prometheus's TSDBStatus, every number a JSON
 * number, empty lists as []. */
void pql_tsdb_status_json(struct scry_buf *b, const struct tsdb_status *st);

#endif
