/* expfmt_internal.h — shared by expfmt.c, expfmt_text.c and expfmt_om.c. */
#ifndef SCRY_COLLECTOR_EXPFMT_INTERNAL_H
#define SCRY_COLLECTOR_EXPFMT_INTERNAL_H

#include "collector/expfmt.h"

/* Byte classes, one table lookup per byte on the hot path. */
enum {
    COL__MSTART = 1, /* [a-zA-Z_:] metric name start */
    COL__MCONT = 2,  /* [a-zA-Z0-9_:] */
    COL__LSTART = 4, /* [a-zA-Z_] label name start */
    COL__LCONT = 8,  /* [a-zA-Z0-9_] */
    COL__VSTOP = 16, /* '"', '\\', '\n' and bytes >= 0x80 inside a label value */
    COL__WS = 32,    /* ' ', '\t' */
};
extern const unsigned char col__expfmt_cls[256];

#define COL__IS(c, k) (col__expfmt_cls[(unsigned char)(c)] & (k))

/* Fails the parse at byte `at` with "line N: <fmt>"; sticky. Returns
 * COL_EXPFMT_ERROR. Cold. */
int col__expfmt_fail(struct col_expfmt_parser *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), cold, noinline));
/* "line N: <expected>, got "<token at at>"" (or "got end of input"). */
int col__expfmt_fail_got(struct col_expfmt_parser *p, const char *at, const char *expected)
    __attribute__((cold, noinline));

/* Writes s as a double-quoted string with \n, \t, \", \\ and \xNN
 * escapes, cut to fit cap (at least 8). */
void col__expfmt_quote(const char *s, size_t len, char *out, size_t cap);
#define COL__QUOTE_MAX 120 /* buffer for a quoted token in a message */

/* Parses a Prometheus float (Go strconv.ParseFloat without hex, 'p' or '_';
 * Inf/Infinity/NaN in any case). Returns 0, -1 for bad syntax, -2 when the
 * value overflows to ±Inf. */
int col__expfmt_float(const char *s, size_t len, double *out);

/* Returns slot i of the label array, growing it when i is past the end. */
struct col_expfmt_label *col__expfmt_label_grow(struct col_expfmt_parser *p, size_t i)
    __attribute__((noinline));
static inline struct col_expfmt_label *col__expfmt_label(struct col_expfmt_parser *p, size_t i)
{
    return i < p->lab_cap ? &p->lab[i] : col__expfmt_label_grow(p, i);
}

/* True if name occurs among labels [0, n). */
bool col__expfmt_dup(const struct col_expfmt_label *v, size_t n, struct scry_str name);

/* Records that the byte at `nl` is a newline. */
static inline void col__expfmt_newline(struct col_expfmt_parser *p, const char *nl)
{
    p->line++;
    p->line_start = nl + 1;
}

/* Scans a label value that starts after the opening quote at s. Returns
 * the closing quote, or NULL if the value is unterminated (or, unless
 * newlines are allowed, holds a raw newline). Sets *escaped when the value
 * holds a backslash and *high when it holds bytes >= 0x80 (so UTF-8 is
 * checked only then). Counts raw newlines into p's line number. */
static inline const char *col__expfmt_scan_value(struct col_expfmt_parser *p, const char *s,
                                                 bool newlines, bool *escaped, bool *high)
{
    const char *end = p->end;
    for (;;) {
        while (s < end && !COL__IS(*s, COL__VSTOP))
            s++;
        if (s == end)
            return NULL;
        switch (*s) {
        case '"':
            return s;
        case '\\':
            *escaped = true;
            if (s + 1 == end || (s[1] == '\n' && !newlines))
                return NULL;
            if (s[1] == '\n')
                col__expfmt_newline(p, s + 1);
            s += 2;
            break;
        case '\n':
            if (!newlines)
                return NULL;
            col__expfmt_newline(p, s);
            s++;
            break;
        default:
            *high = true;
            s++;
        }
    }
}

/* Whether name is family + "_created" for a family type that has them. */
bool col__expfmt_is_created(const struct col_expfmt_parser *p, struct scry_str name);

int col__expfmt_next_text(struct col_expfmt_parser *p);
int col__expfmt_next_om(struct col_expfmt_parser *p);

#endif
