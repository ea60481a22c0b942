/* fuzz_config.c — arbitrary bytes as a config file. The loader must return
 * 0 or an error with a message, never crash, and free everything either
 * way; a config that loads must also dump and re-load (the dump is used by
 * /api/v1/status/config, so it must always be valid YAML for us). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scry_config *cfg = NULL;
    struct scry_err err = { 0 };
    int rc = scry_config_load_string("fuzz.yml", (const char *)data, size, &cfg, &err);
    if (rc != 0) {
        SCRY_ASSERT(cfg == NULL && err.code == rc && err.msg[0]);
        return 0;
    }
    struct scry_buf b = { 0 };
    scry_config_dump(cfg, &b);
    struct scry_config *again = NULL;
    rc = scry_config_load_string("dump.yml", b.p, b.len, &again, &err);
    if (rc != 0) /* a dump that does not load is a bug */
        scry_panic(err.msg, __FILE__, __LINE__);
    struct scry_buf b2 = { 0 };
    scry_config_dump(again, &b2);
    SCRY_ASSERT(b.len == b2.len && memcmp(b.p, b2.p, b.len) == 0);
    scry_buf_reset(&b2);
    scry_config_dump_redacted(cfg, &b2);
    scry_buf_fini(&b);
    scry_buf_fini(&b2);
    scry_config_destroy(again);
    scry_config_destroy(cfg);
    return 0;
}
