/* config.h — scry's configuration: YAML (libyaml) into typed structs.
 *
 * Sections: global, scrape_configs and remote_write (Prometheus-compatible
 * keys), logs, storage, server, tenants. Unknown keys are errors. Every error carries the
 * position of the offending node and reads
 *     scry.yml:12:5: scrape_configs[0].scrape_interval: cannot parse "5x" as a duration
 * (err->file/line/col hold the position, err->msg the rest).
 * Keys are declared in tables (key, type, default, offset, limits, help) in
 * config*.c, so validation and docs come from one place.
 *
 * A null value (`key:` or `key: ~`) means the default. YAML anchors and
 * aliases are rejected (no expansion bombs); duplicate keys are errors.
 * Prometheus scrape keys that change nothing here (follow_redirects,
 * enable_http2, scrape_protocols, enable_compression,
 * track_timestamps_staleness, fallback_scrape_protocol) are accepted and
 * ignored; bearer_token(_file) are read into authorization.
 *
 * A loaded config owns all its memory (one arena); destroy frees it. It is
 * immutable after load: a reload builds a new one and swaps pointers, so a
 * bad new file leaves the old config in force. */
#ifndef SCRY_CORE_CONFIG_H
#define SCRY_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/labels.h"

struct scry_arena;

struct scry_global_config {
    int64_t scrape_interval_ms;     /* default 1m, as Prometheus */
    int64_t scrape_timeout_ms;      /* default 10s; <= scrape_interval */
    int64_t evaluation_interval_ms; /* default 1m */
    struct scry_labels external_labels;
};

enum scry_relabel_action {
    SCRY_RELABEL_REPLACE, SCRY_RELABEL_KEEP, SCRY_RELABEL_DROP, SCRY_RELABEL_KEEPEQUAL,
    SCRY_RELABEL_DROPEQUAL, SCRY_RELABEL_HASHMOD, SCRY_RELABEL_LABELMAP,
    SCRY_RELABEL_LABELDROP, SCRY_RELABEL_LABELKEEP, SCRY_RELABEL_LOWERCASE,
    SCRY_RELABEL_UPPERCASE,
};

struct scry_relabel_config {
    const char **source_labels;
    size_t n_source_labels;
    const char *separator;   /* default ";" */
    const char *regex;       /* source, default "(.*)" */
    void *re;                /* pcre2_code*, anchored ^(?:regex)$, owned by the config */
    uint64_t modulus;        /* default 0; hashmod needs > 0 */
    const char *target_label; /* default NULL (none) */
    const char *replacement; /* default "$1" */
    enum scry_relabel_action action; /* default replace */
};

struct scry_static_config {
    const char **targets; /* HOST:PORT, no scheme or path */
    size_t n_targets;
    struct scry_labels labels;
};

struct scry_file_sd_config {
    const char **files; /* globs */
    size_t n_files;
    int64_t refresh_interval_ms; /* default 5m */
};

struct scry_tls_config {
    const char *ca_file, *cert_file, *key_file, *server_name; /* default NULL */
    bool insecure_skip_verify;                                /* default false */
};

/* An outgoing HTTP client's auth and TLS (Prometheus's HTTPClientConfig),
 * the same keys under scrape_configs and remote_write: basic_auth,
 * authorization, the legacy bearer_token(_file), tls_config. At most one
 * of basic_auth and authorization/bearer_token is set. */
struct scry_http_client_config {
    const char *basic_auth_username, *basic_auth_password, *basic_auth_password_file;
    const char *authorization_type; /* "Bearer" when credentials are set */
    const char *authorization_credentials, *authorization_credentials_file;
    struct scry_tls_config tls;
};

struct scry_scrape_config {
    const char *job_name; /* required, unique */
    int64_t scrape_interval_ms, scrape_timeout_ms; /* default from global */
    const char *metrics_path; /* default "/metrics" */
    const char *scheme;       /* "http" (default) or "https" */
    const struct scry_label *params; /* URL params; a key may repeat */
    size_t n_params;
    bool honor_labels;        /* default false */
    bool honor_timestamps;    /* default true */
    /* default 0 = no limit */
    uint64_t sample_limit, label_limit, label_name_length_limit, label_value_length_limit;
    int64_t body_size_limit_bytes; /* 0 = none */
    struct scry_http_client_config http; /* auth and TLS of the scrapes */
    struct scry_static_config *static_configs;
    size_t n_static_configs;
    struct scry_file_sd_config *file_sd_configs;
    size_t n_file_sd_configs;
    struct scry_relabel_config *relabel_configs;
    size_t n_relabel_configs;
    struct scry_relabel_config *metric_relabel_configs;
    size_t n_metric_relabel_configs;
};

struct scry_logs_config {
    const char **paths; /* globs, required */
    size_t n_paths;
    const char **exclude;
    size_t n_exclude;
    struct scry_labels labels;
    struct scry_relabel_config *relabel_configs;
    size_t n_relabel_configs;
    const char *multiline_firstline; /* start-of-record regex, or NULL */
    void *multiline_re;              /* pcre2_code*, owned */
    int64_t max_line_bytes;          /* default 256 KiB */
};

enum scry_wal_fsync { SCRY_WAL_FSYNC_INTERVAL, SCRY_WAL_FSYNC_ALWAYS, SCRY_WAL_FSYNC_NEVER };

struct scry_storage_config {
    int64_t retention_ms;            /* default 15d */
    int64_t retention_size_bytes;    /* 0 = unlimited */
    enum scry_wal_fsync wal_fsync;   /* default interval */
    int64_t wal_fsync_interval_ms;   /* default 1s, at most 1s */
    int64_t wal_segment_bytes;       /* default 128 MiB */
    int64_t out_of_order_window_ms;  /* default 0 = reject */
    int64_t block_duration_ms;       /* default 2h */
    int64_t logs_retention_ms;       /* default: retention_ms */
};

struct scry_server_config {
    const char *listen;      /* default "127.0.0.1:9090"; flags override */
    const char *otlp_listen; /* default "127.0.0.1:4318" */
    int64_t max_body_bytes;  /* default 32 MiB */
    int64_t query_timeout_ms;        /* default 2m */
    uint64_t query_max_samples;      /* default 50 000 000 */
    uint64_t max_concurrent_queries; /* default 20 */
    int64_t lookback_delta_ms;       /* default 5m */
    bool promql_delayed_name_removal; /* default false, as Prometheus */
    uint64_t query_threads;          /* default 1 = one; 0 = online CPUs (max 16) */
};

struct scry_tenant_override {
    const char *id;
    int64_t retention_ms;            /* 0 = storage default */
    uint64_t max_series;             /* 0 = unlimited */
    uint64_t ingestion_rate_per_s;   /* 0 = unlimited */
};

struct scry_tenants_config {
    bool enabled;             /* default false: single tenant, header ignored */
    const char *header;       /* default "X-Scope-OrgID" */
    const char *default_id;   /* default "anonymous": used when disabled */
    struct scry_tenant_override *overrides;
    size_t n_overrides;
};

/* remote_write queue tuning, Prometheus's queue_config keys and defaults
 * (retry_on_http_429 defaults to true here: dropping on 429 loses data). */
struct scry_queue_config {
    uint64_t capacity;              /* default 10000: samples held in memory per shard */
    uint64_t max_shards;            /* default 50 */
    uint64_t min_shards;            /* default 1 */
    uint64_t max_samples_per_send;  /* default 2000 */
    int64_t batch_send_deadline_ms; /* default 5s */
    int64_t min_backoff_ms;         /* default 30ms */
    int64_t max_backoff_ms;         /* default 5s */
    bool retry_on_http_429;         /* default true */
};

/* One remote_write target (Prometheus's remote_write: list), for the agent. */
struct scry_remote_write_config {
    const char *url;               /* required, http:// or https:// */
    const char *name;              /* default NULL */
    int64_t remote_timeout_ms;     /* default 30s */
    const struct scry_label *headers; /* extra HTTP headers, in file order */
    size_t n_headers;
    struct scry_http_client_config http; /* auth and TLS of the requests */
    struct scry_relabel_config *write_relabel_configs;
    size_t n_write_relabel_configs;
    struct scry_queue_config queue;
};

/* Where `scry agent` forwards tailed lines by Loki push (the logs_push:
 * section; Promtail's client keys). url NULL: not forwarding. */
struct scry_logs_push_config {
    const char *url;          /* http(s)://host:port/loki/api/v1/push */
    const char *tenant_id;    /* X-Scope-OrgID, or NULL */
    int64_t batch_bytes;      /* batchsize, default 1 MiB (uncompressed, per push) */
    int64_t timeout_ms;       /* default 10s */
    int64_t min_backoff_ms;   /* backoff_config.min_period, default 500ms */
    int64_t max_backoff_ms;   /* backoff_config.max_period, default 30s */
};

struct scry_config {
    const char *source; /* file path, or "<default>" for the embedded config */
    struct scry_global_config global;
    struct scry_scrape_config *scrape_configs;
    size_t n_scrape_configs;
    struct scry_logs_config *logs;
    size_t n_logs;
    struct scry_storage_config storage;
    struct scry_server_config server;
    struct scry_tenants_config tenants;
    struct scry_remote_write_config *remote_write; /* used by `scry agent` */
    size_t n_remote_write;
    struct scry_logs_push_config logs_push; /* used by `scry agent` */
    struct scry_arena *arena; /* owns everything above */
};

/* The embedded default: scrape scry's own /metrics every 15 s. */
extern const char scry_config_default_yaml[];

/* Loads and validates. On failure *out is untouched and err has the
 * position and message. name is used in messages (the file path); err->file
 * points at the caller's name/path, which must outlive err. An empty file
 * is the all-defaults config. Files over 16 MiB fail with SCRY_ELIMIT. */
int scry_config_load_file(const char *path, struct scry_config **out, struct scry_err *err);
int scry_config_load_string(const char *name, const char *yaml, size_t len,
                            struct scry_config **out, struct scry_err *err);
void scry_config_destroy(struct scry_config *cfg); /* NULL is a no-op */

/* Writes the effective config back as YAML. Loading the dump gives an equal
 * config, so secrets (passwords, credentials) are written as loaded. */
struct scry_buf;
void scry_config_dump(const struct scry_config *cfg, struct scry_buf *out);
/* The same with secrets written as "<secret>", as Prometheus shows them:
 * use this one for /api/v1/status/config. */
void scry_config_dump_redacted(const struct scry_config *cfg, struct scry_buf *out);

/* Appends one line per key, from the same tables the loader uses:
 * "path<TAB>type<TAB>default<TAB>help", e.g.
 * "scrape_configs[].scrape_interval	duration	default 0	...". For
 * `scry check --keys` and generated docs. */
void scry_config_describe(struct scry_buf *out);

#endif
