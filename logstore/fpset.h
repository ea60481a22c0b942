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

/* Hex ids (README.md "Token index"): a word of >= LS_HEXID_MIN bytes, all
 * [0-9a-f], with a digit: trace and span ids, hashes, and plain numbers. */
#define LS_HEXID_MIN 5
/* Hex ids of at least gram_len + gram_step - 1 bytes are keyed by their
 * gram_len-byte pieces at offsets 0, gram_step, 2*gram_step, ...: any piece
 * of at least that many bytes of such an id contains one of them, at one of
 * gram_step alignments. The writer's choice is stored in the segment. 17/16
 * gives one key to a 32-digit trace id and finds it (and any longer needle);
 * 9/8 would find 16-digit span ids too, for three keys per trace id. */
#define LS_GRAM_LEN 17
#define LS_GRAM_STEP 16
/* Number-like words: >= LS_NUMISH_MIN digits, then at most 2 letters
 * (microseconds of a timestamp "476362z", a duration "890910ms"). */
#define LS_NUMISH_MIN 5

bool ls__is_numish(const char *p, size_t len);
/* Could w be a piece of a number-like word: digits, then at most 2 letters. */
bool ls__numish_piece(const char *p, size_t len);
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
