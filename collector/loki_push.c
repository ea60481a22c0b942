/* loki_push.c — the two push body decoders, the stream label parser and
 * Loki's validation rules.
 *
 * JSON goes through core/json_read.h's DOM (its strings are NUL-terminated
 * in the arena, so labels and metadata point into it with no copy). The
 * protobuf form is unpacked by protobuf-c (code generated from
 * proto/loki_push.proto) onto the same arena, as the OTLP receiver does:
 * no per-entry malloc and nothing to free. Both produce struct
 * col_loki_push. Loki's wording is kept where a sender's operator will
 * recognise it ("at least one label pair is required per stream"). */
#include "collector/loki_push.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/proto/loki_push.pb-c.h"
#include "core/json_read.h"

/* ---- shared ------------------------------------------------------------- */

/* Sorts by name, stably (insertion sort: label sets are small). Stream
 * labels are sorted but duplicates kept: validation refuses them. */
static void sort_only(struct scry_label *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct scry_label x = v[i];
        size_t j = i;
        while (j > 0 && strcmp(v[j - 1].name, x.name) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Sorts by name, stably, and keeps the last of equal names. Returns the
 * new count. */
static size_t sort_dedup(struct scry_label *v, size_t n)
{
    sort_only(v, n);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && strcmp(v[w - 1].name, v[i].name) == 0)
            v[w - 1] = v[i];
        else
            v[w++] = v[i];
    }
    return w;
}

/* ---- JSON --------------------------------------------------------------- */

typedef const struct scry_jval jv;

static int jfail(struct scry_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jfail(struct scry_err *err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return scry_err_set(err, SCRY_EPARSE, "loki push json: %s", msg);
}

/* A decimal int64 in a string: Go's strconv.ParseInt(s, 10, 64). */
static int parse_ns(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == len)
        return -1;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX + neg)
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int json_entry(struct scry_arena *a, jv *e, size_t si, size_t ei,
                      struct scry_log_entry *out, struct scry_err *err)
{
    if (e->type != SCRY_JSON_ARRAY || e->n < 2 || e->n > 3)
        return jfail(err, "streams[%zu].values[%zu]: want [\"<ns>\", \"<line>\"] or "
                     "[\"<ns>\", \"<line>\", {metadata}]", si, ei);
    jv *ts = &e->u.arr[0], *line = &e->u.arr[1];
    struct scry_str s;
    if (ts->type != SCRY_JSON_STRING)
        return jfail(err, "streams[%zu].values[%zu][0]: timestamp must be a string of "
                     "nanoseconds since the epoch, got %s", si, ei,
                     ts->type == SCRY_JSON_NUMBER ? "a number" : "another type");
    scry_jval_str(ts, &s);
    if (parse_ns(s.p, s.len, &out->t_ns) != 0)
        return jfail(err, "streams[%zu].values[%zu][0]: invalid timestamp \"%.64s\": want "
                     "an integer of nanoseconds", si, ei, s.p);
    if (scry_jval_str(line, &out->line) != 0)
        return jfail(err, "streams[%zu].values[%zu][1]: the log line must be a string", si, ei);
    out->metadata = (struct scry_labels){ NULL, 0 };
    if (e->n == 3 && !scry_jval_is_null(&e->u.arr[2])) {
        jv *m = &e->u.arr[2];
        if (m->type != SCRY_JSON_OBJECT)
            return jfail(err, "streams[%zu].values[%zu][2]: structured metadata must be an "
                         "object of strings", si, ei);
        struct scry_label *v = m->n ? scry_arena_alloc(a, m->n * sizeof *v) : NULL;
        size_t n = 0;
        for (size_t k = 0; k < m->n; k++) {
            const struct scry_jmember *mb = &m->u.obj[k];
            struct scry_str val;
            if (scry_jval_str(&mb->val, &val) != 0)
                return jfail(err, "streams[%zu].values[%zu][2].%.64s: structured metadata "
                             "values must be strings", si, ei, mb->key.p);
            if (mb->key.len == 0)
                return jfail(err, "streams[%zu].values[%zu][2]: empty structured metadata "
                             "name", si, ei);
            v[n++] = (struct scry_label){ mb->key.p, val.p };
        }
        out->metadata = (struct scry_labels){ v, sort_dedup(v, n) };
    }
    return 0;
}

static int json_stream(struct scry_arena *a, jv *st, size_t si, struct col_loki_stream *out,
                       struct scry_err *err)
{
    memset(out, 0, sizeof *out);
    if (st->type != SCRY_JSON_OBJECT)
        return jfail(err, "streams[%zu]: want an object", si);
    jv *ls = scry_jval_get(st, "stream"), *vals = scry_jval_get(st, "values");
    if (!scry_jval_is_null(ls)) {
        if (ls->type != SCRY_JSON_OBJECT)
            return jfail(err, "streams[%zu].stream: want an object of label values", si);
        struct scry_label *v = ls->n ? scry_arena_alloc(a, ls->n * sizeof *v) : NULL;
        for (size_t k = 0; k < ls->n; k++) {
            struct scry_str val;
            if (scry_jval_str(&ls->u.obj[k].val, &val) != 0)
                return jfail(err, "streams[%zu].stream.%.64s: label values must be strings",
                             si, ls->u.obj[k].key.p);
            v[k] = (struct scry_label){ ls->u.obj[k].key.p, val.p };
        }
        sort_only(v, ls->n);
        out->labels = (struct scry_labels){ v, ls->n };
    }
    if (scry_jval_is_null(vals))
        return 0;
    if (vals->type != SCRY_JSON_ARRAY)
        return jfail(err, "streams[%zu].values: want an array", si);
    out->entries = vals->n ? scry_arena_alloc(a, vals->n * sizeof *out->entries) : NULL;
    out->n_entries = vals->n;
    for (size_t i = 0; i < vals->n; i++) {
        int rc = json_entry(a, &vals->u.arr[i], si, i, &out->entries[i], err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int col_loki_decode_json(struct scry_arena *a, const char *body, size_t len,
                         struct col_loki_push *out, struct scry_err *err)
{
    if (!a || (!body && len) || !out)
        return scry_err_set(err, SCRY_EINVAL, "loki push: missing arena, body or output");
    struct scry_jval *root;
    if (scry_json_parse(a, body ? body : "", len, NULL, &root, err) != 0)
        return scry_err_prefix(err, "loki push json"), SCRY_EPARSE;
    if (root->type != SCRY_JSON_OBJECT)
        return jfail(err, "want an object {\"streams\": [...]}");
    jv *ss = scry_jval_get(root, "streams");
    memset(out, 0, sizeof *out);
    if (scry_jval_is_null(ss))
        return 0;
    if (ss->type != SCRY_JSON_ARRAY)
        return jfail(err, "streams: want an array");
    out->streams = ss->n ? scry_arena_alloc(a, ss->n * sizeof *out->streams) : NULL;
    out->n_streams = ss->n;
    for (size_t i = 0; i < ss->n; i++) {
        int rc = json_stream(a, &ss->u.arr[i], i, &out->streams[i], err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- stream label text -------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_utf8(struct scry_buf *b, uint32_t c)
{
    if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        c = 0xfffd;
    if (c < 0x80) {
        scry_buf_putc(b, (char)c);
    } else if (c < 0x800) {
        scry_buf_putc(b, (char)(0xc0 | c >> 6));
        scry_buf_putc(b, (char)(0x80 | (c & 0x3f)));
    } else if (c < 0x10000) {
        scry_buf_putc(b, (char)(0xe0 | c >> 12));
        scry_buf_putc(b, (char)(0x80 | ((c >> 6) & 0x3f)));
        scry_buf_putc(b, (char)(0x80 | (c & 0x3f)));
    } else {
        scry_buf_putc(b, (char)(0xf0 | c >> 18));
        scry_buf_putc(b, (char)(0x80 | ((c >> 12) & 0x3f)));
        scry_buf_putc(b, (char)(0x80 | ((c >> 6) & 0x3f)));
        scry_buf_putc(b, (char)(0x80 | (c & 0x3f)));
    }
}

/* A Go-quoted string at s[*i] ("..." with escapes, or `raw`) into b. */
static int quoted(const char *s, size_t len, size_t *i, struct scry_buf *b)
{
    char q = s[*i];
    if (q != '"' && q != '`')
        return -1;
    for (size_t p = *i + 1; p < len; p++) {
        char c = s[p];
        if (c == q) {
            *i = p + 1;
            return 0;
        }
        if (q == '`' || c != '\\') {
            if (q == '"' && c == '\n')
                return -1;
            scry_buf_putc(b, c);
            continue;
        }
        if (++p >= len)
            return -1;
        int digits = 0;
        switch (s[p]) {
        case 'n': scry_buf_putc(b, '\n'); break;
        case 't': scry_buf_putc(b, '\t'); break;
        case 'r': scry_buf_putc(b, '\r'); break;
        case 'a': scry_buf_putc(b, '\a'); break;
        case 'b': scry_buf_putc(b, '\b'); break;
        case 'f': scry_buf_putc(b, '\f'); break;
        case 'v': scry_buf_putc(b, '\v'); break;
        case '\\': scry_buf_putc(b, '\\'); break;
        case '"': scry_buf_putc(b, '"'); break;
        case '\'': scry_buf_putc(b, '\''); break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default: return -1;
        }
        if (!digits)
            continue;
        uint32_t v = 0;
        for (int k = 0; k < digits; k++) {
            if (++p >= len || hexval(s[p]) < 0)
                return -1;
            v = v << 4 | (uint32_t)hexval(s[p]);
        }
        if (digits == 2)
            scry_buf_putc(b, (char)v);
        else
            put_utf8(b, v);
    }
    return -1;
}

static void skip_ws(const char *s, size_t len, size_t *i)
{
    while (*i < len && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r'))
        (*i)++;
}

int col_loki_parse_labels(struct scry_arena *a, const char *s, size_t len,
                          struct scry_labels *out, struct scry_err *err)
{
    size_t i = 0, n = 0, cap = 0;
    struct scry_label *v = NULL;
    struct scry_buf b = { 0 };
    int rc = 0;
    skip_ws(s, len, &i);
    if (i >= len || s[i] != '{')
        goto bad;
    i++;
    skip_ws(s, len, &i);
    while (i < len && s[i] != '}') {
        size_t st = i;
        while (i < len && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
                           (s[i] >= 'A' && s[i] <= 'Z') || (i > st && s[i] >= '0' && s[i] <= '9')))
            i++;
        if (i == st)
            goto bad;
        size_t nend = i;
        skip_ws(s, len, &i);
        if (i >= len || s[i] != '=')
            goto bad;
        i++;
        skip_ws(s, len, &i);
        scry_buf_reset(&b);
        if (i >= len || quoted(s, len, &i, &b) != 0)
            goto bad;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            struct scry_label *nv = scry_arena_alloc(a, cap * sizeof *nv);
            if (n)
                memcpy(nv, v, n * sizeof *nv);
            v = nv;
        }
        v[n].name = scry_arena_strndup(a, s + st, nend - st);
        v[n].value = scry_arena_strndup(a, b.p ? b.p : "", b.len);
        n++;
        skip_ws(s, len, &i);
        if (i < len && s[i] == ',') {
            i++;
            skip_ws(s, len, &i);
        } else if (i < len && s[i] != '}') {
            goto bad;
        }
    }
    if (i >= len)
        goto bad;
    i++;
    skip_ws(s, len, &i);
    if (i != len)
        goto bad;
    sort_only(v, n);
    *out = (struct scry_labels){ v, n };
    scry_buf_fini(&b);
    return 0;
bad:
    scry_buf_fini(&b);
    rc = scry_err_set(err, SCRY_EPARSE, "cannot parse stream labels '%.256s' at byte %zu: want "
                      "{name=\"value\", ...}", s, i);
    if (err)
        err->offset = i;
    return rc;
}

/* ---- protobuf ----------------------------------------------------------- */

static void *arena_alloc(void *ud, size_t len) { return scry_arena_alloc(ud, len ? len : 1); }
static void arena_free(void *ud, void *p) { (void)ud, (void)p; }

int col_loki_decode_proto(struct scry_arena *a, const char *body, size_t len,
                          struct col_loki_push *out, struct scry_err *err)
{
    if (!a || (!body && len) || !out)
        return scry_err_set(err, SCRY_EINVAL, "loki push: missing arena, body or output");
    ProtobufCAllocator al = { .alloc = arena_alloc, .free = arena_free, .allocator_data = a };
    Logproto__PushRequest *r =
        logproto__push_request__unpack(&al, len, (const uint8_t *)(body ? body : ""));
    if (!r)
        return scry_err_set(err, SCRY_EPARSE, "loki push: cannot parse PushRequest: invalid "
                            "protobuf (truncated, a field of the wrong wire type, or a string "
                            "that is not valid UTF-8)");
    memset(out, 0, sizeof *out);
    out->n_streams = r->n_streams;
    out->streams = r->n_streams ? scry_arena_calloc(a, r->n_streams, sizeof *out->streams) : NULL;
    for (size_t si = 0; si < r->n_streams; si++) {
        const Logproto__StreamAdapter *sa = r->streams[si];
        struct col_loki_stream *st = &out->streams[si];
        struct scry_err le = { 0 };
        const char *txt = sa->labels ? sa->labels : "";
        if (col_loki_parse_labels(a, txt, strlen(txt), &st->labels, &le) != 0)
            st->labels_error = scry_arena_strdup(a, le.msg);
        st->n_entries = sa->n_entries;
        st->entries = sa->n_entries ? scry_arena_alloc(a, sa->n_entries * sizeof *st->entries)
                                    : NULL;
        for (size_t ei = 0; ei < sa->n_entries; ei++) {
            const Logproto__EntryAdapter *ea = sa->entries[ei];
            struct scry_log_entry *e = &st->entries[ei];
            int64_t sec = ea->timestamp ? ea->timestamp->seconds : 0;
            int64_t ns = ea->timestamp ? ea->timestamp->nanos : 0;
            if (__builtin_mul_overflow(sec, (int64_t)1000000000, &e->t_ns) ||
                __builtin_add_overflow(e->t_ns, ns, &e->t_ns))
                return scry_err_set(err, SCRY_EPARSE, "loki push: stream %zu entry %zu: "
                                    "timestamp out of range", si, ei);
            const char *line = ea->line ? ea->line : "";
            e->line = (struct scry_str){ line, strlen(line) };
            struct scry_label *v =
                ea->n_structuredmetadata
                    ? scry_arena_alloc(a, ea->n_structuredmetadata * sizeof *v) : NULL;
            size_t n = 0;
            for (size_t k = 0; k < ea->n_structuredmetadata; k++) {
                const Logproto__LabelPairAdapter *lp = ea->structuredmetadata[k];
                if (!lp->name || !*lp->name)
                    return scry_err_set(err, SCRY_EPARSE, "loki push: stream %zu entry %zu: "
                                        "empty structured metadata name", si, ei);
                v[n++] = (struct scry_label){ lp->name, lp->value ? lp->value : "" };
            }
            e->metadata = (struct scry_labels){ v, sort_dedup(v, n) };
        }
    }
    return 0;
}

/* ---- validation --------------------------------------------------------- */

int col_loki_validate_stream(const struct col_loki_limits *lim, const struct scry_labels *ls,
                             struct scry_err *err)
{
    size_t max_n = lim && lim->max_label_names ? lim->max_label_names : 15;
    size_t max_name = lim && lim->max_label_name_bytes ? lim->max_label_name_bytes : 1024;
    size_t max_value = lim && lim->max_label_value_bytes ? lim->max_label_value_bytes : 2048;
    if (ls->n == 0)
        return scry_err_set(err, SCRY_EINVAL, "error at least one label pair is required per "
                            "stream");
    if (ls->n > max_n)
        return scry_err_set(err, SCRY_EINVAL, "stream has %zu label names; limit %zu",
                            ls->n, max_n);
    for (size_t i = 0; i < ls->n; i++) {
        const char *name = ls->v[i].name, *value = ls->v[i].value;
        size_t nlen = strlen(name), vlen = strlen(value);
        if (nlen > max_name)
            return scry_err_set(err, SCRY_EINVAL, "label name too long: %zu bytes (limit %zu): "
                                "'%.64s...'", nlen, max_name, name);
        if (vlen > max_value)
            return scry_err_set(err, SCRY_EINVAL, "label value too long: %zu bytes (limit %zu) "
                                "for label '%.64s'", vlen, max_value, name);
        if (!scry_label_name_valid(name, nlen))
            return scry_err_set(err, SCRY_EINVAL, "invalid label name '%.128s'", name);
        if (i > 0 && strcmp(ls->v[i - 1].name, name) == 0)
            return scry_err_set(err, SCRY_EINVAL, "duplicate label name '%s'", name);
        if (vlen == 0)
            return scry_err_set(err, SCRY_EINVAL, "label '%s' has an empty value", name);
        if (!scry_utf8_valid(value, vlen))
            return scry_err_set(err, SCRY_EINVAL, "label '%s': value is not valid UTF-8", name);
    }
    return 0;
}
