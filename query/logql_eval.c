/* logql_eval.c — log queries, and the selector scan shared with range
 * aggregations (logql_eval_range.c).
 *
 * A log query selects streams over [start, end) with the leading `|=`
 * words as required tokens, runs each entry through the pipeline and keeps
 * the `limit` best entries (newest for backward) in a bounded heap whose
 * slots own reusable buffers, so memory is O(limit), not O(entries). Each
 * stream arrives in the query's direction, so a stream is abandoned as soon
 * as its next entry cannot enter a full heap. Entries are grouped into
 * output streams by their final label set.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/timeparse.h"
#include "query/logql_internal.h"

#define DEFAULT_TIMEOUT_MS (2 * 60 * 1000)

int lql__check_deadline(struct lql_ctx *c)
{
    if (scry_mono_s() > c->deadline_s)
        return scry_err_set(c->err, SCRY_ETIMEOUT, "context deadline exceeded: the query ran "
                            "longer than %lld ms", (long long)c->opts->timeout_ms);
    return 0;
}

/* ---- label-set map ---- */

void lql__smap_init(struct lql_smap *m) { memset(m, 0, sizeof *m); }

void lql__smap_fini(struct lql_smap *m)
{
    free(m->head);
    free(m->next);
    free(m->hash);
    memset(m, 0, sizeof *m);
}

long lql__smap_find(const struct lql_smap *m, uint64_t h, const struct scry_labels *ls,
                    const struct scry_labels *(*get)(void *ud, size_t i), void *ud)
{
    if (!m->n_buckets)
        return -1;
    for (uint32_t i = m->head[h & (m->n_buckets - 1)]; i; i = m->next[i - 1])
        if (m->hash[i - 1] == h && scry_labels_equal(get(ud, i - 1), ls))
            return (long)i - 1;
    return -1;
}

void lql__smap_add(struct lql_smap *m, uint64_t h, size_t idx)
{
    if (idx >= m->cap) {
        size_t nc = m->cap ? 2 * m->cap : 64;
        while (nc <= idx)
            nc *= 2;
        m->next = scry_realloc(m->next, nc * sizeof *m->next);
        m->hash = scry_realloc(m->hash, nc * sizeof *m->hash);
        m->cap = nc;
        /* rehash at load factor 1 */
        free(m->head);
        m->n_buckets = nc;
        m->head = scry_calloc(nc, sizeof *m->head);
        for (size_t i = 0; i < idx; i++) {
            size_t b = m->hash[i] & (nc - 1);
            m->next[i] = m->head[b];
            m->head[b] = (uint32_t)i + 1;
        }
    }
    m->hash[idx] = h;
    size_t b = h & (m->n_buckets - 1);
    m->next[idx] = m->head[b];
    m->head[b] = (uint32_t)idx + 1;
}

/* ---- shared: running a selector (struct lql_scan: logql_internal.h) ---- */

int lql__scan_open(struct lql_scan *s, struct lql_ctx *c, const struct lql_log *log,
                   int64_t mint, int64_t maxt, bool backward, bool count_only,
                   uint64_t newest_limit)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->log = log;
    int rc = c->store->querier(c->store, c->opts->tenant, mint, maxt, &s->q, c->err);
    if (rc)
        return rc;
    struct scry_select_hints h = { .mint = mint, .maxt = maxt, .backward = backward };
    struct scry_str *toks;
    size_t n_toks;
    lql_required_tokens(log, c->a, &toks, &n_toks);
    h.required_tokens = toks;
    h.n_required_tokens = n_toks;
    /* the literals of the leading `|=` filters: the store drops lines
     * without them while it decodes (a scan over the chunk's lines at
     * memchr speed, on its decoding threads), before any row work here */
    struct scry_str *lits = scry_arena_alloc(c->a, (log->n_stages + 1) * sizeof *lits);
    size_t n_lits = 0;
    for (size_t i = 0; i < log->n_stages && log->stages[i].kind == LQL_ST_FILTER; i++) {
        const struct lql_stage *st = &log->stages[i];
        const struct lql_fval *f = st->u.filter.vals;
        if (st->u.filter.op == LQL_CONTAINS && st->u.filter.n_vals == 1 && !f->ip && !f->re &&
            f->len)
            lits[n_lits++] = (struct scry_str){ f->s, f->len };
    }
    h.line_contains = lits;
    h.n_line_contains = n_lits;
    h.count_only = count_only && n_lits == 1 && log->n_stages == 1;
    if (backward && n_lits == 1 && log->n_stages == 1 && !log->detect_level)
        h.newest_limit = newest_limit;
    rc = s->q->ops->select_streams(s->q, log->matchers, log->n_matchers, &h, &s->ss, c->err);
    if (rc) {
        s->q->ops->close(s->q);
        s->q = NULL;
        return rc;
    }
    s->row.ea = scry_arena_create(64 * 1024);
    return 0;
}

void lql__scan_close(struct lql_scan *s)
{
    if (s->ss)
        s->ss->ops->close(s->ss);
    if (s->q)
        s->q->ops->close(s->q);
    scry_arena_destroy(s->row.ea);
    free(s->stream_lbls);
}

/* Loads entry e of a stream with labels ls into the row and runs the
 * pipeline; false when filtered out. */
bool lql__scan_entry(struct lql_scan *s, const struct scry_labels *ls,
                     const struct scry_log_entry *e)
{
    struct lql_row *r = &s->row;
    s->c->lines++;
    s->c->bytes += e->line.len;
    /* the leading line filters need no labels: most entries of a needle
     * query stop here, before any label work */
    const struct lql_stage *st = s->log->stages;
    size_t n = s->log->n_stages, lead = 0;
    while (lead < n && st[lead].kind == LQL_ST_FILTER)
        lead++;
    r->line = e->line.p;
    r->line_len = e->line.len;
    if (lead && !lql__run_stages(st, lead, r))
        return false;
    scry_arena_reset(r->ea);
    r->v = NULL;
    r->n = r->cap = 0;
    r->line = e->line.p;
    r->line_len = e->line.len;
    r->t_ns = e->t_ns;
    r->has_value = false;
    r->value = 0;
    size_t need = ls->n + e->metadata.n + 8;
    r->v = scry_arena_alloc(r->ea, need * sizeof *r->v);
    r->cap = need;
    if (s->cache_ls != ls) {
        if (ls->n > s->cap_lbls) {
            s->cap_lbls = ls->n;
            s->stream_lbls = scry_realloc(s->stream_lbls, ls->n * sizeof *s->stream_lbls);
        }
        for (size_t i = 0; i < ls->n; i++)
            s->stream_lbls[i] = (struct lql_lbl){ ls->v[i].name, ls->v[i].value,
                                                  strlen(ls->v[i].value), LQL_LBL_STREAM, false };
        s->cache_ls = ls;
    }
    if (ls->n)
        memcpy(r->v, s->stream_lbls, ls->n * sizeof *r->v);
    r->n = ls->n;
    for (size_t i = 0; i < e->metadata.n; i++) {
        const struct scry_label *l = &e->metadata.v[i];
        lql__row_set(r, l->name, strlen(l->name), l->value, strlen(l->value), LQL_LBL_META,
                     true);
    }
    if (s->log->detect_level)
        lql__detect_level(r);
    return lql__run_stages(st + lead, n - lead, r);
}

int lql__scan_err(struct lql_scan *s, struct scry_entry_iter *it)
{
    int rc = it->ops->err(it, s->c->err);
    return rc ? rc : s->ss->ops->err(s->ss, s->c->err);
}

/* ---- log queries ---- */

struct slot {
    int64_t t;
    uint64_t seq;
    long stream;        /* output stream index */
    struct scry_buf line;
    struct scry_labels meta, parsed; /* categorize: in the slot's arena */
    struct scry_arena *a;
};

struct logq {
    struct lql_ctx *c;
    bool backward;
    uint64_t limit, seq;
    struct slot *slots; /* a binary heap, worst entry on top */
    size_t n;
    struct lql_smap map; /* output stream labels → index */
    struct scry_labels *streams;
    size_t n_streams, cap_streams;
};

/* true when a is a better entry than b (kept in preference). */
static bool better(const struct logq *q, const struct slot *a, int64_t bt, uint64_t bseq)
{
    if (a->t != bt)
        return q->backward ? a->t > bt : a->t < bt;
    return a->seq < bseq;
}

static void sift_down(struct logq *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < q->n && better(q, &q->slots[w], q->slots[l].t, q->slots[l].seq))
            w = l;
        if (r < q->n && better(q, &q->slots[w], q->slots[r].t, q->slots[r].seq))
            w = r;
        if (w == i)
            return;
        struct slot t = q->slots[i];
        q->slots[i] = q->slots[w];
        q->slots[w] = t;
        i = w;
    }
}

static void sift_up(struct logq *q, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!better(q, &q->slots[p], q->slots[i].t, q->slots[i].seq))
            return;
        struct slot t = q->slots[i];
        q->slots[i] = q->slots[p];
        q->slots[p] = t;
        i = p;
    }
}

static const struct scry_labels *stream_at(void *ud, size_t i)
{
    return &((struct logq *)ud)->streams[i];
}

static long intern_stream(struct logq *q, const struct lql_row *r)
{
    struct scry_labels ls = lql__row_labels(r, r->ea, q->c->opts->categorize ? LQL_LBL_STREAM : -1);
    uint64_t h = scry_labels_hash(&ls);
    long i = lql__smap_find(&q->map, h, &ls, stream_at, q);
    if (i >= 0)
        return i;
    if (q->n_streams == q->cap_streams) {
        q->cap_streams = q->cap_streams ? 2 * q->cap_streams : 16;
        q->streams = scry_realloc(q->streams, q->cap_streams * sizeof *q->streams);
    }
    struct scry_label *v = scry_arena_alloc(q->c->a, (ls.n ? ls.n : 1) * sizeof *v);
    for (size_t k = 0; k < ls.n; k++) {
        v[k].name = scry_arena_strdup(q->c->a, ls.v[k].name);
        v[k].value = scry_arena_strdup(q->c->a, ls.v[k].value);
    }
    q->streams[q->n_streams] = (struct scry_labels){ v, ls.n };
    lql__smap_add(&q->map, h, q->n_streams);
    return (long)q->n_streams++;
}

static void fill_slot(struct logq *q, struct slot *sl, const struct lql_row *r, uint64_t seq)
{
    sl->t = r->t_ns;
    sl->seq = seq;
    sl->stream = intern_stream(q, r);
    scry_buf_reset(&sl->line);
    scry_buf_put(&sl->line, r->line, r->line_len);
    if (q->c->opts->categorize) {
        if (!sl->a)
            sl->a = scry_arena_create(4096);
        scry_arena_reset(sl->a);
        sl->meta = lql__row_labels(r, sl->a, LQL_LBL_META);
        sl->parsed = lql__row_labels(r, sl->a, LQL_LBL_PARSED);
    }
}

static int cmp_slot(const void *a, const void *b)
{
    const struct slot *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_streams(const void *a, const void *b)
{
    return scry_labels_cmp(&((const struct lql_out_stream *)a)->labels,
                           &((const struct lql_out_stream *)b)->labels);
}

struct pick {
    bool collect;
    int64_t *t;     /* collect: matching timestamps; then: the picked ones, ascending */
    size_t n, cap;
    uint8_t *taken; /* per picked timestamp: an entry was kept */
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void pick_times(struct pick *pk, bool backward, int64_t interval, uint64_t limit)
{
    if (pk->n)
        qsort(pk->t, pk->n, sizeof *pk->t, cmp_i64);
    size_t k = 0;
    int64_t last = 0;
    for (size_t j = 0; j < pk->n && k < limit; j++) {
        size_t i = backward ? pk->n - 1 - j : j;
        int64_t t = pk->t[i];
        if (k > 0 && (backward ? t > last - interval : t < last + interval))
            continue;
        pk->t[k++] = t; /* k <= j: overwrites only what was read */
        last = t;
    }
    pk->n = k;
    if (backward) /* picked newest first: make them ascending for bsearch */
        for (size_t i = 0; i < k / 2; i++) {
            int64_t x = pk->t[i];
            pk->t[i] = pk->t[k - 1 - i];
            pk->t[k - 1 - i] = x;
        }
    pk->taken = scry_calloc(k + 1, 1);
}

/* One pass over the selector: the heap of best entries, or (pk->collect)
 * the timestamps of matching entries, or only entries at picked times. */
static int scan_logs(struct logq *q, const struct lql_log *log, int64_t start_ns, int64_t end_ns,
                     struct pick *pk, size_t *cap_slots)
{
    struct lql_ctx *c = q->c;
    struct lql_scan s;
    /* Loki's log range is [start, end) */
    int rc = lql__scan_open(&s, c, log, start_ns, end_ns - 1, q->backward, false,
                            pk ? 0 : q->limit);
    uint64_t tick = 0;
    while (!rc && s.ss->ops->next(s.ss)) {
        const struct scry_labels *ls = s.ss->ops->labels(s.ss);
        struct scry_entry_iter *it = s.ss->ops->entries(s.ss);
        struct scry_log_entry ent;
        while (it->ops->next(it)) {
            if ((++tick & 1023) == 0 && (rc = lql__check_deadline(c)))
                break;
            it->ops->at(it, &ent);
            if (ent.t_ns < start_ns || ent.t_ns >= end_ns)
                continue;
            if (q->n == q->limit && !better(q, &(struct slot){ .t = ent.t_ns, .seq = 0 },
                                            q->slots[0].t, q->slots[0].seq))
                break; /* this stream's later entries are all worse */
            if (pk && !pk->collect) {
                if (!pk->n)
                    break;
                int64_t *hit = bsearch(&ent.t_ns, pk->t, pk->n, sizeof *pk->t, cmp_i64);
                if (!hit || pk->taken[hit - pk->t])
                    continue;
            }
            if (!lql__scan_entry(&s, ls, &ent))
                continue;
            if (pk && pk->collect) {
                if (pk->n == pk->cap) {
                    pk->cap = pk->cap ? 2 * pk->cap : 1024;
                    pk->t = scry_realloc(pk->t, pk->cap * sizeof *pk->t);
                }
                pk->t[pk->n++] = ent.t_ns;
                continue;
            }
            if (pk)
                pk->taken[(int64_t *)bsearch(&ent.t_ns, pk->t, pk->n, sizeof *pk->t, cmp_i64) -
                          pk->t] = 1;
            q->seq++;
            if (q->n < q->limit) {
                if (q->n == *cap_slots) {
                    size_t nc = *cap_slots * 2 < q->limit ? *cap_slots * 2 : q->limit;
                    q->slots = scry_realloc(q->slots, nc * sizeof *q->slots);
                    memset(q->slots + *cap_slots, 0, (nc - *cap_slots) * sizeof *q->slots);
                    *cap_slots = nc;
                }
                fill_slot(q, &q->slots[q->n], &s.row, q->seq);
                sift_up(q, q->n++);
            } else {
                fill_slot(q, &q->slots[0], &s.row, q->seq);
                sift_down(q, 0);
            }
        }
        if (!rc)
            rc = lql__scan_err(&s, it);
    }
    if (!rc && s.ss)
        rc = s.ss->ops->err(s.ss, c->err);
    lql__scan_close(&s);
    return rc;
}

int lql_eval_logs(const struct lql_opts *opts, struct scry_queryable *store,
                  const struct lql_expr *e, int64_t start_ns, int64_t end_ns, uint64_t limit,
                  bool backward, struct scry_arena *a, struct lql_result *out,
                  struct scry_err *err)
{
    struct lql_opts o = opts ? *opts : (struct lql_opts){ 0 };
    if (!o.timeout_ms)
        o.timeout_ms = DEFAULT_TIMEOUT_MS;
    while (e && e->kind == LQL_PAREN)
        e = e->u.paren;
    if (!e || e->kind != LQL_LOG)
        return scry_err_set(err, SCRY_EINVAL, "not a log query");
    memset(out, 0, sizeof *out);
    out->type = LQL_RES_STREAMS;
    if (limit == 0 || end_ns <= start_ns)
        return 0;
    struct lql_ctx c = { .opts = &o, .store = store, .a = a, .err = err };
    c.deadline_s = scry_mono_s() + (double)o.timeout_ms / 1000.0;
    struct logq q = { .c = &c, .backward = backward, .limit = limit };
    lql__smap_init(&q.map);
    q.slots = scry_calloc(limit < 4096 ? limit : 4096, sizeof *q.slots);
    size_t cap_slots = limit < 4096 ? limit : 4096;
    /* interval (Loki's query_range `interval`): a first pass collects the
     * timestamps of matching entries; entries are then kept only at those
     * picked greedily at least interval apart, in the query's direction,
     * over all streams (Loki's merged iterator); one entry per instant */
    struct pick pk = { 0 };
    int rc = 0;
    if (o.interval_ns > 0) {
        pk.collect = true;
        rc = scan_logs(&q, &e->u.log, start_ns, end_ns, &pk, &cap_slots);
        if (!rc)
            pick_times(&pk, backward, o.interval_ns, limit);
        pk.collect = false;
    }
    if (!rc)
        rc = scan_logs(&q, &e->u.log, start_ns, end_ns, o.interval_ns > 0 ? &pk : NULL,
                       &cap_slots);
    free(pk.t);
    free(pk.taken);
    if (!rc) {
        /* order the kept entries in the query's direction, then split */
        qsort(q.slots, q.n, sizeof *q.slots, cmp_slot);
        for (size_t i = 0; backward && i < q.n / 2; i++) {
            struct slot t = q.slots[i];
            q.slots[i] = q.slots[q.n - 1 - i];
            q.slots[q.n - 1 - i] = t;
        }
        size_t *count = scry_calloc(q.n_streams + 1, sizeof *count);
        for (size_t i = 0; i < q.n; i++)
            count[q.slots[i].stream]++;
        size_t n_out = 0;
        for (size_t i = 0; i < q.n_streams; i++)
            n_out += count[i] > 0;
        out->streams = scry_arena_calloc(a, n_out ? n_out : 1, sizeof *out->streams);
        long *map = scry_calloc(q.n_streams + 1, sizeof *map);
        for (size_t i = 0; i < q.n_streams; i++) {
            if (!count[i]) {
                map[i] = -1;
                continue;
            }
            map[i] = (long)out->n_streams;
            struct lql_out_stream *os = &out->streams[out->n_streams++];
            os->labels = q.streams[i];
            os->entries = scry_arena_alloc(a, count[i] * sizeof *os->entries);
        }
        for (size_t i = 0; i < q.n; i++) {
            struct slot *sl = &q.slots[i];
            struct lql_out_stream *os = &out->streams[map[sl->stream]];
            struct lql_out_entry *oe = &os->entries[os->n_entries++];
            oe->t_ns = sl->t;
            oe->line.p = scry_arena_strndup(a, sl->line.p ? sl->line.p : "", sl->line.len);
            oe->line.len = sl->line.len;
            if (o.categorize) {
                oe->meta = sl->meta;
                oe->parsed = sl->parsed;
                /* copy out of the slot's arena */
                struct scry_labels *ls2[2] = { &oe->meta, &oe->parsed };
                for (int k = 0; k < 2; k++) {
                    struct scry_label *v = scry_arena_alloc(a, (ls2[k]->n + 1) * sizeof *v);
                    for (size_t j = 0; j < ls2[k]->n; j++) {
                        v[j].name = scry_arena_strdup(a, ls2[k]->v[j].name);
                        v[j].value = scry_arena_strdup(a, ls2[k]->v[j].value);
                    }
                    ls2[k]->v = v;
                }
            }
        }
        free(map);
        free(count);
        qsort(out->streams, out->n_streams, sizeof *out->streams, cmp_streams);
        out->entries_returned = q.n;
    }
    out->lines_processed = c.lines;
    out->bytes_processed = c.bytes;
    for (size_t i = 0; i < cap_slots; i++) {
        scry_buf_fini(&q.slots[i].line);
        scry_arena_destroy(q.slots[i].a);
    }
    free(q.slots);
    free(q.streams);
    lql__smap_fini(&q.map);
    return rc;
}
