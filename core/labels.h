/* labels.h — label sets: sorted (name, value) pairs that name a series or a
 * log stream.
 *
 * A set is sorted by name with unique names and no empty values (an empty
 * value means "label absent", as in Prometheus). The hash is stable across
 * runs, builds and machines — it may be written to disk and compared — and
 * covers names and values with separators, so {a="bc"} and {ab="c"} differ. */
#ifndef SCRY_CORE_LABELS_H
#define SCRY_CORE_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"

struct scry_label {
    const char *name;  /* NUL-terminated; owned by whoever built the set */
    const char *value;
};

struct scry_labels {
    const struct scry_label *v;
    size_t n;
};

#define SCRY_METRIC_NAME "__name__"

/* 64-bit hash of a sorted set (xxHash64, seed 0, over name\xff value\xff ...). */
uint64_t scry_labels_hash(const struct scry_labels *ls);
/* xxHash64 of len bytes (the reference XXH64; stable, may be stored). */
uint64_t scry_xxh64(const void *p, size_t len, uint64_t seed);
/* Orders sets by name, then value, pair by pair (Prometheus labels.Compare). */
int scry_labels_cmp(const struct scry_labels *a, const struct scry_labels *b);
bool scry_labels_equal(const struct scry_labels *a, const struct scry_labels *b);
/* The value of name, or NULL. Binary search. */
const char *scry_labels_get(const struct scry_labels *ls, const char *name);
/* Checks sortedness, unique names, valid names (metric-name rules for
 * __name__), non-empty valid UTF-8 values. SCRY_EINVAL with the label named. */
int scry_labels_validate(const struct scry_labels *ls, struct scry_err *err);
/* Appends {a="1", b="2"} (Prometheus's String()) — with the metric name in
 * front when present: up{job="x"}. */
void scry_labels_format(const struct scry_labels *ls, struct scry_buf *out);

bool scry_label_name_valid(const char *p, size_t len);  /* [a-zA-Z_][a-zA-Z0-9_]* */
bool scry_metric_name_valid(const char *p, size_t len); /* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool scry_utf8_valid(const char *p, size_t len);

/* A builder collects pairs in any order, with set/del overriding earlier
 * ones, and produces a sorted set whose strings live in the arena. */
struct scry_labels_builder {
    struct scry_arena *a;
    struct scry_label *v;
    size_t n, cap;
};
void scry_labels_builder_init(struct scry_labels_builder *b, struct scry_arena *a);
/* Starts from an existing set (copies the pointers, not the strings). */
void scry_labels_builder_reset(struct scry_labels_builder *b, const struct scry_labels *from);
/* Sets name=value (copied into the arena); an empty value deletes. */
void scry_labels_builder_set(struct scry_labels_builder *b, const char *name, const char *value);
void scry_labels_builder_del(struct scry_labels_builder *b, const char *name);
/* Sorts and returns the set; the builder may be reused after reset. */
struct scry_labels scry_labels_builder_labels(struct scry_labels_builder *b);

#endif
