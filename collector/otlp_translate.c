/* otlp_translate.c — OTLP metrics to Prometheus samples.
 *
 * Follows Prometheus's OTLP receiver (storage/remote/otlptranslator,
 * default strategy UnderscoreEscapingWithSuffixes) so that dashboards built
 * for a Prometheus fed by OTLP work unchanged here. Per request:
 *
 *   resource  job = service.namespace + "/" + service.name (or service.name
 *             alone), instance = service.instance.id; the other resource
 *             attributes go only to target_info{job, instance, ...} = 1,
 *             one sample per resource at its latest data point time, and
 *             only when there are such attributes (Prometheus 2.x).
 *   scope     otel_scope_name and otel_scope_version labels when non-empty
 *             (the OpenTelemetry compatibility spec; Prometheus 3 makes it an
 *             option, promote_scope_metadata). Scope attributes are not
 *             labels.
 *   point     attributes → labels (otlp_names.c); two keys that sanitise to
 *             the same name are joined with ";" in key order; job/instance
 *             from the resource override attributes of those names; a
 *             __name__ attribute is dropped; empty values are dropped.
 *   types     gauge → name; sum: monotonic → name_total (counter), else
 *             gauge; histogram → name_bucket{le} (cumulative, +Inf = count),
 *             name_sum (only when sum is present), name_count; exponential
 *             histogram → the same classic series, buckets converted below;
 *             summary → name{quantile}, name_sum, name_count.
 *   values    time_unix_nano / 1e6 → ms (truncated); as_int → double;
 *             NO_RECORDED_VALUE → every sample of the point is Prometheus's
 *             staleness marker (StaleNaN 0x7ff0000000000002).
 *
 * Delta temporality is converted to cumulative here, per output series: a
 * running total per series (keyed by two independent 64-bit hashes of the
 * final label set) in a bounded map with LRU eviction. The first delta of
 * a series (or the first after eviction) starts the total at its own value:
 * to Prometheus that looks like a counter reset, which rate() handles, so
 * eviction costs accuracy only at the reset. A delta point whose time is
 * not after the series' last one is rejected (partial_success) since adding
 * it would double-count. Totals are tentative until the store commits
 * (col_otlp_batch_commit): a request answered 503 and re-sent is not added
 * twice. Two concurrent requests carrying the same delta series race; the
 * later commit wins.
 *
 * Exponential histograms become classic buckets (scry has no native
 * histograms yet): with base = 2^(2^-scale), positive bucket i holds
 * (base^i, base^(i+1)] and becomes le = base^(i+1); negative bucket i holds
 * [-base^(i+1), -base^i) and becomes le = -base^i; the zero bucket becomes
 * le = zero_threshold; all cumulative from the most negative up, and +Inf =
 * count. Equal bounds (overflow to ±Inf at extreme indices) are merged.
 * Scales outside [-10, 20] and more than 2048 buckets per side are refused.
 *
 * Exemplars are decoded and dropped: the appender seam has no exemplar op
 * yet (core/appender.h).
 *
 * The delta map itself and the translator's lifecycle are in otlp_delta.c. */
#include "collector/otlp_internal.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define MAX_EXP_BUCKETS 2048

/* ---- one request -------------------------------------------------------- */

struct tx {
    struct col_otlp_translator *tr;
    struct scry_arena *a;
    col_otlp_sample_fn fn;
    void *ud;
    struct col_otlp_batch *b;
    struct scry_err *err;
    const char *job, *instance;             /* of the current resource, or NULL */
    const char *scope_name, *scope_version; /* of the current scope, or NULL */
    struct scry_buf name;                   /* the current metric's base name */
    size_t name_len;
    struct scry_label *base;                /* the current point's labels, sorted */
    size_t n_base, cap_base;
    struct scry_label *lab;                 /* scratch: base + __name__ + le/quantile */
    size_t cap_lab;
    struct scry_buf tmp, extra;
    /* le texts of the last explicit-bounds histogram point: the points of a
     * metric share their bounds, and formatting a double is the most
     * expensive step of translation (printf + strtod round trips). */
    const double *le_bounds;
    const char **le_text;
    size_t n_le;
    int64_t t_ms, max_t_ms;
    bool delta, stale, point_bad, any_point;
};

/* Records why the current point is rejected (the first reason per request
 * goes into the batch); the point is counted once, in end_point. */
static void reject(struct tx *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reject(struct tx *q, const char *fmt, ...)
{
    if (!q->point_bad && q->b->first.len == 0) {
        va_list ap;
        va_start(ap, fmt);
        scry_buf_vprintf(&q->b->first, fmt, ap);
        va_end(ap);
    }
    q->point_bad = true;
}

/* Appends an AnyValue as text: strings as they are, numbers and booleans
 * as Go's pcommon AsString writes them, bytes in base64, arrays and maps
 * as JSON. */
static const char *attr_str(struct tx *q, const ot_kv *kv)
{
    scry_buf_reset(&q->tmp);
    col__otlp_anyvalue_str(&q->tmp, kv->value, COL__OTLP_AV_PROM);
    return q->tmp.len ? scry_arena_strndup(q->a, q->tmp.p, q->tmp.len) : NULL;
}

static const ot_kv *find_attr(ot_kv *const *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i]->key && strcmp(kv[i]->key, key) == 0)
            return kv[i];
    return NULL;
}

/* An attribute after sanitising, with its original key for ordering. */
struct attr {
    const char *name, *key, *value;
};

static int attr_cmp(const void *x, const void *y)
{
    const struct attr *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : strcmp(a->key, b->key);
}

static void base_grow(struct tx *q, size_t n)
{
    if (n > q->cap_base) {
        q->cap_base = n * 2 + 8;
        q->base = scry_realloc(q->base, q->cap_base * sizeof *q->base);
    }
}

/* Sets name=value in the base set (unsorted until sort_base), replacing. */
static void base_set(struct tx *q, const char *name, const char *value)
{
    for (size_t i = 0; i < q->n_base; i++)
        if (strcmp(q->base[i].name, name) == 0) {
            q->base[i].value = value;
            return;
        }
    base_grow(q, q->n_base + 1);
    q->base[q->n_base++] = (struct scry_label){ name, value };
}

static int label_cmp(const void *x, const void *y)
{
    return strcmp(((const struct scry_label *)x)->name, ((const struct scry_label *)y)->name);
}

/* Builds the sorted label set of attributes kv[0..n) plus `ident` (job,
 * instance, scope) into q->base. skip_identity leaves out the resource
 * attributes that became job and instance (for target_info). */
static int build_base(struct tx *q, ot_kv *const *kv, size_t n, bool skip_identity)
{
    struct attr *as = n ? scry_arena_alloc(q->a, n * sizeof *as) : NULL;
    size_t na = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = kv[i]->key ? kv[i]->key : "";
        if (skip_identity && (strcmp(key, "service.name") == 0 ||
                              strcmp(key, "service.namespace") == 0 ||
                              strcmp(key, "service.instance.id") == 0))
            continue;
        const char *v = attr_str(q, kv[i]);
        if (!v)
            continue;
        if (!scry_utf8_valid(v, strlen(v))) {
            reject(q, "attribute \"%.100s\": value is not valid UTF-8", key);
            return -1;
        }
        scry_buf_reset(&q->tmp);
        col_otlp_label_name(key, &q->tmp);
        if (q->tmp.len == 0 || strcmp(q->tmp.p, SCRY_METRIC_NAME) == 0)
            continue;
        as[na++] = (struct attr){ scry_arena_strndup(q->a, q->tmp.p, q->tmp.len), key, v };
    }
    if (na > 1)
        qsort(as, na, sizeof *as, attr_cmp);
    q->n_base = 0;
    base_grow(q, na + 4);
    for (size_t i = 0; i < na; i++) {
        if (q->n_base && strcmp(q->base[q->n_base - 1].name, as[i].name) == 0) {
            /* keys that collide after sanitising: values joined, in key order */
            q->base[q->n_base - 1].value =
                scry_arena_printf(q->a, "%s;%s", q->base[q->n_base - 1].value, as[i].value);
            continue;
        }
        q->base[q->n_base++] = (struct scry_label){ as[i].name, as[i].value };
    }
    if (!skip_identity && q->tr->scope_labels) {
        if (q->scope_name)
            base_set(q, "otel_scope_name", q->scope_name);
        if (q->scope_version)
            base_set(q, "otel_scope_version", q->scope_version);
    }
    if (q->job)
        base_set(q, "job", q->job);
    if (q->instance)
        base_set(q, "instance", q->instance);
    qsort(q->base, q->n_base, sizeof *q->base, label_cmp);
    return 0;
}

/* ---- samples ------------------------------------------------------------ */

static double stale_nan(void)
{
    uint64_t b = COL_OTLP_STALE_NAN_BITS;
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* The second key of the delta map: a hash independent of scry_labels_hash. */
static uint64_t labels_hash2(const struct scry_labels *ls)
{
    uint64_t h = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < ls->n; i++) {
        h = scry_xxh64(ls->v[i].name, strlen(ls->v[i].name), h);
        h = scry_xxh64(ls->v[i].value, strlen(ls->v[i].value), h ^ 0xff);
    }
    return h;
}

/* Delta → cumulative for one sample; false when it must be rejected. */
static bool accumulate(struct tx *q, const struct scry_labels *ls, double *v)
{
    struct col_otlp_translator *tr = q->tr;
    uint64_t h1 = scry_labels_hash(ls), h2 = labels_hash2(ls);
    bool fresh, ok = true;
    pthread_mutex_lock(&tr->mu);
    uint32_t i = col__otlp_delta_entry(tr, h1, h2, &fresh);
    struct dentry *e = &tr->e[i];
    double total = e->owner == q->b->id ? e->tent_total : e->total;
    int64_t last = e->owner == q->b->id ? e->tent_t_ms : e->t_ms;
    if (!fresh && q->t_ms <= last) {
        ok = false;
    } else {
        e->tent_total = fresh ? *v : total + *v;
        e->tent_t_ms = q->t_ms;
        e->owner = q->b->id;
        *v = e->tent_total;
    }
    pthread_mutex_unlock(&tr->mu);
    if (!ok) {
        reject(q, "delta point at %" PRId64 " ms is not after the last one of its series (%"
               PRId64 " ms); not added to the running total", q->t_ms, last);
        return false;
    }
    struct col_otlp_batch *b = q->b;
    if (b->n_pending == b->cap_pending) {
        b->cap_pending = b->cap_pending ? b->cap_pending * 2 : 64;
        b->pending = scry_realloc(b->pending, b->cap_pending * sizeof *b->pending);
    }
    b->pending[b->n_pending++] = (struct col__otlp_pending){ i, h1, h2 };
    return true;
}

/* Emits one sample: base labels + __name__ = name+suffix (+ extra label). */
static int emit(struct tx *q, const char *suffix, const char *xname, const char *xvalue,
                double v)
{
    q->name.len = q->name_len;
    scry_buf_puts(&q->name, suffix);
    if (q->cap_lab < q->n_base + 2) {
        q->cap_lab = q->n_base + 10;
        q->lab = scry_realloc(q->lab, q->cap_lab * sizeof *q->lab);
    }
    /* Merge the two extra labels into the sorted base; they override. */
    struct scry_label x[2] = { { SCRY_METRIC_NAME, q->name.p }, { xname, xvalue } };
    size_t nx = xname ? 2 : 1, n = 0, k = 0;
    if (nx == 2 && strcmp(x[0].name, x[1].name) > 0) {
        struct scry_label t = x[0];
        x[0] = x[1];
        x[1] = t;
    }
    for (size_t i = 0; i < q->n_base; i++) {
        while (k < nx && strcmp(x[k].name, q->base[i].name) < 0)
            q->lab[n++] = x[k++];
        if (k < nx && strcmp(x[k].name, q->base[i].name) == 0)
            continue; /* overridden */
        q->lab[n++] = q->base[i];
    }
    while (k < nx)
        q->lab[n++] = x[k++];
    struct scry_labels ls = { q->lab, n };
    q->b->n_samples++;
    if (q->stale) {
        v = stale_nan();
    } else if (q->delta && !accumulate(q, &ls, &v)) {
        q->b->n_rejected_samples++;
        return 0;
    }
    struct scry_err e = { 0 };
    int rc = q->fn(q->ud, &ls, q->t_ms, v, &e);
    if (rc == SCRY_EINVAL || rc == SCRY_ELIMIT) {
        q->b->n_rejected_samples++;
        if (!q->point_bad && q->b->first.len == 0) {
            scry_buf_printf(&q->b->first, "%s: ", e.msg[0] ? e.msg : "refused by the store");
            scry_labels_format(&ls, &q->b->first);
            scry_buf_printf(&q->b->first, " @ %" PRId64, q->t_ms);
        }
        q->point_bad = true;
        return 0;
    }
    if (rc != 0 && q->err)
        *q->err = e;
    return rc;
}

static int emit_le(struct tx *q, const char *suffix, const char *lname, double bound, double v)
{
    scry_buf_reset(&q->extra);
    scry_buf_put_double_api(&q->extra, bound);
    return emit(q, suffix, lname, q->extra.p, v);
}

/* Starts a data point: time, flags, labels. false: the point is rejected. */
static bool begin_point(struct tx *q, ot_kv *const *attrs, size_t n_attrs, uint64_t t_ns,
                        uint32_t flags)
{
    q->point_bad = false;
    q->b->n_points++;
    q->stale = flags & OT_NO_RECORDED_VALUE;
    if (t_ns == 0) {
        reject(q, "metric %s: data point without timeUnixNano", q->name.p);
        return false;
    }
    q->t_ms = (int64_t)(t_ns / 1000000u);
    if (build_base(q, attrs, n_attrs, false) != 0)
        return false;
    if (q->t_ms > q->max_t_ms)
        q->max_t_ms = q->t_ms;
    q->any_point = true;
    return true;
}

static void end_point(struct tx *q)
{
    if (q->point_bad)
        q->b->n_rejected_points++;
}

/* Counts n points of a metric as rejected, with one reason. */
static void reject_points(struct tx *q, size_t n, const char *why)
{
    for (size_t i = 0; i < n; i++) {
        q->point_bad = false;
        q->b->n_points++;
        reject(q, "metric %s: %s", q->name.p, why);
        end_point(q);
    }
}

static int number_points(struct tx *q, ot_ndp *const *ps, size_t n, const char *suffix)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const ot_ndp *p = ps[i];
        if (begin_point(q, p->attributes, p->n_attributes, p->time_unix_nano, p->flags)) {
            double v = p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT
                           ? (double)p->as_int
                           : p->as_double;
            rc = emit(q, suffix, NULL, NULL, v);
        }
        end_point(q);
    }
    return rc;
}

static int histogram_points(struct tx *q, ot_hdp *const *ps, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const ot_hdp *p = ps[i];
        if (!begin_point(q, p->attributes, p->n_attributes, p->time_unix_nano, p->flags)) {
            end_point(q);
            continue;
        }
        if (p->n_bucket_counts != 0 && p->n_bucket_counts != p->n_explicit_bounds + 1) {
            reject(q, "histogram %s: %zu bucket counts for %zu explicit bounds (want bounds+1)",
                   q->name.p, p->n_bucket_counts, p->n_explicit_bounds);
            end_point(q);
            continue;
        }
        /* With delta temporality each le series accumulates on its own;
         * sums of cumulative-in-le counts stay cumulative in le. */
        if (!(q->n_le == p->n_explicit_bounds &&
              (q->n_le == 0 ||
               memcmp(q->le_bounds, p->explicit_bounds, q->n_le * sizeof(double)) == 0))) {
            q->n_le = p->n_explicit_bounds;
            q->le_bounds = p->explicit_bounds;
            q->le_text = scry_arena_alloc(q->a, (q->n_le + 1) * sizeof *q->le_text);
            for (size_t k = 0; k < q->n_le; k++) {
                scry_buf_reset(&q->extra);
                scry_buf_put_double_api(&q->extra, p->explicit_bounds[k]);
                q->le_text[k] = scry_arena_strndup(q->a, q->extra.p, q->extra.len);
            }
        }
        uint64_t cum = 0;
        for (size_t k = 0; k < p->n_explicit_bounds && k < p->n_bucket_counts && rc == 0; k++) {
            cum += p->bucket_counts[k];
            rc = emit(q, "_bucket", "le", q->le_text[k], (double)cum);
        }
        if (rc == 0)
            rc = emit(q, "_bucket", "le", "+Inf", (double)p->count);
        if (rc == 0 && p->sum_present_case)
            rc = emit(q, "_sum", NULL, NULL, p->sum);
        if (rc == 0)
            rc = emit(q, "_count", NULL, NULL, (double)p->count);
        end_point(q);
    }
    return rc;
}

/* Upper bound of exponential bucket index i at this scale: base^(i+1). */
static double exp_upper(int32_t scale, int64_t i)
{
    int64_t e = i + 1;
    if (scale <= 0) {
        int64_t x = e * ((int64_t)1 << -scale);
        if (x > 1100)
            return INFINITY;
        if (x < -1100)
            return 0;
        return ldexp(1.0, (int)x);
    }
    return exp2((double)e / (double)((int64_t)1 << scale));
}

static int exp_histogram_points(struct tx *q, ot_edp *const *ps, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const ot_edp *p = ps[i];
        if (!begin_point(q, p->attributes, p->n_attributes, p->time_unix_nano, p->flags)) {
            end_point(q);
            continue;
        }
        size_t nneg = p->negative ? p->negative->n_bucket_counts : 0;
        size_t npos = p->positive ? p->positive->n_bucket_counts : 0;
        if (p->scale < -10 || p->scale > 20 || nneg > MAX_EXP_BUCKETS || npos > MAX_EXP_BUCKETS) {
            reject(q, "exponential histogram %s: scale %d or %zu/%zu buckets out of range "
                   "(scale -10..20, at most %d buckets per side)", q->name.p, p->scale, nneg,
                   npos, MAX_EXP_BUCKETS);
            end_point(q);
            continue;
        }
        /* (le, cumulative count) from the most negative bound up. */
        size_t nb = nneg + 1 + npos, m = 0;
        double *le = scry_arena_alloc(q->a, nb * sizeof *le);
        uint64_t *cum = scry_arena_alloc(q->a, nb * sizeof *cum), c = 0;
        for (size_t k = nneg; k-- > 0;) {
            c += p->negative->bucket_counts[k];
            le[m] = -exp_upper(p->scale, (int64_t)p->negative->offset + (int64_t)k - 1);
            cum[m++] = c;
        }
        c += p->zero_count;
        le[m] = p->zero_threshold;
        cum[m++] = c;
        for (size_t k = 0; k < npos; k++) {
            c += p->positive->bucket_counts[k];
            le[m] = exp_upper(p->scale, (int64_t)p->positive->offset + (int64_t)k);
            cum[m++] = c;
        }
        for (size_t k = 0; k < m && rc == 0; k++) {
            if (isinf(le[k]) && le[k] > 0)
                break; /* merged into +Inf */
            if (k + 1 < m && le[k + 1] <= le[k])
                continue; /* equal bounds: the later, larger count stands */
            rc = emit_le(q, "_bucket", "le", le[k], (double)cum[k]);
        }
        if (rc == 0)
            rc = emit(q, "_bucket", "le", "+Inf", (double)p->count);
        if (rc == 0 && p->sum_present_case)
            rc = emit(q, "_sum", NULL, NULL, p->sum);
        if (rc == 0)
            rc = emit(q, "_count", NULL, NULL, (double)p->count);
        end_point(q);
    }
    return rc;
}

static int summary_points(struct tx *q, ot_sdp *const *ps, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const ot_sdp *p = ps[i];
        if (begin_point(q, p->attributes, p->n_attributes, p->time_unix_nano, p->flags)) {
            for (size_t k = 0; k < p->n_quantile_values && rc == 0; k++)
                rc = emit_le(q, "", "quantile", p->quantile_values[k]->quantile,
                             p->quantile_values[k]->value);
            if (rc == 0)
                rc = emit(q, "_sum", NULL, NULL, p->sum);
            if (rc == 0)
                rc = emit(q, "_count", NULL, NULL, (double)p->count);
        }
        end_point(q);
    }
    return rc;
}

/* ---- metrics, scopes, resources ----------------------------------------- */

static void set_name(struct tx *q, const ot_metric *m, enum col_otlp_kind kind)
{
    scry_buf_reset(&q->name);
    col_otlp_metric_name(m->name, m->unit, kind, &q->name);
    scry_buf_puts(&q->name, ""); /* NUL-terminated even when empty */
    q->name_len = q->name.len;
}

/* Temporality: false (points rejected) unless cumulative or delta. */
static bool temporality_ok(struct tx *q, int t, size_t n)
{
    q->delta = t == OT_DELTA;
    if (t == OT_DELTA || t == OT_CUMULATIVE)
        return true;
    char why[96];
    snprintf(why, sizeof why, "aggregation temporality %d is neither delta (1) nor cumulative (2)", t);
    reject_points(q, n, why);
    return false;
}

static int metric(struct tx *q, const ot_metric *m)
{
    q->delta = false;
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        set_name(q, m, COL_OTLP_GAUGE);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        set_name(q, m, m->sum->is_monotonic ? COL_OTLP_COUNTER : COL_OTLP_GAUGE);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        set_name(q, m, COL_OTLP_HISTOGRAM);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        set_name(q, m, COL_OTLP_SUMMARY);
        break;
    default:
        return 0; /* no data: nothing to count */
    }
    if (q->name_len == 0 || !scry_metric_name_valid(q->name.p, q->name_len)) {
        size_t n = 0;
        switch (m->data_case) {
        case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: n = m->gauge->n_data_points; break;
        case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: n = m->sum->n_data_points; break;
        case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: n = m->histogram->n_data_points; break;
        case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
            n = m->exponential_histogram->n_data_points;
            break;
        default: n = m->summary->n_data_points; break;
        }
        scry_buf_reset(&q->name);
        scry_buf_printf(&q->name, "\"%.100s\"", m->name);
        reject_points(q, n, "no valid Prometheus name can be made from this name");
        return 0;
    }
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        return number_points(q, m->gauge->data_points, m->gauge->n_data_points, "");
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        if (!temporality_ok(q, m->sum->aggregation_temporality, m->sum->n_data_points))
            return 0;
        return number_points(q, m->sum->data_points, m->sum->n_data_points, "");
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        if (!temporality_ok(q, m->histogram->aggregation_temporality, m->histogram->n_data_points))
            return 0;
        return histogram_points(q, m->histogram->data_points, m->histogram->n_data_points);
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM: {
        const ot_ehist *h = m->exponential_histogram;
        if (!temporality_ok(q, h->aggregation_temporality, h->n_data_points))
            return 0;
        return exp_histogram_points(q, h->data_points, h->n_data_points);
    }
    default:
        return summary_points(q, m->summary->data_points, m->summary->n_data_points);
    }
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static void resource_identity(struct tx *q, const ot_resource *r)
{
    ot_kv *const *kv = r ? r->attributes : NULL;
    size_t n = r ? r->n_attributes : 0;
    const ot_kv *name = find_attr(kv, n, "service.name");
    const ot_kv *ns = find_attr(kv, n, "service.namespace");
    const ot_kv *inst = find_attr(kv, n, "service.instance.id");
    const char *sname = name ? attr_str(q, name) : NULL;
    const char *sns = ns ? attr_str(q, ns) : NULL;
    q->job = sname && sns ? scry_arena_printf(q->a, "%s/%s", sns, sname) : sname;
    q->instance = inst ? attr_str(q, inst) : NULL;
    if (q->job && !scry_utf8_valid(q->job, strlen(q->job)))
        q->job = NULL;
    if (q->instance && !scry_utf8_valid(q->instance, strlen(q->instance)))
        q->instance = NULL;
}

/* target_info{job, instance, <other resource attributes>} 1 @ the latest point. */
static int target_info(struct tx *q, const ot_resource *r)
{
    if (!r || !q->any_point)
        return 0;
    /* target_info is not a data point: its problems (invalid UTF-8, a
     * refused sample) do not count as rejected points or give the message. */
    size_t saved = q->b->first.len;
    q->point_bad = false;
    int rc = 0;
    if (build_base(q, r->attributes, r->n_attributes, true) == 0 &&
        q->n_base > (size_t)((q->job != NULL) + (q->instance != NULL))) {
        scry_buf_reset(&q->name);
        scry_buf_puts(&q->name, "target_info");
        q->name_len = q->name.len;
        q->t_ms = q->max_t_ms;
        q->stale = q->delta = false;
        rc = emit(q, "", NULL, NULL, 1);
    } /* else only service.* attributes: no target_info (Prometheus) */
    q->point_bad = false;
    q->b->first.len = saved;
    if (q->b->first.p)
        q->b->first.p[saved] = 0;
    return rc;
}

int col_otlp_translate(struct col_otlp_translator *tr, struct scry_arena *a,
                       const struct col_otlp_metrics_req *req, col_otlp_sample_fn fn, void *ud,
                       struct col_otlp_batch *b, struct scry_err *err)
{
    if (!tr || !a || !req || !fn || !b)
        return scry_err_set(err, SCRY_EINVAL, "otlp: missing translator, arena, request or sink");
    if (!b->id)
        b->id = atomic_fetch_add(&tr->next_batch, 1);
    struct tx q = { .tr = tr, .a = a, .fn = fn, .ud = ud, .b = b, .err = err };
    int rc = 0;
    for (size_t i = 0; i < req->n_resource_metrics && rc == 0; i++) {
        const ot_rm *rm = req->resource_metrics[i];
        resource_identity(&q, rm->resource);
        q.max_t_ms = INT64_MIN;
        q.any_point = false;
        for (size_t s = 0; s < rm->n_scope_metrics && rc == 0; s++) {
            const ot_sm *sm = rm->scope_metrics[s];
            q.scope_name = sm->scope ? nonempty(sm->scope->name) : NULL;
            q.scope_version = sm->scope ? nonempty(sm->scope->version) : NULL;
            if (q.scope_name && !scry_utf8_valid(q.scope_name, strlen(q.scope_name)))
                q.scope_name = NULL;
            if (q.scope_version && !scry_utf8_valid(q.scope_version, strlen(q.scope_version)))
                q.scope_version = NULL;
            for (size_t m = 0; m < sm->n_metrics && rc == 0; m++)
                rc = metric(&q, sm->metrics[m]);
        }
        if (rc == 0)
            rc = target_info(&q, rm->resource);
    }
    free(q.base);
    free(q.lab);
    scry_buf_fini(&q.name);
    scry_buf_fini(&q.tmp);
    scry_buf_fini(&q.extra);
    return rc;
}
