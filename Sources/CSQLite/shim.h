#include <sqlite3.h>

// SQLITE_TRANSIENT is a cast macro that does not import into Swift.
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }

// sqlite3_config is variadic, which Swift cannot call: one wrapper per setting used. Only before
// sqlite3_initialize (the first open); later it returns SQLITE_MISUSE and changes nothing.
static inline int csqlite_config_memstatus(int on) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, on); }
static inline int csqlite_config_no_pagecache_bulk(void) { return sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)0, 0, 0); }
