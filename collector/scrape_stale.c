/* scrape_stale.c — a target's series cache, which is also its staleness
 * memory.
 *
 * The cache maps the series text exactly as the target wrote it
 * (`name{labels}`, the parser's `series` slice) to the final label set
 * after honor_labels and metric_relabel_configs, and to the store's ref, so
 * a repeated scrape appends each sample with one hash, one memcmp and no
 * allocation (Prometheus's scrapeCache). The same entries remember which
 * series the last successful scrape had: after a scrape, every entry of the
 * previous scrape that this one did not see gets Prometheus's staleness
 * marker (the NaN 0x7ff0000000000002) at the scrape's timestamp and leaves
 * the cache. So the cache holds exactly the last scrape's series and needs
 * no separate "previous series" set; a failed scrape marks them all stale
 * and empties it.
 *
 * Layout: entries in a vector, an open-addressing index of (position + 1)
 * over it with linear probing. Entries leave only in the sweep after a
 * scrape, which compacts the vector and rebuilds the index in O(n): cheaper
 * than tombstones, and the sweep touches every entry anyway. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "collector/scrape_internal.h"
#include "core/mem.h"

double col__stale_nan(void)
{
    uint64_t u = COL__STALE_NAN_BITS;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

bool col__is_stale_nan(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u == COL__STALE_NAN_BITS;
}

void col__cache_fini(struct col__cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].blob);
    free(c->v);
    free(c->idx);
    memset(c, 0, sizeof *c);
}

static void index_rebuild(struct col__cache *c, size_t need)
{
    size_t cap = c->idx_cap ? c->idx_cap : 64;
    while (cap < need * 2)
        cap *= 2;
    if (cap != c->idx_cap) {
        free(c->idx);
        c->idx = scry_malloc(cap * sizeof *c->idx);
        c->idx_cap = cap;
    }
    memset(c->idx, 0, cap * sizeof *c->idx);
    for (size_t i = 0; i < c->n; i++) {
        size_t h = (size_t)c->v[i].key & (cap - 1);
        while (c->idx[h])
            h = (h + 1) & (cap - 1);
        c->idx[h] = (uint32_t)(i + 1);
    }
}

struct col__series *col__cache_get(struct col__cache *c, uint64_t key, const char *text,
                                   size_t len)
{
    if (!c->idx_cap)
        return NULL;
    for (size_t h = (size_t)key & (c->idx_cap - 1);; h = (h + 1) & (c->idx_cap - 1)) {
        uint32_t i = c->idx[h];
        if (!i)
            return NULL;
        struct col__series *s = &c->v[i - 1];
        if (s->key == key && s->text_len == len && memcmp(s->blob, text, len) == 0)
            return s;
    }
}

struct col__series *col__cache_add(struct col__cache *c, uint64_t key, const char *text,
                                   size_t len, const struct scry_labels *lset, bool dropped)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->v = scry_realloc(c->v, c->cap * sizeof *c->v);
    }
    if ((c->n + 1) * 2 > c->idx_cap)
        index_rebuild(c, c->n + 1);

    /* One block: text, pad, labels array, then "name\0value\0" pairs. */
    size_t strs = 0, n = lset ? lset->n : 0;
    for (size_t i = 0; i < n; i++)
        strs += strlen(lset->v[i].name) + strlen(lset->v[i].value) + 2;
    size_t off = (len + 1 + 7) & ~(size_t)7;
    char *blob = scry_malloc(off + n * sizeof(struct scry_label) + strs);
    memcpy(blob, text, len);
    blob[len] = '\0';
    struct scry_label *v = (struct scry_label *)(void *)(blob + off);
    char *p = (char *)(v + n);
    for (size_t i = 0; i < n; i++) {
        size_t ln = strlen(lset->v[i].name) + 1, lv = strlen(lset->v[i].value) + 1;
        memcpy(p, lset->v[i].name, ln);
        v[i].name = p;
        p += ln;
        memcpy(p, lset->v[i].value, lv);
        v[i].value = p;
        p += lv;
    }

    struct col__series *s = &c->v[c->n];
    *s = (struct col__series){ .key = key, .text_len = (uint32_t)len, .dropped = dropped,
                               .blob = blob, .lset = { v, n } };
    size_t h = (size_t)key & (c->idx_cap - 1);
    while (c->idx[h])
        h = (h + 1) & (c->idx_cap - 1);
    c->idx[h] = (uint32_t)(c->n + 1);
    c->n++;
    return s;
}

static int append_stale(struct scry_appender *app, struct col__series *s, int64_t t_ms,
                        struct scry_err *err)
{
    int rc = scry_append_sample(app, &s->ref, &s->lset, t_ms, col__stale_nan(), err);
    /* Out of order or duplicate: the series has a newer sample, nothing to mark
     * (Prometheus ignores these errors for staleness markers too). */
    return rc == SCRY_EINVAL ? 0 : rc;
}

int col__cache_end_scrape(struct col__cache *c, struct scry_appender *app, uint32_t iter,
                          int64_t t_ms, struct scry_err *err)
{
    int n_stale = 0, rc = 0;
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct col__series *s = &c->v[i];
        if (s->seen == iter) {
            s->in_prev = true;
            c->v[k++] = *s;
            continue;
        }
        if (s->in_prev && !s->dropped && rc == 0) {
            rc = append_stale(app, s, t_ms, err);
            n_stale++;
        }
        free(s->blob);
    }
    if (k != c->n) {
        c->n = k;
        index_rebuild(c, k);
    }
    return rc < 0 ? rc : n_stale;
}

int col__cache_stale_all(struct col__cache *c, struct scry_appender *app, int64_t t_ms,
                         struct scry_err *err)
{
    int n_stale = 0, rc = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct col__series *s = &c->v[i];
        if (s->in_prev && !s->dropped && rc == 0 && app) {
            rc = append_stale(app, s, t_ms, err);
            n_stale++;
        }
        free(s->blob);
    }
    c->n = 0;
    if (c->idx)
        memset(c->idx, 0, c->idx_cap * sizeof *c->idx);
    return rc < 0 ? rc : n_stale;
}
