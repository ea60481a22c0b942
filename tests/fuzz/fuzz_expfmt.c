/* fuzz_expfmt.c — the text and OpenMetrics parsers on arbitrary bytes.
 *
 * Input: the first byte picks the format (bit 0: 0 text, 1 OpenMetrics);
 * the rest is the body, copied into a buffer of exactly its size so that
 * ASan sees any read past the end. Every slice handed out must lie inside
 * the body, `escaped` must be true exactly when a value holds a backslash,
 * unescaping must never grow a value, NaN must be canonical, and a failed
 * parse must name a line. Violations abort. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/expfmt.h"

#define MAX_INPUT (1 << 20)

#include <stdio.h>
/* Names the failed invariant, so a crash file explains itself. */
#define check(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "fuzz_expfmt: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                             \
        }                                                                        \
    } while (0)

static const char *lo, *hi;

static void in_body(struct scry_str s)
{
    check(s.len == 0 || (s.p >= lo && s.p + s.len <= hi));
}

static void labels(const struct col_expfmt_label *v, size_t n, char *tmp)
{
    for (size_t i = 0; i < n; i++) {
        in_body(v[i].name);
        in_body(v[i].value);
        check(v[i].name.len > 0);
        check(v[i].escaped == (memchr(v[i].value.p, '\\', v[i].value.len) != NULL));
        check(col_expfmt_unescape(v[i].value, tmp) <= v[i].value.len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > MAX_INPUT)
        return 0;
    enum col_expfmt_format fmt = data[0] & 1 ? COL_EXPFMT_OPENMETRICS : COL_EXPFMT_TEXT;
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    memcpy(body, data + 1, len);
    char *tmp = malloc(len ? len : 1);
    lo = body;
    hi = body + len;

    struct col_expfmt_parser p;
    col_expfmt_init(&p, body, len, fmt);
    int k;
    while ((k = col_expfmt_next(&p)) > 0) {
        if (k == COL_EXPFMT_SAMPLE) {
            const struct col_expfmt_sample *s = &p.sample;
            in_body(s->name);
            in_body(s->series);
            check(s->name.len > 0 && s->series.len >= s->name.len && s->series.p == s->name.p);
            labels(s->labels, s->n_labels, tmp);
            if (isnan(s->value)) {
                uint64_t bits;
                memcpy(&bits, &s->value, sizeof bits);
                check(bits == 0x7ff8000000000001ULL);
            }
            if (s->has_exemplar) {
                check(fmt == COL_EXPFMT_OPENMETRICS);
                labels(s->exemplar.labels, s->exemplar.n_labels, tmp);
            }
        } else {
            in_body(p.meta.name);
            in_body(p.meta.text);
            if (k == COL_EXPFMT_HELP)
                check(col_expfmt_help(&p, tmp) <= p.meta.text.len);
        }
    }
    struct scry_err err;
    if (k == COL_EXPFMT_ERROR) {
        check(col_expfmt_err(&p, &err) == SCRY_EPARSE);
        check(strncmp(err.msg, "line ", 5) == 0 && err.line >= 1 && err.col >= 1);
        check(err.offset <= len);
    } else {
        check(col_expfmt_err(&p, &err) == 0);
    }
    check(col_expfmt_next(&p) == k); /* sticky */
    col_expfmt_fini(&p);
    free(tmp);
    free(body);
    return 0;
}
