/* fuzz_segment.c — the segment reader (logstore/segment_read.c) on
 * arbitrary bytes: open must validate or fail with SCRY_ECORRUPT; when it
 * opens, every chunk must decode or fail (columnar payloads down to their
 * entries), and token lookups of every kind (and the line counts)
 * must answer, never crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logstore/ls_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ls_segment *s;
    if (ls__segment_open_mem(&s, data, size, "fuzz", NULL) != 0)
        return 0;
    struct scry_buf buf = { 0 };
    struct scry_arena *a = scry_arena_create(0);
    for (uint32_t i = 0; i < s->n_chunks; i++) {
        struct ls_chunk_src c;
        const uint8_t *p;
        if (ls__chunk_parse(s->map + s->chunks[i].off, s->chunks[i].len, &c, NULL) != 0 ||
            ls__chunk_payload(&c, &buf, &p, NULL) != 0)
            continue;
        /* Columnar payloads decode or fail; lines stay inside the payload. */
        uint32_t n = s->chunks[i].n;
        if ((c.codec == LS_CODEC_ZSTD_COLS || c.codec == LS_CODEC_ZSTD_COLS2) && n <= c.raw_len) {
            struct scry_log_entry *e = calloc(n + 1, sizeof *e);
            if (e && ls__cols_get(c.codec, p, c.raw_len, n, s->chunks[i].mint, a, e))
                for (uint32_t k = 0; k < n; k++)
                    if ((const uint8_t *)e[k].line.p < p ||
                        (const uint8_t *)e[k].line.p + e[k].line.len > p + c.raw_len)
                        abort();
            free(e);
        }
    }
    /* A word (dictionary walk), a long hex piece (grams), a number (maps). */
    struct scry_str t[3] = { SCRY_STR("needle"), SCRY_STR("0af7651916cd43dd8448eb211c80319c"),
                             SCRY_STR("12345") };
    uint64_t *ids;
    size_t n;
    for (int i = 0; i < 3; i++)
        (void)ls__segment_token_chunks(s, &t[i], 1, a, &ids, &n, NULL);
    (void)ls__segment_value_chunks(s, "request completed", 17, a, &ids, &n);
    /* Line counts (FORMAT.md "Line counts"): validated at open, so a count
     * never exceeds its chunk's entries. */
    for (int i = 0; i < 3; i++) {
        uint32_t *v = ls__segment_line_counts(s, t[i].p, t[i].len > 32 ? 32 : t[i].len, a);
        for (uint32_t c = 0; v && c < s->n_chunks; c++)
            if (v[c] != LS_COUNT_DECODE && v[c] > s->chunks[c].n)
                abort();
    }
    scry_arena_destroy(a);
    scry_buf_fini(&buf);
    ls__segment_release(s);
    return 0;
}
