/* fuzz_timeparse.c — the time, duration and byte-size parsers on arbitrary
 * bytes (they read HTTP query parameters). Besides not crashing: every
 * duration that parses must print and parse back to the same value. */
#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "core/timeparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int64_t v, w;
    struct scry_err err = { 0 };
    scry_time_parse(s, size, &v, &err);
    scry_bytes_parse(s, size, &v, &err);
    scry_duration_or_seconds_parse(s, size, &v, &err);
    if (scry_duration_parse(s, size, &v, NULL) == 0) {
        struct scry_buf b = { 0 };
        scry_duration_format(v, &b);
        SCRY_ASSERT(scry_duration_parse(b.p, b.len, &w, &err) == 0 && w == v);
        scry_buf_fini(&b);
    }
    return 0;
}
