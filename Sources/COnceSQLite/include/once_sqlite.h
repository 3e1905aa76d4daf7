#ifndef ONCE_SQLITE_H
#define ONCE_SQLITE_H

/* SQLite settings Swift cannot reach: sqlite3_db_config is variadic, and Swift does not import
   variadic C functions. `db` is the connection's `sqlite3 *` (GRDB's `sqliteConnection`). */

/* A connection that closes does not checkpoint the WAL into the database file (two fsyncs
   saved at every exit of a short-lived once-exec); the WAL is checkpointed at its size limit
   by whichever connection commits then. Returns an SQLite result code. */
int once_sqlite_no_checkpoint_on_close(void *db);

/* The WAL file is kept when the last connection closes instead of being deleted and created
   again by the next process (which costs a directory fsync and, through GRDB's set-up, one
   more write transaction). Returns an SQLite result code. */
int once_sqlite_persist_wal(void *db);

#endif
