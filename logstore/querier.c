/* querier.c — select_streams over the segments and the head.
 *
 * Each select pins the segments that overlap its range (acquire; released
 * at close) and copies the matching chunks of the frozen head (a flush in
 * progress) and the head into the querier's arena, all under one store lock
 * hold (so appends and flushes go on, and each entry is seen once). Per
 * segment: matchers → stream postings; required_tokens → the chunk ids the
 * token index allows (README "Tokens"); time bounds → chunk refs. The
 * sources of one label set (segments in time order, the frozen head, the
 * head) form one stream; its entry iterator decompresses one chunk at a
 * time. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "logstore/ls_internal.h"

struct ls_querier {
    struct scry_querier base;
    struct ls_store *st;
    int64_t mint, maxt;
    struct ls_segment **segs;
    size_t n_segs;
    struct scry_arena *a;
};

struct grp {
    struct scry_labels ls;
    struct ls_chunk_src *v;
    size_t n, cap, seq;
};

struct grps {
    struct grp *v;
    size_t n, cap;
};

static struct grp *grp_new(struct grps *g, struct scry_arena *a, struct scry_labels ls)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        struct grp *v = scry_arena_alloc(a, nc * sizeof *v);
        if (g->n)
            memcpy(v, g->v, g->n * sizeof *v);
        g->v = v;
        g->cap = nc;
    }
    struct grp *r = &g->v[g->n];
    *r = (struct grp){ .ls = ls, .seq = g->n };
    g->n++;
    return r;
}

static void grp_add(struct grp *r, struct scry_arena *a, const struct ls_chunk_src *c)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 4;
        struct ls_chunk_src *v = scry_arena_alloc(a, nc * sizeof *v);
        if (r->n)
            memcpy(v, r->v, r->n * sizeof *v);
        r->v = v;
        r->cap = nc;
    }
    r->v[r->n++] = *c;
}

static int grp_cmp(const void *x, const void *y)
{
    const struct grp *a = x, *b = y;
    int c = scry_labels_cmp(&a->ls, &b->ls);
    return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

static bool allowed(const uint64_t *ids, size_t n, uint64_t id)
{
    if (n == SIZE_MAX)
        return true;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ids[mid] == id)
            return true;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int from_segment(struct ls_segment *s, const struct scry_matcher *ms, size_t n_ms,
                        const struct scry_select_hints *h, struct scry_arena *a, struct grps *g,
                        struct scry_err *err)
{
    if (s->maxt < h->mint || s->mint > h->maxt)
        return 0;
    uint64_t *ok = NULL;
    size_t n_ok = SIZE_MAX;
    if (h->n_required_tokens) {
        int rc = ls__segment_token_chunks(s, h->required_tokens, h->n_required_tokens, a, &ok,
                                          &n_ok, err);
        if (rc)
            return rc;
        if (n_ok == 0)
            return 0;
    }
    /* counting: the token index's line counts replace decoding where
     * they are exact (README "Counting from the index") */
    uint32_t *cnt = NULL;
    /* fewer allowed chunks than count_min: the needle's own token (if
     * any) has no counts, so the dictionary walk would only cost */
    if ((h->count_only || h->newest_limit) && h->n_line_contains == 1 && s->counts &&
        (n_ok == SIZE_MAX || n_ok >= s->count_min))
        cnt = ls__segment_line_counts(s, h->line_contains[0].p, h->line_contains[0].len, a);
    uint64_t *ids;
    size_t n;
    ls__segment_select(s, ms, n_ms, a, &ids, &n);
    for (size_t i = 0; i < n; i++) {
        const struct ls_seg_stream *ss = &s->streams[ids[i]];
        struct grp *r = NULL;
        for (uint32_t k = 0; k < ss->n_chunks; k++) {
            uint32_t cid = ss->first_chunk + k;
            const struct ls_seg_chunk *c = &s->chunks[cid];
            if (c->maxt < h->mint || c->mint > h->maxt || !allowed(ok, n_ok, cid))
                continue;
            struct ls_chunk_src src = { 0 };
            bool whole = c->mint >= h->mint && c->maxt <= h->maxt;
            if (cnt && cnt[cid] == 0)
                continue; /* no line holds the literal */
            if (cnt && cnt[cid] != LS_COUNT_DECODE && whole && h->count_only) {
                src = (struct ls_chunk_src){ .n = c->n, .mint = c->mint, .maxt = c->maxt,
                                             .counted = cnt[cid] };
                if (!r)
                    r = grp_new(g, a, ss->ls);
                grp_add(r, a, &src);
                continue;
            }
            int rc = ls__chunk_parse(s->map + c->off, c->len, &src, err);
            if (rc) {
                if (err)
                    err->offset = c->off;
                return scry_err_prefix(err, "%s: offset %llu: chunk %u", s->path,
                                       (unsigned long long)c->off, cid);
            }
            src.n = c->n;
            src.mint = c->mint;
            src.maxt = c->maxt;
            if (cnt && cnt[cid] != LS_COUNT_DECODE && whole)
                src.match1 = cnt[cid] + 1;
            if (!r)
                r = grp_new(g, a, ss->ls);
            grp_add(r, a, &src);
        }
    }
    return 0;
}

static struct scry_labels copy_labels(struct scry_arena *a, const struct scry_labels *ls)
{
    struct scry_label *v = scry_arena_alloc(a, ls->n * sizeof *v);
    for (size_t i = 0; i < ls->n; i++) {
        v[i].name = scry_arena_strdup(a, ls->v[i].name);
        v[i].value = scry_arena_strdup(a, ls->v[i].value);
    }
    return (struct scry_labels){ v, ls->n };
}

/* The head is not token-indexed: its chunks are all scanned. Copies the
 * matching chunks of one head (the frozen one or the live one) into a;
 * called under st->mu. */
static void from_head(struct ls_head *hd, const struct scry_matcher *ms, size_t n_ms,
                      const struct scry_select_hints *h, struct scry_arena *a, struct grps *g)
{
    uint64_t *refs;
    size_t n;
    ls__head_select(hd, ms, n_ms, a, &refs, &n);
    for (size_t i = 0; i < n; i++) {
        struct ls_stream *s = ls__head_by_ref(hd, refs[i]);
        struct grp *r = NULL;
        for (size_t k = 0; k <= s->n_chunks; k++) {
            struct ls_chunk_src src = { 0 };
            if (k < s->n_chunks) {
                const struct ls_hchunk *c = &s->chunks[k];
                src = (struct ls_chunk_src){ 0, NULL, c->comp_len, c->raw_len, c->n,
                                             c->mint, c->maxt, 0, 0 };
                if (c->maxt >= h->mint && c->mint <= h->maxt) {
                    uint8_t *p = scry_arena_alloc(a, c->comp_len);
                    src.p = memcpy(p, c->bytes, c->comp_len);
                }
            } else if (s->open_n) {
                src = (struct ls_chunk_src){ 0, NULL, s->open.len, (uint32_t)s->open.len,
                                             s->open_n, s->open_mint, s->open_maxt, 0, 0 };
                if (src.maxt >= h->mint && src.mint <= h->maxt) {
                    uint8_t *p = scry_arena_alloc(a, s->open.len);
                    src.p = memcpy(p, s->open.p, s->open.len);
                }
            }
            if (!src.p)
                continue;
            if (!r)
                r = grp_new(g, a, copy_labels(a, &s->ls));
            grp_add(r, a, &src);
        }
    }
}

/* One lock hold: the segments overlapping the range (pinned until the
 * querier closes), then the frozen head and the head copied. A flush moves
 * entries head → frozen → segment under the same lock, so each entry is
 * seen exactly once. Returns the first pinned segment's index in q->segs. */
static size_t snapshot(struct ls_querier *q, const struct scry_matcher *ms, size_t n_ms,
                       const struct scry_select_hints *h, struct grps *heads)
{
    struct ls_store *st = q->st;
    pthread_mutex_lock(&st->mu);
    size_t first = q->n_segs;
    q->segs = scry_realloc(q->segs, (q->n_segs + st->n_segs + 1) * sizeof *q->segs);
    for (size_t i = 0; i < st->n_segs; i++) {
        struct ls_segment *s = st->segs[i];
        if (s->maxt < h->mint || s->mint > h->maxt)
            continue;
        ls__segment_acquire(s);
        q->segs[q->n_segs++] = s;
    }
    if (st->frozen)
        from_head(st->frozen, ms, n_ms, h, q->a, heads);
    from_head(&st->head, ms, n_ms, h, q->a, heads);
    pthread_mutex_unlock(&st->mu);
    return first;
}

/* ---- decoding chunks, possibly ahead on worker threads ----
 *
 * Every chunk the stream set will read is a job, numbered in reading order
 * (groups in order, each group's chunks in the query's direction). Decoding
 * a job = decompressing it, splitting the entries, keeping those in the time
 * range and, with line_contains hints, only those whose line holds every
 * literal. With more than one job, LS_DECODE_WORKERS threads decode jobs
 * ahead into a ring of slots while the caller consumes them in order: the
 * decompression (most of a scan's cost) runs on the other core. A job the
 * caller will not read (a stream abandoned half-way by a log query's
 * limit) is skipped without decoding. */

#define LS_DECODE_WORKERS 2
#define LS_RING 6 /* slots: jobs decoded ahead of the consumer, at most */

struct dslot {
    uint64_t counted;          /* the job was a counted chunk: its one entry stands for this many */
    struct scry_buf dec;
    struct scry_arena *md;     /* metadata of the entries */
    struct scry_log_entry *ents;
    size_t n_ents, cap_ents;
    struct scry_err err;
    size_t done;               /* job + 1 once decoded (or skipped) */
};

struct decoder {
    const struct ls_chunk_src **jobs;
    size_t n_jobs;
    int64_t mint, maxt;
    const struct scry_str *lits;
    size_t n_lits;
    struct dslot slots[LS_RING];
    /* threaded mode */
    int n_workers;
    pthread_t th[LS_DECODE_WORKERS];
    pthread_mutex_t mu;
    pthread_cond_t cv_ready, cv_space;
    size_t next_job;           /* the next job a worker claims */
    size_t consumed;           /* jobs below this are released by the consumer */
    size_t skip_to;            /* jobs below this are not decoded */
    bool stop;
};

/* A literal to find in lines, with the offset of its rarest byte. */
struct lit {
    const char *p;
    size_t len, rare;
};

/* Picks the literal's byte that is rarest in a sample of the text to be
 * searched (ties: the later byte), so the memchr skip loop stops seldom. */
static void lit_prepare(struct lit *l, const char *sample, size_t n)
{
    uint16_t freq[256] = { 0 };
    if (n > 4096)
        n = 4096;
    for (size_t i = 0; i < n; i++)
        freq[(unsigned char)sample[i]]++;
    size_t r = 0;
    for (size_t i = 1; i < l->len; i++)
        if (freq[(unsigned char)l->p[i]] <= freq[(unsigned char)l->p[r]])
            r = i;
    l->rare = r;
}

/* The first occurrence of the literal in h[0..len): memchr (vectorised in
 * libc) on its rarest byte, then a compare. On log text this skips far
 * faster than memmem's shift tables. */
static const char *find_lit(const char *h, size_t len, const struct lit *l)
{
    size_t m = l->len, r = l->rare;
    if (m > len)
        return NULL;
    if (m == 1)
        return memchr(h, l->p[0], len);
    const char *end = h + len - m + r + 1; /* where the rare byte may lie */
    char c = l->p[r], c0 = l->p[0], c1 = l->p[m - 1];
    for (const char *p = h + r; p < end;) {
        const char *q = memchr(p, c, (size_t)(end - p));
        if (!q)
            return NULL;
        const char *s = q - r;
        if (s[0] == c0 && s[m - 1] == c1 && !memcmp(s, l->p, m))
            return s;
        p = q + 1;
    }
    return NULL;
}

static bool line_has(const struct lit *lits, size_t from, size_t n, const struct scry_str *l)
{
    for (size_t k = from; k < n; k++)
        if (!find_lit(l->p, l->len, &lits[k]))
            return false;
    return true;
}

/* Keeps the entries whose line holds every literal. Columnar lines lie
 * back to back, so the first literal is searched over all of them at once
 * and mapped back to entries; the others are checked per kept line. */
static void keep_matching(const struct decoder *d, struct dslot *s, bool contiguous)
{
    size_t k = 0, n = s->n_ents, nl = d->n_lits;
    struct scry_log_entry *e = s->ents;
    if (n == 0)
        return;
    struct lit lits[8];
    if (nl > 8)
        nl = 8; /* advisory: checking some of them is enough */
    contiguous = contiguous && n >= 2;
    const char *end = e[n - 1].line.p + e[n - 1].line.len;
    for (size_t i = 0; i < nl; i++) {
        lits[i] = (struct lit){ d->lits[i].p, d->lits[i].len, 0 };
        lit_prepare(&lits[i], e[0].line.p,
                    contiguous ? (size_t)(end - e[0].line.p) : e[0].line.len);
    }
    if (!contiguous) {
        for (size_t i = 0; i < n; i++)
            if (line_has(lits, 0, nl, &e[i].line))
                e[k++] = e[i];
        s->n_ents = k;
        return;
    }
    size_t i = 0;
    const char *from = e[0].line.p;
    while (i < n) {
        const char *hit = find_lit(from, (size_t)(end - from), &lits[0]);
        if (!hit)
            break;
        /* the entry holding hit: lines ascend */
        while (i < n && e[i].line.p + e[i].line.len <= hit)
            i++;
        if (i == n)
            break;
        if (hit < e[i].line.p) { /* in a line outside the time range */
            from = e[i].line.p;
            continue;
        }
        if (hit + lits[0].len <= e[i].line.p + e[i].line.len) {
            if (line_has(lits, 1, nl, &e[i].line))
                e[k++] = e[i];
            from = e[i].line.p + e[i].line.len;
            i++;
        } else {
            from = hit + 1; /* straddles two lines: look again further on */
        }
    }
    s->n_ents = k;
}

static int decode(const struct decoder *d, struct dslot *s, const struct ls_chunk_src *c)
{
    const uint8_t *p;
    s->n_ents = 0;
    s->counted = c->counted;
    if (c->counted) {
        if (s->cap_ents == 0) {
            s->cap_ents = 1;
            s->ents = scry_realloc(s->ents, sizeof *s->ents);
        }
        s->ents[s->n_ents++] = (struct scry_log_entry){ .t_ns = c->maxt, .line = { "", 0 } };
        return 0;
    }
    int rc = ls__chunk_payload(c, &s->dec, &p, &s->err);
    if (rc)
        return rc;
    scry_arena_reset(s->md);
    if (c->n > c->raw_len) /* every entry takes >= 3 payload bytes */
        return scry_err_set(&s->err, SCRY_ECORRUPT, "chunk of %u bytes cannot hold %u entries",
                            c->raw_len, c->n);
    if (c->n > s->cap_ents) {
        s->cap_ents = c->n;
        s->ents = scry_realloc(s->ents, c->n * sizeof *s->ents);
    }
    bool cols = c->codec == LS_CODEC_ZSTD_COLS || c->codec == LS_CODEC_ZSTD_COLS2;
    int64_t prev = c->mint;
    if (cols) {
        if (!ls__cols_get(c->codec, p, c->raw_len, c->n, c->mint, s->md, s->ents))
            return scry_err_set(&s->err, SCRY_ECORRUPT, "chunk payload");
        for (uint32_t i = 0; i < c->n; i++) {
            struct scry_log_entry e = s->ents[i];
            if (e.t_ns < prev || e.t_ns > c->maxt)
                return scry_err_set(&s->err, SCRY_ECORRUPT, "chunk entry %u", i);
            prev = e.t_ns;
            if (e.t_ns >= d->mint && e.t_ns <= d->maxt)
                s->ents[s->n_ents++] = e;
        }
    } else {
        struct ls_rd r = { p, p + c->raw_len, false };
        for (uint32_t i = 0; i < c->n; i++) {
            struct scry_log_entry e;
            if (!ls__entry_get(&r, prev, s->md, &e) || e.t_ns > c->maxt)
                return scry_err_set(&s->err, SCRY_ECORRUPT, "chunk entry %u", i);
            prev = e.t_ns;
            if (e.t_ns >= d->mint && e.t_ns <= d->maxt)
                s->ents[s->n_ents++] = e;
        }
        if (r.p != r.end)
            return scry_err_set(&s->err, SCRY_ECORRUPT, "bytes after the last entry");
    }
    if (d->n_lits)
        keep_matching(d, s, cols);
    return 0;
}

static void *worker(void *arg)
{
    struct decoder *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->stop && d->next_job < d->n_jobs && d->next_job >= d->consumed + LS_RING)
            pthread_cond_wait(&d->cv_space, &d->mu);
        if (d->stop || d->next_job >= d->n_jobs)
            break;
        size_t j = d->next_job++;
        struct dslot *s = &d->slots[j % LS_RING];
        if (j >= d->skip_to) {
            pthread_mutex_unlock(&d->mu);
            s->err.code = 0;
            decode(d, s, d->jobs[j]);
            pthread_mutex_lock(&d->mu);
        } else {
            s->n_ents = 0;
            s->counted = 0;
            s->err.code = 0;
        }
        s->done = j + 1;
        pthread_cond_broadcast(&d->cv_ready);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static int decode_workers(void)
{
    static int n = -1;
    if (n < 0) {
        /* SCRY_LS_DECODE_THREADS=0 decodes on the caller's thread (tests, A/B) */
        const char *e = getenv("SCRY_LS_DECODE_THREADS");
        int v = e ? atoi(e) : LS_DECODE_WORKERS;
        n = v < 0 ? 0 : v > LS_DECODE_WORKERS ? LS_DECODE_WORKERS : v;
    }
    return n;
}

static void decoder_start(struct decoder *d)
{
    for (size_t i = 0; i < LS_RING; i++)
        d->slots[i].md = scry_arena_create(16384);
    int w = decode_workers();
    if (d->n_jobs < 2 || w == 0)
        return;
    if ((size_t)w > d->n_jobs - 1)
        w = (int)(d->n_jobs - 1);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv_ready, NULL);
    pthread_cond_init(&d->cv_space, NULL);
    for (int i = 0; i < w; i++) {
        if (pthread_create(&d->th[i], NULL, worker, d) != 0)
            break;
        d->n_workers++;
    }
    if (d->n_workers == 0) {
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv_ready);
        pthread_cond_destroy(&d->cv_space);
    }
}

/* Job j decoded, in its slot; the consumer moves only forward. With
 * workers, the jobs from the last one released up to j are released (those
 * not yet claimed are skipped). NULL never: errors are in the slot. */
static struct dslot *decoder_get(struct decoder *d, size_t j)
{
    if (!d->n_workers) {
        struct dslot *s = &d->slots[0];
        s->err.code = 0;
        decode(d, s, d->jobs[j]);
        return s;
    }
    pthread_mutex_lock(&d->mu);
    if (d->skip_to < j)
        d->skip_to = j;
    pthread_cond_broadcast(&d->cv_space);
    for (;;) {
        /* release what lies before j, in order, as it completes */
        while (d->consumed < j && d->slots[d->consumed % LS_RING].done == d->consumed + 1) {
            d->consumed++;
            pthread_cond_broadcast(&d->cv_space);
        }
        if (d->consumed == j && d->slots[j % LS_RING].done == j + 1)
            break;
        pthread_cond_wait(&d->cv_ready, &d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return &d->slots[j % LS_RING];
}

static void decoder_stop(struct decoder *d)
{
    if (d->n_workers) {
        pthread_mutex_lock(&d->mu);
        d->stop = true;
        pthread_cond_broadcast(&d->cv_space);
        pthread_mutex_unlock(&d->mu);
        for (int i = 0; i < d->n_workers; i++)
            pthread_join(d->th[i], NULL);
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv_ready);
        pthread_cond_destroy(&d->cv_space);
        d->n_workers = 0;
    }
    for (size_t i = 0; i < LS_RING; i++) {
        scry_buf_fini(&d->slots[i].dec);
        scry_arena_destroy(d->slots[i].md);
        free(d->slots[i].ents);
    }
}

/* ---- entry iterator ---- */

struct ls_entry_iter {
    struct scry_entry_iter base;
    struct decoder *d;
    size_t job, job_end;       /* this stream's jobs: [job, job_end) */
    bool backward;
    struct dslot *cur_slot;
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
        it->cur_slot = decoder_get(it->d, it->job++);
        it->pos = 0;
        if (it->cur_slot->err.code) {
            it->err = it->cur_slot->err;
            return false;
        }
    }
    struct dslot *s = it->cur_slot;
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
    struct grp *v;
    size_t n, i;
    size_t *first_job;         /* n + 1: group i's jobs are [first_job[i], first_job[i + 1]) */
    bool started;
    struct decoder d;
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
    decoder_stop(&ss->d);
    free(ss->d.jobs);
    free(ss->first_job);
    free(ss);
}

static const struct scry_stream_set_ops ss_ops = {
    .next = ss_next, .labels = ss_labels, .entries = ss_entries, .err = ss_err, .close = ss_close,
};

static int cmp_mint_desc(const void *x, const void *y)
{
    const struct ls_chunk_src *a = *(const struct ls_chunk_src *const *)x;
    const struct ls_chunk_src *b = *(const struct ls_chunk_src *const *)y;
    return (a->mint < b->mint) - (a->mint > b->mint);
}

/* newest_limit: when chunks of known matching counts, newest first by
 * their oldest entry, hold limit matches at or after some time T, no entry
 * before T can be among the newest limit ones: chunks ending before T are
 * dropped without being decoded. */
static void drop_older(struct grps *g, uint64_t limit)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++)
        for (size_t k = 0; k < g->v[i].n; k++)
            n += g->v[i].v[k].match1 > 1;
    if (n == 0)
        return;
    const struct ls_chunk_src **v = scry_malloc(n * sizeof *v);
    n = 0;
    for (size_t i = 0; i < g->n; i++)
        for (size_t k = 0; k < g->v[i].n; k++)
            if (g->v[i].v[k].match1 > 1)
                v[n++] = &g->v[i].v[k];
    qsort(v, n, sizeof *v, cmp_mint_desc);
    uint64_t sum = 0;
    int64_t cut = INT64_MIN;
    for (size_t i = 0; i < n && cut == INT64_MIN; i++)
        if ((sum += v[i]->match1 - 1) >= limit)
            cut = v[i]->mint;
    free(v);
    if (cut == INT64_MIN)
        return;
    size_t m = 0;
    for (size_t i = 0; i < g->n; i++) {
        struct grp *r = &g->v[i];
        size_t k = 0;
        for (size_t j = 0; j < r->n; j++)
            if (r->v[j].maxt >= cut)
                r->v[k++] = r->v[j];
        r->n = k;
        if (k)
            g->v[m++] = *r;
    }
    g->n = m;
}

/* Collects the groups of every matching stream, merged by label set. */
static int collect(struct ls_querier *q, const struct scry_matcher *ms, size_t n_ms,
                   const struct scry_select_hints *h, struct grps *out, struct scry_err *err)
{
    struct grps g = { 0 }, heads = { 0 };
    size_t first = snapshot(q, ms, n_ms, h, &heads);
    for (size_t i = first; i < q->n_segs; i++) {
        int rc = from_segment(q->segs[i], ms, n_ms, h, q->a, &g, err);
        if (rc)
            return rc;
    }
    /* The heads' groups after the segments' (time order within a label set). */
    for (size_t i = 0; i < heads.n; i++) {
        struct grp *r = grp_new(&g, q->a, heads.v[i].ls);
        r->v = heads.v[i].v;
        r->n = heads.v[i].n;
        r->cap = heads.v[i].cap;
    }
    if (g.n)
        qsort(g.v, g.n, sizeof *g.v, grp_cmp);
    size_t k = 0;
    for (size_t i = 0; i < g.n; i++) {
        if (k && scry_labels_equal(&g.v[k - 1].ls, &g.v[i].ls)) {
            for (size_t j = 0; j < g.v[i].n; j++)
                grp_add(&g.v[k - 1], q->a, &g.v[i].v[j]);
        } else {
            g.v[k++] = g.v[i];
        }
    }
    g.n = k;
    if (h->newest_limit && h->backward && h->n_line_contains == 1)
        drop_older(&g, h->newest_limit);
    *out = g;
    return 0;
}

static int select_streams(struct scry_querier *base, const struct scry_matcher *ms, size_t n_ms,
                          const struct scry_select_hints *hints, struct scry_stream_set **out,
                          struct scry_err *err)
{
    struct ls_querier *q = (struct ls_querier *)base;
    struct scry_select_hints h = hints ? *hints : (struct scry_select_hints){ 0 };
    if (!hints) {
        h.mint = q->mint;
        h.maxt = q->maxt;
    }
    if (h.mint < q->mint)
        h.mint = q->mint;
    if (h.maxt > q->maxt)
        h.maxt = q->maxt;
    struct grps g;
    int rc = collect(q, ms, n_ms, &h, &g, err);
    if (rc)
        return rc;
    struct ls_stream_set *ss = scry_calloc(1, sizeof *ss);
    ss->base.ops = &ss_ops;
    ss->v = g.v;
    ss->n = g.n;
    ss->first_job = scry_malloc((g.n + 1) * sizeof *ss->first_job);
    size_t n_jobs = 0;
    for (size_t i = 0; i < g.n; i++)
        n_jobs += g.v[i].n;
    struct decoder *d = &ss->d;
    d->jobs = scry_malloc((n_jobs + 1) * sizeof *d->jobs);
    for (size_t i = 0; i < g.n; i++) {
        ss->first_job[i] = d->n_jobs;
        for (size_t k = 0; k < g.v[i].n; k++)
            d->jobs[d->n_jobs++] = &g.v[i].v[h.backward ? g.v[i].n - 1 - k : k];
    }
    ss->first_job[g.n] = d->n_jobs;
    d->mint = h.mint;
    d->maxt = h.maxt;
    if (h.n_line_contains) {
        struct scry_str *l = scry_arena_alloc(q->a, h.n_line_contains * sizeof *l);
        for (size_t i = 0; i < h.n_line_contains; i++)
            if (h.line_contains[i].len) {
                char *c = scry_arena_alloc(q->a, h.line_contains[i].len);
                memcpy(c, h.line_contains[i].p, h.line_contains[i].len);
                l[d->n_lits++] = (struct scry_str){ c, h.line_contains[i].len };
            }
        d->lits = l;
    }
    ss->it.base.ops = &it_ops;
    ss->it.d = d;
    ss->it.backward = h.backward;
    decoder_start(d);
    *out = &ss->base;
    return 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int labels_common(struct ls_querier *q, const char *name, const struct scry_matcher *ms,
                         size_t n_ms, int64_t mint, int64_t maxt, struct scry_arena *a,
                         const char ***out, size_t *n_out, struct scry_err *err)
{
    struct scry_select_hints h = { .mint = mint < q->mint ? q->mint : mint,
                                   .maxt = maxt > q->maxt ? q->maxt : maxt };
    struct grps g;
    int rc = collect(q, ms, n_ms, &h, &g, err);
    if (rc)
        return rc;
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < g.n; i++)
        cap += g.v[i].ls.n;
    const char **v = scry_arena_alloc(a, (cap + 1) * sizeof *v);
    for (size_t i = 0; i < g.n; i++) {
        if (name) {
            const char *val = scry_labels_get(&g.v[i].ls, name);
            if (val)
                v[n++] = val;
        } else {
            for (size_t k = 0; k < g.v[i].ls.n; k++)
                v[n++] = g.v[i].ls.v[k].name;
        }
    }
    qsort(v, n, sizeof *v, str_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || strcmp(v[k - 1], v[i]))
            v[k++] = scry_arena_strdup(a, v[i]);
    *out = v;
    *n_out = k;
    return 0;
}

static int label_names(struct scry_querier *base, const struct scry_matcher *ms, size_t n_ms,
                       int64_t mint, int64_t maxt, struct scry_arena *a, const char ***out,
                       size_t *n_out, struct scry_err *err)
{
    return labels_common((struct ls_querier *)base, NULL, ms, n_ms, mint, maxt, a, out, n_out,
                         err);
}

static int label_values(struct scry_querier *base, const char *name,
                        const struct scry_matcher *ms, size_t n_ms, int64_t mint, int64_t maxt,
                        struct scry_arena *a, const char ***out, size_t *n_out,
                        struct scry_err *err)
{
    if (!name)
        return scry_err_set(err, SCRY_EINVAL, "label_values needs a name");
    return labels_common((struct ls_querier *)base, name, ms, n_ms, mint, maxt, a, out, n_out,
                         err);
}

static void q_close(struct scry_querier *base)
{
    struct ls_querier *q = (struct ls_querier *)base;
    for (size_t i = 0; i < q->n_segs; i++)
        ls__segment_release(q->segs[i]);
    free(q->segs);
    scry_arena_destroy(q->a);
    free(q);
}

static const struct scry_querier_ops q_ops = {
    .select_streams = select_streams,
    .label_names = label_names,
    .label_values = label_values,
    .close = q_close,
};

int ls__querier_new(struct ls_store *st, int64_t mint, int64_t maxt, struct scry_querier **out,
                    struct scry_err *err)
{
    if (mint > maxt)
        return scry_err_set(err, SCRY_EINVAL, "mint > maxt");
    struct ls_querier *q = scry_calloc(1, sizeof *q);
    q->base.ops = &q_ops;
    q->st = st;
    q->mint = mint;
    q->maxt = maxt;
    q->a = scry_arena_create(0);
    /* The segments are pinned at each select, with the heads (snapshot). */
    *out = &q->base;
    return 0;
}
