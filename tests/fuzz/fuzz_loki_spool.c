/* fuzz_loki_spool.c — the agent's spool reader (collector/loki_spool.c)
 * over arbitrary file bytes.
 *
 * The spool is read back from disk after a crash, so any bytes must give
 * SCRY_ECORRUPT or a spool whose every slice lies inside the input, whose
 * paths are NUL-terminated copies no longer than the path limit, whose
 * pinned flags are 0 or 1, and whose pieces add up to the input's length
 * (the reader refuses trailing bytes). Checks abort when they fail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/loki_send.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct col_loki_spool sp;
    struct scry_err err = { 0 };
    const char *p = (const char *)data;
    int rc = col_loki_spool_parse(p, size, &sp, &err);
    if (rc != 0) {
        check(rc == SCRY_ECORRUPT);
        check(sp.pos == NULL && sp.push == NULL && sp.strs == NULL);
        return 0;
    }
    size_t total = 24 + 4; /* header and CRC */
    for (size_t i = 0; i < sp.n_pos; i++) {
        size_t l = strlen(sp.pos[i].path);
        check(l <= 4096);
        check(sp.pos[i].pinned == 0 || sp.pos[i].pinned == 1);
        total += 61 + l;
    }
    for (size_t i = 0; i < sp.n_push; i++) {
        check(sp.push[i].p >= p && sp.push[i].p + sp.push[i].len <= p + size);
        total += 4 + sp.push[i].len;
    }
    check(total == size);
    col_loki_spool_fini(&sp);
    return 0;
}
