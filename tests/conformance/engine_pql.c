/* engine_pql.c — the conformance runner's evaluator: pql_eval_instant /
 * pql_eval_range (query/engine.h) with the settings of FORMAT.md §5.1
 * (5 m lookback, 100 s timeout, delayed name removal), their struct pql_result converted into a
 * struct conf_result. Float samples only: the querier seam has no
 * histogram iterator yet. */
#include <string.h>

#include "query/engine.h"
#include "tests/conformance/conformance.h"

static const struct pql_engine_opts opts = {
    .lookback_delta_ms = 5 * 60 * 1000,
    .timeout_ms = 100 * 1000,
    .delayed_name_removal = true, /* as Prometheus's test engine runs every file */
};

static void convert(const struct pql_result *r, struct scry_arena *a, struct conf_result *out)
{
    memset(out, 0, sizeof(*out));
    out->type = r->type;
    out->scalar = r->scalar;
    out->string = r->string;
    out->series = scry_arena_calloc(a, r->n_series ? r->n_series : 1, sizeof(*out->series));
    out->n_series = r->n_series;
    for (size_t k = 0; k < r->n_series; k++) {
        const struct pql_out_series *s = &r->series[k];
        struct conf_result_series *o = &out->series[k];
        o->labels = s->labels;
        o->points = scry_arena_calloc(a, s->n_points ? s->n_points : 1, sizeof(*o->points));
        o->n_points = s->n_points;
        for (size_t i = 0; i < s->n_points; i++)
            o->points[i] = (struct conf_point){ s->points[i].t_ms, s->points[i].v, NULL };
    }
    out->warnings = r->warnings;
    out->n_warnings = r->n_warnings;
    out->infos = r->infos;
    out->n_infos = r->n_infos;
}

static int instant(void *ud, struct scry_queryable *store, const struct pql_expr *e,
                   const char *query, int64_t t_ms, struct scry_arena *a, struct conf_result *out,
                   struct scry_err *err)
{
    struct pql_result r;
    int rc = pql_eval_instant(&opts, store, e, t_ms, a, &r, err);
    if (rc == 0)
        convert(&r, a, out);
    return rc;
}

static int range(void *ud, struct scry_queryable *store, const struct pql_expr *e,
                 const char *query, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                 struct scry_arena *a, struct conf_result *out, struct scry_err *err)
{
    struct pql_result r;
    int rc = pql_eval_range(&opts, store, e, start_ms, end_ms, step_ms, a, &r, err);
    if (rc == 0)
        convert(&r, a, out);
    return rc;
}

static const struct conf_engine engine = { .instant = instant, .range = range };

const struct conf_engine *conf_engine_default(void)
{
    return &engine;
}
