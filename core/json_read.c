/* json_read.c — the JSON parser behind core/json_read.h.
 *
 * Design, driven by OTLP/JSON and Loki push bodies of many megabytes:
 *
 *   - The input is copied into the arena once, followed by 8 NUL bytes. The
 *     NUL after the last byte is a sentinel: no JSON token continues through
 *     a NUL, so the hot loops (whitespace, digits, string bytes) need no
 *     bounds check; whoever stops on a NUL asks "is this the end?" only then.
 *     The 8 bytes also let the string scanner load 8 bytes at a time.
 *   - Strings are slices of that copy. A plain string (no escapes, valid
 *     UTF-8) costs nothing but its scan; its closing quote becomes its NUL
 *     terminator. An escaped string is unescaped in place, which is safe
 *     because every escape is at least as long as what it decodes to. Only a
 *     string with invalid UTF-8 (each bad byte grows to a 3-byte U+FFFD) gets
 *     a fresh arena buffer.
 *   - The parser is a loop with an explicit stack of open containers, so
 *     nesting costs heap, not C stack, and is bounded by max_depth. Children
 *     of open containers are collected on one scratch stack (a malloc'd
 *     buffer reused for the whole parse) and copied into one contiguous arena
 *     array when their container closes: arrays are indexable and no value
 *     costs a malloc.
 *   - Numbers keep their text. The double is computed on the spot with
 *     Clinger's fast path (≤ 19 significant digits, value < 2^53, |exp| ≤ 22:
 *     one exact multiply or divide, correctly rounded), else strtod_l in the
 *     C locale. Integer getters re-read the digits, so int64s never pass
 *     through a double.
 *
 * Numbers (bench/jsonbench.c, 10 MB OTLP-metrics-like document, gcc 12 -O2,
 * a 2-vCPU VM under load average 5–9): about 14.7 instructions per input
 * byte (callgrind); median 390 MB/s parsing into a reused arena (-w). Into a
 * fresh arena it drops to ~50 MB/s on that VM: the DOM is 2.5 bytes per input
 * byte plus the 1-byte copy, and first-touch page faults on 35 MB dominate
 * (glibc returns freed arena blocks to the kernel). Ingest workers should
 * therefore keep one arena across requests whose first block fits the DOM
 * (scry_arena_reset keeps only the first block).
 *
 * Reading values out of the DOM (lookups, typed getters, writing back) is
 * in json_value.c. */
#include "core/json_read.h"
#include "core/json_read_internal.h"
#include "core/mem.h"

#include <assert.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAD 8 /* sentinel NULs after the copy; the string scanner loads 8 bytes */

struct frame {
    size_t slot;  /* scratch offset of the container's own scry_jval */
    size_t start; /* scratch offset of its first child */
    bool obj;
};

struct parser {
    char *base, *end;  /* the arena copy; *end is the NUL sentinel */
    const char *orig;  /* the caller's bytes, unmodified, for line/col */
    struct scry_arena *a;
    char *scratch;     /* children of open containers */
    size_t used, cap;
    struct frame *frames;
    int n_frames, cap_frames;
    struct scry_err *err;
};

/* ---------------------------------------------------------------- errors */

/* Writes c as Go's scanner quotes it (quoteChar: strconv.Quote of the byte
 * taken as a rune, in single quotes), so our messages match Go's byte for
 * byte: 'x', '\n', '\x01', '\'' , '"', 'é', '\u0080'. */
static void quote_char(unsigned char c, char *q, size_t len)
{
    static const char short_esc[] = "\a\b\f\n\r\t\v";
    static const char short_name[] = "abfnrtv";
    const char *e = c ? strchr(short_esc, c) : NULL;
    if (c == '\'')
        snprintf(q, len, "'\\''");
    else if (e)
        snprintf(q, len, "'\\%c'", short_name[e - short_esc]);
    else if (c < 0x20 || c == 0x7f)
        snprintf(q, len, "'\\x%02x'", c);
    else if (c < 0x80)
        snprintf(q, len, "'%c'", c);
    else if (c <= 0xa0 || c == 0xad) /* not printable in Go: C1 controls, NBSP, SHY */
        snprintf(q, len, "'\\u%04x'", c);
    else
        snprintf(q, len, "'%c%c'", 0xc0 | (c >> 6), 0x80 | (c & 0x3f));
}

static int fail_at(struct parser *ps, const char *at, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The position is computed only here, from the caller's untouched bytes:
 * counting lines while parsing would tax every document for the rare bad one,
 * and the copy may already hold unescaped newlines. */
static int fail_at(struct parser *ps, const char *at, int code, const char *fmt, ...)
{
    struct scry_err *err = ps->err;
    if (!err)
        return code;
    size_t off = (size_t)(at - ps->base);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    err->offset = off;
    int line = 1;
    size_t line_start = 0;
    for (const char *p = ps->orig, *e = ps->orig + off;
         (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++) {
        line++;
        line_start = (size_t)(p - ps->orig) + 1;
    }
    scry_err_pos(err, NULL, line, (int)(off - line_start) + 1);
    return code;
}

/* An unexpected byte at at, or the end of the input if at is the sentinel. */
static __attribute__((noinline)) int bad_char(struct parser *ps, const char *at,
                                              const char *context)
{
    if (at >= ps->end)
        return fail_at(ps, ps->end, SCRY_EPARSE, "unexpected end of JSON input");
    char q[16];
    quote_char((unsigned char)*at, q, sizeof q);
    return fail_at(ps, at, SCRY_EPARSE, "invalid character %s %s", q, context);
}

/* ---------------------------------------------------------------- scratch */

static __attribute__((noinline)) void scratch_grow(struct parser *ps, size_t len)
{
    size_t cap = ps->cap ? ps->cap : 16384;
    while (cap - ps->used < len)
        cap *= 2;
    ps->scratch = scry_realloc(ps->scratch, cap);
    ps->cap = cap;
}

static inline size_t scratch_push(struct parser *ps, size_t len)
{
    if (ps->cap - ps->used < len)
        scratch_grow(ps, len);
    size_t off = ps->used;
    ps->used += len;
    return off;
}

static inline struct scry_jval *slot_at(struct parser *ps, size_t off)
{
    return (struct scry_jval *)(void *)(ps->scratch + off);
}

/* ---------------------------------------------------------------- strings */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Advances p to the first byte that needs a look: '"', '\\', a control
 * character (which includes the NUL sentinel) or a non-ASCII byte. Eight
 * bytes per step; the has-zero-byte trick can flag false positives only in
 * bytes after a true one, so the lowest flagged byte is exact. */
static inline char *scan_plain(char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (;;) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
        uint64_t m = ((q - ONES) & ~q) | ((b - ONES) & ~b) | ((x - ONES * 0x20) & ~x) | x;
        m &= HIGHS;
        if (m)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#else
    for (;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
            return p;
    }
#endif
}

/* Length of the valid UTF-8 sequence at s, or 0 if none starts there (bad
 * lead, truncated, overlong, surrogate, above U+10FFFF): Go's DecodeRune
 * returning (RuneError, 1). Reads at most 3 bytes past s, which the
 * sentinel padding makes safe; a NUL is never a continuation byte. */
static inline int utf8_len(const char *z)
{
    const unsigned char *s = (const unsigned char *)z;
    unsigned c = s[0];
    if (c < 0xc2)
        return 0;
    if (c < 0xe0)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c < 0xf0) {
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c < 0xf5) {
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

static uint32_t hex4(const char *p)
{
    return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

static int put_utf8(char *w, uint32_t cp)
{
    if (cp < 0x80) {
        w[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        w[0] = (char)(0xc0 | cp >> 6);
        w[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        w[0] = (char)(0xe0 | cp >> 12);
        w[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        w[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    w[0] = (char)(0xf0 | cp >> 18);
    w[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    w[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    w[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Pass 1 of the slow path: from p, finds the closing quote, checks escapes
 * and control characters, and counts bytes of invalid UTF-8. */
static int string_check(struct parser *ps, char *p, char **close, size_t *n_bad)
{
    for (;;) {
        p = scan_plain(p);
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c == '\\') {
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                continue;
            case 'u':
                for (int i = 2; i < 6; i++)
                    if (hexval(p[i]) < 0)
                        return bad_char(ps, p + i, "in \\u hexadecimal character escape");
                p += 6;
                continue;
            default:
                return bad_char(ps, p + 1, "in string escape code");
            }
        }
        if (c < 0x20)
            return bad_char(ps, p, "in string literal");
        int n = utf8_len(p);
        *n_bad += n == 0;
        p += n ? n : 1;
    }
    *close = p;
    return 0;
}

/* The escape letters' values; 0 for letters string_check has rejected. */
static char unescape(char e)
{
    switch (e) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return e; /* '"', '\\', '/' */
    }
}

/* Pass 2: decodes [r, close) to w, Go's unquote rules for surrogates: a high
 * surrogate followed by a \u low surrogate is one code point; any other
 * surrogate is U+FFFD and the escape after it is decoded on its own. */
static char *string_decode(char *w, const char *r, const char *close)
{
    while (r < close) {
        unsigned char c = (unsigned char)*r;
        if (c == '\\') {
            if (r[1] != 'u') {
                *w++ = unescape(r[1]);
                r += 2;
                continue;
            }
            uint32_t cp = hex4(r + 2);
            r += 6;
            if (cp >= 0xd800 && cp < 0xe000) {
                uint32_t lo = 0;
                if (cp < 0xdc00 && r < close && r[0] == '\\' && r[1] == 'u')
                    lo = hex4(r + 2);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    r += 6;
                } else {
                    cp = 0xfffd;
                }
            }
            w += put_utf8(w, cp);
        } else if (c >= 0x80) {
            int n = utf8_len(r);
            if (n) {
                memmove(w, r, (size_t)n);
                w += n;
                r += n;
            } else {
                w += put_utf8(w, 0xfffd);
                r++;
            }
        } else {
            /* A run of plain bytes: string_check has seen no '"' or control
             * byte before close, so scan_plain stops at the next escape,
             * non-ASCII byte or close, 8 bytes a step (escaped lines, such
             * as JSON logs pushed to Loki, were decoded a byte at a time). */
            const char *q = scan_plain((char *)r);
            assert(q > r && q <= close);
            memmove(w, r, (size_t)(q - r));
            w += q - r;
            r = q;
        }
    }
    return w;
}

/* string_slow met invalid UTF-8 at r: [s, w) is decoded, [r, close) is
 * not. Both go to a fresh buffer with room for the U+FFFDs. */
static __attribute__((noinline)) int string_bad_utf8(struct parser *ps, const char *s,
                                                     const char *w, char *r, char **pp,
                                                     struct scry_str *out)
{
    char *close = NULL;
    size_t n_bad = 0;
    int rc = string_check(ps, r, &close, &n_bad);
    if (rc < 0)
        return rc;
    assert(n_bad > 0);
    size_t pre = (size_t)(w - s);
    /* Each bad byte becomes 3; escapes only shrink, so this is enough. */
    char *dst = scry_arena_alloc(ps->a, pre + (size_t)(close - r) + 2 * n_bad + 1);
    memcpy(dst, s, pre);
    char *end = string_decode(dst + pre, r, close);
    *end = 0;
    out->p = dst;
    out->len = (size_t)(end - dst);
    *pp = close + 1;
    return 0;
}

/* One escape at r (after string_check's rules): its bytes written at *w;
 * returns the bytes read, or a negative error. A \u high surrogate takes a
 * \u low one after it (Go's unquote); any other surrogate is U+FFFD and the
 * escape after it is decoded on its own. */
static int escape_at(struct parser *ps, const char *r, char **w)
{
    char e = r[1];
    switch (e) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        *(*w)++ = unescape(e);
        return 2;
    case 'u':
        break;
    default:
        return bad_char(ps, r + 1, "in string escape code");
    }
    for (int i = 2; i < 6; i++)
        if (hexval(r[i]) < 0)
            return bad_char(ps, r + i, "in \\u hexadecimal character escape");
    uint32_t cp = hex4(r + 2);
    int n = 6;
    if (cp >= 0xd800 && cp < 0xe000) {
        uint32_t lo = 0;
        if (cp < 0xdc00 && r[6] == '\\' && r[7] == 'u' && hexval(r[8]) >= 0 &&
            hexval(r[9]) >= 0 && hexval(r[10]) >= 0 && hexval(r[11]) >= 0)
            lo = hex4(r + 8);
        if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            n = 12;
        } else {
            cp = 0xfffd;
        }
    }
    *w += put_utf8(*w, cp);
    return n;
}

/* s: first byte of the string; p: the first byte the fast path could not
 * take. Everything in [s, p) is plain and stays where it is. One pass
 * checks and unescapes in place (the write cursor w never passes the read
 * cursor r: no step writes more bytes than it has read, and each reads
 * before it writes; bytes from r on are the input's). Only invalid UTF-8,
 * whose bytes grow to 3, goes to a fresh buffer: string_check then measures
 * the rest and string_decode finishes it there. Escaped strings are most
 * Loki push lines (quotes in access logs, JSON logs): checking and then
 * decoding in two passes was ~15 % of the push path's CPU. */
static __attribute__((noinline)) int string_slow(struct parser *ps, char *s, char *p, char **pp,
                                                 struct scry_str *out)
{
    char *w = p, *r = p;
    for (;;) {
        char *q = scan_plain(r);
        if (q > r) {
            memmove(w, r, (size_t)(q - r));
            w += q - r;
            r = q;
        }
        unsigned char c = (unsigned char)*r;
        if (c == '"')
            break;
        if (c == '\\') {
            int n = escape_at(ps, r, &w);
            if (n < 0)
                return n;
            r += n;
            assert(w <= r);
            continue;
        }
        if (c < 0x20)
            return bad_char(ps, r, "in string literal");
        int n = utf8_len(r);
        if (n == 0)
            return string_bad_utf8(ps, s, w, r, pp, out);
        memmove(w, r, (size_t)n);
        w += n;
        r += n;
    }
    *w = 0;
    out->p = s;
    out->len = (size_t)(w - s);
    *pp = r + 1;
    return 0;
}

/* *pp is just after the opening quote; on success it is after the closing
 * one. The common case — ASCII or valid UTF-8 without escapes — stays here
 * and costs one scan; its closing quote becomes its NUL terminator. */
static inline int string(struct parser *ps, char **pp, struct scry_str *out)
{
    char *s = *pp, *p = s;
    for (;;) {
        p = scan_plain(p);
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *p = 0;
            out->p = s;
            out->len = (size_t)(p - s);
            *pp = p + 1;
            return 0;
        }
        if (c < 0x80)
            break;
        int n = utf8_len(p);
        if (!n)
            break;
        p += n;
    }
    return string_slow(ps, s, p, pp, out);
}

/* ---------------------------------------------------------------- numbers */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    SCRY_ASSERT(c_locale != (locale_t)0);
}

/* strtod, but never with a ',' decimal point whatever setlocale() said. */
double scry__json_strtod_c(const char *s, char **end)
{
    pthread_once(&c_locale_once, c_locale_init);
    return strtod_l(s, end, c_locale);
}

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Scans a number at *pp (known to start with '-' or a digit) into v. */
static inline int number(struct parser *ps, char **pp, struct scry_jval *v)
{
    char *s = *pp, *p = s;
    uint64_t m = 0;        /* up to 19 significant digits */
    int nd = 0;            /* significant digits in m */
    int64_t e10 = 0;       /* value = m * 10^e10, when exact */
    bool exact = true;     /* no nonzero digit was dropped */
    if (*p == '-')
        p++;
    if (*p == '0') {
        p++;
    } else if (is_digit(*p)) {
        do {
            unsigned d = (unsigned)(*p++ - '0');
            if (nd < 19) {
                m = m * 10 + d;
                nd++;
            } else {
                e10++;
                exact &= d == 0;
            }
        } while (is_digit(*p));
    } else {
        return bad_char(ps, p, "in numeric literal");
    }
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return bad_char(ps, p, "after decimal point in numeric literal");
        do {
            unsigned d = (unsigned)(*p++ - '0');
            if (nd < 19) {
                m = m * 10 + d;
                nd += m != 0; /* leading zeros of 0.000123 are not significant */
                e10--;
            } else {
                exact &= d == 0;
            }
        } while (is_digit(*p));
    }
    if ((*p | 0x20) == 'e') {
        p++;
        bool eneg = *p == '-';
        if (*p == '-' || *p == '+')
            p++;
        if (!is_digit(*p))
            return bad_char(ps, p, "in exponent of numeric literal");
        int64_t ex = 0;
        do {
            if (ex < EXP_CAP) /* beyond any double; keeps e10 from overflowing */
                ex = ex * 10 + (*p - '0');
            p++;
        } while (is_digit(*p));
        e10 += eneg ? -ex : ex;
    }
    double d;
    if (m == 0 && exact) {
        d = 0.0;
    } else if (exact && m <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
        d = e10 < 0 ? (double)m / pow10_exact[-e10] : (double)m * pow10_exact[e10];
    } else {
        /* The byte after the number is a delimiter we have not consumed;
         * borrow it as strtod's terminator. */
        char save = *p;
        *p = 0;
        d = scry__json_strtod_c(s + (*s == '-'), NULL);
        *p = save;
    }
    if (*s == '-')
        d = -d;
    v->type = SCRY_JSON_NUMBER;
    v->u.s = s;
    v->n = (size_t)(p - s);
    v->d = d;
    *pp = p;
    return 0;
}

/* ---------------------------------------------------------------- parser */

static inline char *skip_ws(char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static int literal(struct parser *ps, char **pp, const char *word, size_t len)
{
    char *p = *pp;
    for (size_t i = 1; i < len; i++) {
        if (p[i] != word[i]) {
            char ctx[64], q[16];
            quote_char((unsigned char)word[i], q, sizeof q);
            snprintf(ctx, sizeof ctx, "in literal %s (expecting %s)", word, q);
            return bad_char(ps, p + i, ctx);
        }
    }
    *pp = p + len;
    return 0;
}

static int push_frame(struct parser *ps, const char *at, int max_depth, size_t slot, bool obj)
{
    if (ps->n_frames >= max_depth)
        return fail_at(ps, at, SCRY_ELIMIT, "exceeded max nesting depth (%d)", max_depth);
    if (ps->n_frames == ps->cap_frames) {
        ps->cap_frames = ps->cap_frames ? 2 * ps->cap_frames : 32;
        ps->frames = scry_realloc(ps->frames, (size_t)ps->cap_frames * sizeof *ps->frames);
    }
    ps->frames[ps->n_frames++] = (struct frame){ .slot = slot, .start = ps->used, .obj = obj };
    return 0;
}

/* Moves the innermost container's children from the scratch stack into one
 * arena array and completes the container's own value. */
static void close_frame(struct parser *ps)
{
    assert(ps->n_frames > 0);
    struct frame f = ps->frames[--ps->n_frames];
    size_t elem = f.obj ? sizeof(struct scry_jmember) : sizeof(struct scry_jval);
    size_t bytes = ps->used - f.start;
    assert(bytes % elem == 0);
    void *mem = NULL;
    if (bytes) {
        mem = scry_arena_alloc(ps->a, bytes);
        memcpy(mem, ps->scratch + f.start, bytes);
    }
    ps->used = f.start;
    struct scry_jval *v = slot_at(ps, f.slot);
    v->type = f.obj ? SCRY_JSON_OBJECT : SCRY_JSON_ARRAY;
    v->n = bytes / elem;
    if (f.obj)
        v->u.obj = mem;
    else
        v->u.arr = mem;
}

/* Reads an object key and its colon; leaves a member slot on the scratch
 * stack and returns the offset of the member's value. */
static int member(struct parser *ps, char **pp, size_t *slot)
{
    char *p = *pp;
    if (*p != '"')
        return bad_char(ps, p, "looking for beginning of object key string");
    p++;
    struct scry_str key;
    int rc = string(ps, &p, &key);
    if (rc < 0)
        return rc;
    size_t off = scratch_push(ps, sizeof(struct scry_jmember));
    struct scry_jmember *m = (struct scry_jmember *)(void *)(ps->scratch + off);
    m->key = key;
    p = skip_ws(p);
    if (*p != ':')
        return bad_char(ps, p, "after object key");
    *pp = p + 1;
    *slot = off + offsetof(struct scry_jmember, val);
    return 0;
}

/* The state machine: `value` expects a value for the slot at `slot`, `next`
 * follows a complete value. Every error returns at once; the caller frees. */
static int parse(struct parser *ps, int max_depth)
{
    char *p = ps->base;
    size_t slot = scratch_push(ps, sizeof(struct scry_jval)); /* the root */
    int rc;
value:
    p = skip_ws(p);
    switch (*p) {
    case '{':
        if ((rc = push_frame(ps, p, max_depth, slot, true)) < 0)
            return rc;
        p = skip_ws(p + 1);
        if (*p == '}') {
            p++;
            close_frame(ps);
            goto next;
        }
        if ((rc = member(ps, &p, &slot)) < 0)
            return rc;
        goto value;
    case '[':
        if ((rc = push_frame(ps, p, max_depth, slot, false)) < 0)
            return rc;
        p = skip_ws(p + 1);
        if (*p == ']') {
            p++;
            close_frame(ps);
            goto next;
        }
        slot = scratch_push(ps, sizeof(struct scry_jval));
        goto value;
    case '"': {
        struct scry_str s;
        p++;
        if ((rc = string(ps, &p, &s)) < 0)
            return rc;
        struct scry_jval *v = slot_at(ps, slot);
        *v = (struct scry_jval){ .type = SCRY_JSON_STRING, .n = s.len, .u.s = s.p };
        goto next;
    }
    case 't':
    case 'f': {
        bool b = *p == 't';
        if ((rc = literal(ps, &p, b ? "true" : "false", b ? 4 : 5)) < 0)
            return rc;
        *slot_at(ps, slot) = (struct scry_jval){ .type = SCRY_JSON_BOOL, .b = b };
        goto next;
    }
    case 'n':
        if ((rc = literal(ps, &p, "null", 4)) < 0)
            return rc;
        *slot_at(ps, slot) = (struct scry_jval){ .type = SCRY_JSON_NULL };
        goto next;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if ((rc = number(ps, &p, slot_at(ps, slot))) < 0)
            return rc;
        goto next;
    default:
        return bad_char(ps, p, "looking for beginning of value");
    }
next:
    if (ps->n_frames == 0)
        goto done;
    p = skip_ws(p);
    if (ps->frames[ps->n_frames - 1].obj) {
        if (*p == ',') {
            p = skip_ws(p + 1);
            if ((rc = member(ps, &p, &slot)) < 0)
                return rc;
            goto value;
        }
        if (*p == '}') {
            p++;
            close_frame(ps);
            goto next;
        }
        return bad_char(ps, p, "after object key:value pair");
    }
    if (*p == ',') {
        p++;
        slot = scratch_push(ps, sizeof(struct scry_jval));
        goto value;
    }
    if (*p == ']') {
        p++;
        close_frame(ps);
        goto next;
    }
    return bad_char(ps, p, "after array element");
done:
    p = skip_ws(p);
    if (p != ps->end)
        return bad_char(ps, p, "after top-level value");
    assert(ps->used == sizeof(struct scry_jval));
    return 0;
}

int scry_json_parse(struct scry_arena *a, const char *p, size_t len,
                    const struct scry_json_parse_opts *opts, struct scry_jval **out,
                    struct scry_err *err)
{
    if (!a || (!p && len) || !out)
        return scry_err_set(err, SCRY_EINVAL, "scry_json_parse: bad arguments");
    int max_depth = opts && opts->max_depth > 0 ? opts->max_depth : SCRY_JSON_PARSE_MAX_DEPTH;
    size_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : SIZE_MAX - PAD;
    if (len > max_bytes || len > SIZE_MAX - PAD)
        return scry_err_set(err, SCRY_ELIMIT, "JSON input of %zu bytes exceeds the limit of %zu",
                            len, max_bytes);
    struct parser ps = { .orig = p, .a = a, .err = err };
    ps.base = scry_arena_alloc(a, len + PAD);
    if (len)
        memcpy(ps.base, p, len);
    memset(ps.base + len, 0, PAD);
    ps.end = ps.base + len;
    int rc = parse(&ps, max_depth);
    if (rc == 0) {
        struct scry_jval *root = scry_arena_alloc(a, sizeof *root);
        *root = *slot_at(&ps, 0);
        *out = root;
    }
    free(ps.scratch);
    free(ps.frames);
    return rc;
}
