/* config_sections.c — the key tables of every section but scrape_configs
 * (config_scrape.c), their cross-key rules, and the embedded default config.
 *
 * A table row is the whole truth about a key: name, type, target field,
 * default (as YAML text, decoded by the same code as user input), limits
 * and a one-line help. The defaults here are the ones config.h documents.
 * Limits follow what the consumers can honour, e.g. wal_fsync_interval is
 * capped at 1s because ARCHITECTURE.md promises an acknowledged write is on
 * disk at most 1s later. */
#include "core/config_internal.h"

#include <stdio.h>
#include <string.h>

#define OFF(type, field) offsetof(struct type, field)

/* ---- global ------------------------------------------------------------ */

static const struct cfg_opt global_opts[] = {
    { "scrape_interval", CFG_DURATION, OFF(scry_global_config, scrape_interval_ms), 0, "1m",
      .help = "how often to scrape targets; 0 means the default, 1m" },
    { "scrape_timeout", CFG_DURATION, OFF(scry_global_config, scrape_timeout_ms), 0, "0",
      .help = "scrape timeout; default 10s, capped at scrape_interval" },
    { "evaluation_interval", CFG_DURATION, OFF(scry_global_config, evaluation_interval_ms), 0,
      "1m", .help = "how often to evaluate rules; 0 means the default, 1m" },
    { "external_labels", CFG_LABELS, OFF(scry_global_config, external_labels),
      .help = "labels added to series and alerts leaving scry" },
    /* Prometheus global keys with no effect in scry; accepted so a pasted
     * prometheus.yml global section loads. */
    { "scrape_protocols", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
};

/* Prometheus GlobalConfig.UnmarshalYAML: a zero interval takes the default,
 * an unset timeout is 10s but never longer than the interval. */
static int global_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                         const struct scry_yaml_node *at, const char *path)
{
    struct scry_global_config *g = obj;
    if (g->scrape_interval_ms == 0)
        g->scrape_interval_ms = 60 * 1000;
    if (g->evaluation_interval_ms == 0)
        g->evaluation_interval_ms = 60 * 1000;
    if (g->scrape_timeout_ms > g->scrape_interval_ms)
        return scry__cfg_fail(c, scry__cfg_at(map, "scrape_timeout", at), "global.scrape_timeout",
                              "global scrape timeout greater than scrape interval");
    if (g->scrape_timeout_ms == 0)
        g->scrape_timeout_ms = g->scrape_interval_ms < 10000 ? g->scrape_interval_ms : 10000;
    return 0;
}

static const struct cfg_section global_section = {
    "global", global_opts, CFG_N(global_opts), sizeof(struct scry_global_config), global_finish,
};

/* ---- logs -------------------------------------------------------------- */

static const struct cfg_opt multiline_opts[] = {
    { "firstline", CFG_REGEX, OFF(scry_logs_config, multiline_firstline),
      OFF(scry_logs_config, multiline_re),
      .help = "a line matching this regex starts a new record; others continue it" },
};

static const struct cfg_section multiline_section = {
    "multiline", multiline_opts, CFG_N(multiline_opts), 0, NULL,
};

static const struct cfg_opt logs_opts[] = {
    { "paths", CFG_STRINGS, OFF(scry_logs_config, paths), OFF(scry_logs_config, n_paths),
      .flags = CFG_REQUIRED, .help = "globs of files to tail (required)" },
    { "exclude", CFG_STRINGS, OFF(scry_logs_config, exclude), OFF(scry_logs_config, n_exclude),
      .help = "globs of files not to tail" },
    { "labels", CFG_LABELS, OFF(scry_logs_config, labels), .help = "labels of the streams" },
    { "relabel_configs", CFG_LIST, OFF(scry_logs_config, relabel_configs),
      OFF(scry_logs_config, n_relabel_configs), .sub = &scry__cfg_relabel,
      .help = "relabelling of stream labels (__path__ holds the file)" },
    { "multiline", CFG_OBJECT, 0, .sub = &multiline_section,
      .help = "join continuation lines (stack traces) into one record" },
    { "max_line_bytes", CFG_BYTES, OFF(scry_logs_config, max_line_bytes), 0, "256KiB", 1,
      .help = "longer lines are truncated" },
};

static int logs_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                       const struct scry_yaml_node *at, const char *path)
{
    const struct scry_logs_config *l = obj;
    if (l->n_paths == 0) {
        char p[256];
        return scry__cfg_fail(c, scry__cfg_at(map, "paths", at),
                              scry__cfg_path(p, sizeof p, path, "paths"), "must not be empty");
    }
    return 0;
}

static const struct cfg_section logs_section = {
    "logs", logs_opts, CFG_N(logs_opts), sizeof(struct scry_logs_config), logs_finish,
};

/* ---- storage ----------------------------------------------------------- */

static const char *const wal_fsync_names[] = { "interval", "always", "never", NULL };
_Static_assert(SCRY_WAL_FSYNC_INTERVAL == 0 && SCRY_WAL_FSYNC_ALWAYS == 1 &&
                   SCRY_WAL_FSYNC_NEVER == 2,
               "wal_fsync_names is indexed by enum scry_wal_fsync");
_Static_assert(sizeof(enum scry_wal_fsync) == sizeof(int), "CFG_ENUM stores an int");

static const struct cfg_opt storage_opts[] = {
    { "retention", CFG_DURATION, OFF(scry_storage_config, retention_ms), 0, "15d", 1,
      .help = "how long samples are kept" },
    { "retention_size", CFG_BYTES, OFF(scry_storage_config, retention_size_bytes), 0, "0",
      .help = "oldest blocks are deleted above this size; 0 = unlimited" },
    { "wal_fsync", CFG_ENUM, OFF(scry_storage_config, wal_fsync), 0, "interval",
      .names = wal_fsync_names, .help = "always: fsync per commit; interval; never" },
    { "wal_fsync_interval", CFG_DURATION, OFF(scry_storage_config, wal_fsync_interval_ms), 0,
      "1s", 1, 1000, .help = "fsync period for wal_fsync: interval; at most 1s" },
    { "wal_segment_size", CFG_BYTES, OFF(scry_storage_config, wal_segment_bytes), 0, "128MiB",
      10 << 20, 256 << 20, .help = "WAL segment file size, 10MiB..256MiB as Prometheus" },
    { "out_of_order_window", CFG_DURATION, OFF(scry_storage_config, out_of_order_window_ms), 0,
      "0", .help = "accept samples this much older than the newest; 0 = reject" },
    { "block_duration", CFG_DURATION, OFF(scry_storage_config, block_duration_ms), 0, "2h", 1,
      .help = "span of the head before it is cut into a block" },
    { "logs_retention", CFG_DURATION, OFF(scry_storage_config, logs_retention_ms), 0, "0",
      .help = "how long log lines are kept; default: retention" },
};

static int storage_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                          const struct scry_yaml_node *at, const char *path)
{
    struct scry_storage_config *s = obj;
    if (s->logs_retention_ms == 0)
        s->logs_retention_ms = s->retention_ms;
    return 0;
}

static const struct cfg_section storage_section = {
    "storage", storage_opts, CFG_N(storage_opts), 0, storage_finish,
};

/* ---- server ------------------------------------------------------------ */

static const struct cfg_opt server_opts[] = {
    { "listen", CFG_STRING, OFF(scry_server_config, listen), 0, "127.0.0.1:9090",
      .check = scry__cfg_check_hostport, .help = "HTTP address (API, ingest, UI)" },
    { "otlp_listen", CFG_STRING, OFF(scry_server_config, otlp_listen), 0, "127.0.0.1:4318",
      .check = scry__cfg_check_hostport, .help = "OTLP/HTTP address" },
    { "max_body_size", CFG_BYTES, OFF(scry_server_config, max_body_bytes), 0, "32MiB", 1,
      .help = "larger request bodies get 413" },
    { "query_timeout", CFG_DURATION, OFF(scry_server_config, query_timeout_ms), 0, "2m", 1,
      .help = "queries running longer are cancelled" },
    { "query_max_samples", CFG_UINT, OFF(scry_server_config, query_max_samples), 0, "50000000",
      1, .help = "samples a query may hold in memory at once" },
    { "max_concurrent_queries", CFG_UINT, OFF(scry_server_config, max_concurrent_queries), 0,
      "20", 1, 100000, .help = "queries running at once; more wait" },
    { "lookback_delta", CFG_DURATION, OFF(scry_server_config, lookback_delta_ms), 0, "5m", 1,
      .help = "how far back an instant query looks for a sample" },
    { "promql_delayed_name_removal", CFG_BOOL, OFF(scry_server_config, promql_delayed_name_removal),
      0, "false", .help = "drop __name__ at the end of a query, not where a value changes" },
    { "query_threads", CFG_UINT, OFF(scry_server_config, query_threads), 0, "1", 0, 16,
      .help = "threads a PromQL query may use, shared by all queries; 0 = online CPUs, 1 = one" },
};

static const struct cfg_section server_section = {
    "server", server_opts, CFG_N(server_opts), 0, NULL,
};

/* ---- tenants ----------------------------------------------------------- */

static const struct cfg_opt override_opts[] = {
    { "id", CFG_STRING, OFF(scry_tenant_override, id), .flags = CFG_REQUIRED,
      .help = "tenant id, as sent in the tenant header" },
    { "retention", CFG_DURATION, OFF(scry_tenant_override, retention_ms), 0, "0",
      .help = "0 = storage.retention" },
    { "max_series", CFG_UINT, OFF(scry_tenant_override, max_series), 0, "0",
      .help = "active series limit; 0 = unlimited" },
    { "ingestion_rate", CFG_UINT, OFF(scry_tenant_override, ingestion_rate_per_s), 0, "0",
      .help = "samples + lines per second; 0 = unlimited" },
};

static int override_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                           const struct scry_yaml_node *at, const char *path)
{
    const struct scry_tenant_override *o = obj;
    char p[256];
    if (!*o->id)
        return scry__cfg_fail(c, scry__cfg_at(map, "id", at), scry__cfg_path(p, sizeof p, path, "id"),
                              "must not be empty");
    /* Earlier overrides sit just before this one in the same array. */
    const struct scry_tenants_config *t = &c->cfg->tenants;
    for (size_t i = 0; t->overrides && &t->overrides[i] < o; i++)
        if (strcmp(t->overrides[i].id, o->id) == 0)
            return scry__cfg_fail(c, scry__cfg_at(map, "id", at),
                                  scry__cfg_path(p, sizeof p, path, "id"),
                                  "duplicate tenant id \"%s\" (also tenants.overrides[%zu])",
                                  o->id, i);
    return 0;
}

static const struct cfg_section override_section = {
    "overrides", override_opts, CFG_N(override_opts), sizeof(struct scry_tenant_override),
    override_finish,
};

static const struct cfg_opt tenants_opts[] = {
    { "enabled", CFG_BOOL, OFF(scry_tenants_config, enabled), 0, "false",
      .help = "multi-tenancy: read the tenant from the header" },
    { "header", CFG_STRING, OFF(scry_tenants_config, header), 0, "X-Scope-OrgID",
      .help = "HTTP header that names the tenant" },
    { "default_id", CFG_STRING, OFF(scry_tenants_config, default_id), 0, "anonymous",
      .help = "tenant of all data when multi-tenancy is off" },
    { "overrides", CFG_LIST, OFF(scry_tenants_config, overrides),
      OFF(scry_tenants_config, n_overrides), .sub = &override_section,
      .help = "per-tenant limits" },
};

static int tenants_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                          const struct scry_yaml_node *at, const char *path)
{
    const struct scry_tenants_config *t = obj;
    if (!*t->header)
        return scry__cfg_fail(c, scry__cfg_at(map, "header", at), "tenants.header",
                              "must not be empty");
    if (!*t->default_id)
        return scry__cfg_fail(c, scry__cfg_at(map, "default_id", at), "tenants.default_id",
                              "must not be empty");
    return 0;
}

static const struct cfg_section tenants_section = {
    "tenants", tenants_opts, CFG_N(tenants_opts), 0, tenants_finish,
};

/* ---- root -------------------------------------------------------------- */

/* job_name is unique across scrape configs (Prometheus: "found multiple
 * scrape configs with job name"). Checked here, once all are decoded. */
static int root_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                       const struct scry_yaml_node *at, const char *path)
{
    const struct scry_config *cfg = obj;
    const struct scry_yaml_node *seq = scry__yaml_get(map, "scrape_configs");
    for (size_t i = 1; i < cfg->n_scrape_configs; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->scrape_configs[i].job_name, cfg->scrape_configs[j].job_name))
                continue;
            char p[64];
            snprintf(p, sizeof p, "scrape_configs[%zu].job_name", i);
            return scry__cfg_fail(c, scry__cfg_at(seq->kids[i], "job_name", at), p,
                                  "duplicate job_name \"%s\" (also scrape_configs[%zu])",
                                  cfg->scrape_configs[i].job_name, j);
        }
    }
    return 0;
}

/* Table order is decode order: global comes before scrape_configs because
 * scrape configs inherit its interval and timeout. */
static const struct cfg_opt root_opts[] = {
    { "global", CFG_OBJECT, OFF(scry_config, global), .sub = &global_section,
      .help = "defaults for scrape configs, external labels" },
    { "scrape_configs", CFG_LIST, OFF(scry_config, scrape_configs),
      OFF(scry_config, n_scrape_configs), .sub = &scry__cfg_scrape,
      .help = "Prometheus-compatible scrape jobs" },
    { "logs", CFG_LIST, OFF(scry_config, logs), OFF(scry_config, n_logs), .sub = &logs_section,
      .help = "log files to tail" },
    { "storage", CFG_OBJECT, OFF(scry_config, storage), .sub = &storage_section,
      .help = "retention, WAL durability, blocks" },
    { "server", CFG_OBJECT, OFF(scry_config, server), .sub = &server_section,
      .help = "listen addresses and query limits" },
    { "tenants", CFG_OBJECT, OFF(scry_config, tenants), .sub = &tenants_section,
      .help = "multi-tenancy and per-tenant limits" },
    { "remote_write", CFG_LIST, OFF(scry_config, remote_write), OFF(scry_config, n_remote_write),
      .sub = &scry__cfg_remote_write, .help = "where `scry agent` forwards samples" },
    { "logs_push", CFG_OBJECT, OFF(scry_config, logs_push), .sub = &scry__cfg_logs_push,
      .help = "where `scry agent` forwards tailed lines (Loki push)" },
};

const struct cfg_section scry__cfg_root = {
    "", root_opts, CFG_N(root_opts), sizeof(struct scry_config), root_finish,
};

/* ---- the embedded default ---------------------------------------------- */

const char scry_config_default_yaml[] =
    "# scry's built-in config, used when no file is given: scrape scry's own\n"
    "# /metrics so a first start already has data to look at.\n"
    "global:\n"
    "  scrape_interval: 15s\n"
    "scrape_configs:\n"
    "  - job_name: scry\n"
    "    static_configs:\n"
    "      - targets: ['127.0.0.1:9090']\n"
    "storage:\n"
    "  retention: 15d\n"
    "  wal_fsync: interval\n"
    "  wal_fsync_interval: 1s\n"
    "server:\n"
    "  listen: 127.0.0.1:9090\n"
    "  otlp_listen: 127.0.0.1:4318\n";
