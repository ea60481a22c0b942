/* querier_iter.c — the stream set select_streams returns and its entry
 * iterator: one group of chunk sources per label set (built by querier.c),
 * read job by job through the decoder (querier_decode.c), in the query's
 * direction. */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "logstore/ls_internal.h"

/* ---- entry iterator ---- */

struct ls_entry_iter {
    struct scry_entry_iter base;
    struct ls_decoder *d;
    size_t job, job_end;       /* this stream's jobs: [job, job_end) */
    bool backward;
    struct ls_dslot *cur_slot;
    size_t pos;
    struct scry_log_entry cur;
    struct scry_err err;
};

static bool it_next(struct scry_entry_iter *base)
{
    struct ls_entry_iter *it = (struct ls_entry_iter *)base;
    if (it->err.code)
        return false;
    while (!it->cur_slot || it->pos >= it->cur_slot->n_ents) {
        if (it->job >= it->job_end)
            return false;
        it->cur_slot = ls__decoder_get(it->d, it->job++);
        it->pos = 0;
        if (it->cur_slot->err.code) {
            it->err = it->cur_slot->err;
            return false;
        }
    }
    struct ls_dslot *s = it->cur_slot;
    size_t i = it->pos++;
    it->cur = s->ents[it->backward ? s->n_ents - 1 - i : i];
    return true;
}

static void it_at(const struct scry_entry_iter *base, struct scry_log_entry *out)
{
    *out = ((const struct ls_entry_iter *)base)->cur;
}

static int it_err(const struct scry_entry_iter *base, struct scry_err *err)
{
    const struct ls_entry_iter *it = (const struct ls_entry_iter *)base;
    if (it->err.code && err)
        *err = it->err;
    return it->err.code;
}

static uint64_t it_counted(const struct scry_entry_iter *base)
{
    const struct ls_entry_iter *it = (const struct ls_entry_iter *)base;
    return it->cur_slot ? it->cur_slot->counted : 0;
}

static const struct scry_entry_iter_ops it_ops = { .next = it_next, .at = it_at, .err = it_err,
                                                   .counted = it_counted };

/* ---- stream set ---- */

struct ls_stream_set {
    struct scry_stream_set base;
    struct ls_grp *v;
    size_t n, i;
    size_t *first_job;         /* n + 1: group i's jobs are [first_job[i], first_job[i + 1]) */
    bool started;
    struct ls_decoder d;
    struct ls_entry_iter it;
};

static bool ss_next(struct scry_stream_set *base)
{
    struct ls_stream_set *ss = (struct ls_stream_set *)base;
    if (ss->it.err.code)
        return false;
    if (ss->started)
        ss->i++;
    ss->started = true;
    return ss->i < ss->n;
}

static const struct scry_labels *ss_labels(const struct scry_stream_set *base)
{
    const struct ls_stream_set *ss = (const struct ls_stream_set *)base;
    return &ss->v[ss->i].ls;
}

static struct scry_entry_iter *ss_entries(struct scry_stream_set *base)
{
    struct ls_stream_set *ss = (struct ls_stream_set *)base;
    struct ls_entry_iter *it = &ss->it;
    it->job = ss->first_job[ss->i];
    it->job_end = ss->first_job[ss->i + 1];
    it->cur_slot = NULL;
    it->pos = 0;
    return &it->base;
}

static int ss_err(const struct scry_stream_set *base, struct scry_err *err)
{
    return it_err(&((const struct ls_stream_set *)base)->it.base, err);
}

static void ss_close(struct scry_stream_set *base)
{
    struct ls_stream_set *ss = (struct ls_stream_set *)base;
    ls__decoder_stop(&ss->d);
    free(ss->d.jobs);
    free(ss->first_job);
    free(ss);
}

static const struct scry_stream_set_ops ss_ops = {
    .next = ss_next, .labels = ss_labels, .entries = ss_entries, .err = ss_err, .close = ss_close,
};

struct scry_stream_set *ls__stream_set_new(struct ls_grp *v, size_t n,
                                           const struct scry_select_hints *h,
                                           struct scry_arena *a)
{
    struct ls_stream_set *ss = scry_calloc(1, sizeof *ss);
    ss->base.ops = &ss_ops;
    ss->v = v;
    ss->n = n;
    ss->first_job = scry_malloc((n + 1) * sizeof *ss->first_job);
    size_t n_jobs = 0;
    for (size_t i = 0; i < n; i++)
        n_jobs += v[i].n;
    struct ls_decoder *d = &ss->d;
    d->jobs = scry_malloc((n_jobs + 1) * sizeof *d->jobs);
    for (size_t i = 0; i < n; i++) {
        ss->first_job[i] = d->n_jobs;
        for (size_t k = 0; k < v[i].n; k++)
            d->jobs[d->n_jobs++] = &v[i].v[h->backward ? v[i].n - 1 - k : k];
    }
    ss->first_job[n] = d->n_jobs;
    d->mint = h->mint;
    d->maxt = h->maxt;
    if (h->n_line_contains) {
        struct scry_str *l = scry_arena_alloc(a, h->n_line_contains * sizeof *l);
        for (size_t i = 0; i < h->n_line_contains; i++)
            if (h->line_contains[i].len) {
                char *c = scry_arena_alloc(a, h->line_contains[i].len);
                memcpy(c, h->line_contains[i].p, h->line_contains[i].len);
                l[d->n_lits++] = (struct scry_str){ c, h->line_contains[i].len };
            }
        d->lits = l;
    }
    ss->it.base.ops = &it_ops;
    ss->it.d = d;
    ss->it.backward = h->backward;
    ls__decoder_start(d);
    return &ss->base;
}
