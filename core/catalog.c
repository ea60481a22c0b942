/* catalog.c — the sqlite3 catalog: open in WAL mode, migrate, transactions.
 *
 * synchronous=FULL: a committed catalog transaction is what makes a block
 * or segment exist (ARCHITECTURE.md "Storage on disk"), so it must survive
 * power loss like the files it names. The busy timeout (5 s) covers a
 * concurrent reader checkpointing the WAL. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "core/mem.h"

struct scry_catalog {
    sqlite3 *db;
    char *path;
};

int scry_catalog_err(struct scry_catalog *c, struct scry_err *err, const char *what)
{
    return scry_err_set(err, SCRY_EIO, "catalog %s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

int scry_catalog_exec(struct scry_catalog *c, const char *sql, struct scry_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = scry_err_set(err, SCRY_EIO, "catalog %s: %s", c->path, msg ? msg : "error");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

int scry_catalog_begin(struct scry_catalog *c, struct scry_err *err)
{
    return scry_catalog_exec(c, "BEGIN IMMEDIATE", err);
}

int scry_catalog_commit(struct scry_catalog *c, struct scry_err *err)
{
    int rc = scry_catalog_exec(c, "COMMIT", err);
    if (rc)
        scry_catalog_rollback(c);
    return rc;
}

void scry_catalog_rollback(struct scry_catalog *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

sqlite3 *scry_catalog_db(struct scry_catalog *c)
{
    return c->db;
}

void scry_catalog_close(struct scry_catalog *c)
{
    if (!c)
        return;
    sqlite3_close(c->db);
    free(c->path);
    free(c);
}

/* Core's own schema, versioned by PRAGMA user_version. */
static const char *const core_steps[] = {
    "CREATE TABLE scry_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL);",
};

static int user_version(struct scry_catalog *c, int *v, struct scry_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return scry_catalog_err(c, err, "user_version");
    *v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return 0;
}

static int migrate_core(struct scry_catalog *c, struct scry_err *err)
{
    int v = 0, n = (int)(sizeof core_steps / sizeof core_steps[0]);
    int rc = user_version(c, &v, err);
    if (rc)
        return rc;
    if (v > n)
        return scry_err_set(err, SCRY_EINVAL, "catalog %s: schema version %d is newer than %d",
                            c->path, v, n);
    for (; v < n; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if ((rc = scry_catalog_begin(c, err)) || (rc = scry_catalog_exec(c, core_steps[v], err)) ||
            (rc = scry_catalog_exec(c, sql, err)) || (rc = scry_catalog_commit(c, err))) {
            scry_catalog_rollback(c);
            return rc;
        }
    }
    return 0;
}

int scry_catalog_open(struct scry_catalog **out, const char *path, struct scry_err *err)
{
    if (!out || !path)
        return scry_err_set(err, SCRY_EINVAL, "catalog open: bad arguments");
    struct scry_catalog *c = scry_calloc(1, sizeof *c);
    c->path = scry_strdup(path);
    int rc = 0;
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = c->db ? scry_catalog_err(c, err, "open")
                   : scry_err_set(err, SCRY_ENOMEM, "catalog %s: open", path);
        goto fail;
    }
    sqlite3_busy_timeout(c->db, 5000);
    if ((rc = scry_catalog_exec(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                                   "PRAGMA foreign_keys=ON;", err)) ||
        (rc = migrate_core(c, err)))
        goto fail;
    *out = c;
    return 0;
fail:
    scry_catalog_close(c);
    return rc;
}

int scry_catalog_migrate(struct scry_catalog *c, const char *component, const char *const *steps,
                         size_t n, struct scry_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = scry_catalog_begin(c, err);
    if (rc)
        return rc;
    int64_t v = 0;
    if (sqlite3_prepare_v2(c->db, "SELECT version FROM scry_schema WHERE component = ?1", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = scry_catalog_err(c, err, "read schema version");
        goto out;
    }
    /* SQLITE_STATIC: component outlives the statement, finalized below. */
    sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (v > (int64_t)n) {
        rc = scry_err_set(err, SCRY_EINVAL, "catalog %s: %s schema version %lld is newer than %zu",
                          c->path, component, (long long)v, n);
        goto out;
    }
    for (; v < (int64_t)n; v++)
        if ((rc = scry_catalog_exec(c, steps[v], err)))
            goto out;
    if (sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO scry_schema VALUES (?1, ?2)", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = scry_catalog_err(c, err, "write schema version");
        goto out;
    }
    sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = scry_catalog_err(c, err, "write schema version");
    sqlite3_finalize(st);
    st = NULL;
out:
    if (rc) {
        scry_catalog_rollback(c);
        return rc;
    }
    return scry_catalog_commit(c, err);
}
