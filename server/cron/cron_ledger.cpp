#include "server/cron/cron_ledger.hpp"

#include <sqlite3.h>

#include <stdexcept>

#include "server/log.hpp"

namespace w2p::server {

CronLedger::CronLedger(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string err = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("cron ledger " + path + ": " + err);
  }
  sqlite3_busy_timeout(db_, 2000);
  char* err = nullptr;
  const char* schema =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE IF NOT EXISTS runs ("
      " id INTEGER PRIMARY KEY, app TEXT NOT NULL, job TEXT NOT NULL, scheduled INTEGER,"
      " started INTEGER NOT NULL, finished INTEGER, status TEXT NOT NULL, duration_ms INTEGER,"
      " output TEXT);"
      "CREATE INDEX IF NOT EXISTS runs_job ON runs(app, job, started);";
  if (sqlite3_exec(db_, schema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "error";
    sqlite3_free(err);
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("cron ledger " + path + ": " + msg);
  }
}

CronLedger::~CronLedger() {
  sqlite3_close(db_);
}

void CronLedger::record(const CronRun& r) {
  sqlite3_stmt* st = nullptr;
  const char* sql =
      "INSERT INTO runs(app, job, scheduled, started, finished, status, duration_ms, output)"
      " VALUES(?, ?, ?, ?, ?, ?, ?, ?)";
  if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) {
    log::error("cron ledger " + path_ + ": " + sqlite3_errmsg(db_));
    return;
  }
  sqlite3_bind_text(st, 1, r.app.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, r.job.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 3, r.scheduled);
  sqlite3_bind_int64(st, 4, r.started);
  sqlite3_bind_int64(st, 5, r.finished);
  sqlite3_bind_text(st, 6, r.status.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 7, r.duration_ms);
  sqlite3_bind_text(st, 8, r.output.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st) != SQLITE_DONE)
    log::error("cron ledger " + path_ + ": " + sqlite3_errmsg(db_));
  sqlite3_finalize(st);
}

namespace {
CronRun row(sqlite3_stmt* st) {
  CronRun r;
  auto text = [&](int i) {
    const unsigned char* t = sqlite3_column_text(st, i);
    return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
  };
  r.app = text(0);
  r.job = text(1);
  r.scheduled = sqlite3_column_int64(st, 2);
  r.started = sqlite3_column_int64(st, 3);
  r.finished = sqlite3_column_int64(st, 4);
  r.status = text(5);
  r.duration_ms = sqlite3_column_int64(st, 6);
  r.output = text(7);
  return r;
}
}  // namespace

std::optional<CronRun> CronLedger::last(const std::string& app, const std::string& job) {
  sqlite3_stmt* st = nullptr;
  const char* sql =
      "SELECT app, job, scheduled, started, finished, status, duration_ms, output FROM runs"
      " WHERE app = ? AND job = ? ORDER BY started DESC, id DESC LIMIT 1";
  if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) return std::nullopt;
  sqlite3_bind_text(st, 1, app.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, job.c_str(), -1, SQLITE_TRANSIENT);
  std::optional<CronRun> out;
  if (sqlite3_step(st) == SQLITE_ROW) out = row(st);
  sqlite3_finalize(st);
  return out;
}

}  // namespace w2p::server
