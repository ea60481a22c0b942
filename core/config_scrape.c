/* config_scrape.c — scrape_configs and relabel_configs: Prometheus's keys,
 * defaults and validation rules, so a scrape_configs section pasted from a
 * prometheus.yml loads unchanged and means the same thing.
 *
 * The rules are ports of prometheus/config (ScrapeConfig.Validate,
 * GlobalConfig) and prometheus/model/relabel (Config.Validate); messages
 * keep Prometheus's wording where it has one, so users can search for them.
 * The HTTP client keys (basic_auth, authorization, bearer_token, tls_config)
 * and their rules are shared with remote_write: config_http_client.c. */
#include "core/config_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define OFF(type, field) offsetof(struct type, field)
#define SOFF(field) OFF(scry_scrape_config, field)
#define ROFF(field) OFF(scry_relabel_config, field)

/* ---- relabel_configs --------------------------------------------------- */

const char *const scry__cfg_relabel_actions[] = {
    "replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap",
    "labeldrop", "labelkeep", "lowercase", "uppercase", NULL,
};
_Static_assert(SCRY_RELABEL_REPLACE == 0 && SCRY_RELABEL_UPPERCASE == 10,
               "scry__cfg_relabel_actions is indexed by enum scry_relabel_action");
_Static_assert(sizeof(enum scry_relabel_action) == sizeof(int), "CFG_ENUM stores an int");

static const struct cfg_opt relabel_opts[] = {
    { "source_labels", CFG_STRINGS, ROFF(source_labels), ROFF(n_source_labels),
      .check = scry__cfg_check_label_name, .help = "labels whose values are joined" },
    { "separator", CFG_STRING, ROFF(separator), 0, ";", .help = "joins source label values" },
    { "regex", CFG_REGEX, ROFF(regex), ROFF(re), "(.*)",
      .help = "matched (anchored) against the joined value" },
    { "modulus", CFG_UINT, ROFF(modulus), 0, "0", .help = "for hashmod" },
    { "target_label", CFG_STRING, ROFF(target_label), .help = "label to write" },
    { "replacement", CFG_STRING, ROFF(replacement), 0, "$1",
      .help = "value written; $1, ${name} refer to regex groups" },
    { "action", CFG_ENUM, ROFF(action), 0, "replace", .names = scry__cfg_relabel_actions,
      .flags = CFG_ICASE, .help = "what to do on a match" },
};

/* Prometheus's relabelTarget: ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$ —
 * label-name characters and $1 / ${name} references, not starting with a
 * digit. */
static bool relabel_target_ok(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return false;
    while (*s) {
        if (*s == '$') {
            s++;
            bool brace = *s == '{';
            s += brace;
            const char *w = s;
            while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                   (*s >= '0' && *s <= '9') || *s == '_')
                s++;
            if (s == w || (brace && *s++ != '}'))
                return false;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                   (*s >= '0' && *s <= '9') || *s == '_') {
            s++;
        } else {
            return false;
        }
    }
    return true;
}

static int relabel_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                          const struct scry_yaml_node *at, const char *path)
{
    const struct scry_relabel_config *r = obj;
    const char *act = scry__cfg_relabel_actions[r->action];
    const char *tl = r->target_label ? r->target_label : "";
    enum scry_relabel_action a = r->action;
    const struct scry_yaml_node *an = scry__cfg_at(map, "action", at);
    const struct scry_yaml_node *tn = scry__cfg_at(map, "target_label", an);
    bool needs_target = a == SCRY_RELABEL_REPLACE || a == SCRY_RELABEL_HASHMOD ||
                        a == SCRY_RELABEL_LOWERCASE || a == SCRY_RELABEL_UPPERCASE ||
                        a == SCRY_RELABEL_KEEPEQUAL || a == SCRY_RELABEL_DROPEQUAL;
    bool plain_target = a == SCRY_RELABEL_LOWERCASE || a == SCRY_RELABEL_UPPERCASE ||
                        a == SCRY_RELABEL_KEEPEQUAL || a == SCRY_RELABEL_DROPEQUAL ||
                        a == SCRY_RELABEL_HASHMOD;
    bool default_repl = strcmp(r->replacement, "$1") == 0;

    if (a == SCRY_RELABEL_HASHMOD && r->modulus == 0)
        return scry__cfg_fail(c, scry__cfg_at(map, "modulus", an), path,
                              "relabel configuration for hashmod requires non-zero modulus");
    if (needs_target && !*tl)
        return scry__cfg_fail(c, an, path,
                              "relabel configuration for %s action requires 'target_label' value",
                              act);
    /* replace may build the target name from regex groups ("${1}_total"). */
    bool target_ok = strchr(tl, '$') ? relabel_target_ok(tl) : scry__cfg_label_name_ok(tl);
    if (a == SCRY_RELABEL_REPLACE && !target_ok)
        return scry__cfg_fail(c, tn, path, "\"%s\" is invalid 'target_label' for %s action", tl,
                              act);
    if (plain_target && !scry__cfg_label_name_ok(tl))
        return scry__cfg_fail(c, tn, path, "\"%s\" is invalid 'target_label' for %s action", tl,
                              act);
    if ((a == SCRY_RELABEL_LOWERCASE || a == SCRY_RELABEL_UPPERCASE) && !default_repl)
        return scry__cfg_fail(c, scry__cfg_at(map, "replacement", an), path,
                              "'replacement' can not be set for %s action", act);
    if (a == SCRY_RELABEL_LABELMAP && !relabel_target_ok(r->replacement))
        return scry__cfg_fail(c, scry__cfg_at(map, "replacement", an), path,
                              "\"%s\" is invalid 'replacement' for %s action", r->replacement,
                              act);
    if ((a == SCRY_RELABEL_KEEPEQUAL || a == SCRY_RELABEL_DROPEQUAL) &&
        (strcmp(r->regex, "(.*)") || r->modulus || strcmp(r->separator, ";") || !default_repl))
        return scry__cfg_fail(c, an, path,
                              "%s action requires only 'source_labels' and `target_label`, and no "
                              "other fields",
                              act);
    if ((a == SCRY_RELABEL_LABELDROP || a == SCRY_RELABEL_LABELKEEP) &&
        (r->n_source_labels || *tl || r->modulus || strcmp(r->separator, ";") || !default_repl))
        return scry__cfg_fail(c, an, path,
                              "%s action requires only 'regex', and no other fields", act);
    return 0;
}

const struct cfg_section scry__cfg_relabel = {
    "relabel_configs", relabel_opts, CFG_N(relabel_opts), sizeof(struct scry_relabel_config),
    relabel_finish,
};

/* ---- static_configs, file_sd_configs ----------------------------------- */

/* Prometheus CheckTargetAddress: a scheme or path in a target is a mistake. */
static int check_target(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                        const char *v)
{
    if (!*v || strchr(v, '/'))
        return scry__cfg_fail(c, n, path, "\"%s\" is not a valid hostname", v);
    return 0;
}

static const struct cfg_opt static_opts[] = {
    { "targets", CFG_STRINGS, OFF(scry_static_config, targets),
      OFF(scry_static_config, n_targets), .check = check_target, .help = "HOST:PORT list" },
    { "labels", CFG_LABELS, OFF(scry_static_config, labels),
      .help = "labels of every target in this group" },
};

static const struct cfg_section static_section = {
    "static_configs", static_opts, CFG_N(static_opts), sizeof(struct scry_static_config), NULL,
};

/* Prometheus file SD: ^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$ */
static int check_sd_file(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                         const char *v)
{
    static const char *const exts[] = { ".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML" };
    const char *star = strchr(v, '*');
    bool ok = !star || (!strchr(star + 1, '*') && !strchr(star, '/'));
    const char *dot = strrchr(v, '.');
    bool ext = false;
    for (size_t i = 0; dot && i < CFG_N(exts); i++)
        ext |= strcmp(dot, exts[i]) == 0;
    if (!ok || !ext)
        return scry__cfg_fail(c, n, path, "path name \"%s\" is not valid for file discovery", v);
    return 0;
}

static const struct cfg_opt file_sd_opts[] = {
    { "files", CFG_STRINGS, OFF(scry_file_sd_config, files), OFF(scry_file_sd_config, n_files),
      .check = check_sd_file, .flags = CFG_REQUIRED, .help = "*.json / *.yml target files" },
    { "refresh_interval", CFG_DURATION, OFF(scry_file_sd_config, refresh_interval_ms), 0, "5m",
      1, .help = "re-read period (changes are also watched)" },
};

static int file_sd_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                          const struct scry_yaml_node *at, const char *path)
{
    const struct scry_file_sd_config *f = obj;
    if (f->n_files == 0)
        return scry__cfg_fail(c, scry__cfg_at(map, "files", at), path,
                              "file service discovery config must contain at least one path "
                              "name");
    return 0;
}

static const struct cfg_section file_sd_section = {
    "file_sd_configs", file_sd_opts, CFG_N(file_sd_opts), sizeof(struct scry_file_sd_config),
    file_sd_finish,
};

/* ---- scrape_configs ---------------------------------------------------- */

static const char *const schemes[] = { "http", "https", NULL };

static const struct cfg_opt scrape_opts[] = {
    { "job_name", CFG_STRING, SOFF(job_name), .flags = CFG_REQUIRED,
      .help = "the job label; unique" },
    { "scrape_interval", CFG_DURATION, SOFF(scrape_interval_ms), 0, "0",
      .help = "default global.scrape_interval" },
    { "scrape_timeout", CFG_DURATION, SOFF(scrape_timeout_ms), 0, "0",
      .help = "default global.scrape_timeout, at most scrape_interval" },
    { "metrics_path", CFG_STRING, SOFF(metrics_path), 0, "/metrics", .help = "URL path" },
    { "scheme", CFG_STRING, SOFF(scheme), 0, "http", .names = schemes, .help = "http or https" },
    { "params", CFG_PARAMS, SOFF(params), SOFF(n_params), .help = "URL query parameters" },
    { "honor_labels", CFG_BOOL, SOFF(honor_labels), 0, "false",
      .help = "on a clash, keep the scraped label instead of renaming it exported_*" },
    { "honor_timestamps", CFG_BOOL, SOFF(honor_timestamps), 0, "true",
      .help = "use timestamps the target exposes" },
    { "sample_limit", CFG_UINT, SOFF(sample_limit), 0, "0", .help = "0 = no limit" },
    { "label_limit", CFG_UINT, SOFF(label_limit), 0, "0", .help = "0 = no limit" },
    { "label_name_length_limit", CFG_UINT, SOFF(label_name_length_limit), 0, "0",
      .help = "0 = no limit" },
    { "label_value_length_limit", CFG_UINT, SOFF(label_value_length_limit), 0, "0",
      .help = "0 = no limit" },
    { "body_size_limit", CFG_BYTES, SOFF(body_size_limit_bytes), 0, "0",
      .help = "uncompressed body limit; 0 = none" },
    SCRY__CFG_HTTP_CLIENT_OPTS(SOFF(http)),
    { "static_configs", CFG_LIST, SOFF(static_configs), SOFF(n_static_configs),
      .sub = &static_section, .help = "fixed target groups" },
    { "file_sd_configs", CFG_LIST, SOFF(file_sd_configs), SOFF(n_file_sd_configs),
      .sub = &file_sd_section, .help = "targets from JSON/YAML files" },
    { "relabel_configs", CFG_LIST, SOFF(relabel_configs), SOFF(n_relabel_configs),
      .sub = &scry__cfg_relabel, .help = "target relabelling, before the scrape" },
    { "metric_relabel_configs", CFG_LIST, SOFF(metric_relabel_configs),
      SOFF(n_metric_relabel_configs), .sub = &scry__cfg_relabel,
      .help = "sample relabelling, after the scrape" },
    /* Prometheus keys that change nothing in scry (one HTTP client, text and
     * OpenMetrics negotiated by Accept, no redirects policy, no staleness
     * tracking of explicit timestamps). Accepted so a pasted job loads. */
    { "follow_redirects", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
    { "enable_http2", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
    { "scrape_protocols", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
    { "enable_compression", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
    { "track_timestamps_staleness", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
    { "fallback_scrape_protocol", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
};

/* Prometheus ScrapeConfig.Validate: inherit from global, timeout <= interval. */
static int scrape_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                         const struct scry_yaml_node *at, const char *path)
{
    struct scry_scrape_config *s = obj;
    const struct scry_global_config *g = &c->cfg->global;
    char p[256];
    if (!*s->job_name)
        return scry__cfg_fail(c, scry__cfg_at(map, "job_name", at),
                              scry__cfg_path(p, sizeof p, path, "job_name"), "job_name is empty");
    if (s->scrape_interval_ms == 0)
        s->scrape_interval_ms = g->scrape_interval_ms;
    if (s->scrape_timeout_ms == 0)
        s->scrape_timeout_ms = g->scrape_timeout_ms > s->scrape_interval_ms
                                   ? s->scrape_interval_ms
                                   : g->scrape_timeout_ms;
    if (s->scrape_timeout_ms > s->scrape_interval_ms)
        return scry__cfg_fail(c, scry__cfg_at(map, "scrape_timeout", at),
                              scry__cfg_path(p, sizeof p, path, "scrape_timeout"),
                              "scrape timeout greater than scrape interval for scrape config "
                              "with job name \"%s\"",
                              s->job_name);
    return scry__cfg_http_client_check(c, &s->http, map, at, path);
}

const struct cfg_section scry__cfg_scrape = {
    "scrape_configs", scrape_opts, CFG_N(scrape_opts), sizeof(struct scry_scrape_config),
    scrape_finish,
};
