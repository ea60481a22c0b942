/* api_prom_encode.c — evaluation results and envelopes as JSON, byte for
 * byte as Prometheus's web/api/v1 and util/jsonutil write them (contract
 * §4.1–4.3): resultType before result, timestamps as numbers in seconds
 * with exactly three decimals when the millisecond part is not zero,
 * sample values as strings ("1", "NaN", "+Inf"), [] for an empty result,
 * {} for a series without labels. Grafana's reader streams, so the order
 * and the types matter, not just the JSON value.
 *
 * An evaluation result is not encoded into one buffer: query and
 * query_range hand core a producer (scry_http_resp.stream) that writes the
 * envelope and then the series, about 64 KiB at a time, while core sends
 * them. A range query over all counters of 100k series is ~500 MB of JSON;
 * built whole it was as large as the evaluated matrix itself. The producer
 * and pql__api_write_result share every piece (list_begin, one_series,
 * list_end), so both write the same bytes. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#include "query/api_prom_internal.h"

/* jsonutil.MarshalTimestamp: integer seconds, then ".mmm" only when the
 * millisecond part is not zero. Negative times print a leading '-' and
 * then the absolute value, so -500 ms is "-0.500". Written into out (at
 * least 32 bytes), no printf: a matrix has one per point. */
static size_t fmt_time(char *out, int64_t t_ms)
{
    char *o = out;
    uint64_t u = (uint64_t)t_ms;
    if (t_ms < 0) {
        *o++ = '-';
        u = (uint64_t)0 - u;
    }
    unsigned frac = (unsigned)(u % 1000);
    o += scry_fmt_u64(o, u / 1000);
    if (frac) {
        *o++ = '.';
        *o++ = (char)('0' + frac / 100);
        *o++ = (char)('0' + frac / 10 % 10);
        *o++ = (char)('0' + frac % 10);
    }
    return (size_t)(o - out);
}

void pql__api_put_time(struct scry_buf *b, int64_t t_ms)
{
    char tmp[32];
    scry_buf_put(b, tmp, fmt_time(tmp, t_ms));
}

void pql__api_json_time(struct scry_json *j, int64_t t_ms)
{
    char tmp[32];
    scry_json_raw(j, tmp, fmt_time(tmp, t_ms));
}

static void success_head(struct scry_json *j);

void pql__api_success_begin(struct scry_json *j, struct scry_buf *b)
{
    scry_buf_reset(b);
    scry_json_init(j, b);
    success_head(j);
}

static void success_head(struct scry_json *j)
{
    scry_json_obj_begin(j);
    scry_json_key(j, "status");
    scry_json_str(j, "success");
    scry_json_key(j, "data");
}

static void strings(struct scry_json *j, const char *key, const char *const *v, size_t n)
{
    if (!n)
        return;
    scry_json_key(j, key);
    scry_json_arr_begin(j);
    for (size_t i = 0; i < n; i++)
        scry_json_str(j, v[i]);
    scry_json_arr_end(j);
}

static void success_tail(struct scry_json *j, const char *const *warnings, size_t n_warnings,
                         const char *const *infos, size_t n_infos)
{
    strings(j, "warnings", warnings, n_warnings);
    strings(j, "infos", infos, n_infos);
    scry_json_obj_end(j);
}

void pql__api_success_end(struct pql_api_ctx *c, struct scry_json *j, const char **infos,
                          size_t n_infos)
{
    success_tail(j, c->warnings, c->n_warnings, infos, n_infos);
    c->resp->status = 200;
    c->resp->content_type = "application/json";
}

void pql__api_write_labels(struct scry_json *j, const struct scry_labels *ls)
{
    scry_json_labels(j, ls);
}

static void point(struct scry_json *j, int64_t t_ms, double v)
{
    scry_json_arr_begin(j);
    pql__api_json_time(j, t_ms);
    scry_json_double_str(j, v);
    scry_json_arr_end(j);
}

/* Formatted timestamps, direct-mapped by second: the series of a range
 * query share one grid of steps, so each step's text is made once. */
#define TCACHE_SLOTS 509
struct tcache {
    int64_t t[TCACHE_SLOTS];
    uint8_t len[TCACHE_SLOTS];
    char s[TCACHE_SLOTS][32];
};

static size_t put_time_cached(struct tcache *tc, char *o, int64_t t_ms)
{
    if (!tc)
        return fmt_time(o, t_ms);
    size_t k = (size_t)((uint64_t)t_ms / 1000 % TCACHE_SLOTS);
    if (tc->len[k] == 0 || tc->t[k] != t_ms) {
        tc->t[k] = t_ms;
        tc->len[k] = (uint8_t)fmt_time(tc->s[k], t_ms);
    }
    memcpy(o, tc->s[k], 32);
    return tc->len[k];
}

/* The elements of a matrix's "values" array, [t,"v"] each, written
 * straight into the buffer (what point() writes, without the writer's
 * bookkeeping per token): a range query answers with ~500 k of them. */
static void points(struct scry_buf *b, struct tcache *tc, const struct pql_point *p, size_t n)
{
    enum { MAX_POINT = 2 + 32 + 2 + SCRY_FMT_DOUBLE_MAX + 3 };
    for (size_t i = 0; i < n; i++) {
        scry_buf_reserve(b, MAX_POINT);
        char *o = b->p + b->len;
        if (i)
            *o++ = ',';
        *o++ = '[';
        o += put_time_cached(tc, o, p[i].t_ms);
        *o++ = ',';
        *o++ = '"';
        o += scry_fmt_double_api(o, p[i].v);
        *o++ = '"';
        *o++ = ']';
        b->len = (size_t)(o - b->p);
    }
    if (b->p)
        b->p[b->len] = 0;
}

static void series(struct scry_json *j, struct tcache *tc, const struct pql_out_series *s,
                   bool matrix)
{
    scry_json_obj_begin(j);
    scry_json_key(j, "metric");
    pql__api_write_labels(j, &s->labels);
    if (matrix) {
        scry_json_key(j, "values");
        scry_json_arr_begin(j);
        points(j->b, tc, s->points, s->n_points);
        scry_json_arr_end(j);
    } else {
        assert(s->n_points >= 1);
        scry_json_key(j, "value");
        point(j, s->points[0].t_ms, s->points[0].v);
    }
    scry_json_obj_end(j);
}

static bool is_list(const struct pql_result *r)
{
    return r->type != PQL_TYPE_SCALAR && r->type != PQL_TYPE_STRING;
}

/* {"resultType":"matrix","result":[ (or "vector"). */
static void list_begin(struct scry_json *j, const struct pql_result *r)
{
    scry_json_obj_begin(j);
    scry_json_key(j, "resultType");
    scry_json_str(j, r->type == PQL_TYPE_MATRIX ? "matrix" : "vector");
    scry_json_key(j, "result");
    scry_json_arr_begin(j);
}

/* Series i of a vector or matrix; a vector's series without a point is
 * left out. */
static void one_series(struct scry_json *j, struct tcache *tc, const struct pql_result *r,
                       size_t i)
{
    bool matrix = r->type == PQL_TYPE_MATRIX;
    if (matrix || r->series[i].n_points > 0)
        series(j, tc, &r->series[i], matrix);
}

static void list_end(struct scry_json *j)
{
    scry_json_arr_end(j);
    scry_json_obj_end(j);
}

/* The timestamp cache pays off only for a matrix of several series. */
static bool wants_tcache(const struct pql_result *r)
{
    return r->type == PQL_TYPE_MATRIX && r->n_series > 1;
}

void pql__api_write_result(struct scry_json *j, const struct pql_result *r)
{
    if (is_list(r)) {
        struct tcache *tc = wants_tcache(r) ? scry_calloc(1, sizeof(*tc)) : NULL;
        list_begin(j, r);
        for (size_t i = 0; i < r->n_series; i++)
            one_series(j, tc, r, i);
        list_end(j);
        free(tc);
        return;
    }
    scry_json_obj_begin(j);
    scry_json_key(j, "resultType");
    if (r->type == PQL_TYPE_SCALAR) {
        scry_json_str(j, "scalar");
        scry_json_key(j, "result");
        point(j, r->t_ms, r->scalar);
    } else {
        scry_json_str(j, "string");
        scry_json_key(j, "result");
        scry_json_arr_begin(j);
        pql__api_json_time(j, r->t_ms);
        scry_json_str(j, r->string ? r->string : "");
        scry_json_arr_end(j);
    }
    scry_json_obj_end(j);
}

/* ---- the streamed answer ---------------------------------------------------- */

/* Everything the producer needs, in the request arena: it runs after the
 * handler returned, until the request completes. */
struct result_stream {
    struct scry_json j;   /* its state carries over from call to call */
    struct pql_result r;  /* the series themselves are arena-owned already */
    const char *const *warnings;
    size_t n_warnings;
    struct tcache *tc;
    size_t i;             /* next series to write */
    bool begun;
};

/* scry_http_stream_fn: the envelope's head, whole series until out holds a
 * chunk's worth, then the tail. A series is never split: the longest one
 * (11 000 points) is ~300 KB. */
static bool result_fill(void *ud, struct scry_buf *out)
{
    struct result_stream *s = ud;
    const struct pql_result *r = &s->r;
    if (!s->begun) {
        s->begun = true;
        scry_json_init(&s->j, out);
        success_head(&s->j);
        if (!is_list(r)) {
            pql__api_write_result(&s->j, r);
            s->i = r->n_series;
            goto tail;
        }
        list_begin(&s->j, r);
    }
    s->j.b = out; /* core hands a drained buffer back, or another one */
    while (s->i < r->n_series && out->len < SCRY_HTTP_STREAM_CHUNK_BYTES)
        one_series(&s->j, s->tc, r, s->i++);
    if (s->i < r->n_series)
        return false;
    list_end(&s->j);
tail:
    success_tail(&s->j, s->warnings, s->n_warnings, (const char *const *)r->infos, r->n_infos);
    return true;
}

void pql__api_answer_result(struct pql_api_ctx *c, const struct pql_result *r)
{
    struct scry_arena *a = c->req->arena;
    struct result_stream *s = scry_arena_calloc(a, 1, sizeof *s);
    s->r = *r;
    s->warnings = (const char *const *)c->warnings;
    s->n_warnings = c->n_warnings;
    s->tc = wants_tcache(r) ? scry_arena_calloc(a, 1, sizeof *s->tc) : NULL;
    scry_buf_reset(&c->resp->body);
    c->resp->stream = result_fill;
    c->resp->stream_ud = s;
    c->resp->status = 200;
    c->resp->content_type = "application/json";
}

/* ---- streamed lists (series, labels, label values) ---------------------------- */

struct list_stream {
    struct scry_json j;
    const char *const *strs;          /* label names or values, or */
    const struct scry_labels *sets;   /* label sets (series) */
    size_t n, i;
    const char *const *warnings;
    size_t n_warnings;
    bool begun;
};

static bool list_fill(void *ud, struct scry_buf *out)
{
    struct list_stream *s = ud;
    if (!s->begun) {
        s->begun = true;
        scry_json_init(&s->j, out);
        success_head(&s->j);
        scry_json_arr_begin(&s->j);
    }
    s->j.b = out;
    for (; s->i < s->n && out->len < SCRY_HTTP_STREAM_CHUNK_BYTES; s->i++) {
        if (s->sets)
            pql__api_write_labels(&s->j, &s->sets[s->i]);
        else
            scry_json_str(&s->j, s->strs[s->i]);
    }
    if (s->i < s->n)
        return false;
    scry_json_arr_end(&s->j);
    success_tail(&s->j, s->warnings, s->n_warnings, NULL, 0);
    return true;
}

static void answer_list(struct pql_api_ctx *c, const char *const *strs,
                        const struct scry_labels *sets, size_t n)
{
    struct list_stream *s = scry_arena_calloc(c->req->arena, 1, sizeof *s);
    s->strs = strs;
    s->sets = sets;
    s->n = n;
    s->warnings = (const char *const *)c->warnings;
    s->n_warnings = c->n_warnings;
    scry_buf_reset(&c->resp->body);
    c->resp->stream = list_fill;
    c->resp->stream_ud = s;
    c->resp->status = 200;
    c->resp->content_type = "application/json";
}

void pql__api_answer_strings(struct pql_api_ctx *c, const char *const *v, size_t n)
{
    answer_list(c, v, NULL, n);
}

void pql__api_answer_label_sets(struct pql_api_ctx *c, const struct scry_labels *v, size_t n)
{
    answer_list(c, NULL, v, n);
}
