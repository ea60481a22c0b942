/* scrape_internal.h — shared by the scrape_*.c, file_sd.c and metadata.c
 * files only (prefix col__). See README.md "## Scrape manager". */
#ifndef SCRY_COLLECTOR_SCRAPE_INTERNAL_H
#define SCRY_COLLECTOR_SCRAPE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "collector/expfmt.h"
#include "collector/http_tls.h"
#include "collector/relabel.h"
#include "collector/scrape.h"

/* ---- target groups and file_sd (file_sd.c) -------------------------------- */

struct col__tgroup {
    const char **targets;
    size_t n_targets;
    struct scry_labels labels; /* sorted, includes __meta_filepath for file_sd */
};

/* Parses a file_sd file ([{"targets": [...], "labels": {...}}, ...]) as
 * YAML (yaml true) or JSON into groups allocated from a. path is used in
 * messages and as __meta_filepath. SCRY_EPARSE/SCRY_EINVAL with the reason. */
int col__file_sd_parse(struct scry_arena *a, const char *path, const char *data, size_t len,
                       bool yaml, struct col__tgroup **out, size_t *n, struct scry_err *err);

struct col__file_sd; /* one file_sd_config: its files, their stamps and groups */
struct col__file_sd *col__file_sd_create(const struct scry_file_sd_config *cfg);
void col__file_sd_destroy(struct col__file_sd *fs);
/* Re-globs and re-reads files whose mtime, size or inode changed (a file
 * that fails to read keeps its last good groups; errors are logged once per
 * change). Returns true when the groups changed (always on the first call). */
bool col__file_sd_refresh(struct col__file_sd *fs, struct scry_log *log, const char *job);
/* The current groups of every file, valid until the next refresh. */
size_t col__file_sd_groups(const struct col__file_sd *fs, const struct col__tgroup **out,
                           size_t i_file);
size_t col__file_sd_n_files(const struct col__file_sd *fs);

/* ---- metadata (metadata.c) ---------------------------------------------- */

struct col__meta_entry {
    char *name; /* family; help and unit live in the same block when set */
    char *help, *unit;
    enum col_metric_type type;
    uint32_t seen;
    uint64_t hash;
};

struct col__meta {
    struct col__meta_entry *v;
    size_t n, cap;
    uint32_t *idx; /* open addressing into v, (index + 1), 0 empty */
    size_t idx_cap;
    char *scratch;
    size_t scratch_cap;
};

void col__meta_init(struct col__meta *md);
void col__meta_fini(struct col__meta *md);
/* Records the TYPE, HELP or UNIT entry the parser stands on. */
void col__meta_update(struct col__meta *md, const struct col_expfmt_parser *p, int kind,
                      uint32_t iter);
/* Drops families not seen in scrape iter (after a successful scrape). */
void col__meta_sweep(struct col__meta *md, uint32_t iter);

/* ---- series cache and staleness (scrape_stale.c) ------------------------ */

#define COL__STALE_NAN_BITS 0x7ff0000000000002ULL

struct col__series {
    uint64_t key;   /* xxh64 of the series text */
    uint64_t ref;   /* the store's ref */
    uint32_t seen;  /* last scrape iteration that had this series */
    uint32_t text_len;
    bool dropped;   /* metric_relabel_configs dropped it */
    bool in_prev;   /* it was in the last successful scrape */
    char *blob;     /* text, then the label array and strings (one malloc) */
    struct scry_labels lset;
};

struct col__cache {
    struct col__series *v;
    size_t n, cap;
    uint32_t *idx; /* open addressing, (index + 1), 0 empty; cap a power of two */
    size_t idx_cap;
};

void col__cache_fini(struct col__cache *c);
struct col__series *col__cache_get(struct col__cache *c, uint64_t key, const char *text,
                                   size_t len);
/* Adds an entry owning a copy of text and lset (valid sorted labels). */
struct col__series *col__cache_add(struct col__cache *c, uint64_t key, const char *text,
                                   size_t len, const struct scry_labels *lset, bool dropped);
/* After a successful scrape iter: appends a staleness marker at t_ms for each
 * series of the previous scrape missing from this one, drops those entries.
 * Returns the number of markers, or a negative SCRY_E* code (store error). */
int col__cache_end_scrape(struct col__cache *c, struct scry_appender *app, uint32_t iter,
                          int64_t t_ms, struct scry_err *err);
/* After a failed scrape (or at target removal): marks every series of the
 * last successful scrape stale at t_ms and empties the cache. */
int col__cache_stale_all(struct col__cache *c, struct scry_appender *app, int64_t t_ms,
                         struct scry_err *err);
double col__stale_nan(void);
bool col__is_stale_nan(double v);

/* ---- targets and pools (scrape_manager.c, scrape_loop.c) ---------------- */

enum col__health { COL__UNKNOWN, COL__UP, COL__DOWN };

#define COL__N_REPORT 5

struct col__pool;

struct col__target {
    struct col__pool *pool;
    struct scry_arena *a;              /* labels, url */
    struct scry_labels discovered;     /* before relabelling */
    struct scry_labels labels;         /* after, with the "__" ones */
    struct scry_labels pub;            /* after, without "__": added to every sample */
    const char *url;
    uint64_t hash;                     /* of labels and url: identity and phase */
    int64_t interval_ms, timeout_ms;

    /* Owned by the scrape thread. */
    double next_s;                     /* monotonic time of the next scrape */
    CURL *easy;
    struct curl_slist *hdrs;
    struct col__tls_route route;       /* tls_config.server_name, made with easy */
    bool in_flight;
    struct scry_buf body;
    size_t body_limit;
    bool body_over;
    char curl_err[CURL_ERROR_SIZE];
    int64_t t_ms;                      /* timestamp of the scrape in flight */
    double start_s;
    struct col__cache cache;
    struct col__meta meta;
    uint32_t iter;
    uint64_t report_ref[COL__N_REPORT];
    struct scry_labels report_ls[COL__N_REPORT]; /* up, scrape_duration_seconds, ... */
    bool reported;
    struct col_relabel_ctx mrc;        /* metric_relabel_configs */
    struct scry_arena *scratch;
    struct scry_labels_builder lb;
    struct scry_buf tmp;

    /* Read by the API under the manager's lock. */
    enum col__health health;
    char last_error[256];
    int64_t last_scrape_ms;
    double last_duration_s;
    uint64_t n_scrapes;
    bool dead;                         /* removed: the scrape thread frees it */
    bool stale_on_reap;                /* ... after writing staleness markers */
};

/* Scrapes: set up a request, and process a finished one (scrape_loop.c). */
int col__loop_start(struct col_scrape_manager *m, struct col__target *t, int64_t now_ms,
                    double now_s);
void col__loop_finish(struct col_scrape_manager *m, struct col__target *t, CURLcode rc);
/* Marks everything the target wrote stale (removal). */
void col__loop_stale_all(struct col_scrape_manager *m, struct col__target *t, int64_t t_ms);
void col__target_free(struct col__target *t);

/* What the loop needs from the manager. */
const struct scry_scrape_config *col__target_cfg(const struct col__target *t);
const struct col_scrape_opts *col__manager_opts(const struct col_scrape_manager *m);
void col__manager_count(struct col_scrape_manager *m, bool ok, uint64_t appended);
void col__manager_log_failure(struct col_scrape_manager *m, const struct col__target *t,
                              const char *msg, int64_t now_ms);

/* For the API (scrape_api.c): walks pools and targets under the lock. */
struct col__api_visit {
    void (*pool)(void *ud, const char *job, size_t n_dropped);
    void (*target)(void *ud, const struct col__target *t, const struct scry_scrape_config *sc);
    void (*dropped)(void *ud, const char *job, const struct scry_labels *discovered);
};
void col__manager_visit(struct col_scrape_manager *m, const struct col__api_visit *v, void *ud);

#endif
