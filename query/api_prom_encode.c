/* api_prom_encode.c — evaluation results and envelopes as JSON, byte for
 * byte as Prometheus's web/api/v1 and util/jsonutil write them (contract
 * §4.1–4.3): resultType before result, timestamps as numbers in seconds
 * with exactly three decimals when the millisecond part is not zero,
 * sample values as strings ("1", "NaN", "+Inf"), [] for an empty result,
 * {} for a series without labels. Grafana's reader streams, so the order
 * and the types matter, not just the JSON value. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "query/api_prom_internal.h"

/* jsonutil.MarshalTimestamp: integer seconds, then ".mmm" only when the
 * millisecond part is not zero. Negative times print a leading '-' and
 * then the absolute value, so -500 ms is "-0.500". */
void pql__api_put_time(struct scry_buf *b, int64_t t_ms)
{
    uint64_t u = (uint64_t)t_ms;
    if (t_ms < 0) {
        scry_buf_putc(b, '-');
        u = (uint64_t)0 - u;
    }
    scry_buf_printf(b, "%llu", (unsigned long long)(u / 1000));
    unsigned frac = (unsigned)(u % 1000);
    if (frac)
        scry_buf_printf(b, ".%03u", frac);
}

void pql__api_json_time(struct scry_json *j, int64_t t_ms)
{
    char tmp[32];
    struct scry_buf b = { 0 };
    pql__api_put_time(&b, t_ms);
    assert(b.len < sizeof tmp);
    memcpy(tmp, b.p, b.len);
    size_t len = b.len;
    scry_buf_fini(&b);
    scry_json_raw(j, tmp, len);
}

void pql__api_success_begin(struct scry_json *j, struct scry_buf *b)
{
    scry_buf_reset(b);
    scry_json_init(j, b);
    scry_json_obj_begin(j);
    scry_json_key(j, "status");
    scry_json_str(j, "success");
    scry_json_key(j, "data");
}

static void strings(struct scry_json *j, const char *key, const char *const *v, size_t n)
{
    if (!n)
        return;
    scry_json_key(j, key);
    scry_json_arr_begin(j);
    for (size_t i = 0; i < n; i++)
        scry_json_str(j, v[i]);
    scry_json_arr_end(j);
}

void pql__api_success_end(struct pql_api_ctx *c, struct scry_json *j, const char **infos,
                          size_t n_infos)
{
    strings(j, "warnings", c->warnings, c->n_warnings);
    strings(j, "infos", infos, n_infos);
    scry_json_obj_end(j);
    c->resp->status = 200;
    c->resp->content_type = "application/json";
}

void pql__api_write_labels(struct scry_json *j, const struct scry_labels *ls)
{
    scry_json_obj_begin(j);
    for (size_t i = 0; i < ls->n; i++) {
        scry_json_key(j, ls->v[i].name);
        scry_json_str(j, ls->v[i].value);
    }
    scry_json_obj_end(j);
}

static void point(struct scry_json *j, int64_t t_ms, double v)
{
    scry_json_arr_begin(j);
    pql__api_json_time(j, t_ms);
    scry_json_double_str(j, v);
    scry_json_arr_end(j);
}

static void series(struct scry_json *j, const struct pql_out_series *s, bool matrix)
{
    scry_json_obj_begin(j);
    scry_json_key(j, "metric");
    pql__api_write_labels(j, &s->labels);
    if (matrix) {
        scry_json_key(j, "values");
        scry_json_arr_begin(j);
        for (size_t i = 0; i < s->n_points; i++)
            point(j, s->points[i].t_ms, s->points[i].v);
        scry_json_arr_end(j);
    } else {
        assert(s->n_points >= 1);
        scry_json_key(j, "value");
        point(j, s->points[0].t_ms, s->points[0].v);
    }
    scry_json_obj_end(j);
}

void pql__api_write_result(struct scry_json *j, const struct pql_result *r)
{
    scry_json_obj_begin(j);
    scry_json_key(j, "resultType");
    switch (r->type) {
    case PQL_TYPE_SCALAR:
        scry_json_str(j, "scalar");
        scry_json_key(j, "result");
        point(j, r->t_ms, r->scalar);
        break;
    case PQL_TYPE_STRING:
        scry_json_str(j, "string");
        scry_json_key(j, "result");
        scry_json_arr_begin(j);
        pql__api_json_time(j, r->t_ms);
        scry_json_str(j, r->string ? r->string : "");
        scry_json_arr_end(j);
        break;
    case PQL_TYPE_VECTOR:
    case PQL_TYPE_MATRIX:
    default: {
        bool matrix = r->type == PQL_TYPE_MATRIX;
        scry_json_str(j, matrix ? "matrix" : "vector");
        scry_json_key(j, "result");
        scry_json_arr_begin(j);
        for (size_t i = 0; i < r->n_series; i++)
            if (matrix || r->series[i].n_points > 0)
                series(j, &r->series[i], matrix);
        scry_json_arr_end(j);
        break;
    }
    }
    scry_json_obj_end(j);
}
