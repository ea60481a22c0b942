/* relabel.h — relabel_configs and metric_relabel_configs, with the
 * semantics of Prometheus's model/relabel/relabel.go (Process / relabel).
 *
 * The scrape loop runs the target rules once per target and the metric
 * rules once per sample, so the rules are prepared once into a caller-owned
 * context (match data, per-rule fast paths) and applied many times:
 *
 *     struct col_relabel_ctx rc;
 *     col_relabel_ctx_init(&rc, cfg->metric_relabel_configs, cfg->n_metric_relabel_configs);
 *     for each sample: col_relabel_apply(&rc, &builder, &keep);
 *     col_relabel_ctx_fini(&rc);
 *
 * Applying allocates no heap memory after the first few calls (scratch
 * buffers grow amortised); labels it sets are copied into the builder's
 * arena as scry_labels_builder_set always does. The configs are borrowed
 * (already validated by the config loader) and must outlive the context.
 * A context is not thread-safe: one per scrape loop. */
#ifndef SCRY_COLLECTOR_RELABEL_H
#define SCRY_COLLECTOR_RELABEL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/labels.h"

struct col__relabel_rule; /* per-rule fast path, in relabel.c */

struct col_relabel_ctx {
    const struct scry_relabel_config *cfgs;
    size_t n_cfgs;
    struct col__relabel_rule *rules;
    void *md; /* pcre2_match_data*, sized for the rule with most groups */
    struct scry_buf val, target, res; /* scratch: joined value, expansions */
    struct scry_label *snap;          /* scratch: labelmap's snapshot */
    size_t snap_cap;
};

/* Prepares ctx for cfgs[0, n) (n may be 0). Allocates; fini frees. */
void col_relabel_ctx_init(struct col_relabel_ctx *ctx, const struct scry_relabel_config *cfgs,
                          size_t n);
void col_relabel_ctx_fini(struct col_relabel_ctx *ctx);

/* Applies the rules in order to the labels in b. *keep is false when a
 * keep/drop/keepequal/dropequal rule dropped them (b is then left as it
 * was at that rule). Returns 0. */
int col_relabel_apply(struct col_relabel_ctx *ctx, struct scry_labels_builder *b, bool *keep);

/* One-off form: init, apply, fini. Allocates; for tests and rare paths. */
int col_relabel(const struct scry_relabel_config *cfgs, size_t n, struct scry_labels_builder *b,
                bool *keep);

/* Go's regexp.Expand: appends tmpl to out with $1, ${1}, $name, ${name}
 * replaced by the groups of the last match (ovector of n_groups pairs
 * over subject; names looked up in re, a pcre2_code*, which may be NULL),
 * $$ as '$', and a malformed '$' copied as is. Exposed for tests. */
void col__relabel_expand(struct scry_buf *out, const char *tmpl, const char *subject,
                         const size_t *ovector, int n_groups, const void *re);

#endif
