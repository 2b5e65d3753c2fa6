#pragma once
// Cron on one node only (--cron-lock postgresql://...): with several w2pserve nodes sharing a
// PostgreSQL database, each cron job runs once per slot cluster-wide. A slot is claimed by
// inserting its row (app, job, scheduled time) into w2pserve_cron_claims: the one node whose
// insert succeeds runs it and records there how it ended; the others skip it. While a run
// lasts, its node also holds a PostgreSQL advisory lock on the job, a lease that ends with the
// node's database session (a node that dies frees it at once), so a slow run is never
// overlapped by the next slot's on another node. libpq is loaded (dlopen) only with this option.

#include <ctime>
#include <memory>
#include <string>

namespace w2p::server {

class CronLock {
 public:
  // `url`: a libpq connection URI; `node`: this node's name in the claims. Connects lazily;
  // throws std::runtime_error when libpq cannot be loaded.
  CronLock(std::string url, std::string node);
  ~CronLock();
  CronLock(const CronLock&) = delete;
  CronLock& operator=(const CronLock&) = delete;

  // Connects and makes the claims table now: "" or why it could not (the database may come up
  // later: claims try again).
  std::string check();

  enum class Claim { ours, taken, busy, unavailable };
  // Claims the slot; `ours`: run it (the lease is held until finish()). `taken`: another node
  // has it; `busy`: the job's previous run still holds its lease; `unavailable`: the database
  // cannot be reached (the job is not run here: never twice). `why` says more.
  Claim claim(const std::string& app, const std::string& job, std::time_t slot, std::string& why);
  void finish(const std::string& app, const std::string& job, std::time_t slot,
              const std::string& status);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace w2p::server
