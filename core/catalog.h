/* catalog.h — data/catalog.db: the sqlite3 database that holds the atomic
 * metadata of every store (tsdb blocks, log segments, tail checkpoints).
 *
 * Opened in WAL mode with a busy timeout, so a reader (inspect) never
 * blocks the writer. Schema versions: PRAGMA user_version versions core's
 * own bookkeeping table `scry_schema(component, version)`; each store
 * migrates its own tables with scry_catalog_migrate(component, steps), so
 * tsdb and logstore evolve independently in one file. A store makes a
 * change atomic by doing it between begin and commit. Not thread-safe: one
 * handle per thread (sqlite's own locking serialises writers). */
#ifndef SCRY_CORE_CATALOG_H
#define SCRY_CORE_CATALOG_H

#include <stddef.h>

#include "core/err.h"

struct scry_catalog;
struct sqlite3;

/* Opens or creates the database at path. After success, close. */
int scry_catalog_open(struct scry_catalog **out, const char *path, struct scry_err *err);
void scry_catalog_close(struct scry_catalog *c); /* NULL is a no-op */
/* The sqlite handle, for prepared statements; owned by c. */
struct sqlite3 *scry_catalog_db(struct scry_catalog *c);

/* Brings component's tables to version n: runs steps[v..n) (each one SQL
 * script) in one transaction each, recording the version. A database newer
 * than the code (v > n) is SCRY_EINVAL. */
int scry_catalog_migrate(struct scry_catalog *c, const char *component, const char *const *steps,
                         size_t n, struct scry_err *err);

int scry_catalog_exec(struct scry_catalog *c, const char *sql, struct scry_err *err);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback never fails). */
int scry_catalog_begin(struct scry_catalog *c, struct scry_err *err);
int scry_catalog_commit(struct scry_catalog *c, struct scry_err *err);
void scry_catalog_rollback(struct scry_catalog *c);
/* Sets err from sqlite's last error on c with a context prefix; returns SCRY_EIO. */
int scry_catalog_err(struct scry_catalog *c, struct scry_err *err, const char *what);

#endif
