/* reply.c — what the push receivers (remote_write, OTLP, Loki push) share
 * when they answer a request: the request counter by status code, the
 * refusal log (rate-limited per status, so a misconfigured sender that
 * retries every second logs once per interval with a count of what was
 * suppressed), Retry-After on 429/503 and plain-text bodies. Each protocol
 * keeps its own content type, newline and body wording; see the callers. */
#include "collector/reply_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void col__reply_init(struct col__reply *r, const char *component, const char *key,
                     const char *refused, unsigned retry_after_s, struct scry_log *log,
                     int64_t log_interval_ms)
{
    r->component = component;
    r->key = key;
    r->refused = refused;
    r->retry_after[0] = '\0';
    if (retry_after_s)
        snprintf(r->retry_after, sizeof r->retry_after, "%u", retry_after_s);
    r->log = log;
    r->requests = NULL;
    scry_log_limit_init(&r->log_limit, log_interval_ms);
}

void col__reply_fini(struct col__reply *r)
{
    scry_log_limit_fini(&r->log_limit);
}

void col__reply_count(struct col__reply *r, int status)
{
    if (!r->requests)
        return;
    char code[16];
    snprintf(code, sizeof code, "%d", status);
    const char *v[] = { code };
    scry_metric_inc(scry_metric_with(r->requests, v));
}

void col__reply_log_refusal(struct col__reply *r, int status, const char *msg)
{
    if (status < 400 || !r->log)
        return;
    char key[24], st[16], sup[24];
    uint64_t n = 0;
    snprintf(key, sizeof key, "%s%d", r->key, status);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (scry_log_limit_allow(&r->log_limit, key, now_ms, &n)) {
        snprintf(st, sizeof st, "%d", status);
        snprintf(sup, sizeof sup, "%" PRIu64, n);
        SCRY_LOG(r->log, status >= 500 ? SCRY_LOG_ERROR : SCRY_LOG_WARN, r->component,
                 r->refused, "status", st, "err", msg, "suppressed", sup);
    }
}

void col__reply_vtext(struct col__reply *r, struct scry_http_resp *resp, int status,
                      const char *content_type, bool nl, const char *fmt, va_list ap)
{
    resp->status = status;
    resp->content_type = content_type;
    if (fmt) {
        scry_buf_vprintf(&resp->body, fmt, ap);
        if (nl)
            scry_buf_putc(&resp->body, '\n');
    }
    if (r->retry_after[0] && (status == 429 || status == 503))
        scry_http_resp_header(resp, "Retry-After", r->retry_after);
    col__reply_count(r, status);
    col__reply_log_refusal(r, status, resp->body.p ? resp->body.p : "");
}

void col__reply_text(struct col__reply *r, struct scry_http_resp *resp, int status,
                     const char *content_type, bool nl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    col__reply_vtext(r, resp, status, content_type, nl, fmt, ap);
    va_end(ap);
}
