/* block_tombs.c — deleting from a block: its tombstones file.
 *
 * A block is immutable, so delete_series records the deleted ranges next to
 * it, in `tombstones` (FORMAT.md "tombstones file"), keyed by series number.
 * The querier applies them (block_read.c); compaction and
 * tsdb_blocks_clean_tombstones (compact.c) write blocks without the deleted
 * samples. As in Prometheus, a series gets the range only when one of its
 * chunks overlaps it, and the range is clamped to the block's. */
#include <stdlib.h>

#include "core/mem.h"
#include "tsdb/block_internal.h"

int tsdb_block_delete(struct tsdb_block *b, const struct scry_matcher *ms, size_t n_ms,
                      int64_t mint, int64_t maxt, struct tsdb_tombs *out, uint64_t *n_series,
                      struct scry_err *err)
{
    *out = (struct tsdb_tombs){0};
    *n_series = 0;
    mint = mint > b->meta.mint_ms ? mint : b->meta.mint_ms;
    maxt = maxt < b->meta.maxt_ms ? maxt : b->meta.maxt_ms;
    if (mint > maxt)
        return 0;
    struct tsdb__plist ids = {0};
    struct tsdb__group g;
    tsdb__group_init(&g);
    struct tsdb_stone *st = NULL;
    size_t n = 0, cap = 0;
    int rc = tsdb__select_postings(b, ms, n_ms, &ids, err);
    for (size_t i = 0; !rc && i < ids.n; i++) {
        if ((rc = tsdb__group_load(b, ids.v[i] / b->group_size, &g, err)))
            break;
        const struct tsdb__gseries *gs = &g.s[ids.v[i] % b->group_size];
        bool overlap = false;
        for (uint32_t j = 0; j < gs->n_chunks && !overlap; j++) {
            const struct tsdb__gchunk *c = &g.chunks[gs->chunk_first + j];
            overlap = c->mint_ms <= maxt && c->maxt_ms >= mint;
        }
        if (!overlap)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            st = scry_realloc(st, cap * sizeof *st);
        }
        st[n++] = (struct tsdb_stone){ids.v[i], mint, maxt};
    }
    *n_series = n;
    if (!rc && n) {
        tsdb_tombs_stones(&b->tombs, &st, &n, &cap);
        tsdb_tombs_build(out, st, n);
        rc = tsdb_tombs_write_file(b->dir, out, err);
        if (rc)
            tsdb_tombs_fini(out);
    }
    free(st);
    tsdb__group_fini(&g);
    tsdb__plist_fini(&ids);
    return rc ? scry_err_prefix(err, "delete in block %s", b->meta.id) : 0;
}

void tsdb_block_set_tombstones(struct tsdb_block *b, struct tsdb_tombs *t)
{
    tsdb_tombs_fini(&b->tombs);
    b->tombs = *t;
    *t = (struct tsdb_tombs){0};
}

void tsdb_block_tombstone_stats(const struct tsdb_block *b, uint64_t *n_series,
                                uint64_t *n_intervals)
{
    *n_series = b->tombs.n_refs;
    *n_intervals = b->tombs.n_iv;
}
