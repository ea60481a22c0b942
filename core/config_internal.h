/* config_internal.h — the table-driven decoder shared by config*.c.
 *
 * Every section of the config is described by one struct cfg_section: its
 * keys (struct cfg_opt: key, type, offsetof target, default, limits, help)
 * and an optional finish hook for rules that span keys. The same tables
 * drive decoding (config.c), defaults, and the YAML dump (config_dump.c), so
 * a key added to a table is parsed, defaulted, validated and dumped without
 * touching anything else (STYLE.md §14, after fluent-bit's flb_config_map). */
#ifndef SCRY_CORE_CONFIG_INTERNAL_H
#define SCRY_CORE_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/yaml.h"

enum cfg_type {
    CFG_STRING,   /* const char *; .names limits it to a set of values */
    CFG_BOOL,     /* bool */
    CFG_INT,      /* int64_t, >= .min (default 0), <= .max when .max != 0 */
    CFG_UINT,     /* uint64_t, same limits */
    CFG_DURATION, /* int64_t ms, Prometheus duration syntax */
    CFG_BYTES,    /* int64_t bytes, "512MiB" */
    CFG_ENUM,     /* int; .names[i] is the spelling of value i */
    CFG_STRINGS,  /* const char ** at .off, size_t count at .off_n */
    CFG_LABELS,   /* struct scry_labels, names checked, sorted by name */
    CFG_PARAMS,   /* map of string -> list of strings, flattened into a
                   * const struct scry_label * at .off, count at .off_n */
    CFG_OBJECT,   /* a nested mapping decoded by .sub into base + .off */
    CFG_LIST,     /* a sequence of .sub objects (.sub->size bytes each) */
    CFG_REGEX,    /* source const char * at .off, pcre2_code * at .off_n */
    CFG_IGNORED,  /* accepted for Prometheus compatibility, has no effect */
    CFG_HEADERS,  /* map of string -> string (HTTP headers), as a const struct
                   * scry_label * at .off, count at .off_n, in file order */
};

enum {
    CFG_REQUIRED = 1 << 0, /* the key must be present and not null */
    CFG_NODUMP = 1 << 1,   /* a legacy alias: decoded, never written back */
    CFG_ICASE = 1 << 2,    /* ENUM: match names case-insensitively */
    CFG_SECRET = 1 << 3,   /* written as "<secret>" by scry_config_dump_redacted */
};

struct cfg_ctx;
struct cfg_section;

/* Extra validation of one string value (a STRING or each STRINGS item).
 * Returns 0 or fails through cfg_fail(). */
typedef int (*cfg_check_fn)(struct cfg_ctx *c, const struct scry_yaml_node *n,
                            const char *path, const char *v);

struct cfg_opt {
    const char *key;
    enum cfg_type type;
    size_t off;
    size_t off_n;
    const char *def; /* default as YAML text, decoded like user input; NULL = zero */
    int64_t min, max;
    const char *const *names; /* NULL-terminated */
    const struct cfg_section *sub;
    cfg_check_fn check;
    unsigned flags;
    const char *help;
};

struct cfg_section {
    const char *name;
    const struct cfg_opt *opts;
    size_t n_opts;
    size_t size; /* of one element, for CFG_LIST */
    /* Rules across keys, run after the keys are decoded. map is the
     * section's node (NULL when absent), at the node to blame then. */
    int (*finish)(struct cfg_ctx *c, void *obj, const struct scry_yaml_node *map,
                  const struct scry_yaml_node *at, const char *path);
};

#define CFG_N(a) (sizeof(a) / sizeof((a)[0]))

struct cfg_regex {
    struct cfg_regex *next;
    void *code; /* pcre2_code * */
};

struct cfg_ctx {
    struct scry_arena *a;
    const char *file;
    struct scry_err *err;
    struct scry_config *cfg;
    struct cfg_regex **regexes; /* compiled codes, freed by scry_config_destroy */
};

/* Fails with SCRY_EINVAL at n: err->msg = "path: <fmt>". Returns the code. */
int scry__cfg_fail(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Joins path and key ("a.b") or an index ("a[3]") into buf. */
const char *scry__cfg_path(char *buf, size_t cap, const char *path, const char *key);
const char *scry__cfg_index(char *buf, size_t cap, const char *path, size_t i);
/* Prometheus's label name rule, [a-zA-Z_][a-zA-Z0-9_]*. */
bool scry__cfg_label_name_ok(const char *s);
/* The node a key's value sits at, or fallback when the key is absent. */
const struct scry_yaml_node *scry__cfg_at(const struct scry_yaml_node *map, const char *key,
                                          const struct scry_yaml_node *fallback);
/* Compiles ^(?:re)$ and records it for destroy; reports the error offset. */
int scry__cfg_regex(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                    const char *re, void **out);

/* String checks shared by tables. */
int scry__cfg_check_label_name(struct cfg_ctx *c, const struct scry_yaml_node *n,
                               const char *path, const char *v);
int scry__cfg_check_hostport(struct cfg_ctx *c, const struct scry_yaml_node *n,
                             const char *path, const char *v);

extern const struct cfg_section scry__cfg_root;
extern const struct cfg_section scry__cfg_scrape;
extern const struct cfg_section scry__cfg_relabel;
/* tls_config: ca_file, cert_file, key_file, server_name, insecure_skip_verify. */
extern const struct cfg_section scry__cfg_tls;
/* basic_auth and authorization, offsets into struct scry_http_client_config. */
extern const struct cfg_section scry__cfg_basic_auth;
extern const struct cfg_section scry__cfg_authorization;

/* The table rows of an HTTP client's keys (config_http_client.c), for a
 * section whose struct holds a struct scry_http_client_config at byte
 * offset base. Its finish hook calls scry__cfg_http_client_check. */
#define SCRY__CFG_HTTP_CLIENT_OPTS(base)                                                       \
    { "basic_auth", CFG_OBJECT, (base), .sub = &scry__cfg_basic_auth,                          \
      .help = "HTTP basic auth" },                                                             \
    { "authorization", CFG_OBJECT, (base), .sub = &scry__cfg_authorization,                    \
      .help = "Authorization header" },                                                        \
    { "bearer_token", CFG_STRING,                                                              \
      (base) + offsetof(struct scry_http_client_config, authorization_credentials),            \
      .flags = CFG_NODUMP, .help = "legacy: authorization.credentials" },                      \
    { "bearer_token_file", CFG_STRING,                                                         \
      (base) + offsetof(struct scry_http_client_config, authorization_credentials_file),       \
      .flags = CFG_NODUMP, .help = "legacy: authorization.credentials_file" },                 \
    { "tls_config", CFG_OBJECT, (base) + offsetof(struct scry_http_client_config, tls),        \
      .sub = &scry__cfg_tls, .help = "TLS client settings" }
/* HTTPClientConfig.Validate on the section's node map: the auth settings
 * that exclude each other, failing at path; sets authorization_type to
 * "Bearer" when credentials came without one. */
int scry__cfg_http_client_check(struct cfg_ctx *c, struct scry_http_client_config *h,
                                const struct scry_yaml_node *map,
                                const struct scry_yaml_node *at, const char *path);
/* Whether map has key with a non-null value. */
bool scry__cfg_present(const struct scry_yaml_node *map, const char *key);
extern const struct cfg_section scry__cfg_remote_write;
extern const struct cfg_section scry__cfg_logs_push;
extern const char *const scry__cfg_relabel_actions[];

/* Private part of a loaded config; cfg is first so the public pointer
 * converts back. */
struct cfg_impl {
    struct scry_config cfg;
    struct cfg_regex *regexes;
};

#endif
