/* metrics.h — scry's own metrics, rendered in Prometheus text format 0.0.4
 * at GET /metrics.
 *
 * A family has a name, help, type and fixed label names; a child is one
 * combination of label values. Children are created on first use and never
 * freed before the registry, so callers may keep the pointer and update it
 * on the hot path with a single atomic operation. Thread-safe. */
#ifndef SCRY_CORE_METRICS_H
#define SCRY_CORE_METRICS_H

#include <stddef.h>

#include "core/buf.h"

struct scry_metrics;
struct scry_metric_family;
struct scry_metric;

enum scry_metric_type { SCRY_METRIC_COUNTER, SCRY_METRIC_GAUGE, SCRY_METRIC_HISTOGRAM };

struct scry_metrics *scry_metrics_create(void);
void scry_metrics_destroy(struct scry_metrics *m); /* NULL is a no-op */

/* Registers a family (or returns the existing one with the same name).
 * label_names may be NULL when n_labels is 0. buckets (upper bounds, sorted,
 * +Inf implied) only for histograms. Names are copied. */
struct scry_metric_family *scry_metrics_family(struct scry_metrics *m, enum scry_metric_type type,
                                               const char *name, const char *help,
                                               const char *const *label_names, size_t n_labels,
                                               const double *buckets, size_t n_buckets);

/* The child for these label values (n_labels of them; NULL for none). */
struct scry_metric *scry_metric_with(struct scry_metric_family *f, const char *const *values);

/* Shorthands for unlabelled metrics: register and return the only child. */
struct scry_metric *scry_metrics_counter(struct scry_metrics *m, const char *name, const char *help);
struct scry_metric *scry_metrics_gauge(struct scry_metrics *m, const char *name, const char *help);

void scry_metric_inc(struct scry_metric *c);
void scry_metric_add(struct scry_metric *c, double v); /* counters: v >= 0 */
void scry_metric_set(struct scry_metric *g, double v);
double scry_metric_value(const struct scry_metric *c);   /* counters and gauges */
void scry_histogram_observe(struct scry_metric *h, double v);

/* Default latency buckets (seconds), Prometheus's DefBuckets. */
extern const double scry_metrics_default_buckets[];
extern const size_t scry_metrics_n_default_buckets;

/* A hook that writes extra families in text format at render time (process
 * metrics, values read from another subsystem). */
typedef void (*scry_metrics_collect_fn)(struct scry_buf *out, void *ud);
void scry_metrics_add_collector(struct scry_metrics *m, scry_metrics_collect_fn fn, void *ud);

/* For collectors: appends "# HELP name help" (escaped) and "# TYPE name type". */
void scry_metrics_render_header(struct scry_buf *out, const char *name, const char *help,
                                enum scry_metric_type type);

/* Collectors write sample values with scry_buf_put_double (core/buf.h). */

/* Appends every family that has children, sorted by name, with HELP and
 * TYPE lines, then the output of each collector in the order added. */
void scry_metrics_render(struct scry_metrics *m, struct scry_buf *out);

/* Registers process_* metrics (cpu seconds, resident and virtual memory,
 * open and max fds, start time) read from /proc at render time. */
void scry_metrics_add_process_collector(struct scry_metrics *m);

#endif
