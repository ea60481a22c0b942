/* appender.h — the seam through which everything enters a store.
 *
 * The collector speaks only this: it asks a store for an appender, appends
 * samples (tsdb) or log entries and spans (logstore), then commits or rolls
 * back. A commit that returns 0 is durable by the configured WAL policy.
 * A store implements the ops it supports; the others are NULL and the inline
 * wrappers below return SCRY_EINVAL for them.
 *
 * Threading: an appender is used by one thread at a time; a store hands out
 * as many as callers ask for and they may run concurrently. */
#ifndef SCRY_CORE_APPENDER_H
#define SCRY_CORE_APPENDER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/labels.h"

struct scry_appender;

/* A log entry (or a span, stored as a log record with its ids). */
struct scry_log_entry {
    int64_t t_ns;
    struct scry_str line;
    struct scry_labels metadata; /* structured metadata, may be empty */
};

struct scry_appender_ops {
    /* ref: the caller's cache of the store's series reference; 0 means
     * unknown and is overwritten with the series' ref, so the next append
     * of the same series skips the label lookup (Prometheus's SeriesRef). */
    int (*append_sample)(struct scry_appender *app, uint64_t *ref, const struct scry_labels *ls,
                         int64_t t_ms, double v, struct scry_err *err);
    int (*append_log)(struct scry_appender *app, uint64_t *ref, const struct scry_labels *stream,
                      const struct scry_log_entry *e, struct scry_err *err);
    int (*commit)(struct scry_appender *app, struct scry_err *err);
    void (*rollback)(struct scry_appender *app);
};

/* Embedded first in each store's appender struct. */
struct scry_appender {
    const struct scry_appender_ops *ops;
};

/* Hands out appenders; a store embeds this. tenant may be NULL (single tenant). */
struct scry_appendable {
    int (*begin)(struct scry_appendable *store, const char *tenant, struct scry_appender **out,
                 struct scry_err *err);
};

static inline int scry_appender_begin(struct scry_appendable *s, const char *tenant,
                                      struct scry_appender **out, struct scry_err *err)
{
    return s->begin(s, tenant, out, err);
}

static inline int scry_append_sample(struct scry_appender *app, uint64_t *ref,
                                     const struct scry_labels *ls, int64_t t_ms, double v,
                                     struct scry_err *err)
{
    if (!app->ops->append_sample)
        return scry_err_set(err, SCRY_EINVAL, "this store does not take samples");
    return app->ops->append_sample(app, ref, ls, t_ms, v, err);
}

static inline int scry_append_log(struct scry_appender *app, uint64_t *ref,
                                  const struct scry_labels *stream,
                                  const struct scry_log_entry *e, struct scry_err *err)
{
    if (!app->ops->append_log)
        return scry_err_set(err, SCRY_EINVAL, "this store does not take log entries");
    return app->ops->append_log(app, ref, stream, e, err);
}

/* Both end the appender: it must not be used afterwards. */
static inline int scry_appender_commit(struct scry_appender *app, struct scry_err *err)
{
    return app->ops->commit(app, err);
}

static inline void scry_appender_rollback(struct scry_appender *app)
{
    app->ops->rollback(app);
}

#endif
