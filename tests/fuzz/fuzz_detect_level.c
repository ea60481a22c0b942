/* fuzz_detect_level.c — detected_level over untrusted log lines
 * (query/logql_level.c walks JSON and logfmt by hand). The first byte picks
 * which metadata the entry carries (none, severity_number from the next
 * bytes, a level field), the rest is the line; the result must be one of
 * Loki's level names or the metadata's value as is. The line is copied to
 * a buffer of its exact size, so ASan sees any read past its end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/mem.h"
#include "query/logql_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int mode = size ? data[0] % 3 : 0;
    const char *in = size ? (const char *)data + 1 : "";
    size_t len = size ? size - 1 : 0;
    char *line = malloc(len ? len : 1);
    memcpy(line, in, len);
    struct scry_arena *ea = scry_arena_create(4096);
    struct lql_row r = { .ea = ea, .line = line, .line_len = len };
    lql__row_set(&r, "app", 3, "x", 1, LQL_LBL_STREAM, true);
    char num[8] = { 0 };
    if (mode == 1) {
        size_t n = len < sizeof num - 1 ? len : sizeof num - 1;
        memcpy(num, in, n);
        for (size_t i = 0; i < n; i++)
            if (!num[i])
                num[i] = '0';
        lql__row_set(&r, "severity_number", 15, num, strlen(num), LQL_LBL_META, true);
    } else if (mode == 2) {
        lql__row_set(&r, "lvl", 3, "Notice", 6, LQL_LBL_META, true);
    }
    lql__detect_level(&r);
    const struct lql_lbl *l = lql__row_get(&r, "detected_level");
    SCRY_ASSERT(l && l->vlen > 0);
    static const char *const ok[] = { "trace", "debug", "info", "warn", "error",
                                      "critical", "fatal", "unknown", "Notice" };
    bool known = false;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        known |= strcmp(l->val, ok[i]) == 0;
    SCRY_ASSERT(known);
    scry_arena_destroy(ea);
    free(line);
    return 0;
}
