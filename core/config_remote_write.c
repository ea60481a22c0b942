/* config_remote_write.c — the remote_write: list, Prometheus's keys and
 * defaults, so a remote_write section pasted from a prometheus.yml loads
 * unchanged into `scry agent`.
 *
 * Rules are ports of prometheus/config RemoteWriteConfig.Validate (URL
 * scheme, reserved headers, duplicate targets); messages keep Prometheus's
 * wording where it has one. The HTTP client keys (basic_auth,
 * authorization, bearer_token, tls_config) and their rules are shared with
 * scrape configs: config_http_client.c. */
#include "core/config_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define OFF(type, field) offsetof(struct type, field)
#define WOFF(field) OFF(scry_remote_write_config, field)
#define QOFF(field) OFF(scry_queue_config, field)

static const struct cfg_opt queue_opts[] = {
    { "capacity", CFG_UINT, QOFF(capacity), 0, "10000", 1,
      .help = "pending samples held in memory per shard; more wait on disk" },
    { "max_shards", CFG_UINT, QOFF(max_shards), 0, "50", 1, .help = "upper bound of shards" },
    { "min_shards", CFG_UINT, QOFF(min_shards), 0, "1", 1, .help = "lower bound of shards" },
    { "max_samples_per_send", CFG_UINT, QOFF(max_samples_per_send), 0, "2000", 1,
      .help = "samples per request at most" },
    { "batch_send_deadline", CFG_DURATION, QOFF(batch_send_deadline_ms), 0, "5s", 1,
      .help = "a shard sends a partial batch after this long" },
    { "min_backoff", CFG_DURATION, QOFF(min_backoff_ms), 0, "30ms", 1,
      .help = "first retry delay, doubled on each retry" },
    { "max_backoff", CFG_DURATION, QOFF(max_backoff_ms), 0, "5s", 1,
      .help = "retry delay cap" },
    { "retry_on_http_429", CFG_BOOL, QOFF(retry_on_http_429), 0, "true",
      .help = "retry on 429 (false: drop the batch)" },
    { "sample_age_limit", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
};

static int queue_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                        const struct scry_yaml_node *at, const char *path)
{
    const struct scry_queue_config *q = obj;
    char p[256];
    if (q->min_shards > q->max_shards)
        return scry__cfg_fail(c, scry__cfg_at(map, "min_shards", at),
                              scry__cfg_path(p, sizeof p, path, "min_shards"),
                              "min_shards (%llu) must not exceed max_shards (%llu)",
                              (unsigned long long)q->min_shards,
                              (unsigned long long)q->max_shards);
    if (q->min_backoff_ms > q->max_backoff_ms)
        return scry__cfg_fail(c, scry__cfg_at(map, "min_backoff", at),
                              scry__cfg_path(p, sizeof p, path, "min_backoff"),
                              "min_backoff must not exceed max_backoff");
    return 0;
}

static const struct cfg_section queue_section = {
    "queue_config", queue_opts, CFG_N(queue_opts), 0, queue_finish,
};

static const struct cfg_opt rw_opts[] = {
    { "url", CFG_STRING, WOFF(url), .flags = CFG_REQUIRED,
      .help = "the receiver, e.g. http://host:9090/api/v1/write" },
    { "name", CFG_STRING, WOFF(name), .help = "shown in logs; default none" },
    { "remote_timeout", CFG_DURATION, WOFF(remote_timeout_ms), 0, "30s", 1,
      .help = "timeout of one request" },
    { "headers", CFG_HEADERS, WOFF(headers), WOFF(n_headers),
      .help = "extra HTTP headers (not the protocol's own)" },
    SCRY__CFG_HTTP_CLIENT_OPTS(WOFF(http)),
    { "write_relabel_configs", CFG_LIST, WOFF(write_relabel_configs),
      WOFF(n_write_relabel_configs), .sub = &scry__cfg_relabel,
      .help = "relabelling of each series before it is queued" },
    { "queue_config", CFG_OBJECT, WOFF(queue), .sub = &queue_section,
      .help = "shards, batching and retries" },
    /* Prometheus keys with no effect here: no metadata or exemplars are
     * sent, one HTTP client, no native histograms from scrapes. */
    { "send_exemplars", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
    { "send_native_histograms", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
    { "metadata_config", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
    { "follow_redirects", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
    { "enable_http2", CFG_IGNORED, .help = "ignored (Prometheus compatibility)" },
};

/* Prometheus's reservedHeaders: the protocol and the auth settings own these. */
static const char *const reserved_headers[] = {
    "Authorization", "Host", "Content-Encoding", "Content-Length", "Content-Type",
    "User-Agent", "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
    "Www-Authenticate", "Accept-Encoding", "X-Prometheus-Remote-Write-Version",
    "X-Prometheus-Remote-Read-Version", "Retry-Attempt",
};

static int rw_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                     const struct scry_yaml_node *at, const char *path)
{
    struct scry_remote_write_config *w = obj;
    char p[256];
    const struct scry_yaml_node *un = scry__cfg_at(map, "url", at);
    scry__cfg_path(p, sizeof p, path, "url");
    if (strncmp(w->url, "http://", 7) && strncmp(w->url, "https://", 8))
        return scry__cfg_fail(c, un, p, "unsupported scheme in URL \"%s\" (want http or https)",
                              w->url);
    const char *host = strstr(w->url, "://") + 3;
    if (!*host || *host == '/')
        return scry__cfg_fail(c, un, p, "URL \"%s\" has no host", w->url);
    for (size_t i = 0; i < w->n_headers; i++) {
        for (size_t j = 0; j < CFG_N(reserved_headers); j++) {
            if (strcasecmp(w->headers[i].name, reserved_headers[j]))
                continue;
            char hp[256];
            scry__cfg_path(hp, sizeof hp, path, "headers");
            return scry__cfg_fail(c, scry__cfg_at(map, "headers", at), hp,
                                  "%s is a reserved header. It must not be changed",
                                  w->headers[i].name);
        }
    }
    /* decode_list publishes the array first: earlier targets are visible. */
    for (struct scry_remote_write_config *o = c->cfg->remote_write; o && o < w; o++)
        if (strcmp(o->url, w->url) == 0)
            return scry__cfg_fail(c, un, p,
                                  "duplicate remote write configs are not allowed, found "
                                  "duplicate for URL: %s",
                                  w->url);
    return scry__cfg_http_client_check(c, &w->http, map, at, path);
}

const struct cfg_section scry__cfg_remote_write = {
    "remote_write", rw_opts, CFG_N(rw_opts), sizeof(struct scry_remote_write_config), rw_finish,
};
