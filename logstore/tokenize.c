/* tokenize.c — see tokenize.h and README.md "Tokens".
 *
 * One pass for words (a table lookup per byte) and one for key=value
 * values (only at '=' bytes). Both are linear: the backward walk over a key
 * stops at the first non-key byte, and keys are disjoint runs. */
#include "logstore/tokenize.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* 0: separator; otherwise the lower-case byte. */
static const uint8_t word_tab[256] = {
#define R(c) [c] = c
#define U(c) [c] = (c) + 32
    R('0'), R('1'), R('2'), R('3'), R('4'), R('5'), R('6'), R('7'), R('8'), R('9'),
    R('a'), R('b'), R('c'), R('d'), R('e'), R('f'), R('g'), R('h'), R('i'), R('j'), R('k'),
    R('l'), R('m'), R('n'), R('o'), R('p'), R('q'), R('r'), R('s'), R('t'), R('u'), R('v'),
    R('w'), R('x'), R('y'), R('z'),
    U('A'), U('B'), U('C'), U('D'), U('E'), U('F'), U('G'), U('H'), U('I'), U('J'), U('K'),
    U('L'), U('M'), U('N'), U('O'), U('P'), U('Q'), U('R'), U('S'), U('T'), U('U'), U('V'),
    U('W'), U('X'), U('Y'), U('Z'),
#undef R
#undef U
};

static inline uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Lower-cases p[0..len) (len <= LS_TOKEN_MAX) and hands it out. */
static void emit_one(const char *p, size_t len, ls_token_fn fn, void *ud)
{
    char buf[LS_TOKEN_MAX];
    assert(len > 0 && len <= LS_TOKEN_MAX);
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)lower((uint8_t)p[i]);
    fn(ud, buf, len);
}

/* Windows [0,64), [32,96), ... and one ending at the end: any piece of up to
 * 32 bytes lies inside one of them. */
static void emit(const char *p, size_t len, ls_token_fn fn, void *ud)
{
    if (len <= LS_TOKEN_MAX) {
        emit_one(p, len, fn, ud);
        return;
    }
    size_t off = 0;
    for (; off + LS_TOKEN_MAX < len; off += LS_TOKEN_MAX / 2)
        emit_one(p + off, LS_TOKEN_MAX, fn, ud);
    emit_one(p + len - LS_TOKEN_MAX, LS_TOKEN_MAX, fn, ud);
}

/* One pass: the table both finds word bytes and lower-cases them into buf,
 * so a word of up to LS_TOKEN_MAX bytes is handed out as it is scanned. */
static void words(const char *s, size_t len, bool windowed, ls_token_fn fn, void *ud)
{
    const uint8_t *p = (const uint8_t *)s;
    char buf[LS_TOKEN_MAX];
    size_t i = 0;
    while (i < len) {
        while (i < len && !word_tab[p[i]])
            i++;
        size_t start = i, n = 0;
        uint8_t c;
        while (i < len && (c = word_tab[p[i]]) != 0) {
            if (n < LS_TOKEN_MAX)
                buf[n] = (char)c;
            n++;
            i++;
        }
        if (n == 0)
            break;
        if (n <= LS_TOKEN_MAX)
            fn(ud, buf, n);
        else if (windowed)
            emit(s + start, n, fn, ud);
        else
            emit_one(s + start, LS_TOKEN_MAX, fn, ud); /* see ls_tokenize_words */
    }
}

void ls_tokenize_words(const char *s, size_t len, ls_token_fn fn, void *ud)
{
    words(s, len, false, fn, ud);
}

static bool key_byte(uint8_t c) { return word_tab[c] || c == '_' || c == '.' || c == '-'; }
static bool key_lead(uint8_t c) { return c == ' ' || c == '\t' || c == ',' || c == '{'; }
static bool value_end(uint8_t c) { return c == ' ' || c == '\t' || c == ',' || c == '}'; }

/* The value after '=' at p[eq], if the bytes before it are a key. */
static void kv_value(const uint8_t *p, size_t len, size_t eq, ls_token_fn fn, void *ud)
{
    size_t k = eq;
    while (k > 0 && key_byte(p[k - 1]))
        k--;
    if (k == eq || (k > 0 && !key_lead(p[k - 1])))
        return;
    size_t v = eq + 1, e;
    if (v < len && p[v] == '"') {
        v++;
        for (e = v; e < len && p[e] != '"'; e++)
            if (p[e] == '\\' && e + 1 < len)
                e++;
    } else {
        for (e = v; e < len && !value_end(p[e]); e++)
            ;
    }
    if (e == v)
        return;
    bool one_word = true;
    for (size_t i = v; i < e && one_word; i++)
        one_word = word_tab[p[i]] != 0;
    if (!one_word)
        emit((const char *)p + v, e - v, fn, ud);
}

void ls_tokenize_split(const char *line, size_t len, ls_token_fn word_fn, ls_token_fn value_fn,
                       void *ud)
{
    words(line, len, true, word_fn, ud);
    if (!value_fn)
        return;
    const uint8_t *p = (const uint8_t *)line;
    const uint8_t *q = p, *end = p + len;
    while (q < end && (q = memchr(q, '=', (size_t)(end - q))) != NULL) {
        kv_value(p, len, (size_t)(q - p), value_fn, ud);
        q++;
    }
}

void ls_tokenize(const char *line, size_t len, ls_token_fn fn, void *ud)
{
    ls_tokenize_split(line, len, fn, fn, ud);
}
