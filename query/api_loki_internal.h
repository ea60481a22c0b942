/* api_loki_internal.h — shared by the api_loki*.c files only.
 *
 * api_loki.c        route table, per-request wrapper (readiness, tenant,
 *                   self-metrics), /ready, buildinfo
 * api_loki_params.c Loki's parameter rules (contract §5): timestamps,
 *                   durations, ranges, limit, direction; plain-text errors
 * api_loki_query.c  /query and /query_range (LogQL evaluation, encoding)
 * api_loki_meta.c   labels, label values, series, index stats and volume,
 *                   detected fields, patterns
 * api_loki_tail.c   /tail: live tail over a WebSocket */
#ifndef SCRY_QUERY_API_LOKI_INTERNAL_H
#define SCRY_QUERY_API_LOKI_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/appender.h"
#include "core/http.h"
#include "core/matcher.h"
#include "query/api_loki.h"

struct scry_metric_family;

struct loki_api {
    struct scry_queryable *store;
    struct loki_api_opts opts; /* defaults filled in */
    char *tenant_header;
    struct scry_metric_family *duration, *total;
    atomic_uint n_tails; /* live tail sessions (api_loki_tail.c) */
};

/* Loki's max_concurrent_tail_requests default. */
#define LOKI_MAX_TAILS 10

/* What a handler needs besides the api: the request's tenant and arena. */
struct loki_api_ctx {
    struct loki_api *api;
    const char *endpoint; /* "query_range", "labels", ... (metric label) */
    const char *tenant;   /* NULL in single-tenant mode */
    struct scry_http_req *req;
    struct scry_http_resp *resp;
    /* Run by the wrapper after the handler, newest first: releases what
     * lives outside the arena (compiled regexes of parsed queries). */
    void (*cleanup[8])(void *arg);
    void *cleanup_arg[8];
    size_t n_cleanup;
};

/* Registers fn(arg) to run after the handler; aborts past 8 (a bug). */
void loki__defer(struct loki_api_ctx *c, void (*fn)(void *arg), void *arg);

/* ---- errors: plain text like Loki (contract §5.4) ---- */
void loki__error(struct loki_api_ctx *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- params (api_loki_params.c): each returns 0, or writes the 400
 * answer and returns SCRY_EINVAL. Times are unix nanoseconds. ---- */
int64_t loki__now_ns(struct loki_api_ctx *c);
/* Contract §5.1: "a.b" float seconds; an integer of <= 10 digits seconds,
 * else nanoseconds; else RFC 3339. Missing → dflt. */
int loki__time(struct loki_api_ctx *c, const char *name, int64_t dflt, int64_t *out_ns);
/* Float seconds or a Prometheus duration. Missing → dflt. */
int loki__duration(struct loki_api_ctx *c, const char *name, int64_t dflt, int64_t *out_ns);
/* start/end with Loki's defaults: end = now, start = end - since (default
 * since_dflt_ns); end < start → 400. */
int loki__range(struct loki_api_ctx *c, int64_t since_dflt_ns, int64_t *start_ns,
                int64_t *end_ns);
/* limit: missing → dflt; <= 0 → 400; above max_entries_limit → 400. */
int loki__limit(struct loki_api_ctx *c, uint64_t dflt, uint64_t *out);
/* direction: forward|backward (default backward); *backward set. */
int loki__direction(struct loki_api_ctx *c, bool *backward);
/* The stream matchers of a LogQL query's first stream selector ("{a="b"}
 * |= "x"" → a="b"), for the metadata endpoints. NULL or "" → no matchers.
 * Matchers live in the request arena; their regexes are freed by the
 * wrapper after the handler. */
int loki__selector(struct loki_api_ctx *c, const char *query, struct scry_matcher **out,
                   size_t *n_out);

/* ---- entry scans (api_loki_meta.c) ---- */
/* Called per entry in range; stream_i counts the streams that had entries
 * so far (a new value means a new stream). Return false to stop. */
typedef bool (*loki_entry_fn)(void *ud, size_t stream_i, const struct scry_labels *ls,
                              const struct scry_log_entry *e);
/* Every entry of the streams query's selector picks in [start, end]
 * (an empty selector is a 400, as in Loki). 0, or the error answered. */
int loki__scan(struct loki_api_ctx *c, const char *query, int64_t start, int64_t end,
               bool backward, loki_entry_fn fn, void *ud);
/* An entry's size as Loki's statistics count it: line + metadata bytes. */
uint64_t loki__entry_bytes(const struct scry_log_entry *e);

/* ---- handlers ---- */
/* One entry of a streams answer: ["<t_ns>", "<line>"], plus
 * {structuredMetadata, parsed} when cat (categorize-labels); /query_range
 * and /tail answer alike (api_loki_query.c). */
struct scry_json;
struct lql_out_entry;
void loki__put_entry(struct scry_json *j, const struct lql_out_entry *e, bool cat);

void loki__query(struct loki_api_ctx *c);
void loki__query_range(struct loki_api_ctx *c);
void loki__labels(struct loki_api_ctx *c);
void loki__label_values(struct loki_api_ctx *c);
void loki__series(struct loki_api_ctx *c);
void loki__index_stats(struct loki_api_ctx *c);
void loki__index_volume(struct loki_api_ctx *c);
void loki__index_volume_range(struct loki_api_ctx *c);
void loki__detected_fields(struct loki_api_ctx *c);
void loki__detected_field_values(struct loki_api_ctx *c);
void loki__patterns(struct loki_api_ctx *c);
void loki__tail(struct loki_api_ctx *c); /* api_loki_tail.c: WebSocket live tail */

#endif
