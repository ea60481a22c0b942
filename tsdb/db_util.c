/* db_util.c — snapshots, dump and the database's log lines. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "tsdb/chunk.h"
#include "tsdb/db_internal.h"

/* ---- logging ------------------------------------------------------------------ */

void tsdb__log_block(struct tsdb *db, const char *what, const struct tsdb_block_meta *m,
                     double seconds)
{
    char series[32], samples[32], bytes[32], bps[32], secs[32];
    snprintf(series, sizeof series, "%" PRIu64, m->n_series);
    snprintf(samples, sizeof samples, "%" PRIu64, m->n_samples);
    snprintf(bytes, sizeof bytes, "%" PRIu64, m->bytes);
    snprintf(bps, sizeof bps, "%.3f", m->n_samples ? (double)m->bytes / (double)m->n_samples : 0);
    snprintf(secs, sizeof secs, "%.3f", seconds);
    SCRY_LOG(db->opts.log, SCRY_LOG_INFO, "tsdb", what, "block", m->id, "series", series,
             "samples", samples, "bytes", bytes, "bytes_per_sample", bps, "seconds", secs);
}

/* ---- snapshot ------------------------------------------------------------------- */

/* Hard-links every file of block directory src into a new directory dst:
 * blocks are immutable, so a link is a copy that costs nothing. */
static int link_block(const char *src, const char *dst, struct scry_err *err)
{
    if (mkdir(dst, 0755) != 0)
        return scry_err_sys(err, SCRY_EIO, "mkdir %s", dst);
    DIR *d = opendir(src);
    if (!d)
        return scry_err_sys(err, SCRY_EIO, "open %s", src);
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char from[4608], to[4608];
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dst, e->d_name);
        if (link(from, to) != 0)
            rc = scry_err_sys(err, SCRY_EIO, "link %s", from);
    }
    closedir(d);
    return rc;
}

int tsdb_snapshot(struct tsdb *db, const char *dir, bool skip_head, struct scry_err *err)
{
    if (mkdir(dir, 0755) != 0)
        return scry_err_sys(err, SCRY_EIO, "snapshot: mkdir %s", dir);
    pthread_mutex_lock(&db->maintain_mu); /* no cut moves data from head to blocks meanwhile */
    int rc = 0;
    size_t n = tsdb_blocks_count(db->blocks);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct tsdb_block *b = tsdb_blocks_at(db->blocks, i);
        char dst[4200];
        snprintf(dst, sizeof dst, "%s/%s", dir, tsdb_block_meta(b)->id);
        rc = link_block(tsdb_block_dir(b), dst, err);
    }
    if (rc == 0 && !skip_head) {
        struct tsdb_head_stats hs;
        tsdb_head_stats(db->head, &hs);
        struct tsdb_block_meta meta;
        if (hs.samples > 0) {
            rc = tsdb__write_head_block(db, dir, hs.mint_ms, hs.maxt_ms, false, &meta, err);
            if (rc == SCRY_ENOTFOUND)
                rc = 0;
        }
    }
    pthread_mutex_unlock(&db->maintain_mu);
    return rc ? scry_err_prefix(err, "snapshot %s", dir) : 0;
}

/* ---- dump ------------------------------------------------------------------------- */

static void print_sample(FILE *out, const struct scry_labels *ls, int64_t t, double v)
{
    struct scry_buf b = { 0 };
    scry_labels_format(ls, &b);
    scry_buf_putc(&b, ' ');
    scry_buf_put_double(&b, v);
    fprintf(out, "%s %" PRId64 "\n", b.p, t);
    scry_buf_fini(&b);
}

int tsdb_dump(const char *data_dir, const struct scry_matcher *ms, size_t n_ms, int64_t mint,
              int64_t maxt, FILE *out, struct scry_err *err)
{
    struct tsdb_opts o = { .data_dir = data_dir, .maintain_interval_ms = -1, .read_only = true };
    o.storage.block_duration_ms = 2 * 3600 * 1000;
    struct tsdb *db;
    int rc = tsdb_open(&db, &o, err);
    if (rc)
        return rc;
    struct scry_querier *q;
    rc = db->queryable.querier(&db->queryable, NULL, mint, maxt, &q, err);
    if (rc == 0) {
        struct scry_series_set *ss = NULL;
        struct scry_select_hints h = { .mint = mint, .maxt = maxt };
        rc = q->ops->select_series(q, ms, n_ms, &h, &ss, err);
        while (rc == 0 && ss->ops->next(ss)) {
            struct scry_sample_iter *it = ss->ops->samples(ss);
            int64_t t;
            double v;
            if (!it->ops->seek(it, mint))
                continue;
            do {
                it->ops->at(it, &t, &v);
                if (t > maxt)
                    break;
                print_sample(out, ss->ops->labels(ss), t, v);
            } while (it->ops->next(it));
            rc = it->ops->err(it, err);
        }
        if (rc == 0)
            rc = ss->ops->err(ss, err);
        if (ss)
            ss->ops->close(ss);
        q->ops->close(q);
    }
    tsdb_close(db);
    return rc;
}
