#pragma once
// The housekeeping thread: web2py's cron (applications/<app>/cron/crontab) run inside this
// process instead of a new Python process per job, and the janitor that removes expired
// session files and old tickets. One thread. It decides when; a job that runs Python goes to
// the ScriptRunner (app_interface.hpp: embed/ runs it in the interpreter, the thread taking the
// GIL like a worker does for a request); other commands are spawned without a shell.

#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/app_interface.hpp"
#include "server/cron/cron_board.hpp"
#include "server/cron/cron_ledger.hpp"
#include "server/cron/cron_lock.hpp"
#include "server/cron/crontab.hpp"

namespace w2p::server {

struct CronSettings {
  std::string root;         // the web2py folder (the process works from it)
  bool cron = false;        // run the crontabs
  bool allow_exec = false;  // run commands that are not web2py scripts (subprocess, no shell)
  unsigned timeout = 3600;  // seconds a job may run before TimeoutError is raised in it
  std::string ledger;       // SQLite file for the run ledger
  std::uint64_t session_max_age = 7 * 86400;  // 0: leave sessions alone
  std::uint64_t ticket_max_age = 30 * 86400;  // 0: leave tickets alone
  bool first_start = true;                    // false after a reload: @reboot jobs do not run again
  std::string lock_url;  // --cron-lock: a PostgreSQL URI shared by the nodes (cron_lock.hpp)
  std::string node;      // this node's name in the cluster-wide claims
};

// Applications under <root>/applications that have a cron/crontab, sorted.
std::vector<std::string> cron_apps(const std::string& root);

class CronScheduler {
 public:
  // `scripts` runs the Python jobs (it must outlive the scheduler); null without cron.
  CronScheduler(CronSettings settings, CronBoard& board, ScriptRunner* scripts);
  ~CronScheduler();  // stops the thread, waiting for a running job (bounded by its timeout)
  CronScheduler(const CronScheduler&) = delete;
  CronScheduler& operator=(const CronScheduler&) = delete;

  // Runs one job now on this thread (attached to `scripts` by the caller).
  static CronRun execute(const CronSettings& settings, ScriptRunner* scripts,
                         const std::string& app, const CronJob& job, std::time_t scheduled);

  // Removes expired session files and old tickets now; returns how many files went.
  static std::size_t sweep(const std::string& root, std::uint64_t session_max_age,
                           std::uint64_t ticket_max_age, std::time_t now);

 private:
  struct Job {
    std::string app;
    CronJob spec;
    std::time_t next = 0;
    CronJobState state;
  };
  struct Tab {
    std::time_t mtime = 0;
    std::vector<Job> jobs;
  };

  void run();
  void rescan(bool startup);
  void run_job(Job& job, std::time_t scheduled);
  static std::string run_external(const std::string& command, unsigned timeout,
                                  std::string& output);
  void publish();

  CronSettings settings_;
  CronBoard& board_;
  ScriptRunner* scripts_;
  std::unique_ptr<CronLedger> ledger_;
  std::unique_ptr<CronLock> lock_;   // --cron-lock: one node per slot
  std::map<std::string, Tab> tabs_;  // by application
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace w2p::server
