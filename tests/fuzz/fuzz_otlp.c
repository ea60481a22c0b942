/* fuzz_otlp.c — the OTLP/HTTP metrics trust boundary: request bytes through
 * the protobuf decoder (collector/otlp_metrics.c) or the OTLP/JSON decoder
 * (collector/otlp_metrics_json.c), then translation to Prometheus samples
 * (collector/otlp_translate.c). Garbage must give an error, never a crash.
 *
 * The first byte picks the path: bit 0 clear, the rest is protobuf; set,
 * JSON. Checks that abort when they fail: a failed decode is SCRY_EPARSE
 * with a message; every sample's label set is valid (sorted, unique, valid
 * names and UTF-8 values) and has a metric name; the batch's counters add
 * up; and a decoded request packs with protobuf-c and decodes again (so the
 * JSON decoder builds well-formed messages). The translator lives across
 * inputs with a small delta map, so eviction and the running totals are
 * fuzzed too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/otlp.h"
#include "collector/proto/otlp_metrics_service.pb-c.h"
#include "core/arena.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

static int sink(void *ud, const struct scry_labels *ls, int64_t t_ms, double v,
                struct scry_err *err)
{
    size_t *n = ud;
    (void)v;
    check(scry_labels_validate(ls, NULL) == 0);
    check(scry_labels_get(ls, SCRY_METRIC_NAME) != NULL);
    (*n)++;
    /* refuse some samples as a store would, to reach the rejection paths */
    if ((t_ms & 15) == 7)
        return scry_err_set(err, SCRY_EINVAL, "out of order sample");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct col_otlp_translator *tr;
    if (!tr) {
        struct col_otlp_translator_opts o = { .max_delta_series = 16 };
        check(col_otlp_translator_create(&tr, &o, NULL) == 0);
    }
    if (size == 0)
        return 0;
    struct scry_arena *a = scry_arena_create(0);
    struct scry_err err = { 0 };
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct col_otlp_metrics_req *r = NULL;
    int rc = data[0] & 1 ? col_otlp_metrics_decode_json(a, body, len, &r, &err)
                         : col_otlp_metrics_decode_proto(a, body, len, &r, &err);
    if (rc != 0) {
        check(rc == SCRY_EPARSE && err.msg[0] != 0);
        scry_arena_destroy(a);
        return 0;
    }
    check(r != NULL);
    /* a decoded request packs and decodes again */
    size_t plen =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(r);
    uint8_t *p = malloc(plen + 1);
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(r, p);
    struct col_otlp_metrics_req *r2 = NULL;
    check(col_otlp_metrics_decode_proto(a, (const char *)p, plen, &r2, &err) == 0);
    check(r2->n_resource_metrics == r->n_resource_metrics);
    free(p);

    struct col_otlp_batch b;
    col_otlp_batch_init(&b);
    size_t n = 0;
    check(col_otlp_translate(tr, a, r, sink, &n, &b, &err) == 0);
    check(n <= b.n_samples && b.n_rejected_samples <= b.n_samples);
    check(b.n_rejected_points <= b.n_points);
    check(b.n_rejected_points == 0 || b.first.len > 0);
    if (data[0] & 2)
        col_otlp_batch_commit(tr, &b);
    col_otlp_batch_fini(&b);
    scry_arena_destroy(a);
    return 0;
}
