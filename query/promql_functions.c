/* promql_functions.c — the PromQL function library as the parser sees it:
 * name, argument types, variadic rule, return type, experimental flag.
 *
 * Mirrors Prometheus 3.x promql/parser/functions.go (checked entry by entry at
 * commit d15adb9, the one the conformance data comes from; holt_winters is gone;
 * it is double_exponential_smoothing now). Sorted by name for bsearch; a
 * unit test checks the order. variadic: 0 fixed, n > 0 up to n optional
 * trailing arguments of the last type, -1 unbounded. */
#include <stdlib.h>
#include <string.h>

#include "query/promql.h"

#define V PQL_TYPE_VECTOR
#define M PQL_TYPE_MATRIX
#define S PQL_TYPE_SCALAR
#define T PQL_TYPE_STRING

static const struct pql_func funcs[] = {
    { "abs", { V }, 1, 0, V, false },
    { "absent", { V }, 1, 0, V, false },
    { "absent_over_time", { M }, 1, 0, V, false },
    { "acos", { V }, 1, 0, V, false },
    { "acosh", { V }, 1, 0, V, false },
    { "asin", { V }, 1, 0, V, false },
    { "asinh", { V }, 1, 0, V, false },
    { "atan", { V }, 1, 0, V, false },
    { "atanh", { V }, 1, 0, V, false },
    { "avg_over_time", { M }, 1, 0, V, false },
    { "ceil", { V }, 1, 0, V, false },
    { "changes", { M }, 1, 0, V, false },
    { "clamp", { V, S, S }, 3, 0, V, false },
    { "clamp_max", { V, S }, 2, 0, V, false },
    { "clamp_min", { V, S }, 2, 0, V, false },
    { "cos", { V }, 1, 0, V, false },
    { "cosh", { V }, 1, 0, V, false },
    { "count_over_time", { M }, 1, 0, V, false },
    { "day_of_month", { V }, 1, 1, V, false },
    { "day_of_week", { V }, 1, 1, V, false },
    { "day_of_year", { V }, 1, 1, V, false },
    { "days_in_month", { V }, 1, 1, V, false },
    { "deg", { V }, 1, 0, V, false },
    { "delta", { M }, 1, 0, V, false },
    { "deriv", { M }, 1, 0, V, false },
    { "double_exponential_smoothing", { M, S, S }, 3, 0, V, true },
    { "end", { 0 }, 0, 0, S, true },
    { "exp", { V }, 1, 0, V, false },
    { "first_over_time", { M }, 1, 0, V, false },
    { "floor", { V }, 1, 0, V, false },
    { "histogram_avg", { V }, 1, 0, V, false },
    { "histogram_count", { V }, 1, 0, V, false },
    { "histogram_fraction", { S, S, V }, 3, 0, V, false },
    { "histogram_quantile", { S, V }, 2, 0, V, false },
    { "histogram_quantiles", { V, T, S, S }, 4, 9, V, true },
    { "histogram_stddev", { V }, 1, 0, V, false },
    { "histogram_stdvar", { V }, 1, 0, V, false },
    { "histogram_sum", { V }, 1, 0, V, false },
    { "hour", { V }, 1, 1, V, false },
    { "idelta", { M }, 1, 0, V, false },
    { "increase", { M }, 1, 0, V, false },
    { "info", { V, V }, 2, 1, V, true },
    { "irate", { M }, 1, 0, V, false },
    { "label_join", { V, T, T, T }, 4, -1, V, false },
    { "label_replace", { V, T, T, T, T }, 5, 0, V, false },
    { "last_over_time", { M }, 1, 0, V, false },
    { "ln", { V }, 1, 0, V, false },
    { "log10", { V }, 1, 0, V, false },
    { "log2", { V }, 1, 0, V, false },
    { "mad_over_time", { M }, 1, 0, V, true },
    { "max_of", { S, S }, 2, 0, S, true },
    { "max_over_time", { M }, 1, 0, V, false },
    { "min_of", { S, S }, 2, 0, S, true },
    { "min_over_time", { M }, 1, 0, V, false },
    { "minute", { V }, 1, 1, V, false },
    { "month", { V }, 1, 1, V, false },
    { "pi", { 0 }, 0, 0, S, false },
    { "predict_linear", { M, S }, 2, 0, V, false },
    { "present_over_time", { M }, 1, 0, V, false },
    { "quantile_over_time", { S, M }, 2, 0, V, false },
    { "rad", { V }, 1, 0, V, false },
    { "range", { 0 }, 0, 0, S, true },
    { "rate", { M }, 1, 0, V, false },
    { "resets", { M }, 1, 0, V, false },
    { "round", { V, S }, 2, 1, V, false },
    { "scalar", { V }, 1, 0, S, false },
    { "sgn", { V }, 1, 0, V, false },
    { "sin", { V }, 1, 0, V, false },
    { "sinh", { V }, 1, 0, V, false },
    { "sort", { V }, 1, 0, V, false },
    { "sort_by_label", { V, T }, 2, -1, V, true },
    { "sort_by_label_desc", { V, T }, 2, -1, V, true },
    { "sort_desc", { V }, 1, 0, V, false },
    { "sqrt", { V }, 1, 0, V, false },
    { "start", { 0 }, 0, 0, S, true },
    { "start_timestamp", { V }, 1, 0, V, true },
    { "stddev_over_time", { M }, 1, 0, V, false },
    { "stdvar_over_time", { M }, 1, 0, V, false },
    { "step", { 0 }, 0, 0, S, true },
    { "sum_over_time", { M }, 1, 0, V, false },
    { "tan", { V }, 1, 0, V, false },
    { "tanh", { V }, 1, 0, V, false },
    { "time", { 0 }, 0, 0, S, false },
    { "timestamp", { V }, 1, 0, V, false },
    { "ts_of_first_over_time", { M }, 1, 0, V, true },
    { "ts_of_last_over_time", { M }, 1, 0, V, true },
    { "ts_of_max_over_time", { M }, 1, 0, V, true },
    { "ts_of_min_over_time", { M }, 1, 0, V, true },
    { "vector", { S }, 1, 0, V, false },
    { "year", { V }, 1, 1, V, false },
};

static int cmp(const void *k, const void *e)
{
    return strcmp((const char *)k, ((const struct pql_func *)e)->name);
}

const struct pql_func *pql_function(const char *name)
{
    if (!name)
        return NULL;
    return bsearch(name, funcs, sizeof(funcs) / sizeof(funcs[0]), sizeof(funcs[0]), cmp);
}

const struct pql_func *pql_functions(size_t *n_out)
{
    *n_out = sizeof(funcs) / sizeof(funcs[0]);
    return funcs;
}
