/* tail_lines.c — bytes of a file in, records out.
 *
 * Lines end at "\n" (a "\r" before it is dropped). A line longer than
 * max_bytes is cut there and the record is marked truncated; the rest of
 * the line up to its "\n" is skipped, so memory per file is bounded by
 * max_bytes whatever the file holds. Invalid UTF-8 becomes U+FFFD before
 * anything else looks at the line (the firstline regex is compiled with
 * PCRE2_UTF and would refuse invalid subjects).
 *
 * With a firstline regex, a line that matches it starts a record and every
 * other line continues the open one (a line that does not match while no
 * record is open starts one, so nothing is lost before the first match).
 * A record is complete only when the next record starts, or on flush.
 *
 * Offsets: every emitted record carries end_off, the offset at which the
 * bytes not yet emitted begin. The manager checkpoints it after commit, so
 * a restart re-reads exactly the pending record and partial line, and
 * re-cuts them the same way (the cutting depends only on the bytes). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <assert.h>
#include <pcre2.h>
#include <string.h>

#include "collector/tail.h"

/* ---- UTF-8 ----------------------------------------------------------- */

/* Length of the valid sequence at p (1..4), or 0 with *bad set to the
 * length of the maximal invalid subpart to replace (at least 1). */
static size_t utf8_seq(const unsigned char *p, size_t len, size_t *bad)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        if (c == 0xF4)
            hi = 0x8F; /* > U+10FFFF */
    } else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= len || p[i] < lo || p[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

size_t col_tail_utf8_repair(struct scry_buf *out, const char *p, size_t len)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t n_bad = 0, i = 0, run = 0;
    while (i < len) {
        if (u[i] < 0x80) { /* the common case: ASCII runs are copied at once */
            i++;
            continue;
        }
        size_t bad = 0, n = utf8_seq(u + i, len - i, &bad);
        if (n) {
            i += n;
            continue;
        }
        scry_buf_put(out, p + run, i - run);
        scry_buf_put(out, "\xEF\xBF\xBD", 3);
        n_bad++;
        i += bad;
        run = i;
    }
    scry_buf_put(out, p + run, len - run);
    return n_bad;
}

size_t col_tail_utf8_cut(const char *p, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    /* Back off continuation bytes, then the lead byte whose sequence would
     * not fit. Valid input: at most 3 steps. */
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* ---- the assembler ---------------------------------------------------- */

void col_tail_lines_init(struct col_tail_lines *l, size_t max_bytes, const void *firstline_re,
                         int64_t off)
{
    assert(max_bytes >= 4);
    memset(l, 0, sizeof *l);
    l->max_bytes = max_bytes;
    l->firstline_re = firstline_re;
    if (firstline_re)
        l->md = pcre2_match_data_create_from_pattern((const pcre2_code *)firstline_re, NULL);
    l->off = l->line_start = off;
}

void col_tail_lines_fini(struct col_tail_lines *l)
{
    scry_buf_fini(&l->line);
    scry_buf_fini(&l->fixed);
    scry_buf_fini(&l->rec);
    if (l->md)
        pcre2_match_data_free(l->md);
    l->md = NULL;
}

void col_tail_lines_reset(struct col_tail_lines *l, int64_t off)
{
    scry_buf_reset(&l->line);
    scry_buf_reset(&l->rec);
    l->line_over = l->rec_open = l->rec_trunc = false;
    l->off = l->line_start = off;
}

bool col_tail_lines_pending(const struct col_tail_lines *l)
{
    return l->rec_open || l->line.len > 0 || l->line_over;
}

static bool is_firstline(struct col_tail_lines *l, const char *p, size_t len)
{
    int rc = pcre2_match((const pcre2_code *)l->firstline_re, (PCRE2_SPTR)p, len, 0,
                         PCRE2_NO_UTF_CHECK, (pcre2_match_data *)l->md, NULL);
    return rc >= 0; /* the line was repaired: NO_UTF_CHECK is safe */
}

static void emit_rec(struct col_tail_lines *l, col_tail_emit_fn fn, void *ud)
{
    struct col_tail_record r = { l->rec.p ? l->rec.p : "", l->rec.len, l->rec_trunc, l->rec_end };
    l->rec_open = false;
    fn(ud, &r);
    scry_buf_reset(&l->rec);
    l->rec_trunc = false;
}

/* The physical line in l->line is complete; end is the offset after it. */
static void end_line(struct col_tail_lines *l, int64_t end, col_tail_emit_fn fn, void *ud)
{
    size_t n = l->line.len;
    if (!l->line_over && n > 0 && l->line.p[n - 1] == '\r')
        n--;
    scry_buf_reset(&l->fixed);
    col_tail_utf8_repair(&l->fixed, l->line.p ? l->line.p : "", n);
    bool trunc = l->line_over;
    size_t len = col_tail_utf8_cut(l->fixed.p, l->fixed.len, l->max_bytes);
    if (len < l->fixed.len)
        trunc = true;
    const char *p = l->fixed.p ? l->fixed.p : "";
    int64_t start = l->line_start;
    scry_buf_reset(&l->line);
    l->line_over = false;
    l->line_start = end;
    if (!l->firstline_re) {
        struct col_tail_record r = { p, len, trunc, end };
        fn(ud, &r);
        return;
    }
    if (l->rec_open && is_firstline(l, p, len))
        emit_rec(l, fn, ud);
    if (!l->rec_open) {
        l->rec_open = true;
        l->rec_start = start;
        l->rec_trunc = trunc;
        scry_buf_put(&l->rec, p, len);
    } else if (!l->rec_trunc) {
        size_t room = l->max_bytes - l->rec.len;
        if (room > 0 && 1 + len <= room) {
            scry_buf_putc(&l->rec, '\n');
            scry_buf_put(&l->rec, p, len);
            l->rec_trunc = trunc;
        } else {
            if (room > 0) {
                scry_buf_putc(&l->rec, '\n');
                scry_buf_put(&l->rec, p, col_tail_utf8_cut(p, len, room - 1));
            }
            l->rec_trunc = true;
        }
    }
    l->rec_end = end;
}

void col_tail_lines_feed(struct col_tail_lines *l, const char *p, size_t len, col_tail_emit_fn fn,
                         void *ud)
{
    /* Keep 4 bytes over the limit so the cut after UTF-8 repair can still
     * tell a line of exactly max_bytes from a longer one. */
    size_t cap = l->max_bytes + 4;
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t n = nl ? (size_t)(nl - p) : len;
        if (!l->line_over) {
            size_t room = cap - l->line.len;
            scry_buf_put(&l->line, p, n < room ? n : room);
            if (n > room)
                l->line_over = true;
        }
        if (!nl) {
            l->off += (int64_t)len;
            return;
        }
        l->off += (int64_t)n + 1;
        end_line(l, l->off, fn, ud);
        p += n + 1;
        len -= n + 1;
    }
}

void col_tail_lines_flush(struct col_tail_lines *l, bool partial, col_tail_emit_fn fn, void *ud)
{
    if (partial && (l->line.len > 0 || l->line_over))
        end_line(l, l->off, fn, ud);
    if (l->rec_open)
        emit_rec(l, fn, ud);
}
