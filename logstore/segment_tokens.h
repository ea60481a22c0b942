/* segment_tokens.h — the token index of a segment being written
 * (segment_tokens.c; FORMAT.md "Token index"). segment_write.c feeds it
 * every line of every chunk, in chunk order, then writes the section. */
#ifndef SCRY_LOGSTORE_SEGMENT_TOKENS_H
#define SCRY_LOGSTORE_SEGMENT_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "core/buf.h"

struct ls_tokmap;

/* The flush's big arrays (the word map, the words, the postings, the file
 * being built): allocations of >= 4 MiB are 2 MiB-aligned and advised to
 * use transparent huge pages, so they fault in 2 MiB at a time (a page
 * fault costs tens of microseconds on a KVM guest) and miss the TLB less.
 * Freed with free(). ls__advise_huge advises the whole 2 MiB pages inside
 * p[0..len) (only advice: errors are ignored). */
void *ls__big_alloc(size_t len);
void ls__advise_huge(void *p, size_t len);
struct ls_segment_stats;
struct scry_err;

/* values: also key the key=value values (ls_opts.index_kv_values). */
struct ls_tokmap *ls__tokmap_create(bool values);
void ls__tokmap_destroy(struct ls_tokmap *m); /* NULL is a no-op */
/* Chunks are numbered from 0 and fed in increasing order: begin, lines, end. */
void ls__tokmap_begin_chunk(struct ls_tokmap *m, uint32_t chunk);
void ls__tokmap_line(struct ls_tokmap *m, const char *line, size_t len);
void ls__tokmap_end_chunk(struct ls_tokmap *m);
/* Appends the token index section (CRC included) to f, its zstd frames
 * through cc (its parameters are changed); fills st's token fields. */
int ls__tokmap_write(struct ls_tokmap *m, struct scry_buf *f, uint32_t n_chunks, int level,
                     ZSTD_CCtx *cc, struct ls_segment_stats *st, struct scry_err *err);

#endif
