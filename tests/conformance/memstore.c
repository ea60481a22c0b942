/* memstore.c — the in-memory storage the conformance runner loads test data
 * into and the PromQL evaluator reads through core/querier.h.
 *
 * Series are kept sorted by label set (Prometheus labels.Compare order), so
 * select_series returns them in the order the querier contract promises
 * without sorting per query; samples are sorted by time. Test files hold at
 * most a few thousand samples, so every lookup is a binary search over a
 * flat array and a select is a scan with the matchers — simplicity beats
 * an index here. Histogram samples are stored alongside floats (h != NULL);
 * the float sample iterator skips them, since core/querier.h has no
 * histogram iterator yet. The histogram literals are borrowed from the
 * caller (the parsed test file outlives the store's contents). */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "tests/conformance/conformance.h"

struct conf_memstore {
    struct scry_queryable queryable; /* first: container_of by cast */
    struct scry_arena *a;            /* label strings; reset by clear */
    struct conf_series *series;
    size_t n, cap;
};

struct conf_memstore *conf_memstore_create(void)
{
    struct conf_memstore *ms = scry_calloc(1, sizeof(*ms));
    ms->a = scry_arena_create(0);
    return ms;
}

void conf_memstore_clear(struct conf_memstore *ms)
{
    for (size_t i = 0; i < ms->n; i++)
        free(ms->series[i].samples);
    ms->n = 0;
    scry_arena_reset(ms->a);
}

void conf_memstore_destroy(struct conf_memstore *ms)
{
    if (!ms)
        return;
    conf_memstore_clear(ms);
    free(ms->series);
    scry_arena_destroy(ms->a);
    free(ms);
}

size_t conf_memstore_n_series(const struct conf_memstore *ms) { return ms->n; }
const struct conf_series *conf_memstore_series(const struct conf_memstore *ms, size_t i)
{
    return i < ms->n ? &ms->series[i] : NULL;
}

/* Index of ls, or -(insertion point)-1. */
static long find(const struct conf_memstore *ms, const struct scry_labels *ls)
{
    size_t lo = 0, hi = ms->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = scry_labels_cmp(&ms->series[mid].labels, ls);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static struct conf_series *get_or_create(struct conf_memstore *ms, const struct scry_labels *ls)
{
    long i = find(ms, ls);
    if (i >= 0)
        return &ms->series[i];
    size_t at = (size_t)(-i - 1);
    if (ms->n == ms->cap) {
        ms->cap = ms->cap ? ms->cap * 2 : 16;
        ms->series = scry_realloc(ms->series, ms->cap * sizeof(*ms->series));
    }
    memmove(&ms->series[at + 1], &ms->series[at], (ms->n - at) * sizeof(*ms->series));
    ms->n++;
    struct conf_series *s = &ms->series[at];
    memset(s, 0, sizeof(*s));
    struct scry_label *v = scry_arena_alloc(ms->a, (ls->n ? ls->n : 1) * sizeof(*v));
    for (size_t k = 0; k < ls->n; k++) {
        v[k].name = scry_arena_strdup(ms->a, ls->v[k].name);
        v[k].value = scry_arena_strdup(ms->a, ls->v[k].value);
    }
    s->labels.v = v;
    s->labels.n = ls->n;
    return s;
}

static bool same_value(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

int conf_memstore_append(struct conf_memstore *ms, const struct scry_labels *ls, int64_t t_ms,
                         double v, const struct pql_histogram *h, struct scry_err *err)
{
    struct conf_series *s = get_or_create(ms, ls);
    if (s->n_samples > 0) {
        struct conf_sample *last = &s->samples[s->n_samples - 1];
        if (t_ms < last->t_ms)
            return scry_err_set(err, SCRY_EINVAL, "out of order sample at %lld", (long long)t_ms);
        if (t_ms == last->t_ms) {
            if (last->h == h && (h || same_value(last->v, v)))
                return 0;
            return scry_err_set(err, SCRY_EINVAL, "duplicate sample for timestamp %lld",
                                (long long)t_ms);
        }
    }
    if (s->n_samples == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->samples = scry_realloc(s->samples, s->cap * sizeof(*s->samples));
    }
    s->samples[s->n_samples++] = (struct conf_sample){ t_ms, v, h };
    return 0;
}

int conf_memstore_load(struct conf_memstore *ms, const struct conf_series_line *line,
                       int64_t step_ms, struct scry_err *err)
{
    const struct pql_series_desc *d = &line->desc;
    for (size_t i = 0; i < d->n_values; i++) {
        const struct pql_seq_value *sv = &d->values[i];
        if (sv->omitted)
            continue;
        int rc = conf_memstore_append(ms, &d->labels, (int64_t)i * step_ms, sv->v, sv->h, err);
        if (rc != 0)
            return scry_err_prefix(err, "line %d", line->line);
    }
    return 0;
}

/* ---- the querier ----------------------------------------------------------- */

struct sample_iter {
    struct scry_sample_iter it;
    const struct conf_series *s;
    int64_t mint, maxt;
    size_t i;     /* current index + 1 (0 before the first next) */
};

static bool si_valid(const struct sample_iter *si, size_t k)
{
    const struct conf_sample *x = &si->s->samples[k];
    return x->h == NULL && x->t_ms >= si->mint && x->t_ms <= si->maxt;
}

static bool si_next(struct scry_sample_iter *it)
{
    struct sample_iter *si = (struct sample_iter *)it;
    while (si->i < si->s->n_samples) {
        size_t k = si->i++;
        if (si->s->samples[k].t_ms > si->maxt) {
            si->i = si->s->n_samples;
            return false;
        }
        if (si_valid(si, k))
            return true;
    }
    return false;
}

static bool si_seek(struct scry_sample_iter *it, int64_t t_ms)
{
    struct sample_iter *si = (struct sample_iter *)it;
    if (si->i > 0 && si->s->samples[si->i - 1].t_ms >= t_ms && si_valid(si, si->i - 1))
        return true;
    while (si_next(it))
        if (si->s->samples[si->i - 1].t_ms >= t_ms)
            return true;
    return false;
}

static void si_at(const struct scry_sample_iter *it, int64_t *t_ms, double *v)
{
    const struct sample_iter *si = (const struct sample_iter *)it;
    const struct conf_sample *x = &si->s->samples[si->i - 1];
    *t_ms = x->t_ms;
    *v = x->v;
}

static int si_err(const struct scry_sample_iter *it, struct scry_err *err) { return 0; }

static const struct scry_sample_iter_ops sample_iter_ops = {
    .next = si_next, .seek = si_seek, .at = si_at, .err = si_err,
};

struct series_set {
    struct scry_series_set ss;
    const struct conf_memstore *ms;
    size_t *idx;
    size_t n, cur; /* cur: index + 1 */
    struct sample_iter si;
    int64_t mint, maxt;
};

static bool ss_next(struct scry_series_set *s)
{
    struct series_set *x = (struct series_set *)s;
    if (x->cur >= x->n)
        return false;
    x->cur++;
    return true;
}

static const struct scry_labels *ss_labels(const struct scry_series_set *s)
{
    const struct series_set *x = (const struct series_set *)s;
    return &x->ms->series[x->idx[x->cur - 1]].labels;
}

static struct scry_sample_iter *ss_samples(struct scry_series_set *s)
{
    struct series_set *x = (struct series_set *)s;
    x->si.it.ops = &sample_iter_ops;
    x->si.s = &x->ms->series[x->idx[x->cur - 1]];
    x->si.mint = x->mint;
    x->si.maxt = x->maxt;
    x->si.i = 0;
    return &x->si.it;
}

static int ss_err(const struct scry_series_set *s, struct scry_err *err) { return 0; }

static void ss_close(struct scry_series_set *s)
{
    struct series_set *x = (struct series_set *)s;
    free(x->idx);
    free(x);
}

static const struct scry_series_set_ops series_set_ops = {
    .next = ss_next, .labels = ss_labels, .samples = ss_samples, .err = ss_err, .close = ss_close,
};

struct querier {
    struct scry_querier q;
    struct conf_memstore *ms;
    int64_t mint, maxt;
};

static bool matches(const struct conf_series *s, const struct scry_matcher *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!scry_matcher_matches_labels(&m[i], &s->labels))
            return false;
    return true;
}

static int q_select_series(struct scry_querier *q, const struct scry_matcher *m, size_t n_m,
                           const struct scry_select_hints *h, struct scry_series_set **out,
                           struct scry_err *err)
{
    struct querier *qq = (struct querier *)q;
    struct series_set *x = scry_calloc(1, sizeof(*x));
    x->ss.ops = &series_set_ops;
    x->ms = qq->ms;
    x->mint = h ? h->mint : qq->mint;
    x->maxt = h ? h->maxt : qq->maxt;
    x->idx = scry_calloc(qq->ms->n ? qq->ms->n : 1, sizeof(size_t));
    for (size_t i = 0; i < qq->ms->n; i++)
        if (matches(&qq->ms->series[i], m, n_m))
            x->idx[x->n++] = i;
    *out = &x->ss;
    return 0;
}

static int q_select_streams(struct scry_querier *q, const struct scry_matcher *m, size_t n_m,
                            const struct scry_select_hints *h, struct scry_stream_set **out,
                            struct scry_err *err)
{
    return scry_err_set(err, SCRY_EINVAL, "memstore holds no log streams");
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted unique strings into the arena. */
static void uniq_out(struct scry_arena *a, const char **v, size_t n, const char ***out,
                     size_t *n_out)
{
    qsort(v, n, sizeof(char *), cmp_strp);
    const char **o = scry_arena_alloc(a, (n ? n : 1) * sizeof(char *));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || strcmp(o[m - 1], v[i]) != 0)
            o[m++] = scry_arena_strdup(a, v[i]);
    *out = o;
    *n_out = m;
}

static bool has_samples_in(const struct conf_series *s, int64_t mint, int64_t maxt)
{
    for (size_t i = 0; i < s->n_samples; i++)
        if (s->samples[i].t_ms >= mint && s->samples[i].t_ms <= maxt)
            return true;
    return false;
}

static int q_label_names(struct scry_querier *q, const struct scry_matcher *m, size_t n_m,
                         int64_t mint, int64_t maxt, struct scry_arena *a, const char ***out,
                         size_t *n_out, struct scry_err *err)
{
    struct querier *qq = (struct querier *)q;
    size_t cap = 16, n = 0;
    const char **v = scry_malloc(cap * sizeof(char *));
    for (size_t i = 0; i < qq->ms->n; i++) {
        const struct conf_series *s = &qq->ms->series[i];
        if (!matches(s, m, n_m) || !has_samples_in(s, mint, maxt))
            continue;
        for (size_t k = 0; k < s->labels.n; k++) {
            if (n == cap)
                v = scry_realloc(v, (cap *= 2) * sizeof(char *));
            v[n++] = s->labels.v[k].name;
        }
    }
    uniq_out(a, v, n, out, n_out);
    free(v);
    return 0;
}

static int q_label_values(struct scry_querier *q, const char *name, const struct scry_matcher *m,
                          size_t n_m, int64_t mint, int64_t maxt, struct scry_arena *a,
                          const char ***out, size_t *n_out, struct scry_err *err)
{
    struct querier *qq = (struct querier *)q;
    size_t cap = 16, n = 0;
    const char **v = scry_malloc(cap * sizeof(char *));
    for (size_t i = 0; i < qq->ms->n; i++) {
        const struct conf_series *s = &qq->ms->series[i];
        const char *val = scry_labels_get(&s->labels, name);
        if (!val || !matches(s, m, n_m) || !has_samples_in(s, mint, maxt))
            continue;
        if (n == cap)
            v = scry_realloc(v, (cap *= 2) * sizeof(char *));
        v[n++] = val;
    }
    uniq_out(a, v, n, out, n_out);
    free(v);
    return 0;
}

static void q_close(struct scry_querier *q) { free(q); }

static const struct scry_querier_ops querier_ops = {
    .select_series = q_select_series, .select_streams = q_select_streams,
    .label_names = q_label_names, .label_values = q_label_values, .close = q_close,
};

static int make_querier(struct scry_queryable *store, const char *tenant, int64_t mint,
                        int64_t maxt, struct scry_querier **out, struct scry_err *err)
{
    struct querier *q = scry_calloc(1, sizeof(*q));
    q->q.ops = &querier_ops;
    q->ms = (struct conf_memstore *)store;
    q->mint = mint;
    q->maxt = maxt;
    *out = &q->q;
    return 0;
}

struct scry_queryable *conf_memstore_queryable(struct conf_memstore *ms)
{
    ms->queryable.querier = make_querier;
    return &ms->queryable;
}
