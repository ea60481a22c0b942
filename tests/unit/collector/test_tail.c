/* Tests collector/tail_lines.c and the fingerprint of collector/tail_file.c:
 * line splitting (\n, \r\n, partial lines), the offsets a checkpoint
 * needs, truncation at max_bytes, UTF-8 repair, multiline joining, and
 * that feeding the same bytes in any chunking gives the same records (what
 * makes a replay after a crash reproduce them). The tail manager itself is
 * tested end to end with the real server in tests/integration/test_tail.py. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <pcre2.h>

#include "collector/tail.h"
#include "core/buf.h"

/* Collected records: "line|T|end" per record (T when truncated). */
struct out {
    struct scry_buf b;
    int n;
};

static void collect(void *ud, const struct col_tail_record *r)
{
    struct out *o = ud;
    scry_buf_put(&o->b, r->p, r->len);
    scry_buf_printf(&o->b, "|%s%lld;", r->truncated ? "T|" : "", (long long)r->end_off);
    o->n++;
}

static const char *feed_all(struct col_tail_lines *l, struct out *o, const char *s, size_t chunk)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i += chunk)
        col_tail_lines_feed(l, s + i, len - i < chunk ? len - i : chunk, collect, o);
    return o->b.p ? o->b.p : "";
}

static void test_tail_lines_split_crlf_and_partial(void **state)
{
    (void)state;
    struct col_tail_lines l;
    struct out o = { 0 };
    col_tail_lines_init(&l, 1024, NULL, 0);
    assert_string_equal(feed_all(&l, &o, "a\nbb\r\n\nccc", 1024), "a|2;bb|6;|7;");
    assert_true(col_tail_lines_pending(&l)); /* "ccc" waits for its newline */
    col_tail_lines_flush(&l, false, collect, &o);
    assert_int_equal(o.n, 3); /* not flushed without partial */
    col_tail_lines_feed(&l, "d\n", 2, collect, &o);
    assert_string_equal(o.b.p, "a|2;bb|6;|7;cccd|12;");
    assert_false(col_tail_lines_pending(&l));
    col_tail_lines_feed(&l, "tail", 4, collect, &o);
    col_tail_lines_flush(&l, true, collect, &o);
    assert_string_equal(o.b.p, "a|2;bb|6;|7;cccd|12;tail|16;");
    col_tail_lines_fini(&l);
    scry_buf_fini(&o.b);
}

static void test_tail_lines_start_offset(void **state)
{
    (void)state;
    struct col_tail_lines l;
    struct out o = { 0 };
    col_tail_lines_init(&l, 1024, NULL, 100); /* resumed from a checkpoint */
    assert_string_equal(feed_all(&l, &o, "x\ny\n", 1), "x|102;y|104;");
    col_tail_lines_reset(&l, 0); /* copytruncate */
    col_tail_lines_feed(&l, "z\n", 2, collect, &o);
    assert_string_equal(o.b.p, "x|102;y|104;z|2;");
    col_tail_lines_fini(&l);
    scry_buf_fini(&o.b);
}

static void test_tail_lines_truncates_long_lines(void **state)
{
    (void)state;
    struct col_tail_lines l;
    struct out o = { 0 };
    col_tail_lines_init(&l, 8, NULL, 0);
    /* exactly 8: kept whole; 9 and 30: cut to 8 and marked; the rest of the
     * long line is skipped, the next line is intact. */
    const char *in = "12345678\n123456789\nabcdefghijklmnopqrstuvwxyz0123\nok\n";
    assert_string_equal(feed_all(&l, &o, in, 3),
                        "12345678|9;12345678|T|19;abcdefgh|T|50;ok|53;");
    col_tail_lines_fini(&l);
    scry_buf_fini(&o.b);
}

static void test_tail_lines_truncation_keeps_utf8_whole(void **state)
{
    (void)state;
    struct col_tail_lines l;
    struct out o = { 0 };
    col_tail_lines_init(&l, 5, NULL, 0);
    /* "aaaa" + "é" (2 bytes) = 6 bytes: the cut must not split "é". */
    assert_string_equal(feed_all(&l, &o, "aaaa\xc3\xa9\n", 2), "aaaa|T|7;");
    col_tail_lines_fini(&l);
    scry_buf_fini(&o.b);
}

static void test_tail_utf8_repair(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        size_t n_bad;
    } cases[] = {
        { "plain ascii", "plain ascii", 0 },
        { "caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80", 0 },
        { "a\xff" "b", "a\xef\xbf\xbd" "b", 1 },
        { "\xe2\x82", "\xef\xbf\xbd", 1 },                       /* truncated sequence */
        { "\xe2\x82x", "\xef\xbf\xbdx", 1 },                     /* missing continuation */
        { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", 2 },           /* overlong lead */
        { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3 }, /* surrogate */
        { "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 4 },
        { "\xf0\x9f\x98", "\xef\xbf\xbd", 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct scry_buf b = { 0 };
        size_t n = col_tail_utf8_repair(&b, cases[i].in, strlen(cases[i].in));
        assert_int_equal(n, cases[i].n_bad);
        assert_int_equal(b.len, strlen(cases[i].out));
        assert_memory_equal(b.p, cases[i].out, b.len);
        scry_buf_fini(&b);
    }
    assert_int_equal(col_tail_utf8_cut("ab\xe2\x82\xac", 5, 4), 2);
    assert_int_equal(col_tail_utf8_cut("ab\xe2\x82\xac", 5, 5), 5);
    assert_int_equal(col_tail_utf8_cut("abcdef", 6, 3), 3);
}

static void test_tail_lines_repairs_invalid_utf8(void **state)
{
    (void)state;
    struct col_tail_lines l;
    struct out o = { 0 };
    col_tail_lines_init(&l, 1024, NULL, 0);
    /* Split inside the bad sequence: repair sees whole lines. */
    assert_string_equal(feed_all(&l, &o, "x\xe2\x82y\n", 2), "x\xef\xbf\xbdy|5;");
    col_tail_lines_fini(&l);
    scry_buf_fini(&o.b);
}

static pcre2_code *re(const char *src)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *p = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off,
                                  NULL);
    assert_non_null(p);
    return p;
}

static void test_tail_lines_multiline(void **state)
{
    (void)state;
    pcre2_code *first = re("^\\d{4}-");
    struct col_tail_lines l;
    struct out o = { 0 };
    col_tail_lines_init(&l, 1024, first, 0);
    const char *in = "  orphan\n"
                     "2024-01-01 boom\n"
                     "  at a()\n"
                     "  at b()\n"
                     "2024-01-01 ok\n";
    assert_string_equal(feed_all(&l, &o, in, 4),
                        "  orphan|9;2024-01-01 boom\n  at a()\n  at b()|43;");
    /* The last record is open until the next first line, or a flush. */
    assert_true(col_tail_lines_pending(&l));
    col_tail_lines_flush(&l, false, collect, &o);
    assert_string_equal(o.b.p, "  orphan|9;2024-01-01 boom\n  at a()\n  at b()|43;2024-01-01 ok|57;");
    col_tail_lines_fini(&l);
    scry_buf_fini(&o.b);
    pcre2_code_free(first);
}

static void test_tail_lines_multiline_truncates(void **state)
{
    (void)state;
    pcre2_code *first = re("^S");
    struct col_tail_lines l;
    struct out o = { 0 };
    col_tail_lines_init(&l, 10, first, 0);
    feed_all(&l, &o, "S1234\n  abcdef\n  xyz\nS2\n", 5);
    assert_string_equal(o.b.p, "S1234\n  ab|T|21;");
    col_tail_lines_fini(&l);
    scry_buf_fini(&o.b);
    pcre2_code_free(first);
}

/* The records depend only on the bytes, not on how reads cut them: a
 * replay from a checkpoint reproduces the same records. */
static void test_tail_lines_chunking_invariant(void **state)
{
    (void)state;
    pcre2_code *first = re("^[A-Z]");
    unsigned seed = 7;
    char in[4096];
    for (size_t i = 0; i < sizeof in - 1; i++) {
        seed = seed * 1103515245 + 12345;
        unsigned r = (seed >> 16) % 40;
        in[i] = r < 4 ? '\n' : r < 6 ? (char)0xC3 : r < 8 ? ' ' : r < 12 ? 'A' + (char)r : 'a' + (char)(r % 26);
    }
    in[sizeof in - 1] = '\0';
    for (int ml = 0; ml < 2; ml++) {
        struct out ref = { 0 };
        struct col_tail_lines l;
        col_tail_lines_init(&l, 16, ml ? first : NULL, 0);
        feed_all(&l, &ref, in, sizeof in);
        col_tail_lines_fini(&l);
        for (size_t chunk = 1; chunk < 64; chunk += 7) {
            struct out o = { 0 };
            col_tail_lines_init(&l, 16, ml ? first : NULL, 0);
            feed_all(&l, &o, in, chunk);
            assert_int_equal(o.n, ref.n);
            assert_string_equal(o.b.p, ref.b.p);
            col_tail_lines_fini(&l);
            scry_buf_fini(&o.b);
        }
        assert_true(ref.n > (ml ? 5 : 50));
        scry_buf_fini(&ref.b);
    }
    pcre2_code_free(first);
}

static void test_tail_fingerprint(void **state)
{
    (void)state;
    char path[] = "/tmp/scry-tail-fp-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello world\n", 12), 12);
    uint64_t a, b, c;
    struct scry_err err = { 0 };
    assert_int_equal(col_tail_fingerprint(fd, 12, &a, &err), 0);
    assert_int_equal(col_tail_fingerprint(fd, 5, &b, &err), 0);
    assert_true(a != b);
    assert_int_equal(col_tail_fingerprint(fd, 13, &c, &err), SCRY_ENOTFOUND);
    /* Rewritten in place (copytruncate, then new lines): a new identity. */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, "jello world\n", 12, 0), 12);
    assert_int_equal(col_tail_fingerprint(fd, 12, &c, &err), 0);
    assert_true(c != a);
    assert_int_equal(col_tail_fingerprint(fd, COL_TAIL_FP_BYTES + 1, &c, &err), SCRY_EINVAL);
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tail_lines_split_crlf_and_partial),
        cmocka_unit_test(test_tail_lines_start_offset),
        cmocka_unit_test(test_tail_lines_truncates_long_lines),
        cmocka_unit_test(test_tail_lines_truncation_keeps_utf8_whole),
        cmocka_unit_test(test_tail_utf8_repair),
        cmocka_unit_test(test_tail_lines_repairs_invalid_utf8),
        cmocka_unit_test(test_tail_lines_multiline),
        cmocka_unit_test(test_tail_lines_multiline_truncates),
        cmocka_unit_test(test_tail_lines_chunking_invariant),
        cmocka_unit_test(test_tail_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
