/* otlp_delta.c — the delta → cumulative map of the OTLP translator, and the
 * translator's lifecycle and batches (otlp_translate.c has the design).
 *
 * A bounded hash table of (h1, h2) → running total, chained through the
 * entry array, with the LRU list threaded through the same entries: the
 * map allocates once, at its first delta point, and eviction is O(1). Totals are tentative per batch until
 * col_otlp_batch_commit makes them the committed ones. */
#include "collector/otlp_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define DEFAULT_MAX_DELTA_SERIES 65536
#define NONE UINT32_MAX /* end of an LRU list or hash chain */

int col_otlp_translator_create(struct col_otlp_translator **out,
                               const struct col_otlp_translator_opts *opts, struct scry_err *err)
{
    if (!out)
        return scry_err_set(err, SCRY_EINVAL, "otlp: missing output");
    size_t cap = opts && opts->max_delta_series ? opts->max_delta_series : DEFAULT_MAX_DELTA_SERIES;
    if (cap > (1u << 28))
        return scry_err_set(err, SCRY_EINVAL, "otlp: max_delta_series %zu is too large", cap);
    struct col_otlp_translator *tr = scry_calloc(1, sizeof *tr);
    pthread_mutex_init(&tr->mu, NULL);
    tr->cap = (uint32_t)cap;
    tr->head = tr->tail = NONE;
    tr->next_batch = 1;
    tr->scope_labels = !(opts && opts->no_scope_labels);
    *out = tr;
    return 0;
}

void col_otlp_translator_destroy(struct col_otlp_translator *tr)
{
    if (!tr)
        return;
    pthread_mutex_destroy(&tr->mu);
    free(tr->e);
    free(tr->bucket);
    free(tr);
}

size_t col_otlp_translator_delta_series(struct col_otlp_translator *tr)
{
    pthread_mutex_lock(&tr->mu);
    size_t n = tr->n;
    pthread_mutex_unlock(&tr->mu);
    return n;
}

static void lru_unlink(struct col_otlp_translator *tr, uint32_t i)
{
    struct dentry *e = &tr->e[i];
    if (e->prev != NONE)
        tr->e[e->prev].next = e->next;
    else
        tr->head = e->next;
    if (e->next != NONE)
        tr->e[e->next].prev = e->prev;
    else
        tr->tail = e->prev;
    e->prev = e->next = NONE;
}

static void lru_push_front(struct col_otlp_translator *tr, uint32_t i)
{
    struct dentry *e = &tr->e[i];
    e->prev = NONE;
    e->next = tr->head;
    if (tr->head != NONE)
        tr->e[tr->head].prev = i;
    tr->head = i;
    if (tr->tail == NONE)
        tr->tail = i;
}

static void chain_remove(struct col_otlp_translator *tr, uint32_t i)
{
    uint32_t *pp = &tr->bucket[tr->e[i].h1 & (tr->n_bucket - 1)];
    while (*pp != NONE && *pp != i)
        pp = &tr->e[*pp].chain;
    SCRY_ASSERT(*pp == i);
    *pp = tr->e[i].chain;
}

/* The entry for (h1, h2), created (evicting the least recently used) when
 * absent; *fresh tells which. Called with mu held. */
uint32_t col__otlp_delta_entry(struct col_otlp_translator *tr, uint64_t h1, uint64_t h2, bool *fresh)
{
    if (!tr->e) {
        tr->e = scry_calloc(tr->cap, sizeof *tr->e);
        tr->n_bucket = 1;
        while (tr->n_bucket < tr->cap * 2)
            tr->n_bucket <<= 1;
        tr->bucket = scry_malloc(tr->n_bucket * sizeof *tr->bucket);
        memset(tr->bucket, 0xff, tr->n_bucket * sizeof *tr->bucket);
    }
    uint32_t *head = &tr->bucket[h1 & (tr->n_bucket - 1)];
    for (uint32_t i = *head; i != NONE; i = tr->e[i].chain)
        if (tr->e[i].h1 == h1 && tr->e[i].h2 == h2) {
            lru_unlink(tr, i);
            lru_push_front(tr, i);
            *fresh = false;
            return i;
        }
    uint32_t i;
    if (tr->free_next < tr->cap) {
        i = tr->free_next++;
        tr->n++;
    } else {
        i = tr->tail; /* evict */
        SCRY_ASSERT(i != NONE && tr->e[i].used);
        lru_unlink(tr, i);
        chain_remove(tr, i);
    }
    tr->e[i] = (struct dentry){ .h1 = h1, .h2 = h2, .used = true, .prev = NONE, .next = NONE,
                                .t_ms = INT64_MIN, .chain = *head };
    *head = i;
    lru_push_front(tr, i);
    *fresh = true;
    return i;
}

void col_otlp_batch_init(struct col_otlp_batch *b)
{
    memset(b, 0, sizeof *b);
}

void col_otlp_batch_fini(struct col_otlp_batch *b)
{
    scry_buf_fini(&b->first);
    free(b->pending);
    memset(b, 0, sizeof *b);
}

void col_otlp_batch_commit(struct col_otlp_translator *tr, struct col_otlp_batch *b)
{
    if (!b->n_pending)
        return;
    pthread_mutex_lock(&tr->mu);
    for (size_t i = 0; i < b->n_pending; i++) {
        struct col__otlp_pending *p = &b->pending[i];
        struct dentry *e = &tr->e[p->idx];
        if (e->used && e->h1 == p->h1 && e->h2 == p->h2 && e->owner == b->id) {
            e->total = e->tent_total;
            e->t_ms = e->tent_t_ms;
            e->owner = 0;
        }
    }
    pthread_mutex_unlock(&tr->mu);
    b->n_pending = 0;
}
