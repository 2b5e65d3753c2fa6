#pragma once
// What the cron thread publishes for /server-status: each job's last run and next run.

#include <cstdint>
#include <ctime>
#include <mutex>
#include <string>
#include <vector>

namespace w2p::server {

// What /server-status shows of each job.
struct CronJobState {
  std::string app, command;
  int line = 0;
  std::string last_status;
  std::time_t last_started = 0, next_run = 0;
  std::int64_t last_duration_ms = 0;
};

class CronBoard {
 public:
  void set(std::vector<CronJobState> jobs) {
    std::lock_guard lock(mutex_);
    jobs_ = std::move(jobs);
  }
  std::vector<CronJobState> get() const {
    std::lock_guard lock(mutex_);
    return jobs_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<CronJobState> jobs_;
};

}  // namespace w2p::server
