/* fuzz_otlp_logs.c — the OTLP/HTTP logs trust boundary: request bytes
 * through the protobuf decoder or the OTLP/JSON decoder
 * (collector/otlp_logs.c), then the mapping to stream labels, structured
 * metadata and lines (collector/otlp_logs_map.c). Garbage must give an
 * error, never a crash.
 *
 * The first byte picks the path: bit 0 clear, the rest is protobuf; set,
 * JSON. Checks that abort when they fail: a failed decode is SCRY_EPARSE
 * with a message; every stream is a valid label set with service_name;
 * metadata names are sorted, unique and non-empty; the counters add up;
 * and a decoded request packs with protobuf-c and decodes again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/otlp.h"
#include "collector/proto/otlp_logs_service.pb-c.h"
#include "core/arena.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

static int sink(void *ud, const struct scry_labels *stream, const struct scry_log_entry *e,
                struct scry_err *err)
{
    size_t *n = ud;
    (*n)++;
    /* Values are not checked for UTF-8 here: the store refuses those. */
    check(stream->n > 0 && scry_labels_get(stream, "service_name") != NULL);
    for (size_t i = 0; i < stream->n; i++)
        check(scry_label_name_valid(stream->v[i].name, strlen(stream->v[i].name)) &&
              stream->v[i].value[0]);
    for (size_t i = 0; i < e->metadata.n; i++) {
        check(e->metadata.v[i].name[0] && e->metadata.v[i].value[0]);
        if (i)
            check(strcmp(e->metadata.v[i - 1].name, e->metadata.v[i].name) < 0);
    }
    if ((e->t_ns & 15) == 7) /* refuse some entries, as a store would */
        return scry_err_set(err, SCRY_EINVAL, "entry out of order");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct scry_arena *a = scry_arena_create(0);
    struct col_otlp_logs_req *r;
    struct scry_err err = { 0 };
    const char *body = (const char *)data + 1;
    int rc = (data[0] & 1) ? col_otlp_logs_decode_json(a, body, size - 1, &r, &err)
                           : col_otlp_logs_decode_proto(a, body, size - 1, &r, &err);
    if (rc != 0) {
        check(rc == SCRY_EPARSE && err.msg[0]);
        scry_arena_destroy(a);
        return 0;
    }
    size_t n = 0;
    struct col_otlp_logs_result res = { 0 };
    check(col_otlp_logs_translate(a, r, NULL, 1, sink, &n, &res, &err) == 0);
    check(res.n_rejected <= res.n_records && n <= res.n_records);
    scry_buf_fini(&res.first);
    size_t len =
        opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(r);
    uint8_t *buf = malloc(len ? len : 1);
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(r, buf);
    struct col_otlp_logs_req *r2;
    check(col_otlp_logs_decode_proto(a, (const char *)buf, len, &r2, &err) == 0);
    check(r2->n_resource_logs == r->n_resource_logs);
    free(buf);
    scry_arena_destroy(a);
    return 0;
}
