/* api_prom_status.c — the body of GET /api/v1/status/tsdb.
 *
 * Prometheus (web/api/v1/api.go, serveTSDBStatus) answers
 *   {"status":"success","data":{
 *     "headStats":{"numSeries":N,"numLabelPairs":N,"chunkCount":N,
 *                  "minTime":ms,"maxTime":ms},
 *     "seriesCountByMetricName":[{"name":"up","value":N},...],
 *     "labelValueCountByLabelName":[...],
 *     "memoryInBytesByLabelName":[...],
 *     "seriesCountByLabelValuePair":[{"name":"job=node","value":N},...]}}
 * in that order (Go struct order). An empty head keeps minTime at
 * math.MaxInt64 and maxTime at math.MinInt64, printed as such; its lists
 * are [] (made with capacity, never nil). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "query/api_prom_status.h"

int pql_tsdb_status_limit(const char *s, size_t *limit, struct scry_err *err)
{
    *limit = TSDB_STATUS_DEFAULT_LIMIT;
    if (!s || !*s)
        return 0;
    /* strconv.Atoi: an optional sign, then decimal digits, within int64;
     * anything else fails with the "positive" message, as does v < 1. */
    bool neg = *s == '-';
    const char *p = s + (*s == '+' || *s == '-');
    uint64_t v = 0;
    if (!*p)
        return scry_err_set(err, SCRY_EINVAL, "limit must be a positive number");
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > (uint64_t)INT64_MAX / 10)
            return scry_err_set(err, SCRY_EINVAL, "limit must be a positive number");
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > (uint64_t)INT64_MAX + neg)
            return scry_err_set(err, SCRY_EINVAL, "limit must be a positive number");
    }
    if (neg || v < 1)
        return scry_err_set(err, SCRY_EINVAL, "limit must be a positive number");
    if (v > TSDB_STATUS_MAX_LIMIT)
        return scry_err_set(err, SCRY_EINVAL, "limit must not exceed %d", TSDB_STATUS_MAX_LIMIT);
    *limit = (size_t)v;
    return 0;
}

static void list(struct scry_json *j, const char *key, const struct tsdb_stat_list *l)
{
    scry_json_key(j, key);
    scry_json_arr_begin(j);
    for (size_t i = 0; i < l->n; i++) {
        scry_json_obj_begin(j);
        scry_json_key(j, "name");
        scry_json_str(j, l->v[i].name);
        scry_json_key(j, "value");
        scry_json_uint(j, l->v[i].value);
        scry_json_obj_end(j);
    }
    scry_json_arr_end(j);
}

void pql_tsdb_status_json(struct scry_buf *b, const struct tsdb_status *st)
{
    struct scry_json j;
    scry_json_init(&j, b);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "status");
    scry_json_str(&j, "success");
    scry_json_key(&j, "data");
    scry_json_obj_begin(&j);
    scry_json_key(&j, "headStats");
    scry_json_obj_begin(&j);
    scry_json_key(&j, "numSeries");
    scry_json_uint(&j, st->num_series);
    scry_json_key(&j, "numLabelPairs");
    scry_json_uint(&j, st->num_label_pairs);
    scry_json_key(&j, "chunkCount");
    scry_json_uint(&j, st->chunk_count);
    scry_json_key(&j, "minTime");
    scry_json_int(&j, st->min_time_ms);
    scry_json_key(&j, "maxTime");
    scry_json_int(&j, st->max_time_ms);
    scry_json_obj_end(&j);
    list(&j, "seriesCountByMetricName", &st->series_by_metric);
    list(&j, "labelValueCountByLabelName", &st->values_by_name);
    list(&j, "memoryInBytesByLabelName", &st->value_bytes_by_name);
    list(&j, "seriesCountByLabelValuePair", &st->series_by_pair);
    scry_json_obj_end(&j);
    scry_json_obj_end(&j);
}
