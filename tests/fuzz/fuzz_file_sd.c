/* fuzz_file_sd.c — file_sd target group files from arbitrary bytes.
 *
 * The first byte picks the format (even: JSON, odd: YAML), the rest is the
 * file. Checks on success: every group's labels are strictly sorted, have
 * valid names and non-empty valid UTF-8 values, and carry __meta_filepath;
 * every target is a NUL-terminated string. Then each target goes through
 * col_scrape_target_labels (with a relabel-free job), which must either
 * refuse it or produce labels holding __address__ and instance. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/scrape_internal.h"
#include "core/arena.h"
#include "core/config.h"

#define check(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_file_sd: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    static struct scry_config *cfg;
    if (!cfg) {
        const char *y = "scrape_configs:\n  - job_name: f\n";
        if (scry_config_load_string("f.yml", y, strlen(y), &cfg, NULL) != 0)
            abort();
    }
    bool yaml = data[0] & 1;
    struct scry_arena *a = scry_arena_create(0);
    struct col__tgroup *g;
    size_t n;
    struct scry_err err = { 0 };
    if (col__file_sd_parse(a, "/sd/f", (const char *)data + 1, size - 1, yaml, &g, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            const struct scry_labels *ls = &g[i].labels;
            check(scry_labels_validate(ls, NULL) == 0);
            check(strcmp(scry_labels_get(ls, "__meta_filepath"), "/sd/f") == 0);
            for (size_t k = 0; k < g[i].n_targets; k++) {
                check(g[i].targets[k] != NULL);
                struct scry_labels_builder b;
                scry_labels_builder_init(&b, a);
                scry_labels_builder_reset(&b, ls);
                scry_labels_builder_set(&b, "__address__", g[i].targets[k]);
                struct scry_labels in = scry_labels_builder_labels(&b), disc, out;
                if (col_scrape_target_labels(a, &cfg->scrape_configs[0], &in, &disc, &out, NULL) == 0 &&
                    out.n) {
                    check(scry_labels_get(&out, "__address__"));
                    check(scry_labels_get(&out, "instance"));
                    check(!scry_labels_get(&out, "__meta_filepath"));
                }
            }
        }
    } else {
        check(err.code != 0 && err.msg[0]);
    }
    scry_arena_destroy(a);
    return 0;
}
