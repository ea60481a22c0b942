/* config_logs_push.c — the logs_push: section: where `scry agent` sends the
 * lines it tails, by Loki push. Keys are Promtail's client keys (url,
 * tenant_id, batchsize, timeout, backoff_config), so a Promtail `clients:`
 * entry pastes in; keys whose behaviour differs are accepted and ignored,
 * and say why in their help. */
#include "core/config_internal.h"

#include <string.h>

#define OFF(type, field) offsetof(struct type, field)
#define LOFF(field) OFF(scry_logs_push_config, field)

static const struct cfg_opt backoff_opts[] = {
    { "min_period", CFG_DURATION, LOFF(min_backoff_ms), 0, "500ms", 1,
      .help = "first retry delay, doubled on each retry" },
    { "max_period", CFG_DURATION, LOFF(max_backoff_ms), 0, "30s", 1, .help = "retry delay cap" },
    { "max_retries", CFG_IGNORED,
      .help = "ignored: the agent retries until delivered (the files wait meanwhile)" },
};

static const struct cfg_section backoff_section = {
    "backoff_config", backoff_opts, CFG_N(backoff_opts), 0, NULL,
};

static const struct cfg_opt push_opts[] = {
    { "url", CFG_STRING, LOFF(url),
      .help = "the Loki push endpoint, e.g. http://host:9090/loki/api/v1/push" },
    { "tenant_id", CFG_STRING, LOFF(tenant_id), .help = "sent as X-Scope-OrgID" },
    { "batchsize", CFG_BYTES, LOFF(batch_bytes), 0, "1MiB", 1024,
      .help = "uncompressed bytes per push at most" },
    { "batchwait", CFG_IGNORED,
      .help = "ignored: lines go out after each tail round (at most ~1 s after written)" },
    { "timeout", CFG_DURATION, LOFF(timeout_ms), 0, "10s", 1, .help = "timeout of one request" },
    { "backoff_config", CFG_OBJECT, 0, .sub = &backoff_section, .help = "retry delays" },
};

static int push_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                       const struct scry_yaml_node *at, const char *path)
{
    struct scry_logs_push_config *l = obj;
    char p[256];
    if (!map)
        return 0; /* absent: not forwarding */
    if (l->min_backoff_ms > l->max_backoff_ms)
        return scry__cfg_fail(c, scry__cfg_at(map, "backoff_config", at), path,
                              "backoff_config.min_period must not exceed max_period");
    if (!l->url)
        return 0; /* `scry agent --logs-url` gives it */
    const struct scry_yaml_node *un = scry__cfg_at(map, "url", at);
    scry__cfg_path(p, sizeof p, path, "url");
    if (strncmp(l->url, "http://", 7) && strncmp(l->url, "https://", 8))
        return scry__cfg_fail(c, un, p, "unsupported scheme in URL \"%s\" (want http or https)",
                              l->url);
    const char *host = strstr(l->url, "://") + 3;
    if (!*host || *host == '/')
        return scry__cfg_fail(c, un, p, "URL \"%s\" has no host", l->url);
    return 0;
}

const struct cfg_section scry__cfg_logs_push = {
    "logs_push", push_opts, CFG_N(push_opts), 0, push_finish,
};
