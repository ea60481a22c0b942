/* expfmt_internal.h — shared by expfmt.c, expfmt_text.c and expfmt_om.c. */
#ifndef SCRY_COLLECTOR_EXPFMT_INTERNAL_H
#define SCRY_COLLECTOR_EXPFMT_INTERNAL_H

#include <string.h>

#include "collector/expfmt.h"

/* Byte classes, one table lookup per byte on the hot path. */
enum {
    COL__MSTART = 1, /* [a-zA-Z_:] metric name start */
    COL__MCONT = 2,  /* [a-zA-Z0-9_:] */
    COL__LSTART = 4, /* [a-zA-Z_] label name start */
    COL__LCONT = 8,  /* [a-zA-Z0-9_] */
    COL__VSTOP = 16, /* '"', '\\', '\n' and bytes >= 0x80 inside a label value */
    COL__WS = 32,    /* ' ', '\t' */
    COL__VPLAIN = 64,  /* a label value byte needing no attention: not COL__VSTOP */
    COL__TVAL = 128,   /* text format value token: [^{ \t\n] */
    COL__OMVAL = 256,  /* OpenMetrics value/timestamp token: [^ \n] */
};
extern const unsigned short col__expfmt_cls[256];

#define COL__IS(c, k) (col__expfmt_cls[(unsigned char)(c)] & (k))

/* Skips bytes of class cls; returns the first other byte or end. Four
 * bytes per bound check: scanning is most of the parser's time. */
static inline const char *col__expfmt_scan(const char *s, const char *end, unsigned cls)
{
    while (end - s >= 4) {
        if (!COL__IS(s[0], cls))
            return s;
        if (!COL__IS(s[1], cls))
            return s + 1;
        if (!COL__IS(s[2], cls))
            return s + 2;
        if (!COL__IS(s[3], cls))
            return s + 3;
        s += 4;
    }
    while (s < end && COL__IS(*s, cls))
        s++;
    return s;
}

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Scans name bytes ([a-zA-Z0-9_], plus ':' for metric names) from s.
 * With SSE2 (every x86-64) 16 bytes per step while 16 remain: node_exporter
 * names average 25 bytes, and the scalar loop cost ~4.5 instructions a byte. */
static inline const char *col__expfmt_scan_name(const char *s, const char *end, bool metric)
{
#ifdef __SSE2__
    while (end - s >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        __m128i lo = _mm_or_si128(v, _mm_set1_epi8(0x20)); /* A-Z -> a-z */
        __m128i letter = _mm_cmplt_epi8(_mm_sub_epi8(lo, _mm_set1_epi8((char)('a' + 128))),
                                        _mm_set1_epi8(-128 + 26));
        __m128i digit = _mm_cmplt_epi8(_mm_sub_epi8(v, _mm_set1_epi8((char)('0' + 128))),
                                       _mm_set1_epi8(-128 + 10));
        __m128i ok = _mm_or_si128(_mm_or_si128(letter, digit),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
        if (metric)
            ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8(':')));
        unsigned mask = (unsigned)_mm_movemask_epi8(ok) ^ 0xffffu;
        if (mask)
            return s + __builtin_ctz(mask);
        s += 16;
    }
#endif
    return col__expfmt_scan(s, end, metric ? COL__MCONT : COL__LCONT);
}

/* Scans label value bytes up to '"', '\\', '\n' or a byte >= 0x80. */
static inline const char *col__expfmt_scan_vplain(const char *s, const char *end)
{
#ifdef __SSE2__
    while (end - s >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        __m128i stop = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
            _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
        unsigned mask = (unsigned)_mm_movemask_epi8(stop) | (unsigned)_mm_movemask_epi8(v);
        if (mask)
            return s + __builtin_ctz(mask);
        s += 16;
    }
#endif
    return col__expfmt_scan(s, end, COL__VPLAIN);
}

/* True if name occurs among labels [0, n). Quadratic, but n is ~5 on real
 * targets; a hash set would cost more. */
static inline bool col__expfmt_has(const struct col_expfmt_label *v, size_t n,
                                   struct scry_str name)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].name.len == name.len && v[i].name.p[0] == name.p[0] &&
            memcmp(v[i].name.p, name.p, name.len) == 0)
            return true;
    return false;
}

/* True if name is "__name__". */
static inline bool col__expfmt_is_name_label(struct scry_str name)
{
    return name.len == 8 && memcmp(name.p, "__name__", 8) == 0;
}

/* s equals the literal lit (a string constant). */
#define COL__EQ_LIT(s, lit) ((s).len == sizeof(lit) - 1 && memcmp((s).p, lit, sizeof(lit) - 1) == 0)

/* Whether p[0, len) is valid UTF-8, eight ASCII bytes per step first:
 * HELP texts are long and almost always ASCII. */
bool col__expfmt_utf8_valid(const char *p, size_t len);

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
        s = col__expfmt_scan_vplain(s, end);
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
