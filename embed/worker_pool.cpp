#include "embed/worker_pool.hpp"

#include <Python.h>

#include "server/error_log.hpp"

namespace w2p::embed {

WorkerPool::WorkerPool(unsigned workers, unsigned queue_limit, Handler handler)
    : handler_(std::move(handler)), queue_limit_(queue_limit) {
  alive_ = workers;
  threads_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { run_worker(); });
}

WorkerPool::~WorkerPool() {
  stop(std::chrono::milliseconds(0));
  for (auto& t : threads_)
    if (t.joinable()) t.detach();
}

bool WorkerPool::submit(std::shared_ptr<server::AppRequest> request,
                        std::shared_ptr<server::ResponseSink> sink) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= queue_limit_) return false;
    queue_.push_back({std::move(request), std::move(sink)});
  }
  cv_.notify_one();
  return true;
}

std::size_t WorkerPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void WorkerPool::run_worker() {
  // This thread state lives as long as the thread: threading.local data (web2py's `current`)
  // stays with it, and no per-request thread-state churn.
  PyGILState_STATE gil = PyGILState_Ensure();
  PyThreadState* ts = PyEval_SaveThread();
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    PyEval_RestoreThread(ts);
    try {
      handler_(job.request, *job.sink);
    } catch (const std::exception& e) {
      server::log::error(std::string("worker: unexpected error: ") + e.what());
    }
    ts = PyEval_SaveThread();
    // Dropped here, without the GIL: these are plain C++ objects.
    job = {};
  }
  PyEval_RestoreThread(ts);
  PyGILState_Release(gil);
  {
    std::lock_guard lock(mutex_);
    --alive_;
  }
  exited_cv_.notify_all();
}

bool WorkerPool::stop(std::chrono::milliseconds grace) {
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  dropped.clear();
  std::unique_lock lock(mutex_);
  bool all = exited_cv_.wait_for(lock, grace, [&] { return alive_ == 0; });
  lock.unlock();
  if (all) {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  return all;
}

}  // namespace w2p::embed
