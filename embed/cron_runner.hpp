#pragma once
// The housekeeping thread: web2py's cron (applications/<app>/cron/crontab) run inside this
// interpreter instead of a new Python process per job, and the janitor that removes expired
// session files and old tickets. One thread; with cron on, it has a Python thread state for
// its whole life and takes the GIL for a job like a worker does for a request.

#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/cron/cron_board.hpp"
#include "server/cron/cron_ledger.hpp"
#include "server/cron/crontab.hpp"

namespace w2p::embed {

struct CronSettings {
  std::string root;          // the web2py folder (the process works from it)
  bool cron = false;         // run the crontabs
  bool allow_exec = false;   // run commands that are not web2py scripts (subprocess, no shell)
  unsigned timeout = 3600;   // seconds a job may run before TimeoutError is raised in it
  std::string ledger;        // SQLite file for the run ledger
  std::uint64_t session_max_age = 7 * 86400;  // 0: leave sessions alone
  std::uint64_t ticket_max_age = 30 * 86400;  // 0: leave tickets alone
};

// Applications under <root>/applications that have a cron/crontab, sorted.
std::vector<std::string> cron_apps(const std::string& root);

class CronRunner {
 public:
  CronRunner(CronSettings settings, w2p::server::CronBoard& board);
  ~CronRunner();  // stops the thread, waiting for a running job (bounded by its timeout)
  CronRunner(const CronRunner&) = delete;
  CronRunner& operator=(const CronRunner&) = delete;

  // Runs one job now on this thread (which must have a Python thread state; takes the GIL).
  static w2p::server::CronRun execute(const CronSettings& settings, const std::string& app,
                                      const w2p::server::CronJob& job, std::time_t scheduled);

  // Removes expired session files and old tickets now; returns how many files went.
  static std::size_t sweep(const std::string& root, std::uint64_t session_max_age,
                           std::uint64_t ticket_max_age, std::time_t now);

 private:
  struct Job {
    std::string app;
    w2p::server::CronJob spec;
    std::time_t next = 0;
    w2p::server::CronJobState state;
  };
  struct Tab {
    std::time_t mtime = 0;
    std::vector<Job> jobs;
  };

  void run();
  void rescan(bool startup);
  void run_job(Job& job, std::time_t scheduled);
  static std::string run_external(const std::string& command, unsigned timeout, std::string& output);
  void publish();

  CronSettings settings_;
  w2p::server::CronBoard& board_;
  std::unique_ptr<w2p::server::CronLedger> ledger_;
  std::map<std::string, Tab> tabs_;  // by application
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace w2p::embed
