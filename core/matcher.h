/* matcher.h — label matchers as PromQL and LogQL selectors write them:
 * name="v", name!="v", name=~"re", name!~"re".
 *
 * Regexes are PCRE2, fully anchored like Prometheus (^(?s:re)$: `.` also
 * matches a newline), compiled once at init and JIT-compiled where
 * available. A matcher on a label that is absent sees the empty string, so
 * {foo=""} matches series without foo. */
#ifndef SCRY_CORE_MATCHER_H
#define SCRY_CORE_MATCHER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/labels.h"

enum scry_match_type { SCRY_MATCH_EQ, SCRY_MATCH_NEQ, SCRY_MATCH_RE, SCRY_MATCH_NRE };

struct scry_matcher {
    enum scry_match_type type;
    const char *name;  /* borrowed: must outlive the matcher */
    const char *value; /* borrowed: the literal or the regex source */
    void *re;          /* pcre2_code*, owned, for RE/NRE */
    void *md;          /* pcre2_match_data*, owned */
    int fast;          /* set by init: a shortcut for a literal-like regex, or 0 */
    size_t n_lit, n_dots; /* the shortcut's literal prefix and trailing dots */
};

/* Compiles the regex for RE/NRE. SCRY_EPARSE with PCRE2's message and offset
 * for a bad regex. After success, call fini. Not thread-safe to match
 * concurrently on one matcher (it keeps its match data). */
int scry_matcher_init(struct scry_matcher *m, enum scry_match_type type, const char *name,
                      const char *value, struct scry_err *err);
void scry_matcher_fini(struct scry_matcher *m);
bool scry_matcher_matches(const struct scry_matcher *m, const char *v, size_t len);
/* Applies the matcher to a label set (absent label = ""). */
bool scry_matcher_matches_labels(const struct scry_matcher *m, const struct scry_labels *ls);
/* "=", "!=", "=~", "!~" */
const char *scry_match_type_str(enum scry_match_type t);

#endif
