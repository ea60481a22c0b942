/* fuzz_labels.c — label sets and matchers from arbitrary bytes.
 *
 * Input: lines separated by '\n'. The first byte picks the matcher type
 * (mod 4) and the rest of the first line is its value (a regex for =~ and
 * !~); the following lines alternate label name and value. The pairs go
 * through the builder (sorted, deduplicated) and, raw and unsorted, straight
 * to validate; the builder's output is hashed, compared, formatted and
 * matched. Checks that must hold for any input abort when they fail:
 * the builder's output is strictly sorted with no empty values, the hash and
 * the comparison agree with themselves, and the matcher's !~ is the
 * negation of =~. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/labels.h"
#include "core/matcher.h"

#define MAX_INPUT 4096 /* regex compile and match cost grows with size; keep runs fast */
#define MAX_PAIRS 64

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > MAX_INPUT)
        return 0;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;

    /* Split into lines in place. */
    char *lines[2 * MAX_PAIRS + 1];
    size_t n_lines = 0;
    for (char *p = buf; p && n_lines < sizeof lines / sizeof lines[0];) {
        lines[n_lines++] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = 0;
    }

    enum scry_match_type type = (enum scry_match_type)((unsigned char)lines[0][0] % 4);
    const char *mvalue = lines[0][0] ? lines[0] + 1 : lines[0];

    struct scry_arena *a = scry_arena_create(0);
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, a);
    struct scry_label raw[MAX_PAIRS];
    size_t n_raw = 0;
    for (size_t i = 1; i + 1 < n_lines; i += 2) {
        scry_labels_builder_set(&b, lines[i], lines[i + 1]);
        raw[n_raw++] = (struct scry_label){ lines[i], lines[i + 1] };
    }
    struct scry_labels rs = { raw, n_raw };
    struct scry_err err;
    (void)scry_labels_validate(&rs, &err);

    struct scry_labels ls = scry_labels_builder_labels(&b);
    for (size_t i = 0; i < ls.n; i++) {
        check(ls.v[i].value[0] != 0);
        check(i == 0 || strcmp(ls.v[i - 1].name, ls.v[i].name) < 0);
        check(scry_labels_get(&ls, ls.v[i].name) == ls.v[i].value);
    }
    (void)scry_labels_validate(&ls, &err);
    check(scry_labels_hash(&ls) == scry_labels_hash(&ls));
    check(scry_labels_cmp(&ls, &ls) == 0 && scry_labels_equal(&ls, &ls));
    check(scry_labels_cmp(&ls, &rs) == -scry_labels_cmp(&rs, &ls));
    struct scry_buf out = { 0 };
    scry_labels_format(&ls, &out);
    check(out.len > 0);
    scry_buf_fini(&out);

    /* Rebuilding from the set and deleting everything leaves it empty. */
    scry_labels_builder_reset(&b, &ls);
    for (size_t i = 0; i < ls.n; i++)
        scry_labels_builder_del(&b, ls.v[i].name);
    check(scry_labels_builder_labels(&b).n == 0);

    struct scry_matcher m, nm;
    if (scry_matcher_init(&m, type, "x", mvalue, &err) == 0) {
        enum scry_match_type neg = type ^ 1; /* EQ<->NEQ, RE<->NRE */
        check(scry_matcher_init(&nm, neg, "x", mvalue, &err) == 0);
        for (size_t i = 1; i < n_lines; i++) {
            size_t len = strlen(lines[i]);
            check(scry_matcher_matches(&m, lines[i], len) != scry_matcher_matches(&nm, lines[i], len));
        }
        for (size_t i = 0; i < ls.n; i++) {
            m.name = ls.v[i].name;
            nm.name = ls.v[i].name;
            check(scry_matcher_matches_labels(&m, &ls) != scry_matcher_matches_labels(&nm, &ls));
        }
        scry_matcher_fini(&nm);
        scry_matcher_fini(&m);
    }
    scry_arena_destroy(a);
    free(buf);
    return 0;
}
