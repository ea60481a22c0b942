/* fuzz_segment.c — the segment reader (logstore/segment_read.c) on
 * arbitrary bytes: open must validate or fail with SCRY_ECORRUPT; when it
 * opens, every chunk must decode or fail, and token lookups of every kind
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
        if (ls__chunk_parse(s->map + s->chunks[i].off, s->chunks[i].len, &c, NULL) == 0)
            (void)ls__chunk_payload(&c, &buf, &p, NULL);
    }
    /* A word (dictionary walk), a long hex piece (grams), a number (maps). */
    struct scry_str t[3] = { SCRY_STR("needle"), SCRY_STR("0af7651916cd43dd8448eb211c80319c"),
                             SCRY_STR("12345") };
    uint64_t *ids;
    size_t n;
    for (int i = 0; i < 3; i++)
        (void)ls__segment_token_chunks(s, &t[i], 1, a, &ids, &n, NULL);
    (void)ls__segment_value_chunks(s, "request completed", 17, a, &ids, &n);
    scry_arena_destroy(a);
    scry_buf_fini(&buf);
    ls__segment_release(s);
    return 0;
}
