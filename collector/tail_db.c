/* tail_db.c — checkpoints in the catalog: table tail_positions (component
 * "tail"), one row per file identity (dev, ino).
 *
 * A row is written twice per round that has records: before the append
 * (the intent: off stays, next_t_ns is pinned to the timestamps the
 * records are about to get) and after the commit (off moves past them).
 * The manager wraps the writes of all files of a round in one transaction,
 * so a round costs two catalog commits whatever the number of files. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "collector/tail_internal.h"
#include "core/mem.h"

static const char *const tail_migrations[] = {
    "CREATE TABLE tail_positions ("
    " dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
    " path TEXT NOT NULL,"
    " fp INTEGER NOT NULL, fp_len INTEGER NOT NULL,"
    " off INTEGER NOT NULL,"
    " next_t_ns INTEGER NOT NULL, pinned INTEGER NOT NULL,"
    " last_t_ns INTEGER NOT NULL,"
    " PRIMARY KEY (dev, ino));",
};

int col__tail_db_migrate(struct scry_catalog *c, struct scry_err *err)
{
    return scry_catalog_migrate(c, "tail", tail_migrations,
                                sizeof tail_migrations / sizeof tail_migrations[0], err);
}

static void row_get(sqlite3_stmt *q, struct col__tail_pos *p)
{
    p->dev = (uint64_t)sqlite3_column_int64(q, 0);
    p->ino = (uint64_t)sqlite3_column_int64(q, 1);
    p->path = (const char *)sqlite3_column_text(q, 2);
    p->fp = (uint64_t)sqlite3_column_int64(q, 3);
    p->fp_len = sqlite3_column_int64(q, 4);
    p->off = sqlite3_column_int64(q, 5);
    p->next_t_ns = sqlite3_column_int64(q, 6);
    p->pinned = sqlite3_column_int(q, 7) != 0;
    p->last_t_ns = sqlite3_column_int64(q, 8);
}

#define COLS "dev, ino, path, fp, fp_len, off, next_t_ns, pinned, last_t_ns"

int col__tail_db_get(struct scry_catalog *c, uint64_t dev, uint64_t ino, struct col__tail_pos *p,
                     char **path_out, struct scry_err *err)
{
    sqlite3 *db = scry_catalog_db(c);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT " COLS " FROM tail_positions WHERE dev = ? AND ino = ?",
                           -1, &q, NULL) != SQLITE_OK)
        return scry_catalog_err(c, err, "tail_positions");
    sqlite3_bind_int64(q, 1, (sqlite3_int64)dev);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)ino);
    int rc = sqlite3_step(q);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        row_get(q, p);
        if (path_out)
            *path_out = scry_strdup(p->path ? p->path : "");
        p->path = NULL; /* the statement's text dies below */
    } else if (rc == SQLITE_DONE) {
        ret = SCRY_ENOTFOUND;
    } else {
        ret = scry_catalog_err(c, err, "tail_positions");
    }
    sqlite3_finalize(q);
    return ret;
}

int col__tail_db_put(struct scry_catalog *c, const struct col__tail_pos *p, struct scry_err *err)
{
    sqlite3 *db = scry_catalog_db(c);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO tail_positions (" COLS ")"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &q, NULL) != SQLITE_OK)
        return scry_catalog_err(c, err, "tail_positions");
    sqlite3_bind_int64(q, 1, (sqlite3_int64)p->dev);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)p->ino);
    sqlite3_bind_text(q, 3, p->path, -1, SQLITE_STATIC); /* p outlives the statement */
    sqlite3_bind_int64(q, 4, (sqlite3_int64)p->fp);
    sqlite3_bind_int64(q, 5, p->fp_len);
    sqlite3_bind_int64(q, 6, p->off);
    sqlite3_bind_int64(q, 7, p->next_t_ns);
    sqlite3_bind_int(q, 8, p->pinned);
    sqlite3_bind_int64(q, 9, p->last_t_ns);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : scry_catalog_err(c, err, "tail_positions");
    sqlite3_finalize(q);
    return rc;
}

int col__tail_db_del(struct scry_catalog *c, uint64_t dev, uint64_t ino, struct scry_err *err)
{
    sqlite3 *db = scry_catalog_db(c);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "DELETE FROM tail_positions WHERE dev = ? AND ino = ?", -1, &q,
                           NULL) != SQLITE_OK)
        return scry_catalog_err(c, err, "tail_positions");
    sqlite3_bind_int64(q, 1, (sqlite3_int64)dev);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)ino);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : scry_catalog_err(c, err, "tail_positions");
    sqlite3_finalize(q);
    return rc;
}

int col__tail_db_each(struct scry_catalog *c, void (*fn)(void *ud, const struct col__tail_pos *p),
                      void *ud, struct scry_err *err)
{
    sqlite3 *db = scry_catalog_db(c);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT " COLS " FROM tail_positions", -1, &q, NULL) != SQLITE_OK)
        return scry_catalog_err(c, err, "tail_positions");
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct col__tail_pos p;
        row_get(q, &p);
        fn(ud, &p);
    }
    int ret = rc == SQLITE_DONE ? 0 : scry_catalog_err(c, err, "tail_positions");
    sqlite3_finalize(q);
    return ret;
}

int col_tail_positions_put(const char *catalog_path, const struct col_tail_position *p, size_t n,
                           struct scry_err *err)
{
    struct scry_catalog *c = NULL;
    int rc = scry_catalog_open(&c, catalog_path, err);
    if (rc == 0)
        rc = col__tail_db_migrate(c, err);
    if (rc == 0)
        rc = scry_catalog_begin(c, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct col__tail_pos q = { p[i].dev,    p[i].ino,       p[i].path,
                                   p[i].fp,     p[i].fp_len,    p[i].off,
                                   p[i].next_t_ns, p[i].pinned, p[i].last_t_ns };
        rc = col__tail_db_put(c, &q, err);
        if (rc != 0)
            scry_catalog_rollback(c);
    }
    if (rc == 0)
        rc = scry_catalog_commit(c, err);
    scry_catalog_close(c);
    return rc;
}
