/* intern.c — the head's string table: each label name and value once.
 *
 * A million series of node_exporter share a few thousand distinct strings:
 * storing pointers to one copy costs 16 bytes per label instead of the
 * strings themselves, and lets label sets compare by pointer first. Each
 * string counts the series that use it (one reference per label of a
 * series), so truncate can free the strings of removed series — values such
 * as pod names churn. Callers hold the head's map_lock. Layout of one
 * allocation: [refs u32][len u32][bytes... NUL]. */
#include <stdlib.h>

#include "core/mem.h"
#include "tsdb/head_internal.h"

struct istr {
    uint32_t refs, len;
    char z[];
};

static struct istr *istr_of(const char *z)
{
    return (struct istr *)(void *)(z - offsetof(struct istr, z));
}

void tsdb__intern_fini(struct tsdb__intern *in)
{
    for (size_t i = 0; i < in->map.cap; i++)
        free(in->map.v[i]);
    tsdb__hmap_fini(&in->map);
    in->bytes = 0;
}

const char *tsdb__intern_get(struct tsdb__intern *in, const char *z)
{
    size_t len = strlen(z), pos = SIZE_MAX;
    uint64_t key = scry_xxh64(z, len, 0);
    struct istr *s;
    while ((s = tsdb__hmap_next(&in->map, key, &pos))) {
        if (s->len == len && memcmp(s->z, z, len) == 0) {
            SCRY_ASSERT(s->refs < UINT32_MAX);
            s->refs++;
            return s->z;
        }
    }
    s = scry_malloc(sizeof *s + len + 1);
    s->refs = 1;
    s->len = (uint32_t)len;
    memcpy(s->z, z, len + 1);
    tsdb__hmap_put(&in->map, key, s);
    in->bytes += sizeof *s + len + 1;
    return s->z;
}

void tsdb__intern_put(struct tsdb__intern *in, const char *z)
{
    struct istr *s = istr_of(z);
    SCRY_ASSERT(s->refs > 0);
    if (--s->refs)
        return;
    bool found = tsdb__hmap_del(&in->map, scry_xxh64(s->z, s->len, 0), s);
    SCRY_ASSERT(found);
    in->bytes -= sizeof *s + s->len + 1;
    free(s);
}

const char *tsdb__intern_find(const struct tsdb__intern *in, const char *z)
{
    size_t len = strlen(z), pos = SIZE_MAX;
    struct istr *s;
    while ((s = tsdb__hmap_next(&in->map, scry_xxh64(z, len, 0), &pos)))
        if (s->len == len && memcmp(s->z, z, len) == 0)
            return s->z;
    return NULL;
}

size_t tsdb__intern_len(const char *iz)
{
    return istr_of(iz)->len;
}
