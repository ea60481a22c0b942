/* otlp_metrics_json.c — the OTLP/JSON form of ExportMetricsServiceRequest.
 *
 * core/json_read.h parses the body into an arena DOM; this file walks it and
 * fills the same protobuf-c structs the binary decoder produces (allocated
 * from the same arena and initialised with the generated __init functions,
 * so absent fields read exactly as protobuf-c's defaults). Translation then
 * has one input type, and a JSON body and its protobuf twin give identical
 * series by construction.
 *
 * The OTLP/JSON rules (shared/contracts/otlp-http.md §3): lowerCamelCase
 * keys, snake_case accepted too; 64-bit integers as decimal strings or JSON
 * numbers, parsed from the digits (scry_jval_int64/uint64), never through a
 * double; doubles as numbers or "NaN"/"Infinity"/"-Infinity"; enums as
 * integers (their names accepted too); exemplar traceId/spanId in hex, other
 * bytes in base64; unknown keys ignored; null means absent. A value of the
 * wrong type is an error naming its path, e.g.
 * "resourceMetrics[0].scopeMetrics[0].metrics[1].sum.dataPoints[0].asInt:
 * want an integer". Depth is bounded by the JSON parser's nesting limit. */
#include "collector/otlp_json_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


static int exemplars(struct col__oj *c, jv *o, const char *camel, size_t *n, ot_exemplar ***out)
{
    jv *arr;
    int rc = col__oj_get_arr(c, o, camel, NULL, &arr, n);
    if (rc != 0 || *n == 0)
        return rc;
    *out = scry_arena_alloc(c->a, *n * sizeof **out);
    for (size_t i = 0; i < *n && rc == 0; i++) {
        size_t at = col__oj_push(c, camel, (long)i);
        jv *v = &arr->u.arr[i];
        ot_exemplar *e = scry_arena_alloc(c->a, sizeof *e);
        opentelemetry__proto__metrics__v1__exemplar__init(e);
        (*out)[i] = e;
        rc = col__oj_want_obj(c, v);
        if (rc == 0)
            rc = col__oj_key_values(c, v, "filteredAttributes", "filtered_attributes",
                            &e->n_filtered_attributes, &e->filtered_attributes);
        if (rc == 0)
            rc = col__oj_get_u64(c, v, "timeUnixNano", "time_unix_nano", &e->time_unix_nano);
        if (rc == 0 && col__oj_field(v, "asDouble", "as_double")) {
            e->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
            rc = col__oj_get_double(c, v, "asDouble", "as_double", &e->as_double);
        } else if (rc == 0 && col__oj_field(v, "asInt", "as_int")) {
            e->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT;
            rc = col__oj_get_i64(c, v, "asInt", "as_int", &e->as_int);
        }
        if (rc == 0)
            rc = col__oj_hex_id(c, v, "spanId", "span_id", 8, &e->span_id);
        if (rc == 0)
            rc = col__oj_hex_id(c, v, "traceId", "trace_id", 16, &e->trace_id);
        col__oj_pop(c, at);
    }
    return rc;
}

/* The fields every data point has, checked in this order: start, time,
 * flags, attributes. */
static int point_common(struct col__oj *c, jv *v, uint64_t *start, uint64_t *t, uint32_t *flags,
                        size_t *n_attrs, ot_kv ***attrs)
{
    int64_t f = 0;
    int rc = col__oj_want_obj(c, v);
    if (rc == 0)
        rc = col__oj_get_u64(c, v, "startTimeUnixNano", "start_time_unix_nano", start);
    if (rc == 0)
        rc = col__oj_get_u64(c, v, "timeUnixNano", "time_unix_nano", t);
    if (rc == 0)
        rc = col__oj_get_i32(c, v, "flags", NULL, 0, UINT32_MAX, &f);
    *flags = (uint32_t)f;
    if (rc == 0)
        rc = col__oj_key_values(c, v, "attributes", NULL, n_attrs, attrs);
    return rc;
}

/* Every point type names these fields alike. */
#define POINT_COMMON(c, v, p)                                                              \
    point_common(c, v, &(p)->start_time_unix_nano, &(p)->time_unix_nano, &(p)->flags,      \
                 &(p)->n_attributes, &(p)->attributes)

static int number_point(struct col__oj *c, jv *v, ot_ndp **out)
{
    ot_ndp *p = scry_arena_alloc(c->a, sizeof *p);
    opentelemetry__proto__metrics__v1__number_data_point__init(p);
    *out = p;
    int rc = POINT_COMMON(c, v, p);
    if (rc == 0 && col__oj_field(v, "asDouble", "as_double")) {
        p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
        rc = col__oj_get_double(c, v, "asDouble", "as_double", &p->as_double);
    } else if (rc == 0 && col__oj_field(v, "asInt", "as_int")) {
        p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
        rc = col__oj_get_i64(c, v, "asInt", "as_int", &p->as_int);
    }
    if (rc == 0)
        rc = exemplars(c, v, "exemplars", &p->n_exemplars, &p->exemplars);
    return rc;
}

/* A repeated uint64 ("bucketCounts": ["1", 2]) into an arena array. */
static int u64_array(struct col__oj *c, jv *o, const char *camel, const char *snake, size_t *n,
                     uint64_t **out)
{
    jv *arr;
    int rc = col__oj_get_arr(c, o, camel, snake, &arr, n);
    if (rc != 0 || *n == 0)
        return rc;
    *out = scry_arena_alloc(c->a, *n * sizeof **out);
    for (size_t i = 0; i < *n; i++)
        if (scry_jval_uint64(&arr->u.arr[i], &(*out)[i]) != 0) {
            size_t at = col__oj_push(c, camel, (long)i);
            rc = col__oj_fail(c, "want an unsigned 64-bit integer (number or string)");
            col__oj_pop(c, at);
            return rc;
        }
    return 0;
}

static int double_array(struct col__oj *c, jv *o, const char *camel, const char *snake, size_t *n,
                        double **out)
{
    jv *arr;
    int rc = col__oj_get_arr(c, o, camel, snake, &arr, n);
    if (rc != 0 || *n == 0)
        return rc;
    *out = scry_arena_alloc(c->a, *n * sizeof **out);
    for (size_t i = 0; i < *n; i++)
        if (scry_jval_double(&arr->u.arr[i], &(*out)[i]) != 0) {
            size_t at = col__oj_push(c, camel, (long)i);
            rc = col__oj_fail(c, "want a number");
            col__oj_pop(c, at);
            return rc;
        }
    return 0;
}

/* An optional double: *present set when the key is there. */
static int opt_double(struct col__oj *c, jv *v, const char *key, double *out, int *present_case,
                      int set_case)
{
    if (!col__oj_field(v, key, NULL))
        return 0;
    *present_case = set_case;
    return col__oj_get_double(c, v, key, NULL, out);
}

/* count and sum, which both histogram points have (sum is optional). */
static int hist_count_sum(struct col__oj *c, jv *v, uint64_t *count, double *sum, int *sc)
{
    int rc = col__oj_get_u64(c, v, "count", NULL, count);
    if (rc == 0)
        rc = opt_double(c, v, "sum", sum, sc, 5);
    return rc;
}

/* The optional min and max of both histogram points. The oneof cases are
 * the field numbers, and max's is min's + 1 in both messages. */
static int hist_min_max(struct col__oj *c, jv *v, double *min, int *mnc, double *max, int *mxc,
                        int min_case)
{
    int rc = opt_double(c, v, "min", min, mnc, min_case);
    if (rc == 0)
        rc = opt_double(c, v, "max", max, mxc, min_case + 1);
    return rc;
}

static int histogram_point(struct col__oj *c, jv *v, ot_hdp **out)
{
    ot_hdp *p = scry_arena_alloc(c->a, sizeof *p);
    opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
    *out = p;
    int rc = POINT_COMMON(c, v, p);
    int sc = 0, mnc = 0, mxc = 0;
    if (rc == 0)
        rc = hist_count_sum(c, v, &p->count, &p->sum, &sc);
    if (rc == 0)
        rc = u64_array(c, v, "bucketCounts", "bucket_counts", &p->n_bucket_counts,
                       &p->bucket_counts);
    if (rc == 0)
        rc = double_array(c, v, "explicitBounds", "explicit_bounds", &p->n_explicit_bounds,
                          &p->explicit_bounds);
    if (rc == 0)
        rc = hist_min_max(c, v, &p->min, &mnc, &p->max, &mxc, 11);
    if (rc == 0)
        rc = exemplars(c, v, "exemplars", &p->n_exemplars, &p->exemplars);
    p->sum_present_case = sc;
    p->min_present_case = mnc;
    p->max_present_case = mxc;
    return rc;
}

static int buckets(struct col__oj *c, jv *o, const char *key, ot_buckets **out)
{
    jv *v = col__oj_field(o, key, NULL);
    if (!v)
        return 0;
    size_t at = col__oj_push(c, key, -1);
    ot_buckets *b = scry_arena_alloc(c->a, sizeof *b);
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init(b);
    *out = b;
    int64_t off = 0;
    int rc = col__oj_want_obj(c, v);
    if (rc == 0)
        rc = col__oj_get_i32(c, v, "offset", NULL, INT32_MIN, INT32_MAX, &off);
    if (rc == 0)
        rc = u64_array(c, v, "bucketCounts", "bucket_counts", &b->n_bucket_counts,
                       &b->bucket_counts);
    b->offset = (int32_t)off;
    col__oj_pop(c, at);
    return rc;
}

static int exp_histogram_point(struct col__oj *c, jv *v, ot_edp **out)
{
    ot_edp *p = scry_arena_alloc(c->a, sizeof *p);
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(p);
    *out = p;
    int rc = POINT_COMMON(c, v, p);
    int sc = 0, mnc = 0, mxc = 0;
    int64_t scale = 0;
    if (rc == 0)
        rc = hist_count_sum(c, v, &p->count, &p->sum, &sc);
    if (rc == 0)
        rc = col__oj_get_i32(c, v, "scale", NULL, INT32_MIN, INT32_MAX, &scale);
    if (rc == 0)
        rc = col__oj_get_u64(c, v, "zeroCount", "zero_count", &p->zero_count);
    if (rc == 0)
        rc = buckets(c, v, "positive", &p->positive);
    if (rc == 0)
        rc = buckets(c, v, "negative", &p->negative);
    if (rc == 0)
        rc = hist_min_max(c, v, &p->min, &mnc, &p->max, &mxc, 12);
    if (rc == 0)
        rc = col__oj_get_double(c, v, "zeroThreshold", "zero_threshold", &p->zero_threshold);
    if (rc == 0)
        rc = exemplars(c, v, "exemplars", &p->n_exemplars, &p->exemplars);
    p->scale = (int32_t)scale;
    p->sum_present_case = sc;
    p->min_present_case = mnc;
    p->max_present_case = mxc;
    return rc;
}

static int summary_point(struct col__oj *c, jv *v, ot_sdp **out)
{
    ot_sdp *p = scry_arena_alloc(c->a, sizeof *p);
    opentelemetry__proto__metrics__v1__summary_data_point__init(p);
    *out = p;
    int rc = POINT_COMMON(c, v, p);
    jv *qs;
    if (rc == 0)
        rc = col__oj_get_u64(c, v, "count", NULL, &p->count);
    if (rc == 0)
        rc = col__oj_get_double(c, v, "sum", NULL, &p->sum);
    if (rc == 0)
        rc = col__oj_get_arr(c, v, "quantileValues", "quantile_values", &qs, &p->n_quantile_values);
    if (rc == 0 && p->n_quantile_values)
        p->quantile_values =
            scry_arena_alloc(c->a, p->n_quantile_values * sizeof *p->quantile_values);
    for (size_t i = 0; rc == 0 && i < p->n_quantile_values; i++) {
        size_t at = col__oj_push(c, "quantileValues", (long)i);
        ot_quantile *q = scry_arena_alloc(c->a, sizeof *q);
        opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile__init(q);
        p->quantile_values[i] = q;
        rc = col__oj_want_obj(c, &qs->u.arr[i]);
        if (rc == 0)
            rc = col__oj_get_double(c, &qs->u.arr[i], "quantile", NULL, &q->quantile);
        if (rc == 0)
            rc = col__oj_get_double(c, &qs->u.arr[i], "value", NULL, &q->value);
        col__oj_pop(c, at);
    }
    return rc;
}

/* Enums are integers in OTLP/JSON; the names are accepted as well. */
static int temporality(struct col__oj *c, jv *o, int *out)
{
    jv *v = col__oj_field(o, "aggregationTemporality", "aggregation_temporality");
    struct scry_str s;
    if (v && scry_jval_str(v, &s) == 0 && s.len && (s.p[0] < '0' || s.p[0] > '9')) {
        static const char *const names[] = { "AGGREGATION_TEMPORALITY_UNSPECIFIED",
                                             "AGGREGATION_TEMPORALITY_DELTA",
                                             "AGGREGATION_TEMPORALITY_CUMULATIVE" };
        for (int i = 0; i < 3; i++)
            if (strcmp(s.p, names[i]) == 0)
                return *out = i, 0;
        size_t at = col__oj_push(c, "aggregationTemporality", -1);
        int rc = col__oj_fail(c, "unknown enum value \"%s\"", s.p);
        col__oj_pop(c, at);
        return rc;
    }
    int64_t t = 0;
    int rc = col__oj_get_i32(c, o, "aggregationTemporality", "aggregation_temporality", INT32_MIN,
                     INT32_MAX, &t);
    *out = (int)t;
    return rc;
}

/* The points of one metric type: the array, and a builder per element. */
#define POINTS(c, o, n, out, build)                                              \
    do {                                                                         \
        jv *arr_;                                                                \
        rc = col__oj_get_arr(c, o, "dataPoints", "data_points", &arr_, n);               \
        if (rc == 0 && *(n))                                                     \
            *(out) = scry_arena_alloc((c)->a, *(n) * sizeof **(out));            \
        for (size_t i_ = 0; rc == 0 && i_ < *(n); i_++) {                        \
            size_t at_ = col__oj_push(c, "dataPoints", (long)i_);                        \
            rc = build(c, &arr_->u.arr[i_], &(*(out))[i_]);                      \
            col__oj_pop(c, at_);                                                         \
        }                                                                        \
    } while (0)

static int metric_data(struct col__oj *c, jv *m, ot_metric *mt)
{
    int rc = 0, t = 0;
    jv *x;
    if ((x = col__oj_field(m, "gauge", NULL))) {
        size_t at = col__oj_push(c, "gauge", -1);
        ot_gauge *g = scry_arena_alloc(c->a, sizeof *g);
        opentelemetry__proto__metrics__v1__gauge__init(g);
        mt->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        mt->gauge = g;
        if ((rc = col__oj_want_obj(c, x)) == 0)
            POINTS(c, x, &g->n_data_points, &g->data_points, number_point);
        col__oj_pop(c, at);
    } else if ((x = col__oj_field(m, "sum", NULL))) {
        size_t at = col__oj_push(c, "sum", -1);
        ot_sum *s = scry_arena_alloc(c->a, sizeof *s);
        opentelemetry__proto__metrics__v1__sum__init(s);
        mt->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        mt->sum = s;
        bool mono = false;
        if ((rc = col__oj_want_obj(c, x)) == 0 && (rc = temporality(c, x, &t)) == 0 &&
            (rc = col__oj_get_bool(c, x, "isMonotonic", "is_monotonic", &mono)) == 0)
            POINTS(c, x, &s->n_data_points, &s->data_points, number_point);
        s->aggregation_temporality = t;
        s->is_monotonic = mono;
        col__oj_pop(c, at);
    } else if ((x = col__oj_field(m, "histogram", NULL))) {
        size_t at = col__oj_push(c, "histogram", -1);
        ot_hist *h = scry_arena_alloc(c->a, sizeof *h);
        opentelemetry__proto__metrics__v1__histogram__init(h);
        mt->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
        mt->histogram = h;
        if ((rc = col__oj_want_obj(c, x)) == 0 && (rc = temporality(c, x, &t)) == 0)
            POINTS(c, x, &h->n_data_points, &h->data_points, histogram_point);
        h->aggregation_temporality = t;
        col__oj_pop(c, at);
    } else if ((x = col__oj_field(m, "exponentialHistogram", "exponential_histogram"))) {
        size_t at = col__oj_push(c, "exponentialHistogram", -1);
        ot_ehist *h = scry_arena_alloc(c->a, sizeof *h);
        opentelemetry__proto__metrics__v1__exponential_histogram__init(h);
        mt->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
        mt->exponential_histogram = h;
        if ((rc = col__oj_want_obj(c, x)) == 0 && (rc = temporality(c, x, &t)) == 0)
            POINTS(c, x, &h->n_data_points, &h->data_points, exp_histogram_point);
        h->aggregation_temporality = t;
        col__oj_pop(c, at);
    } else if ((x = col__oj_field(m, "summary", NULL))) {
        size_t at = col__oj_push(c, "summary", -1);
        ot_summary *s = scry_arena_alloc(c->a, sizeof *s);
        opentelemetry__proto__metrics__v1__summary__init(s);
        mt->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
        mt->summary = s;
        if ((rc = col__oj_want_obj(c, x)) == 0)
            POINTS(c, x, &s->n_data_points, &s->data_points, summary_point);
        col__oj_pop(c, at);
    }
    return rc;
}

static int metric(struct col__oj *c, jv *m, ot_metric **out)
{
    ot_metric *mt = scry_arena_alloc(c->a, sizeof *mt);
    opentelemetry__proto__metrics__v1__metric__init(mt);
    *out = mt;
    int rc = col__oj_want_obj(c, m);
    if (rc == 0)
        rc = col__oj_get_str(c, m, "name", NULL, &mt->name);
    if (rc == 0)
        rc = col__oj_get_str(c, m, "description", NULL, &mt->description);
    if (rc == 0)
        rc = col__oj_get_str(c, m, "unit", NULL, &mt->unit);
    if (rc == 0)
        rc = col__oj_key_values(c, m, "metadata", NULL, &mt->n_metadata, &mt->metadata);
    if (rc == 0)
        rc = metric_data(c, m, mt);
    return rc;
}

static int scope_metrics(struct col__oj *c, jv *v, ot_sm **out)
{
    ot_sm *sm = scry_arena_alloc(c->a, sizeof *sm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    *out = sm;
    int rc = col__oj_want_obj(c, v);
    jv *s = col__oj_field(v, "scope", NULL), *ms;
    if (rc == 0 && s) {
        size_t at = col__oj_push(c, "scope", -1);
        ot_scope *sc = scry_arena_alloc(c->a, sizeof *sc);
        opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
        sm->scope = sc;
        if ((rc = col__oj_want_obj(c, s)) == 0 && (rc = col__oj_get_str(c, s, "name", NULL, &sc->name)) == 0 &&
            (rc = col__oj_get_str(c, s, "version", NULL, &sc->version)) == 0)
            rc = col__oj_key_values(c, s, "attributes", NULL, &sc->n_attributes, &sc->attributes);
        col__oj_pop(c, at);
    }
    if (rc == 0)
        rc = col__oj_get_str(c, v, "schemaUrl", "schema_url", &sm->schema_url);
    if (rc == 0)
        rc = col__oj_get_arr(c, v, "metrics", NULL, &ms, &sm->n_metrics);
    if (rc == 0 && sm->n_metrics)
        sm->metrics = scry_arena_alloc(c->a, sm->n_metrics * sizeof *sm->metrics);
    for (size_t i = 0; rc == 0 && i < sm->n_metrics; i++) {
        size_t at = col__oj_push(c, "metrics", (long)i);
        rc = metric(c, &ms->u.arr[i], &sm->metrics[i]);
        col__oj_pop(c, at);
    }
    return rc;
}

static int resource_metrics(struct col__oj *c, jv *v, ot_rm **out)
{
    ot_rm *rm = scry_arena_alloc(c->a, sizeof *rm);
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    *out = rm;
    int rc = col__oj_want_obj(c, v);
    jv *r = col__oj_field(v, "resource", NULL), *sms;
    if (rc == 0 && r) {
        size_t at = col__oj_push(c, "resource", -1);
        ot_resource *res = scry_arena_alloc(c->a, sizeof *res);
        opentelemetry__proto__resource__v1__resource__init(res);
        rm->resource = res;
        if ((rc = col__oj_want_obj(c, r)) == 0)
            rc = col__oj_key_values(c, r, "attributes", NULL, &res->n_attributes, &res->attributes);
        col__oj_pop(c, at);
    }
    if (rc == 0)
        rc = col__oj_get_str(c, v, "schemaUrl", "schema_url", &rm->schema_url);
    if (rc == 0)
        rc = col__oj_get_arr(c, v, "scopeMetrics", "scope_metrics", &sms, &rm->n_scope_metrics);
    if (rc == 0 && rm->n_scope_metrics)
        rm->scope_metrics = scry_arena_alloc(c->a, rm->n_scope_metrics * sizeof *rm->scope_metrics);
    for (size_t i = 0; rc == 0 && i < rm->n_scope_metrics; i++) {
        size_t at = col__oj_push(c, "scopeMetrics", (long)i);
        rc = scope_metrics(c, &sms->u.arr[i], &rm->scope_metrics[i]);
        col__oj_pop(c, at);
    }
    return rc;
}

int col_otlp_metrics_decode_json(struct scry_arena *a, const char *body, size_t len,
                                 struct col_otlp_metrics_req **out, struct scry_err *err)
{
    if (!a || (!body && len) || !out)
        return scry_err_set(err, SCRY_EINVAL, "otlp: missing arena, body or output");
    struct scry_jval *root;
    int rc = scry_json_parse(a, body ? body : "", len, NULL, &root, err);
    if (rc != 0)
        return scry_err_prefix(err, "otlp json"), SCRY_EPARSE;
    struct col__oj c = { .a = a, .err = err };
    ot_req *r = scry_arena_alloc(a, sizeof *r);
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(r);
    jv *rms;
    rc = col__oj_want_obj(&c, root);
    if (rc == 0)
        rc = col__oj_get_arr(&c, root, "resourceMetrics", "resource_metrics", &rms, &r->n_resource_metrics);
    if (rc == 0 && r->n_resource_metrics)
        r->resource_metrics = scry_arena_alloc(a, r->n_resource_metrics * sizeof *r->resource_metrics);
    for (size_t i = 0; rc == 0 && i < r->n_resource_metrics; i++) {
        size_t at = col__oj_push(&c, "resourceMetrics", (long)i);
        rc = resource_metrics(&c, &rms->u.arr[i], &r->resource_metrics[i]);
        col__oj_pop(&c, at);
    }
    scry_buf_fini(&c.path);
    if (rc != 0)
        return SCRY_EPARSE;
    *out = r;
    return 0;
}
