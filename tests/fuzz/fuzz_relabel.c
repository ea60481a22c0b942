/* fuzz_relabel.c — relabelling rules and labels from arbitrary bytes.
 *
 * Input: lines separated by '\n'. Line 1: first byte picks the action (mod
 * 11), the rest is the regex. Line 2: target_label. Line 3: replacement.
 * The following lines alternate label name and value; the first two names
 * are the source labels. The rule goes through the real config loader
 * (invalid rules are simply refused there), then is applied twice through
 * one context. Checks: the builder stays strictly sorted with non-empty
 * values, and applying the same rule to the same input gives the same
 * result (the context carries no state between samples). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/relabel.h"
#include "core/arena.h"
#include "core/config.h"

#define MAX_INPUT 2048
#define MAX_LINES 32

#define check(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_relabel: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* A YAML single-quoted scalar: '' stands for '. Lines have no newlines. */
static void yq(struct scry_buf *y, const char *s)
{
    scry_buf_putc(y, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            scry_buf_putc(y, '\'');
        scry_buf_putc(y, *s);
    }
    scry_buf_putc(y, '\'');
}

static void run(struct col_relabel_ctx *ctx, struct scry_arena *a, char **lines, size_t n,
                struct scry_buf *out, bool *keep)
{
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, a);
    for (size_t i = 3; i + 1 < n; i += 2)
        scry_labels_builder_set(&b, lines[i], lines[i + 1]);
    col_relabel_apply(ctx, &b, keep);
    for (size_t i = 0; i < b.n; i++) {
        check(b.v[i].value[0] != 0);
        check(i == 0 || strcmp(b.v[i - 1].name, b.v[i].name) < 0);
        scry_buf_printf(out, "%s=%s\n", b.v[i].name, b.v[i].value);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const actions[] = { "replace", "keep", "drop", "keepequal", "dropequal",
                                           "hashmod", "labelmap", "labeldrop", "labelkeep",
                                           "lowercase", "uppercase" };
    if (size < 2 || size > MAX_INPUT || memchr(data, 0, size))
        return 0;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;
    char *lines[MAX_LINES];
    size_t n = 0;
    for (char *p = buf; p && n < MAX_LINES;) {
        lines[n++] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = 0;
    }
    while (n < 3)
        lines[n++] = "";
    const char *action = actions[(unsigned char)lines[0][0] % 11];
    struct scry_buf y = { 0 };
    scry_buf_puts(&y, "scrape_configs:\n- job_name: j\n  metric_relabel_configs:\n  - action: ");
    scry_buf_puts(&y, action);
    scry_buf_puts(&y, "\n    regex: ");
    yq(&y, lines[0] + 1);
    if (lines[1][0]) {
        scry_buf_puts(&y, "\n    target_label: ");
        yq(&y, lines[1]);
    }
    if (strcmp(action, "replace") == 0 || strcmp(action, "labelmap") == 0) {
        scry_buf_puts(&y, "\n    replacement: ");
        yq(&y, lines[2]);
    }
    if (strcmp(action, "hashmod") == 0)
        scry_buf_puts(&y, "\n    modulus: 7");
    if (n > 5 && strncmp(action, "label", 5) != 0) {
        scry_buf_puts(&y, "\n    source_labels: [");
        yq(&y, lines[3]);
        scry_buf_puts(&y, ", ");
        yq(&y, lines[5]);
        scry_buf_puts(&y, "]");
    }
    scry_buf_puts(&y, "\n");
    struct scry_config *cfg = NULL;
    struct scry_err err;
    if (scry_config_load_string("fuzz", y.p, y.len, &cfg, &err) == 0) {
        const struct scry_scrape_config *sc = &cfg->scrape_configs[0];
        struct col_relabel_ctx ctx;
        col_relabel_ctx_init(&ctx, sc->metric_relabel_configs, sc->n_metric_relabel_configs);
        struct scry_arena *a = scry_arena_create(0);
        struct scry_buf o1 = { 0 }, o2 = { 0 };
        bool k1, k2;
        run(&ctx, a, lines, n, &o1, &k1);
        run(&ctx, a, lines, n, &o2, &k2);
        check(k1 == k2);
        check(o1.len == o2.len && (o1.len == 0 || memcmp(o1.p, o2.p, o1.len) == 0));
        scry_buf_fini(&o1);
        scry_buf_fini(&o2);
        scry_arena_destroy(a);
        col_relabel_ctx_fini(&ctx);
        scry_config_destroy(cfg);
    }
    scry_buf_fini(&y);
    free(buf);
    return 0;
}
