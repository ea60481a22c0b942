/* db_delete.c — delete_series and clean_tombstones over head and blocks.
 *
 * Both hold maintain_mu, so no cut, compaction or snapshot moves data
 * between head and blocks meanwhile. Blocks first: each overlapping block
 * gets its new tombstones file on disk while queries run, then the gate
 * (no querier open) swaps the in-memory tables at once. Then the head logs
 * its ranges to the WAL and applies them. A failure part-way leaves the
 * parts done deleted (each is durable on its own), as Prometheus does. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/mem.h"
#include "tsdb/db_internal.h"
#include "tsdb/tombstones.h"

/* Samples never lie beyond ±2^62 ms; clamping keeps interval arithmetic
 * (maxt + 1) from overflowing for "all time". */
static int64_t clamp_t(int64_t t)
{
    return t < -TSDB_TOMBS_MAX_ABS_T ? -TSDB_TOMBS_MAX_ABS_T
           : t > TSDB_TOMBS_MAX_ABS_T ? TSDB_TOMBS_MAX_ABS_T : t;
}

int tsdb_delete_series(struct tsdb *db, const struct scry_matcher *ms, size_t n, int64_t mint,
                       int64_t maxt, struct scry_err *err)
{
    if (db->opts.read_only)
        return scry_err_set(err, SCRY_EINVAL, "delete series: database is read-only");
    if (n == 0)
        return scry_err_set(err, SCRY_EINVAL, "delete series: no matcher");
    mint = clamp_t(mint);
    maxt = clamp_t(maxt);
    if (mint > maxt)
        return 0;
    double t0 = scry_mono_s();
    pthread_mutex_lock(&db->maintain_mu);
    size_t nb = tsdb_blocks_count(db->blocks);
    struct tsdb_tombs *nt = scry_calloc(nb ? nb : 1, sizeof *nt);
    bool *changed = scry_calloc(nb ? nb : 1, sizeof *changed);
    uint64_t block_series = 0, head_series = 0;
    int rc = 0;
    for (size_t i = 0; i < nb && !rc; i++) {
        struct tsdb_block *b = tsdb_blocks_at(db->blocks, i);
        const struct tsdb_block_meta *m = tsdb_block_meta(b);
        if (m->maxt_ms < mint || m->mint_ms > maxt)
            continue;
        uint64_t k = 0;
        rc = tsdb_block_delete(b, ms, n, mint, maxt, &nt[i], &k, err);
        changed[i] = !rc && k > 0;
        block_series += k;
    }
    /* Swap even after a failure: the files written so far are the truth.
     * The gate waits for open queriers; skip it when no block changed. */
    bool any = false;
    for (size_t i = 0; i < nb; i++)
        any |= changed[i];
    if (any) {
        tsdb__gate_lock(db);
        for (size_t i = 0; i < nb; i++)
            if (changed[i])
                tsdb_block_set_tombstones(tsdb_blocks_at(db->blocks, i), &nt[i]);
        tsdb__gate_unlock(db);
    }
    for (size_t i = 0; i < nb; i++)
        tsdb_tombs_fini(&nt[i]);
    free(nt);
    free(changed);
    if (!rc)
        rc = tsdb_head_delete(db->head, ms, n, mint, maxt, &head_series, err);
    pthread_mutex_unlock(&db->maintain_mu);
    if (rc)
        return scry_err_prefix(err, "delete series");
    char bs[32], hs[32], secs[32];
    snprintf(bs, sizeof bs, "%" PRIu64, block_series);
    snprintf(hs, sizeof hs, "%" PRIu64, head_series);
    snprintf(secs, sizeof secs, "%.3f", scry_mono_s() - t0);
    SCRY_LOG(db->opts.log, SCRY_LOG_INFO, "tsdb", "series deleted", "block_series", bs,
             "head_series", hs, "seconds", secs);
    return 0;
}

int tsdb_clean_tombstones(struct tsdb *db, struct scry_err *err)
{
    if (db->opts.read_only)
        return scry_err_set(err, SCRY_EINVAL, "clean tombstones: database is read-only");
    double t0 = scry_mono_s();
    pthread_mutex_lock(&db->maintain_mu);
    size_t n = 0;
    tsdb__gate_lock(db);
    int rc = tsdb_blocks_clean_tombstones(db->blocks, &n, err);
    tsdb__gate_unlock(db);
    pthread_mutex_unlock(&db->maintain_mu);
    if (rc)
        return rc;
    char blocks[32], secs[32];
    snprintf(blocks, sizeof blocks, "%zu", n);
    snprintf(secs, sizeof secs, "%.3f", scry_mono_s() - t0);
    SCRY_LOG(db->opts.log, SCRY_LOG_INFO, "tsdb", "tombstones cleaned", "blocks", blocks,
             "seconds", secs);
    return 0;
}
