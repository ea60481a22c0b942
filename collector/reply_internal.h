/* reply_internal.h — how the push receivers answer (reply.c), shared by
 * remote_write_http.c, otlp_http.c and loki_push_http.c. Not public. */
#ifndef SCRY_COLLECTOR_REPLY_INTERNAL_H
#define SCRY_COLLECTOR_REPLY_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"

/* One receiver's answering state: its per-status request counter, its
 * rate-limited refusal log and its Retry-After. */
struct col__reply {
    const char *component; /* the log's component: "otlp" */
    const char *key;       /* prefix of the rate-limit key: "otlp" → "otlp429" */
    const char *refused;   /* the log message: "export refused" */
    char retry_after[16];  /* seconds, sent on 429 and 503; "" sends none */
    struct scry_log *log;  /* NULL: no logging */
    struct scry_log_limit log_limit;
    struct scry_metric_family *requests; /* labelled by code; NULL: not counted */
};

/* Sets up r (strings are borrowed, static); retry_after_s 0 sends no
 * Retry-After. Refusals are logged at most once per log_interval_ms per
 * status. Undo with col__reply_fini. */
void col__reply_init(struct col__reply *r, const char *component, const char *key,
                     const char *refused, unsigned retry_after_s, struct scry_log *log,
                     int64_t log_interval_ms);
void col__reply_fini(struct col__reply *r);
/* Counts one answered request with this status. */
void col__reply_count(struct col__reply *r, int status);
/* Logs msg as a refusal when status >= 400, rate-limited per status. */
void col__reply_log_refusal(struct col__reply *r, int status, const char *msg);
/* A plain-text answer: status, content_type, the formatted body (none when
 * fmt is NULL) and a newline after it when nl, Retry-After on 429/503;
 * counted, and logged with the body when a refusal. */
void col__reply_text(struct col__reply *r, struct scry_http_resp *resp, int status,
                     const char *content_type, bool nl, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void col__reply_vtext(struct col__reply *r, struct scry_http_resp *resp, int status,
                      const char *content_type, bool nl, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

#endif
