/* promql_series.h — series descriptions, the notation of PromQL test files
 * (and of promtool's rule unit tests):
 *
 *     metric{a="b"} 1+2x3 _ stale 5x2 -1-1x4 {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x2
 *
 * A label set (PromQL selector syntax, equality only) and a sequence of
 * values; see /work/shared/conformance/promql/FORMAT.md §3 for every form.
 * Used by the conformance runner's load blocks and expected results. */
#ifndef SCRY_QUERY_PROMQL_SERIES_H
#define SCRY_QUERY_PROMQL_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/labels.h"

/* Prometheus's staleness marker: a NaN with this bit pattern. */
#define PQL_STALE_NAN_BITS 0x7ff0000000000002ULL
double pql_stale_nan(void);
bool pql_is_stale_nan(double v);

enum pql_reset_hint { PQL_HINT_UNKNOWN, PQL_HINT_RESET, PQL_HINT_NOT_RESET, PQL_HINT_GAUGE };

/* A float native histogram as the literal {{…}} writes it: absolute bucket
 * counts, one span per sign starting at offset/n_offset. */
struct pql_histogram {
    int32_t schema;
    double sum, count, zero_count, zero_threshold;
    double *buckets;          /* positive buckets from index `offset` */
    size_t n_buckets;
    int32_t offset;
    double *n_buckets_v;      /* negative buckets from index `n_offset` */
    size_t n_n_buckets;
    int32_t n_offset;
    double *custom_values;    /* schema -53 bounds, without +Inf */
    size_t n_custom_values;
    enum pql_reset_hint hint;
    bool hint_set;            /* counter_reset_hint was written */
    /* {{A}}+{{B}}xK with B's schema different from A's: we do not convert
     * schemas; the values repeat A and are marked inexact. */
    bool inexact;
};

struct pql_seq_value {
    bool omitted;             /* "_": no sample at this position */
    double v;                 /* float value (stale markers included) */
    const struct pql_histogram *h; /* non-NULL for a histogram sample */
};

struct pql_series_desc {
    struct scry_labels labels; /* sorted; empty values are kept (test semantics) */
    struct pql_seq_value *values;
    size_t n_values;
};

/* Parses one series description line (no leading/trailing spaces needed).
 * Everything is allocated in a. SCRY_EPARSE with a message and err->col
 * (1-based byte column) on error. values_required: false allows a bare label
 * set (for the `@st` companion lines the caller handles itself). */
int pql_series_parse(struct scry_arena *a, const char *s, size_t len, struct pql_series_desc *out,
                     struct scry_err *err);

/* Parses only the leading label set of s; *used gets the bytes consumed. */
int pql_series_parse_labels(struct scry_arena *a, const char *s, size_t len,
                            struct scry_labels *out, size_t *used, struct scry_err *err);

/* A float token of a series line: decimal with optional exponent and
 * underscores, or Inf/NaN in any case; sign allowed. No hex. */
bool pql_series_float(const char *s, size_t len, double *out);

#endif
