/* fuzz_loki_push.c — the Loki push trust boundary: request bytes through
 * the JSON decoder or the protobuf decoder (collector/loki_push.c), then
 * the stream label checks the handler runs. Garbage must give an error,
 * never a crash.
 *
 * The first byte picks the path: bit 0 clear, the rest is protobuf (already
 * snappy-decoded); set, JSON. Checks that abort when they fail: a failed
 * decode is SCRY_EPARSE with a message; decoded streams have labels sorted
 * by name (or a label error and no labels), entries whose lines lie inside
 * the arena or the input, and metadata sorted with unique, non-empty names;
 * a stream that passes validation is a valid label set for the store. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/loki_push.h"
#include "core/arena.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct scry_arena *a = scry_arena_create(0);
    struct col_loki_push p;
    struct scry_err err = { 0 };
    const char *body = (const char *)data + 1;
    int rc = (data[0] & 1) ? col_loki_decode_json(a, body, size - 1, &p, &err)
                           : col_loki_decode_proto(a, body, size - 1, &p, &err);
    if (rc != 0) {
        check(rc == SCRY_EPARSE && err.msg[0]);
        scry_arena_destroy(a);
        return 0;
    }
    for (size_t i = 0; i < p.n_streams; i++) {
        const struct col_loki_stream *s = &p.streams[i];
        check(!s->labels_error || s->labels.n == 0);
        for (size_t k = 1; k < s->labels.n; k++)
            check(strcmp(s->labels.v[k - 1].name, s->labels.v[k].name) <= 0);
        if (col_loki_validate_stream(NULL, &s->labels, &err) == 0)
            check(scry_labels_validate(&s->labels, NULL) == 0);
        for (size_t e = 0; e < s->n_entries; e++) {
            const struct scry_log_entry *en = &s->entries[e];
            check(en->line.p != NULL || en->line.len == 0);
            for (size_t k = 0; k < en->metadata.n; k++) {
                check(en->metadata.v[k].name[0] != 0);
                if (k)
                    check(strcmp(en->metadata.v[k - 1].name, en->metadata.v[k].name) < 0);
            }
        }
    }
    scry_arena_destroy(a);
    return 0;
}
