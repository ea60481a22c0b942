/* yaml.c — libyaml events into a positioned node tree (see yaml.h).
 *
 * Why a tree and not libyaml's own document API: yaml_document_t keeps
 * nodes in an index-addressed array and its load errors lose the mark of the
 * node being built, and we need line:col on every error the config decoder
 * reports long after parsing. The tree is tiny (three node kinds) and lives
 * in the config's arena, so nothing is freed one by one.
 *
 * The builder is iterative: an explicit stack of open containers, each
 * collecting children in a temporary heap vector that is copied into the
 * arena when the container closes. Depth is capped at 64, far above any
 * config, so hostile input cannot make the decoder (which is recursive)
 * overflow the C stack.
 *
 * Anchors and aliases are rejected rather than resolved. Prometheus configs
 * rarely use them, and resolving them safely needs an expansion budget
 * ("billion laughs": nine nested aliases turn 1 KB into gigabytes of decoded
 * config). A clear error is the smaller risk. Tags are ignored: `!!str 5`
 * is the scalar "5", which is what the typed decoder would make of it. */
#include "core/yaml.h"
#include "core/mem.h"

#include <assert.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

struct frame {
    struct scry_yaml_node *node;
    struct scry_yaml_node **kids; /* temporary, scry_realloc'd */
    size_t n, cap;
};

struct builder {
    struct scry_arena *a;
    const char *name;
    struct scry_err *err;
    struct frame stack[MAX_DEPTH];
    int depth;
    struct scry_yaml_node *root;
    int n_docs;
};

static int fail_at(struct builder *b, int line, int col, const char *fmt, const char *arg)
{
    scry_err_set(b->err, SCRY_EPARSE, fmt, arg);
    scry_err_pos(b->err, b->name, line, col);
    return SCRY_EPARSE;
}

static int fail_mark(struct builder *b, yaml_mark_t m, const char *fmt, const char *arg)
{
    return fail_at(b, (int)m.line + 1, (int)m.column + 1, fmt, arg);
}

static struct scry_yaml_node *node_new(struct builder *b, enum scry_yaml_kind kind, yaml_mark_t m)
{
    struct scry_yaml_node *n = scry_arena_calloc(b->a, 1, sizeof *n);
    n->kind = kind;
    n->line = (int)m.line + 1;
    n->col = (int)m.column + 1;
    return n;
}

static bool same_key(const struct scry_yaml_node *x, const struct scry_yaml_node *y)
{
    return x->kind == SCRY_YAML_SCALAR && y->kind == SCRY_YAML_SCALAR && x->len == y->len &&
           memcmp(x->s, y->s, x->len) == 0;
}

/* Adds a finished node to the open container, or makes it the root. */
static int add_child(struct builder *b, struct scry_yaml_node *n)
{
    if (b->depth == 0) {
        assert(b->root == NULL);
        b->root = n;
        return 0;
    }
    struct frame *f = &b->stack[b->depth - 1];
    if (f->node->kind == SCRY_YAML_MAP && f->n % 2 == 0) {
        if (n->kind != SCRY_YAML_SCALAR)
            return fail_at(b, n->line, n->col, "yaml: mapping keys must be scalars%s", "");
        /* Quadratic, but configs have tens of keys per mapping; a hash
         * would cost more code than it could ever save here. */
        for (size_t i = 0; i < f->n; i += 2)
            if (same_key(f->kids[i], n))
                return fail_at(b, n->line, n->col, "yaml: duplicate key \"%s\"", n->s);
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->kids = scry_realloc(f->kids, f->cap * sizeof *f->kids);
    }
    f->kids[f->n++] = n;
    return 0;
}

static int open_container(struct builder *b, enum scry_yaml_kind kind, yaml_mark_t m,
                          const yaml_char_t *anchor)
{
    if (anchor)
        return fail_mark(b, m, "yaml: anchors are not supported (&%s)", (const char *)anchor);
    if (b->depth == MAX_DEPTH)
        return fail_mark(b, m, "yaml: nesting deeper than %s levels", "64");
    struct frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof *f);
    f->node = node_new(b, kind, m);
    return 0;
}

static int close_container(struct builder *b)
{
    assert(b->depth > 0);
    struct frame *f = &b->stack[b->depth - 1];
    struct scry_yaml_node *n = f->node;
    assert(n->kind != SCRY_YAML_MAP || f->n % 2 == 0);
    n->n = n->kind == SCRY_YAML_MAP ? f->n / 2 : f->n;
    if (f->n) {
        n->kids = scry_arena_alloc(b->a, f->n * sizeof *n->kids);
        memcpy(n->kids, f->kids, f->n * sizeof *n->kids);
    }
    free(f->kids);
    f->kids = NULL;
    b->depth--;
    return add_child(b, n);
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->n_docs > 1)
            return fail_mark(b, ev->start_mark, "yaml: %s",
                             "more than one document in a config file");
        return 0;
    case YAML_ALIAS_EVENT:
        return fail_mark(b, ev->start_mark, "yaml: aliases are not supported (*%s)",
                         (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT: {
        if (ev->data.scalar.anchor)
            return fail_mark(b, ev->start_mark, "yaml: anchors are not supported (&%s)",
                             (const char *)ev->data.scalar.anchor);
        struct scry_yaml_node *n = node_new(b, SCRY_YAML_SCALAR, ev->start_mark);
        n->len = ev->data.scalar.length;
        n->s = scry_arena_strndup(b->a, (const char *)ev->data.scalar.value, n->len);
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return add_child(b, n);
    }
    case YAML_SEQUENCE_START_EVENT:
        return open_container(b, SCRY_YAML_SEQ, ev->start_mark, ev->data.sequence_start.anchor);
    case YAML_MAPPING_START_EVENT:
        return open_container(b, SCRY_YAML_MAP, ev->start_mark, ev->data.mapping_start.anchor);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return close_container(b);
    default:
        return 0;
    }
}

/* Reader errors (bad UTF-8, control characters) carry only a byte offset. */
static void offset_to_pos(const char *text, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static int syntax_error(struct builder *b, const yaml_parser_t *p, const char *text, size_t len)
{
    int line, col;
    if (p->error == YAML_READER_ERROR) {
        offset_to_pos(text, len, p->problem_offset, &line, &col);
    } else {
        line = (int)p->problem_mark.line + 1;
        col = (int)p->problem_mark.column + 1;
    }
    const char *what = p->problem ? p->problem : "invalid YAML";
    if (p->context)
        scry_err_set(b->err, SCRY_EPARSE, "yaml: %s (%s)", what, p->context);
    else
        scry_err_set(b->err, SCRY_EPARSE, "yaml: %s", what);
    scry_err_pos(b->err, b->name, line, col);
    return SCRY_EPARSE;
}

int scry__yaml_parse(struct scry_arena *a, const char *name, const char *text, size_t len,
                     struct scry_yaml_node **root, struct scry_err *err)
{
    struct builder b = { .a = a, .name = name, .err = err };
    yaml_parser_t p;
    int rc = 0;
    if (!yaml_parser_initialize(&p))
        return scry_err_set(err, SCRY_ENOMEM, "yaml: cannot initialise the parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    for (bool done = false; !done && rc == 0;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(&b, &p, text, len);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    for (int i = 0; i < b.depth; i++) /* left open by an error */
        free(b.stack[i].kids);
    if (rc == 0) {
        assert(b.depth == 0);
        *root = b.root;
    }
    return rc;
}

bool scry__yaml_is_null(const struct scry_yaml_node *n)
{
    if (!n || n->kind != SCRY_YAML_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
           strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0;
}

const struct scry_yaml_node *scry__yaml_get(const struct scry_yaml_node *map, const char *key)
{
    if (!map || map->kind != SCRY_YAML_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < map->n; i++) {
        const struct scry_yaml_node *k = map->kids[2 * i];
        if (k->kind == SCRY_YAML_SCALAR && k->len == klen && memcmp(k->s, key, klen) == 0)
            return map->kids[2 * i + 1];
    }
    return NULL;
}

const char *scry__yaml_kind_name(const struct scry_yaml_node *n)
{
    switch (n->kind) {
    case SCRY_YAML_SCALAR: return "a scalar";
    case SCRY_YAML_SEQ: return "a sequence";
    default: return "a mapping";
    }
}
