/* metadata.c — per target, the TYPE, HELP and UNIT of each metric family
 * of its last scrape, for /api/v1/metadata (Prometheus's per-target
 * metadata cache, scrape/scrape.go MetadataList).
 *
 * One small table per target, keyed by family name. node_exporter sends
 * about one HELP or TYPE line per sample, so the update is on the hot path:
 * a lookup by hash and a memcmp of the text, and an allocation only when a
 * family is new or its text changed. Deduplication across targets happens
 * when the API asks (scrape_api.c), not here, so removing a target removes
 * its metadata with no bookkeeping. */
#include <stdlib.h>
#include <string.h>

#include "collector/scrape_internal.h"
#include "core/mem.h"

void col__meta_init(struct col__meta *md)
{
    memset(md, 0, sizeof *md);
}

static void entry_free(struct col__meta_entry *e)
{
    free(e->name);
    free(e->help);
    free(e->unit);
}

void col__meta_fini(struct col__meta *md)
{
    for (size_t i = 0; i < md->n; i++)
        entry_free(&md->v[i]);
    free(md->v);
    free(md->idx);
    free(md->scratch);
    memset(md, 0, sizeof *md);
}

static void reindex(struct col__meta *md)
{
    size_t cap = md->idx_cap ? md->idx_cap : 64;
    while (cap < (md->n + 1) * 2)
        cap *= 2;
    if (cap != md->idx_cap) {
        free(md->idx);
        md->idx = scry_malloc(cap * sizeof *md->idx);
        md->idx_cap = cap;
    }
    memset(md->idx, 0, cap * sizeof *md->idx);
    for (size_t i = 0; i < md->n; i++) {
        size_t h = (size_t)md->v[i].hash & (cap - 1);
        while (md->idx[h])
            h = (h + 1) & (cap - 1);
        md->idx[h] = (uint32_t)(i + 1);
    }
}

static struct col__meta_entry *lookup(struct col__meta *md, struct scry_str name)
{
    uint64_t h = scry_xxh64(name.p, name.len, 0);
    if (md->idx_cap) {
        for (size_t k = (size_t)h & (md->idx_cap - 1);; k = (k + 1) & (md->idx_cap - 1)) {
            uint32_t i = md->idx[k];
            if (!i)
                break;
            struct col__meta_entry *e = &md->v[i - 1];
            if (e->hash == h && strlen(e->name) == name.len &&
                memcmp(e->name, name.p, name.len) == 0)
                return e;
        }
    }
    if (md->n == md->cap) {
        md->cap = md->cap ? md->cap * 2 : 32;
        md->v = scry_realloc(md->v, md->cap * sizeof *md->v);
    }
    struct col__meta_entry *e = &md->v[md->n++];
    *e = (struct col__meta_entry){ .name = scry_strndup(name.p, name.len), .hash = h };
    if (md->n * 2 > md->idx_cap) {
        reindex(md);
    } else {
        size_t k = (size_t)h & (md->idx_cap - 1);
        while (md->idx[k])
            k = (k + 1) & (md->idx_cap - 1);
        md->idx[k] = (uint32_t)md->n;
    }
    return e;
}

static void set_text(char **dst, const char *p, size_t len)
{
    if (*dst && strlen(*dst) == len && memcmp(*dst, p, len) == 0)
        return;
    free(*dst);
    *dst = scry_strndup(p, len);
}

void col__meta_update(struct col__meta *md, const struct col_expfmt_parser *p, int kind,
                      uint32_t iter)
{
    struct col__meta_entry *e = lookup(md, p->meta.name);
    e->seen = iter;
    switch (kind) {
    case COL_EXPFMT_TYPE:
        e->type = p->meta.type;
        break;
    case COL_EXPFMT_HELP:
        if (!p->meta.escaped) {
            set_text(&e->help, p->meta.text.p, p->meta.text.len);
        } else {
            if (md->scratch_cap < p->meta.text.len + 1) {
                md->scratch_cap = p->meta.text.len + 1;
                md->scratch = scry_realloc(md->scratch, md->scratch_cap);
            }
            size_t n = col_expfmt_help(p, md->scratch);
            set_text(&e->help, md->scratch, n);
        }
        break;
    case COL_EXPFMT_UNIT:
        set_text(&e->unit, p->meta.text.p, p->meta.text.len);
        break;
    default:
        break;
    }
}

void col__meta_sweep(struct col__meta *md, uint32_t iter)
{
    size_t k = 0;
    for (size_t i = 0; i < md->n; i++) {
        if (md->v[i].seen == iter)
            md->v[k++] = md->v[i];
        else
            entry_free(&md->v[i]);
    }
    if (k != md->n) {
        md->n = k;
        reindex(md);
    }
}
