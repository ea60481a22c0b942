/* fuzz_promql.c — the PromQL parser on arbitrary bytes (queries arrive from
 * HTTP clients). Besides not crashing or leaking: whatever parses must
 * print to text that parses again and prints identically, and the position
 * of an error must lie within the input. */
#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "query/promql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    struct scry_arena *a = scry_arena_create(0);
    struct pql_expr *e;
    struct scry_err err = { 0 };
    if (pql_parse(a, (const char *)data, size, &e, &err) != 0) {
        SCRY_ASSERT(err.code == SCRY_EPARSE);
        SCRY_ASSERT(err.offset <= size);
        scry_arena_destroy(a);
        return 0;
    }
    struct scry_buf b1 = { 0 }, b2 = { 0 };
    pql_expr_print(e, &b1);
    struct pql_expr *e2;
    struct scry_err err2 = { 0 };
    int rc = pql_parse(a, b1.p, b1.len, &e2, &err2);
    if (rc != 0)
        scry_panic(err2.msg, __FILE__, __LINE__); /* the printed form must reparse */
    pql_expr_print(e2, &b2);
    SCRY_ASSERT(b1.len == b2.len && memcmp(b1.p, b2.p, b1.len) == 0);
    SCRY_ASSERT(e2->type == e->type);
    pql_expr_fini(e);
    pql_expr_fini(e2);
    scry_buf_fini(&b1);
    scry_buf_fini(&b2);
    scry_arena_destroy(a);
    return 0;
}
