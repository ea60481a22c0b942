/* promql_eval_stream.c — which expressions stream (one series at a time
 * from the store to the consumer) and the dispatch to their sources; see
 * "streaming" in promql_eval_internal.h. A shape outside these is
 * evaluated the generic way, node by node. */
#include <string.h>

#include "query/promql_eval_internal.h"

static bool is_string(const struct pql_expr *e)
{
    return pql__unparen(e)->kind == PQL_STRING;
}

bool pql__vec_streamable(const struct ev_ctx *c, const struct pql_expr *e)
{
    e = pql__unparen(e);
    int mi;
    switch (e->kind) {
    case PQL_VECTOR_SEL:
        return true;
    case PQL_CALL:
        if (pql__is_range_fn(e, &mi))
            return pql__mat_streamable(c, e->u.call.args[mi]);
        if (strcmp(e->u.call.func->name, "label_replace") == 0 && e->u.call.n_args == 5) {
            for (size_t j = 1; j < 5; j++)
                if (!is_string(e->u.call.args[j]))
                    return false;
            return pql__vec_streamable(c, e->u.call.args[0]);
        }
        return false;
    default:
        return false;
    }
}

bool pql__mat_streamable(const struct ev_ctx *c, const struct pql_expr *e)
{
    e = pql__unparen(e);
    if (e->kind == PQL_MATRIX_SEL)
        return true;
    if (e->kind == PQL_SUBQUERY)
        return pql__vec_streamable(c, e->u.sq.expr);
    return false;
}

int pql__stream_vec(struct ev_ctx *c, const struct pql_expr *e, ev_vec_fn fn, void *ud)
{
    e = pql__unparen(e);
    int rc = pql__check_limits(c);
    if (rc != 0)
        return rc;
    if (e->kind == PQL_VECTOR_SEL)
        return pql__stream_vector_sel(c, e, fn, ud);
    if (strcmp(e->u.call.func->name, "label_replace") == 0)
        return pql__stream_label_replace(c, e, fn, ud);
    return pql__stream_range_call(c, e, fn, ud);
}

int pql__mat_header(struct ev_ctx *c, const struct pql_expr *e, struct ev_matrix *hdr)
{
    e = pql__unparen(e);
    if (e->kind == PQL_MATRIX_SEL)
        return pql__matrix_sel_header(c, e, hdr);
    return pql__subquery_header(c, e, hdr);
}

int pql__stream_mat(struct ev_ctx *c, const struct pql_expr *e, const struct ev_matrix *hdr,
                    ev_mat_fn fn, void *ud)
{
    e = pql__unparen(e);
    int rc = pql__check_limits(c);
    if (rc != 0)
        return rc;
    if (e->kind == PQL_MATRIX_SEL)
        return pql__stream_matrix_sel(c, e, hdr, fn, ud);
    return pql__stream_subquery(c, e, hdr, fn, ud);
}
