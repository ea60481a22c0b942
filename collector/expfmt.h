/* expfmt.h — pull parsers for the Prometheus text format 0.0.4 and the
 * OpenMetrics 1.0 text format, over a whole response body in memory.
 *
 *     struct col_expfmt_parser p;
 *     col_expfmt_init(&p, body, len, col_expfmt_format_from_content_type(ct));
 *     for (int k; (k = col_expfmt_next(&p)) > COL_EXPFMT_EOF;)
 *         if (k == COL_EXPFMT_SAMPLE) use(&p.sample);
 *     if (col_expfmt_err(&p, &err) < 0) fail the scrape with err.msg;
 *     col_expfmt_fini(&p);
 *
 * Everything handed out is a slice into the body (or into the parser) that
 * is valid until the next call to col_expfmt_next. Label values are raw, as
 * written between the quotes; `escaped` says whether they hold a backslash,
 * so the common case needs no copy and col_expfmt_unescape runs only when
 * it must. Parsing a sample allocates nothing; the parser's label array
 * grows (amortised, freed by fini) only when a line has more than
 * COL_EXPFMT_INLINE_LABELS labels. Strictness follows Prometheus 2.x
 * model/textparse (promparse.go, openmetricsparse.go); README.md lists the
 * rules and the few deliberate differences. Not thread-safe; one parser per
 * scrape. */
#ifndef SCRY_COLLECTOR_EXPFMT_H
#define SCRY_COLLECTOR_EXPFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

enum col_expfmt_format {
    COL_EXPFMT_TEXT,        /* text/plain;version=0.0.4 */
    COL_EXPFMT_OPENMETRICS, /* application/openmetrics-text;version=1.0.0 (or 0.0.1) */
};

/* The Accept header Prometheus 2.x sends with a scrape. */
#define COL_EXPFMT_ACCEPT                                                                  \
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;" \
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

/* The format of a response by its Content-Type (NULL allowed). Like
 * Prometheus, anything that is not OpenMetrics 1.0.0 or 0.0.1 (including a
 * missing or unknown type) is parsed as the text format. */
enum col_expfmt_format col_expfmt_format_from_content_type(const char *ct);

/* Entry kinds returned by col_expfmt_next. */
enum col_expfmt_entry {
    COL_EXPFMT_ERROR = -1, /* see col_expfmt_err; sticky */
    COL_EXPFMT_EOF = 0,    /* end of input (OpenMetrics: after "# EOF"); sticky */
    COL_EXPFMT_SAMPLE,     /* p.sample */
    COL_EXPFMT_TYPE,       /* p.meta.name, p.meta.type */
    COL_EXPFMT_HELP,       /* p.meta.name, p.meta.text (escaped: see col_expfmt_help) */
    COL_EXPFMT_UNIT,       /* p.meta.name, p.meta.text (OpenMetrics only) */
    COL_EXPFMT_COMMENT,    /* p.meta.text: the whole line (text format only) */
};

enum col_metric_type {
    COL_METRIC_UNKNOWN, /* OpenMetrics "unknown", text "untyped", or no TYPE line */
    COL_METRIC_COUNTER,
    COL_METRIC_GAUGE,
    COL_METRIC_HISTOGRAM,
    COL_METRIC_GAUGEHISTOGRAM,
    COL_METRIC_SUMMARY,
    COL_METRIC_INFO,
    COL_METRIC_STATESET,
};

struct col_expfmt_label {
    struct scry_str name;
    struct scry_str value; /* as written between the quotes */
    bool escaped;          /* value holds a backslash: col_expfmt_unescape it */
};

struct col_expfmt_exemplar {
    const struct col_expfmt_label *labels;
    size_t n_labels;
    double value;
    bool has_ts;
    int64_t ts_ms;
};

struct col_expfmt_sample {
    struct scry_str name;
    struct scry_str series; /* name{labels} exactly as written: a cache key */
    const struct col_expfmt_label *labels; /* in the order written */
    size_t n_labels;
    double value; /* NaN is canonical (0x7ff8000000000001, Prometheus's NormalNaN) */
    bool has_ts;
    int64_t ts_ms; /* text: integer ms; OpenMetrics: float seconds * 1000, truncated */
    bool has_exemplar;
    bool created; /* OpenMetrics: a _created sample of a counter, histogram,
                   * gaugehistogram or summary family; value is Unix seconds */
    struct col_expfmt_exemplar exemplar;
};

struct col_expfmt_meta {
    struct scry_str name; /* metric family */
    enum col_metric_type type;
    struct scry_str text; /* HELP/UNIT text or comment line, raw */
    bool escaped;         /* text holds a backslash: col_expfmt_help it */
};

#define COL_EXPFMT_INLINE_LABELS 32

struct col_expfmt_parser {
    /* Results of the last col_expfmt_next (read-only for the caller). */
    struct col_expfmt_sample sample;
    struct col_expfmt_meta meta;

    /* Private. */
    enum col_expfmt_format format;
    const char *body, *cur, *end;
    const char *line_start; /* first byte of the current line */
    int line;               /* 1-based */
    int state;              /* COL_EXPFMT_ERROR / EOF when finished, else 1 */
    struct scry_str family;         /* last TYPE line's name (for `created`) */
    enum col_metric_type family_type;
    struct col_expfmt_label *lab;   /* sample labels, then exemplar labels */
    size_t lab_cap;
    struct col_expfmt_label lab_inline[COL_EXPFMT_INLINE_LABELS];
    struct scry_err err;
};

/* Prepares p to parse body[0, len). The body is borrowed and must outlive
 * the parser. Allocates nothing. */
void col_expfmt_init(struct col_expfmt_parser *p, const char *body, size_t len,
                     enum col_expfmt_format format);
/* Frees the label array if it grew. p may be reused after col_expfmt_init. */
void col_expfmt_fini(struct col_expfmt_parser *p);

/* Parses the next entry and returns its kind (enum col_expfmt_entry). */
int col_expfmt_next(struct col_expfmt_parser *p);

/* 0, or SCRY_EPARSE with "line N: <what was expected>" and line/col/offset
 * copied into err (may be NULL) after next returned COL_EXPFMT_ERROR. */
int col_expfmt_err(const struct col_expfmt_parser *p, struct scry_err *err);

/* Unescapes a label value (\\ \" \n; any other backslash pair is kept as
 * written, as Prometheus does) into out, which needs room for s.len bytes.
 * Returns the length written (≤ s.len). No NUL is added. */
size_t col_expfmt_unescape(struct scry_str s, char *out);

/* The HELP text of the current entry, unescaped per format (text: \\ \n;
 * OpenMetrics: \\ \" \n) into out (room for p->meta.text.len bytes).
 * Returns the length written. */
size_t col_expfmt_help(const struct col_expfmt_parser *p, char *out);

/* "counter", "gauge", ... (OpenMetrics spelling; "unknown"). */
const char *col_metric_type_name(enum col_metric_type t);

#endif
