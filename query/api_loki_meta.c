/* api_loki_meta.c — the metadata endpoints of the Loki API: labels, label
 * values, series, index stats and volume, detected fields, patterns. */
#include "query/api_loki_internal.h"

static void todo(struct loki_api_ctx *c)
{
    loki__error(c, 501, "%s is not implemented yet", c->endpoint);
}

void loki__labels(struct loki_api_ctx *c) { todo(c); }
void loki__label_values(struct loki_api_ctx *c) { todo(c); }
void loki__series(struct loki_api_ctx *c) { todo(c); }
void loki__index_stats(struct loki_api_ctx *c) { todo(c); }
void loki__index_volume(struct loki_api_ctx *c) { todo(c); }
void loki__index_volume_range(struct loki_api_ctx *c) { todo(c); }
void loki__detected_fields(struct loki_api_ctx *c) { todo(c); }
void loki__detected_field_values(struct loki_api_ctx *c) { todo(c); }
void loki__patterns(struct loki_api_ctx *c) { todo(c); }
