/* chunk.h — compressed chunks of float samples: encoder, appender, iterator.
 *
 * A chunk holds 1..TSDB_CHUNK_MAX_SAMPLES samples of one series, each an
 * (int64 milliseconds, float64) pair with strictly increasing timestamps.
 * The byte format is specified in tsdb/FORMAT.md ("Chunks"). The encoder
 * sees the whole chunk and picks, per chunk, the smallest of four value
 * encodings (constant, Gorilla XOR, decimal-scaled integers, bit patterns as
 * integers); timestamps are delta or delta-of-delta with per-chunk
 * variable-width buckets. Design and numbers: tsdb/README.md. Every value
 * comes back bit for bit, NaN payloads (the staleness marker
 * 0x7ff0000000000002) and -0.0 included.
 *
 * Ownership: the encoder writes into caller memory; the iterator borrows the
 * chunk bytes, lives in caller storage and never allocates. Nothing here
 * keeps global state; every function is thread-safe on distinct objects. */
#ifndef SCRY_TSDB_CHUNK_H
#define SCRY_TSDB_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Largest sample count one chunk may hold (format limit, checked on decode). */
#define TSDB_CHUNK_MAX_SAMPLES 512
/* Samples the appender buffers before it must be cut (the head's cut size). */
#define TSDB_CHUNK_APPEND_CAP 120

/* Bits 7-5 of the kind byte: what a sample is. Only FLOAT exists today; the
 * histogram kinds are reserved so the format can grow without a version bump. */
enum tsdb_chunk_kind {
    TSDB_CHUNK_FLOAT = 0,
    TSDB_CHUNK_HISTOGRAM = 1,       /* reserved: native histograms */
    TSDB_CHUNK_FLOAT_HISTOGRAM = 2, /* reserved: float native histograms */
};

/* Bits 2-0 of the kind byte for FLOAT chunks: how values are encoded. */
enum tsdb_chunk_venc {
    TSDB_VENC_CONST = 0, /* every value bit-identical: stored once */
    TSDB_VENC_XOR = 1,   /* Gorilla XOR against the previous value */
    TSDB_VENC_DEC = 2,   /* value = N / 10^k, N an integer sequence; escapes */
    TSDB_VENC_BITS = 3,  /* the value's bit pattern as an integer sequence */
    TSDB_VENC_N_ = 4,
    TSDB_VENC_AUTO = -1, /* encoder input only: choose the smallest */
};

/* One encoded chunk of a series, as the head hands it to the block writer
 * and the block reader finds it; the bytes are borrowed. */
struct tsdb_chunk_meta {
    int64_t mint_ms, maxt_ms;
    uint32_t n_samples;
    const uint8_t *p;
    uint32_t len;
};

/* An upper bound on the encoded size of n samples, for sizing buffers. */
size_t tsdb_chunk_max_len(size_t n);

/* Encodes n samples (1..TSDB_CHUNK_MAX_SAMPLES, t_ms strictly increasing)
 * into out[0..cap), cap >= tsdb_chunk_max_len(n), and sets *len. venc is
 * TSDB_VENC_AUTO (smallest) or a forced encoding, which fails with
 * SCRY_EINVAL when it cannot represent the data exactly (tests, bench).
 * Returns 0 or SCRY_EINVAL with err filled in; never allocates (uses ~50 KiB
 * of stack). */
int tsdb_chunk_encode(const int64_t *t_ms, const double *v, size_t n, int venc,
                      uint8_t *out, size_t cap, size_t *len, struct scry_err *err);

/* What a chunk header says, read without decoding samples. */
struct tsdb_chunk_info {
    int kind;     /* enum tsdb_chunk_kind */
    int venc;     /* enum tsdb_chunk_venc */
    uint32_t n;   /* samples */
    int64_t mint_ms;
};
/* Reads the kind byte, n and the first timestamp. Returns 0, or SCRY_ECORRUPT
 * when they are malformed or the kind is not a float chunk. The rest of the
 * chunk is not validated: the iterator does that. */
int tsdb_chunk_info(const uint8_t *p, size_t len, struct tsdb_chunk_info *info);

/* ---- appender: buffers the open chunk, encodes it when cut ---------------
 *
 * The head appends one sample at a time. Choosing the best value encoding
 * needs the whole chunk, so the appender keeps the raw samples (16 bytes
 * each, 1.9 KiB per open chunk) and encodes once at the cut; the trade-off
 * is in tsdb/README.md. Caller-owned; init, append..., cut, and the
 * appender is empty again. No allocation. */
struct tsdb_chunk_appender {
    uint32_t n;
    int64_t t_ms[TSDB_CHUNK_APPEND_CAP];
    double v[TSDB_CHUNK_APPEND_CAP];
};

void tsdb_chunk_appender_init(struct tsdb_chunk_appender *app);
/* Returns 0; SCRY_EINVAL if t_ms is not after the last sample; SCRY_ELIMIT
 * when the appender is full (cut first). */
int tsdb_chunk_append(struct tsdb_chunk_appender *app, int64_t t_ms, double v,
                      struct scry_err *err);
/* Encodes the buffered samples (n >= 1) with the smallest encoding into out
 * (cap >= tsdb_chunk_max_len(TSDB_CHUNK_APPEND_CAP)), sets *len, empties the
 * appender. SCRY_EINVAL when empty or cap is too small. */
int tsdb_chunk_appender_cut(struct tsdb_chunk_appender *app, uint8_t *out, size_t cap,
                            size_t *len, struct scry_err *err);

/* ---- iterator ------------------------------------------------------------
 *
 *   struct tsdb_chunk_iter it;
 *   tsdb_chunk_iter_init(&it, p, len);
 *   while (tsdb_chunk_iter_next(&it)) { tsdb_chunk_iter_at(&it, &t, &v); ... }
 *   if (tsdb_chunk_iter_err(&it)) ...corrupt...
 *
 * Decodes forward only, with no allocation and no random access; every read
 * is bounds-checked, so corrupt bytes end the iteration with SCRY_ECORRUPT
 * (sticky), never a crash. The bytes must outlive the iterator. Fields are
 * private. */
struct tsdb__iseq_dec {
    uint8_t order, nb, use_for, flat, w[4];
    uint8_t tcl[8], tw[8];       /* by the next 3 bits: prefix length, width */
    uint8_t tsh[8];              /* 63 - width (when the width is < 64) */
    uint8_t zs;                  /* residual = ((u >> zs) ^ -(u & zs)) + add */
    uint64_t add, m1, m2;        /* m1, m2: all ones when order >= 1, == 2 */
    uint64_t flat_r;             /* the residual when flat */
    int64_t x, d, min, x0, d1;
    uint64_t g;
};

/* MSB-first bit reader: the next cnt (<= 63) bits of the stream are the top
 * of buf; the bits below are zero or the stream's following bits. */
struct tsdb__br {
    const uint8_t *p, *end;      /* next byte to load, end of chunk */
    uint64_t buf;
    unsigned cnt;
};

struct tsdb_chunk_iter {
    struct tsdb__br br;
    uint32_t n, i;               /* samples in chunk, samples returned */
    int venc, err;
    struct tsdb__iseq_dec ts, val;
    uint64_t vbits;              /* current value's bits (CONST, XOR, escapes) */
    uint8_t lead, sig, have_win; /* XOR window */
    double scale;                /* DEC: 10^k */
    const uint8_t *exc;          /* DEC: next escape entry */
    uint32_t exc_left, exc_next; /* escapes still ahead, index of the next */
    int64_t t_ms;
    double v;
};

void tsdb_chunk_iter_init(struct tsdb_chunk_iter *it, const uint8_t *p, size_t len);
/* Advances to the next sample; false at the end or on error. */
bool tsdb_chunk_iter_next(struct tsdb_chunk_iter *it);
/* Advances to the first sample with t >= t_ms and returns true, or false when
 * there is none (or on error). Never moves backwards: if the current sample
 * already has t >= t_ms it stays. */
bool tsdb_chunk_iter_seek(struct tsdb_chunk_iter *it, int64_t t_ms);
/* Like up to cap calls of next() and at(): stores the samples after the
 * current one in t[] and v[] and returns how many; fewer than cap at the
 * end of the chunk or on error. The iterator then stands on the last. */
size_t tsdb_chunk_iter_next_n(struct tsdb_chunk_iter *it, int64_t *t, double *v, size_t cap);
/* The current sample; only valid after next/seek returned true. */
void tsdb_chunk_iter_at(const struct tsdb_chunk_iter *it, int64_t *t_ms, double *v);
/* 0, or SCRY_ECORRUPT when the bytes were not a valid chunk. */
int tsdb_chunk_iter_err(const struct tsdb_chunk_iter *it);

#endif
