/* api_loki_query.c — /loki/api/v1/query and /query_range: LogQL evaluation
 * and Loki's result encodings (streams, vector, matrix, scalar). */
#include "query/api_loki_internal.h"

void loki__query(struct loki_api_ctx *c)
{
    loki__error(c, 501, "LogQL queries are not implemented yet");
}

void loki__query_range(struct loki_api_ctx *c)
{
    loki__error(c, 501, "LogQL queries are not implemented yet");
}
