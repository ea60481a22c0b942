/* matcher.c — label matchers (=, !=, =~, !~) over PCRE2.
 *
 * Prometheus anchors a regex at both ends and lets `.` match newlines (it
 * compiles "^(?s:" + re + ")$" with Go's RE2). We get the same semantics by
 * compiling the user's text unchanged with PCRE2_ANCHORED | PCRE2_ENDANCHORED
 * | PCRE2_DOTALL rather than by wrapping it in "^(?:" ... ")$": a wrapper lets
 * an unbalanced pattern such as "a)|(b" compile into something else, PCRE2's
 * `$` also matches before a trailing newline, and error offsets would need
 * shifting. A subject that is not valid UTF-8 (a log line) is matched as Go
 * matches it: each bad byte reads as U+FFFD, which `.` and [^x] match. We
 * copy such a subject with the replacement made; valid subjects, the common
 * case, are matched in place.
 *
 * Most regex matchers in dashboards are literals or alternations of literals
 * ({job=~"api|web"}) or ".*" / ".+"; init recognises those and matches them
 * without PCRE2. The regex is still compiled, so errors are reported the same
 * way for every pattern. JIT is used when the library has it; if JIT
 * compilation fails, or a JIT match runs out of stack, we fall back to the
 * interpreter silently. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/matcher.h"
#include "core/mem.h"

#include <assert.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef PCRE2_MATCH_INVALID_UTF
#define PCRE2_MATCH_INVALID_UTF 0 /* before PCRE2 10.34 */
#endif

enum { FAST_NONE, FAST_LITERALS, FAST_ANY, FAST_NONEMPTY, FAST_PREFIX_ANY, FAST_PREFIX_DOTS };

/* The longest run of '.' a FAST_PREFIX_DOTS pattern may end with. */
#define MAX_DOTS 16

static bool is_ascii(const char *z, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)z[i] >= 0x80)
            return false;
    return true;
}

/* FAST_LITERALS when the pattern has no metacharacter other than '|'.
 * FAST_PREFIX_ANY for "lit.*" and FAST_PREFIX_DOTS for "lit..." (1 to
 * MAX_DOTS dots; `{code=~"5.."}`), where lit is ASCII without any
 * metacharacter or '|': *n_lit gets lit's length, *n_dots the dots. ASCII
 * only, so that a subject's bytes equal to lit always decode to lit (a
 * literal U+FFFD would also match a bad byte, see match_invalid_utf8). */
static int classify(const char *re, size_t *n_lit, size_t *n_dots)
{
    if (strcmp(re, ".*") == 0)
        return FAST_ANY;
    if (strcmp(re, ".+") == 0)
        return FAST_NONEMPTY;
    size_t lit = strcspn(re, "\\.+*?()[]{}^$|");
    if (!re[lit])
        return FAST_LITERALS;
    if (!is_ascii(re, lit))
        return FAST_NONE;
    if (strcmp(re + lit, ".*") == 0) {
        *n_lit = lit;
        return FAST_PREFIX_ANY;
    }
    size_t dots = strspn(re + lit, ".");
    if (dots >= 1 && dots <= MAX_DOTS && !re[lit + dots]) {
        *n_lit = lit;
        *n_dots = dots;
        return FAST_PREFIX_DOTS;
    }
    if (strpbrk(re + lit, "\\.+*?()[]{}^$"))
        return FAST_NONE;
    return FAST_LITERALS; /* only '|' among the literals */
}

/* Does v equal one of the '|'-separated alternatives of alts? */
static bool match_literals(const char *alts, const char *v, size_t len)
{
    for (const char *p = alts;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && memcmp(p, v, len) == 0)
            return true;
        if (!bar)
            return false;
        p = bar + 1;
    }
}

int scry_matcher_init(struct scry_matcher *m, enum scry_match_type type, const char *name,
                      const char *value, struct scry_err *err)
{
    memset(m, 0, sizeof *m);
    if (!name || !value || type < SCRY_MATCH_EQ || type > SCRY_MATCH_NRE)
        return scry_err_set(err, SCRY_EINVAL, "matcher: missing name or value, or bad type");
    m->type = type;
    m->name = name;
    m->value = value;
    if (type == SCRY_MATCH_EQ || type == SCRY_MATCH_NEQ)
        return 0;

    int code;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL | PCRE2_UTF |
                    PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)value, PCRE2_ZERO_TERMINATED, opts, &code, &off,
                                   NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(code, msg, sizeof msg) < 0)
            strcpy((char *)msg, "unknown error");
        scry_err_set(err, SCRY_EPARSE, "invalid regex \"%.200s\": %s at offset %zu", value,
                     (const char *)msg, (size_t)off);
        if (err)
            err->offset = off;
        return SCRY_EPARSE;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
    m->re = re;
    m->md = pcre2_match_data_create_from_pattern(re, NULL);
    SCRY_ASSERT(m->md); /* a few bytes; OOM policy as in mem.h */
    m->fast = classify(value, &m->n_lit, &m->n_dots);
    return 0;
}

void scry_matcher_fini(struct scry_matcher *m)
{
    if (!m)
        return;
    pcre2_match_data_free(m->md);
    pcre2_code_free(m->re);
    m->md = m->re = NULL;
}

static bool re_match(const struct scry_matcher *m, const char *v, size_t len);

/* The rare path: rewrite each byte that starts no valid sequence as U+FFFD
 * (3 bytes), then match the copy. */
static bool match_invalid_utf8(const struct scry_matcher *m, const char *v, size_t len)
{
    SCRY_ASSERT(len <= SIZE_MAX / 3);
    char *copy = scry_malloc(len * 3 + 1);
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)v[i];
        size_t k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (k <= len - i && scry_utf8_valid(v + i, k)) {
            memcpy(copy + n, v + i, k);
            n += k;
            i += k;
        } else {
            memcpy(copy + n, "\xef\xbf\xbd", 3);
            n += 3;
            i++;
        }
    }
    assert(scry_utf8_valid(copy, n));
    bool ok = re_match(m, copy, n);
    free(copy);
    return ok;
}

static bool re_match(const struct scry_matcher *m, const char *v, size_t len)
{
    switch (m->fast) {
    case FAST_ANY: return true;
    case FAST_NONEMPTY: return len > 0;
    case FAST_LITERALS: return match_literals(m->value, v, len);
    case FAST_PREFIX_ANY: /* `.` matches every code point, bad bytes (U+FFFD) too */
        return len >= m->n_lit && memcmp(m->value, v, m->n_lit) == 0;
    case FAST_PREFIX_DOTS:
        if (len < m->n_lit || len > m->n_lit + 4 * m->n_dots ||
            memcmp(m->value, v, m->n_lit) != 0)
            return false;
        if (scry_utf8_valid(v + m->n_lit, len - m->n_lit)) {
            size_t n_cp = 0; /* code points: the bytes that start a sequence */
            for (size_t i = m->n_lit; i < len; i++)
                n_cp += ((unsigned char)v[i] & 0xc0) != 0x80;
            return n_cp == m->n_dots;
        }
        break; /* a bad byte is one U+FFFD: PCRE2 on the rewritten copy */
    default: break;
    }
    assert(m->re && m->md);
    if (!scry_utf8_valid(v, len))
        return match_invalid_utf8(m, v, len);
    int rc = pcre2_match(m->re, (PCRE2_SPTR)v, len, 0, 0, m->md, NULL);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) /* e.g. JIT stack limit: retry without JIT */
        rc = pcre2_match(m->re, (PCRE2_SPTR)v, len, 0, PCRE2_NO_JIT, m->md, NULL);
    return rc >= 0; /* rc == 0 only means the ovector was too small */
}

bool scry_matcher_matches(const struct scry_matcher *m, const char *v, size_t len)
{
    if (!v) {
        v = "";
        len = 0;
    }
    switch (m->type) {
    case SCRY_MATCH_EQ: return strlen(m->value) == len && memcmp(m->value, v, len) == 0;
    case SCRY_MATCH_NEQ: return !(strlen(m->value) == len && memcmp(m->value, v, len) == 0);
    case SCRY_MATCH_RE: return re_match(m, v, len);
    case SCRY_MATCH_NRE: return !re_match(m, v, len);
    }
    assert(!"bad matcher type");
    return false;
}

bool scry_matcher_matches_labels(const struct scry_matcher *m, const struct scry_labels *ls)
{
    const char *v = scry_labels_get(ls, m->name);
    return scry_matcher_matches(m, v ? v : "", v ? strlen(v) : 0);
}

const char *scry_match_type_str(enum scry_match_type t)
{
    switch (t) {
    case SCRY_MATCH_EQ: return "=";
    case SCRY_MATCH_NEQ: return "!=";
    case SCRY_MATCH_RE: return "=~";
    case SCRY_MATCH_NRE: return "!~";
    }
    return "?";
}
