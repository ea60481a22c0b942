/* Tests collector/relabel.c and collector/md5.c: a table of cases written
 * from the behaviour of Prometheus's model/relabel/relabel.go (and its
 * relabel_test.go), every action, the defaults, $-expansion edges, invalid
 * target names and empty values; MD5 against RFC 1321's suite. Rules are
 * loaded through the real config loader, so defaults and regex anchoring
 * are the ones users get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "collector/md5.h"
#include "collector/relabel.h"
#include "core/arena.h"
#include "core/config.h"

struct rcase {
    const char *name;
    const char *rules; /* YAML flow mappings, one per line */
    const char *in;    /* "a=foo b=bar": space-separated pairs */
    const char *out;   /* same form, sorted; NULL when dropped */
};

static const struct rcase cases[] = {
    { "no rules keep everything", "", "a=foo b=bar", "a=foo b=bar" },
    { "replace with group in replacement",
      "{source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'}",
      "a=foo b=bar c=baz", "a=foo b=bar c=baz d=choo-choo" },
    { "replace joins sources with the separator",
      "{source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: '${1}${2}'}",
      "a=foo b=bar c=baz", "a=ooba b=bar c=baz" },
    { "replace custom separator",
      "{source_labels: [a, b], separator: '-', target_label: d}", "a=foo b=bar",
      "a=foo b=bar d=foo-bar" },
    { "replace regex is anchored: no match leaves labels",
      "{source_labels: [a], regex: 'o', target_label: d, replacement: x}", "a=foo", "a=foo" },
    { "replace defaults copy the value", "{source_labels: [a], target_label: d}", "a=foo",
      "a=foo d=foo" },
    { "replace with absent source and default replacement deletes",
      "{source_labels: [z], target_label: d}", "a=foo d=old", "a=foo" },
    { "replace with absent source sets a static value",
      "{source_labels: [z], target_label: d, replacement: x}", "a=foo", "a=foo d=x" },
    { "replace empty replacement deletes the target",
      "{source_labels: [a], regex: '.*', target_label: b, replacement: ''}", "a=foo b=bar",
      "a=foo" },
    { "replace target name from a group",
      "{source_labels: [a], regex: '(.*)', target_label: '${1}_x', replacement: v}", "a=foo",
      "a=foo foo_x=v" },
    { "replace skips an invalid expanded target name",
      "{source_labels: [a], regex: '(.*)', target_label: '$1', replacement: v}", "a=0abc",
      "a=0abc" },
    { "replace skips a target that expands to nothing",
      "{source_labels: [a], regex: '(.*)', target_label: '${2}', replacement: v}", "a=foo",
      "a=foo" },
    { "$1x is ${1x}: empty, so the target is deleted",
      "{source_labels: [a], regex: '(.*)', target_label: d, replacement: '$1x'}",
      "a=foo d=old", "a=foo" },
    { "${1}x appends", "{source_labels: [a], regex: '(.*)', target_label: d, replacement: '${1}x'}",
      "a=foo", "a=foo d=foox" },
    { "$$ is a literal dollar",
      "{source_labels: [a], regex: '(.*)', target_label: d, replacement: '$$1'}", "a=foo",
      "a=foo d=$1" },
    { "named groups as $name and ${name}",
      "{source_labels: [a], regex: '(?P<n>f)(?P<rest>.*)', target_label: d, replacement: '${rest}-$n'}",
      "a=foo", "a=foo d=oo-f" },
    { "malformed ${ is copied verbatim",
      "{source_labels: [a], regex: '(.*)', target_label: d, replacement: '${1'}", "a=foo",
      "a=foo d=${1" },
    { "$10 is group 10, not group 1 and 0",
      "{source_labels: [a], regex: '(.*)', target_label: d, replacement: 'x$10'}", "a=foo",
      "a=foo d=x" },
    { "$0 is the whole match",
      "{source_labels: [a], regex: 'f(o)o', target_label: d, replacement: '$0/$1'}", "a=foo",
      "a=foo d=foo/o" },
    { "unmatched optional group expands to nothing",
      "{source_labels: [a], regex: '(x)?(foo)', target_label: d, replacement: '[$1]$2'}",
      "a=foo", "a=foo d=[]foo" },
    { "typical __address__ rewrite",
      "{source_labels: [__address__], regex: '(.*):9100', target_label: instance}",
      "__address__=host:9100", "__address__=host:9100 instance=host" },
    { "keep on match", "{source_labels: [a], regex: 'f.*', action: keep}", "a=foo", "a=foo" },
    { "keep drops on no match", "{source_labels: [a], regex: 'b.*', action: keep}", "a=foo",
      NULL },
    { "drop on match", "{source_labels: [a], regex: 'f.*', action: drop}", "a=foo", NULL },
    { "drop keeps on no match", "{source_labels: [a], regex: 'b.*', action: drop}", "a=foo",
      "a=foo" },
    { "drop on an absent label reads it as empty",
      "{source_labels: [z], regex: '', action: drop}", "a=foo", NULL },
    { "drop with a literal alternation",
      "{source_labels: [__name__], regex: 'up|go_goroutines', action: drop}",
      "__name__=go_goroutines", NULL },
    { "literal alternation does not match a prefix",
      "{source_labels: [__name__], regex: 'up|go_goroutines', action: drop}",
      "__name__=go_goroutines_x", "__name__=go_goroutines_x" },
    { "keepequal keeps when equal",
      "{source_labels: [a], target_label: b, action: keepequal}", "a=foo b=foo",
      "a=foo b=foo" },
    { "keepequal drops when different",
      "{source_labels: [a], target_label: b, action: keepequal}", "a=foo b=bar", NULL },
    { "dropequal drops when equal", "{source_labels: [a], target_label: b, action: dropequal}",
      "a=foo b=foo", NULL },
    { "dropequal keeps when different",
      "{source_labels: [a], target_label: b, action: dropequal}", "a=foo b=bar",
      "a=foo b=bar" },
    { "dropequal compares the joined value",
      "{source_labels: [a, b], target_label: c, action: dropequal}", "a=x b=y c=x;y", NULL },
    { "hashmod like Prometheus (md5 bytes 8..15 big-endian)",
      "{source_labels: [c], modulus: 1000, target_label: d, action: hashmod}",
      "a=foo b=bar c=baz", "a=foo b=bar c=baz d=976" },
    { "hashmod with a modulus over 2^32",
      "{source_labels: [c], modulus: 17179869184, target_label: d, action: hashmod}", "c=baz",
      "c=baz d=3361697416" },
    { "hashmod of a joined value",
      "{source_labels: [a, b], modulus: 7, target_label: d, action: hashmod}", "a=foo b=bar",
      "a=foo b=bar d=6" },
    { "hashmod of an absent label hashes the empty string",
      "{source_labels: [z], modulus: 1000, target_label: d, action: hashmod}", "a=foo",
      "a=foo d=958" },
    { "labelmap copies matching names",
      "{regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}", "a=foo b=bar c=baz",
      "a=foo b=bar bar_b=bar c=baz" },
    { "labelmap with the default replacement",
      "{regex: '__meta_(.*)', action: labelmap}", "__meta_x=1 __meta_y=2 a=foo",
      "__meta_x=1 __meta_y=2 a=foo x=1 y=2" },
    { "labelmap overwrites an existing label",
      "{regex: 'src_(.*)', action: labelmap}", "a=old src_a=new", "a=new src_a=new" },
    { "labeldrop by regex", "{regex: 'b.*', action: labeldrop}", "a=foo b=bar bb=x c=baz",
      "a=foo c=baz" },
    { "labeldrop by literal", "{regex: 'c', action: labeldrop}", "a=foo c=baz", "a=foo" },
    { "labelkeep by regex", "{regex: '(b|c)', action: labelkeep}", "a=foo b=bar c=baz",
      "b=bar c=baz" },
    { "lowercase", "{source_labels: [a], target_label: a_low, action: lowercase}", "a=FoO",
      "a=FoO a_low=foo" },
    { "uppercase of joined sources",
      "{source_labels: [a, b], target_label: u, action: uppercase}", "a=foo b=Bar",
      "a=foo b=Bar u=FOO;BAR" },
    { "lowercase of an empty value deletes",
      "{source_labels: [z], target_label: a, action: lowercase}", "a=foo b=x", "b=x" },
    { "rules apply in order, each sees the last one's output",
      "{source_labels: [a], target_label: b, replacement: 'x'}\n"
      "{source_labels: [b], regex: x, action: drop}",
      "a=foo", NULL },
    { "a later rule does not run after a drop",
      "{source_labels: [a], regex: foo, action: drop}\n"
      "{source_labels: [a], target_label: b}",
      "a=foo", NULL },
    { "metric rename pattern",
      "{source_labels: [__name__], regex: 'node_(.*)_bytes', target_label: __name__, replacement: 'host_${1}'}",
      "__name__=node_memory_bytes job=n", "__name__=host_memory job=n" },
};

static struct scry_config *load(const char *rules, struct scry_err *err)
{
    struct scry_buf y = { 0 };
    scry_buf_puts(&y, "scrape_configs:\n- job_name: j\n");
    if (*rules) {
        scry_buf_puts(&y, "  metric_relabel_configs:\n");
        for (const char *s = rules; *s;) {
            const char *nl = strchr(s, '\n');
            size_t len = nl ? (size_t)(nl - s) : strlen(s);
            scry_buf_printf(&y, "  - %.*s\n", (int)len, s);
            s += len + (nl != NULL);
        }
    }
    struct scry_config *cfg = NULL;
    int rc = scry_config_load_string("t.yml", y.p, y.len, &cfg, err);
    scry_buf_fini(&y);
    return rc == 0 ? cfg : NULL;
}

static void fill(struct scry_labels_builder *b, struct scry_arena *a, const char *in)
{
    char *z = scry_arena_strdup(a, in);
    for (char *tok = strtok(z, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = 0;
        scry_labels_builder_set(b, tok, eq + 1);
    }
}

static void format(const struct scry_labels_builder *b, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < b->n; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s=%s", i ? " " : "", b->v[i].name,
                              b->v[i].value);
}

static void test_relabel_table_matches_prometheus(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct rcase *t = &cases[i];
        struct scry_err err = { 0 };
        struct scry_config *cfg = load(t->rules, &err);
        if (!cfg)
            fail_msg("case %zu (%s): config: %s", i, t->name, err.msg);
        const struct scry_scrape_config *sc = &cfg->scrape_configs[0];
        struct scry_arena *a = scry_arena_create(0);
        struct scry_labels_builder b;
        scry_labels_builder_init(&b, a);
        fill(&b, a, t->in);
        bool keep = false;
        assert_int_equal(col_relabel(sc->metric_relabel_configs, sc->n_metric_relabel_configs,
                                     &b, &keep), 0);
        char got[512];
        format(&b, got, sizeof got);
        if (!t->out && keep)
            fail_msg("case %zu (%s): kept %s, want dropped", i, t->name, got);
        if (t->out && !keep)
            fail_msg("case %zu (%s): dropped, want %s", i, t->name, t->out);
        if (t->out && strcmp(got, t->out) != 0)
            fail_msg("case %zu (%s): got %s, want %s", i, t->name, got, t->out);
        scry_arena_destroy(a);
        scry_config_destroy(cfg);
    }
}

/* The context is reused across samples: results must not leak from one
 * application to the next, and scratch buffers stop growing. */
static void test_relabel_ctx_reuse_is_independent(void **state)
{
    struct scry_err err;
    struct scry_config *cfg = load(
        "{source_labels: [a, b], regex: '(.*);(.*)', target_label: c, replacement: '$2$1'}\n"
        "{source_labels: [__name__], regex: 'drop_me|also', action: drop}", &err);
    assert_non_null(cfg);
    const struct scry_scrape_config *sc = &cfg->scrape_configs[0];
    struct col_relabel_ctx ctx;
    col_relabel_ctx_init(&ctx, sc->metric_relabel_configs, sc->n_metric_relabel_configs);
    struct scry_arena *a = scry_arena_create(0);
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, a);
    char got[256];
    bool keep;
    fill(&b, a, "__name__=m a=1 b=2");
    col_relabel_apply(&ctx, &b, &keep);
    format(&b, got, sizeof got);
    assert_true(keep);
    assert_string_equal(got, "__name__=m a=1 b=2 c=21");
    scry_labels_builder_reset(&b, NULL);
    fill(&b, a, "__name__=also a=x");
    col_relabel_apply(&ctx, &b, &keep);
    assert_false(keep);
    scry_labels_builder_reset(&b, NULL);
    fill(&b, a, "__name__=n b=y");
    col_relabel_apply(&ctx, &b, &keep);
    format(&b, got, sizeof got);
    assert_true(keep);
    assert_string_equal(got, "__name__=n b=y c=y");
    size_t cap = ctx.target.cap + ctx.res.cap + ctx.val.cap;
    for (int i = 0; i < 1000; i++)
        col_relabel_apply(&ctx, &b, &keep);
    assert_int_equal(ctx.target.cap + ctx.res.cap + ctx.val.cap, cap);
    col_relabel_ctx_fini(&ctx);
    scry_arena_destroy(a);
    scry_config_destroy(cfg);
}

static void test_relabel_expand_edges(void **state)
{
    /* Subject "foo", group 0 = [0,3), group 1 = [1,3), group 2 unset. */
    const size_t ov[] = { 0, 3, 1, 3, (size_t)-1, (size_t)-1 };
    static const struct { const char *tmpl, *want; } t[] = {
        { "$1", "oo" },   { "${1}", "oo" }, { "$1x", "" },  { "${1}x", "oox" },
        { "$2", "" },     { "$3", "" },     { "$$", "$" },  { "$", "$" },
        { "a$", "a$" },   { "${", "${" },   { "${}", "${}" }, { "$-1", "$-1" },
        { "$01", "" },    { "$0", "foo" },  { "x${1}y$1", "xooyoo" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct scry_buf out = { 0 };
        scry_buf_putc(&out, 0);
        scry_buf_reset(&out);
        col__relabel_expand(&out, t[i].tmpl, "foo", ov, 3, NULL);
        if (strcmp(out.p, t[i].want) != 0)
            fail_msg("expand(%s) = %s, want %s", t[i].tmpl, out.p, t[i].want);
        scry_buf_fini(&out);
    }
}

static void hex(const uint8_t d[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_md5_rfc1321_suite(void **state)
{
    static const struct { const char *in, *want; } t[] = {
        { "", "d41d8cd98f00b204e9800998ecf8427e" },
        { "a", "0cc175b9c0f1b6a831c399e269772661" },
        { "abc", "900150983cd24fb0d6963f7d28e17f72" },
        { "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
        { "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
          "d174ab98d277d9f5a5611c2c9f419d9f" },
        { "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
          "57edf4a22be3c955ac49da2e2107b67a" },
    };
    uint8_t d[16];
    char h[33];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        col_md5(t[i].in, strlen(t[i].in), d);
        hex(d, h);
        assert_string_equal(h, t[i].want);
    }
}

/* Padding boundaries: 55 bytes fit one block with the length, 56 need two. */
static void test_md5_padding_boundaries(void **state)
{
    static const struct { size_t n; const char *want; } t[] = {
        { 55, "04364420e25c512fd958a70738aa8f72" }, { 56, "668a72d5ba17f08e62dabcafad6db14b" },
        { 63, "7dc2ca208106a2f703567bdff99d8981" }, { 64, "c1bb4f81d892b2d57947682aeb252456" },
        { 65, "1bc932052302d074bdec39795fe00cf6" }, { 119, "ab347a5f68c8a443cfcddc633f12c24f" },
        { 120, "fb98667f98096de92620b64f46e1c5b5" },
    };
    char buf[128];
    memset(buf, 'x', sizeof buf);
    uint8_t d[16];
    char h[33];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        col_md5(buf, t[i].n, d);
        hex(d, h);
        assert_string_equal(h, t[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relabel_table_matches_prometheus),
        cmocka_unit_test(test_relabel_ctx_reuse_is_independent),
        cmocka_unit_test(test_relabel_expand_edges),
        cmocka_unit_test(test_md5_rfc1321_suite),
        cmocka_unit_test(test_md5_padding_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
