/* config_remote_write.c — the remote_write: list, Prometheus's keys and
 * defaults, so a remote_write section pasted from a prometheus.yml loads
 * unchanged into `scry agent`.
 *
 * Rules are ports of prometheus/config RemoteWriteConfig.Validate (URL
 * scheme, reserved headers, duplicate targets) and of the HTTP client's
 * auth exclusions; messages keep Prometheus's wording where it has one.
 * basic_auth and authorization are nested in YAML but flat in struct
 * scry_remote_write_config, as in scrape configs: their tables use offsets
 * into the remote_write config and are mounted at offset 0. */
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

static const struct cfg_opt basic_auth_opts[] = {
    { "username", CFG_STRING, WOFF(basic_auth_username), .help = "user name" },
    { "password", CFG_STRING, WOFF(basic_auth_password), .flags = CFG_SECRET,
      .help = "password" },
    { "password_file", CFG_STRING, WOFF(basic_auth_password_file),
      .help = "file holding the password" },
};

static const struct cfg_section basic_auth_section = {
    "basic_auth", basic_auth_opts, CFG_N(basic_auth_opts), 0, NULL,
};

static const struct cfg_opt authorization_opts[] = {
    { "type", CFG_STRING, WOFF(authorization_type), .help = "scheme, default Bearer" },
    { "credentials", CFG_STRING, WOFF(authorization_credentials), .flags = CFG_SECRET,
      .help = "the secret" },
    { "credentials_file", CFG_STRING, WOFF(authorization_credentials_file),
      .help = "file holding the secret" },
};

static const struct cfg_section authorization_section = {
    "authorization", authorization_opts, CFG_N(authorization_opts), 0, NULL,
};

static const struct cfg_opt tls_opts[] = {
    { "ca_file", CFG_STRING, OFF(scry_tls_config, ca_file), .help = "CA bundle" },
    { "cert_file", CFG_STRING, OFF(scry_tls_config, cert_file), .help = "client certificate" },
    { "key_file", CFG_STRING, OFF(scry_tls_config, key_file), .help = "client key" },
    { "server_name", CFG_STRING, OFF(scry_tls_config, server_name), .help = "SNI / verify name" },
    { "insecure_skip_verify", CFG_BOOL, OFF(scry_tls_config, insecure_skip_verify), 0, "false",
      .help = "do not verify the server certificate" },
};

static int tls_finish(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                      const struct scry_yaml_node *at, const char *path)
{
    const struct scry_tls_config *t = obj;
    if (!t->cert_file != !t->key_file)
        return scry__cfg_fail(c, at, path, "cert_file and key_file must be set together");
    return 0;
}

static const struct cfg_section tls_section = {
    "tls_config", tls_opts, CFG_N(tls_opts), 0, tls_finish,
};

static const struct cfg_opt rw_opts[] = {
    { "url", CFG_STRING, WOFF(url), .flags = CFG_REQUIRED,
      .help = "the receiver, e.g. http://host:9090/api/v1/write" },
    { "name", CFG_STRING, WOFF(name), .help = "shown in logs; default none" },
    { "remote_timeout", CFG_DURATION, WOFF(remote_timeout_ms), 0, "30s", 1,
      .help = "timeout of one request" },
    { "headers", CFG_HEADERS, WOFF(headers), WOFF(n_headers),
      .help = "extra HTTP headers (not the protocol's own)" },
    { "basic_auth", CFG_OBJECT, 0, .sub = &basic_auth_section, .help = "HTTP basic auth" },
    { "authorization", CFG_OBJECT, 0, .sub = &authorization_section,
      .help = "Authorization header" },
    { "bearer_token", CFG_STRING, WOFF(authorization_credentials), .flags = CFG_NODUMP,
      .help = "legacy: authorization.credentials" },
    { "bearer_token_file", CFG_STRING, WOFF(authorization_credentials_file),
      .flags = CFG_NODUMP, .help = "legacy: authorization.credentials_file" },
    { "tls_config", CFG_OBJECT, WOFF(tls), .sub = &tls_section, .help = "TLS client settings" },
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

static bool present(const struct scry_yaml_node *map, const char *key)
{
    const struct scry_yaml_node *n = scry__yaml_get(map, key);
    return n && !scry__yaml_is_null(n);
}

static int check_auth(struct cfg_ctx *c, struct scry_remote_write_config *w,
                      const struct scry_yaml_node *map, const struct scry_yaml_node *at,
                      const char *path)
{
    bool tok = present(map, "bearer_token") || present(map, "bearer_token_file");
    bool auth = present(map, "authorization"), basic = present(map, "basic_auth");
    if (present(map, "bearer_token") && present(map, "bearer_token_file"))
        return scry__cfg_fail(c, scry__cfg_at(map, "bearer_token_file", at), path,
                              "at most one of bearer_token & bearer_token_file must be configured");
    if (basic + tok + auth > 1)
        return scry__cfg_fail(c, scry__cfg_at(map, basic ? "basic_auth" : "authorization", at),
                              path,
                              "at most one of basic_auth, bearer_token & bearer_token_file and "
                              "authorization must be configured");
    if (w->basic_auth_password && w->basic_auth_password_file)
        return scry__cfg_fail(c, scry__cfg_at(map, "basic_auth", at), path,
                              "at most one of basic_auth password & password_file must be "
                              "configured");
    if (w->authorization_credentials && w->authorization_credentials_file)
        return scry__cfg_fail(c, scry__cfg_at(map, "authorization", at), path,
                              "at most one of authorization credentials & credentials_file must "
                              "be configured");
    if (w->authorization_type && strcasecmp(w->authorization_type, "basic") == 0)
        return scry__cfg_fail(c, scry__cfg_at(map, "authorization", at), path,
                              "authorization type cannot be set to \"basic\", use \"basic_auth\" "
                              "instead");
    if ((auth || tok) && (!w->authorization_type || !*w->authorization_type))
        w->authorization_type = "Bearer";
    return 0;
}

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
    return check_auth(c, w, map, at, path);
}

const struct cfg_section scry__cfg_remote_write = {
    "remote_write", rw_opts, CFG_N(rw_opts), sizeof(struct scry_remote_write_config), rw_finish,
};
