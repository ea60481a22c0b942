/* block_internal.h — shared by the block_*.c, index_*.c, compact.c and
 * inspect.c files only: the constants of tsdb/FORMAT.md "Blocks", little
 * helpers for varints and blobs, the writer's in-memory model and the
 * reader's decoded tables. */
#ifndef SCRY_TSDB_BLOCK_INTERNAL_H
#define SCRY_TSDB_BLOCK_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "tsdb/block.h"
#include "tsdb/chunk.h"
#include "tsdb/chunk_internal.h"
#include "tsdb/tombstones.h"

/* ---- format constants (FORMAT.md "Blocks") ------------------------------ */

#define TSDB__IDX_MAGIC "SIDX"
#define TSDB__IDX_END_MAGIC "XDIS"
#define TSDB__CHK_MAGIC "SCHK"
#define TSDB__FILE_VERSION 1
#define TSDB__HDR_BYTES 8

enum { TSDB__SEC_META, TSDB__SEC_SYMBOLS, TSDB__SEC_SERIES, TSDB__SEC_POSTINGS,
       TSDB__SEC_LABELS, TSDB__SEC_PAGES, TSDB__N_SEC };

/* One TOC entry as stored: le64 off, le64 len, le32 crc, le32 reserved. */
struct tsdb__toc_entry {
    uint8_t off[8], len[8], crc[4], reserved[4];
};
_Static_assert(sizeof(struct tsdb__toc_entry) == 24, "TOC entry is 24 bytes");
_Static_assert(offsetof(struct tsdb__toc_entry, crc) == 16, "crc at 16");
#define TSDB__TOC_BYTES (TSDB__N_SEC * 24 + 8) /* entries, crc, end magic */
_Static_assert(TSDB__TOC_BYTES == 152, "FORMAT.md says the TOC is 152 bytes");

enum { TSDB__CODEC_RAW = 0, TSDB__CODEC_LZ4 = 1 };

#define TSDB__PAGE_MAX 65536u          /* logical bytes per chunk page */
#define TSDB__GROUP_DEFAULT 64u
#define TSDB__GROUP_MAX 4096u
#define TSDB__LABELS_MAX 256u          /* labels per series */
#define TSDB__CHUNKS_PER_SERIES_MAX (1u << 20)
#define TSDB__BLOB_RAW_MAX (1u << 30)  /* 1 GiB: decompressed blob limit */
#define TSDB__SERIES_MAX 0x7fffffffu   /* series numbers fit a u32 */

static inline void tsdb__le32_put(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void tsdb__le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t tsdb__le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t tsdb__le64(const uint8_t *p)
{
    return (uint64_t)tsdb__le32(p) | (uint64_t)tsdb__le32(p + 4) << 32;
}

static inline void tsdb__buf_uvarint(struct scry_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    scry_buf_put(b, tmp, tsdb__put_uvarint(tmp, v));
}
static inline void tsdb__buf_varint(struct scry_buf *b, int64_t v)
{
    tsdb__buf_uvarint(b, tsdb__zz(v));
}

/* A bounds-checked reader over bytes from disk. Any failed read sets bad,
 * and every later read returns 0, so decoders check once per record. */
struct tsdb__rd {
    const uint8_t *p, *end;
    bool bad;
};
static inline uint64_t tsdb__rd_uvarint(struct tsdb__rd *r)
{
    uint64_t v = 0;
    if (r->bad || tsdb__get_uvarint(&r->p, r->end, &v)) {
        r->bad = true;
        return 0;
    }
    return v;
}
static inline int64_t tsdb__rd_varint(struct tsdb__rd *r)
{
    return tsdb__unzz(tsdb__rd_uvarint(r));
}
/* A uvarint that must be <= max; otherwise the reader goes bad. */
static inline uint64_t tsdb__rd_uvarint_max(struct tsdb__rd *r, uint64_t max)
{
    uint64_t v = tsdb__rd_uvarint(r);
    if (v > max) {
        r->bad = true;
        return 0;
    }
    return v;
}

/* Appends a blob (FORMAT.md "blob") holding raw[0..len): lz4hc when
 * compress is set and it is smaller, else raw. */
/* hc: an LZ4HC state (tsdb__lz4hc_state_create, free with free()), or NULL
 * to store the blob raw. */
void tsdb__blob_put(struct scry_buf *out, const uint8_t *raw, size_t len, void *hc);
void *tsdb__lz4hc_state_create(void);
/* Decodes the blob p[0..len): *raw points into p (raw codec) or into
 * scratch (lz4). SCRY_ECORRUPT (message without path: callers prefix). */
int tsdb__blob_get(const uint8_t *p, size_t len, struct scry_buf *scratch, const uint8_t **raw,
                   size_t *raw_len, struct scry_err *err);

/* ---- writer model -------------------------------------------------------- */

struct tsdb__wseries {
    uint32_t lab_off, n_labels;   /* into labs[] (pairs of string ids) */
    uint64_t chunk_first;         /* into chunks */
    uint32_t n_chunks;
};
struct tsdb__wchunk {
    int64_t mint_ms, maxt_ms;
    uint32_t len;
};
struct tsdb__wpage {
    uint32_t raw_len, file_len, crc;
    uint8_t codec;
};

struct tsdb__writer {
    const struct tsdb_block_write_opts *opts;
    void *lz4hc; /* LZ4HC state, reused; NULL with opts->no_compress */
    struct tsdb_block_meta meta;
    /* interned strings: ids in order of first appearance */
    struct scry_arena *a;
    const char **strs;
    size_t n_strs, strs_cap;
    uint32_t *ht; /* open addressing: string id + 1, 0 empty */
    size_t ht_cap;
    uint32_t *labs; /* name id, value id, ... */
    size_t n_labs, labs_cap;
    struct tsdb__wseries *series;
    size_t n_series, series_cap;
    struct tsdb__wchunk *chunks;
    size_t n_chunks, chunks_cap;
    struct tsdb__wpage *pages;
    size_t n_pages, pages_cap;
};

/* Builds the index bytes from the writer model (index_write.c). */
void tsdb__index_build(const struct tsdb__writer *w, struct scry_buf *out);
/* The canonical meta.json text for m (FORMAT.md "0 meta"). */
void tsdb__meta_json(const struct tsdb_block_meta *m, struct scry_buf *out);

/* ---- reader --------------------------------------------------------------- */

struct tsdb__name {
    uint32_t sym;
    uint32_t first_pair, n_pairs;
    uint64_t n_series; /* sum over its pairs */
};
struct tsdb__pair {
    uint32_t value_sym;
    uint32_t n_series;
    uint64_t list_off; /* absolute offset in the index file */
    uint32_t list_len;
};
struct tsdb__page {
    uint64_t raw_off, file_off;
    uint32_t raw_len, file_len, crc;
    uint8_t codec;
};

struct tsdb_block {
    char *dir, *index_path, *chunks_path;
    struct tsdb_block_meta meta;
    const uint8_t *idx, *chk;
    size_t idx_len, chk_len;
    bool verify_crc, check_meta;
    /* symbols: NUL-terminated strings in sym_buf */
    uint32_t n_symbols;
    const char **sym;
    uint32_t *sym_len;
    char *sym_buf;
    /* series */
    uint64_t n_series;
    uint32_t group_size;
    uint64_t n_groups;
    uint64_t *group_off; /* n_groups + 1 absolute offsets */
    /* postings table */
    struct tsdb__name *names;
    uint32_t n_names;
    struct tsdb__pair *pairs;
    uint64_t n_pairs;
    /* pages */
    struct tsdb__page *pages;
    uint64_t n_pages;
    uint64_t logical_len;
    /* deleted ranges by series number (the tombstones file); replaced
     * only while no querier of the block is open (the database's gate) */
    struct tsdb_tombs tombs;
};

/* Open with knobs for the fuzz target: skip page CRCs and meta.json. */
struct tsdb__open_opts {
    bool no_page_crc, no_meta, no_index_crc;
};
int tsdb__block_open(struct tsdb_block **out, const char *dir, const struct tsdb__open_opts *o,
                     struct scry_err *err);
/* Validates and decodes the index of b (index_read.c). */
int tsdb__index_load(struct tsdb_block *b, bool verify_crc, struct scry_err *err);
void tsdb__index_free(struct tsdb_block *b);
/* Rewrites the section and TOC CRCs of an index image in place, if its TOC
 * is well-formed enough to find them (fuzzing). Returns 0 or -1. */
int tsdb__index_fix_crcs(uint8_t *p, size_t len);

/* Symbol lookup: number of the symbol equal to s, or -1. */
int64_t tsdb__sym_find(const struct tsdb_block *b, const char *s);
/* The name entry for symbol name_sym, or NULL. */
const struct tsdb__name *tsdb__name_find(const struct tsdb_block *b, uint32_t name_sym);

/* A decoded series group. */
struct tsdb__gseries {
    uint32_t lab_off, n_labels;
    uint32_t chunk_first, n_chunks;
};
struct tsdb__gchunk {
    int64_t mint_ms, maxt_ms;
    uint64_t off; /* logical */
    uint32_t len;
};
struct tsdb__group {
    uint64_t gi; /* UINT64_MAX when empty */
    uint32_t n;
    struct tsdb__gseries *s;
    size_t s_cap;
    struct scry_label *labels;
    size_t labels_cap;
    struct tsdb__gchunk *chunks;
    size_t chunks_cap;
    struct scry_buf scratch;
};
void tsdb__group_init(struct tsdb__group *g);
void tsdb__group_fini(struct tsdb__group *g);
int tsdb__group_load(const struct tsdb_block *b, uint64_t gi, struct tsdb__group *g,
                     struct scry_err *err);

/* The page holding logical offset off, or n_pages. */
uint64_t tsdb__page_find(const struct tsdb_block *b, uint64_t off);
/* Chunk bytes by logical offset, through a one-page cache. */
struct tsdb__page_cache {
    uint64_t page; /* UINT64_MAX when empty */
    const uint8_t *p;
    uint8_t *buf;
};
int tsdb__chunk_bytes(const struct tsdb_block *b, struct tsdb__page_cache *pc, uint64_t off,
                      uint32_t len, const uint8_t **p, struct scry_err *err);
void tsdb__page_cache_fini(struct tsdb__page_cache *pc);

/* ---- postings over sorted u32 arrays (index_postings.c) ------------------- */

struct tsdb__plist {
    uint32_t *v;
    size_t n, cap;
};
void tsdb__plist_fini(struct tsdb__plist *l);
/* Appends the decoded list of pair pi (SCRY_ECORRUPT on bad bytes). */
int tsdb__postings_read(const struct tsdb_block *b, uint64_t pi, struct tsdb__plist *out,
                        struct scry_buf *scratch, struct scry_err *err);
/* out = a ∩ b, a ∪ b, a \ b (out must differ from the inputs). */
void tsdb__plist_intersect(const struct tsdb__plist *a, const struct tsdb__plist *b,
                           struct tsdb__plist *out);
void tsdb__plist_union(const struct tsdb__plist *a, const struct tsdb__plist *b,
                       struct tsdb__plist *out);
void tsdb__plist_subtract(const struct tsdb__plist *a, const struct tsdb__plist *b,
                          struct tsdb__plist *out);
/* Sorts and removes duplicates in place. */
void tsdb__plist_sort_unique(struct tsdb__plist *l);
/* The series numbers of b matching all matchers, sorted (index_postings.c). */
int tsdb__select_postings(const struct tsdb_block *b, const struct scry_matcher *ms, size_t n_ms,
                          struct tsdb__plist *out, struct scry_err *err);

/* Removes dir and its files (one level deep). */
int tsdb__rmdir_all(const char *dir, struct scry_err *err);
int tsdb__fsync_dir(const char *dir, struct scry_err *err);

/* ---- the blocks table (block_catalog.c) ------------------------------------ */

struct scry_catalog;
int tsdb__catalog_migrate(struct scry_catalog *c, struct scry_err *err);
/* In one transaction: inserts m, and marks each source row compacted into
 * m (those rows are dead from the commit on; purge deletes them). */
int tsdb__catalog_record(struct scry_catalog *c, const struct tsdb_block_meta *m,
                         const char *const *sources, size_t n_sources, int64_t now_ms,
                         struct scry_err *err);
/* Deletes the rows of ids in one transaction. */
int tsdb__catalog_delete(struct scry_catalog *c, const char *const *ids, size_t n,
                         struct scry_err *err);
/* Deletes the rows marked compacted. */
int tsdb__catalog_purge(struct scry_catalog *c, struct scry_err *err);
/* Calls fn for each row (live: compacted_into is NULL), ordered by mint. */
struct tsdb__catalog_row {
    const char *id;
    int64_t mint_ms, maxt_ms;
    uint64_t n_series, n_samples, bytes;
    uint32_t level;
    bool live;
};
int tsdb__catalog_list(struct scry_catalog *c,
                       int (*fn)(void *ud, const struct tsdb__catalog_row *r), void *ud,
                       struct scry_err *err);

#endif
