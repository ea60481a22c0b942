/* compare.c — result comparison rules of FORMAT.md §6. */
#include <float.h>
#include <math.h>

#include "tests/conformance/conformance.h"

/* util/almost.Equal with epsilon 1e-6, plus the stale-marker rule: exact
 * against zero (or below the smallest normal), relative otherwise. */
bool conf_float_eq(double a, double e)
{
    bool sa = pql_is_stale_nan(a), se = pql_is_stale_nan(e);
    if (sa || se)
        return sa && se;
    if (isnan(a) && isnan(e))
        return true;
    if (a == e)
        return true;
    const double eps = 1e-6;
    double absum = fabs(a) + fabs(e);
    double diff = fabs(a - e);
    if (a == 0 || e == 0 || absum < DBL_MIN)
        return diff < eps * DBL_MIN;
    return diff / fmin(absum, DBL_MAX) < eps;
}
