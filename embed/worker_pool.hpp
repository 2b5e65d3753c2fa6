#pragma once
// A fixed pool of Python worker threads behind a bounded queue. Each worker keeps one thread
// state for its whole life (threading.local must survive between requests) and holds the GIL
// only while it runs a request.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "server/app_interface.hpp"

namespace w2p::embed {

class WorkerPool : public server::Application {
 public:
  // Runs with the GIL held, on a worker thread.
  using Handler = std::function<void(const std::shared_ptr<server::AppRequest>&, server::ResponseSink&)>;

  // The interpreter must be initialised and the GIL released by the caller.
  WorkerPool(unsigned workers, unsigned queue_limit, Handler handler);
  ~WorkerPool() override;

  bool submit(std::shared_ptr<server::AppRequest> request,
              std::shared_ptr<server::ResponseSink> sink) override;

  // Drops queued requests and waits up to `grace` for running ones. False when a worker is still
  // inside Python after that (the interpreter must then not be finalised).
  bool stop(std::chrono::milliseconds grace);

  std::size_t queued() const;

 private:
  struct Job {
    std::shared_ptr<server::AppRequest> request;
    std::shared_ptr<server::ResponseSink> sink;
  };
  void run_worker();

  Handler handler_;
  unsigned queue_limit_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable exited_cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  unsigned alive_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace w2p::embed
