/* promql_lex.c — the PromQL tokenizer.
 *
 * A port of the state machine in Prometheus's promql/parser/lex.go, written
 * as loops instead of state functions. It is worth copying closely rather
 * than writing a "cleaner" lexer: many of PromQL's user-visible errors are
 * the lexer's ("unclosed left parenthesis", "unexpected right parenthesis
 * ')'", "bad number or duration syntax: \"5mm\""), with positions that
 * follow from when the lexer notices. Errors are positioned at `start`,
 * which after an emitted token is the byte after it — hence
 * "1:8: … unexpected right parenthesis ')'" for `sum(x))`.
 *
 * Tokens are slices of the input; nothing is copied except error messages. */
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "query/promql_internal.h"

/* ---- characters -------------------------------------------------------- */

static bool is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_alpha(int c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_alnum(int c) { return is_alpha(c) || is_digit(c); }

#define EOF_CH (-1)

static int peek_at(const struct pql_lexer *l, size_t pos)
{
    return pos < l->len ? (unsigned char)l->in[pos] : EOF_CH;
}
static int peek(const struct pql_lexer *l) { return peek_at(l, l->pos); }

/* Byte-wise next/backup. Go's lexer reads runes, but every decision it
 * takes on a non-ASCII rune is "not one of ours", which the first byte of
 * the sequence decides just as well. At end of input nothing is consumed,
 * so backup() after reading EOF is a no-op, as in Go. */
static int next(struct pql_lexer *l)
{
    int c = peek(l);
    l->width = c == EOF_CH ? 0 : 1;
    l->pos += l->width;
    return c;
}
static void backup(struct pql_lexer *l) { l->pos -= l->width; }
static bool accept(struct pql_lexer *l, const char *valid)
{
    int c = next(l);
    if (c != EOF_CH && c != 0 && strchr(valid, c))
        return true;
    backup(l);
    return false;
}
static bool is_in(const struct pql_lexer *l, const char *valid)
{
    int c = peek(l);
    return c != EOF_CH && c != 0 && strchr(valid, c) != NULL;
}

uint32_t pql__utf8_decode(const char *s, size_t n, size_t *w)
{
    const unsigned char *p = (const unsigned char *)s;
    *w = 1;
    if (n == 0)
        return 0xFFFD;
    if (p[0] < 0x80)
        return p[0];
    int need;
    uint32_t r, min;
    if ((p[0] & 0xE0) == 0xC0) {
        need = 1, r = p[0] & 0x1F, min = 0x80;
    } else if ((p[0] & 0xF0) == 0xE0) {
        need = 2, r = p[0] & 0x0F, min = 0x800;
    } else if ((p[0] & 0xF8) == 0xF0) {
        need = 3, r = p[0] & 0x07, min = 0x10000;
    } else {
        return 0xFFFD;
    }
    if ((size_t)need >= n)
        return 0xFFFD;
    for (int i = 1; i <= need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0xFFFD;
        r = (r << 6) | (p[i] & 0x3F);
    }
    if (r < min || r > 0x10FFFF || (r >= 0xD800 && r < 0xE000))
        return 0xFFFD;
    *w = (size_t)need + 1;
    return r;
}

void pql__utf8_encode(uint32_t r, struct scry_buf *out)
{
    char b[4];
    if (r < 0x80) {
        scry_buf_putc(out, (char)r);
    } else if (r < 0x800) {
        b[0] = (char)(0xC0 | (r >> 6)), b[1] = (char)(0x80 | (r & 0x3F));
        scry_buf_put(out, b, 2);
    } else if (r < 0x10000) {
        b[0] = (char)(0xE0 | (r >> 12)), b[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        b[2] = (char)(0x80 | (r & 0x3F));
        scry_buf_put(out, b, 3);
    } else {
        b[0] = (char)(0xF0 | (r >> 18)), b[1] = (char)(0x80 | ((r >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((r >> 6) & 0x3F)), b[3] = (char)(0x80 | (r & 0x3F));
        scry_buf_put(out, b, 4);
    }
}

/* Go's unicode.IsPrint, approximated: ASCII printables and valid code
 * points from U+00A1 up, minus the spacing and format characters Go treats
 * as unprintable. Only affects how error messages and printed strings
 * escape exotic characters. */
static bool rune_printable(uint32_t r)
{
    if (r < 0x80)
        return r >= 0x20 && r < 0x7F;
    if (r < 0xA1 || r == 0xAD)
        return false;
    if ((r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F) ||
        (r >= 0x205F && r <= 0x206F) || r == 0x3000 || r == 0xFEFF ||
        (r >= 0xFFF9 && r <= 0xFFFB) || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r < 0xE000))
        return false;
    return r <= 0x10FFFF;
}

static void put_escaped_rune(uint32_t r, char quote, struct scry_buf *out)
{
    switch (r) {
    case '\a': scry_buf_puts(out, "\\a"); return;
    case '\b': scry_buf_puts(out, "\\b"); return;
    case '\f': scry_buf_puts(out, "\\f"); return;
    case '\n': scry_buf_puts(out, "\\n"); return;
    case '\r': scry_buf_puts(out, "\\r"); return;
    case '\t': scry_buf_puts(out, "\\t"); return;
    case '\v': scry_buf_puts(out, "\\v"); return;
    case '\\': scry_buf_puts(out, "\\\\"); return;
    }
    if (r == (uint32_t)(unsigned char)quote) {
        scry_buf_putc(out, '\\');
        scry_buf_putc(out, quote);
    } else if (rune_printable(r)) {
        pql__utf8_encode(r, out);
    } else if (r < 0x80) {
        scry_buf_printf(out, "\\x%02x", r);
    } else if (r < 0x10000) {
        scry_buf_printf(out, "\\u%04x", r);
    } else {
        scry_buf_printf(out, "\\U%08x", r);
    }
}

void pql__quote_rune(uint32_t r, struct scry_buf *out)
{
    scry_buf_putc(out, '\'');
    put_escaped_rune(r, '\'', out);
    scry_buf_putc(out, '\'');
}

void pql_quote(const char *s, size_t len, struct scry_buf *out)
{
    scry_buf_putc(out, '"');
    for (size_t i = 0; i < len;) {
        size_t w;
        uint32_t r = pql__utf8_decode(s + i, len - i, &w);
        if (r == 0xFFFD && w == 1) { /* an invalid byte: Go writes \xNN */
            scry_buf_printf(out, "\\x%02x", (unsigned char)s[i]);
            i++;
            continue;
        }
        put_escaped_rune(r, '"', out);
        i += w;
    }
    scry_buf_putc(out, '"');
}

/* ---- emitting ---------------------------------------------------------- */

static bool emit(struct pql_lexer *l, struct pql_token *t, enum pql_tok type)
{
    assert(l->start <= l->pos && l->pos <= l->len);
    t->type = type;
    t->pos = (uint32_t)l->start;
    t->len = (uint32_t)(l->pos - l->start);
    t->msg = NULL;
    l->start = l->pos;
    return true;
}

static bool errorf(struct pql_lexer *l, struct pql_token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool errorf(struct pql_lexer *l, struct pql_token *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    t->type = PQL_T_ERROR;
    t->pos = (uint32_t)l->start;
    t->len = 0;
    t->msg = scry_arena_strdup(l->a, buf);
    l->state = PQL_LEX_DONE;
    return true;
}

/* prefix + Go %q of the rune at byte offset at + suffix. */
static bool error_rune(struct pql_lexer *l, struct pql_token *t, const char *prefix, size_t at,
                       const char *suffix)
{
    struct scry_buf b = { 0 };
    size_t w;
    scry_buf_puts(&b, prefix);
    pql__quote_rune(pql__utf8_decode(l->in + at, l->len - at, &w), &b);
    scry_buf_puts(&b, suffix);
    errorf(l, t, "%s", b.p);
    scry_buf_fini(&b);
    return true;
}

void pql__lex_init(struct pql_lexer *l, struct scry_arena *a, const char *in, size_t len)
{
    memset(l, 0, sizeof(*l));
    l->a = a;
    l->in = in;
    l->len = len;
    l->state = PQL_LEX_STATEMENTS;
}

/* ---- keywords ---------------------------------------------------------- */

static const struct {
    const char *word;
    enum pql_tok tok;
} keywords[] = {
    { "and", PQL_T_LAND }, { "or", PQL_T_LOR }, { "unless", PQL_T_LUNLESS },
    { "atan2", PQL_T_ATAN2 }, { "sum", PQL_T_SUM }, { "avg", PQL_T_AVG },
    { "count", PQL_T_COUNT }, { "min", PQL_T_MIN }, { "max", PQL_T_MAX },
    { "group", PQL_T_GROUP }, { "stddev", PQL_T_STDDEV }, { "stdvar", PQL_T_STDVAR },
    { "topk", PQL_T_TOPK }, { "bottomk", PQL_T_BOTTOMK }, { "count_values", PQL_T_COUNT_VALUES },
    { "quantile", PQL_T_QUANTILE }, { "limitk", PQL_T_LIMITK },
    { "limit_ratio", PQL_T_LIMIT_RATIO }, { "offset", PQL_T_OFFSET },
    { "smoothed", PQL_T_SMOOTHED }, { "anchored", PQL_T_ANCHORED }, { "by", PQL_T_BY },
    { "without", PQL_T_WITHOUT }, { "on", PQL_T_ON }, { "ignoring", PQL_T_IGNORING },
    { "group_left", PQL_T_GROUP_LEFT }, { "group_right", PQL_T_GROUP_RIGHT },
    { "fill", PQL_T_FILL }, { "fill_left", PQL_T_FILL_LEFT }, { "fill_right", PQL_T_FILL_RIGHT },
    { "bool", PQL_T_BOOL }, { "start", PQL_T_START }, { "end", PQL_T_END },
    { "step", PQL_T_STEP }, { "range", PQL_T_RANGE }, { "max_of", PQL_T_MAX_OF },
    { "min_of", PQL_T_MIN_OF },
    { "inf", PQL_T_NUMBER }, { "nan", PQL_T_NUMBER },
};

static bool word_eq_ci(const char *w, size_t n, const char *kw)
{
    if (strlen(kw) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)w[i]) != kw[i])
            return false;
    return true;
}

static int keyword(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
        if (word_eq_ci(w, n, keywords[i].word))
            return (int)keywords[i].tok;
    return -1;
}

static bool followed_by_lparen(const struct pql_lexer *l)
{
    size_t p = l->pos;
    while (p < l->len && is_space((unsigned char)l->in[p]))
        p++;
    return p < l->len && l->in[p] == '(';
}

static bool lex_keyword_or_identifier(struct pql_lexer *l, struct pql_token *t)
{
    while (is_alnum(peek(l)) || peek(l) == ':')
        l->pos++;
    const char *w = l->in + l->start;
    size_t n = l->pos - l->start;
    int kw = keyword(w, n);
    if (kw >= 0) {
        /* fill/fill_left/fill_right are keywords only before '(', so that
         * metrics named fill keep working (as in Prometheus). */
        if ((kw == PQL_T_FILL || kw == PQL_T_FILL_LEFT || kw == PQL_T_FILL_RIGHT) &&
            !followed_by_lparen(l))
            return emit(l, t, PQL_T_IDENT);
        return emit(l, t, (enum pql_tok)kw);
    }
    return emit(l, t, memchr(w, ':', n) ? PQL_T_METRIC_IDENT : PQL_T_IDENT);
}

/* step, range, min, max inside brackets (duration expressions). */
static bool scan_duration_keyword(struct pql_lexer *l, struct pql_token *t)
{
    while (is_alpha(peek(l)))
        l->pos++;
    const char *w = l->in + l->start;
    size_t n = l->pos - l->start;
    if (word_eq_ci(w, n, "step"))
        return emit(l, t, PQL_T_STEP);
    if (word_eq_ci(w, n, "range"))
        return emit(l, t, PQL_T_RANGE);
    if (word_eq_ci(w, n, "min"))
        return emit(l, t, PQL_T_MIN);
    if (word_eq_ci(w, n, "max"))
        return emit(l, t, PQL_T_MAX);
    if (word_eq_ci(w, n, "min_of"))
        return emit(l, t, PQL_T_MIN_OF);
    if (word_eq_ci(w, n, "max_of"))
        return emit(l, t, PQL_T_MAX_OF);
    return false;
}

/* ---- numbers and durations ---------------------------------------------- */

/* Prometheus's scanNumber, step by step: [.][d][d._eE]* with anti-patterns
 * and hex after 0x. The text is not necessarily a valid number (the parser
 * decides); quirks such as "0x1e" at end of input failing are kept. */
static bool scan_number(struct pql_lexer *l)
{
    size_t initial = l->pos;
    const char *digits = "0123456789";
    bool hex = false;
    if (accept(l, "0") && accept(l, "xX")) {
        accept(l, "_");
        digits = "0123456789abcdefABCDEF";
        hex = true;
    }
    char all[40];
    snprintf(all, sizeof(all), "%s._eE", digits);
    accept(l, ".");
    accept(l, digits);
    bool dot = false, expo = false;
    while (is_in(l, all)) {
        if (is_in(l, ".") && dot) {
            accept(l, ".");
            return false;
        }
        if (is_in(l, "eE") && expo) {
            accept(l, "eE");
            return false;
        }
        if (accept(l, ".")) {
            dot = true;
            if (accept(l, "_."))
                return false;
            if (hex)
                return false;
            continue;
        }
        if (accept(l, "eE")) {
            expo = true;
            accept(l, "+-");
            if (accept(l, "._eE") || peek(l) == EOF_CH)
                return false;
            continue;
        }
        if (accept(l, "_")) {
            if (accept(l, "._eE") || peek(l) == EOF_CH)
                return false;
            continue;
        }
        while (accept(l, digits)) {
        }
    }
    if (l->pos == initial)
        return false;
    return !is_alnum(peek(l));
}

static bool accept_remaining_duration(struct pql_lexer *l)
{
    if (!accept(l, "smhdwy"))
        return false;
    accept(l, "s");
    while (accept(l, "0123456789")) {
        while (accept(l, "0123456789")) {
        }
        if (!accept(l, "smhdw"))
            return false;
        accept(l, "s");
    }
    return !is_alnum(next(l));
}

static bool lex_number_or_duration(struct pql_lexer *l, struct pql_token *t)
{
    l->state = PQL_LEX_STATEMENTS;
    if (scan_number(l))
        return emit(l, t, PQL_T_NUMBER);
    if (accept_remaining_duration(l)) {
        backup(l);
        return emit(l, t, PQL_T_DURATION);
    }
    struct scry_buf b = { 0 };
    pql_quote(l->in + l->start, l->pos - l->start, &b);
    errorf(l, t, "bad number or duration syntax: %s", b.p);
    scry_buf_fini(&b);
    return true;
}

/* ---- strings ----------------------------------------------------------- */

static int digit_val(uint32_t c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    return 16;
}

/* Reads one rune; *eof set at end of input. */
static uint32_t next_rune(struct pql_lexer *l, bool *eof)
{
    *eof = l->pos >= l->len;
    if (*eof)
        return 0;
    size_t w;
    uint32_t r = pql__utf8_decode(l->in + l->pos, l->len - l->pos, &w);
    l->pos += w;
    return r;
}

static void go_U(uint32_t r, struct scry_buf *b) /* Go's %#U */
{
    scry_buf_printf(b, "U+%04X", r);
    if (rune_printable(r)) {
        scry_buf_puts(b, " '");
        pql__utf8_encode(r, b);
        scry_buf_putc(b, '\'');
    }
}

static bool escape_error(struct pql_lexer *l, struct pql_token *t, const char *pre, uint32_t r,
                         const char *post)
{
    struct scry_buf b = { 0 };
    scry_buf_puts(&b, pre);
    go_U(r, &b);
    scry_buf_puts(&b, post);
    errorf(l, t, "%s", b.p);
    scry_buf_fini(&b);
    return true;
}

/* lexEscape: validates one escape; returns true when it produced an error. */
static bool lex_escape(struct pql_lexer *l, struct pql_token *t, char quote)
{
    bool eof;
    uint32_t ch = next_rune(l, &eof);
    int n;
    uint32_t base, max;
    if (eof)
        return errorf(l, t, "escape sequence not terminated");
    switch (ch) {
    case 'a': case 'b': case 'f': case 'n': case 'r': case 't': case 'v': case '\\':
        return false;
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        n = 3, base = 8, max = 255;
        break;
    case 'x':
        ch = next_rune(l, &eof), n = 2, base = 16, max = 255;
        break;
    case 'u':
        ch = next_rune(l, &eof), n = 4, base = 16, max = 0x10FFFF;
        break;
    case 'U':
        ch = next_rune(l, &eof), n = 8, base = 16, max = 0x10FFFF;
        break;
    default:
        if (ch == (uint32_t)(unsigned char)quote)
            return false;
        return escape_error(l, t, "unknown escape sequence ", ch, "");
    }
    uint32_t x = 0;
    while (n > 0) {
        uint32_t d = eof ? 16 : (uint32_t)digit_val(ch);
        if (d >= base) {
            if (eof)
                return errorf(l, t, "escape sequence not terminated");
            return escape_error(l, t, "illegal character ", ch, " in escape sequence");
        }
        x = x * base + d;
        if (--n > 0)
            ch = next_rune(l, &eof);
    }
    if (x > max || (x >= 0xD800 && x < 0xE000))
        return errorf(l, t, "escape sequence is an invalid Unicode code point");
    return false;
}

static bool lex_string(struct pql_lexer *l, struct pql_token *t, char quote)
{
    for (;;) {
        bool eof;
        uint32_t r = next_rune(l, &eof);
        if (eof || r == '\n')
            return errorf(l, t, "unterminated quoted string");
        if (r == '\\') {
            if (lex_escape(l, t, quote))
                return true;
        } else if (r == 0xFFFD) {
            return errorf(l, t, "invalid UTF-8 rune");
        } else if (r == (uint32_t)(unsigned char)quote) {
            return emit(l, t, PQL_T_STRING);
        }
    }
}

static bool lex_raw_string(struct pql_lexer *l, struct pql_token *t)
{
    for (;;) {
        bool eof;
        uint32_t r = next_rune(l, &eof);
        if (eof)
            return errorf(l, t, "unterminated raw string");
        if (r == 0xFFFD)
            return errorf(l, t, "invalid UTF-8 rune");
        if (r == '`')
            return emit(l, t, PQL_T_STRING);
    }
}

/* ---- states ------------------------------------------------------------ */

static bool lex_comment(struct pql_lexer *l, struct pql_token *t)
{
    l->pos++;
    while (l->pos < l->len && l->in[l->pos] != '\n' && l->in[l->pos] != '\r')
        l->pos++;
    return emit(l, t, PQL_T_COMMENT);
}

static void skip_spaces(struct pql_lexer *l)
{
    while (is_space(peek(l)))
        l->pos++;
    l->start = l->pos;
}

static bool lex_inside_braces(struct pql_lexer *l, struct pql_token *t)
{
    if (peek(l) == '#')
        return lex_comment(l, t);
    size_t at = l->pos;
    int c = next(l);
    switch (c) {
    case EOF_CH:
        return errorf(l, t, "unexpected end of input inside braces");
    case ' ': case '\t': case '\n': case '\r':
        skip_spaces(l);
        return false;
    case ',':
        return emit(l, t, PQL_T_COMMA);
    case '"': case '\'':
        return lex_string(l, t, (char)c);
    case '`':
        return lex_raw_string(l, t);
    case '=':
        if (next(l) == '~')
            return emit(l, t, PQL_T_EQL_REGEX);
        backup(l);
        return emit(l, t, PQL_T_EQL);
    case '!': {
        size_t at2 = l->pos;
        int nc = next(l);
        if (nc == '~')
            return emit(l, t, PQL_T_NEQ_REGEX);
        if (nc == '=')
            return emit(l, t, PQL_T_NEQ);
        if (nc == EOF_CH)
            return errorf(l, t, "unexpected character after '!' inside braces: %s", "'\xef\xbf\xbd'");
        return error_rune(l, t, "unexpected character after '!' inside braces: ", at2, "");
    }
    case '{':
        return errorf(l, t, "unexpected left brace '{'");
    case '}':
        l->brace_open = false;
        return emit(l, t, PQL_T_RBRACE);
    }
    if (is_alpha(c)) {
        while (is_alnum(peek(l)))
            l->pos++;
        return emit(l, t, PQL_T_IDENT);
    }
    return error_rune(l, t, "unexpected character inside braces: ", at, "");
}

static bool lex_duration_expr(struct pql_lexer *l, struct pql_token *t)
{
    size_t at = l->pos;
    int c = next(l);
    switch (c) {
    case EOF_CH:
        return errorf(l, t, "unexpected end of input in duration expression");
    case ']':
        l->bracket_open = false;
        l->got_colon = false;
        l->state = PQL_LEX_STATEMENTS;
        return emit(l, t, PQL_T_RBRACKET);
    case ':':
        emit(l, t, PQL_T_COLON);
        if (!l->got_duration)
            return errorf(l, t, "unexpected colon before duration in duration expression");
        if (l->got_colon)
            return errorf(l, t, "unexpected repeated colon in duration expression");
        l->got_colon = true;
        return true;
    case '(':
        l->paren_depth++;
        return emit(l, t, PQL_T_LPAREN);
    case ')':
        emit(l, t, PQL_T_RPAREN);
        if (--l->paren_depth < 0)
            return errorf(l, t, "unexpected right parenthesis ')'");
        return true;
    case ' ': case '\t': case '\n': case '\r':
        skip_spaces(l);
        return false;
    case '+': return emit(l, t, PQL_T_ADD);
    case '-': return emit(l, t, PQL_T_SUB);
    case '*': return emit(l, t, PQL_T_MUL);
    case '/': return emit(l, t, PQL_T_DIV);
    case '%': return emit(l, t, PQL_T_MOD);
    case '^': return emit(l, t, PQL_T_POW);
    case ',': return emit(l, t, PQL_T_COMMA);
    case 's': case 'S': case 'm': case 'M': case 'r': case 'R':
        if (scan_duration_keyword(l, t))
            return true;
        return error_rune(l, t, "unexpected character in duration expression: ", at, "");
    }
    if (is_digit(c) || (c == '.' && is_digit(peek(l)))) {
        backup(l);
        l->got_duration = true;
        return lex_number_or_duration(l, t);
    }
    return error_rune(l, t, "unexpected character in duration expression: ", at, "");
}

static bool lex_statements(struct pql_lexer *l, struct pql_token *t)
{
    if (peek(l) == '#')
        return lex_comment(l, t);
    size_t at = l->pos;
    int c = next(l);
    switch (c) {
    case EOF_CH:
        if (l->paren_depth != 0)
            return errorf(l, t, "unclosed left parenthesis");
        if (l->bracket_open)
            return errorf(l, t, "unclosed left bracket");
        emit(l, t, PQL_T_EOF);
        l->state = PQL_LEX_DONE;
        return true;
    case ',': return emit(l, t, PQL_T_COMMA);
    case ' ': case '\t': case '\n': case '\r':
        skip_spaces(l);
        return false;
    case '*': return emit(l, t, PQL_T_MUL);
    case '/': return emit(l, t, PQL_T_DIV);
    case '%': return emit(l, t, PQL_T_MOD);
    case '+': return emit(l, t, PQL_T_ADD);
    case '-': return emit(l, t, PQL_T_SUB);
    case '^': return emit(l, t, PQL_T_POW);
    case '=':
        if (peek(l) == '=') {
            next(l);
            return emit(l, t, PQL_T_EQLC);
        }
        if (peek(l) == '~')
            return errorf(l, t, "unexpected character after '=': '~'");
        return emit(l, t, PQL_T_EQL);
    case '!': {
        size_t at2 = l->pos;
        int nc = next(l);
        if (nc == '=')
            return emit(l, t, PQL_T_NEQ);
        if (nc == EOF_CH)
            return errorf(l, t, "unexpected character after '!': '\xef\xbf\xbd'");
        return error_rune(l, t, "unexpected character after '!': ", at2, "");
    }
    case '<':
        if (peek(l) == '=') {
            next(l);
            return emit(l, t, PQL_T_LTE);
        }
        if (peek(l) == '/') {
            next(l);
            return emit(l, t, PQL_T_TRIM_UPPER);
        }
        return emit(l, t, PQL_T_LSS);
    case '>':
        if (peek(l) == '=') {
            next(l);
            return emit(l, t, PQL_T_GTE);
        }
        if (peek(l) == '/') {
            next(l);
            return emit(l, t, PQL_T_TRIM_LOWER);
        }
        return emit(l, t, PQL_T_GTR);
    case '"': case '\'':
        return lex_string(l, t, (char)c);
    case '`':
        return lex_raw_string(l, t);
    case '(':
        l->paren_depth++;
        return emit(l, t, PQL_T_LPAREN);
    case ')':
        emit(l, t, PQL_T_RPAREN);
        if (--l->paren_depth < 0)
            return errorf(l, t, "unexpected right parenthesis ')'");
        return true;
    case '{':
        l->brace_open = true;
        return emit(l, t, PQL_T_LBRACE);
    case '[':
        if (l->bracket_open)
            return errorf(l, t, "unexpected left bracket '['");
        l->got_colon = false;
        emit(l, t, PQL_T_LBRACKET);
        skip_spaces(l);
        l->bracket_open = true;
        l->state = PQL_LEX_DURATION_EXPR;
        return true;
    case ']':
        if (!l->bracket_open)
            return errorf(l, t, "unexpected right bracket ']'");
        l->bracket_open = false;
        return emit(l, t, PQL_T_RBRACKET);
    case '@':
        return emit(l, t, PQL_T_AT);
    }
    if (is_digit(c) || (c == '.' && is_digit(peek(l)))) {
        backup(l);
        return lex_number_or_duration(l, t);
    }
    if (is_alpha(c) || c == ':') {
        if (!l->bracket_open) {
            backup(l);
            return lex_keyword_or_identifier(l, t);
        }
        if (c == ':') {
            if (l->got_colon)
                return errorf(l, t, "unexpected colon ':'");
            l->got_colon = true;
            if (peek(l) == ':') {
                next(l);
                return emit(l, t, PQL_T_DOUBLE_COLON);
            }
            return emit(l, t, PQL_T_COLON);
        }
        if ((c == 's' || c == 'S' || c == 'm' || c == 'M' || c == 'r' || c == 'R') &&
            scan_duration_keyword(l, t))
            return true;
        return error_rune(l, t, "unexpected character: ", at, ", expected ':'");
    }
    return error_rune(l, t, "unexpected character: ", at, "");
}

void pql__lex_next(struct pql_lexer *l, struct pql_token *t)
{
    for (;;) {
        if (l->state == PQL_LEX_DONE) {
            /* After EOF or an error, Go's lexer keeps emitting EOF. */
            t->type = PQL_T_EOF;
            t->pos = (uint32_t)l->start;
            t->len = 0;
            t->msg = NULL;
            return;
        }
        bool got = l->state == PQL_LEX_DURATION_EXPR ? lex_duration_expr(l, t)
                   : l->brace_open                   ? lex_inside_braces(l, t)
                                                     : lex_statements(l, t);
        if (got)
            return;
    }
}

/* ---- token descriptions for error messages ----------------------------- */

static const char *const tok_str[] = {
    [PQL_T_LPAREN] = "(", [PQL_T_RPAREN] = ")", [PQL_T_LBRACE] = "{", [PQL_T_RBRACE] = "}",
    [PQL_T_LBRACKET] = "[", [PQL_T_RBRACKET] = "]", [PQL_T_COMMA] = ",", [PQL_T_EQL] = "=",
    [PQL_T_COLON] = ":", [PQL_T_DOUBLE_COLON] = "::",
};

/* Go's fmt "%q" / "%.10q..." of the token text, as Item.String() does. */
static void quote_val(const char *s, size_t len, struct scry_buf *out)
{
    size_t runes = 0, i = 0;
    while (i < len) {
        size_t w;
        pql__utf8_decode(s + i, len - i, &w);
        i += w;
        runes++;
    }
    if (runes <= 10) {
        pql_quote(s, len, out);
        return;
    }
    size_t cut = 0;
    for (size_t k = 0; k < 10; k++) {
        size_t w;
        pql__utf8_decode(s + cut, len - cut, &w);
        cut += w;
    }
    pql_quote(s, cut, out);
    scry_buf_puts(out, "...");
}

void pql__tok_desc(const struct pql_lexer *l, const struct pql_token *t, struct scry_buf *out)
{
    const char *val = l->in + t->pos;
    size_t n = t->len;
    enum pql_tok ty = t->type;
    if (ty == PQL_T_EOF) {
        scry_buf_puts(out, "end of input");
    } else if (ty > PQL_T_OPS_BEGIN && ty < PQL_T_OPS_END) {
        scry_buf_printf(out, "<op:%.*s>", (int)n, val);
    } else if (ty > PQL_T_AGG_BEGIN && ty < PQL_T_AGG_END) {
        scry_buf_printf(out, "<aggr:%.*s>", (int)n, val);
    } else if (ty > PQL_T_KW_BEGIN && ty < PQL_T_KW_END) {
        scry_buf_printf(out, "<%.*s>", (int)n, val);
    } else if ((size_t)ty < sizeof(tok_str) / sizeof(tok_str[0]) && tok_str[ty]) {
        quote_val(val, n, out);
    } else if (ty >= PQL_T_START && ty <= PQL_T_MIN_OF) {
        quote_val(val, n, out);
    } else {
        const char *what = ty == PQL_T_IDENT          ? "identifier"
                           : ty == PQL_T_METRIC_IDENT ? "metric identifier"
                           : ty == PQL_T_STRING       ? "string"
                           : ty == PQL_T_NUMBER       ? "number"
                           : ty == PQL_T_DURATION     ? "duration"
                           : ty == PQL_T_COMMENT      ? "comment"
                                                      : "error";
        scry_buf_printf(out, "%s ", what);
        if (ty == PQL_T_IDENT || ty == PQL_T_METRIC_IDENT)
            pql_quote(val, n, out);
        else
            quote_val(val, n, out);
    }
}
