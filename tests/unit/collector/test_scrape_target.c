/* Tests collector/scrape_target.c: target labels and URLs, a table ported
 * from Prometheus's scrape/target_test.go TestPopulateLabels (defaults,
 * overrides by discovered labels, relabel drop, instance defaulting,
 * __param_, scheme/path overrides, invalid __address__, interval and
 * timeout labels), with Prometheus 3's no-default-port rule. Configs go
 * through the real loader, so defaults are the ones users get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "collector/scrape.h"
#include "core/arena.h"
#include "core/config.h"

struct pcase {
    const char *name;
    const char *job_yaml; /* extra keys of the job, YAML block at 4 spaces */
    const char *in;       /* "a=1 b=2" */
    const char *out;      /* sorted labels after; "" when dropped; NULL with err */
    const char *disc;     /* discovered labels, or NULL to skip the check */
    const char *err;      /* expected error substring */
};

#define DEF "__metrics_path__=/metrics __scheme__=http __scrape_interval__=1m __scrape_timeout__=10s"

static const struct pcase cases[] = {
    { "defaults from the config", "", "__address__=1.2.3.4:1000 custom=value",
      "__address__=1.2.3.4:1000 " DEF " custom=value instance=1.2.3.4:1000 job=job",
      "__address__=1.2.3.4:1000 " DEF " custom=value job=job", NULL },
    { "discovered labels win over the config", "",
      "__address__=1.2.3.4:1000 __scheme__=https __metrics_path__=/custom instance=custom-instance "
      "job=custom-job __scrape_interval__=2s __scrape_timeout__=2s",
      "__address__=1.2.3.4:1000 __metrics_path__=/custom __scheme__=https __scrape_interval__=2s "
      "__scrape_timeout__=2s instance=custom-instance job=custom-job",
      NULL, NULL },
    { "no default port is added (Prometheus 3)", "", "__address__=1.2.3.4",
      "__address__=1.2.3.4 " DEF " instance=1.2.3.4 job=job", NULL, NULL },
    { "https without port", "    scheme: https\n", "__address__=1.2.3.4",
      "__address__=1.2.3.4 __metrics_path__=/metrics __scheme__=https __scrape_interval__=1m "
      "__scrape_timeout__=10s instance=1.2.3.4 job=job", NULL, NULL },
    { "relabel drops the target",
      "    relabel_configs:\n      - {source_labels: [__address__], regex: '.*', action: drop}\n",
      "__address__=1.2.3.4:1000", "", "__address__=1.2.3.4:1000 " DEF " job=job", NULL },
    { "relabel removes the address", "    relabel_configs:\n      - {regex: __address__, action: labeldrop}\n",
      "__address__=1.2.3.4:1000", NULL, NULL, "no address" },
    { "no address at all", "", "custom=value", NULL, NULL, "no address" },
    { "address with a path is invalid", "", "__address__=1.2.3.4:1000/foo", NULL, NULL,
      "\"1.2.3.4:1000/foo\" is not a valid hostname" },
    { "instance from relabelling is kept",
      "    relabel_configs:\n      - {source_labels: [__address__], regex: '(.*):.*', target_label: instance}\n",
      "__address__=host:9100", "__address__=host:9100 " DEF " instance=host job=job", NULL, NULL },
    { "meta labels are dropped after relabelling, usable before",
      "    relabel_configs:\n      - {source_labels: [__meta_zone], target_label: zone}\n",
      "__address__=h:1 __meta_zone=eu",
      "__address__=h:1 " DEF " instance=h:1 job=job zone=eu",
      "__address__=h:1 __meta_zone=eu " DEF " job=job", NULL },
    { "params become __param_ labels", "    params:\n      module: [if_mib, other]\n",
      "__address__=h:1", "__address__=h:1 __metrics_path__=/metrics __param_module=if_mib "
      "__scheme__=http __scrape_interval__=1m __scrape_timeout__=10s instance=h:1 job=job",
      NULL, NULL },
    { "a discovered __param_ wins over params", "    params:\n      module: [if_mib]\n",
      "__address__=h:1 __param_module=x", "__address__=h:1 __metrics_path__=/metrics "
      "__param_module=x __scheme__=http __scrape_interval__=1m __scrape_timeout__=10s "
      "instance=h:1 job=job",
      NULL, NULL },
    { "scheme and path from relabelling",
      "    relabel_configs:\n      - {target_label: __scheme__, replacement: https}\n"
      "      - {target_label: __metrics_path__, replacement: /probe}\n",
      "__address__=h:1",
      "__address__=h:1 __metrics_path__=/probe __scheme__=https __scrape_interval__=1m "
      "__scrape_timeout__=10s instance=h:1 job=job", NULL, NULL },
    { "invalid interval label", "", "__address__=h:1 __scrape_interval__=2notseconds", NULL, NULL,
      "error parsing scrape interval" },
    { "zero interval", "", "__address__=h:1 __scrape_interval__=0s", NULL, NULL,
      "scrape interval cannot be 0" },
    { "invalid timeout label", "", "__address__=h:1 __scrape_timeout__=2notseconds", NULL, NULL,
      "error parsing scrape timeout" },
    { "zero timeout", "", "__address__=h:1 __scrape_timeout__=0s", NULL, NULL,
      "scrape timeout cannot be 0" },
    { "timeout over interval", "", "__address__=h:1 __scrape_interval__=1s __scrape_timeout__=2s",
      NULL, NULL, "scrape timeout cannot be greater than scrape interval (\"2s\" > \"1s\")" },
    { "job relabelled", "    relabel_configs:\n      - {target_label: job, replacement: other}\n",
      "__address__=h:1", "__address__=h:1 " DEF " instance=h:1 job=other", NULL, NULL },
    { "keep by a label value",
      "    relabel_configs:\n      - {source_labels: [env], regex: prod, action: keep}\n",
      "__address__=h:1 env=dev", "", NULL, NULL },
};

static struct scry_labels parse_pairs(struct scry_arena *a, const char *s)
{
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, a);
    char *dup = scry_arena_strdup(a, s), *save = NULL;
    for (char *tok = strtok_r(dup, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        scry_labels_builder_set(&b, tok, eq + 1);
    }
    return scry_labels_builder_labels(&b);
}

static void pairs_str(const struct scry_labels *ls, char *out, size_t len)
{
    out[0] = '\0';
    for (size_t i = 0; i < ls->n; i++) {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s=%s", i ? " " : "", ls->v[i].name, ls->v[i].value);
    }
}

static struct scry_config *job_cfg(const char *extra)
{
    char y[2048];
    snprintf(y, sizeof y,
             "global:\n  scrape_interval: 1m\n  scrape_timeout: 10s\n"
             "scrape_configs:\n  - job_name: job\n%s", extra);
    struct scry_config *cfg = NULL;
    struct scry_err err = { 0 };
    if (scry_config_load_string("t.yml", y, strlen(y), &cfg, &err) != 0)
        fail_msg("config: %s\n%s", err.msg, y);
    return cfg;
}

static void test_scrape_target_populate_labels_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct pcase *c = &cases[i];
        struct scry_config *cfg = job_cfg(c->job_yaml);
        struct scry_arena *a = scry_arena_create(0);
        struct scry_labels in = parse_pairs(a, c->in), disc, ls;
        struct scry_err err = { 0 };
        int rc = col_scrape_target_labels(a, &cfg->scrape_configs[0], &in, &disc, &ls, &err);
        char got[2048];
        if (c->err) {
            if (rc == 0 || !strstr(err.msg, c->err))
                fail_msg("%s: want error \"%s\", got rc %d \"%s\"", c->name, c->err, rc, err.msg);
        } else {
            if (rc != 0)
                fail_msg("%s: unexpected error %s", c->name, err.msg);
            pairs_str(&ls, got, sizeof got);
            if (strcmp(got, c->out) != 0)
                fail_msg("%s:\n got  %s\n want %s", c->name, got, c->out);
            if (c->disc) {
                pairs_str(&disc, got, sizeof got);
                if (strcmp(got, c->disc) != 0)
                    fail_msg("%s discovered:\n got  %s\n want %s", c->name, got, c->disc);
            }
        }
        scry_arena_destroy(a);
        scry_config_destroy(cfg);
    }
}

static void check_url(const char *yaml, const char *in, const char *want)
{
    struct scry_config *cfg = job_cfg(yaml);
    struct scry_arena *a = scry_arena_create(0);
    struct scry_labels lin = parse_pairs(a, in), disc, ls;
    assert_int_equal(col_scrape_target_labels(a, &cfg->scrape_configs[0], &lin, &disc, &ls, NULL), 0);
    struct scry_buf u = { 0 };
    col_scrape_target_url(&cfg->scrape_configs[0], &ls, &u);
    assert_string_equal(u.p, want);
    scry_buf_fini(&u);
    scry_arena_destroy(a);
    scry_config_destroy(cfg);
}

static void test_scrape_target_url(void **state)
{
    (void)state;
    check_url("", "__address__=h:9100", "http://h:9100/metrics");
    check_url("    scheme: https\n    metrics_path: /x/y\n", "__address__=h", "https://h/x/y");
    check_url("    params:\n      b: ['2 3']\n      a: ['1', 'x']\n", "__address__=h:1",
              "http://h:1/metrics?a=1&a=x&b=2+3");
    /* __param_ overrides the first value of its key and adds new keys */
    check_url("    params:\n      a: ['1', 'x']\n", "__address__=h:1 __param_a=z __param_c=q&r",
              "http://h:1/metrics?a=z&a=x&c=q%26r");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrape_target_populate_labels_table),
        cmocka_unit_test(test_scrape_target_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
