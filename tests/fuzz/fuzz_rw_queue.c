/* fuzz_rw_queue.c — what the agent's remote_write queue reads from outside:
 * queue records from disk (col__rwq_rec_valid, then the walk a shard does
 * over a valid record) and Retry-After header values. Besides not crashing
 * or reading out of bounds: a valid record's entries end exactly at its
 * end, and a Retry-After that parses is never negative but -1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/rw_queue_internal.h"
#include "core/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    uint32_t n = 0;
    if (col__rwq_rec_valid(p, size, &n)) {
        size_t off = COL__RWQ_REC_HEADER, k = 0;
        while (off < size) {
            uint32_t len = col__rwq_le32(p + off);
            (void)col__rwq_le64(p + off + 4);
            off += COL__RWQ_ENTRY_HEADER + len;
            k++;
        }
        SCRY_ASSERT(off == size && k == n);
    }
    char *z = scry_strndup(p, size);
    int64_t ms = col_rwq_retry_after_ms(z, 1445412480000);
    SCRY_ASSERT(ms >= -1);
    free(z);
    return 0;
}
