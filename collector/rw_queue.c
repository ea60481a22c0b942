/* rw_queue.c — the remote_write queue: appender, records on disk and in
 * memory, the acknowledged position.
 *
 * Why samples are encoded as protobuf at append time: the scrape loop
 * already holds the final labels, so the appender writes each sample as a
 * complete WriteRequest.timeseries field once; the WAL stores those bytes,
 * and a shard builds a request body by concatenating entries (memcpy), with
 * no decode or re-encode and no allocation per sample on either side. The
 * price is ~20 bytes of header per entry and labels repeated per sample,
 * which is what remote_write 1.0 sends anyway.
 *
 * Why a sequence number in each record and not a WAL offset: core/wal
 * reports segment numbers but not offsets of live appends, and a number
 * that grows by one per commit is what the shards need to find records in
 * the in-memory ring. dir/acked holds the first seq not yet done by every
 * shard, written with rename(2) after each acknowledged batch; a stale
 * file (power loss) only resends more. */
#include "collector/rw_queue_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/relabel.h"
#include "core/arena.h"
#include "core/mem.h"
#include "scry_build.h"

/* ---- ring of records ----------------------------------------------------- */

struct col__rwq_rec *col__rwq_rec_at(struct col_rwq *q, uint64_t seq)
{
    assert(seq >= q->head_seq && seq < q->next_seq);
    return q->ring[(q->ring_start + (seq - q->head_seq)) % q->ring_cap];
}

/* Appends rec (may be NULL: a gap) as seq next_seq. */
static void ring_push(struct col_rwq *q, struct col__rwq_rec *rec)
{
    size_t n = (size_t)(q->next_seq - q->head_seq);
    if (n == q->ring_cap) {
        size_t cap = q->ring_cap ? q->ring_cap * 2 : 64;
        struct col__rwq_rec **r = scry_calloc(cap, sizeof *r);
        for (size_t i = 0; i < n; i++)
            r[i] = q->ring[(q->ring_start + i) % q->ring_cap];
        free(q->ring);
        q->ring = r;
        q->ring_cap = cap;
        q->ring_start = 0;
    }
    q->ring[(q->ring_start + n) % q->ring_cap] = rec;
    q->next_seq++;
}

static void rec_free(struct col__rwq_rec *r)
{
    if (r) {
        free(r->p);
        free(r);
    }
}

/* ---- acknowledged position ---------------------------------------------- */

static int ack_write(struct col_rwq *q, uint64_t seq, struct scry_err *err)
{
    char path[4096], tmp[4096], text[32];
    snprintf(path, sizeof path, "%s/acked", q->dir);
    snprintf(tmp, sizeof tmp, "%s/acked.tmp", q->dir);
    int n = snprintf(text, sizeof text, "%" PRIu64 "\n", seq);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return scry_err_sys(err, SCRY_EIO, "remote_write queue: create %s", tmp);
    bool ok = write(fd, text, (size_t)n) == n;
    close(fd);
    if (!ok || rename(tmp, path) != 0)
        return scry_err_sys(err, SCRY_EIO, "remote_write queue: write %s", path);
    return 0;
}

/* A missing file is 0 (send everything); a damaged one too, with a warning:
 * resending is safe, skipping is not. */
static uint64_t ack_read(struct col_rwq *q)
{
    char path[4096], text[32] = { 0 };
    snprintf(path, sizeof path, "%s/acked", q->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    char *end = NULL;
    errno = 0;
    unsigned long long v = n > 0 ? strtoull(text, &end, 10) : 0;
    if (n <= 0 || errno || end == text || *end != '\n') {
        SCRY_LOG(q->log, SCRY_LOG_WARN, "remote_write", "acknowledged position unreadable; "
                 "resending the whole queue", "path", path);
        return 0;
    }
    return v;
}

/* Deletes WAL segments older than the oldest record still needed. */
static void truncate_segments(struct col_rwq *q)
{
    struct scry_err err = { 0 };
    uint32_t keep = 0;
    if (!q->wal)
        return;
    for (uint64_t s = q->head_seq; s < q->next_seq && !keep; s++) {
        struct col__rwq_rec *r = col__rwq_rec_at(q, s);
        keep = r ? r->segment : 0;
    }
    if (!keep) {
        struct scry_wal_stats ws;
        scry_wal_stats(q->wal, &ws);
        keep = ws.segment;
    }
    if (scry_wal_truncate_before(q->wal, keep, &err) != 0)
        SCRY_LOG(q->log, SCRY_LOG_WARN, "remote_write", "cannot delete sent queue segments",
                 "err", err.msg);
}

void col__rwq_acked(struct col_rwq *q)
{
    uint64_t min = q->next_seq;
    for (uint32_t i = 0; i < q->n_shards; i++)
        if (q->shards[i].acked_seq < min)
            min = q->shards[i].acked_seq;
    if (min <= q->acked_seq)
        return;
    assert(min <= q->next_seq && q->head_seq == q->acked_seq);
    while (q->head_seq < min) {
        struct col__rwq_rec *r = q->ring[q->ring_start];
        if (r && r->p)
            q->mem_samples -= r->n_entries;
        else if (r)
            q->n_evicted--;
        rec_free(r);
        q->ring[q->ring_start] = NULL;
        q->ring_start = (q->ring_start + 1) % q->ring_cap;
        q->head_seq++;
    }
    q->acked_seq = min;
    q->st.acked_seq = min;
    struct scry_err err = { 0 };
    if (ack_write(q, min, &err) != 0)
        SCRY_LOG(q->log, SCRY_LOG_ERROR, "remote_write", "cannot persist the acknowledged "
                 "position", "err", err.msg);
    truncate_segments(q);
}

/* ---- replay --------------------------------------------------------------- */

/* Whether a new record of n samples keeps its payload in memory: only
 * while nothing is evicted (so the evicted records stay a suffix) and the
 * budget has room. The first record always fits, however large. */
static bool keep_in_memory(struct col_rwq *q, uint64_t n)
{
    return q->n_evicted == 0 && (q->mem_samples == 0 || q->mem_samples + n <= q->mem_budget);
}

/* Checks a record's framing: every entry inside the payload, as many
 * entries as the header says. Records come from disk: validated, never
 * asserted (tests/fuzz/fuzz_rw_queue.c). */
bool col__rwq_rec_valid(const char *p, size_t len, uint32_t *n_entries)
{
    if (len < COL__RWQ_REC_HEADER || (unsigned char)p[0] != COL__RWQ_REC_VERSION)
        return false;
    uint32_t n = col__rwq_le32(p + 9), k = 0;
    size_t off = COL__RWQ_REC_HEADER;
    while (off < len) {
        if (len - off < COL__RWQ_ENTRY_HEADER)
            return false;
        uint32_t el = col__rwq_le32(p + off);
        if (el > len - off - COL__RWQ_ENTRY_HEADER)
            return false;
        off += COL__RWQ_ENTRY_HEADER + el;
        k++;
    }
    *n_entries = n;
    return k == n;
}

static int replay_record(void *ud, uint8_t type, const void *payload, size_t len,
                         const struct scry_wal_pos *pos)
{
    struct col_rwq *q = ud;
    uint32_t n = 0;
    if (type != COL__RWQ_WAL_TYPE || !col__rwq_rec_valid(payload, len, &n)) {
        SCRY_LOG(q->log, SCRY_LOG_WARN, "remote_write", "skipping an unreadable queue record",
                 "dir", q->dir);
        return 0;
    }
    uint64_t seq = col__rwq_le64((const char *)payload + 1);
    if (seq < q->next_seq) /* acknowledged already (or repeated): skip */
        return 0;
    if (seq - q->next_seq > (1u << 20)) { /* a hole this large is damage, not lost records */
        SCRY_LOG(q->log, SCRY_LOG_WARN, "remote_write", "skipping a queue record far ahead",
                 "dir", q->dir);
        return 0;
    }
    while (q->next_seq < seq)
        ring_push(q, NULL);
    struct col__rwq_rec *r = scry_calloc(1, sizeof *r);
    r->seq = seq;
    r->segment = pos->segment;
    r->n_entries = n;
    if (keep_in_memory(q, n)) {
        r->len = len;
        r->p = scry_malloc(len);
        memcpy(r->p, payload, len);
        q->mem_samples += n;
    } else {
        q->n_evicted++;
    }
    ring_push(q, r);
    q->st.samples_pending += n;
    q->st.replayed_records++;
    return 0;
}

static int replay(struct col_rwq *q, struct scry_err *err)
{
    q->acked_seq = q->head_seq = q->next_seq = ack_read(q);
    struct scry_wal_replay_opts ro = { .on_record = replay_record, .ud = q, .skip_corrupt = true };
    struct scry_wal_replay_stats rs = { 0 };
    int rc = scry_wal_replay(q->dir, &ro, &rs, err);
    if (rc == SCRY_ECORRUPT) {
        /* Keep what was readable: losing a damaged segment beats losing all. */
        SCRY_LOG(q->log, SCRY_LOG_ERROR, "remote_write", "queue damaged; sending what is "
                 "readable", "err", err->msg);
        scry_err_clear(err);
        rc = 0;
    }
    q->st.acked_seq = q->acked_seq;
    return rc;
}

/* ---- appender ------------------------------------------------------------- */

struct rwq_app {
    struct scry_appender app; /* first: the seam casts */
    struct col_rwq *q;
    struct rwq_app *next;     /* pool link */
    struct scry_buf rec;      /* the record being built */
    uint32_t n;
    struct scry_arena *a;     /* relabelling scratch, reset per commit */
    struct scry_labels_builder b;
    struct col_relabel_ctx rc;
    size_t *lens; /* encode scratch: name and value lengths */
    size_t lens_cap;
    size_t last_len; /* size of the last record: the next one is alike */
};

static char *w_varint(char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

static char *w_le(char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(v >> (8 * i));
    return p + n;
}

/* Encodes one entry: header, then WriteRequest field 1 holding
 * TimeSeries{labels = 1 {name = 1, value = 2}, samples = 2 {value = 1
 * (double), timestamp = 2}}. Sizes first (string lengths kept in lens, so
 * strlen runs once per string), then one reservation and raw writes: the
 * per-piece scry_buf_put version cost ~6300 instructions per sample. The
 * shard hash is xxHash64 of the encoded labels, which are a function of
 * the label set alone. */
static void encode_entry(struct rwq_app *a, const struct scry_labels *ls, int64_t t_ms, double v)
{
    if (ls->n * 2 > a->lens_cap) {
        a->lens_cap = ls->n * 2;
        a->lens = scry_realloc(a->lens, a->lens_cap * sizeof *a->lens);
    }
    size_t ts = 0;
    for (size_t i = 0; i < ls->n; i++) {
        size_t nl = a->lens[2 * i] = strlen(ls->v[i].name);
        size_t vl = a->lens[2 * i + 1] = strlen(ls->v[i].value);
        size_t l = 1 + col__varint_len(nl) + nl + 1 + col__varint_len(vl) + vl;
        ts += 1 + col__varint_len(l) + l;
    }
    size_t sl = 9 + 1 + col__varint_len((uint64_t)t_ms);
    ts += 1 + col__varint_len(sl) + sl;
    size_t len = 1 + col__varint_len(ts) + ts;
    struct scry_buf *b = &a->rec;
    scry_buf_reserve(b, COL__RWQ_ENTRY_HEADER + len);
    char *h = b->p + b->len, *p = h + COL__RWQ_ENTRY_HEADER;
    *p++ = 0x0a;
    p = w_varint(p, ts);
    char *lab = p;
    for (size_t i = 0; i < ls->n; i++) {
        size_t nl = a->lens[2 * i], vl = a->lens[2 * i + 1];
        *p++ = 0x0a;
        p = w_varint(p, 1 + col__varint_len(nl) + nl + 1 + col__varint_len(vl) + vl);
        *p++ = 0x0a;
        p = w_varint(p, nl);
        memcpy(p, ls->v[i].name, nl);
        p += nl;
        *p++ = 0x12;
        p = w_varint(p, vl);
        memcpy(p, ls->v[i].value, vl);
        p += vl;
    }
    uint64_t hash = scry_xxh64(lab, (size_t)(p - lab), 0);
    *p++ = 0x12;
    p = w_varint(p, sl);
    *p++ = 0x09;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits); /* bit pattern kept: the stale NaN survives */
    p = w_le(p, bits, 8);
    *p++ = 0x10;
    p = w_varint(p, (uint64_t)t_ms);
    assert((size_t)(p - h) == COL__RWQ_ENTRY_HEADER + len);
    h = w_le(h, len, 4);
    h = w_le(h, hash, 8);
    w_le(h, (uint64_t)t_ms, 8);
    b->len += COL__RWQ_ENTRY_HEADER + len;
}

static int app_append_sample(struct scry_appender *app, uint64_t *ref,
                             const struct scry_labels *ls, int64_t t_ms, double v,
                             struct scry_err *err)
{
    struct rwq_app *a = (struct rwq_app *)app;
    struct col_rwq *q = a->q;
    struct scry_labels out = *ls;
    if (q->ext.n || q->cfg->n_write_relabel_configs) {
        /* External labels first, then write relabelling, as Prometheus. */
        scry_labels_builder_reset(&a->b, ls);
        for (size_t i = 0; i < q->ext.n; i++)
            if (!scry_labels_get(ls, q->ext.v[i].name))
                scry_labels_builder_set(&a->b, q->ext.v[i].name, q->ext.v[i].value);
        bool keep = true;
        if (q->cfg->n_write_relabel_configs)
            col_relabel_apply(&a->rc, &a->b, &keep);
        if (!keep)
            return 0;
        out = scry_labels_builder_labels(&a->b);
    }
    if (out.n == 0)
        return 0;
    if (a->rec.len + 4096 > SCRY_WAL_RECORD_MAX_BYTES)
        return scry_err_set(err, SCRY_ELIMIT, "remote_write queue: one commit over %u bytes",
                            SCRY_WAL_RECORD_MAX_BYTES);
    encode_entry(a, &out, t_ms, v);
    a->n++;
    if (ref)
        *ref = 1; /* no store refs here; the caller passes labels every time */
    return 0;
}

static void app_release(struct rwq_app *a)
{
    struct col_rwq *q = a->q;
    scry_buf_reset(&a->rec);
    a->n = 0;
    scry_arena_reset(a->a);
    scry_labels_builder_init(&a->b, a->a);
    pthread_mutex_lock(&q->mu);
    a->next = q->free_apps;
    q->free_apps = a;
    pthread_mutex_unlock(&q->mu);
}

static int app_commit(struct scry_appender *app, struct scry_err *err)
{
    struct rwq_app *a = (struct rwq_app *)app;
    struct col_rwq *q = a->q;
    int rc = 0;
    if (a->n == 0) {
        app_release(a);
        return 0;
    }
    pthread_mutex_lock(&q->mu);
    uint64_t seq = q->next_seq;
    char *p = a->rec.p;
    p[0] = COL__RWQ_REC_VERSION;
    for (int i = 0; i < 8; i++)
        p[1 + i] = (char)(seq >> (8 * i));
    for (int i = 0; i < 4; i++)
        p[9 + i] = (char)(a->n >> (8 * i));
    /* Append and commit under mu: WAL order is seq order. */
    rc = scry_wal_append(q->wal, COL__RWQ_WAL_TYPE, a->rec.p, a->rec.len, err);
    if (rc == 0)
        rc = scry_wal_commit(q->wal, err);
    if (rc == 0) {
        struct scry_wal_stats ws;
        scry_wal_stats(q->wal, &ws);
        struct col__rwq_rec *r = scry_calloc(1, sizeof *r);
        r->seq = seq;
        r->segment = ws.segment;
        r->n_entries = a->n;
        a->last_len = a->rec.len;
        if (keep_in_memory(q, a->n)) {
            r->len = a->rec.len;
            r->p = scry_buf_take(&a->rec); /* the record keeps the bytes */
            q->mem_samples += a->n;
        } else {
            q->n_evicted++; /* on disk only; the appender keeps its buffer */
        }
        ring_push(q, r);
        q->st.samples_in += a->n;
        q->st.samples_pending += a->n;
        scry_metric_add(q->m.in, a->n);
        scry_metric_set(q->m.pending, (double)q->st.samples_pending);
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->mu);
    if (rc)
        scry_err_prefix(err, "remote_write queue %s", q->dir);
    app_release(a);
    return rc;
}

static void app_rollback(struct scry_appender *app)
{
    app_release((struct rwq_app *)app);
}

static const struct scry_appender_ops app_ops = {
    .append_sample = app_append_sample,
    .commit = app_commit,
    .rollback = app_rollback,
};

static int rwq_begin(struct scry_appendable *store, const char *tenant, struct scry_appender **out,
                     struct scry_err *err)
{
    struct col_rwq *q = (struct col_rwq *)store;
    (void)tenant;
    (void)err;
    pthread_mutex_lock(&q->mu);
    struct rwq_app *a = q->free_apps;
    if (a)
        q->free_apps = a->next;
    pthread_mutex_unlock(&q->mu);
    if (!a) {
        a = scry_calloc(1, sizeof *a);
        a->app.ops = &app_ops;
        a->q = q;
        a->a = scry_arena_create(0);
        scry_labels_builder_init(&a->b, a->a);
        col_relabel_ctx_init(&a->rc, q->cfg->write_relabel_configs,
                             q->cfg->n_write_relabel_configs);
    }
    scry_buf_reserve(&a->rec, a->last_len + a->last_len / 8);
    scry_buf_put(&a->rec, "\0\0\0\0\0\0\0\0\0\0\0\0\0", COL__RWQ_REC_HEADER); /* filled at commit */
    *out = &a->app;
    return 0;
}

/* ---- reading the backlog back ---------------------------------------------- */

struct load {
    uint64_t from, room, got_samples;
    struct load_rec {
        uint64_t seq;
        uint32_t n;
        size_t len;
        char *p;
    } *v;
    size_t n, cap;
};

static int load_record(void *ud, uint8_t type, const void *payload, size_t len,
                       const struct scry_wal_pos *pos)
{
    struct load *l = ud;
    uint32_t n = 0;
    if (type != COL__RWQ_WAL_TYPE || !col__rwq_rec_valid(payload, len, &n))
        return 0;
    uint64_t seq = col__rwq_le64((const char *)payload + 1);
    if (seq < l->from)
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = scry_realloc(l->v, l->cap * sizeof *l->v);
    }
    struct load_rec *r = &l->v[l->n++];
    r->seq = seq;
    r->n = n;
    r->len = len;
    r->p = scry_malloc(len);
    memcpy(r->p, payload, len);
    l->got_samples += n;
    return l->got_samples >= l->room ? 1 : 0; /* 1 stops the replay */
}

void col__rwq_load(struct col_rwq *q, uint64_t seq)
{
    if (q->loading) { /* another shard reads: wait for it */
        pthread_cond_wait(&q->cond, &q->mu);
        return;
    }
    struct col__rwq_rec *need = col__rwq_rec_at(q, seq);
    assert(need && !need->p && q->n_evicted);
    /* The shards call this under budget, or as the slowest shard, when every
     * record in memory is behind it and freed: room is then the budget. */
    uint64_t room = q->mem_budget > q->mem_samples ? q->mem_budget - q->mem_samples : 1;
    struct scry_wal_stats ws;
    scry_wal_stats(q->wal, &ws);
    struct load l = { .from = seq, .room = room };
    struct scry_wal_replay_opts ro = {
        .on_record = load_record, .ud = &l,
        .first_segment = need->segment ? need->segment : 1,
        .last_segment = ws.segment, /* also no repair: the writer is live */
    };
    q->loading = true;
    q->st.disk_loads++;
    pthread_mutex_unlock(&q->mu);
    struct scry_err err = { 0 };
    /* The live segment may end in a record being written: that reads as
     * corruption after every complete record was delivered, harmless here. */
    scry_wal_replay(q->dir, &ro, NULL, &err);
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < l.n; i++) {
        struct load_rec *x = &l.v[i];
        struct col__rwq_rec *r = x->seq >= q->head_seq && x->seq < q->next_seq
                                     ? col__rwq_rec_at(q, x->seq) : NULL;
        if (r && !r->p && r->n_entries == x->n) {
            r->p = x->p;
            r->len = x->len;
            q->mem_samples += x->n;
            q->n_evicted--;
            x->p = NULL;
        }
        free(x->p);
    }
    free(l.v);
    if (!need->p) {
        /* Unreadable: skip it rather than stall every shard behind it. */
        char n[32];
        snprintf(n, sizeof n, "%u", need->n_entries);
        SCRY_LOG(q->log, SCRY_LOG_ERROR, "remote_write", "queue record unreadable; its samples "
                 "are dropped", "dir", q->dir, "samples", n, "err", err.msg);
        q->st.samples_dropped += need->n_entries;
        q->st.samples_pending -= need->n_entries;
        scry_metric_add(q->m.dropped, need->n_entries);
        need->p = scry_calloc(1, COL__RWQ_REC_HEADER); /* an empty record */
        need->len = COL__RWQ_REC_HEADER;
        need->n_entries = 0;
        q->n_evicted--;
    }
    q->loading = false;
    pthread_cond_broadcast(&q->cond);
}

/* ---- open / close ----------------------------------------------------------- */

void col_rwq_dir_name(const char *url, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, scry_xxh64(url, strlen(url), 0));
}

static void register_metrics(struct col_rwq *q, struct scry_metrics *m)
{
    if (!m) /* a private registry keeps the update paths free of NULL checks */
        m = q->own_metrics = scry_metrics_create();
    static const char *const ln[] = { "url" };
    const char *lv[] = { q->cfg->url };
#define FAM(field, type, name, help)                                                        \
    q->m.field = scry_metric_with(scry_metrics_family(m, type, name, help, ln, 1, NULL, 0), lv)
    FAM(in, SCRY_METRIC_COUNTER, "scry_remote_write_samples_in_total",
        "Samples committed to the remote_write queue.");
    FAM(sent, SCRY_METRIC_COUNTER, "scry_remote_write_samples_sent_total",
        "Samples the receiver acknowledged with 2xx.");
    FAM(failed, SCRY_METRIC_COUNTER, "scry_remote_write_samples_failed_total",
        "Samples in requests that failed (each attempt counts).");
    FAM(retried, SCRY_METRIC_COUNTER, "scry_remote_write_samples_retried_total",
        "Samples in requests that failed recoverably (5xx, 429, network) and were retried.");
    FAM(dropped, SCRY_METRIC_COUNTER, "scry_remote_write_samples_dropped_total",
        "Samples dropped because the receiver refused them with a 4xx.");
    FAM(pending, SCRY_METRIC_GAUGE, "scry_remote_write_samples_pending",
        "Samples queued and not yet acknowledged or dropped.");
    FAM(shards, SCRY_METRIC_GAUGE, "scry_remote_write_shards", "Sender shards running.");
    FAM(highest_ts, SCRY_METRIC_GAUGE, "scry_remote_write_highest_sent_timestamp_seconds",
        "Newest sample timestamp the receiver acknowledged.");
    FAM(bytes, SCRY_METRIC_COUNTER, "scry_remote_write_sent_bytes_total",
        "Compressed request bytes sent (each attempt counts).");
    FAM(requests, SCRY_METRIC_COUNTER, "scry_remote_write_requests_total",
        "HTTP requests sent to the receiver (each attempt counts).");
#undef FAM
}

static uint32_t shard_count(const struct col_rwq_opts *o)
{
    if (o->n_shards)
        return o->n_shards;
    /* Fixed, not resharded: min_shards, at least 4 unless max_shards is
     * lower. Four concurrent requests keep a receiver on loopback or a LAN
     * busy; see README for why there is no dynamic resharding yet. */
    uint64_t n = o->cfg->queue.min_shards > 4 ? o->cfg->queue.min_shards : 4;
    if (n > o->cfg->queue.max_shards)
        n = o->cfg->queue.max_shards;
    return n ? (uint32_t)n : 1;
}

int col_rwq_open(struct col_rwq **out, const struct col_rwq_opts *o, struct scry_err *err)
{
    if (!out || !o || !o->cfg || !o->cfg->url || !o->dir)
        return scry_err_set(err, SCRY_EINVAL, "remote_write queue: url and dir are required");
    struct col_rwq *q = scry_calloc(1, sizeof *q);
    q->appendable.begin = rwq_begin;
    q->cfg = o->cfg;
    q->log = o->log;
    q->dir = scry_strdup(o->dir);
    q->user_agent = scry_strdup(o->user_agent ? o->user_agent : "scry/" SCRY_VERSION);
    if (o->external_labels)
        q->ext = *o->external_labels;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    q->n_shards = shard_count(o);
    q->mem_budget = o->cfg->queue.capacity * q->n_shards;
    q->shards = scry_calloc(q->n_shards, sizeof *q->shards);
    q->st.shards = q->n_shards;
    register_metrics(q, o->metrics);

    int rc = 0;
    if (mkdir(q->dir, 0755) != 0 && errno != EEXIST)
        rc = scry_err_sys(err, SCRY_EIO, "remote_write queue: mkdir %s", q->dir);
    if (rc == 0)
        rc = replay(q, err);
    struct scry_wal_opts wo = { .segment_bytes = o->segment_bytes ? o->segment_bytes : 16u << 20 };
    if (rc == 0)
        rc = scry_wal_open(&q->wal, q->dir, &wo, err);
    if (rc == 0) {
        for (uint32_t i = 0; i < q->n_shards; i++) {
            struct col__rwq_shard *s = &q->shards[i];
            s->q = q;
            s->idx = i;
            s->rseq = s->acked_seq = q->head_seq;
        }
        truncate_segments(q); /* what the ack file already covers */
        scry_metric_set(q->m.pending, (double)q->st.samples_pending);
        scry_metric_set(q->m.shards, q->n_shards);
        rc = col__rwq_shards_start(q, err);
    }
    if (rc) {
        scry_err_prefix(err, "remote_write queue %s", o->dir);
        col_rwq_close(q, NULL);
        return rc;
    }
    if (q->st.replayed_records) {
        char n[32], p[32];
        snprintf(n, sizeof n, "%" PRIu64, q->st.replayed_records);
        snprintf(p, sizeof p, "%" PRIu64, q->st.samples_pending);
        SCRY_LOG(q->log, SCRY_LOG_INFO, "remote_write", "resending unacknowledged samples",
                 "url", q->cfg->url, "records", n, "samples", p);
    }
    *out = q;
    return 0;
}

struct scry_appendable *col_rwq_appendable(struct col_rwq *q)
{
    return &q->appendable;
}

int col_rwq_flush(struct col_rwq *q, int64_t timeout_ms)
{
    pthread_mutex_lock(&q->mu);
    q->flushing = true;
    pthread_cond_broadcast(&q->cond);
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    int rc = 0;
    while (q->acked_seq < q->next_seq && rc == 0)
        rc = pthread_cond_timedwait(&q->cond, &q->mu, &dl);
    bool done = q->acked_seq >= q->next_seq;
    q->flushing = false;
    pthread_mutex_unlock(&q->mu);
    return done ? 0 : SCRY_ETIMEOUT;
}

int col_rwq_close(struct col_rwq *q, struct scry_err *err)
{
    if (!q)
        return 0;
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
    col__rwq_shards_stop(q);
    int rc = scry_wal_close(q->wal, err);
    for (uint64_t s = q->head_seq; s < q->next_seq; s++)
        rec_free(col__rwq_rec_at(q, s));
    free(q->ring);
    for (struct rwq_app *a = q->free_apps, *n; a; a = n) {
        n = a->next;
        scry_buf_fini(&a->rec);
        col_relabel_ctx_fini(&a->rc);
        scry_arena_destroy(a->a);
        free(a->lens);
        free(a);
    }
    free(q->shards);
    scry_metrics_destroy(q->own_metrics);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mu);
    free(q->dir);
    free(q->user_agent);
    free(q);
    return rc;
}

void col_rwq_stats(struct col_rwq *q, struct col_rwq_stats *out)
{
    pthread_mutex_lock(&q->mu);
    *out = q->st;
    out->next_seq = q->next_seq;
    out->samples_in_memory = q->mem_samples;
    pthread_mutex_unlock(&q->mu);
}
