/* promql_duration.c — evaluating and printing the experimental duration
 * expressions of PromQL (`[5m+step()]`, `offset min_of(step(), 1s)`).
 *
 * Arithmetic is on float seconds, as Prometheus's duration visitor does it:
 * `((8 - 2) / 3) * 7s % 4` is 14 % 4 = 2 seconds, and a bare number in a
 * duration position is seconds. Only the final value becomes milliseconds. */
#include <math.h>

#include "core/timeparse.h"
#include "query/promql_internal.h"

static double eval(const struct pql_dur_expr *d, double step_s, double range_s)
{
    switch (d->kind) {
    case PQL_DUR_NUMBER: return d->val;
    case PQL_DUR_STEP: return step_s;
    case PQL_DUR_RANGE: return range_s;
    case PQL_DUR_PAREN: return eval(d->lhs, step_s, range_s);
    case PQL_DUR_UNARY: {
        double v = eval(d->lhs, step_s, range_s);
        return d->op == PQL_OP_SUB ? -v : v;
    }
    case PQL_DUR_MIN_OF: return fmin(eval(d->lhs, step_s, range_s), eval(d->rhs, step_s, range_s));
    case PQL_DUR_MAX_OF: return fmax(eval(d->lhs, step_s, range_s), eval(d->rhs, step_s, range_s));
    case PQL_DUR_BINARY: {
        double l = eval(d->lhs, step_s, range_s), r = eval(d->rhs, step_s, range_s);
        switch (d->op) {
        case PQL_OP_ADD: return l + r;
        case PQL_OP_SUB: return l - r;
        case PQL_OP_MUL: return l * r;
        case PQL_OP_DIV: return l / r;
        case PQL_OP_MOD: return fmod(l, r);
        case PQL_OP_POW: return pow(l, r);
        default: return NAN;
        }
    }
    }
    return NAN;
}

int pql_dur_eval(const struct pql_dur_expr *d, int64_t step_ms, int64_t range_ms, int64_t *out_ms)
{
    double s = eval(d, (double)step_ms / 1000.0, (double)range_ms / 1000.0);
    double ms = s * 1000.0;
    if (!isfinite(ms) || fabs(ms) > 9.2e18)
        return SCRY_EINVAL;
    *out_ms = (int64_t)llround(ms);
    return 0;
}

bool pql_dur_is_const(const struct pql_dur_expr *d)
{
    if (!d)
        return true;
    if (d->kind == PQL_DUR_STEP || d->kind == PQL_DUR_RANGE)
        return false;
    return pql_dur_is_const(d->lhs) && pql_dur_is_const(d->rhs);
}

void pql_dur_print(const struct pql_dur_expr *d, struct scry_buf *out)
{
    switch (d->kind) {
    case PQL_DUR_NUMBER:
        if (d->duration) {
            int64_t ms = (int64_t)llround(d->val * 1000.0);
            if (ms < 0) {
                scry_buf_putc(out, '-');
                ms = -ms;
            }
            scry_duration_format(ms, out);
        } else {
            pql__put_float_f(out, d->val);
        }
        break;
    case PQL_DUR_STEP: scry_buf_puts(out, "step()"); break;
    case PQL_DUR_RANGE: scry_buf_puts(out, "range()"); break;
    case PQL_DUR_PAREN:
        scry_buf_putc(out, '(');
        pql_dur_print(d->lhs, out);
        scry_buf_putc(out, ')');
        break;
    case PQL_DUR_UNARY:
        scry_buf_puts(out, pql_op_str(d->op));
        pql_dur_print(d->lhs, out);
        break;
    case PQL_DUR_MIN_OF: case PQL_DUR_MAX_OF:
        scry_buf_puts(out, d->kind == PQL_DUR_MIN_OF ? "min_of(" : "max_of(");
        pql_dur_print(d->lhs, out);
        scry_buf_puts(out, ", ");
        pql_dur_print(d->rhs, out);
        scry_buf_putc(out, ')');
        break;
    case PQL_DUR_BINARY:
        pql_dur_print(d->lhs, out);
        scry_buf_printf(out, " %s ", pql_op_str(d->op));
        pql_dur_print(d->rhs, out);
        break;
    }
}
