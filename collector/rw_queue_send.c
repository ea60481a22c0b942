/* rw_queue_send.c — the sender shards of the remote_write queue.
 *
 * Each shard is a thread with its own libcurl handle (a kept-alive
 * connection) and reused buffers: the request body (entries copied from
 * the records, already protobuf), the snappy output and the response. It
 * walks every record from its read position and takes the entries whose
 * series hash falls on it, so one series always goes through one shard, in
 * commit order, and a batch is never reordered by a retry: the shard
 * resends the same bytes until they are acknowledged or refused.
 *
 * A batch goes out when it holds max_samples_per_send samples, when its
 * first sample is batch_send_deadline old, or at once while the queue is
 * flushing (shutdown). Outcomes (col_rwq_classify): 2xx advances the
 * shard; 5xx, 429 (unless retry_on_http_429 is false) and network errors
 * wait min_backoff, doubling up to max_backoff, or what Retry-After says,
 * and try again; other 4xx drop the batch, count it and log the body,
 * because a receiver that refuses a batch refuses it again. */
#include "collector/rw_queue_internal.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/mem.h"
#include "core/timeparse.h"


/* ---- classification ------------------------------------------------------- */

enum col_rwq_outcome col_rwq_classify(long status, bool transport_ok, bool retry_429)
{
    if (!transport_ok)
        return COL_RWQ_RETRY;
    if (status >= 200 && status < 300)
        return COL_RWQ_OK;
    if (status >= 500 && status < 600)
        return COL_RWQ_RETRY;
    if (status == 429)
        return retry_429 ? COL_RWQ_RETRY : COL_RWQ_DROP;
    return COL_RWQ_DROP;
}

int64_t col_rwq_retry_after_ms(const char *value, int64_t now_ms)
{
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value)
        return -1;
    if (*value >= '0' && *value <= '9') {
        char *end = NULL;
        unsigned long long s = strtoull(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end || s > 86400ULL * 365)
            return -1;
        return (int64_t)s * 1000;
    }
    struct tm tm = { 0 };
    const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end)
        return -1;
    while (*end == ' ' || *end == '\r' || *end == '\n')
        end++;
    if (*end)
        return -1;
    int64_t at_ms = (int64_t)timegm(&tm) * 1000;
    return at_ms > now_ms ? at_ms - now_ms : 0;
}

/* ---- HTTP ------------------------------------------------------------------ */

/* One POST of the compressed batch. *status is 0 on a transport error;
 * *transport_ok says whether a response arrived. */
static void post(struct col__rwq_shard *s, const char *body, size_t len, unsigned attempt,
                 long *status, char *cerr, size_t cerr_len)
{
    const struct scry_remote_write_config *c = s->q->cfg;
    CURL *h = s->curl;
    struct curl_slist *hl = NULL;
    char line[4096];
    char *secret = NULL;
    hl = curl_slist_append(hl, "Content-Encoding: snappy");
    hl = curl_slist_append(hl, "Content-Type: application/x-protobuf");
    hl = curl_slist_append(hl, "X-Prometheus-Remote-Write-Version: 0.1.0");
    hl = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
    if (attempt) {
        snprintf(line, sizeof line, "Retry-Attempt: %u", attempt);
        hl = curl_slist_append(hl, line);
    }
    for (size_t i = 0; i < c->n_headers; i++) {
        snprintf(line, sizeof line, "%s: %s", c->headers[i].name, c->headers[i].value);
        hl = curl_slist_append(hl, line);
    }
    if (c->http.authorization_type) {
        const char *cred = c->http.authorization_credentials;
        if (!cred && c->http.authorization_credentials_file)
            cred = secret = col__read_secret(c->http.authorization_credentials_file, "\r\n");
        snprintf(line, sizeof line, "Authorization: %s %s", c->http.authorization_type,
                 cred ? cred : "");
        hl = curl_slist_append(hl, line);
    }
    if (c->http.basic_auth_username) {
        const char *pw = c->http.basic_auth_password;
        if (!pw && c->http.basic_auth_password_file)
            pw = secret = col__read_secret(c->http.basic_auth_password_file, "\r\n");
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->http.basic_auth_username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, pw ? pw : "");
    }
    hl = col__tls_route_headers(&s->route, hl);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    col__http_capture_reset(&s->resp);
    CURLcode cc = curl_easy_perform(h);
    *status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    else
        snprintf(cerr, cerr_len, "%s", curl_easy_strerror(cc));
    curl_slist_free_all(hl);
    free(secret);
}

static CURL *shard_curl(struct col_rwq *q, const struct col__tls_route *route)
{
    const struct scry_remote_write_config *c = q->cfg;
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, q->user_agent);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->remote_timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->remote_timeout_ms);
    col__tls_apply(h, &c->http.tls, route);
    return h;
}

/* ---- batches ---------------------------------------------------------------- */

/* Copies this shard's entries into the batch from the read position on,
 * until the batch is full or the records end (false), or a record is on
 * disk only (true). Called with mu held. */
static bool fill(struct col__rwq_shard *s)
{
    struct col_rwq *q = s->q;
    uint64_t max = q->cfg->queue.max_samples_per_send;
    while (s->batch_samples < max && s->rseq < q->next_seq) {
        struct col__rwq_rec *r = col__rwq_rec_at(q, s->rseq);
        if (r && !r->p)
            return true; /* on disk only: the caller loads it */
        size_t off = s->roff ? s->roff : COL__RWQ_REC_HEADER;
        while (r && off < r->len && s->batch_samples < max) {
            uint32_t len = col__rwq_le32(r->p + off);
            uint64_t h = col__rwq_le64(r->p + off + 4);
            if (h % q->n_shards == s->idx) {
                int64_t t = (int64_t)col__rwq_le64(r->p + off + 12);
                if (s->batch_samples++ == 0)
                    s->batch_first_s = scry_mono_s();
                if (t > s->batch_max_t_ms)
                    s->batch_max_t_ms = t;
                scry_buf_put(&s->body, r->p + off + COL__RWQ_ENTRY_HEADER, len);
            }
            off += COL__RWQ_ENTRY_HEADER + len;
        }
        if (!r || off >= r->len) {
            s->rseq++;
            s->roff = 0;
        } else {
            s->roff = off;
        }
    }
    return false;
}

static void deadline_in(struct timespec *ts, double s)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    int64_t ns = ts->tv_nsec + (int64_t)(s * 1e9);
    ts->tv_sec += ns / 1000000000;
    ts->tv_nsec = ns % 1000000000;
}

enum { SENT, DROPPED, STOPPED };

static void log_failure(struct col__rwq_shard *s, const char *what, long status, const char *cerr,
                        enum scry_log_level lvl)
{
    char code[16], n[32];
    snprintf(code, sizeof code, "%ld", status);
    snprintf(n, sizeof n, "%" PRIu64, s->batch_samples);
    col__http_capture_done(&s->resp);
    SCRY_LOG(s->q->log, lvl, "remote_write", what, "url", s->q->cfg->url, "status",
             status ? code : "none", "samples", n, "err", status ? s->resp.body.p : cerr);
}

/* Sends the batch until it is acknowledged or refused, or the queue
 * stops. Called without mu. */
static int send_batch(struct col__rwq_shard *s)
{
    struct col_rwq *q = s->q;
    const struct scry_queue_config *qc = &q->cfg->queue;
    size_t need = snappy_max_compressed_length(s->body.len);
    if (need > s->snappy_cap) {
        free(s->snappy);
        s->snappy = scry_malloc(need);
        s->snappy_cap = need;
    }
    size_t clen = need;
    if (snappy_compress(s->body.p, s->body.len, s->snappy, &clen) != SNAPPY_OK)
        return DROPPED; /* cannot happen with a buffer of the maximum size */
    int64_t backoff = qc->min_backoff_ms;
    for (unsigned attempt = 0;; attempt++) {
        long status = 0;
        char cerr[256] = "";
        post(s, s->snappy, clen, attempt, &status, cerr, sizeof cerr);
        scry_metric_inc(q->m.requests);
        scry_metric_add(q->m.bytes, (double)clen);
        enum col_rwq_outcome oc = col_rwq_classify(status, status != 0, qc->retry_on_http_429);
        pthread_mutex_lock(&q->mu);
        q->st.requests++;
        if (oc == COL_RWQ_OK) {
            pthread_mutex_unlock(&q->mu);
            return SENT;
        }
        q->st.samples_failed += s->batch_samples;
        scry_metric_add(q->m.failed, (double)s->batch_samples);
        if (oc == COL_RWQ_DROP) {
            pthread_mutex_unlock(&q->mu);
            log_failure(s, "receiver refused a batch; dropped", status, cerr, SCRY_LOG_ERROR);
            return DROPPED;
        }
        q->st.samples_retried += s->batch_samples;
        scry_metric_add(q->m.retried, (double)s->batch_samples);
        int64_t delay = backoff;
        int64_t ra = col_rwq_retry_after_ms(s->resp.retry_after[0] ? s->resp.retry_after : NULL,
                                            scry_now_ms());
        if (ra >= 0)
            delay = ra;
        if (attempt == 0 || attempt % 10 == 0) /* a dead receiver logs now and then */
            log_failure(s, "send failed; retrying", status, cerr, SCRY_LOG_WARN);
        struct timespec dl;
        deadline_in(&dl, (double)delay / 1000.0);
        int rc = 0;
        while (!q->stopping && rc == 0)
            rc = pthread_cond_timedwait(&q->cond, &q->mu, &dl);
        bool stop = q->stopping;
        pthread_mutex_unlock(&q->mu);
        if (stop)
            return STOPPED;
        backoff = backoff * 2 > qc->max_backoff_ms ? qc->max_backoff_ms : backoff * 2;
    }
}

static void *shard_main(void *arg)
{
    struct col__rwq_shard *s = arg;
    struct col_rwq *q = s->q;
    double deadline_s = (double)q->cfg->queue.batch_send_deadline_ms / 1000.0;
    uint64_t max = q->cfg->queue.max_samples_per_send;
    pthread_mutex_lock(&q->mu);
    while (!q->stopping) {
        bool on_disk = fill(s);
        if (on_disk && s->batch_samples == 0) {
            /* Everything before rseq is sent: say so first, it may free
             * the memory the load needs. */
            if (s->acked_seq != s->rseq) {
                s->acked_seq = s->rseq;
                col__rwq_acked(q);
                pthread_cond_broadcast(&q->cond);
            }
            /* Over budget and a slower shard holds memory: let it catch
             * up. The slowest shard always loads, so this cannot stall. */
            if (q->mem_samples >= q->mem_budget && q->acked_seq < s->rseq)
                pthread_cond_wait(&q->cond, &q->mu);
            else
                col__rwq_load(q, s->rseq);
            continue;
        }
        if (s->batch_samples == 0) {
            /* Caught up: every record before rseq is done for this shard. */
            if (s->acked_seq != s->rseq) {
                s->acked_seq = s->rseq;
                col__rwq_acked(q);
                pthread_cond_broadcast(&q->cond);
            }
            if (s->rseq == q->next_seq)
                pthread_cond_wait(&q->cond, &q->mu);
            continue;
        }
        double due = s->batch_first_s + deadline_s;
        if (s->batch_samples < max && !q->flushing && !on_disk && scry_mono_s() < due) {
            struct timespec dl;
            deadline_in(&dl, due - scry_mono_s());
            pthread_cond_timedwait(&q->cond, &q->mu, &dl);
            continue;
        }
        uint64_t upto = s->rseq; /* a partly read record (roff != 0) is not done */
        pthread_mutex_unlock(&q->mu);
        int out = send_batch(s);
        pthread_mutex_lock(&q->mu);
        if (out == STOPPED)
            break;
        if (out == SENT) {
            q->st.samples_sent += s->batch_samples;
            scry_metric_add(q->m.sent, (double)s->batch_samples);
            if (s->batch_max_t_ms > q->st.highest_sent_ms) {
                q->st.highest_sent_ms = s->batch_max_t_ms;
                scry_metric_set(q->m.highest_ts, (double)s->batch_max_t_ms / 1000.0);
            }
        } else {
            q->st.samples_dropped += s->batch_samples;
            scry_metric_add(q->m.dropped, (double)s->batch_samples);
        }
        q->st.samples_pending -= s->batch_samples;
        scry_metric_set(q->m.pending, (double)q->st.samples_pending);
        scry_buf_reset(&s->body);
        s->batch_samples = 0;
        s->batch_max_t_ms = 0;
        s->acked_seq = upto;
        col__rwq_acked(q);
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int col__rwq_shards_start(struct col_rwq *q, struct scry_err *err)
{
    curl_global_init(CURL_GLOBAL_DEFAULT); /* refcounted; thread-safe since 7.84 */
    q->curl_init = true;
    for (uint32_t i = 0; i < q->n_shards; i++) {
        struct col__rwq_shard *s = &q->shards[i];
        int rc = col__tls_route_init(&s->route, q->cfg->url, &q->cfg->http.tls);
        if (rc < 0)
            return scry_err_set(err, rc, "remote_write %s: tls_config.server_name: cannot "
                                "route the URL to it", q->cfg->url);
        s->curl = shard_curl(q, &s->route);
        if (!s->curl)
            return scry_err_set(err, SCRY_EIO, "libcurl: cannot create a handle");
        col__http_capture_apply(s->curl, &s->resp);
        if (pthread_create(&s->thread, NULL, shard_main, s) != 0)
            return scry_err_sys(err, SCRY_EIO, "cannot start a sender shard");
        s->started = true;
    }
    return 0;
}

void col__rwq_shards_stop(struct col_rwq *q)
{
    for (uint32_t i = 0; q->shards && i < q->n_shards; i++) {
        struct col__rwq_shard *s = &q->shards[i];
        if (s->started)
            pthread_join(s->thread, NULL);
        s->started = false;
        if (s->curl)
            curl_easy_cleanup(s->curl);
        s->curl = NULL;
        col__tls_route_free(&s->route);
        scry_buf_fini(&s->body);
        scry_buf_fini(&s->resp.body);
        free(s->snappy);
        s->snappy = NULL;
    }
    if (q->curl_init)
        curl_global_cleanup();
    q->curl_init = false;
}
