#include "once_sqlite.h"
#include <sqlite3.h>

int once_sqlite_no_checkpoint_on_close(void *db) {
    return sqlite3_db_config((sqlite3 *)db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}

int once_sqlite_persist_wal(void *db) {
    int on = 1;
    return sqlite3_file_control((sqlite3 *)db, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
}
