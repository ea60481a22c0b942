/* tail_round.c — one round: what every file read becomes committed lines
 * and checkpoints.
 *
 *   1. timestamps: a file whose checkpoint is pinned continues from its
 *      next_t_ns; any other gets a fresh base max(now, its last + 1, the
 *      newest of any file with the same labels + 1); records get base,
 *      base + 1, ... (unique and rising per stream);
 *   2. intent: every fresh base is written to the catalog (off unchanged,
 *      pinned) BEFORE any of its records reach the store;
 *   3. append all records with one appender, commit;
 *   4. checkpoint: off moves to the last record's end_off (one catalog
 *      transaction for all files).
 * A crash after 3 and before 4 re-reads from the old off and, by the pinned
 * base, gives every record the (t_ns, line) it had: the store rejects those
 * it holds (older than the stream's newest: "out of order", or equal to it:
 * a duplicate). collector/README.md "Tailing" has the whole argument.
 * A failed append or commit rewinds the files to their checkpoints; the
 * intents are in place, so the retry produces the same entries. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/tail_internal.h"
#include "core/mem.h"

static const struct scry_label truncated_label[] = { { "truncated", "true" } };

static int64_t stream_newest(struct col_tail_manager *m, const struct col__tail_file *f)
{
    int64_t t = f->last_t_ns;
    for (size_t i = 0; i < m->n_files; i++) {
        const struct col__tail_file *g = m->files[i];
        if (g != f && g->lhash == f->lhash && g->last_t_ns > t)
            t = g->last_t_ns;
    }
    return t;
}

static void assign(struct col_tail_manager *m, int64_t now_ns)
{
    for (size_t i = 0; i < m->n_files; i++) {
        struct col__tail_file *f = m->files[i];
        f->round_intent = false;
        if (f->n_recs == 0)
            continue;
        int64_t base = f->next_t_ns;
        if (!f->pinned) {
            base = now_ns;
            int64_t newest = stream_newest(m, f);
            if (base <= newest)
                base = newest + 1;
            f->round_intent = true;
        }
        f->round_base = base;
        for (size_t k = 0; k < f->n_recs; k++)
            f->recs[k].t_ns = base + (int64_t)k;
        /* Seen by stream_newest for the next files of this round. */
        f->last_t_ns = base + (int64_t)f->n_recs - 1;
    }
}

static int write_rows(struct col_tail_manager *m, bool intents)
{
    struct scry_err err = { 0 };
    int rc = scry_catalog_begin(m->cat, &err);
    for (size_t i = 0; i < m->n_files && rc == 0; i++) {
        struct col__tail_file *f = m->files[i];
        if (intents ? !f->round_intent : f->n_recs == 0)
            continue;
        struct col__tail_pos p;
        col__tail_file_pos(f, &p);
        if (intents) {
            p.next_t_ns = f->round_base;
            p.pinned = true;
            p.last_t_ns = f->round_base - 1;
        }
        rc = col__tail_db_put(m->cat, &p, &err);
    }
    if (rc == 0)
        rc = scry_catalog_commit(m->cat, &err);
    else
        scry_catalog_rollback(m->cat);
    if (rc != 0) {
        scry_metric_inc(m->met.errors);
        SCRY_LOG(m->o.log, SCRY_LOG_ERROR, "tail",
                 intents ? "cannot write the intents" : "cannot write the checkpoints", "err",
                 err.msg);
    }
    return rc;
}

static void rewind_all(struct col_tail_manager *m)
{
    for (size_t i = 0; i < m->n_files; i++) {
        struct col__tail_file *f = m->files[i];
        if (f->n_recs == 0)
            continue;
        if (f->round_intent) { /* the intent may be on disk: keep its base */
            f->pinned = true;
            f->next_t_ns = f->round_base;
        }
        f->last_t_ns = f->pinned ? f->next_t_ns - 1 : f->last_t_ns;
        col__tail_file_rewind(f);
    }
}

/* The rows the round's checkpoint will write (mirrors the update after a
 * successful commit in col__tail_round), for the agent's spool. */
static void announce(struct col_tail_manager *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_files; i++)
        n += m->files[i]->n_recs > 0;
    struct col_tail_position *v = scry_calloc(n ? n : 1, sizeof *v);
    n = 0;
    for (size_t i = 0; i < m->n_files; i++) {
        const struct col__tail_file *f = m->files[i];
        if (f->n_recs == 0)
            continue;
        const struct col__tail_rec *last = &f->recs[f->n_recs - 1];
        v[n++] = (struct col_tail_position){
            .dev = f->dev, .ino = f->ino, .path = f->path, .fp = f->fp, .fp_len = f->fp_len,
            .off = last->end_off, .next_t_ns = last->t_ns + 1, .last_t_ns = last->t_ns,
            .pinned = !f->at_eof,
        };
    }
    m->o.on_checkpoint(m->o.hook_ud, v, n, false);
    free(v);
}

static int append_all(struct col_tail_manager *m, size_t *n_lines)
{
    struct scry_err err = { 0 };
    struct scry_appender *app = NULL;
    if (scry_appender_begin(m->o.appendable, NULL, &app, &err) != 0)
        return -1; /* the store is not ready yet: retried next round */
    for (size_t i = 0; i < m->n_files; i++) {
        struct col__tail_file *f = m->files[i];
        for (size_t k = 0; k < f->n_recs; k++) {
            const struct col__tail_rec *r = &f->recs[k];
            struct scry_log_entry e = {
                .t_ns = r->t_ns,
                .line = { f->rb.p + r->at, r->len },
                .metadata = { r->truncated ? truncated_label : NULL, r->truncated ? 1 : 0 },
            };
            int rc = scry_append_log(app, &f->ref, &f->labels, &e, &err);
            if (rc == SCRY_EINVAL) {
                /* Labels were validated at open, so this is the store's
                 * order rule: a record committed before a crash, re-read. */
                scry_metric_inc(m->met.replayed);
            } else if (rc != 0) {
                scry_metric_inc(m->met.errors);
                uint64_t n = 0;
                if (scry_log_limit_allow(&m->lim, f->path, col__tail_now_ms(), &n))
                    SCRY_LOG(m->o.log, SCRY_LOG_WARN, "tail", "line not stored", "path",
                             f->path, "err", err.msg);
            } else {
                (*n_lines)++;
                if (r->truncated)
                    scry_metric_inc(m->met.truncated);
            }
        }
    }
    if (m->o.on_checkpoint)
        announce(m);
    if (scry_appender_commit(app, &err) != 0) {
        SCRY_LOG(m->o.log, SCRY_LOG_ERROR, "tail", "commit failed", "err", err.msg);
        scry_metric_inc(m->met.errors);
        return -1;
    }
    return 0;
}

/* Whether an older file of the same stream (files are kept in the order
 * they were opened) still has a backlog: the rotated file is finished
 * before its successor is read, so the stream's timestamps never have to
 * interleave two runs (which a replay could not reproduce). */
static bool draining_before(struct col_tail_manager *m, size_t i)
{
    for (size_t k = 0; k < i; k++)
        if (m->files[k]->lhash == m->files[i]->lhash && !m->files[k]->at_eof)
            return true;
    return false;
}

size_t col__tail_round(struct col_tail_manager *m, int64_t now_ms)
{
    size_t n_recs = 0;
    for (size_t i = 0; i < m->n_files; i++) {
        struct col__tail_file *f = m->files[i];
        if (!draining_before(m, i)) {
            col__tail_file_read(m, f, now_ms);
            n_recs += f->n_recs;
        }
    }
    if (n_recs == 0)
        return 0;
    assign(m, col__tail_now_ns());
    size_t n_lines = 0;
    if (write_rows(m, true) != 0 || append_all(m, &n_lines) != 0) {
        rewind_all(m);
        return 0;
    }
    scry_metric_add(m->met.lines, (double)n_lines);
    scry_metric_inc(m->met.commits);
    for (size_t i = 0; i < m->n_files; i++) {
        struct col__tail_file *f = m->files[i];
        if (f->n_recs == 0)
            continue;
        f->ck_off = f->recs[f->n_recs - 1].end_off;
        f->last_t_ns = f->recs[f->n_recs - 1].t_ns;
        f->next_t_ns = f->last_t_ns + 1;
        /* Stopped by the read cap: the rest of the backlog continues the
         * same run of timestamps, so a replay cut at another place by the
         * cap still reproduces them. */
        f->pinned = !f->at_eof;
    }
    if (m->o.checkpoint_delay_ms > 0)
        usleep((useconds_t)(m->o.checkpoint_delay_ms * 1000));
    write_rows(m, false); /* on failure the intents stand: a restart replays */
    if (m->o.on_checkpoint)
        m->o.on_checkpoint(m->o.hook_ud, NULL, 0, true);
    for (size_t i = 0; i < m->n_files; i++) {
        struct col__tail_file *f = m->files[i];
        f->n_recs = 0;
        scry_buf_reset(&f->rb);
    }
    return n_recs;
}
