/* Tests logstore/tokenize.c: the table of README.md "Tokens". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "logstore/tokenize.h"

struct got {
    char s[4096];
    size_t len;
};

static void collect(void *ud, const char *tok, size_t len)
{
    struct got *g = ud;
    assert_true(len > 0 && len <= LS_TOKEN_MAX);
    if (g->len)
        g->s[g->len++] = '|';
    memcpy(g->s + g->len, tok, len);
    g->len += len;
    g->s[g->len] = 0;
}

static const char *toks(const char *line)
{
    static struct got g;
    g.len = 0;
    g.s[0] = 0;
    ls_tokenize(line, strlen(line), collect, &g);
    return g.s;
}

static void test_tokenize_table(void **state)
{
    (void)state;
    static const struct { const char *line, *want; } t[] = {
        { "", "" },
        { "   ", "" },
        { "Hello World", "hello|world" },
        { "zqx1e7needle", "zqx1e7needle" },
        { "a-b_c.d", "a|b|c|d" },
        { "user_id=u0093808", "user|id|u0093808" },  /* one-word value: no extra token */
        { "path=/api/v1/orders x", "path|api|v1|orders|x|/api/v1/orders" },
        { "msg=\"Request Completed\" a=1", "msg|request|completed|a|1|request completed" },
        { "msg=\"say \\\"hi\\\" now\"", "msg|say|hi|now|say \\\"hi\\\" now" },
        { "x==y", "x|y|=y" },                        /* key x, value "=y" */
        { "=v", "v" },                               /* no key */
        { "a\"b=c d\"", "a|b|c|d" },                 /* key preceded by '"': not a pair */
        { "{k=v.w}", "k|v|w|v.w" },
        { "Größe=1", "gr|e|1" },                     /* non-ASCII separates; key not a key */
        { "level=info,caller=x.go:12", "level|info|caller|x|go|12|x.go:12" },
        { "duration=5.89ms", "duration|5|89ms|5.89ms" },
        { "k=", "k" },
        { "k=\"unterminated", "k|unterminated" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *got = toks(t[i].line);
        if (strcmp(got, t[i].want) != 0)
            fail_msg("line %zu %s: got %s want %s", i, t[i].line, got, t[i].want);
    }
}

static void test_tokenize_long_token_windows(void **state)
{
    (void)state;
    char line[201];
    for (int i = 0; i < 200; i++)
        line[i] = (char)('a' + i % 26);
    line[200] = 0;
    struct got g = { .len = 0 };
    ls_tokenize(line, 200, collect, &g);
    /* Windows at 0, 32, 64, 96, 128 (128+64 < 200), then the last 136..200. */
    size_t n = 1;
    for (size_t i = 0; i < g.len; i++)
        n += g.s[i] == '|';
    assert_int_equal(n, 6);
    /* Every 32-byte piece lies in one window. */
    for (int off = 0; off + 32 <= 200; off++) {
        char piece[33];
        memcpy(piece, line + off, 32);
        piece[32] = 0;
        assert_non_null(strstr(g.s, piece));
    }
}

static void test_tokenize_words_needle(void **state)
{
    (void)state;
    struct got g = { .len = 0 };
    ls_tokenize_words("Foo bar=baz/x", 13, collect, &g);
    assert_string_equal(g.s, "foo|bar|baz|x");
    g.len = 0;
    g.s[0] = 0;
    ls_tokenize_words(" == ", 4, collect, &g);
    assert_int_equal(g.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize_table),
        cmocka_unit_test(test_tokenize_long_token_windows),
        cmocka_unit_test(test_tokenize_words_needle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
