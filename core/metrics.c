/* metrics.c — the self-metrics registry and its text-format renderer.
 *
 * Layout: the registry holds families sorted by name; a family holds its
 * children sorted by label values (compared value by value, in the order the
 * label names were declared). Both arrays are guarded by a mutex and only
 * ever grow, so a child pointer stays valid until the registry is destroyed
 * and the hot path never touches a lock: code looks the child up once at
 * startup (scry_metric_with) and then updates it with atomics.
 *
 * Values: a counter or gauge is a double kept as its bit pattern in an
 * _Atomic uint64_t; set is a store, add is a compare-and-swap loop (C11 has
 * no atomic double add). A histogram keeps one atomic count per bucket (not
 * cumulative: an observation touches one bucket) plus an atomic sum; the
 * renderer accumulates the counts and derives _count from them, so
 * _bucket{le="+Inf"} always equals _count even while others observe. This is
 * the layout client_golang used before its hot/cold swap; _sum may be a few
 * observations ahead of _count under contention, which scrapes tolerate.
 *
 * Rendering follows text format 0.0.4: "# HELP", "# TYPE", then one line per
 * sample, label values escaped (\\, \", \n) and HELP escaped (\\, \n).
 * Families without children are left out, as Prometheus's Gather does. */
#include "core/metrics.h"
#include "core/labels.h"
#include "core/mem.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scry_metric {
    struct scry_metric_family *f;
    char **values;             /* f->n_labels copies */
    _Atomic uint64_t bits;     /* counter/gauge value, or histogram sum */
    _Atomic uint64_t *buckets; /* histogram: n_buckets + 1 counts, the last is +Inf */
};

struct scry_metric_family {
    enum scry_metric_type type;
    char *name, *help;
    char **label_names;
    size_t n_labels;
    double *bounds; /* histogram upper bounds, sorted, without +Inf */
    size_t n_bounds;
    pthread_mutex_t mu;
    struct scry_metric **children;
    size_t n_children, cap_children;
};

struct collector {
    scry_metrics_collect_fn fn;
    void *ud;
};

struct scry_metrics {
    pthread_mutex_t mu;
    struct scry_metric_family **fams;
    size_t n_fams, cap_fams;
    struct collector *colls;
    size_t n_colls, cap_colls;
};

const double scry_metrics_default_buckets[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10 };
const size_t scry_metrics_n_default_buckets =
    sizeof scry_metrics_default_buckets / sizeof scry_metrics_default_buckets[0];

static uint64_t d2u(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double u2d(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Returns p (an array of elements of size len) grown so that index n fits. */
static void *grow(void *p, size_t *cap, size_t n, size_t len)
{
    if (n < *cap)
        return p;
    *cap = *cap ? *cap * 2 : 8;
    return scry_realloc(p, *cap * len);
}

/* ------------------------------------------------------------------------
 * Registry and families
 * ------------------------------------------------------------------------ */

struct scry_metrics *scry_metrics_create(void)
{
    struct scry_metrics *m = scry_calloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

static void metric_free(struct scry_metric *c, size_t n_labels)
{
    for (size_t i = 0; i < n_labels; i++)
        free(c->values[i]);
    free(c->values);
    free(c->buckets);
    free(c);
}

static void family_free(struct scry_metric_family *f)
{
    for (size_t i = 0; i < f->n_children; i++)
        metric_free(f->children[i], f->n_labels);
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->label_names[i]);
    free(f->label_names);
    free(f->children);
    free(f->bounds);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void scry_metrics_destroy(struct scry_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_fams; i++)
        family_free(m->fams[i]);
    free(m->fams);
    free(m->colls);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static struct scry_metric_family *family_new(enum scry_metric_type type, const char *name,
                                             const char *help, const char *const *label_names,
                                             size_t n_labels, const double *buckets,
                                             size_t n_buckets)
{
    struct scry_metric_family *f = scry_calloc(1, sizeof *f);
    f->type = type;
    f->name = scry_strdup(name);
    f->help = scry_strdup(help ? help : "");
    f->n_labels = n_labels;
    f->label_names = scry_calloc(n_labels ? n_labels : 1, sizeof *f->label_names);
    for (size_t i = 0; i < n_labels; i++) {
        SCRY_ASSERT(scry_label_name_valid(label_names[i], strlen(label_names[i])));
        SCRY_ASSERT(strcmp(label_names[i], "le") != 0 || type != SCRY_METRIC_HISTOGRAM);
        f->label_names[i] = scry_strdup(label_names[i]);
    }
    if (type == SCRY_METRIC_HISTOGRAM) {
        if (!buckets) {
            buckets = scry_metrics_default_buckets;
            n_buckets = scry_metrics_n_default_buckets;
        }
        if (n_buckets && isinf(buckets[n_buckets - 1]) && buckets[n_buckets - 1] > 0)
            n_buckets--; /* +Inf is implied */
        f->bounds = scry_calloc(n_buckets ? n_buckets : 1, sizeof *f->bounds);
        for (size_t i = 0; i < n_buckets; i++) {
            SCRY_ASSERT(i == 0 || buckets[i - 1] < buckets[i]);
            f->bounds[i] = buckets[i];
        }
        f->n_bounds = n_buckets;
    }
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

struct scry_metric_family *scry_metrics_family(struct scry_metrics *m, enum scry_metric_type type,
                                               const char *name, const char *help,
                                               const char *const *label_names, size_t n_labels,
                                               const double *buckets, size_t n_buckets)
{
    /* Names come from our own code, not from input: a bad one is a bug. */
    SCRY_ASSERT(m && name && scry_metric_name_valid(name, strlen(name)));
    SCRY_ASSERT(n_labels == 0 || label_names);

    pthread_mutex_lock(&m->mu);
    size_t lo = 0, hi = m->n_fams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->fams[mid]->name, name);
        if (c == 0) {
            struct scry_metric_family *f = m->fams[mid];
            pthread_mutex_unlock(&m->mu);
            SCRY_ASSERT(f->type == type && f->n_labels == n_labels);
            return f;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    struct scry_metric_family *f =
        family_new(type, name, help, label_names, n_labels, buckets, n_buckets);
    m->fams = grow(m->fams, &m->cap_fams, m->n_fams, sizeof *m->fams);
    memmove(m->fams + lo + 1, m->fams + lo, (m->n_fams - lo) * sizeof *m->fams);
    m->fams[lo] = f;
    m->n_fams++;
    pthread_mutex_unlock(&m->mu);
    return f;
}

/* ------------------------------------------------------------------------
 * Children
 * ------------------------------------------------------------------------ */

static int values_cmp(char *const *a, const char *const *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a[i], b[i] ? b[i] : "");
        if (c)
            return c;
    }
    return 0;
}

static struct scry_metric *metric_new(struct scry_metric_family *f, const char *const *values)
{
    struct scry_metric *c = scry_calloc(1, sizeof *c);
    c->f = f;
    c->values = scry_calloc(f->n_labels ? f->n_labels : 1, sizeof *c->values);
    for (size_t i = 0; i < f->n_labels; i++)
        c->values[i] = scry_strdup(values[i] ? values[i] : "");
    atomic_init(&c->bits, d2u(0));
    if (f->type == SCRY_METRIC_HISTOGRAM) {
        c->buckets = scry_calloc(f->n_bounds + 1, sizeof *c->buckets);
        for (size_t i = 0; i <= f->n_bounds; i++)
            atomic_init(&c->buckets[i], 0);
    }
    return c;
}

struct scry_metric *scry_metric_with(struct scry_metric_family *f, const char *const *values)
{
    SCRY_ASSERT(f && (f->n_labels == 0 || values));
    pthread_mutex_lock(&f->mu);
    size_t lo = 0, hi = f->n_children;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = values_cmp(f->children[mid]->values, values, f->n_labels);
        if (c == 0) {
            struct scry_metric *found = f->children[mid];
            pthread_mutex_unlock(&f->mu);
            return found;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    struct scry_metric *c = metric_new(f, values);
    f->children = grow(f->children, &f->cap_children, f->n_children, sizeof *f->children);
    memmove(f->children + lo + 1, f->children + lo, (f->n_children - lo) * sizeof *f->children);
    f->children[lo] = c;
    f->n_children++;
    pthread_mutex_unlock(&f->mu);
    return c;
}

struct scry_metric *scry_metrics_counter(struct scry_metrics *m, const char *name, const char *help)
{
    return scry_metric_with(scry_metrics_family(m, SCRY_METRIC_COUNTER, name, help, NULL, 0, NULL, 0),
                            NULL);
}

struct scry_metric *scry_metrics_gauge(struct scry_metrics *m, const char *name, const char *help)
{
    return scry_metric_with(scry_metrics_family(m, SCRY_METRIC_GAUGE, name, help, NULL, 0, NULL, 0),
                            NULL);
}

/* ------------------------------------------------------------------------
 * Updates (the hot path: no locks, no allocation)
 * ------------------------------------------------------------------------ */

static void atomic_add_double(_Atomic uint64_t *bits, double v)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, d2u(u2d(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void scry_metric_inc(struct scry_metric *c) { scry_metric_add(c, 1); }

void scry_metric_add(struct scry_metric *c, double v)
{
    assert(c->f->type != SCRY_METRIC_HISTOGRAM);
    assert(c->f->type != SCRY_METRIC_COUNTER || !(v < 0)); /* counters only go up */
    atomic_add_double(&c->bits, v);
}

void scry_metric_set(struct scry_metric *g, double v)
{
    assert(g->f->type != SCRY_METRIC_HISTOGRAM);
    atomic_store_explicit(&g->bits, d2u(v), memory_order_relaxed);
}

double scry_metric_value(const struct scry_metric *c)
{
    return u2d(atomic_load_explicit(&((struct scry_metric *)c)->bits, memory_order_relaxed));
}

void scry_histogram_observe(struct scry_metric *h, double v)
{
    const struct scry_metric_family *f = h->f;
    assert(f->type == SCRY_METRIC_HISTOGRAM);
    /* First bound >= v; NaN compares false everywhere and lands in +Inf. */
    size_t lo = 0, hi = f->n_bounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->bounds[mid] < v || isnan(v))
            lo = mid + 1;
        else
            hi = mid;
    }
    atomic_fetch_add_explicit(&h->buckets[lo], 1, memory_order_relaxed);
    atomic_add_double(&h->bits, v);
}

/* ------------------------------------------------------------------------
 * Rendering
 * ------------------------------------------------------------------------ */

/* scry_buf_put_double picks C's %g layout for the shortest digits, which
 * prints 10 as "1e+01"; the exposition must match Go's 'g' with shortest
 * precision, which uses the exponent form only for exponents < -4 or >= 6
 * whatever the number of digits. */
static void put_escaped(struct scry_buf *out, const char *z, bool quote)
{
    for (; *z; z++) {
        if (*z == '\\')
            scry_buf_puts(out, "\\\\");
        else if (*z == '\n')
            scry_buf_puts(out, "\\n");
        else if (*z == '"' && quote)
            scry_buf_puts(out, "\\\"");
        else
            scry_buf_putc(out, *z);
    }
}

void scry_metrics_render_header(struct scry_buf *out, const char *name, const char *help,
                                enum scry_metric_type type)
{
    static const char *const types[] = { "counter", "gauge", "histogram" };
    scry_buf_printf(out, "# HELP %s ", name);
    put_escaped(out, help ? help : "", false);
    scry_buf_printf(out, "\n# TYPE %s %s\n", name, types[type]);
}

/* name{a="x",b="y"[,le="0.5"]}; no braces when there is nothing inside. */
static void put_series(struct scry_buf *out, const struct scry_metric *c, const char *suffix,
                       const char *le)
{
    const struct scry_metric_family *f = c->f;
    scry_buf_puts(out, f->name);
    scry_buf_puts(out, suffix);
    if (f->n_labels == 0 && !le)
        return;
    scry_buf_putc(out, '{');
    for (size_t i = 0; i < f->n_labels; i++) {
        if (i)
            scry_buf_putc(out, ',');
        scry_buf_printf(out, "%s=\"", f->label_names[i]);
        put_escaped(out, c->values[i], true);
        scry_buf_putc(out, '"');
    }
    if (le)
        scry_buf_printf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    scry_buf_putc(out, '}');
}

static void render_histogram(struct scry_buf *out, const struct scry_metric *c)
{
    const struct scry_metric_family *f = c->f;
    uint64_t cum = 0;
    struct scry_buf le = { 0 };
    for (size_t i = 0; i <= f->n_bounds; i++) {
        cum += atomic_load_explicit(&c->buckets[i], memory_order_relaxed);
        scry_buf_reset(&le);
        scry_buf_put_double(&le, i < f->n_bounds ? f->bounds[i] : INFINITY);
        put_series(out, c, "_bucket", le.p);
        scry_buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    scry_buf_fini(&le);
    put_series(out, c, "_sum", NULL);
    scry_buf_putc(out, ' ');
    scry_buf_put_double(out, scry_metric_value(c));
    scry_buf_putc(out, '\n');
    put_series(out, c, "_count", NULL);
    scry_buf_printf(out, " %llu\n", (unsigned long long)cum);
}

static void render_family(struct scry_buf *out, struct scry_metric_family *f)
{
    pthread_mutex_lock(&f->mu);
    if (f->n_children) {
        scry_metrics_render_header(out, f->name, f->help, f->type);
        for (size_t i = 0; i < f->n_children; i++) {
            const struct scry_metric *c = f->children[i];
            if (f->type == SCRY_METRIC_HISTOGRAM) {
                render_histogram(out, c);
                continue;
            }
            put_series(out, c, "", NULL);
            scry_buf_putc(out, ' ');
            scry_buf_put_double(out, scry_metric_value(c));
            scry_buf_putc(out, '\n');
        }
    }
    pthread_mutex_unlock(&f->mu);
}

void scry_metrics_add_collector(struct scry_metrics *m, scry_metrics_collect_fn fn, void *ud)
{
    SCRY_ASSERT(m && fn);
    pthread_mutex_lock(&m->mu);
    m->colls = grow(m->colls, &m->cap_colls, m->n_colls, sizeof *m->colls);
    m->colls[m->n_colls++] = (struct collector){ fn, ud };
    pthread_mutex_unlock(&m->mu);
}

void scry_metrics_render(struct scry_metrics *m, struct scry_buf *out)
{
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_fams; i++)
        render_family(out, m->fams[i]);
    /* Collectors run outside the lock, so one may register metrics itself. */
    size_t n = m->n_colls;
    struct collector *colls = scry_calloc(n ? n : 1, sizeof *colls);
    if (n)
        memcpy(colls, m->colls, n * sizeof *colls);
    pthread_mutex_unlock(&m->mu);
    for (size_t i = 0; i < n; i++)
        colls[i].fn(out, colls[i].ud);
    free(colls);
}
