/* logql_lex.c — LogQL tokens.
 *
 * Context-free: the parser decides what an identifier means (a keyword, a
 * label name, a function). A token starting with a digit runs over letters,
 * digits and dots and is classified afterwards as a number, a duration
 * (Go's time.ParseDuration, "250ms", "1h30m") or a byte size ("20MB"). */
#include <ctype.h>
#include <string.h>

#include "query/logql_internal.h"
#include "query/promql_internal.h"

static bool is_ident_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static bool is_ident(char c) { return isalnum((unsigned char)c) || c == '_'; }

static void classify_number(const char *s, size_t n, struct lql_token *t)
{
    double v;
    bool range_err;
    if (pql__parse_number(s, n, &v, &range_err)) {
        t->t = T_NUMBER;
        return;
    }
    if (lql__parse_go_duration(s, n, &v)) {
        t->t = T_DURATION;
        return;
    }
    /* Prometheus durations (1d, 1w, 1y) in ranges */
    int64_t ms;
    char why[64];
    if (pql__parse_duration(s, n, &ms, why, sizeof why)) {
        t->t = T_DURATION;
        return;
    }
    if (lql__parse_bytes(s, n, &v)) {
        t->t = T_BYTES;
        return;
    }
    t->t = T_ERR;
}

void lql__lex_next(struct lql_lexer *l, struct lql_token *t)
{
    const char *s = l->in;
    size_t n = l->len, i = l->pos;
    for (;;) {
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i < n && s[i] == '#') { /* comment to end of line */
            while (i < n && s[i] != '\n')
                i++;
            continue;
        }
        break;
    }
    t->pos = i;
    t->len = 1;
    if (i >= n) {
        t->t = T_EOF;
        t->len = 0;
        l->pos = i;
        return;
    }
    char c = s[i], d = i + 1 < n ? s[i + 1] : 0;
    switch (c) {
    case '{': t->t = T_LBRACE; break;
    case '}': t->t = T_RBRACE; break;
    case '(': t->t = T_LPAREN; break;
    case ')': t->t = T_RPAREN; break;
    case '[': t->t = T_LBRACK; break;
    case ']': t->t = T_RBRACK; break;
    case ',': t->t = T_COMMA; break;
    case '.': t->t = T_DOT; break;
    case '+': t->t = T_ADD; break;
    case '*': t->t = T_MUL; break;
    case '/': t->t = T_DIV; break;
    case '%': t->t = T_MOD; break;
    case '^': t->t = T_POW; break;
    case '|':
        if (d == '=') t->t = T_PIPE_EQ, t->len = 2;
        else if (d == '~') t->t = T_PIPE_RE, t->len = 2;
        else if (d == '>') t->t = T_PIPE_PAT, t->len = 2;
        else t->t = T_PIPE;
        break;
    case '!':
        if (d == '=') t->t = T_NEQ, t->len = 2;
        else if (d == '~') t->t = T_NRE, t->len = 2;
        else if (d == '>') t->t = T_NPAT, t->len = 2;
        else t->t = T_ERR;
        break;
    case '=':
        if (d == '~') t->t = T_RE, t->len = 2;
        else if (d == '=') t->t = T_EQEQ, t->len = 2;
        else t->t = T_EQ;
        break;
    case '>':
        if (d == '=') t->t = T_GE, t->len = 2;
        else t->t = T_GT;
        break;
    case '<':
        if (d == '=') t->t = T_LE, t->len = 2;
        else t->t = T_LT;
        break;
    case '-':
        if (d == '-' && i + 2 < n && is_ident_start(s[i + 2])) {
            size_t j = i + 2;
            while (j < n && (is_ident(s[j]) || s[j] == '-'))
                j++;
            t->t = T_FLAG;
            t->len = j - i;
        } else {
            t->t = T_SUB;
        }
        break;
    case '"':
    case '`': {
        size_t j = i + 1;
        while (j < n && s[j] != c) {
            if (c == '"' && s[j] == '\\' && j + 1 < n)
                j++;
            else if (c == '"' && s[j] == '\n')
                break;
            j++;
        }
        if (j >= n || s[j] != c) {
            t->t = T_ERR;
            t->len = j - i;
        } else {
            t->t = T_STRING;
            t->len = j + 1 - i;
        }
        break;
    }
    default:
        if (is_ident_start(c)) {
            size_t j = i;
            while (j < n && (is_ident(s[j]) || s[j] == ':'))
                j++;
            t->t = T_IDENT;
            t->len = j - i;
        } else if (isdigit((unsigned char)c)) {
            size_t j = i;
            while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '.' ||
                             ((s[j] == '+' || s[j] == '-') && (s[j - 1] == 'e' || s[j - 1] == 'E'))))
                j++;
            t->len = j - i;
            classify_number(s + i, j - i, t);
        } else {
            t->t = T_ERR;
        }
    }
    l->pos = i + t->len;
}
