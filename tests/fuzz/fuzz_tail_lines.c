/* fuzz_tail_lines.c — the tail record assembler over arbitrary file bytes.
 *
 * Input: byte 0 picks max_bytes (4..67) and multiline on/off, byte 1 the
 * read size; the rest is the file. The bytes are fed twice, in one piece
 * and in reads of the picked size, then flushed with partial lines. Checks
 * that must hold for any input abort when they fail: every record is valid
 * UTF-8 and at most max_bytes long, end offsets never go backwards and stay
 * within the file, and both feedings give the same records (what makes a
 * replay from a checkpoint reproduce them). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/tail.h"
#include "core/labels.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

struct out {
    struct scry_buf b;
    size_t max, n;
    int64_t last_end, file_len;
};

static void on_rec(void *ud, const struct col_tail_record *r)
{
    struct out *o = ud;
    check(r->len <= o->max);
    check(scry_utf8_valid(r->p, r->len));
    check(r->end_off >= o->last_end && r->end_off <= o->file_len);
    o->last_end = r->end_off;
    scry_buf_put(&o->b, r->p, r->len);
    scry_buf_putc(&o->b, r->truncated ? 'T' : 'F');
    o->n++;
}

static void run(struct out *o, const void *re, const uint8_t *p, size_t len, size_t chunk)
{
    struct col_tail_lines l;
    col_tail_lines_init(&l, o->max, re, 0);
    for (size_t i = 0; i < len; i += chunk)
        col_tail_lines_feed(&l, (const char *)p + i, len - i < chunk ? len - i : chunk, on_rec, o);
    col_tail_lines_flush(&l, true, on_rec, o);
    check(!col_tail_lines_pending(&l));
    col_tail_lines_fini(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 65536)
        return 0;
    static pcre2_code *re;
    if (!re) {
        int code;
        PCRE2_SIZE off;
        re = pcre2_compile((PCRE2_SPTR) "^[0-9]", PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off,
                           NULL);
    }
    size_t max = 4 + (data[0] & 63);
    const void *ml = (data[0] & 64) ? re : NULL;
    size_t chunk = 1 + data[1];
    const uint8_t *p = data + 2;
    size_t len = size - 2;
    struct out a = { .max = max, .file_len = (int64_t)len }, b = a;
    run(&a, ml, p, len, len ? len : 1);
    run(&b, ml, p, len, chunk);
    check(a.n == b.n && a.b.len == b.b.len && (a.b.len == 0 || !memcmp(a.b.p, b.b.p, a.b.len)));
    scry_buf_fini(&a.b);
    scry_buf_fini(&b.b);
    return 0;
}
