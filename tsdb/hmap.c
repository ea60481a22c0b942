/* hmap.c — the head's hash map: u64 key → pointer, duplicates allowed.
 *
 * Linear probing keeps a lookup to one or two cache lines; backward-shift
 * deletion (Knuth 6.4, algorithm R) keeps probe runs short without
 * tombstones, which matters because truncate removes series in bulk. The
 * table doubles at 3/4 load and never shrinks (a head that once held 1M
 * series will likely again). */
#include <stdlib.h>

#include "core/mem.h"
#include "tsdb/head_internal.h"

void tsdb__hmap_fini(struct tsdb__hmap *m)
{
    free(m->k);
    free(m->v);
    *m = (struct tsdb__hmap){ 0 };
}

static void put_raw(struct tsdb__hmap *m, uint64_t key, void *val)
{
    assert(m->cap && (m->cap & (m->cap - 1)) == 0 && m->n < m->cap);
    size_t mask = m->cap - 1, i = tsdb__mix64(key) & mask;
    while (m->v[i])
        i = (i + 1) & mask;
    m->k[i] = key;
    m->v[i] = val;
}

static void grow(struct tsdb__hmap *m)
{
    struct tsdb__hmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->k = scry_malloc(m->cap * sizeof *m->k);
    m->v = scry_calloc(m->cap, sizeof *m->v);
    for (size_t i = 0; i < old.cap; i++)
        if (old.v[i])
            put_raw(m, old.k[i], old.v[i]);
    free(old.k);
    free(old.v);
}

void tsdb__hmap_put(struct tsdb__hmap *m, uint64_t key, void *val)
{
    assert(val);
    if ((m->n + 1) * 4 > m->cap * 3)
        grow(m);
    put_raw(m, key, val);
    m->n++;
}

void *tsdb__hmap_next(const struct tsdb__hmap *m, uint64_t key, size_t *pos)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = *pos == SIZE_MAX ? tsdb__mix64(key) & mask : ((*pos + 1) & mask);
    for (; m->v[i]; i = (i + 1) & mask) {
        if (m->k[i] == key) {
            *pos = i;
            return m->v[i];
        }
    }
    return NULL;
}

bool tsdb__hmap_del(struct tsdb__hmap *m, uint64_t key, const void *val)
{
    size_t pos = SIZE_MAX;
    void *v;
    while ((v = tsdb__hmap_next(m, key, &pos)) && v != val)
        ;
    if (!v)
        return false;
    size_t mask = m->cap - 1, i = pos, j = pos;
    m->v[i] = NULL;
    /* Shift later members of the run back over the hole when their home
     * slot does not lie cyclically in (i, j]. */
    for (;;) {
        j = (j + 1) & mask;
        if (!m->v[j])
            break;
        size_t home = tsdb__mix64(m->k[j]) & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        m->k[i] = m->k[j];
        m->v[i] = m->v[j];
        m->v[j] = NULL;
        i = j;
    }
    m->n--;
    return true;
}
