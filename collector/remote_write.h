/* remote_write.h — the Prometheus remote_write 1.0 receiver.
 *
 * Two layers:
 *  - col_rw_decode: a zero-copy streaming decoder of the WriteRequest wire
 *    format (an already snappy-decoded body). It walks the body once and
 *    calls back once per TimeSeries with its labels as slices into the body
 *    and its samples decoded into a reused array. It never allocates per
 *    series and never reads outside [body, body+len).
 *  - col_rw_register: the HTTP handler at POST /api/v1/write, which checks
 *    headers, decodes, validates labels and appends every sample through
 *    the appender seam (core/appender.h), answering per
 *    shared/contracts/remote-write.md (204 / 400 / 413 / 415 / 500).
 *
 * Design and measurements: collector/README.md, "remote_write". */
#ifndef SCRY_COLLECTOR_REMOTE_WRITE_H
#define SCRY_COLLECTOR_REMOTE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "core/appender.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"

/* ---- decoder ------------------------------------------------------------ */

struct col_rw_label {
    struct scry_str name, value; /* slices into the body; not NUL-terminated */
};

struct col_rw_sample {
    double v; /* bit pattern kept as sent (the stale NaN survives) */
    int64_t t_ms;
};

/* One TimeSeries, valid only during the callback. Labels are in wire order
 * (senders sort them; the decoder does not check). */
struct col_rw_series {
    const struct col_rw_label *labels;
    size_t n_labels;
    const struct col_rw_sample *samples;
    size_t n_samples;
    size_t n_exemplars;  /* counted, not decoded */
    size_t n_histograms; /* native histograms: counted, not decoded */
    size_t offset;       /* byte offset of the TimeSeries message in the body */
};

/* Returns 0 to go on; a negative SCRY_E* (with err filled) stops decoding
 * and becomes col_rw_decode's result. */
typedef int (*col_rw_series_fn)(void *ud, const struct col_rw_series *s, struct scry_err *err);

/* Scratch space reused across series and bodies; caller-owned. After
 * init, fini must be called. Not thread-safe: one per thread or request. */
struct col_rw_decoder {
    struct col_rw_label *labels;
    size_t cap_labels;
    struct col_rw_sample *samples;
    size_t cap_samples;
    size_t n_series, n_samples, n_metadata; /* totals of the last decode */
};

void col_rw_decoder_init(struct col_rw_decoder *d);
void col_rw_decoder_fini(struct col_rw_decoder *d);

/* Decodes a protobuf WriteRequest of len bytes, calling fn for each
 * TimeSeries in order. Unknown fields are skipped; metadata is counted.
 * SCRY_EPARSE on malformed input, with err->offset the byte offset of the
 * problem and the message naming it; callbacks before the error have run.
 * fn may be NULL (validate and count only). */
int col_rw_decode(struct col_rw_decoder *d, const char *body, size_t len, col_rw_series_fn fn,
                  void *ud, struct scry_err *err);

/* ---- HTTP receiver ------------------------------------------------------ */

struct col_rw_opts {
    size_t max_body_bytes;    /* compressed body; 0 → 32 MiB */
    size_t max_decoded_bytes; /* after snappy; 0 → 32 MiB (also capped by max_body_bytes
                                 when core/http decodes, see README) */
    struct scry_metrics *metrics; /* may be NULL: no self-metrics */
    struct scry_log *log;         /* may be NULL: no logging */
};

struct col_rw;

/* Registers POST /api/v1/write on srv (before it starts), appending into
 * store. *out holds the handler's state: destroy it after the server has
 * stopped. SCRY_EINVAL for missing arguments. */
int col_rw_register(struct col_rw **out, struct scry_http_server *srv,
                    struct scry_appendable *store, const struct col_rw_opts *opts,
                    struct scry_err *err);
void col_rw_destroy(struct col_rw *rw); /* NULL is a no-op */

#endif
