/* fuzz_remote_write.c — the remote_write trust boundary: WriteRequest bytes
 * through the zero-copy decoder (collector/remote_write.c), checked against
 * protobuf-c's reading of the same bytes.
 *
 * The first byte picks the path: even, the rest is the protobuf body; odd,
 * the rest is a snappy block decoded first, as core/http and the handler do
 * (limit 1 MiB). Checks that must hold for any input abort when they fail:
 * every label slice lies inside the body; the totals match the callbacks;
 * a failure is SCRY_EPARSE with an offset inside the body and a message;
 * whatever we accept, protobuf-c accepts with the same series and sample
 * counts; and whatever protobuf-c accepts, we accept too, except where it
 * is laxer than Go (varint bits past 64, field numbers past 2^29-1). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/proto/remote.pb-c.h"
#include "collector/remote_write.h"
#include "core/arena.h"
#include "core/http.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

struct span {
    const char *p;
    size_t len;
    size_t n_series, n_samples;
};

static int on_series(void *ud, const struct col_rw_series *s, struct scry_err *err)
{
    struct span *b = ud;
    for (size_t i = 0; i < s->n_labels; i++) {
        const struct scry_str *z[2] = { &s->labels[i].name, &s->labels[i].value };
        for (int k = 0; k < 2; k++)
            check(z[k]->len == 0 ||
                  (z[k]->p >= b->p && z[k]->len <= b->len && z[k]->p - b->p <= (ptrdiff_t)(b->len - z[k]->len)));
    }
    check(s->offset <= b->len);
    b->n_series++;
    b->n_samples += s->n_samples;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct scry_arena *a = scry_arena_create(0);
    struct scry_err err = { 0 };
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        if (scry_http_body_decode(a, "snappy", body, len, 1u << 20, &body, &len, &err) != 0) {
            check(err.msg[0] != 0);
            scry_arena_destroy(a);
            return 0;
        }
    }
    struct col_rw_decoder d;
    col_rw_decoder_init(&d);
    struct span b = { body, len, 0, 0 };
    scry_err_clear(&err);
    int rc = col_rw_decode(&d, body, len, on_series, &b, &err);
    Prometheus__WriteRequest *wr =
        prometheus__write_request__unpack(NULL, len, (const uint8_t *)body);
    if (rc == 0) {
        check(b.n_series == d.n_series && b.n_samples == d.n_samples);
        check(wr != NULL);
        check(wr->n_timeseries == d.n_series && wr->n_metadata == d.n_metadata);
        size_t n = 0;
        for (size_t i = 0; i < wr->n_timeseries; i++)
            n += wr->timeseries[i]->n_samples;
        check(n == d.n_samples);
    } else {
        check(rc == SCRY_EPARSE && err.offset <= len && err.msg[0] != 0);
        check(!wr || strstr(err.msg, "overflows 64 bits") || strstr(err.msg, "invalid field number"));
    }
    if (wr)
        prometheus__write_request__free_unpacked(wr, NULL);
    col_rw_decoder_fini(&d);
    scry_arena_destroy(a);
    return 0;
}
