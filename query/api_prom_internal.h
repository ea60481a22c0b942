/* api_prom_internal.h — shared by the api_prom*.c files only. */
#ifndef SCRY_QUERY_API_PROM_INTERNAL_H
#define SCRY_QUERY_API_PROM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/http.h"
#include "core/json.h"
#include "core/matcher.h"
#include "query/api_prom.h"
#include "query/engine.h"

/* Prometheus's MinTime/MaxTime in ms (web/api/v1), the bounds of a
 * metadata request without start/end. Same values as core/timeparse.c. */
#define PQL_API_MIN_TIME_MS (-9223309901257974000LL)
#define PQL_API_MAX_TIME_MS (9223309901257974999LL)
#define PQL_API_MAX_POINTS 11000

struct scry_metric_family;

struct pql_api {
    struct scry_queryable *store;
    struct pql_api_opts opts;     /* defaults filled in */
    char *tenant_header;
    pthread_mutex_t mu;           /* the query semaphore */
    pthread_cond_t cv;
    unsigned n_running;
    struct scry_metric_family *duration, *total;
    struct pql_pool *pool;        /* NULL: one thread per query */
};

/* What a handler needs besides req/resp: the api and the request's tenant. */
struct pql_api_ctx {
    struct pql_api *api;
    const char *endpoint;         /* "query", "series", ... (metric label) */
    const char *tenant;
    struct scry_http_req *req;
    struct scry_http_resp *resp;
    const char **warnings;        /* arena-grown */
    size_t n_warnings, cap_warnings;
    struct pql_expr **parsed;     /* released (pql_expr_fini) after the handler */
    size_t n_parsed, cap_parsed;
};

/* ---- params (api_prom_params.c): each returns 0, or writes the 400
 * bad_data answer into ctx->resp and returns SCRY_EINVAL. ---- */
int pql__api_time(struct pql_api_ctx *c, const char *name, int64_t dflt, int64_t *out_ms);
int pql__api_time_required(struct pql_api_ctx *c, const char *name, int64_t *out_ms);
int pql__api_duration(struct pql_api_ctx *c, const char *name, int64_t dflt, int64_t *out_ms);
int pql__api_limit(struct pql_api_ctx *c, size_t *out);
/* Parses the "query" parameter (an empty one is a parse error as in
 * Prometheus); the tree is released after the handler returns. */
int pql__api_parse_query(struct pql_api_ctx *c, const char *param, struct pql_expr **out);
/* Parses every match[] into matcher sets. */
int pql__api_matchers(struct pql_api_ctx *c, struct scry_matcher ***sets, size_t **n_ms,
                      size_t *n_sets);
/* Decodes a U__-escaped label name (Prometheus model.UnescapeName with
 * ValueEncodingEscaping); a malformed escape leaves the name unchanged. */
const char *pql__api_unescape_name(struct scry_arena *a, const char *name);
void pql__api_warn(struct pql_api_ctx *c, const char *msg);

/* ---- encoding (api_prom_encode.c) ---- */
/* A timestamp as Prometheus writes it: 1435781451, 1435781451.050, -0.5 → "-0.500". */
void pql__api_put_time(struct scry_buf *b, int64_t t_ms);
void pql__api_json_time(struct scry_json *j, int64_t t_ms);
/* {"status":"success","data": — the caller writes data, then calls end. */
void pql__api_success_begin(struct scry_json *j, struct scry_buf *b);
void pql__api_success_end(struct pql_api_ctx *c, struct scry_json *j, const char **infos,
                          size_t n_infos);
/* {"resultType":…,"result":…} for an evaluation result. */
void pql__api_write_result(struct scry_json *j, const struct pql_result *r);
/* Answers 200 with the whole envelope for r, warnings (c's) and infos
 * (r's): encoded while core sends it (scry_http_resp.stream), so the JSON
 * never exists whole. r's series must live in the request arena; r itself
 * is copied. Call it last: later warnings are not seen. */
void pql__api_answer_result(struct pql_api_ctx *c, const struct pql_result *r);
/* The same for data = an array of strings (labels, label values) or of
 * label sets (series); v and what it points to must be arena-owned. */
void pql__api_answer_strings(struct pql_api_ctx *c, const char *const *v, size_t n);
void pql__api_answer_label_sets(struct pql_api_ctx *c, const struct scry_labels *v, size_t n);
void pql__api_write_labels(struct scry_json *j, const struct scry_labels *ls);
/* Prometheus 3's /api/v1/parse_query tree. */
void pql__api_write_ast(struct scry_json *j, const struct pql_expr *e);

/* ---- handlers ---- */
void pql__api_query(struct pql_api_ctx *c);
void pql__api_query_range(struct pql_api_ctx *c);
void pql__api_format_query(struct pql_api_ctx *c);
void pql__api_parse_query_h(struct pql_api_ctx *c);
void pql__api_exemplars(struct pql_api_ctx *c);
void pql__api_series(struct pql_api_ctx *c);
void pql__api_labels(struct pql_api_ctx *c);
void pql__api_label_values(struct pql_api_ctx *c);
/* Takes a query slot, waiting up to timeout_ms; false when none freed up. */
bool pql__api_slot_get(struct pql_api *api, int64_t timeout_ms);
void pql__api_slot_put(struct pql_api *api);

#endif
