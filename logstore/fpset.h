/* fpset.h — logstore/ only: the fingerprint set of a segment's token index
 * (FORMAT.md "Fingerprints"). A sorted multiset of (b-bit hash of a key,
 * chunk id), Golomb-Rice coded with a sample every LS_FP_SAMPLE entries, so
 * a probe decodes at most one group: an id token or a key=value value costs
 * ~2 bytes per chunk it occurs in instead of its characters. A probe can
 * answer a chunk that does not hold the key (a fingerprint collision, about
 * 2^-LS_FP_SLACK per probe); it never misses one. */
#ifndef SCRY_LOGSTORE_FPSET_H
#define SCRY_LOGSTORE_FPSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define LS_FP_SLACK 8      /* fingerprint bits beyond log2(keys): the Rice parameter */
#define LS_FP_SAMPLE 128   /* entries per sample */
#define LS_FP_DOMAIN_GRAM 1  /* key domains: the hash seed */
#define LS_FP_DOMAIN_VALUE 2

/* Hex ids (README.md "Token index"): a word of >= 8 bytes, all [0-9a-f],
 * with a digit and a letter. */
#define LS_HEXID_MIN 8
/* Hex ids of at least LS_GRAM_NEEDLE_MIN bytes are keyed by their LS_GRAM-byte
 * pieces at offsets 0, LS_GRAM, 2*LS_GRAM, ...: any piece of >= 2*LS_GRAM-1
 * bytes of such an id contains one of them at one of LS_GRAM alignments. */
#define LS_GRAM 8
#define LS_GRAM_NEEDLE_MIN (2 * LS_GRAM - 1)

bool ls__is_hexid(const char *p, size_t len);
bool ls__all_hex(const char *p, size_t len);

struct ls_fp_ent {
    uint64_t h;
    uint32_t chunk;
};
struct ls_fpw {
    struct ls_fp_ent *v;
    size_t n, cap;
};
/* Raw 64-bit key hash in a domain; the set keeps its top b bits. */
uint64_t ls__fp_hash(int domain, const char *p, size_t len);
void ls__fpw_add(struct ls_fpw *w, uint64_t hash, uint32_t chunk);
/* Sorts, dedups and appends the encoded set (FORMAT.md) to out. */
void ls__fpw_encode(struct ls_fpw *w, uint32_t n_chunks, struct scry_buf *out);
void ls__fpw_fini(struct ls_fpw *w);

struct ls_fpset {
    uint64_t n;
    unsigned b, k, c;
    uint32_t n_samples;
    const uint8_t *samples, *bits;
    size_t bits_len;
};
/* Parses and fully validates an encoded set at p[0..len); *used = its bytes.
 * Returns 0 or -1 (the caller reports SCRY_ECORRUPT with the offset). */
int ls__fpset_parse(struct ls_fpset *s, const uint8_t *p, size_t len, uint32_t n_chunks,
                    size_t *used);
/* Calls fn for the chunk of every entry with this hash (ascending chunk). */
void ls__fpset_probe(const struct ls_fpset *s, uint64_t hash,
                     void (*fn)(void *ud, uint32_t chunk), void *ud);

#endif
