// What inserting the queue's events costs in SQLite per row, one row per statement (as the group commit
// did) against many rows per statement (`EventInserter`), on the system's SQLite with the queue's table
// and settings (16 KiB pages, WAL, a 1 MiB cache, transactions of 2,000 rows, a passive checkpoint after
// each). 800k events of 360 bytes.
//
//   cc -O2 -o /tmp/event-inserts docs/measurements/event-inserts.c -lsqlite3
//   /tmp/event-inserts DIR 1      # one row per statement
//   /tmp/event-inserts DIR 32     # 32 rows per statement
//
// Measured 2026-12-05 (docs/performance.md), twice each: 0.825 / 0.801 µs of CPU per row one at a time,
// 0.741 / 0.756 in statements of 8, 0.660 / 0.679 in statements of 32.
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
static double cpu(void){struct rusage u;getrusage(RUSAGE_SELF,&u);return u.ru_utime.tv_sec+u.ru_utime.tv_usec/1e6+u.ru_stime.tv_sec+u.ru_stime.tv_usec/1e6;}
int main(int argc,char**argv){
  int per=atoi(argv[2]); long events=800000; int txn=2000;
  char path[512]; snprintf(path,sizeof path,"%s/ins.db",argv[1]); unlink(path);
  char wal[600]; snprintf(wal,sizeof wal,"%s-wal",path); unlink(wal);
  sqlite3*db; sqlite3_open(path,&db);
  sqlite3_exec(db,"PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-1024;"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, received_at REAL NOT NULL, body TEXT NOT NULL, conversation INTEGER, size INTEGER);",0,0,0);
  char sql[65536]; strcpy(sql,"INSERT INTO events (received_at, body, conversation, size, id) VALUES (?, ?, ?, ?, ?)");
  for(int i=1;i<per;i++) strcat(sql,", (?, ?, ?, ?, ?)");
  sqlite3_stmt*st; if(sqlite3_prepare_v2(db,sql,-1,&st,0)){fprintf(stderr,"%s\n",sqlite3_errmsg(db));return 1;}
  char body[360]; memset(body,'x',sizeof body); body[0]='{'; body[359]='}';
  double t0=cpu(); long id=0;
  while(id<events){
    sqlite3_exec(db,"BEGIN",0,0,0);
    for(int r=0;r<txn;r+=per){
      for(int k=0;k<per;k++){ id++; int b=k*5;
        sqlite3_bind_double(st,b+1,1.0e9); sqlite3_bind_text(st,b+2,body,360,SQLITE_STATIC);
        sqlite3_bind_int64(st,b+3,id%16); sqlite3_bind_int64(st,b+4,360); sqlite3_bind_int64(st,b+5,id);}
      if(sqlite3_step(st)!=SQLITE_DONE){fprintf(stderr,"%s\n",sqlite3_errmsg(db));return 1;}
      sqlite3_reset(st);
    }
    sqlite3_exec(db,"COMMIT",0,0,0);
    sqlite3_wal_checkpoint_v2(db,0,SQLITE_CHECKPOINT_PASSIVE,0,0); // keep the WAL small, as the daemon does
  }
  printf("%d rows per statement: %.3f us CPU per row\n",per,(cpu()-t0)/events*1e6);
  return 0;}
