/* format.h — constants and byte helpers of logstore/FORMAT.md. */
#ifndef SCRY_LOGSTORE_FORMAT_H
#define SCRY_LOGSTORE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/labels.h"

#define LS_SEGMENT_MAGIC "SCRYLSG3"   /* format version 3 (FORMAT.md); 2 is still read */
#define LS_SEGMENT_MAGIC_V2 "SCRYLSG2"
#define LS_SEGMENT_MAGIC_V1 "SCRYLSG1"
#define LS_SEGMENT_END_MAGIC "SCRYLSGE"
#define LS_MAGIC_BYTES 8
#define LS_TOC_BYTES 64
#define LS_CODEC_LZ4 1
#define LS_CODEC_ZSTD 2
#define LS_CODEC_ZSTD_COLS 3  /* zstd frame of a columnar payload (segments, version 2) */
#define LS_CODEC_ZSTD_COLS2 4 /* two zstd frames: entry columns, then the lines (version 3) */
#define LS_CHUNK_RAW_MAX (64u << 20)
#define LS_CHUNK_CUT_BYTES (256u << 10)
#define LS_CHUNK_MAX_SPAN_NS (3600LL * 1000000000LL)
/* Segment chunks merge a stream's head chunks up to this many raw bytes. */
#define LS_SEG_CHUNK_BYTES (512u << 10)
/* ls_opts.zstd_level 0: the tuned parameters of LS_ZSTD_* for the lines
 * frame (README "Numbers": the size of level 9 at ~half its CPU); any other
 * value is a plain zstd level. The entry-columns frame is level 1 (its
 * timestamps are mostly noise to a compressor). */
#define LS_SEGMENT_ZSTD_LEVEL 0
#define LS_ZSTD_STRATEGY 5        /* ZSTD_lazy2 */
#define LS_ZSTD_MIN_MATCH 6
#define LS_ZSTD_SEARCH_LOG 4 /* 3: +1.4 % lines bytes for -3.8 % store CPU (README) */
#define LS_ZSTD_HASH_LOG 18
#define LS_ZSTD_CHAIN_LOG 18
/* Token index flags (FORMAT.md "Token index"). */
#define LS_TOK_VALUES 1   /* key=value values are in the fingerprint set */
#define LS_TOK_COUNTS 2   /* line counts per posting follow the dictionary */
/* Line counts are kept for tokens in at least this many chunks: a rarer
 * needle decodes its few chunks (FORMAT.md "Line counts": bytes). */
#define LS_COUNT_MIN_CHUNKS 4
/* The line counts' zstd frame (17 was 6 KB smaller per 100 MiB for ~80 ms
 * more of each flush: README "Ingest CPU, branch lsflush2"). */
#define LS_COUNT_ZSTD_LEVEL 12

#define LS_WAL_STREAM 1
#define LS_WAL_ENTRIES 2

/* TOC field offsets (FORMAT.md "TOC"). */
enum {
    LS_TOC_STREAMS_OFF = 0, LS_TOC_LABELS_OFF = 8, LS_TOC_TOKENS_OFF = 16, LS_TOC_MINT = 24,
    LS_TOC_MAXT = 32, LS_TOC_N_ENTRIES = 40, LS_TOC_N_CHUNKS = 48, LS_TOC_CRC = 52,
    LS_TOC_MAGIC = 56,
};
_Static_assert(LS_TOC_MAGIC + LS_MAGIC_BYTES == LS_TOC_BYTES, "toc layout");

static inline void ls__put_uvarint(struct scry_buf *b, uint64_t v)
{
    char t[10];
    size_t n = 0;
    while (v >= 0x80) {
        t[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (char)v;
    scry_buf_put(b, t, n);
}
static inline void ls__put_varint(struct scry_buf *b, int64_t v)
{
    ls__put_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}
static inline void ls__put_str(struct scry_buf *b, const char *p, size_t len)
{
    ls__put_uvarint(b, len);
    scry_buf_put(b, p, len);
}
static inline void ls__put_le32(struct scry_buf *b, uint32_t v)
{
    uint8_t t[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    scry_buf_put(b, t, 4);
}
static inline void ls__put_le64(struct scry_buf *b, uint64_t v)
{
    ls__put_le32(b, (uint32_t)v);
    ls__put_le32(b, (uint32_t)(v >> 32));
}
static inline uint32_t ls__le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ls__le64(const uint8_t *p)
{
    return (uint64_t)ls__le32(p) | (uint64_t)ls__le32(p + 4) << 32;
}

/* A bounds-checked reader: any read past the end sets bad and yields 0. */
struct ls_rd {
    const uint8_t *p, *end;
    bool bad;
};
static inline uint64_t ls__rd_uvarint(struct ls_rd *r)
{
    uint64_t v = 0;
    for (unsigned s = 0; s < 70; s += 7) {
        if (r->p >= r->end || (s == 63 && *r->p > 1)) {
            r->bad = true;
            return 0;
        }
        uint8_t c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}
static inline int64_t ls__rd_varint(struct ls_rd *r)
{
    uint64_t u = ls__rd_uvarint(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}
/* A slice of len bytes (len from uvarint); NULL and bad when short. */
static inline const uint8_t *ls__rd_bytes(struct ls_rd *r, uint64_t len)
{
    if (r->bad || len > (uint64_t)(r->end - r->p)) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += len;
    return p;
}
static inline struct scry_str ls__rd_str(struct ls_rd *r)
{
    uint64_t len = ls__rd_uvarint(r);
    const uint8_t *p = ls__rd_bytes(r, len);
    return (struct scry_str){ p ? (const char *)p : "", p ? (size_t)len : 0 };
}

/* ---- the entry codec (entry.c) ---- */

struct scry_log_entry;
struct scry_arena;
/* Appends e with dt = e->t_ns - prev_t (caller guarantees >= 0). */
void ls__entry_put(struct scry_buf *b, int64_t prev_t, const struct scry_log_entry *e);
/* Reads one entry; line and metadata point into r's bytes, the metadata
 * array is taken from a (may be NULL: metadata then skipped, n = 0). Returns
 * false (r->bad) on a malformed entry. */
bool ls__entry_get(struct ls_rd *r, int64_t prev_t, struct scry_arena *a,
                   struct scry_log_entry *e);

/* Columnar payload of codec 4 (FORMAT.md "Chunk"): the entry columns
 * (every dt, every metadata list, the lines holding a newline) in one
 * buffer, and the lines each ended by '\n' in another, so zstd sees the
 * lines as the text they were, and the lengths cost nothing. */
struct ls_cols {
    struct scry_buf dts, exc, md, lines;
    uint32_t n, n_exc, last_exc;
};
void ls__cols_add(struct ls_cols *c, int64_t prev_t, const struct scry_log_entry *e);
/* Appends the entry columns to head and the lines to lines; empties c. */
void ls__cols_finish(struct ls_cols *c, struct scry_buf *head, struct scry_buf *lines);
void ls__cols_fini(struct ls_cols *c);
/* The time a line states (codec 4's t_ns predictor, FORMAT.md "Chunk"). */
bool ls__line_ts(const char *p, size_t len, int64_t *out);
/* Decodes n entries of a payload of codec 3 or 4 (lines point into p;
 * metadata into a, or skipped when a is NULL). False on any malformed or
 * trailing byte. */
bool ls__cols_get(uint8_t codec, const uint8_t *p, size_t len, uint32_t n, int64_t mint,
                  struct scry_arena *a, struct scry_log_entry *out);

#endif
