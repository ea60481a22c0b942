/* yaml.h — internal to core/: a YAML document as a small tree of nodes.
 *
 * libyaml's event stream is turned into scalars, sequences and mappings that
 * remember their 1-based line and column, so the config decoder can point at
 * the offending node. All nodes live in the caller's arena. Anchors and
 * aliases are rejected (see yaml.c for why); duplicate mapping keys are an
 * error. Not part of scry's public API (double-underscore prefix). */
#ifndef SCRY_CORE_YAML_H
#define SCRY_CORE_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/err.h"

enum scry_yaml_kind { SCRY_YAML_SCALAR, SCRY_YAML_SEQ, SCRY_YAML_MAP };

struct scry_yaml_node {
    enum scry_yaml_kind kind;
    int line, col;   /* 1-based position of the node's first character */
    const char *s;   /* SCALAR: the text, NUL-terminated (may hold more NULs) */
    size_t len;      /* SCALAR: bytes in s */
    bool plain;      /* SCALAR: unquoted, so it may mean null, a bool or a number */
    struct scry_yaml_node **kids; /* SEQ: items; MAP: key0, value0, key1, value1... */
    size_t n;        /* SEQ: items; MAP: pairs (kids holds 2*n) */
};

/* Parses text[0..len) into *root (NULL for an empty document). name is used
 * for error positions (kept by pointer in err->file). SCRY_EPARSE with
 * file:line:col for syntax errors, anchors, aliases, duplicate keys, more
 * than one document or nesting deeper than 64. */
int scry__yaml_parse(struct scry_arena *a, const char *name, const char *text, size_t len,
                     struct scry_yaml_node **root, struct scry_err *err);

/* True for a plain scalar that YAML reads as null: "", "~", "null". */
bool scry__yaml_is_null(const struct scry_yaml_node *n);

/* The value for key in a mapping, or NULL. */
const struct scry_yaml_node *scry__yaml_get(const struct scry_yaml_node *map, const char *key);

/* "a scalar", "a sequence", "a mapping": for "expected X, got Y" messages. */
const char *scry__yaml_kind_name(const struct scry_yaml_node *n);

#endif
