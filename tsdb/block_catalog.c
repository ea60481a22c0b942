/* block_catalog.c — tsdb's `blocks` table in data/catalog.db.
 *
 * A block exists when its row commits (FORMAT.md "Directory"). Compaction
 * inserts the new block and marks its sources `compacted_into` in one
 * transaction; from that commit on the sources are dead, their directories
 * are removed and then their rows purged. A crash between those steps is
 * repaired on open: dead rows' directories and uncatalogued directories are
 * deleted. */
#include <sqlite3.h>
#include <stdlib.h>

#include "core/catalog.h"
#include "tsdb/block_internal.h"

static const char *const steps[] = {
    "CREATE TABLE blocks ("
    "  id TEXT PRIMARY KEY,"
    "  mint_ms INTEGER NOT NULL,"
    "  maxt_ms INTEGER NOT NULL,"
    "  n_series INTEGER NOT NULL,"
    "  n_samples INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  compacted_into TEXT"
    ");"
    "CREATE INDEX blocks_mint ON blocks (mint_ms);",
};

int tsdb__catalog_migrate(struct scry_catalog *c, struct scry_err *err)
{
    return scry_catalog_migrate(c, "tsdb", steps, sizeof steps / sizeof steps[0], err);
}

static int run(struct scry_catalog *c, sqlite3_stmt *st, const char *what, struct scry_err *err)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : scry_catalog_err(c, err, what);
    sqlite3_reset(st);
    return rc;
}

int tsdb__catalog_record(struct scry_catalog *c, const struct tsdb_block_meta *m,
                         const char *const *sources, size_t n_sources, int64_t now_ms,
                         struct scry_err *err)
{
    sqlite3 *db = scry_catalog_db(c);
    sqlite3_stmt *ins = NULL, *upd = NULL;
    int rc = scry_catalog_begin(c, err);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(db, "INSERT INTO blocks VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL)",
                           -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE blocks SET compacted_into = ?1 WHERE id = ?2 AND "
                           "compacted_into IS NULL", -1, &upd, NULL) != SQLITE_OK) {
        rc = scry_catalog_err(c, err, "prepare");
        goto out;
    }
    /* SQLITE_STATIC: every bound string outlives the statement. */
    sqlite3_bind_text(ins, 1, m->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, m->mint_ms);
    sqlite3_bind_int64(ins, 3, m->maxt_ms);
    sqlite3_bind_int64(ins, 4, (sqlite3_int64)m->n_series);
    sqlite3_bind_int64(ins, 5, (sqlite3_int64)m->n_samples);
    sqlite3_bind_int64(ins, 6, (sqlite3_int64)m->bytes);
    sqlite3_bind_int64(ins, 7, m->level);
    sqlite3_bind_int64(ins, 8, now_ms);
    if ((rc = run(c, ins, "insert block", err)))
        goto out;
    for (size_t i = 0; i < n_sources && !rc; i++) {
        sqlite3_bind_text(upd, 1, m->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(upd, 2, sources[i], -1, SQLITE_STATIC);
        rc = run(c, upd, "mark source", err);
        if (!rc && sqlite3_changes(db) != 1)
            rc = scry_err_set(err, SCRY_ENOTFOUND, "catalog: source block %s is not live",
                              sources[i]);
    }
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    if (rc) {
        scry_catalog_rollback(c);
        return rc;
    }
    return scry_catalog_commit(c, err);
}

int tsdb__catalog_delete(struct scry_catalog *c, const char *const *ids, size_t n,
                         struct scry_err *err)
{
    sqlite3_stmt *del = NULL;
    int rc = scry_catalog_begin(c, err);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(scry_catalog_db(c), "DELETE FROM blocks WHERE id = ?1", -1, &del,
                           NULL) != SQLITE_OK)
        rc = scry_catalog_err(c, err, "prepare");
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_bind_text(del, 1, ids[i], -1, SQLITE_STATIC);
        rc = run(c, del, "delete block", err);
    }
    sqlite3_finalize(del);
    if (rc) {
        scry_catalog_rollback(c);
        return rc;
    }
    return scry_catalog_commit(c, err);
}

int tsdb__catalog_purge(struct scry_catalog *c, struct scry_err *err)
{
    return scry_catalog_exec(c, "DELETE FROM blocks WHERE compacted_into IS NOT NULL", err);
}

int tsdb__catalog_list(struct scry_catalog *c,
                       int (*fn)(void *ud, const struct tsdb__catalog_row *r), void *ud,
                       struct scry_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(scry_catalog_db(c),
                           "SELECT id, mint_ms, maxt_ms, n_series, n_samples, bytes, level, "
                           "compacted_into IS NULL FROM blocks ORDER BY mint_ms, id",
                           -1, &st, NULL) != SQLITE_OK)
        return scry_catalog_err(c, err, "list blocks");
    int rc = 0, s;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        struct tsdb__catalog_row r = {
            id ? id : "", sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
            (uint64_t)sqlite3_column_int64(st, 3), (uint64_t)sqlite3_column_int64(st, 4),
            (uint64_t)sqlite3_column_int64(st, 5), (uint32_t)sqlite3_column_int64(st, 6),
            sqlite3_column_int(st, 7) != 0};
        rc = fn(ud, &r);
    }
    if (!rc && s != SQLITE_DONE)
        rc = scry_catalog_err(c, err, "list blocks");
    sqlite3_finalize(st);
    return rc;
}
