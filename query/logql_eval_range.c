/* logql_eval_range.c — range aggregations.
 *
 * A range aggregation collects (t, value) points per output series over
 * [start - offset - range, end - offset], sorts each series by time and
 * slides the window (t - range, t] over the steps (Loki's semantics: the
 * left edge is exclusive). Counting aggregations add into per-step
 * difference arrays instead of keeping points. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "query/logql_internal.h"

#define DEFAULT_MAX_SERIES 500 /* Loki's max_query_series */

struct pts {
    struct lql_point *p;
    size_t n, cap;
    /* counting mode: per step, difference arrays of the entries and of
     * their line bytes in the window (n_steps + 1 each) */
    int64_t *dcount, *dbytes;
};

/* The output series of a row by the values of the `by` labels: a cache in
 * front of the label-set map, so an entry whose group was seen costs one
 * hash of a few bytes and one compare, no label set built. */
struct gkey {
    uint64_t h;
    size_t off, len; /* key bytes in keys */
    long idx;        /* series index; -1: empty slot */
};

struct rangeq {
    struct lql_ctx *c;
    struct lql_smap map;
    struct scry_labels *labels;
    struct pts *pts;
    size_t n, cap;
    struct gkey *gk;
    size_t n_gk, cap_gk; /* cap_gk: a power of two */
    struct scry_buf keys, key;
};

static long gkey_find(const struct rangeq *rq, uint64_t h, const char *k, size_t len)
{
    if (!rq->cap_gk)
        return -1;
    for (size_t i = h & (rq->cap_gk - 1);; i = (i + 1) & (rq->cap_gk - 1)) {
        const struct gkey *g = &rq->gk[i];
        if (g->idx < 0)
            return -1;
        if (g->h == h && g->len == len && (!len || !memcmp(rq->keys.p + g->off, k, len)))
            return g->idx;
    }
}

static void gkey_add(struct rangeq *rq, uint64_t h, const char *k, size_t len, long idx)
{
    if (2 * (rq->n_gk + 1) > rq->cap_gk) {
        size_t nc = rq->cap_gk ? 2 * rq->cap_gk : 64;
        struct gkey *v = scry_malloc(nc * sizeof *v);
        for (size_t i = 0; i < nc; i++)
            v[i].idx = -1;
        for (size_t i = 0; i < rq->cap_gk; i++) {
            if (rq->gk[i].idx < 0)
                continue;
            size_t j = rq->gk[i].h & (nc - 1);
            while (v[j].idx >= 0)
                j = (j + 1) & (nc - 1);
            v[j] = rq->gk[i];
        }
        free(rq->gk);
        rq->gk = v;
        rq->cap_gk = nc;
    }
    size_t j = h & (rq->cap_gk - 1);
    while (rq->gk[j].idx >= 0)
        j = (j + 1) & (rq->cap_gk - 1);
    rq->gk[j] = (struct gkey){ h, rq->keys.len, len, idx };
    if (len)
        scry_buf_put(&rq->keys, k, len);
    rq->n_gk++;
}

/* The key of r's group under `by (g)`: each label's value length and bytes
 * in g's order (absent and empty alike, as labels_by skips both). */
static void group_key(const struct lql_row *r, const struct lql_grouping *g, struct scry_buf *b)
{
    scry_buf_reset(b);
    for (size_t i = 0; i < g->n; i++) {
        const struct lql_lbl *l = lql__row_get(r, g->labels[i]);
        uint32_t n = l ? (uint32_t)l->vlen : 0;
        scry_buf_put(b, &n, sizeof n);
        if (n)
            scry_buf_put(b, l->val, n);
    }
}

static bool has_unwrap(const struct lql_log *log)
{
    for (size_t i = 0; i < log->n_stages; i++)
        if (log->stages[i].kind == LQL_ST_UNWRAP)
            return true;
    return false;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static const struct scry_labels *range_at(void *ud, size_t i)
{
    return &((struct rangeq *)ud)->labels[i];
}

static int cmp_point(const void *a, const void *b)
{
    const struct lql_point *x = a, *y = b;
    return x->t_ns < y->t_ns ? -1 : x->t_ns > y->t_ns;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Loki's quantile over a window (Prometheus's quantile: linear interpolation). */
static double quantile(double q, double *v, size_t n)
{
    if (n == 0)
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(v, n, sizeof *v, cmp_dbl);
    double rank = q * (double)(n - 1);
    size_t lo = (size_t)floor(rank), hi = lo + 1 < n ? lo + 1 : lo;
    double w = rank - (double)lo;
    return v[lo] * (1 - w) + v[hi] * w;
}

static double agg_window(enum lql_range_op op, const struct lql_point *p, size_t n,
                         double range_s, double param, double **scratch, size_t *scap)
{
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    switch (op) {
    case LQL_COUNT_OVER_TIME: return (double)n;
    case LQL_RATE:
    case LQL_BYTES_RATE:
    case LQL_BYTES_OVER_TIME:
    case LQL_SUM_OVER_TIME:
        for (size_t i = 0; i < n; i++)
            sum += p[i].v;
        return (op == LQL_RATE || op == LQL_BYTES_RATE) ? sum / range_s : sum;
    case LQL_RATE_COUNTER: {
        /* increase with counter resets, per second (no extrapolation) */
        double inc = 0;
        for (size_t i = 1; i < n; i++)
            inc += p[i].v >= p[i - 1].v ? p[i].v - p[i - 1].v : p[i].v;
        return inc / range_s;
    }
    case LQL_AVG_OVER_TIME:
        for (size_t i = 0; i < n; i++)
            sum += p[i].v;
        return sum / (double)n;
    case LQL_MIN_OVER_TIME:
        for (size_t i = 0; i < n; i++)
            mn = p[i].v < mn || isnan(mn) ? p[i].v : mn;
        return mn;
    case LQL_MAX_OVER_TIME:
        for (size_t i = 0; i < n; i++)
            mx = p[i].v > mx || isnan(mx) ? p[i].v : mx;
        return mx;
    case LQL_STDDEV_OVER_TIME:
    case LQL_STDVAR_OVER_TIME: {
        double mean = 0, m2 = 0;
        for (size_t i = 0; i < n; i++) {
            double d = p[i].v - mean;
            mean += d / (double)(i + 1);
            m2 += d * (p[i].v - mean);
        }
        double var = m2 / (double)n;
        return op == LQL_STDDEV_OVER_TIME ? sqrt(var) : var;
    }
    case LQL_QUANTILE_OVER_TIME:
        if (*scap < n) {
            *scap = n * 2;
            *scratch = scry_realloc(*scratch, *scap * sizeof **scratch);
        }
        for (size_t i = 0; i < n; i++)
            (*scratch)[i] = p[i].v;
        return quantile(param, *scratch, n);
    case LQL_FIRST_OVER_TIME: return p[0].v;
    case LQL_LAST_OVER_TIME: return p[n - 1].v;
    default: return NAN;
    }
}

/* Whether a range aggregation may take counted entries (core/querier.h
 * scry_select_hints.count_only): it counts entries, over one window (an
 * instant query), into the one series of `sum(...)` (by nothing, so a
 * counted entry's missing line and metadata name no series), and the
 * pipeline is exactly one `|= "literal"`. */
static bool count_only_ok(const struct lql_ctx *c, const struct lql_expr *e,
                          const struct lql_grouping *g)
{
    const struct lql_log *log = &e->u.range.log;
    enum lql_range_op op = e->u.range.op;
    if (!(op == LQL_COUNT_OVER_TIME || (op == LQL_RATE && !has_unwrap(log))) ||
        c->n_steps != 1 || !g || !g->present || g->without || g->n || log->n_stages != 1)
        return false;
    const struct lql_stage *st = &log->stages[0];
    const struct lql_fval *f = st->u.filter.vals;
    return st->kind == LQL_ST_FILTER && st->u.filter.op == LQL_CONTAINS &&
           st->u.filter.n_vals == 1 && !f->ip && !f->re && f->len;
}

/* The index of the series with no labels (`sum(...)`'s one group), made on
 * first use; -1 past max_series. */
static long empty_series(struct rangeq *rq, uint64_t max_series)
{
    struct scry_labels none = { NULL, 0 };
    uint64_t h = scry_labels_hash(&none);
    long i = lql__smap_find(&rq->map, h, &none, range_at, rq);
    if (i >= 0)
        return i;
    if (rq->n >= max_series)
        return -1;
    if (rq->n == rq->cap) {
        rq->cap = rq->cap ? 2 * rq->cap : 64;
        rq->labels = scry_realloc(rq->labels, rq->cap * sizeof *rq->labels);
        rq->pts = scry_realloc(rq->pts, rq->cap * sizeof *rq->pts);
    }
    rq->labels[rq->n] = none;
    rq->pts[rq->n] = (struct pts){ 0 };
    lql__smap_add(&rq->map, h, rq->n);
    return (long)rq->n++;
}

static const char *pipeline_error(const struct scry_labels *ls)
{
    return scry_labels_get(ls, "__error__");
}

/* The labels named by `by (...)` of r, sorted, in r's scratch arena:
 * no full label set per entry. */
static struct scry_labels labels_by(const struct lql_row *r, const struct lql_grouping *g)
{
    struct scry_label *v = scry_arena_alloc(r->ea, (g->n + 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++) {
        const struct lql_lbl *l = lql__row_get(r, g->labels[i]);
        if (!l || !l->vlen)
            continue;
        size_t j = n;
        while (j > 0 && strcmp(v[j - 1].name, l->name) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = (struct scry_label){ l->name, l->val };
        n++;
        /* `by (a, a)` names a label once */
        for (size_t k = 0; k + 1 < n; k++)
            if (!strcmp(v[k].name, v[k + 1].name)) {
                memmove(&v[k + 1], &v[k + 2], (n - k - 2) * sizeof *v);
                n--;
                break;
            }
    }
    return (struct scry_labels){ v, n };
}

int lql__eval_range(struct lql_ctx *c, const struct lql_expr *e, const struct lql_grouping *push,
                    struct lql_vec *out)
{
    enum lql_range_op op = e->u.range.op;
    int64_t range = e->u.range.range_ns, off = e->u.range.offset_ns;
    int64_t end = c->start_ns + (int64_t)(c->n_steps - 1) * c->step_ns;
    int64_t mint = c->start_ns - off - range + 1, maxt = end - off;
    struct rangeq rq = { .c = c };
    lql__smap_init(&rq.map);
    uint64_t max_series = c->opts->max_series ? c->opts->max_series : DEFAULT_MAX_SERIES;
    const struct lql_grouping *g = e->u.range.grouping.present ? &e->u.range.grouping : push;
    bool count_only = count_only_ok(c, e, g);
    struct lql_scan s;
    int rc = lql__scan_open(&s, c, &e->u.range.log, mint, maxt, false, count_only, 0);
    /* parsers need to extract only what the grouping and later stages read */
    const char *const *want = NULL;
    size_t n_want = 0;
    bool hinted = !rc && lql__parser_hints(&e->u.range.log, g, c->a, &want, &n_want);
    s.row.want = hinted ? want : NULL;
    s.row.n_want = n_want;
    /* count, bytes and their rates (no unwrap) add integers per entry:
     * they go straight into per-step buckets, no points kept or sorted */
    bool counting = op == LQL_COUNT_OVER_TIME || op == LQL_BYTES_OVER_TIME ||
                    op == LQL_BYTES_RATE || (op == LQL_RATE && !has_unwrap(&e->u.range.log));
    int64_t base = c->start_ns - off; /* step k is at base + k * step */
    struct lql_fast fk;
    bool fast = !rc && counting && lql__fast_init(&fk, &e->u.range.log, g, c->a);
    uint64_t tick = 0;
    /* fast path: the last group key found and its series (gkey_find's
     * answer for that key never changes within the query) */
    struct scry_buf last_key;
    scry_buf_init(&last_key);
    long last_i = -1;
    while (!rc && s.ss->ops->next(s.ss)) {
        const struct scry_labels *ls = s.ss->ops->labels(s.ss);
        struct scry_entry_iter *it = s.ss->ops->entries(s.ss);
        struct scry_log_entry ent;
        while (it->ops->next(it)) {
            if ((++tick & 1023) == 0 && (rc = lql__check_deadline(c)))
                break;
            it->ops->at(it, &ent);
            if (ent.t_ns < mint || ent.t_ns > maxt)
                continue;
            long i = -1;
            uint64_t kh = 0;
            size_t line_len = ent.line.len;
            struct lql_row *r = &s.row;
            /* an entry standing for `weight` matching ones (count_only) */
            uint64_t weight = count_only && it->ops->counted ? it->ops->counted(it) : 0;
            if (weight) {
                line_len = 0;
                if ((i = empty_series(&rq, max_series)) < 0) {
                    rc = scry_err_set(c->err, SCRY_ELIMIT, "maximum of series (%llu) reached "
                                      "for a single query", (unsigned long long)max_series);
                    break;
                }
                goto add;
            }
            weight = 1;
            if (fast && !ent.metadata.n &&
                (ls == fk.cur ? fk.stream_ok : lql__fast_stream(&fk, ls))) {
                s.row.line = ent.line.p;
                s.row.line_len = ent.line.len;
                if (fk.lead && !lql__run_stages(e->u.range.log.stages, fk.lead, &s.row)) {
                    c->lines++;
                    c->bytes += ent.line.len;
                    continue;
                }
                lql__fast_key(&fk, ent.line.p, ent.line.len, &rq.key);
                /* most lines repeat the previous line's group (nginx: 3 in
                 * 4 are 200s): a compare instead of a hash and a probe */
                if (last_i >= 0 && rq.key.len == last_key.len &&
                    (!rq.key.len || !memcmp(rq.key.p, last_key.p, rq.key.len))) {
                    i = last_i;
                    c->lines++;
                    c->bytes += ent.line.len;
                    goto add;
                }
                kh = scry_xxh64(rq.key.len ? rq.key.p : "", rq.key.len, 0);
                i = gkey_find(&rq, kh, rq.key.p, rq.key.len);
                if (i >= 0) {
                    c->lines++;
                    c->bytes += ent.line.len;
                    last_i = i;
                    scry_buf_reset(&last_key);
                    scry_buf_put(&last_key, rq.key.p, rq.key.len);
                    goto add;
                }
                /* a new group: the full pipeline names its series */
            }
            if (!lql__scan_entry(&s, ls, &ent))
                continue;
            line_len = r->line_len;
            struct scry_labels out_ls;
            const struct lql_lbl *perr_l = lql__row_get(r, "__error__");
            bool by = !perr_l && g && g->present && !g->without;
            if (by) {
                group_key(r, g, &rq.key);
                kh = scry_xxh64(rq.key.len ? rq.key.p : "", rq.key.len, 0);
                i = gkey_find(&rq, kh, rq.key.p, rq.key.len);
                if (i >= 0)
                    goto add;
            }
            if (perr_l || !g || !g->present || g->without) {
                out_ls = lql__row_labels(r, r->ea, -1);
                if (g && g->present && !perr_l)
                    out_ls = lql__labels_group(&out_ls, g->labels, g->n, g->without, r->ea);
            } else {
                out_ls = labels_by(r, g);
            }
            uint64_t h = scry_labels_hash(&out_ls);
            i = perr_l ? -1 : lql__smap_find(&rq.map, h, &out_ls, range_at, &rq);
            if (i < 0) {
                const char *perr = pipeline_error(&out_ls);
                if (perr) {
                    struct scry_buf b;
                    scry_buf_init(&b);
                    scry_labels_format(&out_ls, &b);
                    rc = scry_err_set(c->err, SCRY_EINVAL,
                                      "pipeline error: '%s' for series: '%s'.\nUse a label "
                                      "filter to intentionally skip this error. (e.g | "
                                      "__error__!=\"%s\").\nTo skip all potential errors you "
                                      "can match empty errors.(e.g __error__=\"\")\nThe label "
                                      "filter can also be specified after unwrap. (e.g | unwrap "
                                      "latency | __error__=\"\" )",
                                      perr, b.p, perr);
                    scry_buf_fini(&b);
                    break;
                }
                if (rq.n >= max_series) {
                    rc = scry_err_set(c->err, SCRY_ELIMIT, "maximum of series (%llu) reached "
                                      "for a single query", (unsigned long long)max_series);
                    break;
                }
                if (rq.n == rq.cap) {
                    rq.cap = rq.cap ? 2 * rq.cap : 64;
                    rq.labels = scry_realloc(rq.labels, rq.cap * sizeof *rq.labels);
                    rq.pts = scry_realloc(rq.pts, rq.cap * sizeof *rq.pts);
                }
                struct scry_label *v = scry_arena_alloc(c->a, (out_ls.n + 1) * sizeof *v);
                for (size_t k = 0; k < out_ls.n; k++) {
                    v[k].name = scry_arena_strdup(c->a, out_ls.v[k].name);
                    v[k].value = scry_arena_strdup(c->a, out_ls.v[k].value);
                }
                rq.labels[rq.n] = (struct scry_labels){ v, out_ls.n };
                rq.pts[rq.n] = (struct pts){ 0 };
                lql__smap_add(&rq.map, h, rq.n);
                i = (long)rq.n++;
            }
            if (by)
                gkey_add(&rq, kh, rq.key.p, rq.key.len, i);
        add:;
            struct pts *p = &rq.pts[i];
            if (counting) {
                /* the steps whose window (T - range, T] holds t */
                int64_t x = ent.t_ns - base;
                int64_t lo = -floor_div(-x, c->step_ns), hi = floor_div(x + range - 1, c->step_ns);
                if (lo < 0)
                    lo = 0;
                if (hi >= (int64_t)c->n_steps)
                    hi = (int64_t)c->n_steps - 1;
                if (lo > hi)
                    continue;
                if (!p->dcount) {
                    p->dcount = scry_calloc(c->n_steps + 1, sizeof *p->dcount);
                    p->dbytes = scry_calloc(c->n_steps + 1, sizeof *p->dbytes);
                }
                p->dcount[lo] += (int64_t)weight;
                p->dcount[hi + 1] -= (int64_t)weight;
                p->dbytes[lo] += (int64_t)line_len;
                p->dbytes[hi + 1] -= (int64_t)line_len;
                continue;
            }
            if (p->n == p->cap) {
                p->cap = p->cap ? 2 * p->cap : 16;
                p->p = scry_realloc(p->p, p->cap * sizeof *p->p);
            }
            double v = 1;
            if (op == LQL_BYTES_OVER_TIME || op == LQL_BYTES_RATE)
                v = (double)r->line_len;
            else if (r->has_value)
                v = r->value;
            p->p[p->n++] = (struct lql_point){ ent.t_ns, v };
        }
        if (!rc)
            rc = lql__scan_err(&s, it);
    }
    lql__scan_close(&s);
    scry_buf_fini(&last_key);
    double *scratch = NULL;
    size_t scap = 0;
    double range_s = (double)range / 1e9;
    if (!rc && counting) {
        for (size_t i = 0; i < rq.n; i++) {
            struct pts *p = &rq.pts[i];
            if (!p->dcount)
                continue;
            struct lql_ser *sr = NULL;
            int64_t cnt = 0, bytes = 0;
            for (size_t k = 0; k < c->n_steps; k++) {
                cnt += p->dcount[k];
                bytes += p->dbytes[k];
                if (cnt <= 0)
                    continue;
                if (!sr)
                    sr = lql__vec_add(c, out, rq.labels[i]);
                double v = op == LQL_BYTES_OVER_TIME || op == LQL_BYTES_RATE ? (double)bytes
                                                                             : (double)cnt;
                sr->v[k] = op == LQL_RATE || op == LQL_BYTES_RATE ? v / range_s : v;
                sr->has[k] = 1;
            }
        }
    } else if (!rc && op != LQL_ABSENT_OVER_TIME) {
        for (size_t i = 0; i < rq.n; i++) {
            struct pts *p = &rq.pts[i];
            qsort(p->p, p->n, sizeof *p->p, cmp_point);
            struct lql_ser *sr = NULL;
            size_t lo = 0, hi = 0;
            for (size_t k = 0; k < c->n_steps; k++) {
                int64_t t = c->start_ns + (int64_t)k * c->step_ns - off;
                while (lo < p->n && p->p[lo].t_ns <= t - range)
                    lo++;
                if (hi < lo)
                    hi = lo;
                while (hi < p->n && p->p[hi].t_ns <= t)
                    hi++;
                if (hi == lo)
                    continue;
                if (!sr)
                    sr = lql__vec_add(c, out, rq.labels[i]);
                sr->v[k] = agg_window(op, p->p + lo, hi - lo, range_s, e->u.range.param,
                                      &scratch, &scap);
                sr->has[k] = 1;
            }
        }
    } else if (!rc) {
        /* absent_over_time: 1 where no series had an entry in the window;
         * labels from the selector's equality matchers, as Loki does */
        const struct lql_log *log = &e->u.range.log;
        struct scry_label *v = scry_arena_alloc(c->a, (log->n_matchers + 1) * sizeof *v);
        size_t n = 0;
        for (size_t k = 0; k < log->n_matchers; k++)
            if (log->matchers[k].type == SCRY_MATCH_EQ) {
                size_t j = n;
                while (j > 0 && strcmp(v[j - 1].name, log->matchers[k].name) > 0) {
                    v[j] = v[j - 1];
                    j--;
                }
                v[j] = (struct scry_label){ log->matchers[k].name, log->matchers[k].value };
                n++;
            }
        struct lql_ser *sr = NULL;
        size_t *lo = scry_calloc(rq.n + 1, sizeof *lo);
        for (size_t i = 0; i < rq.n; i++)
            qsort(rq.pts[i].p, rq.pts[i].n, sizeof *rq.pts[i].p, cmp_point);
        for (size_t k = 0; k < c->n_steps; k++) {
            int64_t t = c->start_ns + (int64_t)k * c->step_ns - off;
            bool any = false;
            for (size_t i = 0; i < rq.n; i++) {
                struct pts *p = &rq.pts[i];
                while (lo[i] < p->n && p->p[lo[i]].t_ns <= t - range)
                    lo[i]++;
                any |= lo[i] < p->n && p->p[lo[i]].t_ns <= t;
            }
            if (any)
                continue;
            if (!sr)
                sr = lql__vec_add(c, out, (struct scry_labels){ v, n });
            sr->v[k] = 1;
            sr->has[k] = 1;
        }
        free(lo);
    }
    free(scratch);
    for (size_t i = 0; i < rq.n; i++) {
        free(rq.pts[i].p);
        free(rq.pts[i].dcount);
        free(rq.pts[i].dbytes);
    }
    free(rq.pts);
    free(rq.labels);
    free(rq.gk);
    scry_buf_fini(&rq.keys);
    scry_buf_fini(&rq.key);
    lql__smap_fini(&rq.map);
    return rc;
}
