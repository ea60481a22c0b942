/* wal_record.h — tsdb's WAL record payloads: SERIES, SAMPLES, TOMBSTONES.
 *
 * core/wal.h frames and checksums records; this file says what is inside
 * them. Byte layout: tsdb/FORMAT.md, "tsdb record payloads".
 *
 * Encoders append to a caller-owned scry_buf (reuse it: after warm-up an
 * encode does not allocate, except SERIES, which builds a symbol table).
 * Decoders validate everything — counts against remaining bytes, varint
 * lengths, symbol indices, label order, exact consumption — and return
 * SCRY_ECORRUPT with err->offset set for bad bytes; they never crash on any
 * input. Decoded arrays and label strings live in the caller's arena (the
 * strings need a NUL the payload does not have); nothing points into the
 * payload, so it may go away after the call. Thread-safe (no shared state). */
#ifndef SCRY_TSDB_WAL_RECORD_H
#define SCRY_TSDB_WAL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/labels.h"

/* Record types in tsdb's WAL (core/ reserves 0). */
enum tsdb_wal_rec_type {
    TSDB_WAL_SERIES = 1,
    TSDB_WAL_SAMPLES = 2,
    TSDB_WAL_TOMBSTONES = 3,
};

struct tsdb_wal_series {
    uint64_t ref;
    struct scry_labels labels; /* sorted, unique names, non-empty values */
};

struct tsdb_wal_sample {
    uint64_t ref;
    int64_t t_ms;
    double v;
};

struct tsdb_wal_tombstone {
    uint64_t ref;
    int64_t mint_ms, maxt_ms; /* inclusive, mint_ms <= maxt_ms */
};

/* Appends a SERIES payload. SCRY_EINVAL for an empty name or value, a NUL
 * inside a string, or names not strictly increasing (what decode rejects). */
int tsdb_wal_series_encode(struct scry_buf *out, const struct tsdb_wal_series *s, size_t n,
                           struct scry_err *err);
int tsdb_wal_series_decode(const void *p, size_t len, struct scry_arena *a,
                           struct tsdb_wal_series **out, size_t *n, struct scry_err *err);

/* Appends a SAMPLES payload. Smallest when samples of one scrape are
 * adjacent (same t, refs ascending). Never fails. */
void tsdb_wal_samples_encode(struct scry_buf *out, const struct tsdb_wal_sample *s, size_t n);
int tsdb_wal_samples_decode(const void *p, size_t len, struct scry_arena *a,
                            struct tsdb_wal_sample **out, size_t *n, struct scry_err *err);

/* Appends a TOMBSTONES payload. SCRY_EINVAL when mint_ms > maxt_ms. */
int tsdb_wal_tombstones_encode(struct scry_buf *out, const struct tsdb_wal_tombstone *t, size_t n,
                               struct scry_err *err);
int tsdb_wal_tombstones_decode(const void *p, size_t len, struct scry_arena *a,
                               struct tsdb_wal_tombstone **out, size_t *n, struct scry_err *err);

#endif
