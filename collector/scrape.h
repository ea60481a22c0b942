/* scrape.h — the scrape manager: Prometheus-compatible scrape_configs.
 *
 * One manager scrapes every target of every job from one thread driving a
 * libcurl multi handle, appends what it scrapes through the appender seam
 * (core/appender.h), writes staleness markers like Prometheus, and keeps
 * what /api/v1/targets and /api/v1/metadata show. README.md "## Scrape
 * manager" has the design.
 *
 *     struct col_scrape_manager *m;
 *     col_scrape_manager_create(&(struct col_scrape_opts){ .appendable = store }, &m, &err);
 *     col_scrape_register_api(m, srv);            // before scry_http_server_start
 *     col_scrape_manager_apply_config(m, cfg, &err);
 *     ... reload: col_scrape_manager_apply_config(m, cfg2, &err); then free cfg ...
 *     col_scrape_manager_destroy(m);
 *
 * Lifecycle of the config: the manager borrows the scrape configs it is
 * given (relabel rules with their compiled regexes, auth strings). The
 * caller keeps a config alive until the next apply_config (or destroy)
 * has returned, then may free it: apply_config moves every running loop
 * to the new config before it returns.
 *
 * Thread-safety: every function may be called from any thread; the API
 * handlers run on the HTTP server's threads. */
#ifndef SCRY_COLLECTOR_SCRAPE_H
#define SCRY_COLLECTOR_SCRAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/appender.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/err.h"
#include "core/labels.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/timeparse.h"

struct col_scrape_manager;
struct scry_http_server;

/* What one finished scrape saw, for the debug hook (tests). body is the
 * decoded response body (after gzip), valid only during the call. */
struct col_scrape_event {
    const char *job;
    const struct scry_labels *target; /* the target's labels (no "__" ones) */
    const char *body;
    size_t body_len;
    int64_t t_ms;   /* the scrape timestamp */
    bool up;
    const char *error; /* "" when up */
    uint64_t samples_scraped, samples_post_relabel, series_added;
};

typedef void (*col_scrape_hook_fn)(void *ud, const struct col_scrape_event *ev);

struct col_scrape_opts {
    struct scry_appendable *appendable; /* required; samples go here */
    struct scry_metrics *metrics;       /* self-metrics; NULL: none */
    struct scry_log *log;               /* NULL: silent */
    const struct scry_clock *clock;     /* sample timestamps and phase; NULL: wall clock */
    const char *user_agent;             /* NULL: "scry/<version>" */
    const char *tenant;                 /* passed to begin; NULL: single tenant */
    col_scrape_hook_fn on_scrape;       /* debug hook, called on the scrape thread after
                                         * each scrape is committed, with the manager's
                                         * lock held (do not call the manager from it) */
    void *on_scrape_ud;
};

/* Starts the scrape thread (with no targets). SCRY_EINVAL without an
 * appendable; SCRY_EIO when libcurl cannot be initialised. */
int col_scrape_manager_create(const struct col_scrape_opts *opts, struct col_scrape_manager **out,
                              struct scry_err *err);

/* Makes cfg's scrape_configs the running set. Targets whose job config
 * (everything but service discovery and relabel_configs) and final labels
 * are unchanged keep their loop: schedule, health, ref cache and staleness
 * state. Removed targets get staleness markers for every series they
 * wrote; new targets start at their offset. cfg NULL stops everything.
 * Returns 0 (target errors are shown in the targets API and logged). */
int col_scrape_manager_apply_config(struct col_scrape_manager *m, const struct scry_config *cfg,
                                    struct scry_err *err);

/* Stops the thread and frees everything. Writes no staleness markers, as
 * Prometheus at shutdown. NULL is a no-op. */
void col_scrape_manager_destroy(struct col_scrape_manager *m);

/* Adds GET /api/v1/targets and GET /api/v1/metadata to srv (before start).
 * The manager must outlive the server's handlers (stop the server first). */
void col_scrape_register_api(struct col_scrape_manager *m, struct scry_http_server *srv);

/* Counts of what the manager has done so far (for tests and logs). */
struct col_scrape_stats {
    uint64_t scrapes_ok, scrapes_failed, samples_appended, loops_started, targets;
    double cpu_process_s; /* scrape thread CPU in response processing (parse .. commit) */
    double cpu_thread_s;  /* scrape thread CPU in total (adds curl: I/O, gunzip) */
};
void col_scrape_manager_stats(struct col_scrape_manager *m, struct col_scrape_stats *out);

/* Target labels from one discovered label set, as Prometheus's
 * PopulateLabels: adds job, __scrape_interval__, __scrape_timeout__,
 * __metrics_path__, __scheme__ and __param_<k> where unset, runs
 * relabel_configs, checks __address__ (present, no '/'), the interval and
 * timeout labels, drops __meta_* and defaults instance to __address__.
 * *discovered gets the labels before relabelling, *labels the result
 * (still holding the "__" labels that configure the scrape); labels->n == 0
 * means the target was dropped. All strings live in a. SCRY_EINVAL with a
 * Prometheus-worded message for an invalid target. */
int col_scrape_target_labels(struct scry_arena *a, const struct scry_scrape_config *sc,
                             const struct scry_labels *in, struct scry_labels *discovered,
                             struct scry_labels *labels, struct scry_err *err);

/* The scrape URL of a target (labels from col_scrape_target_labels), as
 * Prometheus's Target.URL(): scheme://address/path?params, with the config's
 * params overridden by __param_* labels, keys sorted. Appended to out. */
void col_scrape_target_url(const struct scry_scrape_config *sc, const struct scry_labels *labels,
                           struct scry_buf *out);

#endif
