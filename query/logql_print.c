/* logql_print.c — canonical LogQL text: `{a="b", c=~"x"} |= "y" | json |
 * level="error"`, `sum by (a) (count_over_time({...}[5m0s] offset 1m))`.
 * Strings are Go-quoted, durations printed in Go's form, numbers in the
 * shortest form. Printing, parsing and printing again gives the same text. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "query/logql_internal.h"
#include "query/promql.h"
#include "query/promql_internal.h"

static void quote(struct scry_buf *b, const char *s, size_t len) { pql_quote(s, len, b); }
static void quotez(struct scry_buf *b, const char *s) { quote(b, s, strlen(s)); }

/* A duration as h/m/s/ms components ("1h30m", "1s500ms"); below a
 * millisecond in Go's units (both forms parse back). */
static void put_dur(struct scry_buf *b, int64_t ns)
{
    if (ns == 0) {
        scry_buf_puts(b, "0s");
        return;
    }
    if (ns < 0) {
        scry_buf_putc(b, '-');
        ns = -ns;
    }
    if (ns % 1000000) {
        scry_buf_printf(b, "%lldns", (long long)ns);
        return;
    }
    static const struct {
        int64_t ns;
        const char *u;
    } units[] = { { 3600000000000LL, "h" }, { 60000000000LL, "m" }, { 1000000000LL, "s" },
                  { 1000000LL, "ms" } };
    for (size_t i = 0; i < 4; i++)
        if (ns >= units[i].ns) {
            scry_buf_printf(b, "%lld%s", (long long)(ns / units[i].ns), units[i].u);
            ns %= units[i].ns;
        }
}

static void put_names(struct scry_buf *b, const char *const *v, size_t n)
{
    scry_buf_putc(b, '(');
    for (size_t i = 0; i < n; i++) {
        if (i)
            scry_buf_puts(b, ", ");
        scry_buf_puts(b, v[i]);
    }
    scry_buf_putc(b, ')');
}

static void put_lf(struct scry_buf *b, const struct lql_lf *f)
{
    static const char *const cmp[] = { "==", "!=", ">", ">=", "<", "<=" };
    if (f->paren)
        scry_buf_putc(b, '(');
    switch (f->kind) {
    case LQL_LF_AND:
    case LQL_LF_OR:
        put_lf(b, f->l);
        scry_buf_puts(b, f->kind == LQL_LF_AND ? " and " : " or ");
        put_lf(b, f->r);
        break;
    case LQL_LF_STR:
        scry_buf_puts(b, f->name);
        scry_buf_puts(b, scry_match_type_str(f->m.type));
        quotez(b, f->m.value);
        break;
    case LQL_LF_IP:
        scry_buf_puts(b, f->name);
        scry_buf_puts(b, f->cmp == LQL_NE ? "!=" : "=");
        scry_buf_puts(b, "ip(");
        quote(b, f->ip.s, f->ip.len);
        scry_buf_putc(b, ')');
        break;
    default:
        scry_buf_printf(b, "%s%s%s", f->name, cmp[f->cmp], f->text);
    }
    if (f->paren)
        scry_buf_putc(b, ')');
}

static void put_kvs(struct scry_buf *b, const struct lql_stage *st, bool format)
{
    for (size_t i = 0; i < st->u.kv.n_kv; i++) {
        const struct lql_kv *kv = &st->u.kv.kv[i];
        scry_buf_puts(b, i ? ", " : " ");
        scry_buf_puts(b, kv->name);
        if (kv->m) {
            scry_buf_puts(b, scry_match_type_str(kv->m->type));
            quotez(b, kv->value);
        } else if (kv->value) {
            scry_buf_putc(b, '=');
            if (format && !kv->is_tmpl)
                scry_buf_puts(b, kv->value);
            else
                quotez(b, kv->value);
        }
    }
}

static void put_log(struct scry_buf *b, const struct lql_log *log)
{
    scry_buf_putc(b, '{');
    for (size_t i = 0; i < log->n_matchers; i++) {
        if (i)
            scry_buf_puts(b, ", ");
        scry_buf_puts(b, log->matchers[i].name);
        scry_buf_puts(b, scry_match_type_str(log->matchers[i].type));
        quotez(b, log->matchers[i].value);
    }
    scry_buf_putc(b, '}');
    static const char *const fops[] = { "|=", "!=", "|~", "!~", "|>", "!>" };
    static const char *const convs[] = { "", "duration", "duration_seconds", "bytes" };
    for (size_t i = 0; i < log->n_stages; i++) {
        const struct lql_stage *st = &log->stages[i];
        switch (st->kind) {
        case LQL_ST_FILTER:
            scry_buf_printf(b, " %s ", fops[st->u.filter.op]);
            for (size_t j = 0; j < st->u.filter.n_vals; j++) {
                const struct lql_fval *f = &st->u.filter.vals[j];
                if (j)
                    scry_buf_puts(b, " or ");
                if (f->ip)
                    scry_buf_puts(b, "ip(");
                quote(b, f->s, f->len);
                if (f->ip)
                    scry_buf_putc(b, ')');
            }
            break;
        case LQL_ST_JSON:
            scry_buf_puts(b, " | json");
            put_kvs(b, st, false);
            break;
        case LQL_ST_LOGFMT:
            scry_buf_puts(b, " | logfmt");
            if (st->u.kv.strict)
                scry_buf_puts(b, " --strict");
            if (st->u.kv.keep_empty)
                scry_buf_puts(b, " --keep-empty");
            put_kvs(b, st, false);
            break;
        case LQL_ST_UNPACK: scry_buf_puts(b, " | unpack"); break;
        case LQL_ST_DECOLORIZE: scry_buf_puts(b, " | decolorize"); break;
        case LQL_ST_REGEXP:
        case LQL_ST_PATTERN:
        case LQL_ST_LINE_FORMAT:
            scry_buf_puts(b, st->kind == LQL_ST_REGEXP    ? " | regexp "
                             : st->kind == LQL_ST_PATTERN ? " | pattern "
                                                          : " | line_format ");
            quote(b, st->u.text.src, st->u.text.len);
            break;
        case LQL_ST_LABEL_FILTER:
            scry_buf_puts(b, " | ");
            put_lf(b, st->u.lf);
            break;
        case LQL_ST_LABEL_FORMAT:
            scry_buf_puts(b, " | label_format");
            put_kvs(b, st, true);
            break;
        case LQL_ST_DROP:
        case LQL_ST_KEEP:
            scry_buf_puts(b, st->kind == LQL_ST_DROP ? " | drop" : " | keep");
            put_kvs(b, st, false);
            break;
        case LQL_ST_UNWRAP:
            if (st->u.unwrap.conv)
                scry_buf_printf(b, " | unwrap %s(%s)", convs[st->u.unwrap.conv],
                                st->u.unwrap.label);
            else
                scry_buf_printf(b, " | unwrap %s", st->u.unwrap.label);
            break;
        }
    }
}

static void put_grouping(struct scry_buf *b, const struct lql_grouping *g)
{
    if (!g->present)
        return;
    scry_buf_puts(b, g->without ? " without " : " by ");
    put_names(b, g->labels, g->n);
}

static void put_num(struct scry_buf *b, double v) { pql__put_float_f(b, v); }

void lql_expr_print(const struct lql_expr *e, struct scry_buf *b)
{
    switch (e->kind) {
    case LQL_LOG: put_log(b, &e->u.log); break;
    case LQL_RANGE:
        scry_buf_puts(b, lql__range_op_name(e->u.range.op));
        scry_buf_putc(b, '(');
        if (e->u.range.op == LQL_QUANTILE_OVER_TIME) {
            pql__put_float_f(b, e->u.range.param);
            scry_buf_puts(b, ", ");
        }
        put_log(b, &e->u.range.log);
        scry_buf_puts(b, " [");
        put_dur(b, e->u.range.range_ns);
        scry_buf_putc(b, ']');
        if (e->u.range.offset_ns) {
            scry_buf_puts(b, " offset ");
            put_dur(b, e->u.range.offset_ns);
        }
        scry_buf_putc(b, ')');
        put_grouping(b, &e->u.range.grouping);
        break;
    case LQL_VAGG:
        scry_buf_puts(b, lql__vagg_op_name(e->u.vagg.op));
        put_grouping(b, &e->u.vagg.grouping);
        scry_buf_puts(b, e->u.vagg.grouping.present ? " (" : "(");
        if (e->u.vagg.op == LQL_TOPK || e->u.vagg.op == LQL_BOTTOMK) {
            pql__put_float_f(b, e->u.vagg.param);
            scry_buf_puts(b, ", ");
        }
        lql_expr_print(e->u.vagg.inner, b);
        scry_buf_putc(b, ')');
        break;
    case LQL_BINARY:
        lql_expr_print(e->u.bin.lhs, b);
        scry_buf_printf(b, " %s ", lql__binop_name(e->u.bin.op));
        if (e->u.bin.return_bool)
            scry_buf_puts(b, "bool ");
        if (e->u.bin.on || e->u.bin.ignoring) {
            scry_buf_puts(b, e->u.bin.on ? "on " : "ignoring ");
            put_names(b, e->u.bin.match, e->u.bin.n_match);
            scry_buf_putc(b, ' ');
            if (e->u.bin.card) {
                scry_buf_puts(b, e->u.bin.card == 1 ? "group_left " : "group_right ");
                put_names(b, e->u.bin.include, e->u.bin.n_include);
                scry_buf_putc(b, ' ');
            }
        }
        lql_expr_print(e->u.bin.rhs, b);
        break;
    case LQL_NUMBER: put_num(b, e->u.num); break;
    case LQL_VECTOR:
        scry_buf_puts(b, "vector(");
        pql__put_float_f(b, e->u.num);
        scry_buf_putc(b, ')');
        break;
    case LQL_LABEL_REPLACE:
        scry_buf_puts(b, "label_replace(");
        lql_expr_print(e->u.lrep.inner, b);
        const char *s[4] = { e->u.lrep.dst, e->u.lrep.repl, e->u.lrep.src, e->u.lrep.regex };
        for (int i = 0; i < 4; i++) {
            scry_buf_puts(b, ", ");
            quotez(b, s[i]);
        }
        scry_buf_putc(b, ')');
        break;
    case LQL_PAREN:
        scry_buf_putc(b, '(');
        lql_expr_print(e->u.paren, b);
        scry_buf_putc(b, ')');
        break;
    }
}
