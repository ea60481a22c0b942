/* chunk_ref.h — the previous chunk decoder, a test reference (chunk_ref.c). */
#ifndef SCRY_TESTS_CHUNK_REF_H
#define SCRY_TESTS_CHUNK_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ref_iseq_dec {
    uint8_t order, nb, use_for, flat, w[4];
    uint64_t flat_r;
    int64_t x, d, min, x0, d1;
    uint64_t g;
};

struct ref_iter {
    const uint8_t *p, *end;
    uint64_t acc;
    unsigned nacc;
    uint32_t n, i;
    int venc, err;
    struct ref_iseq_dec ts, val;
    uint64_t vbits;
    uint8_t lead, sig, have_win;
    double scale;
    const uint8_t *exc;
    uint32_t exc_left, exc_next;
    int64_t t_ms;
    double v;
};

void ref_iter_init(struct ref_iter *it, const uint8_t *p, size_t len);
bool ref_iter_next(struct ref_iter *it);
size_t ref_iter_next_n(struct ref_iter *it, int64_t *t, double *v, size_t cap);
bool ref_iter_seek(struct ref_iter *it, int64_t t_ms);
void ref_iter_at(const struct ref_iter *it, int64_t *t_ms, double *v);
int ref_iter_err(const struct ref_iter *it);

struct tsdb__ochunk_iter;
/* The open chunk's previous iterator, on the same state struct. */
bool ref_ochunk_iter_next(struct tsdb__ochunk_iter *it);

#endif
