/* scrape_manager.c — scrape pools (one per job), their targets, the scrape
 * thread and config reloads.
 *
 * Threading. One thread drives every scrape through one curl multi handle:
 * it starts the requests that are due, sleeps in curl_multi_poll until a
 * socket is ready or the next scrape is due, and processes each response
 * (parse, relabel, append, commit) as it completes. A scrape costs ~1 µs
 * of CPU per sample (README.md), so one thread keeps up with millions of
 * samples a second; a worker pool would only add hand-offs. All state is
 * under one mutex, which the thread drops only while curl waits or moves
 * bytes; curl's write callback touches only the target's body buffer,
 * which nothing else reads while a request is in flight.
 *
 * Schedule. Each target's phase is hash(labels, url) mod interval measured
 * from the wall clock's interval boundaries, as Prometheus's offset, so a
 * restart keeps every target's phase and a fleet's scrapes spread evenly;
 * after that scrapes run on the monotonic clock. A scrape still in flight
 * when the next is due delays it (curl's timeout is scrape_timeout <=
 * interval, so at most one is in flight per target).
 *
 * Reload. apply_config diffs per job: a job whose scrape settings are
 * unchanged keeps its pool, and within it a target with the same labels and
 * URL keeps its loop (schedule, health, series cache, staleness memory);
 * other targets are new, and those that went away are handed to the scrape
 * thread (the "graveyard"), which cancels their request, writes their
 * staleness markers and frees them. Only the scrape thread touches curl
 * handles, so apply_config never blocks on the network. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/scrape_internal.h"
#include "core/mem.h"
#include "scry_build.h"

struct col__pool {
    const struct scry_scrape_config *cfg; /* borrowed: the current config's */
    char *job;
    struct col__target **t;
    size_t n, cap;
    struct scry_arena *drop_a;
    struct scry_labels *dropped;
    size_t n_dropped, cap_dropped;
    struct col__file_sd **sd;
    size_t n_sd;
    double next_sd_s;
    struct scry_metric *m_targets;
};

struct col_scrape_manager {
    struct col_scrape_opts o;
    char *user_agent, *tenant;
    pthread_mutex_t mu;
    pthread_t th;
    bool stop, started;
    CURLM *multi;
    struct col__pool **pools;
    size_t n_pools;
    struct col__target **grave;
    size_t n_grave, cap_grave;
    struct col_scrape_stats stats;
    struct scry_log_limit lim;
    struct scry_metric_family *f_targets;
    struct scry_metric *m_ok, *m_failed, *m_samples;
};

/* ---- small helpers used by the loop -------------------------------------- */

const struct scry_scrape_config *col__target_cfg(const struct col__target *t)
{
    return t->pool->cfg;
}

const struct col_scrape_opts *col__manager_opts(const struct col_scrape_manager *m)
{
    return &m->o;
}

void col__manager_count(struct col_scrape_manager *m, bool ok, uint64_t appended)
{
    if (ok)
        m->stats.scrapes_ok++;
    else
        m->stats.scrapes_failed++;
    m->stats.samples_appended += appended;
    if (m->m_ok) {
        scry_metric_inc(ok ? m->m_ok : m->m_failed);
        scry_metric_add(m->m_samples, (double)appended);
    }
}

void col__manager_log_failure(struct col_scrape_manager *m, const struct col__target *t,
                              const char *msg, int64_t now_ms)
{
    uint64_t n;
    if (!m->o.log || !scry_log_limit_allow(&m->lim, t->url, now_ms, &n))
        return;
    char sup[24];
    snprintf(sup, sizeof sup, "%llu", (unsigned long long)n);
    SCRY_LOG(m->o.log, SCRY_LOG_WARN, "scrape", "scrape failed", "job", t->pool->job, "target",
             t->url, "err", msg, "suppressed", sup);
}

/* ---- targets ------------------------------------------------------------- */

static int64_t first_delay_ms(const struct col_scrape_manager *m, uint64_t hash, int64_t iv)
{
    int64_t now = scry_clock_now_ms(m->o.clock);
    int64_t base = iv - ((now % iv) + iv) % iv;
    int64_t next = base + (int64_t)(hash % (uint64_t)iv);
    if (next > iv)
        next -= iv;
    return next;
}

static struct col__target *target_new(struct col_scrape_manager *m, struct col__pool *p,
                                      struct scry_arena *a, const struct scry_labels *disc,
                                      const struct scry_labels *ls, const char *url,
                                      uint64_t hash)
{
    struct col__target *t = scry_calloc(1, sizeof *t);
    t->pool = p;
    t->a = a;
    t->discovered = *disc;
    t->labels = *ls;
    t->url = url;
    t->hash = hash;
    struct scry_label *pub = scry_arena_alloc(a, (ls->n ? ls->n : 1) * sizeof *pub);
    for (size_t i = 0; i < ls->n; i++)
        if (strncmp(ls->v[i].name, "__", 2) != 0)
            pub[t->pub.n++] = ls->v[i];
    t->pub.v = pub;
    const char *iv = scry_labels_get(ls, "__scrape_interval__");
    const char *to = scry_labels_get(ls, "__scrape_timeout__");
    /* Both parsed and checked by col_scrape_target_labels. */
    scry_duration_parse(iv, strlen(iv), &t->interval_ms, NULL);
    scry_duration_parse(to, strlen(to), &t->timeout_ms, NULL);
    t->next_s = scry_mono_s() + (double)first_delay_ms(m, hash, t->interval_ms) / 1000.0;
    t->scratch = scry_arena_create(16384);
    col_relabel_ctx_init(&t->mrc, p->cfg->metric_relabel_configs, p->cfg->n_metric_relabel_configs);
    col__meta_init(&t->meta);
    t->health = COL__UNKNOWN;
    m->stats.loops_started++;
    return t;
}

/* stale: write staleness markers when reaped (a target that went away);
 * false when a changed job restarts its loops, as Prometheus's reload. */
static void bury(struct col_scrape_manager *m, struct col__target *t, bool stale)
{
    t->dead = true;
    t->stale_on_reap = stale;
    t->pool = NULL;
    if (m->n_grave == m->cap_grave) {
        m->cap_grave = m->cap_grave ? m->cap_grave * 2 : 16;
        m->grave = scry_realloc(m->grave, m->cap_grave * sizeof *m->grave);
    }
    m->grave[m->n_grave++] = t;
}

struct cand {
    struct col__target **v;
    size_t n, cap;
};

static void cand_push(struct cand *c, struct col__target *t)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = scry_realloc(c->v, c->cap * sizeof *c->v);
    }
    c->v[c->n++] = t;
}

static void drop_push(struct col__pool *p, const struct scry_labels *disc)
{
    if (p->n_dropped == p->cap_dropped) {
        p->cap_dropped = p->cap_dropped ? p->cap_dropped * 2 : 16;
        p->dropped = scry_realloc(p->dropped, p->cap_dropped * sizeof *p->dropped);
    }
    p->dropped[p->n_dropped++] = *disc;
}

/* A deep copy into a: discovered labels point into file_sd groups and the
 * config, which are freed on the next re-read or reload. */
static struct scry_labels labels_dup(struct scry_arena *a, const struct scry_labels *ls)
{
    struct scry_label *v = scry_arena_alloc(a, (ls->n ? ls->n : 1) * sizeof *v);
    for (size_t i = 0; i < ls->n; i++)
        v[i] = (struct scry_label){ scry_arena_strdup(a, ls->v[i].name),
                                    scry_arena_strdup(a, ls->v[i].value) };
    return (struct scry_labels){ v, ls->n };
}

/* One discovered target: keep the running loop when labels and URL match. */
static void sync_one(struct col_scrape_manager *m, struct col__pool *p, struct cand *out,
                     const struct col__tgroup *g, const char *addr)
{
    struct scry_arena *a = scry_arena_create(4096);
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, a);
    scry_labels_builder_reset(&b, &g->labels);
    scry_labels_builder_set(&b, "__address__", addr);
    struct scry_labels in = scry_labels_builder_labels(&b), disc, ls;
    struct scry_err err = { 0 };
    if (col_scrape_target_labels(a, p->cfg, &in, &disc, &ls, &err) != 0) {
        if (m->o.log)
            SCRY_LOG(m->o.log, SCRY_LOG_ERROR, "scrape", "invalid target", "job", p->job,
                     "target", addr, "err", err.msg);
        scry_arena_destroy(a);
        return;
    }
    if (ls.n == 0) {
        struct scry_labels keep = labels_dup(p->drop_a, &disc);
        drop_push(p, &keep);
        scry_arena_destroy(a);
        return;
    }
    disc = labels_dup(a, &disc);
    ls = labels_dup(a, &ls);
    struct scry_buf u = { 0 };
    col_scrape_target_url(p->cfg, &ls, &u);
    uint64_t hash = scry_xxh64(u.p, u.len, scry_labels_hash(&ls));
    for (size_t i = 0; i < out->n; i++) {
        if (out->v[i]->hash == hash && scry_labels_equal(&out->v[i]->labels, &ls)) {
            scry_buf_fini(&u); /* a duplicate of a target already found */
            scry_arena_destroy(a);
            return;
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        struct col__target *t = p->t[i];
        if (t && t->hash == hash && scry_labels_equal(&t->labels, &ls) &&
            strcmp(t->url, u.p) == 0) {
            p->t[i] = NULL;
            cand_push(out, t);
            scry_buf_fini(&u);
            scry_arena_destroy(a);
            return;
        }
    }
    const char *url = scry_arena_strdup(a, u.p);
    scry_buf_fini(&u);
    cand_push(out, target_new(m, p, a, &disc, &ls, url, hash));
}

static void sync_pool(struct col_scrape_manager *m, struct col__pool *p)
{
    struct cand out = { 0 };
    scry_arena_destroy(p->drop_a);
    p->drop_a = scry_arena_create(0);
    p->n_dropped = 0;
    const struct scry_scrape_config *sc = p->cfg;
    for (size_t i = 0; i < sc->n_static_configs; i++) {
        const struct scry_static_config *st = &sc->static_configs[i];
        struct col__tgroup g = { .labels = st->labels };
        for (size_t k = 0; k < st->n_targets; k++)
            sync_one(m, p, &out, &g, st->targets[k]);
    }
    for (size_t i = 0; i < p->n_sd; i++) {
        for (size_t f = 0; f < col__file_sd_n_files(p->sd[i]); f++) {
            const struct col__tgroup *g;
            size_t ng = col__file_sd_groups(p->sd[i], &g, f);
            for (size_t k = 0; k < ng; k++)
                for (size_t j = 0; j < g[k].n_targets; j++)
                    sync_one(m, p, &out, &g[k], g[k].targets[j]);
        }
    }
    for (size_t i = 0; i < p->n; i++)
        if (p->t[i])
            bury(m, p->t[i], true);
    free(p->t);
    p->t = out.v;
    p->n = out.n;
    p->cap = out.cap;
    if (p->m_targets)
        scry_metric_set(p->m_targets, (double)p->n);
}

/* ---- pools ---------------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool relabel_eq(const struct scry_relabel_config *a, size_t na,
                       const struct scry_relabel_config *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (a[i].n_source_labels != b[i].n_source_labels || a[i].modulus != b[i].modulus ||
            a[i].action != b[i].action || !str_eq(a[i].separator, b[i].separator) ||
            !str_eq(a[i].regex, b[i].regex) || !str_eq(a[i].target_label, b[i].target_label) ||
            !str_eq(a[i].replacement, b[i].replacement))
            return false;
        for (size_t k = 0; k < a[i].n_source_labels; k++)
            if (!str_eq(a[i].source_labels[k], b[i].source_labels[k]))
                return false;
    }
    return true;
}

/* Everything that changes how a target is scraped; discovery and
 * relabel_configs only change which targets exist, which the diff of
 * final labels covers. */
static bool scrape_settings_eq(const struct scry_scrape_config *a,
                               const struct scry_scrape_config *b)
{
    if (a->scrape_interval_ms != b->scrape_interval_ms || a->scrape_timeout_ms != b->scrape_timeout_ms ||
        !str_eq(a->metrics_path, b->metrics_path) || !str_eq(a->scheme, b->scheme) ||
        a->n_params != b->n_params || a->honor_labels != b->honor_labels ||
        a->honor_timestamps != b->honor_timestamps || a->sample_limit != b->sample_limit ||
        a->label_limit != b->label_limit || a->label_name_length_limit != b->label_name_length_limit ||
        a->label_value_length_limit != b->label_value_length_limit ||
        a->body_size_limit_bytes != b->body_size_limit_bytes ||
        !str_eq(a->http.basic_auth_username, b->http.basic_auth_username) ||
        !str_eq(a->http.basic_auth_password, b->http.basic_auth_password) ||
        !str_eq(a->http.basic_auth_password_file, b->http.basic_auth_password_file) ||
        !str_eq(a->http.authorization_type, b->http.authorization_type) ||
        !str_eq(a->http.authorization_credentials, b->http.authorization_credentials) ||
        !str_eq(a->http.authorization_credentials_file, b->http.authorization_credentials_file) ||
        !str_eq(a->http.tls.ca_file, b->http.tls.ca_file) ||
        !str_eq(a->http.tls.cert_file, b->http.tls.cert_file) ||
        !str_eq(a->http.tls.key_file, b->http.tls.key_file) ||
        !str_eq(a->http.tls.server_name, b->http.tls.server_name) ||
        a->http.tls.insecure_skip_verify != b->http.tls.insecure_skip_verify)
        return false;
    for (size_t i = 0; i < a->n_params; i++)
        if (!str_eq(a->params[i].name, b->params[i].name) ||
            !str_eq(a->params[i].value, b->params[i].value))
            return false;
    return relabel_eq(a->metric_relabel_configs, a->n_metric_relabel_configs,
                      b->metric_relabel_configs, b->n_metric_relabel_configs);
}

static bool file_sd_eq(const struct scry_scrape_config *a, const struct scry_scrape_config *b)
{
    if (a->n_file_sd_configs != b->n_file_sd_configs)
        return false;
    for (size_t i = 0; i < a->n_file_sd_configs; i++) {
        const struct scry_file_sd_config *x = &a->file_sd_configs[i], *y = &b->file_sd_configs[i];
        if (x->n_files != y->n_files || x->refresh_interval_ms != y->refresh_interval_ms)
            return false;
        for (size_t k = 0; k < x->n_files; k++)
            if (!str_eq(x->files[k], y->files[k]))
                return false;
    }
    return true;
}

static void pool_sd_create(struct col__pool *p)
{
    p->n_sd = p->cfg->n_file_sd_configs;
    p->sd = scry_calloc(p->n_sd ? p->n_sd : 1, sizeof *p->sd);
    for (size_t i = 0; i < p->n_sd; i++)
        p->sd[i] = col__file_sd_create(&p->cfg->file_sd_configs[i]);
}

static void pool_sd_destroy(struct col__pool *p)
{
    for (size_t i = 0; i < p->n_sd; i++)
        col__file_sd_destroy(p->sd[i]);
    free(p->sd);
    p->sd = NULL;
    p->n_sd = 0;
}

static int64_t sd_refresh_ms(const struct col__pool *p)
{
    int64_t r = 0;
    for (size_t i = 0; i < p->cfg->n_file_sd_configs; i++) {
        int64_t x = p->cfg->file_sd_configs[i].refresh_interval_ms;
        if (x > 0 && (r == 0 || x < r))
            r = x;
    }
    return r ? r : 300000;
}

static void pool_refresh_sd(struct col_scrape_manager *m, struct col__pool *p, double now_s)
{
    bool changed = false;
    for (size_t i = 0; i < p->n_sd; i++)
        changed |= col__file_sd_refresh(p->sd[i], m->o.log, p->job);
    p->next_sd_s = now_s + (double)sd_refresh_ms(p) / 1000.0;
    if (changed)
        sync_pool(m, p);
}

static struct col__pool *pool_new(struct col_scrape_manager *m, const struct scry_scrape_config *sc)
{
    struct col__pool *p = scry_calloc(1, sizeof *p);
    p->cfg = sc;
    p->job = scry_strdup(sc->job_name);
    if (m->f_targets) {
        const char *v[] = { p->job };
        p->m_targets = scry_metric_with(m->f_targets, v);
    }
    pool_sd_create(p);
    return p;
}

static void pool_free(struct col_scrape_manager *m, struct col__pool *p, bool to_grave,
                      bool stale)
{
    for (size_t i = 0; i < p->n; i++) {
        if (to_grave)
            bury(m, p->t[i], stale);
        else
            col__target_free(p->t[i]);
    }
    if (p->m_targets)
        scry_metric_set(p->m_targets, 0);
    free(p->t);
    free(p->dropped);
    scry_arena_destroy(p->drop_a);
    pool_sd_destroy(p);
    free(p->job);
    free(p);
}

int col_scrape_manager_apply_config(struct col_scrape_manager *m, const struct scry_config *cfg,
                                    struct scry_err *err)
{
    if (!m)
        return scry_err_set(err, SCRY_EINVAL, "scrape: no manager");
    size_t n_new = cfg ? cfg->n_scrape_configs : 0;
    struct col__pool **np = scry_calloc(n_new ? n_new : 1, sizeof *np);
    double now_s = scry_mono_s();
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < n_new; i++) {
        const struct scry_scrape_config *sc = &cfg->scrape_configs[i];
        struct col__pool *old = NULL;
        for (size_t k = 0; k < m->n_pools; k++) {
            if (m->pools[k] && strcmp(m->pools[k]->job, sc->job_name) == 0) {
                old = m->pools[k];
                m->pools[k] = NULL;
                break;
            }
        }
        if (old && !scrape_settings_eq(old->cfg, sc)) {
            pool_free(m, old, true, false); /* restart the whole job */
            old = NULL;
        }
        struct col__pool *p = old;
        if (p) {
            bool sd_same = file_sd_eq(p->cfg, sc);
            p->cfg = sc;
            /* The rules are equal but live in the new config now. */
            for (size_t k = 0; k < p->n; k++) {
                col_relabel_ctx_fini(&p->t[k]->mrc);
                col_relabel_ctx_init(&p->t[k]->mrc, sc->metric_relabel_configs,
                                     sc->n_metric_relabel_configs);
            }
            if (!sd_same) {
                pool_sd_destroy(p);
                pool_sd_create(p);
            }
        } else {
            p = pool_new(m, sc);
        }
        np[i] = p;
        for (size_t k = 0; k < p->n_sd; k++)
            col__file_sd_refresh(p->sd[k], m->o.log, p->job);
        p->next_sd_s = now_s + (double)sd_refresh_ms(p) / 1000.0;
        sync_pool(m, p);
    }
    for (size_t k = 0; k < m->n_pools; k++)
        if (m->pools[k])
            pool_free(m, m->pools[k], true, true);
    free(m->pools);
    m->pools = np;
    m->n_pools = n_new;
    pthread_mutex_unlock(&m->mu);
    curl_multi_wakeup(m->multi);
    return 0;
}

/* ---- the scrape thread ---------------------------------------------------- */

static void reap_graveyard(struct col_scrape_manager *m)
{
    for (size_t i = 0; i < m->n_grave; i++) {
        struct col__target *t = m->grave[i];
        if (t->in_flight)
            curl_multi_remove_handle(m->multi, t->easy);
        if (t->stale_on_reap)
            col__loop_stale_all(m, t, scry_clock_now_ms(m->o.clock));
        col__target_free(t);
    }
    m->n_grave = 0;
}

/* Starts what is due; returns seconds until the next thing is due. */
static double start_due(struct col_scrape_manager *m, double now_s)
{
    double wait = 1.0;
    for (size_t i = 0; i < m->n_pools; i++) {
        struct col__pool *p = m->pools[i];
        if (p->n_sd && now_s >= p->next_sd_s)
            pool_refresh_sd(m, p, now_s);
        if (p->n_sd && p->next_sd_s - now_s < wait)
            wait = p->next_sd_s - now_s;
        for (size_t k = 0; k < p->n; k++) {
            struct col__target *t = p->t[k];
            if (t->in_flight)
                continue;
            if (now_s >= t->next_s) {
                double iv = (double)t->interval_ms / 1000.0;
                while (t->next_s <= now_s)
                    t->next_s += iv; /* missed slots are skipped, not bunched */
                if (col__loop_start(m, t, scry_clock_now_ms(m->o.clock), now_s) == 0)
                    curl_multi_add_handle(m->multi, t->easy);
            }
            if (t->next_s - now_s < wait)
                wait = t->next_s - now_s;
        }
    }
    return wait < 0 ? 0 : wait;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void finish_done(struct col_scrape_manager *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct col__target *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(m->multi, msg->easy_handle);
        if (t->dead) {
            /* Removed while in flight: the result no longer matters, and the
             * graveyard writes its staleness markers. */
            t->in_flight = false;
            continue;
        }
        double c0 = thread_cpu_s();
        col__loop_finish(m, t, rc);
        m->stats.cpu_process_s += thread_cpu_s() - c0;
    }
}

static void *scrape_thread(void *ud)
{
    struct col_scrape_manager *m = ud;
    int running;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        reap_graveyard(m);
        double wait = start_due(m, scry_mono_s());
        pthread_mutex_unlock(&m->mu);
        curl_multi_perform(m->multi, &running);
        curl_multi_poll(m->multi, NULL, 0, (int)(wait * 1000.0) + 1, NULL);
        curl_multi_perform(m->multi, &running);
        pthread_mutex_lock(&m->mu);
        finish_done(m);
        m->stats.cpu_thread_s = thread_cpu_s();
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* ---- create / destroy ----------------------------------------------------- */

int col_scrape_manager_create(const struct col_scrape_opts *opts, struct col_scrape_manager **out,
                              struct scry_err *err)
{
    if (!opts || !opts->appendable)
        return scry_err_set(err, SCRY_EINVAL, "scrape: an appendable is required");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return scry_err_set(err, SCRY_EIO, "scrape: curl_global_init failed");
    struct col_scrape_manager *m = scry_calloc(1, sizeof *m);
    m->o = *opts;
    m->user_agent = scry_strdup(opts->user_agent ? opts->user_agent : "scry/" SCRY_VERSION);
    m->o.user_agent = m->user_agent;
    m->tenant = opts->tenant ? scry_strdup(opts->tenant) : NULL;
    m->o.tenant = m->tenant;
    pthread_mutex_init(&m->mu, NULL);
    scry_log_limit_init(&m->lim, 60000);
    if (opts->metrics) {
        const char *job[] = { "scrape_job" }, *res[] = { "result" };
        m->f_targets = scry_metrics_family(opts->metrics, SCRY_METRIC_GAUGE,
                                           "scry_scrape_pool_targets",
                                           "Current number of targets in each scrape pool.",
                                           job, 1, NULL, 0);
        struct scry_metric_family *f = scry_metrics_family(
            opts->metrics, SCRY_METRIC_COUNTER, "scry_scrapes_total",
            "Scrapes finished, by result (success or failed).", res, 1, NULL, 0);
        const char *ok[] = { "success" }, *bad[] = { "failed" };
        m->m_ok = scry_metric_with(f, ok);
        m->m_failed = scry_metric_with(f, bad);
        m->m_samples = scry_metrics_counter(opts->metrics, "scry_scrape_samples_appended_total",
                                            "Scraped samples appended to the store.");
    }
    m->multi = curl_multi_init();
    if (!m->multi) {
        col_scrape_manager_destroy(m);
        return scry_err_set(err, SCRY_EIO, "scrape: curl_multi_init failed");
    }
    curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    if (pthread_create(&m->th, NULL, scrape_thread, m) != 0) {
        col_scrape_manager_destroy(m);
        return scry_err_set(err, SCRY_EIO, "scrape: cannot start the scrape thread");
    }
    m->started = true;
    *out = m;
    return 0;
}

void col_scrape_manager_destroy(struct col_scrape_manager *m)
{
    if (!m)
        return;
    if (m->started) {
        pthread_mutex_lock(&m->mu);
        m->stop = true;
        pthread_mutex_unlock(&m->mu);
        curl_multi_wakeup(m->multi);
        pthread_join(m->th, NULL);
    }
    /* No staleness markers at shutdown, as Prometheus. */
    for (size_t i = 0; i < m->n_grave; i++) {
        if (m->grave[i]->in_flight)
            curl_multi_remove_handle(m->multi, m->grave[i]->easy);
        col__target_free(m->grave[i]);
    }
    for (size_t i = 0; i < m->n_pools; i++) {
        struct col__pool *p = m->pools[i];
        for (size_t k = 0; k < p->n; k++)
            if (p->t[k]->in_flight)
                curl_multi_remove_handle(m->multi, p->t[k]->easy);
        pool_free(m, p, false, false);
    }
    free(m->pools);
    free(m->grave);
    if (m->multi)
        curl_multi_cleanup(m->multi);
    scry_log_limit_fini(&m->lim);
    pthread_mutex_destroy(&m->mu);
    free(m->user_agent);
    free(m->tenant);
    free(m);
}

void col_scrape_manager_stats(struct col_scrape_manager *m, struct col_scrape_stats *out)
{
    pthread_mutex_lock(&m->mu);
    *out = m->stats;
    out->targets = 0;
    for (size_t i = 0; i < m->n_pools; i++)
        out->targets += m->pools[i]->n;
    pthread_mutex_unlock(&m->mu);
}

void col__manager_visit(struct col_scrape_manager *m, const struct col__api_visit *v, void *ud)
{
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_pools; i++) {
        struct col__pool *p = m->pools[i];
        if (v->pool)
            v->pool(ud, p->job, p->n_dropped);
        for (size_t k = 0; k < p->n && v->target; k++)
            v->target(ud, p->t[k], p->cfg);
        for (size_t k = 0; k < p->n_dropped && v->dropped; k++)
            v->dropped(ud, p->job, &p->dropped[k]);
    }
    pthread_mutex_unlock(&m->mu);
}
