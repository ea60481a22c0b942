/* fuzz_tombstones.c — the block tombstones file reader on arbitrary bytes.
 *
 * Each input is decoded with the CRC checked and (so the fuzzer gets past
 * it) unchecked, against a small and a huge series count. Whatever decodes
 * must be canonical (refs increasing and in range, intervals sorted,
 * disjoint, non-adjacent, within ±2^62), must re-encode to bytes that
 * decode to the same table, and lookups must agree with the table. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tsdb/tombstones.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, uint64_t n_series, bool no_crc)
{
    struct tsdb_tombs t, t2;
    if (tsdb_tombs_decode(data, size, n_series, no_crc, &t, NULL) != 0)
        return;
    for (size_t i = 0; i < t.n_refs; i++) {
        if (t.refs[i] >= n_series || (i && t.refs[i] <= t.refs[i - 1]))
            abort();
        if (t.first[i + 1] <= t.first[i] || t.first[i + 1] > t.n_iv)
            abort();
        for (uint32_t j = t.first[i]; j < t.first[i + 1]; j++) {
            const struct tsdb_interval *iv = &t.iv[j];
            if (iv->mint > iv->maxt || iv->mint < -TSDB_TOMBS_MAX_ABS_T ||
                iv->maxt > TSDB_TOMBS_MAX_ABS_T)
                abort();
            if (j > t.first[i] && iv->mint <= iv[-1].maxt + 1)
                abort();
        }
        size_t n;
        const struct tsdb_interval *v = tsdb_tombs_get(&t, t.refs[i], &n);
        if (!v || n != t.first[i + 1] - t.first[i])
            abort();
        size_t cur = 0;
        if (!tsdb_intervals_skip(v, n, &cur, v[0].mint) ||
            !tsdb_intervals_skip(v, n, &cur, v[n - 1].maxt))
            abort();
    }
    struct scry_buf b = { 0 };
    tsdb_tombs_encode(&t, &b);
    if (tsdb_tombs_decode((const uint8_t *)b.p, b.len, n_series, false, &t2, NULL) != 0)
        abort();
    if (t2.n_refs != t.n_refs || t2.n_iv != t.n_iv ||
        (t.n_iv && memcmp(t2.iv, t.iv, t.n_iv * sizeof *t.iv)) ||
        (t.n_refs && memcmp(t2.refs, t.refs, t.n_refs * sizeof *t.refs)))
        abort();
    /* The CRC-checked image is what the writer produced, byte for byte. */
    if (!no_crc && (b.len != size || memcmp(b.p, data, size)))
        abort();
    tsdb_tombs_fini(&t2);
    tsdb_tombs_fini(&t);
    scry_buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size, 64, false);
    check(data, size, 64, true);
    check(data, size, (uint64_t)1 << 31, true);
    return 0;
}
