/* json_read_internal.h — shared by core/json_read.c (the parser) and
 * core/json_value.c (the getters) only. */
#ifndef SCRY_CORE_JSON_READ_INTERNAL_H
#define SCRY_CORE_JSON_READ_INTERNAL_H

#include <stdbool.h>

/* Exponents saturate here: far beyond any double or integer, yet far above
 * any digit count an input can hold, so saturation never changes a result. */
#define EXP_CAP 100000000000000000LL

static inline bool is_digit(char c) { return (unsigned char)(c - '0') < 10; }

static inline int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* strtod, but never with a ',' decimal point whatever setlocale() said. */
double scry__json_strtod_c(const char *s, char **end);

#endif
