/* head_internal.h — shared by the head_*.c, intern.c, hmap.c and
 * chunk_open.c files only. The design is in tsdb/README.md, "Head".
 *
 * Locks, in the order they are taken:
 *   gc_lock    rwlock; appenders hold it shared from begin to commit (they
 *              keep series pointers), truncate holds it exclusive.
 *   map_lock   rwlock over the series map, the string table, the postings
 *              and the ref table's writers; exclusive only to create or
 *              remove series, shared for queries.
 *   stripes    N_STRIPES mutexes; stripe (ref & mask) guards the samples of
 *              a series (open chunk, sealed list, out-of-order data, maxt).
 * The ref table is read without locks (see reftab). */
#ifndef SCRY_TSDB_HEAD_INTERNAL_H
#define SCRY_TSDB_HEAD_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/appender.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/labels.h"
#include "core/metrics.h"
#include "core/querier.h"
#include "tsdb/chunk.h"
#include "tsdb/head.h"
#include "core/postings.h"
#include "tsdb/tombstones.h"

#define TSDB__N_STRIPES 1024u
#define TSDB__DEFAULT_CHUNK_SAMPLES 120u
#define TSDB__DEFAULT_BLOCK_MS (2 * 3600 * 1000LL)
/* Timestamps beyond ±2^62 ms (146 million years) are rejected, so deltas
 * and deltas of deltas never overflow an int64, and INT64_MIN stays free
 * to mean "no sample yet". */
#define TSDB__MAX_ABS_T ((int64_t)1 << 62)

static inline uint64_t tsdb__fbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static inline double tsdb__bitsf(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

struct tsdb__sample {
    int64_t t;
    double v;
};

/* ---- hash map: u64 key → pointer, several values per key ----------------
 *
 * Open addressing with linear probing and backward-shift deletion, so no
 * tombstones. A key may hold several values (label-set hash collisions):
 * lookups walk the probe run and the caller compares. 16 bytes a slot, at
 * most 3/4 full. Not thread-safe: the owner locks. */
struct tsdb__hmap {
    uint64_t *k;
    void **v; /* NULL: empty slot */
    size_t n, cap;
};

void tsdb__hmap_fini(struct tsdb__hmap *m);
void tsdb__hmap_put(struct tsdb__hmap *m, uint64_t key, void *val);
/* Iterates the values stored under key: start with *pos = SIZE_MAX. */
void *tsdb__hmap_next(const struct tsdb__hmap *m, uint64_t key, size_t *pos);
/* Removes the (key, val) pair; false when absent. */
bool tsdb__hmap_del(struct tsdb__hmap *m, uint64_t key, const void *val);

static inline uint64_t tsdb__mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* ---- interned strings (intern.c) -----------------------------------------
 *
 * Every label name and value is stored once per head, with a count of the
 * series using it, and freed when the last such series is removed. Label
 * sets of series point at these, so equal strings compare by pointer. */
struct tsdb__intern {
    struct tsdb__hmap map; /* xxh64(string) → struct tsdb__istr */
    uint64_t bytes;        /* heap bytes of the strings */
};

void tsdb__intern_fini(struct tsdb__intern *in);
/* Returns the interned copy of z with one more reference. */
const char *tsdb__intern_get(struct tsdb__intern *in, const char *z);
/* Drops a reference taken by get; frees at zero. */
void tsdb__intern_put(struct tsdb__intern *in, const char *z);
/* strlen of an interned string, from its header. */
size_t tsdb__intern_len(const char *iz);
/* The interned copy of z, or NULL; takes no reference. */
const char *tsdb__intern_find(const struct tsdb__intern *in, const char *z);

/* ---- open chunk (chunk_open.c) -------------------------------------------
 *
 * The chunk being appended to, Gorilla-style, bit by bit into a buffer that
 * grows by a quarter; kept across cuts, so after the first chunk a series
 * appends without allocating. Stream: t0 (64 bits), v0 (64 bits), then per
 * sample a delta-of-delta code and an XOR code (README.md, "Open chunk"). */
#define TSDB__OCHUNK_KMAX 6      /* largest decimal scale */
#define TSDB__OCHUNK_KSTART 0xfe /* no value seen yet */
#define TSDB__OCHUNK_KNONE 0xff  /* decimal coding off for this chunk */

struct tsdb__ochunk {
    uint8_t *b;      /* cap bytes, zero past nbits */
    int64_t tlast;   /* newest t */
    int64_t dlast;   /* newest t delta */
    uint64_t vlast;  /* newest value's bits */
    int64_t nlast;   /* newest value as N at scale k, when k <= KMAX */
    uint32_t nbits;
    uint16_t cap;    /* bytes */
    uint16_t n;      /* samples */
    uint8_t lead, sig; /* XOR window; sig 0: none yet */
    uint8_t k;       /* decimal scale, or KSTART / KNONE */
};

void tsdb__ochunk_fini(struct tsdb__ochunk *c);
/* Appends (t strictly after tlast, unless n == 0). Amortised allocation. */
void tsdb__ochunk_append(struct tsdb__ochunk *c, int64_t t, double v);
/* Empties the chunk, keeping its buffer. */
void tsdb__ochunk_reset(struct tsdb__ochunk *c);
int64_t tsdb__ochunk_mint(const struct tsdb__ochunk *c); /* n > 0 */
static inline size_t tsdb__ochunk_len(const struct tsdb__ochunk *c) { return (c->nbits + 7) / 8; }

/* Decodes n samples from bytes written by the open chunk (a copy is fine). */
struct tsdb__ochunk_iter {
    const uint8_t *b;
    size_t len;
    uint32_t nbits_read;
    uint16_t n, i;
    uint8_t lead, sig, k;
    int64_t t, d, nlast;
    uint64_t v;
    int err;
};
void tsdb__ochunk_iter_init(struct tsdb__ochunk_iter *it, const uint8_t *b, size_t len, uint16_t n);
bool tsdb__ochunk_iter_next(struct tsdb__ochunk_iter *it);

/* ---- sealed chunks --------------------------------------------------------
 *
 * One exact-size allocation: header + tsdb_chunk_encode bytes. Immutable;
 * reference counted so a query can keep iterating after truncate dropped
 * it from its series. */
struct tsdb__chunk {
    int64_t mint, maxt;
    atomic_uint refs;
    uint16_t len, n;
    uint8_t b[];
};

/* Encodes samples (n >= 1, t strictly increasing) into a new chunk (refs 1). */
struct tsdb__chunk *tsdb__chunk_seal(const int64_t *t, const double *v, size_t n);
static inline void tsdb__chunk_acquire(struct tsdb__chunk *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}
void tsdb__chunk_release(struct tsdb__chunk *c); /* NULL is a no-op */

/* ---- out-of-order data of a series (allocated on the first OOO sample) --- */

struct tsdb__ooo {
    struct tsdb__sample *s; /* sorted, unique t */
    uint32_t n, cap;
    struct tsdb__chunk **c; /* sealed out-of-order chunks; may overlap each other */
    uint32_t n_c, cap_c;
};

/* ---- series ---------------------------------------------------------------*/

struct tsdb__series {
    uint64_t ref;
    uint64_t hash;
    _Atomic int64_t maxt;      /* newest t, INT64_MIN before the first sample */
    struct tsdb__ochunk open;
    struct tsdb__chunk **sealed; /* oldest first, non-overlapping */
    uint32_t n_sealed, cap_sealed;
    struct tsdb__ooo *ooo;
    struct tsdb_intervals *del; /* deleted ranges (tsdb_head_delete); NULL: none */
    uint32_t n_labels;
    bool dead;                  /* truncate: being removed */
    struct scry_label labels[]; /* interned strings */
};

static inline struct scry_labels tsdb__series_labels(const struct tsdb__series *s)
{
    return (struct scry_labels){ s->labels, s->n_labels };
}

/* ---- ref table: ref → series, read without locks ---------------------------
 *
 * Pages of 4096 atomic pointers under a directory that is replaced (never
 * edited) when it grows; the old directories stay allocated until truncate
 * or destroy, when no reader can hold them (appenders are excluded by
 * gc_lock, queries by map_lock). Writers hold map_lock exclusively. */
#define TSDB__REFTAB_PAGE_BITS 12
#define TSDB__REFTAB_PAGE (1u << TSDB__REFTAB_PAGE_BITS)

struct tsdb__refpage {
    _Atomic(struct tsdb__series *) s[TSDB__REFTAB_PAGE];
    uint32_t used;
};

struct tsdb__refdir {
    size_t n;
    struct tsdb__refdir *retired; /* the directory this one replaced */
    _Atomic(struct tsdb__refpage *) p[];
};

/* ---- postings index ------------------------------------------------------ */

struct tsdb__plist {
    const char *name, *value; /* interned */
    uint64_t *refs;
    uint32_t n, cap;
    uint32_t idx;  /* position in its name's vals */
    bool dirty;    /* truncate: has dead refs */
};

struct tsdb__lname {
    const char *name; /* interned */
    struct tsdb__plist **vals;
    uint32_t n, cap;
};

struct tsdb__index {
    struct tsdb__hmap names; /* mix(name ptr) → lname */
    struct tsdb__hmap pairs; /* mix(name ptr, value ptr) → plist */
    uint64_t *all;           /* every live ref, sorted */
    size_t n_all, cap_all;
};

/* ---- the head ------------------------------------------------------------ */

struct tsdb__metrics {
    struct scry_metric *appended, *ooo, *dup_ignored, *dup_rejected, *series, *created,
        *removed, *chunks_created;
};

struct tsdb__appender;

/* One cache line each: two appenders on neighbouring stripes must not
 * bounce a line between cores (pthread_mutex_t is 40 bytes). */
struct tsdb__stripe {
    _Alignas(64) pthread_mutex_t mu;
};

struct tsdb_head {
    struct scry_appendable appendable;
    struct scry_queryable queryable;
    int64_t ooo_window_ms, block_ms;
    uint32_t chunk_samples;
    const struct scry_clock *clock;
    struct scry_wal *wal;

    pthread_rwlock_t gc_lock, map_lock;
    struct tsdb__stripe stripes[TSDB__N_STRIPES];

    /* under map_lock */
    struct tsdb__hmap series;   /* labels hash → series */
    struct tsdb__intern intern;
    struct tsdb__index index;
    _Atomic(struct tsdb__refdir *) refdir;
    uint64_t next_ref;
    struct scry_buf wal_scratch;

    atomic_uint_fast64_t n_series;
    atomic_uint_fast64_t appended, out_of_order, dup_ignored, dup_rejected;

    pthread_mutex_t pool_lock;  /* appender pool */
    struct tsdb__appender *pool;

    struct tsdb__metrics m;
};

static inline pthread_mutex_t *tsdb__stripe(struct tsdb_head *h, uint64_t ref)
{
    return &h->stripes[ref & (TSDB__N_STRIPES - 1)].mu;
}

/* The series with ref, or NULL: lock-free (see reftab). Inline: every
 * cached-ref append and every selected series goes through it. */
static inline struct tsdb__series *tsdb__series_by_ref(struct tsdb_head *h, uint64_t ref)
{
    struct tsdb__refdir *d = atomic_load_explicit(&h->refdir, memory_order_acquire);
    uint64_t pi = ref >> TSDB__REFTAB_PAGE_BITS;
    if (!d || pi >= d->n)
        return NULL;
    struct tsdb__refpage *p = atomic_load_explicit(&d->p[pi], memory_order_acquire);
    if (!p)
        return NULL;
    return atomic_load_explicit(&p->s[ref & (TSDB__REFTAB_PAGE - 1)], memory_order_acquire);
}

/* head.c */
/* Finds or creates the series (labels validated on creation). With
 * ref != 0 (replay) the series gets that ref. log: append a SERIES record. */
int tsdb__series_get_or_create(struct tsdb_head *h, const struct scry_labels *ls, uint64_t ref,
                               bool log, struct tsdb__series **out, struct scry_err *err);
/* Same, with map_lock already held exclusively (replay). */
int tsdb__series_create_locked(struct tsdb_head *h, const struct scry_labels *ls, uint64_t hash,
                               uint64_t ref, bool log, struct tsdb__series **out,
                               struct scry_err *err);
struct tsdb__series *tsdb__series_find_locked(struct tsdb_head *h, const struct scry_labels *ls,
                                              uint64_t hash);

/* head_append.c: applies one sample under the series' stripe lock. */
enum { TSDB__STORED = 0, TSDB__DUP_IGNORED = 1, TSDB__OOO = 2, TSDB__DUP_REJECTED = 3 };
int tsdb__series_append(struct tsdb_head *h, struct tsdb__series *s, int64_t t, double v);
void tsdb__appender_pool_fini(struct tsdb_head *h);
int tsdb__head_begin(struct scry_appendable *store, const char *tenant, struct scry_appender **out,
                     struct scry_err *err);

/* head_index.c */
void tsdb__index_fini(struct tsdb__index *ix);
void tsdb__index_add(struct tsdb__index *ix, const struct tsdb__series *s);
/* Removes dead series (refs ascending) from their lists; drops empty ones. */
void tsdb__index_remove(struct tsdb__index *ix, struct tsdb__series *const *dead,
                        const uint64_t *dead_refs, size_t n_dead);
/* Prometheus's PostingsForMatchers, under map_lock shared. Lists in the
 * result point into the index: expand before unlocking. */
struct scry_postings_iter *tsdb__index_select(struct tsdb_head *h, struct scry_arena *a,
                                              const struct scry_matcher *ms, size_t n_ms);
struct tsdb__lname *tsdb__index_name(const struct tsdb__index *ix, const char *iname);
/* Whether s has samples reaching into [mint, maxt] (its oldest..newest in
 * the head; takes the stripe lock), and whether some series on p does.
 * For the label APIs, under map_lock shared. */
bool tsdb__series_overlaps(struct tsdb_head *h, const struct tsdb__series *s, int64_t mint,
                           int64_t maxt);
bool tsdb__plist_in_range(struct tsdb_head *h, const struct tsdb__plist *p, int64_t mint,
                          int64_t maxt);

/* head_delete.c: adds [mint, maxt] to the deleted ranges of s (takes the
 * stripe lock). */
void tsdb__series_delete(struct tsdb_head *h, struct tsdb__series *s, int64_t mint, int64_t maxt);

/* head_read.c */
int tsdb__head_querier(struct scry_queryable *store, const char *tenant, int64_t mint,
                       int64_t maxt, struct scry_querier **out, struct scry_err *err);

#endif
