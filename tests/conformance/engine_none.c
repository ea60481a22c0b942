/* engine_none.c — the evaluator seam while scry has no PromQL evaluator:
 * conf_engine_default() returns NULL, so the runner parses everything and
 * skips evaluation. The evaluator replaces this file with one returning its
 * struct conf_engine. */
#include "tests/conformance/conformance.h"

const struct conf_engine *conf_engine_default(void)
{
    return NULL;
}
