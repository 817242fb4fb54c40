// What deleting delivered events from the queue's head costs in SQLite, per row: the daemon's way
// (chunks of `DELETE FROM events WHERE id <= ?` with the chunk measured first, as HeadCutter does)
// against emptying a whole table at once, on the system's SQLite with the queue's settings (16 KiB
// pages, WAL, a 4 MiB cache, a passive checkpoint from a second connection every 1,000 WAL pages).
// 800k events of 300 bytes are queued, then cut.
//
//   cc -O2 -o /tmp/queue-cut docs/measurements/queue-cut.c -lsqlite3
//   /tmp/queue-cut DIR rows 1000 [ON|FAST|OFF]     # row deletes, chunks of 1,000
//   /tmp/queue-cut DIR clear 0 [ON|FAST|OFF]       # one DELETE of the whole table
//
// The third argument is PRAGMA secure_delete (Debian builds SQLite with it ON). Measured 2026-12-05
// (docs/performance.md): row deletes 0.55 µs per row with any setting; the whole table 1.75 µs per
// row with ON (every freed page is zeroed and written again), 0.035 with FAST or OFF.
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static sqlite3 *db, *checkpointer;
static int walPages = 0;

static void run(const char *sql) {
    char *error = 0;
    if (sqlite3_exec(db, sql, 0, 0, &error) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, error);
        exit(1);
    }
}

static int walHook(void *context, sqlite3 *handle, const char *name, int pages) {
    walPages = pages;
    return SQLITE_OK;
}

static double cpuSeconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

static void checkpointIfDue(void) {
    if (walPages >= 1000) {
        sqlite3_wal_checkpoint_v2(checkpointer, 0, SQLITE_CHECKPOINT_PASSIVE, 0, 0);
        walPages = 0;
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s DIR rows|clear CHUNK [ON|FAST|OFF]\n", argv[0]);
        return 2;
    }
    const long events = 800000;
    const int chunk = atoi(argv[3]);
    const int clear = strcmp(argv[2], "clear") == 0;
    char path[512], sql[512];
    snprintf(path, sizeof path, "%s/queue-cut.db", argv[1]);
    unlink(path);
    snprintf(sql, sizeof sql, "%s-wal", path);
    unlink(sql);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_open(path, &db);
    run("PRAGMA page_size = 16384");
    run("PRAGMA journal_mode = WAL");
    run("PRAGMA synchronous = OFF");
    run("PRAGMA cache_size = -4096");
    if (argc > 4) {
        snprintf(sql, sizeof sql, "PRAGMA secure_delete = %s", argv[4]);
        run(sql);
    }
    run("CREATE TABLE events (id INTEGER PRIMARY KEY, received_at REAL NOT NULL, body TEXT NOT NULL, "
        "conversation INTEGER, size INTEGER)");
    run("CREATE TABLE counters (id INTEGER PRIMARY KEY, queued INTEGER, bytes INTEGER, cut INTEGER)");
    run("INSERT INTO counters VALUES (1, 0, 0, 0)");
    sqlite3_open(path, &checkpointer);
    sqlite3_exec(checkpointer, "PRAGMA journal_mode", 0, 0, 0);  // learns WAL mode: until then it cannot checkpoint
    sqlite3_wal_hook(db, walHook, 0);

    sqlite3_stmt *insert;
    sqlite3_prepare_v2(db, "INSERT INTO events (received_at, body, conversation, size, id) VALUES (?, ?, ?, ?, ?)", -1,
                       &insert, 0);
    char body[301];
    for (int i = 0; i < 300; i++) body[i] = "abcdefghijklmnop"[rand() % 16];
    body[300] = 0;
    for (long id = 0; id < events;) {
        run("BEGIN");
        for (int i = 0; i < 2800; i++) {
            id++;
            sqlite3_bind_double(insert, 1, 1.7e9);
            sqlite3_bind_text(insert, 2, body, 300, SQLITE_STATIC);
            sqlite3_bind_int64(insert, 3, i % 64);
            sqlite3_bind_int64(insert, 4, 300);
            sqlite3_bind_int64(insert, 5, id);
            sqlite3_step(insert);
            sqlite3_reset(insert);
        }
        run("COMMIT");
        checkpointIfDue();
    }
    sqlite3_wal_checkpoint_v2(checkpointer, 0, SQLITE_CHECKPOINT_TRUNCATE, 0, 0);

    sqlite3_stmt *measure, *deleteThrough, *counted;
    sqlite3_prepare_v2(db,
                       "SELECT count(*), sum(s), max(id) FROM (SELECT id, coalesce(size, length(CAST(body AS BLOB))) "
                       "AS s FROM events WHERE id <= ? ORDER BY id LIMIT ?)",
                       -1, &measure, 0);
    sqlite3_prepare_v2(db, "DELETE FROM events WHERE id <= ?", -1, &deleteThrough, 0);
    sqlite3_prepare_v2(db, "UPDATE counters SET queued = queued - ?1, bytes = bytes - ?2, cut = ?3 WHERE id = 1", -1,
                       &counted, 0);
    const double started = cpuSeconds();
    if (clear) {
        run("BEGIN IMMEDIATE");
        run("DELETE FROM events");
        run("COMMIT");
        sqlite3_wal_checkpoint_v2(checkpointer, 0, SQLITE_CHECKPOINT_PASSIVE, 0, 0);
    } else {
        for (long cut = 0; cut < events;) {
            run("BEGIN IMMEDIATE");
            sqlite3_bind_int64(measure, 1, events);
            sqlite3_bind_int64(measure, 2, chunk);
            sqlite3_step(measure);
            const long rows = sqlite3_column_int64(measure, 0), bytes = sqlite3_column_int64(measure, 1);
            const long last = sqlite3_column_int64(measure, 2);
            sqlite3_reset(measure);
            sqlite3_bind_int64(deleteThrough, 1, last);
            sqlite3_step(deleteThrough);
            sqlite3_reset(deleteThrough);
            sqlite3_bind_int64(counted, 1, rows);
            sqlite3_bind_int64(counted, 2, bytes);
            sqlite3_bind_int64(counted, 3, last);
            sqlite3_step(counted);
            sqlite3_reset(counted);
            run("COMMIT");
            cut = last;
            checkpointIfDue();
        }
    }
    printf("%s%s%s: %.3f µs of CPU per row\n", clear ? "whole table" : "row deletes", argc > 4 ? ", secure_delete " : "",
           argc > 4 ? argv[4] : "", 1e6 * (cpuSeconds() - started) / events);
    unlink(path);
    return 0;
}
