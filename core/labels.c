/* labels.c — label sets: hashing, ordering, validation, formatting and the
 * builder.
 *
 * The hash is the reference xxHash64 (seed 0), fed name 0xff value 0xff for
 * each pair in order. 0xff never occurs in valid UTF-8, so the separator
 * cannot be forged by a value: {a="bc"} and {ab="c"} hash differently. We
 * implement XXH64 here (about 100 lines) instead of linking libxxhash, because
 * the hash may be stored on disk and must never change with a library update;
 * tests/unit/core/test_labels.c pins it with reference vectors. The hash is
 * computed by streaming the pairs, so hashing a set allocates nothing.
 *
 * The builder keeps its pairs sorted at all times (binary-search insert), so
 * set/del are O(log n) to find plus a memmove, and labels() is a copy. Label
 * sets are small (median ~8 pairs), so the memmove is cheaper than sorting.
 * Everything it allocates lives in the caller's arena. */
#include "core/labels.h"

#include <assert.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * xxHash64
 * ------------------------------------------------------------------------ */

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* Byte-wise little-endian reads: the hash is the same on any host. */
static inline uint64_t read64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint32_t read32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t xxround(uint64_t acc, uint64_t in)
{
    acc += in * P2;
    acc = rotl64(acc, 31);
    return acc * P1;
}

static inline uint64_t xxmerge(uint64_t acc, uint64_t v)
{
    acc ^= xxround(0, v);
    return acc * P1 + P4;
}

/* Streaming state, as in the reference XXH64_update/XXH64_digest. */
struct xxh64 {
    uint64_t v[4];
    uint64_t total;
    unsigned char mem[32];
    size_t n_mem;
    uint64_t seed;
};

static void xxh_init(struct xxh64 *s, uint64_t seed)
{
    s->seed = seed;
    s->v[0] = seed + P1 + P2;
    s->v[1] = seed + P2;
    s->v[2] = seed;
    s->v[3] = seed - P1;
    s->total = 0;
    s->n_mem = 0;
}

static void xxh_stripe(struct xxh64 *s, const unsigned char *p)
{
    for (int i = 0; i < 4; i++)
        s->v[i] = xxround(s->v[i], read64(p + 8 * i));
}

static void xxh_update(struct xxh64 *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    s->total += len;
    if (s->n_mem + len < 32) {
        if (len)
            memcpy(s->mem + s->n_mem, p, len);
        s->n_mem += len;
        return;
    }
    if (s->n_mem) {
        size_t fill = 32 - s->n_mem;
        memcpy(s->mem + s->n_mem, p, fill);
        xxh_stripe(s, s->mem);
        p += fill;
        len -= fill;
        s->n_mem = 0;
    }
    for (; len >= 32; p += 32, len -= 32)
        xxh_stripe(s, p);
    if (len)
        memcpy(s->mem, p, len);
    s->n_mem = len;
}

static uint64_t xxh_digest(const struct xxh64 *s)
{
    uint64_t h;
    if (s->total >= 32) {
        h = rotl64(s->v[0], 1) + rotl64(s->v[1], 7) + rotl64(s->v[2], 12) + rotl64(s->v[3], 18);
        for (int i = 0; i < 4; i++)
            h = xxmerge(h, s->v[i]);
    } else {
        h = s->seed + P5;
    }
    h += s->total;

    const unsigned char *p = s->mem;
    size_t len = s->n_mem;
    assert(len < 32);
    for (; len >= 8; p += 8, len -= 8) {
        h ^= xxround(0, read64(p));
        h = rotl64(h, 27) * P1 + P4;
    }
    if (len >= 4) {
        h ^= (uint64_t)read32(p) * P1;
        h = rotl64(h, 23) * P2 + P3;
        p += 4;
        len -= 4;
    }
    for (; len > 0; p++, len--) {
        h ^= (uint64_t)*p * P5;
        h = rotl64(h, 11) * P1;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

uint64_t scry_xxh64(const void *p, size_t len, uint64_t seed)
{
    struct xxh64 s;
    xxh_init(&s, seed);
    xxh_update(&s, p, len);
    return xxh_digest(&s);
}

uint64_t scry_labels_hash(const struct scry_labels *ls)
{
    static const unsigned char sep = 0xff;
    struct xxh64 s;
    xxh_init(&s, 0);
    for (size_t i = 0; i < ls->n; i++) {
        xxh_update(&s, ls->v[i].name, strlen(ls->v[i].name));
        xxh_update(&s, &sep, 1);
        xxh_update(&s, ls->v[i].value, strlen(ls->v[i].value));
        xxh_update(&s, &sep, 1);
    }
    return xxh_digest(&s);
}

/* ------------------------------------------------------------------------
 * Ordering and lookup
 * ------------------------------------------------------------------------ */

static int sign(int c) { return (c > 0) - (c < 0); }

int scry_labels_cmp(const struct scry_labels *a, const struct scry_labels *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a->v[i].name, b->v[i].name);
        if (c)
            return sign(c);
        c = strcmp(a->v[i].value, b->v[i].value);
        if (c)
            return sign(c);
    }
    return (a->n > b->n) - (a->n < b->n);
}

bool scry_labels_equal(const struct scry_labels *a, const struct scry_labels *b)
{
    return a->n == b->n && scry_labels_cmp(a, b) == 0;
}

/* Index of name in v[0..n), or the insertion point with *found = false. */
static size_t search(const struct scry_label *v, size_t n, const char *name, bool *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const char *scry_labels_get(const struct scry_labels *ls, const char *name)
{
    bool found;
    size_t i = search(ls->v, ls->n, name, &found);
    return found ? ls->v[i].value : NULL;
}

/* ------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------ */

static bool is_alpha_(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

bool scry_label_name_valid(const char *p, size_t len)
{
    if (len == 0 || !is_alpha_((unsigned char)p[0]))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!is_alpha_((unsigned char)p[i]) && !is_digit((unsigned char)p[i]))
            return false;
    return true;
}

bool scry_metric_name_valid(const char *p, size_t len)
{
    if (len == 0 || !(is_alpha_((unsigned char)p[0]) || p[0] == ':'))
        return false;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!is_alpha_(c) && !is_digit(c) && c != ':')
            return false;
    }
    return true;
}

/* The well-formed byte sequences of Unicode 15 table 3-7: the narrowed
 * second-byte ranges after E0, ED, F0 and F4 are what reject overlong forms,
 * surrogates (U+D800..DFFF) and code points above U+10FFFF. */
bool scry_utf8_valid(const char *z, size_t len)
{
    const unsigned char *p = (const unsigned char *)z, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n;
        unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false; /* continuation byte, C0/C1 overlong lead, or F5..FF */
        }
        if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
            return false;
        for (size_t i = 2; i < n; i++)
            if (p[i] < 0x80 || p[i] > 0xbf)
                return false;
        p += n;
    }
    return true;
}

int scry_labels_validate(const struct scry_labels *ls, struct scry_err *err)
{
    if (!ls || (ls->n && !ls->v))
        return scry_err_set(err, SCRY_EINVAL, "no label set");
    for (size_t i = 0; i < ls->n; i++) {
        const char *name = ls->v[i].name, *value = ls->v[i].value;
        if (!name || !value)
            return scry_err_set(err, SCRY_EINVAL, "label %zu: missing name or value", i);
        size_t nlen = strlen(name), vlen = strlen(value);
        if (!scry_label_name_valid(name, nlen))
            return scry_err_set(err, SCRY_EINVAL, "invalid label name \"%.128s\"", name);
        if (i > 0) {
            int c = strcmp(ls->v[i - 1].name, name);
            if (c == 0)
                return scry_err_set(err, SCRY_EINVAL, "duplicate label name \"%s\"", name);
            if (c > 0)
                return scry_err_set(err, SCRY_EINVAL, "label \"%s\" out of order after \"%s\"",
                                    name, ls->v[i - 1].name);
        }
        if (vlen == 0)
            return scry_err_set(err, SCRY_EINVAL, "label \"%s\" has an empty value", name);
        if (!scry_utf8_valid(value, vlen))
            return scry_err_set(err, SCRY_EINVAL, "label \"%s\": value is not valid UTF-8",
                                name);
        if (strcmp(name, SCRY_METRIC_NAME) == 0 && !scry_metric_name_valid(value, vlen))
            return scry_err_set(err, SCRY_EINVAL, "invalid metric name \"%.128s\"", value);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Formatting
 * ------------------------------------------------------------------------ */

/* Quotes like Go's strconv.Quote, which Prometheus's String() uses: the
 * usual backslash escapes, other control bytes and invalid UTF-8 as \xNN. */
static void put_quoted(struct scry_buf *out, const char *z)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)z;
    size_t len = strlen(z);
    scry_buf_putc(out, '"');
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        const char *esc = NULL;
        switch (c) {
        case '\\': esc = "\\\\"; break;
        case '"': esc = "\\\""; break;
        case '\n': esc = "\\n"; break;
        case '\t': esc = "\\t"; break;
        case '\r': esc = "\\r"; break;
        default: break;
        }
        if (esc) {
            scry_buf_puts(out, esc);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char x[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
            scry_buf_put(out, x, 4);
            i++;
        } else if (c < 0x80) {
            scry_buf_putc(out, (char)c);
            i++;
        } else {
            size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (n <= len - i && scry_utf8_valid(z + i, n)) {
                scry_buf_put(out, z + i, n);
                i += n;
            } else {
                char x[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
                scry_buf_put(out, x, 4);
                i++;
            }
        }
    }
    scry_buf_putc(out, '"');
}

/* Like Prometheus's model.Metric String(): name{a="1", b="2"}, the bare name
 * when it is the only label, and {} for the empty set. */
void scry_labels_format(const struct scry_labels *ls, struct scry_buf *out)
{
    const char *name = scry_labels_get(ls, SCRY_METRIC_NAME);
    if (name)
        scry_buf_puts(out, name);
    if (name && ls->n == 1)
        return;
    scry_buf_putc(out, '{');
    bool first = true;
    for (size_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->v[i].name, SCRY_METRIC_NAME) == 0)
            continue;
        if (!first)
            scry_buf_puts(out, ", ");
        first = false;
        scry_buf_puts(out, ls->v[i].name);
        scry_buf_putc(out, '=');
        put_quoted(out, ls->v[i].value);
    }
    scry_buf_putc(out, '}');
}

/* ------------------------------------------------------------------------
 * Builder
 * ------------------------------------------------------------------------ */

void scry_labels_builder_init(struct scry_labels_builder *b, struct scry_arena *a)
{
    assert(a);
    b->a = a;
    b->v = NULL;
    b->n = b->cap = 0;
}

/* Old arrays stay in the arena until it is freed; growth doubles, so the
 * waste is at most the final size. */
static void reserve(struct scry_labels_builder *b, size_t need)
{
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap * 2 : 16;
    while (cap < need)
        cap *= 2;
    struct scry_label *v = scry_arena_alloc(b->a, cap * sizeof *v);
    if (b->n)
        memcpy(v, b->v, b->n * sizeof *v);
    b->v = v;
    b->cap = cap;
}

void scry_labels_builder_reset(struct scry_labels_builder *b, const struct scry_labels *from)
{
    b->n = 0;
    if (!from || from->n == 0)
        return;
    reserve(b, from->n);
    memcpy(b->v, from->v, from->n * sizeof *b->v);
    b->n = from->n;
#ifndef NDEBUG
    for (size_t i = 1; i < b->n; i++)
        assert(strcmp(b->v[i - 1].name, b->v[i].name) < 0);
#endif
}

void scry_labels_builder_set(struct scry_labels_builder *b, const char *name, const char *value)
{
    assert(name);
    if (!value || !*value) {
        scry_labels_builder_del(b, name);
        return;
    }
    bool found;
    size_t i = search(b->v, b->n, name, &found);
    char *v = scry_arena_strdup(b->a, value);
    if (found) {
        b->v[i].value = v;
        return;
    }
    reserve(b, b->n + 1);
    memmove(b->v + i + 1, b->v + i, (b->n - i) * sizeof *b->v);
    b->v[i].name = scry_arena_strdup(b->a, name);
    b->v[i].value = v;
    b->n++;
}

void scry_labels_builder_del(struct scry_labels_builder *b, const char *name)
{
    bool found;
    size_t i = search(b->v, b->n, name, &found);
    if (!found)
        return;
    memmove(b->v + i, b->v + i + 1, (b->n - i - 1) * sizeof *b->v);
    b->n--;
}

/* The pairs are already sorted; copy them so that reusing the builder does
 * not change a set handed out earlier. */
struct scry_labels scry_labels_builder_labels(struct scry_labels_builder *b)
{
    struct scry_label *v = NULL;
    if (b->n) {
        v = scry_arena_alloc(b->a, b->n * sizeof *v);
        memcpy(v, b->v, b->n * sizeof *v);
    }
    return (struct scry_labels){ v, b->n };
}
