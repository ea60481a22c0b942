/* db_wal.c — the database's side of the WAL: replay at open, and the
 * checkpoint that follows every cut.
 *
 * Replay favours availability: a corrupt segment is logged with its file
 * and offset and the rest of it skipped, and the server comes up with
 * everything readable (core/wal.h, skip_corrupt). Samples that the blocks
 * already hold (a crash between writing a block and checkpointing the WAL)
 * are dropped from the head right after replay, so they are not cut twice.
 *
 * The checkpoint keeps, of the segments up to the cut, the SERIES records
 * of series still in the head and the samples at or after the head's new
 * lower bound; then the old segments are deleted. Appends go on meanwhile
 * into the segment the cut started. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/mem.h"
#include "tsdb/db_internal.h"
#include "tsdb/wal_record.h"

static void replay_progress(void *ud, const struct scry_wal_replay_stats *st)
{
    struct tsdb *db = ud;
    char seg[48], mb[32];
    snprintf(seg, sizeof seg, "%u/%u", st->segments_done, st->segments_total);
    snprintf(mb, sizeof mb, "%.1f", (double)st->bytes_done / 1048576.0);
    SCRY_LOG(db->opts.log, SCRY_LOG_INFO, "tsdb", "WAL replay progress", "segments", seg,
             "mib", mb);
}

int tsdb__replay(struct tsdb *db, struct scry_err *err)
{
    double t0 = scry_mono_s();
    SCRY_LOG(db->opts.log, SCRY_LOG_INFO, "tsdb", "replaying WAL", "dir", db->wal_dir);
    struct tsdb_head_replay_opts o = {
        .on_progress = replay_progress,
        .ud = db,
        .skip_corrupt = true,
    };
    struct tsdb_head_replay_stats st = { 0 };
    struct scry_err rerr = { 0 };
    int rc = tsdb_head_replay(db->head, db->wal_dir, &o, &st, &rerr);
    if (rc == SCRY_ECORRUPT) {
        SCRY_LOG(db->opts.log, SCRY_LOG_ERROR, "tsdb",
                 "WAL corrupt; skipped the unreadable part and kept the rest", "err", rerr.msg);
    } else if (rc) {
        scry_err_set(err, rc, "%s", rerr.msg);
        return scry_err_prefix(err, "replay WAL");
    }
    if (st.wal.torn_bytes > 0 || st.wal.torn_segment != 0) {
        char seg[16], off[32];
        snprintf(seg, sizeof seg, "%08u", st.wal.torn_segment);
        snprintf(off, sizeof off, "%" PRIu64, st.wal.torn_offset);
        SCRY_LOG(db->opts.log, SCRY_LOG_WARN, "tsdb", "WAL ended in a torn record; cut it off",
                 "segment", seg, "offset", off);
    }
    /* Drop what the blocks already hold. */
    int64_t blocks_maxt = INT64_MIN;
    for (size_t i = 0; i < tsdb_blocks_count(db->blocks); i++) {
        const struct tsdb_block_meta *m = tsdb_block_meta(tsdb_blocks_at(db->blocks, i));
        if (m->maxt_ms > blocks_maxt)
            blocks_maxt = m->maxt_ms;
    }
    if (blocks_maxt != INT64_MIN)
        tsdb_head_truncate(db->head, blocks_maxt + 1);
    char series[32], samples[32], secs[32];
    snprintf(series, sizeof series, "%" PRIu64, st.series);
    snprintf(samples, sizeof samples, "%" PRIu64, st.samples);
    snprintf(secs, sizeof secs, "%.3f", scry_mono_s() - t0);
    SCRY_LOG(db->opts.log, SCRY_LOG_INFO, "tsdb", "WAL replayed", "series", series, "samples",
             samples, "seconds", secs);
    return 0;
}

struct cp_state {
    struct tsdb *db;
    struct scry_wal_checkpoint *cp;
    struct scry_arena *a;
    struct scry_buf buf;
    int64_t mint;
    uint64_t kept_series, kept_samples;
    struct scry_err rerr; /* why a record callback failed */
};

static int cp_series(struct cp_state *s, const void *p, size_t len, struct scry_err *err)
{
    struct tsdb_wal_series *v;
    size_t n, k = 0;
    int rc = tsdb_wal_series_decode(p, len, s->a, &v, &n, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (tsdb_head_series_alive(s->db->head, v[i].ref))
            v[k++] = v[i];
    if (k == 0)
        return 0;
    scry_buf_reset(&s->buf);
    rc = tsdb_wal_series_encode(&s->buf, v, k, err);
    s->kept_series += k;
    return rc ? rc : scry_wal_checkpoint_append(s->cp, TSDB_WAL_SERIES, s->buf.p, s->buf.len, err);
}

static int cp_samples(struct cp_state *s, const void *p, size_t len, struct scry_err *err)
{
    struct tsdb_wal_sample *v;
    size_t n, k = 0;
    int rc = tsdb_wal_samples_decode(p, len, s->a, &v, &n, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (v[i].t_ms >= s->mint)
            v[k++] = v[i];
    if (k == 0)
        return 0;
    scry_buf_reset(&s->buf);
    tsdb_wal_samples_encode(&s->buf, v, k);
    s->kept_samples += k;
    return scry_wal_checkpoint_append(s->cp, TSDB_WAL_SAMPLES, s->buf.p, s->buf.len, err);
}

static int cp_tombstones(struct cp_state *s, const void *p, size_t len, struct scry_err *err)
{
    struct tsdb_wal_tombstone *v;
    size_t n, k = 0;
    int rc = tsdb_wal_tombstones_decode(p, len, s->a, &v, &n, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (v[i].maxt_ms >= s->mint && tsdb_head_series_alive(s->db->head, v[i].ref))
            v[k++] = v[i];
    if (k == 0)
        return 0;
    scry_buf_reset(&s->buf);
    rc = tsdb_wal_tombstones_encode(&s->buf, v, k, err);
    return rc ? rc
              : scry_wal_checkpoint_append(s->cp, TSDB_WAL_TOMBSTONES, s->buf.p, s->buf.len, err);
}

static int cp_record(void *ud, uint8_t type, const void *payload, size_t len,
                     const struct scry_wal_pos *pos)
{
    struct cp_state *s = ud;
    struct scry_err *err = &s->rerr;
    scry_arena_reset(s->a);
    switch (type) {
    case TSDB_WAL_SERIES: return cp_series(s, payload, len, err);
    case TSDB_WAL_SAMPLES: return cp_samples(s, payload, len, err);
    case TSDB_WAL_TOMBSTONES: return cp_tombstones(s, payload, len, err);
    }
    return 0; /* an unknown type from a newer version: dropped with the segment */
}

/* True when the head holds no series, checked after the WAL was cut: then
 * the checkpoint would keep nothing, and reading the segments can be
 * skipped (after a flush, decoding every SAMPLES record of the head's range
 * only to drop it was ~8 % of the flush). Every record in the segments up
 * to the cut was written before the check; a SERIES or TOMBSTONES record is
 * kept only for a live series, and a SAMPLES record at or after mint only
 * exists for a series that truncate kept (appends and truncate exclude each
 * other through the head's gc lock; only the caller truncates), so with no
 * live series none would be kept but samples of series the replay would
 * skip as unknown anyway. */
static bool head_empty(struct tsdb *db)
{
    struct tsdb_head_stats hs;
    tsdb_head_stats(db->head, &hs);
    return hs.series == 0;
}

int tsdb__checkpoint(struct tsdb *db, int64_t mint, struct scry_err *err)
{
    if (!db->wal)
        return 0;
    double t0 = scry_mono_s();
    uint32_t last;
    int rc = scry_wal_cut(db->wal, &last, err);
    if (rc)
        return scry_err_prefix(err, "checkpoint");
    struct cp_state s = { .db = db, .a = scry_arena_create(0), .mint = mint };
    rc = scry_wal_checkpoint_begin(&s.cp, db->wal_dir, last, err);
    if (rc == 0 && head_empty(db)) {
        rc = scry_wal_checkpoint_commit(s.cp, err); /* keeps nothing: see head_empty */
    } else if (rc == 0) {
        struct scry_wal_replay_opts o = { .on_record = cp_record, .ud = &s, .last_segment = last };
        struct scry_wal_replay_stats st;
        rc = scry_wal_replay(db->wal_dir, &o, &st, err);
        if (rc && s.rerr.code)
            scry_err_set(err, s.rerr.code, "%s", s.rerr.msg);
        if (rc)
            scry_wal_checkpoint_rollback(s.cp);
        else
            rc = scry_wal_checkpoint_commit(s.cp, err);
    }
    if (rc == 0)
        rc = scry_wal_truncate_before(db->wal, last + 1, err);
    scry_arena_destroy(s.a);
    scry_buf_fini(&s.buf);
    if (rc)
        return scry_err_prefix(err, "checkpoint WAL up to segment %u", last);
    char upto[16], series[32], samples[32], secs[32];
    snprintf(upto, sizeof upto, "%08u", last);
    snprintf(series, sizeof series, "%" PRIu64, s.kept_series);
    snprintf(samples, sizeof samples, "%" PRIu64, s.kept_samples);
    snprintf(secs, sizeof secs, "%.3f", scry_mono_s() - t0);
    SCRY_LOG(db->opts.log, SCRY_LOG_INFO, "tsdb", "WAL checkpointed", "upto", upto, "series",
             series, "samples", samples, "seconds", secs);
    return 0;
}
