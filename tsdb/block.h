/* block.h — immutable on-disk blocks: write, open, query, compact, inspect.
 *
 * A block is a directory data/tsdb/blocks/<ID>/ with `chunks`, `index` and
 * `meta.json` (tsdb/FORMAT.md "Blocks"). The writer takes series through a
 * callback so it does not depend on the head; the reader mmaps the files,
 * validates them (bytes from disk are never trusted: SCRY_ECORRUPT with
 * path and offset) and serves the struct scry_querier seam. A block is
 * immutable once written, so an open block may be read by many threads
 * as long as each uses its own querier. */
#ifndef SCRY_TSDB_BLOCK_H
#define SCRY_TSDB_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/labels.h"
#include "core/querier.h"
#include "tsdb/chunk.h"

#define TSDB_BLOCK_ID_LEN 26

/* ---- writing ----------------------------------------------------------- */


/* One series as the source yields it; everything is borrowed until the
 * next call to next(). Chunks are in time order; they may overlap only when
 * opts.rechunk is set (compaction), and then duplicates are removed.
 * Instead of chunks (then NULL and 0) a source may give the samples
 * themselves: the writer reads them once and encodes them as rechunk does
 * (whatever opts.rechunk says). The head does this for series whose open
 * chunk is in range: encoding chunks only for the writer to decode and
 * re-encode them doubled the cost of a flush (tsdb/README.md "Flush"). */
struct tsdb_block_series {
    struct scry_labels ls;
    const struct tsdb_chunk_meta *chunks;
    size_t n_chunks;
    struct scry_sample_iter *samples; /* time order; NULL: use chunks */
};

/* Yields series in strictly increasing scry_labels_cmp order: returns 1
 * with *out filled, 0 at the end, or a negative SCRY_E* code (err filled). */
struct tsdb_block_source {
    int (*next)(void *ud, struct tsdb_block_series *out, struct scry_err *err);
};

struct tsdb_block_write_opts {
    /* Decode each series' chunks and re-encode them in chunks of up to
     * TSDB_CHUNK_MAX_SAMPLES samples (longer chunks amortise headers:
     * 1.204 -> 1.104 bytes/sample on rwgen 10k), merging overlapping chunks
     * sample by sample (the first chunk's sample wins a duplicate). */
    bool rechunk;
    bool no_compress; /* store pages and index blobs raw (tests, bench) */
    uint32_t level;   /* 0 means 1 */
    uint32_t group_size; /* series per index group; 0 means 64 */
};

struct tsdb_block_meta {
    char id[TSDB_BLOCK_ID_LEN + 1];
    int64_t mint_ms, maxt_ms; /* inclusive */
    uint64_t n_series, n_samples, n_chunks;
    uint64_t index_bytes, chunks_bytes, bytes; /* bytes = all files */
    uint32_t level;
};

/* Writes a block of [mint_ms, maxt_ms] into blocks_dir (created if absent):
 * as <ID>.tmp, fsynced, renamed to <ID>, parent fsynced. Samples outside
 * the range are dropped when rechunking and rejected otherwise
 * (SCRY_EINVAL). A source yielding no series writes nothing and returns
 * SCRY_ENOTFOUND. On success id_out (27 bytes) and *meta_out (may be NULL)
 * are filled. On failure the .tmp directory is removed. */
int tsdb_block_write(const char *blocks_dir, const struct tsdb_block_source *src, void *ud,
                     int64_t mint_ms, int64_t maxt_ms, const struct tsdb_block_write_opts *opts,
                     char *id_out, struct tsdb_block_meta *meta_out, struct scry_err *err);

/* A fresh time-sortable block ID (26 chars + NUL) for the clock time now_ms. */
void tsdb_block_id_new(char out[TSDB_BLOCK_ID_LEN + 1], int64_t now_ms);
bool tsdb_block_id_valid(const char *s, size_t len);

/* ---- reading ----------------------------------------------------------- */

struct tsdb_block;

/* Opens the block directory dir (mmap, validates header, TOC, every index
 * CRC and meta.json). SCRY_ECORRUPT with the path and offset, SCRY_EIO with
 * errno. After success, call close. Chunk pages are validated lazily. */
int tsdb_block_open(struct tsdb_block **out, const char *dir, struct scry_err *err);
void tsdb_block_close(struct tsdb_block *b); /* NULL is a no-op */
const struct tsdb_block_meta *tsdb_block_meta(const struct tsdb_block *b);
const char *tsdb_block_dir(const struct tsdb_block *b);

/* A querier over [mint_ms, maxt_ms] of the block (select_streams is NULL).
 * The block must outlive it; close it with q->ops->close(q). Series sets
 * allocate from the heap and free on close; label lists go to the arena. */
int tsdb_block_querier(struct tsdb_block *b, int64_t mint_ms, int64_t maxt_ms,
                       struct scry_querier **out, struct scry_err *err);

/* ---- deletion (block_tombs.c; tsdb/FORMAT.md "tombstones file") ---- */

struct tsdb_tombs;

/* Adds [mint_ms, maxt_ms] (clamped to the block) to the deleted ranges of
 * every series matching ms with a chunk overlapping it, and writes the
 * block's tombstones file atomically (temp name, fsync, rename). *out gets
 * the new table, to hand to tsdb_block_set_tombstones while no querier of
 * b is open; *n_series counts the series that got the range (0: nothing
 * was written and *out is empty). */
int tsdb_block_delete(struct tsdb_block *b, const struct scry_matcher *ms, size_t n_ms,
                      int64_t mint_ms, int64_t maxt_ms, struct tsdb_tombs *out,
                      uint64_t *n_series, struct scry_err *err);
/* Replaces b's table by *t (taken; *t is left empty). */
void tsdb_block_set_tombstones(struct tsdb_block *b, struct tsdb_tombs *t);
/* Series with deleted ranges, and ranges. */
void tsdb_block_tombstone_stats(const struct tsdb_block *b, uint64_t *n_series,
                                uint64_t *n_intervals);

/* Cardinality statistics of the index (inspect). Calls fn for each label
 * name with its number of values and series, and for each pair. */
struct tsdb_block_label_stat {
    const char *name, *value; /* value NULL for a name row */
    uint64_t n_values, n_series;
};
int tsdb_block_label_stats(struct tsdb_block *b,
                           void (*fn)(void *ud, const struct tsdb_block_label_stat *st),
                           void *ud, struct scry_err *err);

/* ---- the set of blocks in a data directory ------------------------------ */

struct tsdb_blocks;

struct tsdb_blocks_opts {
    int64_t retention_ms;         /* 0 = keep forever */
    int64_t retention_size_bytes; /* 0 = unlimited */
    int64_t block_duration_ms;    /* smallest block range; 0 = 2h */
    int64_t (*now_ms)(void *ud);  /* clock; NULL = wall clock */
    void *clock_ud;
};

/* Opens data_dir/catalog.db and data_dir/tsdb/blocks/, makes the directory
 * agree with the catalog (deletes *.tmp and uncatalogued block dirs, counts
 * catalogued blocks whose directory is missing: n_missing) and opens every
 * block, sorted by mint. After success, close. */
int tsdb_blocks_open(struct tsdb_blocks **out, const char *data_dir,
                     const struct tsdb_blocks_opts *opts, struct scry_err *err);
void tsdb_blocks_close(struct tsdb_blocks *bs);
size_t tsdb_blocks_count(const struct tsdb_blocks *bs);
struct tsdb_block *tsdb_blocks_at(struct tsdb_blocks *bs, size_t i); /* by mint */
size_t tsdb_blocks_missing(const struct tsdb_blocks *bs);
const char *tsdb_blocks_dir(const struct tsdb_blocks *bs); /* data_dir/tsdb/blocks */

/* Writes a block from src and records it in the catalog (level 1). */
int tsdb_blocks_add(struct tsdb_blocks *bs, const struct tsdb_block_source *src, void *ud,
                    int64_t mint_ms, int64_t maxt_ms, struct tsdb_block_meta *meta_out,
                    struct scry_err *err);

/* Merges blocks [first, first + n) (adjacent by mint) into one: series by
 * label order, overlapping samples merged, duplicates removed, deleted
 * samples (tombstones) dropped; when nothing is left the sources are just
 * deleted (meta_out->n_series is then 0). The new block
 * is written, then one catalog transaction records it and deletes the
 * sources' rows, then the source directories are removed. */
int tsdb_blocks_compact_range(struct tsdb_blocks *bs, size_t first, size_t n,
                              struct tsdb_block_meta *meta_out, struct scry_err *err);

/* Plans and runs compactions until none applies (see tsdb/README.md
 * "Compaction plan"); *n_done (may be NULL) counts merges. */
int tsdb_blocks_compact(struct tsdb_blocks *bs, size_t *n_done, struct scry_err *err);

/* Rewrites every block that has tombstones without the deleted samples
 * (same range and level; a block left empty is deleted), swapping old for
 * new in one catalog transaction each, as compaction does. *n_done (may be
 * NULL) counts the blocks rewritten or deleted. */
int tsdb_blocks_clean_tombstones(struct tsdb_blocks *bs, size_t *n_done, struct scry_err *err);

/* Deletes blocks wholly older than now - retention_ms, then the oldest
 * while the total size exceeds retention_size_bytes. *n_deleted may be NULL. */
int tsdb_blocks_retention(struct tsdb_blocks *bs, size_t *n_deleted, struct scry_err *err);

/* Prints blocks (id, range, series, samples, bytes, bytes/sample, level),
 * totals (chunks and index bytes per sample apart), the top 10 label names
 * by number of values and the top 10 label pairs by series count (summed
 * over blocks). Opens the set like tsdb_blocks_open, so crash leftovers are
 * cleaned as the server would. */
int tsdb_inspect(const char *data_dir, FILE *out, struct scry_err *err);

#endif
