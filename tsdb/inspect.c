/* inspect.c — `scry tsdb inspect DIR`: what the blocks of a data directory
 * hold and what they cost per sample, and where the label cardinality is.
 *
 * Opens the blocks the catalog lists (read-only use: nothing is written,
 * though opening the set repairs crash leftovers exactly as the server
 * would), prints one line per block and the totals, then the label names
 * with the most values and the label pairs with the most series, summed
 * over blocks (a series in two blocks counts twice: these are index costs). */
#include <inttypes.h>
#include <stdlib.h>

#include "core/mem.h"
#include "tsdb/block_internal.h"

struct stat_row {
    char *name, *value;
    uint64_t n_values, n_series;
};

struct stats {
    struct stat_row *names, *pairs;
    size_t n_names, n_pairs, names_cap, pairs_cap;
};

static void add_row(struct stat_row **v, size_t *n, size_t *cap,
                    const struct tsdb_block_label_stat *st)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = scry_realloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = (struct stat_row){scry_strdup(st->name),
                                     scry_strdup(st->value ? st->value : ""), st->n_values,
                                     st->n_series};
}

static void stat_cb(void *ud, const struct tsdb_block_label_stat *st)
{
    struct stats *s = ud;
    if (!st->value)
        add_row(&s->names, &s->n_names, &s->names_cap, st);
    else
        add_row(&s->pairs, &s->n_pairs, &s->pairs_cap, st);
}

static int by_key(const void *a, const void *b)
{
    const struct stat_row *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Sums rows with the same key (one per block): sort, then fold. Values of a
 * name are not additive across blocks; the largest block's count is kept. */
static void fold(struct stat_row *v, size_t *n)
{
    if (*n < 2)
        return;
    qsort(v, *n, sizeof *v, by_key);
    size_t m = 0;
    for (size_t i = 0; i < *n; i++) {
        if (m && !by_key(&v[m - 1], &v[i])) {
            v[m - 1].n_series += v[i].n_series;
            if (v[i].n_values > v[m - 1].n_values)
                v[m - 1].n_values = v[i].n_values;
            free(v[i].name);
            free(v[i].value);
            continue;
        }
        v[m++] = v[i];
    }
    *n = m;
}

static int by_values(const void *a, const void *b)
{
    const struct stat_row *x = a, *y = b;
    return (x->n_values < y->n_values) - (x->n_values > y->n_values);
}

static int by_series(const void *a, const void *b)
{
    const struct stat_row *x = a, *y = b;
    return (x->n_series < y->n_series) - (x->n_series > y->n_series);
}

int tsdb_inspect(const char *data_dir, FILE *out, struct scry_err *err)
{
    struct tsdb_blocks *bs;
    int rc = tsdb_blocks_open(&bs, data_dir, NULL, err);
    if (rc)
        return rc;
    struct stats s = {0};
    uint64_t t_series = 0, t_samples = 0, t_bytes = 0, t_index = 0, t_chunks = 0;
    uint64_t t_tomb_series = 0, t_tomb_iv = 0;
    size_t t_tomb_blocks = 0;
    /* TOMBSTONES: series with deleted ranges / ranges, from the block's
     * tombstones file (already loaded at open, so free to print). */
    fprintf(out, "%-26s %14s %14s %10s %12s %12s %8s %6s %12s\n", "BLOCK", "MINT_MS", "MAXT_MS",
            "SERIES", "SAMPLES", "BYTES", "B/SAMPLE", "LEVEL", "TOMBSTONES");
    for (size_t i = 0; i < tsdb_blocks_count(bs); i++) {
        struct tsdb_block *b = tsdb_blocks_at(bs, i);
        const struct tsdb_block_meta *m = tsdb_block_meta(b);
        uint64_t ts, ti;
        tsdb_block_tombstone_stats(b, &ts, &ti);
        char tomb[48] = "-";
        if (ts)
            snprintf(tomb, sizeof tomb, "%" PRIu64 "/%" PRIu64, ts, ti);
        t_tomb_series += ts;
        t_tomb_iv += ti;
        t_tomb_blocks += ts > 0;
        fprintf(out, "%-26s %14" PRId64 " %14" PRId64 " %10" PRIu64 " %12" PRIu64 " %12" PRIu64
                " %8.4f %6" PRIu32 " %12s\n", m->id, m->mint_ms, m->maxt_ms, m->n_series,
                m->n_samples, m->bytes, m->n_samples ? (double)m->bytes / (double)m->n_samples : 0.0,
                m->level, tomb);
        t_series += m->n_series;
        t_samples += m->n_samples;
        t_bytes += m->bytes;
        t_index += m->index_bytes;
        t_chunks += m->chunks_bytes;
        tsdb_block_label_stats(b, stat_cb, &s, err);
    }
    double ns = t_samples ? (double)t_samples : 1.0;
    fprintf(out, "total: %zu blocks, %" PRIu64 " series, %" PRIu64 " samples, %" PRIu64
            " bytes, %.4f bytes/sample (chunks %.4f, index %.4f)\n", tsdb_blocks_count(bs),
            t_series, t_samples, t_bytes, (double)t_bytes / ns, (double)t_chunks / ns,
            (double)t_index / ns);
    if (t_tomb_blocks)
        fprintf(out, "tombstones: %zu blocks, %" PRIu64 " series, %" PRIu64
                " deleted ranges (samples and bytes above still count them until "
                "clean_tombstones or compaction)\n", t_tomb_blocks, t_tomb_series, t_tomb_iv);
    if (tsdb_blocks_missing(bs))
        fprintf(out, "missing: %zu catalogued blocks have no directory\n", tsdb_blocks_missing(bs));
    fold(s.names, &s.n_names);
    fold(s.pairs, &s.n_pairs);
    if (s.n_names)
        qsort(s.names, s.n_names, sizeof *s.names, by_values);
    if (s.n_pairs)
        qsort(s.pairs, s.n_pairs, sizeof *s.pairs, by_series);
    fprintf(out, "top label names by values:\n");
    for (size_t i = 0; i < s.n_names && i < 10; i++)
        fprintf(out, "  %-40s %10" PRIu64 " values %10" PRIu64 " series\n", s.names[i].name,
                s.names[i].n_values, s.names[i].n_series);
    fprintf(out, "top label pairs by series:\n");
    for (size_t i = 0; i < s.n_pairs && i < 10; i++)
        fprintf(out, "  %s=\"%s\" %" PRIu64 "\n", s.pairs[i].name, s.pairs[i].value,
                s.pairs[i].n_series);
    for (size_t i = 0; i < s.n_names; i++) {
        free(s.names[i].name);
        free(s.names[i].value);
    }
    for (size_t i = 0; i < s.n_pairs; i++) {
        free(s.pairs[i].name);
        free(s.pairs[i].value);
    }
    free(s.names);
    free(s.pairs);
    tsdb_blocks_close(bs);
    return 0;
}
