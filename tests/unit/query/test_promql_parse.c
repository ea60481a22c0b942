/* Tests query/promql_parse.c (with the lexer and checker): precedence and
 * associativity, selectors and matchers, modifiers, aggregations, literals,
 * comments, and Prometheus's error messages with their positions. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "query/promql.h"

static struct scry_arena *arena;
static struct pql_expr *last;

static int setup(void **state)
{
    arena = scry_arena_create(0);
    return 0;
}

static int teardown(void **state)
{
    pql_expr_fini(last);
    last = NULL;
    scry_arena_destroy(arena);
    return 0;
}

static struct pql_expr *P(const char *q)
{
    struct scry_err err = { 0 };
    struct pql_expr *e = NULL;
    if (pql_parse(arena, q, strlen(q), &e, &err) != 0)
        fail_msg("parse %s: %s", q, err.msg);
    pql_expr_fini(last); /* keep one tree alive at a time */
    last = e;
    return e;
}

/* The full error text, and its line/col. */
static char errbuf[SCRY_ERR_MSG_MAX];
static int err_line, err_col;
static const char *E(const char *q)
{
    struct scry_err err = { 0 };
    struct pql_expr *e = NULL;
    int rc = pql_parse(arena, q, strlen(q), &e, &err);
    if (rc == 0) {
        pql_expr_fini(e);
        fail_msg("%s parsed but should not", q);
    }
    assert_int_equal(rc, SCRY_EPARSE);
    assert_int_equal(err.code, SCRY_EPARSE);
    snprintf(errbuf, sizeof(errbuf), "%s", err.msg);
    err_line = err.line;
    err_col = err.col;
    return errbuf;
}

#define ERR(q, msg) assert_string_equal(E(q), (msg))

/* ---- precedence and associativity ---------------------------------------- */

static void test_promql_parse_sub_is_left_associative(void **state)
{
    struct pql_expr *e = P("a - b - c");
    assert_int_equal(e->kind, PQL_BINARY);
    assert_int_equal(e->u.bin.op, PQL_OP_SUB);
    assert_int_equal(e->u.bin.lhs->kind, PQL_BINARY);
    assert_string_equal(e->u.bin.rhs->u.vs.name, "c");
    assert_string_equal(e->u.bin.lhs->u.bin.lhs->u.vs.name, "a");
}

static void test_promql_parse_pow_is_right_associative(void **state)
{
    struct pql_expr *e = P("2 ^ 3 ^ 2");
    assert_int_equal(e->u.bin.op, PQL_OP_POW);
    assert_int_equal(e->u.bin.lhs->kind, PQL_NUMBER);
    assert_true(e->u.bin.lhs->u.number.val == 2);
    assert_int_equal(e->u.bin.rhs->kind, PQL_BINARY);
    assert_int_equal(e->type, PQL_TYPE_SCALAR);
}

static void test_promql_parse_unary_minus_binds_looser_than_pow(void **state)
{
    struct pql_expr *e = P("-2^2");
    assert_int_equal(e->kind, PQL_UNARY);
    assert_int_equal(e->u.unary.op, PQL_OP_SUB);
    assert_int_equal(e->u.unary.expr->kind, PQL_BINARY);
    assert_int_equal(e->u.unary.expr->u.bin.op, PQL_OP_POW);
    /* but tighter than *: (-a) * b */
    e = P("-a * b");
    assert_int_equal(e->kind, PQL_BINARY);
    assert_int_equal(e->u.bin.op, PQL_OP_MUL);
    assert_int_equal(e->u.bin.lhs->kind, PQL_UNARY);
    /* a sign on a literal folds into it */
    e = P("-1");
    assert_int_equal(e->kind, PQL_NUMBER);
    assert_true(e->u.number.val == -1);
    assert_int_equal(e->pos.start, 0);
}

static void test_promql_parse_set_operator_precedence(void **state)
{
    struct pql_expr *e = P("a or b and c");
    assert_int_equal(e->u.bin.op, PQL_OP_OR);
    assert_int_equal(e->u.bin.rhs->u.bin.op, PQL_OP_AND);
    e = P("a and b unless c");
    assert_int_equal(e->u.bin.op, PQL_OP_UNLESS);
    assert_int_equal(e->u.bin.lhs->u.bin.op, PQL_OP_AND);
    e = P("a unless b or c == d + e * f");
    assert_int_equal(e->u.bin.op, PQL_OP_OR);
    assert_int_equal(e->u.bin.lhs->u.bin.op, PQL_OP_UNLESS);
    struct pql_expr *r = e->u.bin.rhs;
    assert_int_equal(r->u.bin.op, PQL_OP_EQLC);
    assert_int_equal(r->u.bin.rhs->u.bin.op, PQL_OP_ADD);
    assert_int_equal(r->u.bin.rhs->u.bin.rhs->u.bin.op, PQL_OP_MUL);
    assert_int_equal(e->u.bin.vm->card, PQL_CARD_MANY_TO_MANY);
}

static void test_promql_parse_atan2_binds_like_mul(void **state)
{
    struct pql_expr *e = P("a + b atan2 c");
    assert_int_equal(e->u.bin.op, PQL_OP_ADD);
    assert_int_equal(e->u.bin.rhs->u.bin.op, PQL_OP_ATAN2);
}

/* ---- selectors ------------------------------------------------------------- */

static void test_promql_parse_every_matcher_kind(void **state)
{
    struct pql_expr *e = P("foo{a=\"1\", b!=\"2\", c=~\"3.*\", d!~'4',}");
    assert_int_equal(e->kind, PQL_VECTOR_SEL);
    struct pql_vector_sel *vs = &e->u.vs;
    assert_string_equal(vs->name, "foo");
    assert_int_equal(vs->n_matchers, 5);
    assert_int_equal(vs->matchers[0].type, SCRY_MATCH_EQ);
    assert_int_equal(vs->matchers[1].type, SCRY_MATCH_NEQ);
    assert_int_equal(vs->matchers[2].type, SCRY_MATCH_RE);
    assert_int_equal(vs->matchers[3].type, SCRY_MATCH_NRE);
    assert_string_equal(vs->matchers[3].name, "d");
    assert_string_equal(vs->matchers[3].value, "4");
    assert_string_equal(vs->matchers[4].name, "__name__");
    assert_string_equal(vs->matchers[4].value, "foo");
    assert_true(scry_matcher_matches(&vs->matchers[2], "3abc", 4));
    assert_false(scry_matcher_matches(&vs->matchers[2], "x3", 2));
}

static void test_promql_parse_name_regex_without_metric_name(void **state)
{
    struct pql_expr *e = P("{__name__=~\"a|b\"}");
    assert_null(e->u.vs.name);
    assert_int_equal(e->u.vs.n_matchers, 1);
    assert_int_equal(e->u.vs.matchers[0].type, SCRY_MATCH_RE);
    assert_true(scry_matcher_matches(&e->u.vs.matchers[0], "b", 1));
    e = P("{job=\"x\"}");
    assert_null(e->u.vs.name);
    assert_int_equal(e->type, PQL_TYPE_VECTOR);
    /* keywords are names inside braces and as metric names */
    e = P("{by=\"x\", offset=\"y\"}");
    assert_string_equal(e->u.vs.matchers[1].name, "offset");
    e = P("offset");
    assert_string_equal(e->u.vs.name, "offset");
    e = P("sum{a=\"b\"}");
    assert_string_equal(e->u.vs.name, "sum");
    e = P("{\"a.b\"=\"c\", \"metric.name\"}");
    assert_string_equal(e->u.vs.matchers[0].name, "a.b");
    assert_string_equal(e->u.vs.matchers[1].name, "__name__");
    assert_string_equal(e->u.vs.matchers[1].value, "metric.name");
}

static void test_promql_parse_offset_and_at_in_both_orders(void **state)
{
    struct pql_expr *e = P("foo offset 5m @ 10");
    assert_int_equal(e->u.vs.offset_ms, 300000);
    assert_int_equal(e->u.vs.at, PQL_AT_TIMESTAMP);
    assert_int_equal(e->u.vs.at_ms, 10000);
    e = P("foo @ 10.5 offset 5m");
    assert_int_equal(e->u.vs.offset_ms, 300000);
    assert_int_equal(e->u.vs.at_ms, 10500);
    e = P("foo offset -1h30m");
    assert_int_equal(e->u.vs.offset_ms, -5400000);
    e = P("foo[5m] offset 1m @ start()");
    assert_int_equal(e->kind, PQL_MATRIX_SEL);
    assert_int_equal(e->u.ms.range_ms, 300000);
    assert_int_equal(e->u.ms.vs->u.vs.offset_ms, 60000);
    assert_int_equal(e->u.ms.vs->u.vs.at, PQL_AT_START);
    e = P("foo @ end()");
    assert_int_equal(e->u.vs.at, PQL_AT_END);
    e = P("foo @ -1");
    assert_int_equal(e->u.vs.at_ms, -1000);
    e = P("foo offset 100"); /* a number is seconds */
    assert_int_equal(e->u.vs.offset_ms, 100000);
    e = P("-x offset 5m"); /* offset binds to x, inside the unary */
    assert_int_equal(e->kind, PQL_UNARY);
    assert_int_equal(e->u.unary.expr->u.vs.offset_ms, 300000);
}

static void test_promql_parse_subqueries(void **state)
{
    struct pql_expr *e = P("rate(x[5m])[30m:1m]");
    assert_int_equal(e->kind, PQL_SUBQUERY);
    assert_int_equal(e->type, PQL_TYPE_MATRIX);
    assert_int_equal(e->u.sq.range_ms, 1800000);
    assert_int_equal(e->u.sq.step_ms, 60000);
    assert_int_equal(e->u.sq.expr->kind, PQL_CALL);
    e = P("max_over_time(rate(x[5m])[30m:1m] offset 1m)[1h:] @ 100");
    assert_int_equal(e->kind, PQL_SUBQUERY);
    assert_int_equal(e->u.sq.step_ms, 0);
    assert_int_equal(e->u.sq.at_ms, 100000);
    struct pql_expr *inner = e->u.sq.expr->u.call.args[0];
    assert_int_equal(inner->kind, PQL_SUBQUERY);
    assert_int_equal(inner->u.sq.offset_ms, 60000);
}

static void test_promql_parse_range_durations(void **state)
{
    assert_int_equal(P("x[1h30m]")->u.ms.range_ms, 5400000);
    assert_int_equal(P("x[1y]")->u.ms.range_ms, 365LL * 86400000);
    assert_int_equal(P("x[90]")->u.ms.range_ms, 90000);
    assert_int_equal(P("x[10s53ms]")->u.ms.range_ms, 10053);
    assert_int_equal(P("x[1w]")->u.ms.range_ms, 7LL * 86400000);
}

/* ---- aggregations ----------------------------------------------------------- */

static void test_promql_parse_grouping_before_and_after(void **state)
{
    struct pql_expr *e = P("sum by (a, b) (x)");
    assert_int_equal(e->kind, PQL_AGGREGATE);
    assert_int_equal(e->u.agg.op, PQL_AGG_SUM);
    assert_int_equal(e->u.agg.n_grouping, 2);
    assert_string_equal(e->u.agg.grouping[1], "b");
    assert_false(e->u.agg.without);
    e = P("avg(x) without (instance,)");
    assert_true(e->u.agg.without);
    assert_int_equal(e->u.agg.n_grouping, 1);
    assert_string_equal(e->u.agg.grouping[0], "instance");
    e = P("SUM BY (group) (x)"); /* keywords are case-insensitive, labels may be keywords */
    assert_string_equal(e->u.agg.grouping[0], "group");
    e = P("count without () (x)");
    assert_true(e->u.agg.without);
    assert_int_equal(e->u.agg.n_grouping, 0);
}

static void test_promql_parse_aggregation_params(void **state)
{
    struct pql_expr *e = P("topk(3, x)");
    assert_int_equal(e->u.agg.op, PQL_AGG_TOPK);
    assert_true(e->u.agg.param->u.number.val == 3);
    e = P("quantile by (a) (0.9, x)");
    assert_int_equal(e->u.agg.op, PQL_AGG_QUANTILE);
    e = P("count_values(\"value\", y)");
    assert_int_equal(e->u.agg.param->kind, PQL_STRING);
    assert_string_equal(e->u.agg.param->u.string.val, "value");
    e = P("bottomk(scalar(z), y)");
    assert_int_equal(e->u.agg.param->kind, PQL_CALL);
    e = P("limitk(2, x)");
    assert_int_equal(e->u.agg.op, PQL_AGG_LIMITK);
    e = P("limit_ratio(0.5, x)");
    assert_int_equal(e->u.agg.op, PQL_AGG_LIMIT_RATIO);
    assert_null(P("sum(x)")->u.agg.param);
}

/* ---- binary modifiers ---------------------------------------------------- */

static void test_promql_parse_vector_matching(void **state)
{
    struct pql_expr *e = P("a > bool b");
    assert_true(e->u.bin.return_bool);
    e = P("a + on(b) group_left(c, d) e");
    struct pql_vector_matching *vm = e->u.bin.vm;
    assert_non_null(vm);
    assert_true(vm->on);
    assert_int_equal(vm->card, PQL_CARD_MANY_TO_ONE);
    assert_int_equal(vm->n_labels, 1);
    assert_int_equal(vm->n_include, 2);
    assert_string_equal(vm->include[1], "d");
    e = P("a / ignoring(x) group_right b");
    assert_false(e->u.bin.vm->on);
    assert_int_equal(e->u.bin.vm->card, PQL_CARD_ONE_TO_MANY);
    assert_int_equal(e->u.bin.vm->n_include, 0);
    e = P("a * on() b");
    assert_true(e->u.bin.vm->on);
    assert_int_equal(e->u.bin.vm->n_labels, 0);
    e = P("a * 2");
    assert_null(e->u.bin.vm); /* only between two instant vectors */
    assert_int_equal(e->type, PQL_TYPE_VECTOR);
    e = P("1 < bool 2");
    assert_int_equal(e->type, PQL_TYPE_SCALAR);
}

/* ---- literals ------------------------------------------------------------- */

static double num(const char *q)
{
    struct pql_expr *e = P(q);
    assert_int_equal(e->kind, PQL_NUMBER);
    return e->u.number.val;
}

static void test_promql_parse_numbers(void **state)
{
    assert_true(num("1e3") == 1000);
    assert_true(num("0x1F") == 31);
    assert_true(num("0X_1f") == 31);
    assert_true(num(".5") == 0.5);
    assert_true(num("5.") == 5);
    assert_true(num("010") == 8); /* Go's ParseInt base detection */
    assert_true(num("1_000") == 1000);
    assert_true(num("2.5e-3") == 0.0025);
    assert_true(isinf(num("Inf")) && num("Inf") > 0);
    assert_true(isinf(num("-inf")) && num("-inf") < 0);
    assert_true(isnan(num("NaN")));
    assert_true(isnan(num("nan")));
    assert_true(num("1h30m") == 5400);
    assert_true(P("1h30m")->u.number.duration);
}

static void test_promql_parse_strings_with_escapes(void **state)
{
    struct pql_expr *e = P("\"\\x41\\u00e9\\n\\t\\\\\\\"\"");
    assert_int_equal(e->kind, PQL_STRING);
    assert_string_equal(e->u.string.val, "A\xc3\xa9\n\t\\\"");
    e = P("`raw\\n\"`");
    assert_string_equal(e->u.string.val, "raw\\n\"");
    e = P("'it\\'s'");
    assert_string_equal(e->u.string.val, "it's");
    e = P("\"\\101\\U0001F600\"");
    assert_string_equal(e->u.string.val, "A\xf0\x9f\x98\x80");
    e = P("\"\\x00z\"");
    assert_int_equal(e->u.string.len, 2);
}

static void test_promql_parse_comments(void **state)
{
    struct pql_expr *e = P("# leading\nfoo # one\n + # two\n bar # end");
    assert_int_equal(e->kind, PQL_BINARY);
    assert_string_equal(e->u.bin.rhs->u.vs.name, "bar");
    e = P("foo{a=\"b\" # inside braces\n}");
    assert_int_equal(e->u.vs.n_matchers, 2);
}

static void test_promql_parse_positions(void **state)
{
    struct pql_expr *e = P("sum(rate(x[5m])) + 1");
    assert_int_equal(e->pos.start, 0);
    assert_int_equal(e->pos.end, 20);
    struct pql_expr *agg = e->u.bin.lhs;
    assert_int_equal(agg->pos.end, 16);
    struct pql_expr *call = agg->u.agg.expr;
    assert_int_equal(call->pos.start, 4);
    assert_int_equal(call->pos.end, 15);
    assert_int_equal(call->u.call.args[0]->pos.start, 9);
    assert_int_equal(call->u.call.args[0]->pos.end, 14);
}

/* ---- types ------------------------------------------------------------------ */

static void test_promql_parse_static_types(void **state)
{
    assert_int_equal(P("rate(x[5m])")->type, PQL_TYPE_VECTOR);
    assert_int_equal(P("x[5m]")->type, PQL_TYPE_MATRIX);
    assert_int_equal(P("time()")->type, PQL_TYPE_SCALAR);
    assert_int_equal(P("\"s\"")->type, PQL_TYPE_STRING);
    assert_int_equal(P("(1 + 2)")->type, PQL_TYPE_SCALAR);
    assert_int_equal(P("scalar(x) * 2")->type, PQL_TYPE_SCALAR);
    const struct pql_func *f = P("label_join(x, \"a\", \",\", \"b\", \"c\")")->u.call.func;
    assert_string_equal(f->name, "label_join");
    assert_int_equal(f->variadic, -1);
}

static void test_promql_parse_type_errors(void **state)
{
    ERR("rate(x)", "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector");
    ERR("1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier");
    ERR("1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression");
    ERR("foo or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar expression");
    ERR("foo and on(x) group_left b", "1:1: parse error: no grouping allowed for \"and\" operation");
    ERR("foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison operators");
    ERR("a + on(x) group_left(x) b", "1:3: parse error: label \"x\" must not occur in ON and GROUP clause at once");
    ERR("1 + on(x) foo", "1:1: parse error: vector matching only allowed between instant vectors");
    ERR("-\"s\"", "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\"");
    ERR("-x[5m]", "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"");
    ERR("x[5m] + 1", "1:1: parse error: binary expression must contain only scalar and instant vector types");
    ERR("x[5m][10m:]", "1:1: parse error: subquery is only allowed on instant vector, got matrix instead");
    ERR("topk(x, y)", "1:6: parse error: expected type scalar in aggregation parameter, got instant vector");
    ERR("count_values(5, y)", "1:14: parse error: expected type string in aggregation parameter, got scalar");
    ERR("sum(x[5m])", "1:5: parse error: expected type instant vector in aggregation expression, got range vector");
    ERR("floor()", "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 0");
    ERR("floor(x, y)", "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2");
    ERR("hour(x, y)", "1:1: parse error: expected at most 1 argument(s) in call to \"hour\", got 2");
    ERR("label_join(x)", "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1");
    ERR("floor(1)", "1:7: parse error: expected type instant vector in call to function \"floor\", got scalar");
    ERR("{}", "1:1: parse error: vector selector must contain at least one non-empty matcher");
    ERR("{x=~\".*\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher");
    ERR("foo{__name__=\"bar\"}", "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"");
}

static void test_promql_parse_syntax_errors_with_positions(void **state)
{
    ERR("sum(x))", "1:8: parse error: unexpected right parenthesis ')'");
    ERR("1 +", "1:4: parse error: unexpected end of input");
    ERR("(1", "1:3: parse error: unclosed left parenthesis");
    ERR("foo[5m", "1:7: parse error: unclosed left bracket");
    ERR("foo{", "1:5: parse error: unexpected end of input inside braces");
    ERR("foo[5mm]", "1:5: parse error: bad number or duration syntax: \"5mm\"");
    ERR("2.5.", "1:1: parse error: bad number or duration syntax: \"2.5.\"");
    ERR("nosuch(x)", "1:1: parse error: unknown function with name \"nosuch\"");
    ERR("", "unknown position: parse error: no expression found in input");
    ERR("  ", "1:1: parse error: no expression found in input");
    ERR("*1", "1:1: parse error: unexpected <op:*>");
    ERR("foo bar", "1:5: parse error: unexpected identifier \"bar\"");
    ERR("sum(foo bar)", "1:9: parse error: unexpected identifier \"bar\" in aggregation");
    ERR("sum by foo (x)", "1:8: parse error: unexpected identifier \"foo\" in grouping opts, expected \"(\"");
    ERR("sum by (a b) (x)", "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\"");
    ERR("sum by (1) (x)", "1:9: parse error: unexpected number \"1\" in grouping opts, expected label");
    ERR("sum()", "1:1: parse error: no arguments for aggregate expression provided");
    ERR("topk(x)", "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1");
    ERR("rate(x[5m],)", "1:11: parse error: trailing commas not allowed in function call args");
    ERR("foo{a}", "1:6: parse error: unexpected \"}\" in label matching, expected label matching operator");
    ERR("foo{a=}", "1:7: parse error: unexpected \"}\" in label matching, expected string");
    ERR("foo{a=\"b\" c=\"d\"}", "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\"");
    ERR("foo{=\"b\"}", "1:5: parse error: unexpected \"=\" in label matching, expected identifier or \"}\"");
    ERR("foo offset bar", "1:12: parse error: unexpected identifier \"bar\" in offset, expected number, duration, step(), or range()");
    ERR("foo[]", "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()");
    ERR("foo[0m]", "1:5: parse error: duration must be greater than 0");
    ERR("foo[-1]", "1:5: parse error: duration must be greater than 0");
    ERR("foo[5m:0s]", "1:8: parse error: duration must be greater than 0");
    ERR("foo[5s/0d]", "1:7: parse error: division by zero");
    ERR("foo offset (4d%0)", "1:15: parse error: modulo by zero");
    ERR("foo[9.5e10]", "1:5: parse error: duration out of range");
    ERR("foo[5y1hs]", "1:5: parse error: unknown unit \"hs\" in duration \"5y1hs\"");
    ERR("foo[1h5m1h]", "1:5: parse error: not a valid duration string: \"1h5m1h\"");
    ERR("foo[300y]", "1:5: parse error: duration out of range");
    ERR("sum some_metric by (test)", "1:5: parse error: unexpected identifier \"some_metric\"");
    ERR("1e400", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e400\": value out of range");
    ERR("foo offset 1s offset 2s", "1:1: parse error: offset may not be set multiple times");
    ERR("foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times");
    ERR("foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp");
    ERR("1 offset 1d", "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery");
    ERR("rate(x[1m])[1h] offset 1h", "1:12: parse error: ranges only allowed for vector selectors");
    ERR("foo offset 1m [5m]", "1:15: parse error: no offset modifiers allowed before range");
    ERR("foo[5m:1m x", "1:11: parse error: unexpected character: 'x', expected ':'");
    ERR("foo !~ bar", "1:5: parse error: unexpected character after '!': '~'");
    ERR("foo =~ bar", "1:5: parse error: unexpected character after '=': '~'");
    ERR("\"abc", "1:1: parse error: unterminated quoted string");
    ERR("`abc", "1:1: parse error: unterminated raw string");
    ERR("\"\\q\"", "1:1: parse error: unknown escape sequence U+0071 'q'");
    ERR("foo @ Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf");
    ERR("foo{a=\"\xff\"}", "1:7: parse error: invalid UTF-8 rune");
    ERR("foo $", "1:5: parse error: unexpected character: '$'");
}

static void test_promql_parse_error_line_and_column(void **state)
{
    ERR("sum(\n  foo))", "2:8: parse error: unexpected right parenthesis ')'");
    assert_int_equal(err_line, 2);
    assert_int_equal(err_col, 8);
    E("foo +\n\n  bar baz");
    assert_int_equal(err_line, 3);
    assert_int_equal(err_col, 7);
}

static void test_promql_parse_function_table(void **state)
{
    size_t n;
    const struct pql_func *fs = pql_functions(&n);
    assert_int_equal(n, 90); /* Prometheus 3.x at d15adb9 */
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(fs[i - 1].name, fs[i].name) < 0); /* sorted for bsearch */
    const struct pql_func *f = pql_function("histogram_quantile");
    assert_non_null(f);
    assert_int_equal(f->n_args, 2);
    assert_int_equal(f->arg_types[0], PQL_TYPE_SCALAR);
    assert_int_equal(f->arg_types[1], PQL_TYPE_VECTOR);
    assert_false(f->experimental);
    assert_true(pql_function("mad_over_time")->experimental);
    assert_int_equal(pql_function("round")->variadic, 1);
    assert_null(pql_function("holt_winters"));
    f = pql_function("histogram_quantiles"); /* (v, "label", q1, q2 … up to 10 quantiles) */
    assert_int_equal(f->n_args, 4);
    assert_int_equal(f->variadic, 9);
    ERR("histogram_quantiles(x, \"q\")", "1:1: parse error: expected at least 3 argument(s) in call to \"histogram_quantiles\", got 2");
    assert_null(pql_function("nosuch"));
}

/* Hostile nesting fails cleanly instead of exhausting the stack. */
static void test_promql_parse_limits_nesting_depth(void **state)
{
    size_t n = 200000;
    char *q = malloc(2 * n + 2);
    memset(q, '(', n);
    q[n] = '1';
    memset(q + n + 1, ')', n);
    q[2 * n + 1] = 0;
    assert_non_null(strstr(E(q), "nested too deeply"));
    for (size_t i = 0; i < n; i++) /* 1+1+1…: a left-deep tree, no recursion */
        q[2 * i] = '1', q[2 * i + 1] = '+';
    q[2 * n - 1] = 0;
    assert_non_null(strstr(E(q), "nested too deeply"));
    for (size_t i = 0; i < n; i++) /* - - - … 1 */
        q[2 * i] = '-', q[2 * i + 1] = ' ';
    q[2 * n - 1] = '1';
    q[2 * n] = 0;
    assert_non_null(strstr(E(q), "nested too deeply"));
    memcpy(q, "x[", 2); /* x[1+1+…]: a deep duration expression */
    for (size_t i = 0; i < n - 2; i++)
        q[2 + 2 * i] = '1', q[3 + 2 * i] = '+';
    memcpy(q + 2 * n - 2, "1]", 3);
    assert_non_null(strstr(E(q), "nested too deeply"));
    free(q);
    /* 500 levels are fine */
    char buf[2100];
    memset(buf, '(', 500);
    buf[500] = 'x';
    memset(buf + 501, ')', 500);
    buf[1001] = 0;
    struct pql_expr *e = P(buf);
    assert_int_equal(e->depth, 501);
}

static void test_promql_parse_rejects_bad_arguments(void **state)
{
    struct pql_expr *e = NULL;
    struct scry_err err = { 0 };
    assert_int_equal(pql_parse(NULL, "x", 1, &e, &err), SCRY_EINVAL);
    assert_int_equal(pql_parse(arena, "x", 1, NULL, &err), SCRY_EINVAL);
    assert_int_equal(pql_parse(arena, "x offset 1", 10, &e, NULL), 0); /* err may be NULL */
    pql_expr_fini(e);
    assert_int_equal(pql_parse(arena, "x offset", 8, &e, NULL), SCRY_EPARSE);
}

static void test_promql_parse_fill_modifiers(void **state)
{
    struct pql_expr *e = P("a + fill(0) b");
    struct pql_vector_matching *vm = e->u.bin.vm;
    assert_true(vm->fill_lhs_set && vm->fill_rhs_set);
    assert_true(vm->fill_lhs == 0 && vm->fill_rhs == 0);
    e = P("a + on(x) group_left fill_left(5) fill_right(-Inf) b");
    vm = e->u.bin.vm;
    assert_int_equal(vm->card, PQL_CARD_MANY_TO_ONE);
    assert_true(vm->fill_lhs == 5);
    assert_true(isinf(vm->fill_rhs) && vm->fill_rhs < 0);
    e = P("fill + fill"); /* fill is a keyword only before "(" */
    assert_string_equal(e->u.bin.lhs->u.vs.name, "fill");
    ERR("a and fill(0) b", "1:1: parse error: filling in missing series not allowed for set operators");
    ERR("a + fill(0) 1", "1:1: parse error: filling in missing series only allowed between instant vectors");
}

static void test_promql_parse_duration_expressions(void **state)
{
    struct pql_expr *e = P("changes(x[2m*(10+5)])");
    struct pql_expr *m = e->u.call.args[0];
    assert_non_null(m->u.ms.range_expr);
    assert_int_equal(m->u.ms.range_ms, 1800000);
    e = P("x[step()+1ms]");
    assert_false(pql_dur_is_const(e->u.ms.range_expr));
    int64_t ms;
    assert_int_equal(pql_dur_eval(e->u.ms.range_expr, 5000, 0, &ms), 0);
    assert_int_equal(ms, 5001);
    e = P("x[1h30m % 1h]");
    assert_int_equal(e->u.ms.range_ms, 1800000);
    e = P("x[29s+1s:((((8 - 2) / 3) * 7s) % 4) + 8000ms]");
    assert_int_equal(e->u.sq.range_ms, 30000);
    assert_int_equal(e->u.sq.step_ms, 10000);
    /* offset takes one atom: the rest belongs to the outer expression */
    e = P("m offset -2 ^ 2");
    assert_int_equal(e->kind, PQL_BINARY);
    assert_int_equal(e->u.bin.lhs->u.vs.offset_ms, -2000);
    e = P("m offset (100 + 2)");
    assert_int_equal(e->u.vs.offset_ms, 102000);
    e = P("m offset -step() * 2");
    assert_int_equal(e->kind, PQL_BINARY);
    assert_non_null(e->u.bin.lhs->u.vs.offset_expr);
    assert_int_equal(pql_dur_eval(e->u.bin.lhs->u.vs.offset_expr, 5000, 0, &ms), 0);
    assert_int_equal(ms, -5000);
    e = P("m offset min_of(range(), 8s)");
    assert_int_equal(e->u.vs.offset_expr->kind, PQL_DUR_MIN_OF);
    assert_int_equal(P("step()")->type, PQL_TYPE_SCALAR);
    assert_int_equal(P("min_of(3, 5)")->type, PQL_TYPE_SCALAR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_promql_parse_sub_is_left_associative),
        T(test_promql_parse_pow_is_right_associative),
        T(test_promql_parse_unary_minus_binds_looser_than_pow),
        T(test_promql_parse_set_operator_precedence),
        T(test_promql_parse_atan2_binds_like_mul),
        T(test_promql_parse_every_matcher_kind),
        T(test_promql_parse_name_regex_without_metric_name),
        T(test_promql_parse_offset_and_at_in_both_orders),
        T(test_promql_parse_subqueries),
        T(test_promql_parse_range_durations),
        T(test_promql_parse_grouping_before_and_after),
        T(test_promql_parse_aggregation_params),
        T(test_promql_parse_vector_matching),
        T(test_promql_parse_numbers),
        T(test_promql_parse_strings_with_escapes),
        T(test_promql_parse_comments),
        T(test_promql_parse_positions),
        T(test_promql_parse_static_types),
        T(test_promql_parse_type_errors),
        T(test_promql_parse_syntax_errors_with_positions),
        T(test_promql_parse_error_line_and_column),
        T(test_promql_parse_function_table),
        T(test_promql_parse_rejects_bad_arguments),
        T(test_promql_parse_limits_nesting_depth),
        T(test_promql_parse_fill_modifiers),
        T(test_promql_parse_duration_expressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
