/* Tests core/config*.c and core/yaml.c: defaults, Prometheus-compatible
 * scrape configs, every kind of bad config with its exact file:line:col,
 * and the dump → load round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/buf.h"
#include "core/config.h"

static struct scry_config *load_ok(const char *yaml)
{
    struct scry_config *cfg = NULL;
    struct scry_err err = { 0 };
    int rc = scry_config_load_string("t.yml", yaml, strlen(yaml), &cfg, &err);
    if (rc) {
        char buf[700];
        scry_err_format(&err, buf, sizeof buf);
        fail_msg("load failed: %s", buf);
    }
    assert_non_null(cfg);
    return cfg;
}

static bool re_match(void *re, const char *s)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* ---- defaults ---------------------------------------------------------- */

static void test_config_empty_file_gives_documented_defaults(void **state)
{
    struct scry_config *cfg = load_ok("");
    assert_string_equal(cfg->source, "t.yml");
    assert_int_equal(cfg->global.scrape_interval_ms, 60000);
    assert_int_equal(cfg->global.scrape_timeout_ms, 10000);
    assert_int_equal(cfg->global.evaluation_interval_ms, 60000);
    assert_int_equal(cfg->global.external_labels.n, 0);
    assert_int_equal(cfg->n_scrape_configs, 0);
    assert_int_equal(cfg->n_logs, 0);
    assert_int_equal(cfg->storage.retention_ms, 15LL * 86400000);
    assert_int_equal(cfg->storage.retention_size_bytes, 0);
    assert_int_equal(cfg->storage.wal_fsync, SCRY_WAL_FSYNC_INTERVAL);
    assert_int_equal(cfg->storage.wal_fsync_interval_ms, 1000);
    assert_int_equal(cfg->storage.wal_segment_bytes, 128LL << 20);
    assert_int_equal(cfg->storage.out_of_order_window_ms, 0);
    assert_int_equal(cfg->storage.block_duration_ms, 2LL * 3600000);
    assert_int_equal(cfg->storage.logs_retention_ms, 15LL * 86400000);
    assert_string_equal(cfg->server.listen, "127.0.0.1:9090");
    assert_string_equal(cfg->server.otlp_listen, "127.0.0.1:4318");
    assert_int_equal(cfg->server.max_body_bytes, 32LL << 20);
    assert_int_equal(cfg->server.query_timeout_ms, 120000);
    assert_int_equal(cfg->server.query_max_samples, 50000000);
    assert_int_equal(cfg->server.max_concurrent_queries, 20);
    assert_int_equal(cfg->server.lookback_delta_ms, 300000);
    assert_false(cfg->server.promql_delayed_name_removal);
    assert_int_equal(cfg->server.query_threads, 1); /* no read-ahead thread: query/README.md */
    assert_false(cfg->tenants.enabled);
    assert_string_equal(cfg->tenants.header, "X-Scope-OrgID");
    assert_string_equal(cfg->tenants.default_id, "anonymous");
    assert_int_equal(cfg->tenants.n_overrides, 0);
    scry_config_destroy(cfg);

    /* A comment-only file and explicit nulls mean the same. */
    cfg = load_ok("# nothing here\nglobal:\nstorage: ~\n");
    assert_int_equal(cfg->global.scrape_interval_ms, 60000);
    assert_int_equal(cfg->storage.retention_ms, 15LL * 86400000);
    scry_config_destroy(cfg);
}

static void test_config_embedded_default_loads(void **state)
{
    struct scry_config *cfg = NULL;
    struct scry_err err = { 0 };
    assert_int_equal(scry_config_load_string("<default>", scry_config_default_yaml,
                                             strlen(scry_config_default_yaml), &cfg, &err),
                     0);
    assert_int_equal(cfg->global.scrape_interval_ms, 15000);
    assert_int_equal(cfg->global.scrape_timeout_ms, 10000);
    assert_int_equal(cfg->n_scrape_configs, 1);
    const struct scry_scrape_config *s = &cfg->scrape_configs[0];
    assert_string_equal(s->job_name, "scry");
    assert_int_equal(s->scrape_interval_ms, 15000);
    assert_int_equal(s->scrape_timeout_ms, 10000);
    assert_string_equal(s->metrics_path, "/metrics");
    assert_string_equal(s->scheme, "http");
    assert_true(s->honor_timestamps);
    assert_false(s->honor_labels);
    assert_int_equal(s->n_static_configs, 1);
    assert_int_equal(s->static_configs[0].n_targets, 1);
    assert_string_equal(s->static_configs[0].targets[0], "127.0.0.1:9090");
    assert_string_equal(cfg->server.listen, "127.0.0.1:9090");
    scry_config_destroy(cfg);
}

static void test_config_scrape_inherits_global(void **state)
{
    struct scry_config *cfg = load_ok("scrape_configs:\n"
                                      "  - job_name: a\n"
                                      "global:\n" /* after, on purpose: order must not matter */
                                      "  scrape_interval: 5s\n"
                                      "  external_labels: {region: eu, cluster: c1}\n"
                                      "  scrape_protocols: [PrometheusText0.0.4]\n");
    assert_int_equal(cfg->global.scrape_interval_ms, 5000);
    assert_int_equal(cfg->global.scrape_timeout_ms, 5000); /* 10s capped at the interval */
    assert_int_equal(cfg->scrape_configs[0].scrape_interval_ms, 5000);
    assert_int_equal(cfg->scrape_configs[0].scrape_timeout_ms, 5000);
    /* Label sets come out sorted by name. */
    assert_int_equal(cfg->global.external_labels.n, 2);
    assert_string_equal(cfg->global.external_labels.v[0].name, "cluster");
    assert_string_equal(cfg->global.external_labels.v[1].name, "region");
    assert_string_equal(cfg->global.external_labels.v[1].value, "eu");
    scry_config_destroy(cfg);

    cfg = load_ok("global: {scrape_interval: 30s, scrape_timeout: 20s}\n"
                  "scrape_configs:\n"
                  "  - job_name: a\n"
                  "  - job_name: b\n"
                  "    scrape_interval: 10s\n");
    assert_int_equal(cfg->scrape_configs[0].scrape_interval_ms, 30000);
    assert_int_equal(cfg->scrape_configs[0].scrape_timeout_ms, 20000);
    assert_int_equal(cfg->scrape_configs[1].scrape_interval_ms, 10000);
    assert_int_equal(cfg->scrape_configs[1].scrape_timeout_ms, 10000);
    scry_config_destroy(cfg);
}

/* ---- a pasted Prometheus section --------------------------------------- */

static const char prometheus_yaml[] =
    "global:\n"
    "  scrape_interval: 15s\n"
    "  evaluation_interval: 15s\n"
    "  external_labels:\n"
    "    monitor: 'codelab-monitor'\n"
    "scrape_configs:\n"
    "  - job_name: 'prometheus'\n"
    "    scrape_interval: 5s\n"
    "    static_configs:\n"
    "      - targets: ['localhost:9090']\n"
    "  - job_name: 'node'\n"
    "    honor_labels: true\n"
    "    follow_redirects: true\n"
    "    enable_http2: false\n"
    "    scheme: https\n"
    "    metrics_path: /federate\n"
    "    params:\n"
    "      'match[]':\n"
    "        - '{job=\"prometheus\"}'\n"
    "        - '{__name__=~\"job:.*\"}'\n"
    "      format: [prometheus]\n"
    "    basic_auth:\n"
    "      username: admin\n"
    "      password_file: /etc/prometheus/pw\n"
    "    tls_config:\n"
    "      ca_file: /etc/ssl/ca.pem\n"
    "      insecure_skip_verify: true\n"
    "    file_sd_configs:\n"
    "      - files: ['/etc/prometheus/targets/*.json']\n"
    "        refresh_interval: 1m\n"
    "    static_configs:\n"
    "      - targets:\n"
    "          - '10.0.0.1:9100'\n"
    "          - '10.0.0.2:9100'\n"
    "        labels:\n"
    "          env: prod\n"
    "          team: infra\n"
    "    relabel_configs:\n"
    "      - source_labels: [__address__]\n"
    "        modulus: 4\n"
    "        target_label: __tmp_hash\n"
    "        action: hashmod\n"
    "      - source_labels: [__tmp_hash]\n"
    "        regex: ^1$\n"
    "        action: keep\n"
    "      - source_labels: [__address__]\n"
    "        regex: '([^:]+):\\d+'\n"
    "        target_label: instance\n"
    "        replacement: '${1}'\n"
    "      - regex: __meta_kubernetes_pod_label_(.+)\n"
    "        action: labelmap\n"
    "      - regex: tmp_.*\n"
    "        action: LabelDrop\n"
    "    metric_relabel_configs:\n"
    "      - source_labels: [__name__]\n"
    "        regex: 'go_gc_.*|go_memstats_.*'\n"
    "        action: drop\n"
    "      - source_labels: [a]\n"
    "        target_label: b\n"
    "        action: keepequal\n"
    "  - job_name: 'api'\n"
    "    bearer_token: s3cret\n"
    "    sample_limit: 10000\n"
    "    body_size_limit: 10MB\n"
    "    static_configs: [{targets: ['api:8080']}]\n";

static void test_config_pasted_prometheus_scrape_configs(void **state)
{
    struct scry_config *cfg = load_ok(prometheus_yaml);
    assert_int_equal(cfg->n_scrape_configs, 3);
    const struct scry_scrape_config *p = &cfg->scrape_configs[0], *n = &cfg->scrape_configs[1];
    assert_int_equal(p->scrape_interval_ms, 5000);
    assert_int_equal(p->scrape_timeout_ms, 5000);
    assert_int_equal(n->scrape_interval_ms, 15000);
    assert_int_equal(n->scrape_timeout_ms, 10000);
    assert_true(n->honor_labels);
    assert_string_equal(n->scheme, "https");
    assert_string_equal(n->metrics_path, "/federate");
    assert_int_equal(n->n_params, 3);
    assert_string_equal(n->params[0].name, "match[]");
    assert_string_equal(n->params[1].value, "{__name__=~\"job:.*\"}");
    assert_string_equal(n->params[2].name, "format");
    assert_string_equal(n->http.basic_auth_username, "admin");
    assert_null(n->http.basic_auth_password);
    assert_string_equal(n->http.basic_auth_password_file, "/etc/prometheus/pw");
    assert_null(n->http.authorization_type);
    assert_string_equal(n->http.tls.ca_file, "/etc/ssl/ca.pem");
    assert_true(n->http.tls.insecure_skip_verify);
    assert_int_equal(n->n_file_sd_configs, 1);
    assert_int_equal(n->file_sd_configs[0].refresh_interval_ms, 60000);
    assert_int_equal(n->static_configs[0].n_targets, 2);
    assert_string_equal(n->static_configs[0].labels.v[1].name, "team");

    assert_int_equal(n->n_relabel_configs, 5);
    const struct scry_relabel_config *r = n->relabel_configs;
    assert_int_equal(r[0].action, SCRY_RELABEL_HASHMOD);
    assert_int_equal(r[0].modulus, 4);
    assert_string_equal(r[0].separator, ";");
    assert_string_equal(r[0].regex, "(.*)");
    assert_string_equal(r[0].replacement, "$1");
    assert_int_equal(r[1].action, SCRY_RELABEL_KEEP);
    assert_int_equal(r[2].action, SCRY_RELABEL_REPLACE);
    assert_string_equal(r[2].replacement, "${1}");
    assert_int_equal(r[3].action, SCRY_RELABEL_LABELMAP);
    assert_int_equal(r[4].action, SCRY_RELABEL_LABELDROP); /* case-insensitive, as Prometheus */
    /* Regexes are anchored at both ends. */
    assert_true(re_match(r[2].re, "host:9100"));
    assert_false(re_match(r[2].re, "host:9100/x"));
    assert_true(re_match(r[4].re, "tmp_x"));
    assert_false(re_match(r[4].re, "a_tmp_x"));
    assert_false(re_match(r[2].re, "host:9100\n")); /* $ is the very end */
    assert_true(re_match(r[0].re, "a\nb"));     /* . matches newlines, as (?s) */

    assert_int_equal(n->n_metric_relabel_configs, 2);
    assert_int_equal(n->metric_relabel_configs[0].action, SCRY_RELABEL_DROP);
    assert_true(re_match(n->metric_relabel_configs[0].re, "go_gc_duration_seconds"));
    assert_false(re_match(n->metric_relabel_configs[0].re, "xgo_gc_duration_seconds"));
    assert_int_equal(n->metric_relabel_configs[1].action, SCRY_RELABEL_KEEPEQUAL);

    const struct scry_scrape_config *a = &cfg->scrape_configs[2];
    assert_string_equal(a->http.authorization_type, "Bearer");
    assert_string_equal(a->http.authorization_credentials, "s3cret");
    assert_int_equal(a->sample_limit, 10000);
    assert_int_equal(a->body_size_limit_bytes, 10LL << 20);
    assert_string_equal(cfg->global.external_labels.v[0].value, "codelab-monitor");
    scry_config_destroy(cfg);
}

static void test_config_logs_storage_server_tenants(void **state)
{
    struct scry_config *cfg = load_ok("logs:\n"
                                      "  - paths: [/var/log/*.log]\n"
                                      "    exclude: [/var/log/debug.log]\n"
                                      "    labels: {job: varlogs}\n"
                                      "    multiline: {firstline: '\\d{4}-\\d{2}'}\n"
                                      "    max_line_bytes: 1MiB\n"
                                      "    relabel_configs:\n"
                                      "      - source_labels: [__path__]\n"
                                      "        target_label: file\n"
                                      "storage:\n"
                                      "  retention: 30d\n"
                                      "  retention_size: 10GB\n"
                                      "  wal_fsync: always\n"
                                      "  wal_fsync_interval: 200ms\n"
                                      "  out_of_order_window: 10m\n"
                                      "server:\n"
                                      "  listen: ':8080'\n"
                                      "  otlp_listen: '[::1]:4318'\n"
                                      "  query_timeout: 30s\n"
                                      "  promql_delayed_name_removal: true\n"
                                      "  query_threads: 2\n"
                                      "tenants:\n"
                                      "  enabled: true\n"
                                      "  overrides:\n"
                                      "    - id: team-a\n"
                                      "      retention: 7d\n"
                                      "      max_series: 100000\n"
                                      "      ingestion_rate: 5000\n");
    assert_int_equal(cfg->n_logs, 1);
    const struct scry_logs_config *l = &cfg->logs[0];
    assert_string_equal(l->paths[0], "/var/log/*.log");
    assert_int_equal(l->n_exclude, 1);
    assert_string_equal(l->multiline_firstline, "\\d{4}-\\d{2}");
    assert_true(re_match(l->multiline_re, "2024-01"));
    assert_int_equal(l->max_line_bytes, 1 << 20);
    assert_int_equal(l->n_relabel_configs, 1);
    assert_int_equal(cfg->storage.retention_ms, 30LL * 86400000);
    assert_int_equal(cfg->storage.logs_retention_ms, 30LL * 86400000); /* follows retention */
    assert_int_equal(cfg->storage.retention_size_bytes, 10LL << 30);
    assert_int_equal(cfg->storage.wal_fsync, SCRY_WAL_FSYNC_ALWAYS);
    assert_int_equal(cfg->storage.wal_fsync_interval_ms, 200);
    assert_int_equal(cfg->storage.out_of_order_window_ms, 600000);
    assert_string_equal(cfg->server.listen, ":8080");
    assert_string_equal(cfg->server.otlp_listen, "[::1]:4318");
    assert_int_equal(cfg->server.query_timeout_ms, 30000);
    assert_true(cfg->server.promql_delayed_name_removal);
    assert_int_equal(cfg->server.query_threads, 2);
    assert_true(cfg->tenants.enabled);
    assert_int_equal(cfg->tenants.n_overrides, 1);
    assert_string_equal(cfg->tenants.overrides[0].id, "team-a");
    assert_int_equal(cfg->tenants.overrides[0].retention_ms, 7LL * 86400000);
    assert_int_equal(cfg->tenants.overrides[0].max_series, 100000);
    assert_int_equal(cfg->tenants.overrides[0].ingestion_rate_per_s, 5000);
    scry_config_destroy(cfg);
}

/* ---- bad configs ------------------------------------------------------- */

struct bad_case {
    const char *what;
    const char *yaml;
    int code;
    int line, col;
    const char *msg; /* substring of err.msg */
};

#define SC "scrape_configs:\n  - job_name: a\n"
#define RL SC "    relabel_configs:\n"
#define RW "remote_write:\n  - url: http://h/w\n"

static const struct bad_case bad_cases[] = {
    { "unknown top-level key", "global: {}\nfoo: 1\n", SCRY_EINVAL, 2, 1, "foo: unknown key" },
    { "unknown key in a scrape config", SC "    bogus: 1\n", SCRY_EINVAL, 3, 5,
      "scrape_configs[0].bogus: unknown key" },
    { "unknown key deeper (basic_auth)", SC "    basic_auth: {user: x}\n", SCRY_EINVAL, 3, 18,
      "scrape_configs[0].basic_auth.user: unknown key" },
    { "bad duration", SC "    scrape_interval: 5x\n", SCRY_EINVAL, 3, 22,
      "scrape_configs[0].scrape_interval: cannot parse \"5x\" as a duration" },
    { "scrape_timeout > scrape_interval", SC "    scrape_interval: 5s\n    scrape_timeout: 10s\n",
      SCRY_EINVAL, 4, 21, "scrape_configs[0].scrape_timeout: scrape timeout greater than" },
    { "global timeout > interval", "global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n",
      SCRY_EINVAL, 3, 19, "global.scrape_timeout: global scrape timeout greater" },
    { "duplicate job_name", SC "  - job_name: b\n  - job_name: a\n", SCRY_EINVAL, 4, 15,
      "scrape_configs[2].job_name: duplicate job_name \"a\" (also scrape_configs[0])" },
    { "missing job_name", "scrape_configs:\n  - scrape_interval: 5s\n", SCRY_EINVAL, 2, 5,
      "scrape_configs[0]: missing required key \"job_name\"" },
    { "invalid label name", SC "    static_configs:\n      - targets: ['x:1']\n"
                               "        labels: {1bad: v}\n",
      SCRY_EINVAL, 5, 18, "static_configs[0].labels: \"1bad\" is not a valid label name" },
    { "invalid external label name", "global:\n  external_labels:\n    foo-bar: x\n",
      SCRY_EINVAL, 3, 5, "global.external_labels: \"foo-bar\" is not a valid label name" },
    { "bad regex", RL "      - regex: 'a(b'\n        target_label: x\n", SCRY_EINVAL, 4, 16,
      "relabel_configs[0].regex: invalid regex \"a(b\": missing closing parenthesis at offset 3" },
    { "invalid relabel action", RL "      - action: frobnicate\n", SCRY_EINVAL, 4, 17,
      "relabel_configs[0].action: unknown value \"frobnicate\"" },
    { "hashmod without modulus", RL "      - action: hashmod\n        target_label: x\n",
      SCRY_EINVAL, 4, 17, "relabel configuration for hashmod requires non-zero modulus" },
    { "replace without target_label", RL "      - source_labels: [a]\n", SCRY_EINVAL, 4, 9,
      "requires 'target_label' value" },
    { "labeldrop with source_labels", RL "      - action: labeldrop\n        source_labels: [a]\n",
      SCRY_EINVAL, 4, 17, "labeldrop action requires only 'regex', and no other fields" },
    { "keepequal with regex", RL "      - {action: keepequal, target_label: x, regex: a}\n",
      SCRY_EINVAL, 4, 18, "keepequal action requires only 'source_labels' and `target_label`" },
    { "lowercase with replacement",
      RL "      - {action: lowercase, target_label: x, replacement: y}\n", SCRY_EINVAL, 4, 59,
      "'replacement' can not be set for lowercase action" },
    { "invalid target_label", RL "      - target_label: 1x\n", SCRY_EINVAL, 4, 23,
      "\"1x\" is invalid 'target_label' for replace action" },
    { "invalid source label", RL "      - source_labels: [ok, 'b-c']\n        target_label: x\n",
      SCRY_EINVAL, 4, 29, "relabel_configs[0].source_labels[1]: \"b-c\" is not a valid label" },
    { "bad wal_fsync enum", "storage:\n  wal_fsync: sometimes\n", SCRY_EINVAL, 2, 14,
      "storage.wal_fsync: unknown value \"sometimes\" (expected one of: interval, always, never)" },
    { "wal_fsync_interval above 1s", "storage:\n  wal_fsync_interval: 2s\n", SCRY_EINVAL, 2, 23,
      "storage.wal_fsync_interval: must be at most 1s, got 2s" },
    { "zero block_duration", "storage:\n  block_duration: 0\n", SCRY_EINVAL, 2, 19,
      "storage.block_duration: must be greater than 0" },
    { "query_threads above 16", "server:\n  query_threads: 17\n", SCRY_EINVAL, 2, 18,
      "server.query_threads: must be between 0 and 16, got 17" },
    { "bad listen address", "server:\n  listen: localhost\n", SCRY_EINVAL, 2, 11,
      "server.listen: \"localhost\" is not a valid HOST:PORT address" },
    { "port out of range", "server:\n  otlp_listen: 'h:65536'\n", SCRY_EINVAL, 2, 16,
      "server.otlp_listen: \"h:65536\" is not a valid HOST:PORT" },
    { "map where a list is expected", "scrape_configs:\n  job_name: a\n", SCRY_EINVAL, 2, 3,
      "scrape_configs: expected a sequence, got a mapping" },
    { "list where a string is expected", SC "    metrics_path: [a]\n", SCRY_EINVAL, 3, 19,
      "scrape_configs[0].metrics_path: expected a scalar, got a sequence" },
    { "YAML syntax error", "global:\n  scrape_interval: [1m\n", SCRY_EPARSE, 3, 1,
      "yaml: did not find expected ',' or ']'" },
    { "YAML bad indentation", "global:\n  scrape_interval: 1m\n bad\n", SCRY_EPARSE, 3, 2,
      "yaml: did not find expected key" },
    { "duplicate key", "global:\n  scrape_interval: 1m\n  scrape_interval: 2m\n", SCRY_EPARSE, 3,
      3, "yaml: duplicate key \"scrape_interval\"" },
    { "alias rejected", "global: &g {}\n", SCRY_EPARSE, 1, 9, "anchors are not supported" },
    { "bad byte size", "storage:\n  retention_size: 10 apples\n", SCRY_EINVAL, 2, 19,
      "storage.retention_size: cannot parse \"10 apples\" as a byte size" },
    { "negative count", "tenants:\n  overrides:\n    - id: a\n      max_series: -5\n", SCRY_EINVAL,
      4, 19, "tenants.overrides[0].max_series: must be >= 0, got -5" },
    { "not an integer", "server:\n  query_max_samples: lots\n", SCRY_EINVAL, 2, 22,
      "server.query_max_samples: cannot parse \"lots\" as an integer" },
    { "bad bool", SC "    honor_labels: maybe\n", SCRY_EINVAL, 3, 19,
      "scrape_configs[0].honor_labels: cannot parse \"maybe\" as a bool" },
    { "bad scheme", SC "    scheme: ftp\n", SCRY_EINVAL, 3, 13,
      "scrape_configs[0].scheme: unknown value \"ftp\" (expected one of: http, https)" },
    { "bearer_token and authorization",
      SC "    bearer_token: x\n    authorization: {credentials: y}\n", SCRY_EINVAL, 4, 20,
      "authorization is not compatible with bearer_token" },
    { "target with a path", SC "    static_configs: [{targets: ['http://x:1/m']}]\n", SCRY_EINVAL,
      3, 33, "targets[0]: \"http://x:1/m\" is not a valid hostname" },
    { "file_sd bad extension", SC "    file_sd_configs: [{files: [a.txt]}]\n", SCRY_EINVAL, 3, 32,
      "path name \"a.txt\" is not valid for file discovery" },
    { "logs without paths", "logs:\n  - labels: {a: b}\n", SCRY_EINVAL, 2, 5,
      "logs[0]: missing required key \"paths\"" },
    { "logs with empty paths", "logs:\n  - paths: []\n", SCRY_EINVAL, 2, 12,
      "logs[0].paths: must not be empty" },
    { "bad multiline regex", "logs:\n  - paths: [a]\n    multiline: {firstline: '[a'}\n",
      SCRY_EINVAL, 3, 28, "logs[0].multiline.firstline: invalid regex" },
    { "duplicate tenant id", "tenants:\n  overrides:\n    - id: a\n    - id: a\n", SCRY_EINVAL, 4,
      11, "tenants.overrides[1].id: duplicate tenant id \"a\"" },
    { "top level is a list", "- a\n- b\n", SCRY_EINVAL, 1, 1, "the config must be a mapping" },
    { "NUL inside a key", "\"global\\0x\": {}\n", SCRY_EINVAL, 1, 1, "unknown key" },
    { "non-scalar key", "? [a]\n: 1\n", SCRY_EPARSE, 1, 3, "mapping keys must be scalars" },
    { "nesting too deep", "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
      SCRY_EPARSE, 1, 67, "nesting deeper than 64" },
    { "two documents", "a: 1\n---\nb: 2\n", SCRY_EPARSE, 2, 1, "more than one document" },
    { "unknown key in remote_write", RW "    bogus: 1\n", SCRY_EINVAL, 3, 5,
      "remote_write[0].bogus: unknown key" },
    { "unknown queue_config key", RW "    queue_config: {capacityy: 1}\n", SCRY_EINVAL, 3, 20,
      "remote_write[0].queue_config.capacityy: unknown key" },
    { "remote_write without url", "remote_write:\n  - name: a\n", SCRY_EINVAL, 2, 5,
      "remote_write[0]: missing required key \"url\"" },
    { "remote_write url scheme", "remote_write:\n  - url: ftp://h/w\n", SCRY_EINVAL, 2, 10,
      "remote_write[0].url: unsupported scheme in URL \"ftp://h/w\"" },
    { "remote_write url without host", "remote_write:\n  - url: http:///w\n", SCRY_EINVAL, 2,
      10, "remote_write[0].url: URL \"http:///w\" has no host" },
    { "remote_write reserved header", RW "    headers: {User-Agent: me}\n", SCRY_EINVAL, 3, 14,
      "remote_write[0].headers: User-Agent is a reserved header" },
    { "remote_write header not a string", RW "    headers: {X-A: [1]}\n", SCRY_EINVAL, 3, 20,
      "remote_write[0].headers.X-A: expected a scalar, got a sequence" },
    { "min_shards above max_shards", RW "    queue_config: {max_shards: 2, min_shards: 3}\n",
      SCRY_EINVAL, 3, 47, "queue_config.min_shards: min_shards (3) must not exceed max_shards" },
    { "zero max_samples_per_send", RW "    queue_config: {max_samples_per_send: 0}\n",
      SCRY_EINVAL, 3, 42, "queue_config.max_samples_per_send: must be >= 1" },
    { "bad batch_send_deadline", RW "    queue_config:\n      batch_send_deadline: 5x\n",
      SCRY_EINVAL, 4, 28, "batch_send_deadline: cannot parse \"5x\" as a duration" },
    { "min_backoff above max_backoff", RW "    queue_config: {min_backoff: 10s}\n", SCRY_EINVAL,
      3, 33, "min_backoff must not exceed max_backoff" },
    { "duplicate remote_write url", RW "  - url: http://h/w\n", SCRY_EINVAL, 3, 10,
      "remote_write[1].url: duplicate remote write configs are not allowed" },
    { "remote_write two auth methods",
      RW "    basic_auth: {username: u}\n    authorization: {credentials: c}\n", SCRY_EINVAL,
      3, 17, "at most one of basic_auth, bearer_token & bearer_token_file and authorization" },
    { "remote_write bad retry_on_http_429", RW "    queue_config: {retry_on_http_429: often}\n",
      SCRY_EINVAL, 3, 39, "retry_on_http_429: cannot parse \"often\" as a bool" },
    { "logs_push url scheme", "logs_push:\n  url: ftp://h/p\n", SCRY_EINVAL, 2, 8,
      "logs_push.url: unsupported scheme in URL \"ftp://h/p\"" },
    { "logs_push unknown key", "logs_push:\n  url: http://h/p\n  batch_size: 1\n", SCRY_EINVAL,
      3, 3, "logs_push.batch_size: unknown key" },
    { "logs_push min_period above max_period",
      "logs_push:\n  backoff_config: {min_period: 1m, max_period: 1s}\n", SCRY_EINVAL, 2, 19,
      "backoff_config.min_period must not exceed max_period" },
};

static void test_config_rejects_bad_configs_with_position(void **state)
{
    size_t n = sizeof bad_cases / sizeof bad_cases[0];
    int failures = 0;
    assert_true(n >= 15);
    for (size_t i = 0; i < n; i++) {
        const struct bad_case *t = &bad_cases[i];
        struct scry_config *cfg = (struct scry_config *)0x1; /* must stay untouched */
        struct scry_err err = { 0 };
        int rc = scry_config_load_string("bad.yml", t->yaml, strlen(t->yaml), &cfg, &err);
        char got[700];
        scry_err_format(&err, got, sizeof got);
        if (rc != t->code || err.code != t->code || err.line != t->line || err.col != t->col ||
            !strstr(err.msg, t->msg) || cfg != (struct scry_config *)0x1 || !err.file ||
            strcmp(err.file, "bad.yml") != 0)
        {
            print_error("case %zu (%s): want rc %d at bad.yml:%d:%d with \"%s\"; got rc %d: %s\n",
                        i, t->what, t->code, t->line, t->col, t->msg, rc, got);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* scrape_configs and remote_write share one HTTP client decoder
 * (core/config_http_client.c): the same bad auth or TLS block fails at the
 * same line and column with the same message under both, but for the path. */
static const char *const bad_http_clients[] = {
    "    bearer_token: x\n    bearer_token_file: /f\n",
    "    basic_auth: {username: u}\n    bearer_token: x\n",
    "    basic_auth: {username: u}\n    authorization: {credentials: c}\n",
    "    bearer_token_file: /f\n    authorization: {credentials: y}\n",
    "    basic_auth: {username: u, password: p, password_file: /f}\n",
    "    authorization: {credentials: c, credentials_file: /f}\n",
    "    authorization: {type: Basic, credentials: c}\n",
    "    basic_auth: {user: u}\n",
    "    tls_config: {cert_file: /c}\n",
};

static void load_bad(const char *head, const char *tail, struct scry_err *err)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml, "%s%s", head, tail);
    struct scry_config *cfg = NULL;
    int rc = scry_config_load_string("bad.yml", yaml, strlen(yaml), &cfg, err);
    if (rc != SCRY_EINVAL)
        fail_msg("want SCRY_EINVAL for:\n%s", yaml);
    assert_null(cfg);
}

static void test_config_http_client_rejects_alike_in_scrape_and_remote_write(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_http_clients / sizeof bad_http_clients[0]; i++) {
        struct scry_err se = { 0 }, we = { 0 };
        load_bad(SC, bad_http_clients[i], &se);
        load_bad(RW, bad_http_clients[i], &we);
        const char *sp = "scrape_configs[0]", *wp = "remote_write[0]";
        assert_true(strncmp(se.msg, sp, strlen(sp)) == 0);
        assert_true(strncmp(we.msg, wp, strlen(wp)) == 0);
        if (se.line != we.line || se.col != we.col ||
            strcmp(se.msg + strlen(sp), we.msg + strlen(wp)) != 0)
            fail_msg("case %zu differs: %d:%d %s / %d:%d %s", i, se.line, se.col, se.msg,
                     we.line, we.col, we.msg);
    }
}

/* The formatted error is what `scry check` prints. */
static void test_config_error_format_names_file_and_key_path(void **state)
{
    struct scry_config *cfg = NULL;
    struct scry_err err = { 0 };
    const char *y = "scrape_configs:\n  - job_name: a\n    scrape_interval: 5x\n";
    assert_int_equal(scry_config_load_string("scry.yml", y, strlen(y), &cfg, &err), SCRY_EINVAL);
    char buf[700];
    scry_err_format(&err, buf, sizeof buf);
    assert_string_equal(buf, "scry.yml:3:22: scrape_configs[0].scrape_interval: "
                             "cannot parse \"5x\" as a duration");
    assert_null(cfg);
}

/* ---- dump round trip --------------------------------------------------- */

static char *dump(const struct scry_config *cfg)
{
    struct scry_buf b = { 0 };
    scry_config_dump(cfg, &b);
    return scry_buf_take(&b);
}

/* Loading the dump gives an equal config: its own dump is identical, and
 * since the dump is written from the same tables that decode, every field
 * takes part in the comparison. */
static void check_round_trip(const char *yaml)
{
    struct scry_config *a = load_ok(yaml);
    char *d1 = dump(a);
    struct scry_config *b = load_ok(d1);
    char *d2 = dump(b);
    assert_string_equal(d1, d2);
    assert_int_equal(a->n_scrape_configs, b->n_scrape_configs);
    for (size_t i = 0; i < a->n_scrape_configs; i++) {
        const struct scry_scrape_config *x = &a->scrape_configs[i], *y = &b->scrape_configs[i];
        assert_string_equal(x->job_name, y->job_name);
        assert_int_equal(x->scrape_timeout_ms, y->scrape_timeout_ms);
        assert_int_equal(x->n_relabel_configs, y->n_relabel_configs);
        for (size_t j = 0; j < x->n_relabel_configs; j++) {
            assert_string_equal(x->relabel_configs[j].regex, y->relabel_configs[j].regex);
            assert_int_equal(x->relabel_configs[j].action, y->relabel_configs[j].action);
        }
    }
    assert_int_equal(a->storage.wal_segment_bytes, b->storage.wal_segment_bytes);
    free(d1);
    free(d2);
    scry_config_destroy(a);
    scry_config_destroy(b);
}

static void test_config_dump_round_trip_default(void **state)
{
    check_round_trip(scry_config_default_yaml);
    check_round_trip("");
    struct scry_config *cfg = load_ok(scry_config_default_yaml);
    char *d = dump(cfg);
    assert_non_null(strstr(d, "job_name: \"scry\""));
    assert_non_null(strstr(d, "scrape_interval: 15s"));
    assert_non_null(strstr(d, "wal_segment_size: 128MiB"));
    free(d);
    scry_config_destroy(cfg);
}

static void test_config_dump_round_trip_rich(void **state)
{
    check_round_trip(prometheus_yaml);
    check_round_trip("global:\n  external_labels: {a: \"quote\\\" back\\\\slash\\nnl\\ttab\"}\n"
                     "storage: {wal_segment_size: 10485761B, retention_size: 1.5GB}\n"
                     "tenants: {overrides: [{id: x, retention: 90d}, {id: y}]}\n"
                     "logs: [{paths: [a, b], multiline: {firstline: '^\\s'}}]\n"
                     "scrape_configs:\n"
                     "  - job_name: j\n"
                     "    authorization: {type: Token, credentials_file: /f}\n"
                     "    static_configs: [{}, {labels: {a: ''}}]\n");
    /* The legacy spelling comes back in the modern one. */
    struct scry_config *cfg = load_ok(SC "    bearer_token_file: /tok\n");
    char *d = dump(cfg);
    assert_null(strstr(d, "bearer_token"));
    assert_non_null(strstr(d, "credentials_file: \"/tok\""));
    free(d);
    scry_config_destroy(cfg);
}


/* ---- logs_push (scry agent's log forwarding) ------------------------------ */

static void test_config_logs_push_promtail_keys_and_defaults(void **state)
{
    struct scry_config *cfg = load_ok("logs: [{paths: [/var/log/*.log]}]\n");
    assert_null(cfg->logs_push.url); /* absent: not forwarding */
    assert_int_equal(cfg->logs_push.batch_bytes, 1 << 20);
    assert_int_equal(cfg->logs_push.timeout_ms, 10000);
    assert_int_equal(cfg->logs_push.min_backoff_ms, 500);
    assert_int_equal(cfg->logs_push.max_backoff_ms, 30000);
    scry_config_destroy(cfg);
    cfg = load_ok("logs_push:\n"
                  "  url: http://127.0.0.1:9090/loki/api/v1/push\n"
                  "  tenant_id: team-a\n"
                  "  batchsize: 256KiB\n"
                  "  batchwait: 1s\n"
                  "  timeout: 3s\n"
                  "  backoff_config: {min_period: 100ms, max_period: 2s, max_retries: 10}\n");
    assert_string_equal(cfg->logs_push.url, "http://127.0.0.1:9090/loki/api/v1/push");
    assert_string_equal(cfg->logs_push.tenant_id, "team-a");
    assert_int_equal(cfg->logs_push.batch_bytes, 256 * 1024);
    assert_int_equal(cfg->logs_push.timeout_ms, 3000);
    assert_int_equal(cfg->logs_push.min_backoff_ms, 100);
    assert_int_equal(cfg->logs_push.max_backoff_ms, 2000);
    scry_config_destroy(cfg);
    check_round_trip("logs_push: {url: 'https://h:3100/loki/api/v1/push', tenant_id: t, "
                     "batchsize: 64KiB, backoff_config: {min_period: 1s}}\n");
}

/* ---- remote_write ------------------------------------------------------ */

static void test_config_remote_write_prometheus_keys_and_defaults(void **state)
{
    struct scry_config *cfg = load_ok(
        "remote_write:\n"
        "  - url: http://127.0.0.1:9090/api/v1/write\n"
        "  - url: https://vm.example:8428/api/v1/write\n"
        "    name: vm\n"
        "    remote_timeout: 10s\n"
        "    headers: {X-Scope-OrgID: team-a, X-Extra: '1'}\n"
        "    bearer_token: tok\n"
        "    tls_config: {insecure_skip_verify: true}\n"
        "    send_exemplars: true\n"
        "    metadata_config: {send: false}\n"
        "    write_relabel_configs:\n"
        "      - {source_labels: [__name__], regex: 'go_.*', action: drop}\n"
        "    queue_config:\n"
        "      capacity: 2500\n"
        "      max_shards: 8\n"
        "      min_shards: 2\n"
        "      max_samples_per_send: 500\n"
        "      batch_send_deadline: 1s\n"
        "      min_backoff: 100ms\n"
        "      max_backoff: 10s\n"
        "      retry_on_http_429: false\n");
    assert_int_equal(cfg->n_remote_write, 2);
    const struct scry_remote_write_config *a = &cfg->remote_write[0], *b = &cfg->remote_write[1];
    assert_string_equal(a->url, "http://127.0.0.1:9090/api/v1/write");
    assert_int_equal(a->remote_timeout_ms, 30000);
    assert_int_equal(a->queue.capacity, 10000);
    assert_int_equal(a->queue.max_shards, 50);
    assert_int_equal(a->queue.min_shards, 1);
    assert_int_equal(a->queue.max_samples_per_send, 2000);
    assert_int_equal(a->queue.batch_send_deadline_ms, 5000);
    assert_int_equal(a->queue.min_backoff_ms, 30);
    assert_int_equal(a->queue.max_backoff_ms, 5000);
    assert_true(a->queue.retry_on_http_429);
    assert_null(a->http.authorization_type);
    assert_int_equal(a->n_headers, 0);
    assert_string_equal(b->name, "vm");
    assert_int_equal(b->remote_timeout_ms, 10000);
    assert_int_equal(b->n_headers, 2);
    assert_string_equal(b->headers[0].name, "X-Scope-OrgID");
    assert_string_equal(b->headers[0].value, "team-a");
    assert_string_equal(b->headers[1].value, "1");
    assert_string_equal(b->http.authorization_type, "Bearer");
    assert_string_equal(b->http.authorization_credentials, "tok");
    assert_true(b->http.tls.insecure_skip_verify);
    assert_int_equal(b->n_write_relabel_configs, 1);
    assert_int_equal(b->write_relabel_configs[0].action, SCRY_RELABEL_DROP);
    assert_int_equal(b->queue.capacity, 2500);
    assert_int_equal(b->queue.max_shards, 8);
    assert_int_equal(b->queue.min_shards, 2);
    assert_int_equal(b->queue.max_samples_per_send, 500);
    assert_int_equal(b->queue.batch_send_deadline_ms, 1000);
    assert_int_equal(b->queue.min_backoff_ms, 100);
    assert_int_equal(b->queue.max_backoff_ms, 10000);
    assert_false(b->queue.retry_on_http_429);
    /* The dump loads back to the same config, headers included. */
    char *d1 = dump(cfg);
    assert_non_null(strstr(d1, "\"X-Scope-OrgID\": \"team-a\""));
    struct scry_config *again = load_ok(d1);
    char *d2 = dump(again);
    assert_string_equal(d1, d2);
    free(d1);
    free(d2);
    scry_config_destroy(again);
    scry_config_destroy(cfg);
}

/* ---- key reference and redaction --------------------------------------- */

static void test_config_describe_lists_every_key_with_help(void **state)
{
    struct scry_buf b = { 0 };
    scry_config_describe(&b);
    assert_non_null(strstr(b.p, "scrape_configs[].relabel_configs[].action\tenum\t"));
    assert_non_null(strstr(b.p, "storage.wal_fsync_interval\tduration\tdefault 1s\t"));
    assert_non_null(strstr(b.p, "scrape_configs[].job_name\tstring\trequired\t"));
    assert_non_null(strstr(b.p, "logs[].multiline.firstline\tregex\t"));
    size_t lines = 0;
    for (char *line = b.p, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
        *nl = 0;
        char *help = strrchr(line, '\t');
        int tabs = 0;
        for (char *q = line; *q; q++)
            tabs += *q == '\t';
        if (tabs != 3 || !help || strlen(help + 1) < 3)
            fail_msg("key without type, default or help: %s", line);
    }
    assert_true(lines > 80);
    scry_buf_fini(&b);
}

static void test_config_dump_redacted_hides_secrets(void **state)
{
    struct scry_config *cfg = load_ok(SC "    basic_auth: {username: u, password: hunter2}\n"
                                         "  - job_name: b\n"
                                         "    bearer_token: tok3n\n");
    struct scry_buf b = { 0 };
    scry_config_dump_redacted(cfg, &b);
    assert_null(strstr(b.p, "hunter2"));
    assert_null(strstr(b.p, "tok3n"));
    assert_non_null(strstr(b.p, "password: \"<secret>\""));
    assert_non_null(strstr(b.p, "credentials: \"<secret>\""));
    assert_non_null(strstr(b.p, "username: \"u\""));
    scry_buf_reset(&b);
    scry_config_dump(cfg, &b);
    assert_non_null(strstr(b.p, "hunter2"));
    scry_buf_fini(&b);
    scry_config_destroy(cfg);
}

/* ---- files ------------------------------------------------------------- */

static void test_config_load_file(void **state)
{
    char path[] = "/tmp/scry_test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *y = "server:\n  listen: 0.0.0.0:9999\n  bogus: 1\n";
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);
    struct scry_config *cfg = NULL;
    struct scry_err err = { 0 };
    assert_int_equal(scry_config_load_file(path, &cfg, &err), SCRY_EINVAL);
    assert_string_equal(err.file, path);
    assert_int_equal(err.line, 3);
    unlink(path);

    char path2[] = "/tmp/scry_test_config_XXXXXX";
    memcpy(path, path2, sizeof path);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    y = "server:\n  listen: 0.0.0.0:9999\n";
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);
    assert_int_equal(scry_config_load_file(path, &cfg, &err), 0);
    assert_string_equal(cfg->server.listen, "0.0.0.0:9999");
    assert_string_equal(cfg->source, path);
    scry_config_destroy(cfg);
    unlink(path);

    cfg = NULL;
    assert_int_equal(scry_config_load_file("/nonexistent/scry.yml", &cfg, &err), SCRY_EIO);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "/nonexistent/scry.yml"));
    scry_config_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_empty_file_gives_documented_defaults),
        cmocka_unit_test(test_config_embedded_default_loads),
        cmocka_unit_test(test_config_scrape_inherits_global),
        cmocka_unit_test(test_config_pasted_prometheus_scrape_configs),
        cmocka_unit_test(test_config_logs_storage_server_tenants),
        cmocka_unit_test(test_config_rejects_bad_configs_with_position),
        cmocka_unit_test(test_config_error_format_names_file_and_key_path),
        cmocka_unit_test(test_config_dump_round_trip_default),
        cmocka_unit_test(test_config_dump_round_trip_rich),
        cmocka_unit_test(test_config_describe_lists_every_key_with_help),
        cmocka_unit_test(test_config_dump_redacted_hides_secrets),
        cmocka_unit_test(test_config_load_file),
        cmocka_unit_test(test_config_remote_write_prometheus_keys_and_defaults),
        cmocka_unit_test(test_config_http_client_rejects_alike_in_scrape_and_remote_write),
        cmocka_unit_test(test_config_logs_push_promtail_keys_and_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
