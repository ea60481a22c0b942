/* config_http_client.c — the keys of an outgoing HTTP client, shared by
 * scrape_configs (config_scrape.c) and remote_write (config_remote_write.c):
 * basic_auth, authorization, the legacy bearer_token(_file) and tls_config,
 * decoded into a struct scry_http_client_config.
 *
 * The rules are ports of prometheus/common config HTTPClientConfig.Validate
 * (which auth settings exclude which); messages keep Prometheus's wording
 * so users can search for them. The keys sit directly in the section that
 * embeds the client (Prometheus inlines HTTPClientConfig into both), so
 * they are mounted with SCRY__CFG_HTTP_CLIENT_OPTS at the struct's offset
 * rather than as a section of their own. The legacy bearer_token(_file)
 * keys write the same fields as authorization.credentials(_file) and are
 * not dumped, so a dump shows the one modern spelling. */
#include "core/config_internal.h"

#include <string.h>
#include <strings.h>

#define HOFF(field) offsetof(struct scry_http_client_config, field)
#define TOFF(field) offsetof(struct scry_tls_config, field)

static const struct cfg_opt basic_auth_opts[] = {
    { "username", CFG_STRING, HOFF(basic_auth_username), .help = "user name" },
    { "password", CFG_STRING, HOFF(basic_auth_password), .flags = CFG_SECRET,
      .help = "password" },
    { "password_file", CFG_STRING, HOFF(basic_auth_password_file),
      .help = "file holding the password" },
};

const struct cfg_section scry__cfg_basic_auth = {
    "basic_auth", basic_auth_opts, CFG_N(basic_auth_opts), 0, NULL,
};

static const struct cfg_opt authorization_opts[] = {
    { "type", CFG_STRING, HOFF(authorization_type), .help = "scheme, default Bearer" },
    { "credentials", CFG_STRING, HOFF(authorization_credentials), .flags = CFG_SECRET,
      .help = "the secret" },
    { "credentials_file", CFG_STRING, HOFF(authorization_credentials_file),
      .help = "file holding the secret" },
};

const struct cfg_section scry__cfg_authorization = {
    "authorization", authorization_opts, CFG_N(authorization_opts), 0, NULL,
};

static const struct cfg_opt tls_opts[] = {
    { "ca_file", CFG_STRING, TOFF(ca_file), .help = "CA bundle" },
    { "cert_file", CFG_STRING, TOFF(cert_file), .help = "client certificate" },
    { "key_file", CFG_STRING, TOFF(key_file), .help = "client key" },
    { "server_name", CFG_STRING, TOFF(server_name), .help = "SNI / verify name" },
    { "insecure_skip_verify", CFG_BOOL, TOFF(insecure_skip_verify), 0, "false",
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

const struct cfg_section scry__cfg_tls = {
    "tls_config", tls_opts, CFG_N(tls_opts), 0, tls_finish,
};

bool scry__cfg_present(const struct scry_yaml_node *map, const char *key)
{
    const struct scry_yaml_node *n = scry__yaml_get(map, key);
    return n && !scry__yaml_is_null(n);
}

int scry__cfg_http_client_check(struct cfg_ctx *c, struct scry_http_client_config *h,
                                const struct scry_yaml_node *map,
                                const struct scry_yaml_node *at, const char *path)
{
    bool bt = scry__cfg_present(map, "bearer_token");
    bool btf = scry__cfg_present(map, "bearer_token_file");
    bool auth = scry__cfg_present(map, "authorization");
    bool basic = scry__cfg_present(map, "basic_auth");
    if (bt && btf)
        return scry__cfg_fail(c, scry__cfg_at(map, "bearer_token_file", at), path,
                              "at most one of bearer_token & bearer_token_file must be configured");
    if (basic && (bt || btf || auth))
        return scry__cfg_fail(c, scry__cfg_at(map, "basic_auth", at), path,
                              "at most one of basic_auth, bearer_token & bearer_token_file and "
                              "authorization must be configured");
    if (auth && (bt || btf))
        return scry__cfg_fail(c, scry__cfg_at(map, "authorization", at), path,
                              "authorization is not compatible with bearer_token & "
                              "bearer_token_file");
    if (h->basic_auth_password && h->basic_auth_password_file)
        return scry__cfg_fail(c, scry__cfg_at(map, "basic_auth", at), path,
                              "at most one of basic_auth password & password_file must be "
                              "configured");
    if (h->authorization_credentials && h->authorization_credentials_file)
        return scry__cfg_fail(c, scry__cfg_at(map, "authorization", at), path,
                              "at most one of authorization credentials & credentials_file must "
                              "be configured");
    if (h->authorization_type && strcasecmp(h->authorization_type, "basic") == 0)
        return scry__cfg_fail(c, scry__cfg_at(map, "authorization", at), path,
                              "authorization type cannot be set to \"basic\", use \"basic_auth\" "
                              "instead");
    if ((auth || bt || btf) && (!h->authorization_type || !*h->authorization_type))
        h->authorization_type = "Bearer";
    return 0;
}
