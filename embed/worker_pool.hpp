#pragma once
// A fixed pool of Python worker threads behind a bounded queue. Each worker keeps one thread
// state for its whole life (threading.local must survive between requests) and holds the GIL
// only while it runs a request.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "server/app_interface.hpp"

namespace w2p::embed {

class WorkerPool : public server::Application {
 public:
  // Runs with the GIL held, on a worker thread.
  using Handler =
      std::function<void(const std::shared_ptr<server::AppRequest>&, server::ResponseSink&)>;

  // The interpreter must be initialised and the GIL released by the caller. With a
  // request_timeout (seconds, 0 = none) a watchdog thread answers 504 for requests still in
  // Python after that long, logs the worker's Python stack and raises TimeoutError in it.
  WorkerPool(unsigned workers, unsigned queue_limit, Handler handler, unsigned request_timeout = 0);
  ~WorkerPool() override;
  // --lean: Python's collector runs (all generations) when the server goes idle, before the
  // memory is given back, so cycles freed since are returned too. Set before serving.
  void collect_when_idle(bool on) { collect_when_idle_ = on; }
  // Python modules imported for the first time during a request are reported to the memory
  // report (server::note_app_imports) under the URL's first segment (web2py's application);
  // what was loaded before serving is "(start-up)". Costs a read of /proc/self/statm per
  // request (~2 us), so it is for web2py (~7 ms a page), not for every app. Set before serving.
  void track_imports_by_app(bool on) { track_imports_ = on; }

  bool submit(std::shared_ptr<server::AppRequest> request,
              std::shared_ptr<server::ResponseSink> sink) override;
  const server::AppStats& stats() const override { return stats_; }

  // Drops queued requests and waits up to `grace` for running ones. False when a worker is still
  // inside Python after that (the interpreter must then not be finalised).
  bool stop(std::chrono::milliseconds grace);

 private:
  struct Job {
    std::shared_ptr<server::AppRequest> request;
    std::shared_ptr<server::ResponseSink> sink;
  };
  // What one worker is doing, for the watchdog.
  struct Slot {
    bool busy = false;
    bool expired = false;
    std::uint64_t seq = 0;  // requests started by this worker
    std::chrono::steady_clock::time_point started;
    std::shared_ptr<server::ResponseSink> sink;
    std::string what;             // "GET /path", for the log
    unsigned long thread_id = 0;  // Python's id for the worker's thread
    void* tstate = nullptr;       // the worker's PyThreadState
  };
  void sample_python_stats();
  void run_worker(unsigned index);
  void run_watchdog();

  server::AppStats stats_;
  Handler handler_;
  unsigned queue_limit_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable exited_cv_;
  std::condition_variable watchdog_cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  bool trim_pending_ = false;
  std::atomic<bool> collect_when_idle_{false};
  void* gc_get_count_ = nullptr;  // PyObject*: gc.get_count (a new reference, kept for good)
  std::atomic<bool> track_imports_{false};
  bool startup_noted_ = false;                     // guarded by the GIL
  std::unordered_set<std::string> known_modules_;  // guarded by the GIL
  void note_new_modules(
      const std::string& app,
      std::uint64_t rss_before);  // requests served since the heap was last trimmed
  static constexpr std::chrono::seconds kIdleTrimDelay{1};
  unsigned alive_ = 0;
  std::vector<std::thread> threads_;
  std::vector<Slot> slots_;
  unsigned request_timeout_;
  std::thread watchdog_;
};

}  // namespace w2p::embed
