/* fuzz_logql.c — the LogQL parser on arbitrary bytes (queries arrive from
 * HTTP clients). Garbage must end in a positioned SCRY_EPARSE, never a crash
 * or a leak; whatever parses must print to text that parses again and
 * prints identically; and a parsed pipeline is run over a few sample lines
 * (logfmt, JSON, plain text), so fuzzed templates, patterns, regexes and
 * label filters execute too. */
#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "query/logql.h"
#include "query/logql_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_pipeline(const struct lql_log *log)
{
    static const char *const lines[] = {
        "level=info msg=\"GET /a\" status=200 latency=20ms size=2KB ip=10.1.2.3",
        "{\"level\":\"error\",\"req\":{\"path\":\"/x\",\"code\":503},\"_entry\":\"in\"}",
        "10.0.0.1 - bob [POST] /login 401 \x1b[31mred\x1b[0m",
        "",
    };
    struct scry_label sl[] = { { "app", "x" }, { "level", "warn" } };
    struct scry_labels ls = { sl, 2 };
    struct scry_arena *ea = scry_arena_create(4096);
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        scry_arena_reset(ea);
        struct lql_row r = { .ea = ea, .line = lines[i], .line_len = strlen(lines[i]),
                             .t_ns = 1700000000123456789LL };
        for (size_t k = 0; k < ls.n; k++)
            lql__row_set(&r, sl[k].name, strlen(sl[k].name), sl[k].value, strlen(sl[k].value),
                         LQL_LBL_STREAM, true);
        if (lql__run_stages(log->stages, log->n_stages, &r)) {
            struct scry_labels out = lql__row_labels(&r, ea, -1);
            SCRY_ASSERT(out.n <= r.n);
        }
    }
    scry_arena_destroy(ea);
}

static void run_logs(const struct lql_expr *e)
{
    if (!e)
        return;
    switch (e->kind) {
    case LQL_LOG: run_pipeline(&e->u.log); break;
    case LQL_RANGE: run_pipeline(&e->u.range.log); break;
    case LQL_VAGG: run_logs(e->u.vagg.inner); break;
    case LQL_BINARY:
        run_logs(e->u.bin.lhs);
        run_logs(e->u.bin.rhs);
        break;
    case LQL_LABEL_REPLACE: run_logs(e->u.lrep.inner); break;
    case LQL_PAREN: run_logs(e->u.paren); break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    struct scry_arena *a = scry_arena_create(0);
    struct lql_expr *e;
    struct scry_err err = { 0 };
    if (lql_parse(a, (const char *)data, size, &e, &err) != 0) {
        SCRY_ASSERT(err.code == SCRY_EPARSE);
        SCRY_ASSERT(err.offset <= size);
        scry_arena_destroy(a);
        return 0;
    }
    struct scry_buf b1 = { 0 }, b2 = { 0 };
    lql_expr_print(e, &b1);
    struct lql_expr *e2;
    struct scry_err err2 = { 0 };
    if (lql_parse(a, b1.p, b1.len, &e2, &err2) != 0)
        scry_panic(err2.msg, __FILE__, __LINE__); /* the printed form must reparse */
    lql_expr_print(e2, &b2);
    SCRY_ASSERT(b1.len == b2.len && memcmp(b1.p, b2.p, b1.len) == 0);
    SCRY_ASSERT(lql_is_log(e) == lql_is_log(e2));
    run_logs(e);
    lql_expr_fini(e);
    lql_expr_fini(e2);
    scry_buf_fini(&b1);
    scry_buf_fini(&b2);
    scry_arena_destroy(a);
    return 0;
}
