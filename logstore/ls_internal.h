/* ls_internal.h — logstore/ only: the head, segments and the store. */
#ifndef SCRY_LOGSTORE_LS_INTERNAL_H
#define SCRY_LOGSTORE_LS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/appender.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/catalog.h"
#include "core/labels.h"
#include "core/matcher.h"
#include "core/querier.h"
#include "core/wal.h"
#include "logstore/format.h"
#include "logstore/fpset.h"
#include "logstore/logstore.h"

/* A compressed chunk, or (codec 0) raw entries. Bytes are borrowed.
 * LS_CODEC_STORED (querier.c only, never seen by the decoder): p/len are
 * the chunk as stored in a segment, not parsed yet (its CRC unchecked). */
#define LS_CODEC_STORED 0xff
struct ls_chunk_src {
    uint8_t codec;
    const uint8_t *p;  /* codec 0: the raw payload; else the compressed bytes */
    size_t len;        /* bytes at p */
    uint32_t raw_len, n;
    int64_t mint, maxt;
    uint32_t counted;  /* > 0: not decoded; stands for this many matching entries */
    uint32_t match1;   /* 1 + its entries matching the count hint's literal, when known; or 0 */
};

/* ---- head ---- */

struct ls_hchunk {
    int64_t mint, maxt;
    uint32_t n, raw_len, comp_len;
    uint8_t *bytes; /* the raw entries (codec 0: comp_len == raw_len), in the head's slab */
};

/* Where a head keeps its cut chunks: bump-allocated from huge-page regions,
 * freed all at once with the head (head.c "the chunk slab"). */
struct ls_slab;

struct ls_stream {
    uint64_t ref, hash;
    struct ls_stream *hnext, *rnext;  /* chains: by label hash, by ref */
    struct scry_labels ls;            /* owned: one allocation with the strings */
    struct ls_hchunk *chunks;
    size_t n_chunks, cap_chunks;
    struct ls_slab *slab;             /* the head's, where cut chunks go */
    struct scry_buf open;             /* raw entries of the open chunk; kept across cuts */
    int64_t open_mint, open_maxt;
    uint32_t open_n;
    bool has_last;                    /* last_*: the newest entry, for order and duplicates */
    int64_t last_t;
    uint64_t last_line_hash;          /* valid when open_n == 0 (set at a cut, or the floor) */
    size_t last_line_len;
    size_t last_line_off;             /* open_n > 0: the newest line is at open.p + this */
};

struct ls_pair {                      /* stream postings of one label pair */
    struct ls_pair *next;
    char *key;                        /* name \xff value \0 */
    uint64_t *refs;
    size_t n, cap;
};

/* Each stream's newest entry as of the last cut (flush) or the segments at
 * open, by label hash: a stream created again in the head starts from it, so
 * the ordering rule holds across flushes and restarts (README "Ordering"). */
struct ls_floor_ent {
    uint64_t hash;                    /* label hash; 0 = empty slot */
    int64_t t;
    uint64_t line_hash;
    size_t line_len;                  /* SIZE_MAX: line unknown (from a segment) */
};
struct ls_floor {
    struct ls_floor_ent *v;
    size_t n, cap;                    /* cap: a power of two */
};
/* Raises the floor of a label hash to (t, line) if t is not older. */
void ls__floor_set(struct ls_floor *f, uint64_t hash, int64_t t, uint64_t line_hash,
                   size_t line_len);
void ls__floor_fini(struct ls_floor *f);

struct ls_head {
    struct ls_stream **hb, **rb;      /* buckets by hash and by ref, n_buckets each */
    struct ls_pair **pb;
    size_t n_buckets, n_pbuckets, n_streams, n_pairs;
    uint64_t next_ref;
    uint64_t n_entries, raw_bytes;
    int64_t mint, maxt;
    struct ls_floor *floor;           /* borrowed from the store; may be NULL */
    struct ls_slab *slab;             /* owned: the cut chunks of this head's streams */
};
/* Records every stream's newest entry into h->floor (before a flush empties h). */
void ls__head_save_floor(struct ls_head *h);

void ls__head_init(struct ls_head *h, uint64_t next_ref);
void ls__head_fini(struct ls_head *h);
struct ls_stream *ls__head_get(struct ls_head *h, const struct scry_labels *ls, uint64_t hash);
struct ls_stream *ls__head_by_ref(struct ls_head *h, uint64_t ref);
/* ref 0 → next_ref. Copies the labels. */
struct ls_stream *ls__head_create(struct ls_head *h, const struct scry_labels *ls, uint64_t ref);
/* 0 appended, 1 duplicate ignored, SCRY_EINVAL out of order. */
int ls__head_append(struct ls_head *h, struct ls_stream *s, const struct scry_log_entry *e);
/* Checks an entry against the newest (last_t, line) without appending: 0,
 * 1 (duplicate), SCRY_EINVAL. The line is compared by its bytes when
 * last_line is not NULL, else by (hash, len): hashing every line only for
 * the rare equal timestamp cost ~7 % of the append path. */
int ls__order_check(bool has_last, int64_t last_t, const char *last_line, uint64_t last_hash,
                    size_t last_len, const struct scry_log_entry *e);
/* Bytes of the uvarint of v. */
static inline size_t ls__uvarint_len(uint64_t v)
{
    size_t n = 1;
    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}
void ls__head_cut(struct ls_stream *s);
/* Sorted refs of the streams matching every matcher, in a. */
void ls__head_select(struct ls_head *h, const struct scry_matcher *ms, size_t n_ms,
                     struct scry_arena *a, uint64_t **out, size_t *n);

/* ---- segments ---- */

struct ls_seg_chunk {
    uint64_t off, len;
    int64_t mint, maxt;
    uint32_t n, stream;
};
struct ls_seg_stream {
    struct scry_labels ls;
    uint32_t first_chunk, n_chunks;
};
struct ls_seg_pair {
    const char *name, *value;
    uint64_t *ids;
    size_t n;
};

struct ls_segment {
    atomic_int refs;
    char *dir, *path, id[24];
    uint8_t *map;
    size_t len;
    struct scry_arena *a;
    struct ls_seg_stream *streams;
    uint32_t n_streams, n_chunks;
    struct ls_seg_chunk *chunks;
    struct ls_seg_pair *pairs;
    size_t n_pairs;
    /* The token index (FORMAT.md "Token index"), expanded at open: */
    uint32_t n_dict;
    const char *blob;                 /* the dictionary's tokens, concatenated */
    uint32_t *tok_off;                /* n_dict + 1 offsets into blob */
    const uint8_t *dict;              /* the decompressed dictionary */
    uint32_t *post_off;               /* n_dict + 1: token i's postings in dict */
    const uint8_t *counts;            /* LS_TOK_COUNTS: line counts, one uvarint per posting */
    uint32_t *cnt_off;                /* n_dict + 1: token i's counts in counts */
    uint8_t count_min;                /* tokens in fewer chunks have no counts */
    uint8_t tok_flags, gram_len, gram_step;
    const uint8_t *hexmap, *nummap;   /* n_chunks bits each: chunk holds a hex id / a number */
    struct ls_fpset fp;
    uint64_t dict_bytes, fp_bytes;    /* on disk, for stats */
    int64_t mint, maxt;
    uint64_t n_entries;
};

/* Opens and validates dir/segment: SCRY_ECORRUPT with path and offset. */
int ls__segment_open(struct ls_segment **out, const char *dir, struct scry_err *err);
/* Validates a segment image in memory (the fuzz target); path for messages. */
int ls__segment_open_mem(struct ls_segment **out, const uint8_t *p, size_t len, const char *path,
                         struct scry_err *err);
void ls__segment_acquire(struct ls_segment *s);
void ls__segment_release(struct ls_segment *s);
/* The dictionary entry holding blob offset pos: the last i with
 * tok_off[i] <= pos (token lookup and counting both map a blob hit back). */
static inline uint32_t ls__dict_entry_at(const struct ls_segment *s, uint32_t pos)
{
    uint32_t lo = 0, hi = s->n_dict;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (s->tok_off[mid] <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}
/* Every dictionary token that contains tok[0..len), once each, in
 * dictionary order: the walk of token lookup and of line counting
 * (segment_read.c). */
struct ls_dict_walk {
    const char *q, *end, *tok;
    size_t len, rare; /* rare: the index in tok of its rarest byte */
    uint32_t last;
};
void ls__dict_walk_init(struct ls_dict_walk *w, const struct ls_segment *s, const char *tok,
                        size_t len);
/* The next such token's index, or UINT32_MAX when there is none left. */
uint32_t ls__dict_walk_next(struct ls_dict_walk *w, const struct ls_segment *s);
/* The chunk ids every line containing all of toks can be in (README.md "Tokens"). */
int ls__segment_token_chunks(struct ls_segment *s, const struct scry_str *toks, size_t n,
                             struct scry_arena *a, uint64_t **out, size_t *n_out,
                             struct scry_err *err);
/* The chunk ids that may hold a key=value pair with this (lower-cased) value:
 * a superset (fingerprints) for values of up to LS_TOKEN_MAX bytes; *n_out
 * SIZE_MAX (every chunk) when the segment does not key its values. */
int ls__segment_value_chunks(struct ls_segment *s, const char *value, size_t len,
                             struct scry_arena *a, uint64_t **out, size_t *n_out);
/* Per chunk id, the exact number of lines holding lit (a lower-case ASCII
 * alphanumeric word shorter than LS_TOKEN_MAX) from the token index's line
 * counts, or LS_COUNT_DECODE where the chunk must be decoded to know
 * (README.md "Counting from the index"). NULL when the segment cannot
 * count lit at all (no counts, or lit not such a word). */
#define LS_COUNT_DECODE UINT32_MAX
uint32_t *ls__segment_line_counts(struct ls_segment *s, const char *lit, size_t len,
                                  struct scry_arena *a);
void ls__segment_select(struct ls_segment *s, const struct scry_matcher *ms, size_t n_ms,
                        struct scry_arena *a, uint64_t **out, size_t *n);

struct ls_segment_stats {
    uint32_t n_streams, n_chunks;
    uint64_t n_entries, raw_bytes, bytes;
    uint64_t chunk_bytes, stream_bytes, token_bytes;  /* sections: chunks, streams+labels, tokens */
    uint64_t dict_bytes, fp_bytes, n_dict, n_fp;      /* inside the token index */
    uint64_t count_bytes;                             /* the line counts, inside it too */
    int64_t mint, maxt;
};
/* Writes the head's streams (chunks all cut) into dir/segment via segment.tmp. */
int ls__segment_write(const char *dir, struct ls_stream **streams, size_t n, int zstd_level,
                      bool kv_values, struct ls_segment_stats *st, struct scry_err *err);

/* Decompresses (or borrows) a chunk's raw payload into *buf. */
int ls__chunk_payload(const struct ls_chunk_src *c, struct scry_buf *buf, const uint8_t **out,
                      struct scry_err *err);
/* Parses a stored chunk at p[0..len) into a source (CRC checked). */
int ls__chunk_parse(const uint8_t *p, size_t len, struct ls_chunk_src *out, struct scry_err *err);

/* ---- the store ---- */

struct ls_store {
    struct scry_appendable appendable;
    struct scry_queryable queryable;
    struct ls_opts opts;
    char *data_dir, *logs_dir, *wal_dir, *seg_dir;
    pthread_mutex_t mu;               /* head, frozen, segs, catalog */
    pthread_mutex_t flush_mu;         /* one flush at a time; taken before mu */
    struct ls_head head;
    /* The head a flush is writing (or a failed flush left): immutable, read
     * under mu, freed once its segment is published. Its WAL records are
     * those of segments <= frozen_upto. */
    struct ls_head *frozen;
    uint32_t frozen_upto;
    struct scry_wal *wal;
    struct scry_catalog *cat;
    struct ls_segment **segs;
    size_t n_segs;
    uint32_t wal_upto, seq;
    struct ls_floor floor;
    uint64_t dropped_out_of_order;
};

int ls__querier_new(struct ls_store *st, int64_t mint, int64_t maxt, struct scry_querier **out,
                    struct scry_err *err);

/* ---- the querier: querier.c, querier_decode.c, querier_iter.c ---- */

/* The chunk sources of one label set, in time order (arena-owned). */
struct ls_grp {
    struct scry_labels ls;
    struct ls_chunk_src *v;
    size_t n, cap, seq;
};

#define LS_DECODE_WORKERS 2
#define LS_RING 6 /* slots: jobs decoded ahead of the consumer, at most */

struct ls_dslot {
    uint64_t counted;          /* the job was a counted chunk: its one entry stands for this many */
    struct scry_buf dec;
    struct scry_arena *md;     /* metadata of the entries */
    struct scry_log_entry *ents;
    size_t n_ents, cap_ents;
    struct scry_err err;
    size_t done;               /* job + 1 once decoded (or skipped) */
};

/* Decodes jobs (chunk sources, in reading order) into a ring of slots,
 * on worker threads when there is more than one job (querier_decode.c). */
struct ls_decoder {
    const struct ls_chunk_src **jobs;
    size_t n_jobs;
    int64_t mint, maxt;
    const struct scry_str *lits;
    size_t n_lits;
    struct ls_dslot slots[LS_RING];
    /* Counted jobs (one stand-in entry each) are served on the caller's
     * thread from cslot; only the others, djobs[0..n_djobs) (dix: job →
     * index there), go through the workers and the ring, whose counters
     * below count djobs. */
    struct ls_dslot cslot;
    const struct ls_chunk_src **djobs;
    size_t *dix, n_djobs;
    /* threaded mode: n_workers runs of worker() asked of the process-wide
     * pool (querier_decode.c); pool_queued of them not started yet,
     * pool_running running (both under the pool's lock) */
    int n_workers;
    int pool_queued, pool_running;
    struct ls_decoder *pool_next;
    pthread_mutex_t mu;
    pthread_cond_t cv_ready, cv_space;
    size_t next_job;           /* the next job a worker claims */
    size_t consumed;           /* jobs below this are released by the consumer */
    size_t skip_to;            /* jobs below this are not decoded */
    bool stop;
};

/* jobs, n_jobs, the time range and lits set: creates the slots and starts
 * the workers (none with SCRY_LS_DECODE_THREADS=0 or fewer than 2 jobs to
 * decode: counted jobs do not count). */
void ls__decoder_start(struct ls_decoder *d);
/* Job j decoded, in its slot; j never decreases between calls. Never NULL:
 * a decoding error is in the slot's err. */
struct ls_dslot *ls__decoder_get(struct ls_decoder *d, size_t j);
/* Joins the workers and frees the slots; d itself is the caller's. */
void ls__decoder_stop(struct ls_decoder *d);

/* The stream set over groups v[0..n) (sorted by label set, arena-owned),
 * read in h's direction with h's time range and line_contains; the
 * literals are copied into a (querier_iter.c). */
struct scry_stream_set *ls__stream_set_new(struct ls_grp *v, size_t n,
                                           const struct scry_select_hints *h,
                                           struct scry_arena *a);
int ls__appender_begin(struct scry_appendable *s, const char *tenant, struct scry_appender **out,
                       struct scry_err *err);
int ls__wal_replay(struct ls_store *st, struct scry_err *err);
void ls__wal_put_stream(struct scry_buf *b, const struct ls_stream *s);


int ls__cmp_u64(const void *a, const void *b);

#endif
