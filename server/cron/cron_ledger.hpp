#pragma once
// The cron ledger: one row per job run in an SQLite database (WAL mode), kept across reloads
// and restarts: which job, when it was due, when it started and ended, how it ended, and the
// tail of its output or traceback.

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace w2p::server {

struct CronRun {
  std::string app, job;  // job: the crontab line's command
  std::time_t scheduled = 0, started = 0, finished = 0;
  std::string status;  // ok, error, timeout, skipped
  std::int64_t duration_ms = 0;
  std::string output;  // the tail
};

class CronLedger {
 public:
  // Opens (creating) the database; throws std::runtime_error naming the file.
  explicit CronLedger(const std::string& path);
  ~CronLedger();
  CronLedger(const CronLedger&) = delete;
  CronLedger& operator=(const CronLedger&) = delete;

  void record(const CronRun& run);
  std::optional<CronRun> last(const std::string& app, const std::string& job);

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace w2p::server
