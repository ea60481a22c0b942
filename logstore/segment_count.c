/* segment_count.c — counting the lines that hold a word from the token
 * index alone (README.md "Counting from the index", FORMAT.md "Line
 * counts").
 *
 * The writer stores, per (dictionary token, chunk) posting, the number of
 * the chunk's lines holding the token as a whole word spelled in lower
 * case. For a needle N of lower-case ASCII letters and digits, a line
 * contains N (case-sensitively) iff one of its words contains N. In a
 * chunk where no indexed word other than N itself can contain N, the lines
 * containing N are exactly those holding the word N in lower case: the
 * stored count. A chunk where another word may contain N (another
 * dictionary token, a window of a long word, a hex id or number-like word
 * by the chunk maps) must be decoded. */
#include <assert.h>
#include <string.h>

#include "core/mem.h"
#include "logstore/ls_internal.h"
#include "logstore/tokenize.h"

/* Dictionary entry i's chunks: marked LS_COUNT_DECODE, or (counts) given
 * their line counts where not marked; a token in fewer than count_min
 * chunks has no counts, so its chunks are marked. */
static void postings(const struct ls_segment *s, uint32_t i, uint32_t *v, bool counts)
{
    struct ls_rd r = { s->dict + s->post_off[i], s->dict + s->post_off[i + 1], false };
    struct ls_rd c = { s->counts + s->cnt_off[i], s->counts + s->cnt_off[i + 1], false };
    uint64_t n = ls__rd_uvarint(&r), id = 0;
    if (n < s->count_min)
        counts = false; /* no counts kept: its chunks decode */
    for (uint64_t k = 0; k < n; k++) {
        id = k ? id + ls__rd_uvarint(&r) : ls__rd_uvarint(&r);
        uint64_t cnt = counts ? ls__rd_uvarint(&c) : 0;
        SCRY_ASSERT(!r.bad && !c.bad && id < s->n_chunks); /* validated at open */
        if (!counts)
            v[id] = LS_COUNT_DECODE;
        else if (v[id] != LS_COUNT_DECODE)
            v[id] = (uint32_t)cnt;
    }
}

static void map_decode(const struct ls_segment *s, const uint8_t *map, uint32_t *v)
{
    for (uint32_t c = 0; c < s->n_chunks; c++)
        if (map[c / 8] & (1u << (c % 8)))
            v[c] = LS_COUNT_DECODE;
}

uint32_t *ls__segment_line_counts(struct ls_segment *s, const char *lit, size_t len,
                                  struct scry_arena *a)
{
    /* <= LS_TOKEN_LOOKUP_MAX: any occurrence inside a word longer than
     * LS_TOKEN_MAX then lies wholly in one of its windows, a token other
     * than lit; a longer lit could straddle two windows and be missed. */
    if (!s->counts || len == 0 || len > LS_TOKEN_LOOKUP_MAX)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (!((lit[i] >= '0' && lit[i] <= '9') || (lit[i] >= 'a' && lit[i] <= 'z')))
            return NULL;
    uint32_t *v = scry_arena_calloc(a, s->n_chunks + 1, sizeof *v); /* 0: lit absent */
    uint32_t self = UINT32_MAX;
    /* the token lookup's walk (memmem here was ~30 % of a counted needle's
     * server CPU over a 1 GiB store's dictionaries) */
    struct ls_dict_walk w;
    ls__dict_walk_init(&w, s, lit, len);
    for (uint32_t i; (i = ls__dict_walk_next(&w, s)) != UINT32_MAX;) {
        if (s->tok_off[i + 1] - s->tok_off[i] == len)
            self = i;
        else
            postings(s, i, v, false);
    }
    if (ls__all_hex(lit, len))
        map_decode(s, s->hexmap, v);
    if (ls__numish_piece(lit, len))
        map_decode(s, s->nummap, v);
    if (self != UINT32_MAX)
        postings(s, self, v, true);
    return v;
}
