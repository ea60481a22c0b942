/* tokenize.h — the words of a log line, as the token index sees them.
 *
 * The exact rule is in logstore/README.md ("Tokens"): maximal runs of ASCII
 * letters and digits, lower-cased; plus the value of each key=value pair when
 * it is not a single word; tokens longer than LS_TOKEN_MAX bytes come out as
 * overlapping windows of LS_TOKEN_MAX bytes every LS_TOKEN_MAX/2. No
 * allocation: the token is lower-cased into a buffer on the stack and handed
 * to the callback, valid only during the call. Tokens may repeat. */
#ifndef SCRY_LOGSTORE_TOKENIZE_H
#define SCRY_LOGSTORE_TOKENIZE_H

#include <stddef.h>

#define LS_TOKEN_MAX 64
/* A required token longer than this is looked up by its first LS_TOKEN_LOOKUP_MAX
 * bytes: any piece that short of a long line token lies in one window. */
#define LS_TOKEN_LOOKUP_MAX (LS_TOKEN_MAX / 2)

typedef void (*ls_token_fn)(void *ud, const char *tok, size_t len);

/* Every token of line (words and key=value values). */
void ls_tokenize(const char *line, size_t len, ls_token_fn fn, void *ud);
/* The same, words (rule 1, windowed) to word_fn and key=value values (rule 2)
 * to value_fn: the segment index keeps them apart (README.md "Token index").
 * value_fn NULL: the values are not looked for at all. */
void ls_tokenize_split(const char *line, size_t len, ls_token_fn word_fn, ls_token_fn value_fn,
                       void *ud);
/* Only rule 1 (words), not windowed: what a needle of `|= "..."` gives as
 * required tokens (each lower-cased, whole length). */
void ls_tokenize_words(const char *s, size_t len, ls_token_fn fn, void *ud);

#endif
