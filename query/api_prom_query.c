/* api_prom_query.c — /api/v1/query, query_range, query_exemplars,
 * format_query and parse_query.
 *
 * Parameters are checked in Prometheus's order (web/api/v1/api.go), so the
 * first error a client sees is the one Prometheus would report. The
 * evaluation itself is the engine's (query/engine.h); this file only takes
 * a query slot, maps the engine's error classes to HTTP codes and encodes
 * the result. A query waits for a slot at most its own timeout: a queue
 * that is full for that long would time the query out anyway. */
#include <string.h>

#include "query/api_prom_internal.h"

/* engine.h's error classes → Prometheus's errorType and status. */
static void eval_error(struct pql_api_ctx *c, int rc, const struct scry_err *err)
{
    const char *msg = err->msg[0] ? err->msg : scry_errcode_name(rc);
    switch (rc) {
    case SCRY_ETIMEOUT:
        scry_http_error(c->resp, 503, "timeout", "%s", msg);
        break;
    case SCRY_ELIMIT:
    case SCRY_EINVAL:
    case SCRY_EPARSE:
        scry_http_error(c->resp, 422, "execution", "%s", msg);
        break;
    default:
        scry_http_error(c->resp, 500, "internal", "%s", msg);
        break;
    }
}

/* timeout (capped at the configured maximum, never rejected for being
 * large) and lookback_delta, into the engine options. */
static int engine_opts(struct pql_api_ctx *c, struct pql_engine_opts *eo)
{
    const struct pql_api_opts *o = &c->api->opts;
    int64_t timeout_ms, lookback_ms;
    if (pql__api_duration(c, "timeout", o->timeout_ms, &timeout_ms) != 0 ||
        pql__api_duration(c, "lookback_delta", o->lookback_delta_ms, &lookback_ms) != 0)
        return SCRY_EINVAL;
    if (timeout_ms <= 0 || timeout_ms > o->timeout_ms)
        timeout_ms = o->timeout_ms;
    if (lookback_ms <= 0)
        lookback_ms = o->lookback_delta_ms;
    *eo = (struct pql_engine_opts){ .lookback_delta_ms = lookback_ms,
                                    .timeout_ms = timeout_ms,
                                    .max_samples = o->max_samples,
                                    .delayed_name_removal = o->delayed_name_removal,
                                    .tenant = c->tenant,
                                    .pool = c->api->pool };
    return 0;
}

static void answer(struct pql_api_ctx *c, struct pql_result *r, size_t limit)
{
    for (size_t i = 0; i < r->n_warnings; i++)
        pql__api_warn(c, r->warnings[i]);
    if (limit && (r->type == PQL_TYPE_VECTOR || r->type == PQL_TYPE_MATRIX) &&
        r->n_series > limit) {
        r->n_series = limit;
        pql__api_warn(c, "results truncated due to limit");
    }
    pql__api_answer_result(c, r);
}

static bool take_slot(struct pql_api_ctx *c, int64_t timeout_ms)
{
    if (pql__api_slot_get(c->api, timeout_ms))
        return true;
    scry_http_error(c->resp, 503, "timeout", "query timed out in query queue");
    return false;
}

/* Evaluates e in a concurrency slot and answers: an instant query at
 * start_ms when step_ms is 0, else a range query (range_params made the
 * step positive). */
static void evaluate(struct pql_api_ctx *c, const struct pql_engine_opts *eo, struct pql_expr *e,
                     int64_t start_ms, int64_t end_ms, int64_t step_ms, size_t limit)
{
    if (!take_slot(c, eo->timeout_ms))
        return;
    struct pql_result r = { 0 };
    struct scry_err err = { 0 };
    int rc = step_ms ? pql_eval_range(eo, c->api->store, e, start_ms, end_ms, step_ms,
                                      c->req->arena, &r, &err)
                     : pql_eval_instant(eo, c->api->store, e, start_ms, c->req->arena, &r, &err);
    pql__api_slot_put(c->api);
    if (rc != 0)
        eval_error(c, rc, &err);
    else
        answer(c, &r, limit);
}

void pql__api_query(struct pql_api_ctx *c)
{
    size_t limit;
    int64_t t_ms;
    struct pql_engine_opts eo;
    struct pql_expr *e;
    if (pql__api_limit(c, &limit) != 0 ||
        pql__api_time(c, "time", scry_clock_now_ms(c->api->opts.clock), &t_ms) != 0 ||
        engine_opts(c, &eo) != 0 || pql__api_parse_query(c, "query", &e) != 0)
        return;
    evaluate(c, &eo, e, t_ms, t_ms, 0, limit);
}

static int step_param(struct pql_api_ctx *c, int64_t *step_ms)
{
    const char *v = scry_http_param(c->req, "step");
    struct scry_err err = { 0 };
    if (scry_duration_or_seconds_parse(v ? v : "", v ? strlen(v) : 0, step_ms, &err) != 0) {
        scry_http_error(c->resp, 400, "bad_data", "invalid parameter \"step\": %s", err.msg);
        return SCRY_EINVAL;
    }
    return 0;
}

/* start, end, step and the 11 000-point rule, as Prometheus checks them. */
static int range_params(struct pql_api_ctx *c, int64_t *start_ms, int64_t *end_ms,
                        int64_t *step_ms)
{
    if (pql__api_time_required(c, "start", start_ms) != 0 ||
        pql__api_time_required(c, "end", end_ms) != 0)
        return SCRY_EINVAL;
    if (*end_ms < *start_ms) {
        scry_http_error(c->resp, 400, "bad_data", "end timestamp must not be before start time");
        return SCRY_EINVAL;
    }
    if (step_param(c, step_ms) != 0)
        return SCRY_EINVAL;
    if (*step_ms <= 0) {
        scry_http_error(c->resp, 400, "bad_data",
                        "zero or negative query resolution step widths are not accepted. "
                        "Try a positive integer");
        return SCRY_EINVAL;
    }
    /* Unsigned: end - start can exceed INT64_MAX between the sentinels. */
    if (((uint64_t)*end_ms - (uint64_t)*start_ms) / (uint64_t)*step_ms > PQL_API_MAX_POINTS) {
        scry_http_error(c->resp, 400, "bad_data",
                        "exceeded maximum resolution of 11,000 points per timeseries. "
                        "Try decreasing the query resolution (?step=XX)");
        return SCRY_EINVAL;
    }
    return 0;
}

void pql__api_query_range(struct pql_api_ctx *c)
{
    size_t limit;
    int64_t start_ms, end_ms, step_ms;
    struct pql_engine_opts eo;
    struct pql_expr *e;
    if (pql__api_limit(c, &limit) != 0 || range_params(c, &start_ms, &end_ms, &step_ms) != 0 ||
        engine_opts(c, &eo) != 0 || pql__api_parse_query(c, "query", &e) != 0)
        return;
    /* Prometheus's NewRangeQuery refuses these before evaluating, and the
     * API reports that as a bad "query" parameter (400 bad_data), not as an
     * execution error (found by tests/integration/test_prom_diff.py). */
    if (e->type == PQL_TYPE_MATRIX || e->type == PQL_TYPE_STRING) {
        scry_http_error(c->resp, 400, "bad_data",
                        "invalid parameter \"query\": invalid expression type \"%s\" for range "
                        "query, must be Scalar or instant Vector",
                        e->type == PQL_TYPE_MATRIX ? "range vector" : "string");
        return;
    }
    evaluate(c, &eo, e, start_ms, end_ms, step_ms, limit);
}

/* Exemplars are not stored yet: check the request as Prometheus does and
 * answer an empty list. Grafana probes with start/end in milliseconds;
 * those parse as (far future) seconds and are harmless. Prometheus reports
 * this endpoint's parse errors without the `invalid parameter` prefix. */
void pql__api_exemplars(struct pql_api_ctx *c)
{
    int64_t start_ms, end_ms;
    if (pql__api_time(c, "start", PQL_API_MIN_TIME_MS, &start_ms) != 0 ||
        pql__api_time(c, "end", PQL_API_MAX_TIME_MS, &end_ms) != 0)
        return;
    if (end_ms < start_ms) {
        scry_http_error(c->resp, 400, "bad_data",
                        "end timestamp must not be before start timestamp");
        return;
    }
    const char *q = scry_http_param(c->req, "query");
    struct pql_expr *e;
    struct scry_err err = { 0 };
    if (pql_parse(c->req->arena, q ? q : "", q ? strlen(q) : 0, &e, &err) != 0) {
        scry_http_error(c->resp, 400, "bad_data", "%s", err.msg);
        return;
    }
    pql_expr_fini(e);
    struct scry_json j;
    pql__api_success_begin(&j, &c->resp->body);
    scry_json_arr_begin(&j);
    scry_json_arr_end(&j);
    pql__api_success_end(c, &j, NULL, 0);
}

void pql__api_format_query(struct pql_api_ctx *c)
{
    struct pql_expr *e;
    if (pql__api_parse_query(c, "query", &e) != 0)
        return;
    struct scry_buf text = { 0 };
    pql_expr_print(e, &text);
    struct scry_json j;
    pql__api_success_begin(&j, &c->resp->body);
    scry_json_strn(&j, text.p ? text.p : "", text.len);
    pql__api_success_end(c, &j, NULL, 0);
    scry_buf_fini(&text);
}

void pql__api_parse_query_h(struct pql_api_ctx *c)
{
    struct pql_expr *e;
    if (pql__api_parse_query(c, "query", &e) != 0)
        return;
    struct scry_json j;
    pql__api_success_begin(&j, &c->resp->body);
    pql__api_write_ast(&j, e);
    pql__api_success_end(c, &j, NULL, 0);
}
