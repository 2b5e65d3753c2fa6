#include "embed/worker_pool.hpp"

#include <Python.h>

#include <algorithm>

#include "server/log.hpp"

// faulthandler's traceback dumper (exported by libpython, declared in an internal header):
// safe to call without the GIL on another thread's state.
extern "C" void _Py_DumpTraceback(int fd, PyThreadState* tstate);
// sys.getallocatedblocks() in C; exported by libpython, declared only in its internal headers.
extern "C" Py_ssize_t _Py_GetAllocatedBlocks(void);

namespace w2p::embed {

WorkerPool::WorkerPool(unsigned workers, unsigned queue_limit, Handler handler,
                       unsigned request_timeout)
    : handler_(std::move(handler)),
      queue_limit_(queue_limit),
      slots_(workers),
      request_timeout_(request_timeout) {
  // gc.get_count, looked up once here, before any worker exists: a lookup made by the first
  // worker to need it (a function-local static) could deadlock, the import releasing the GIL to
  // a second worker that then waits on the static's guard while holding the GIL.
  {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject* gc = PyImport_ImportModule("gc");
    gc_get_count_ = gc ? PyObject_GetAttrString(gc, "get_count") : nullptr;
    Py_XDECREF(gc);
    if (!gc_get_count_) PyErr_Clear();
    PyGILState_Release(gil);
  }
  alive_ = workers;
  threads_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this, i] { run_worker(i); });
  if (request_timeout_ > 0) {
    ++alive_;
    watchdog_ = std::thread([this] { run_watchdog(); });
  }
}

WorkerPool::~WorkerPool() {
  stop(std::chrono::milliseconds(0));
  for (auto& t : threads_)
    if (t.joinable()) t.detach();
  if (watchdog_.joinable()) watchdog_.detach();
}

bool WorkerPool::submit(std::shared_ptr<server::AppRequest> request,
                        std::shared_ptr<server::ResponseSink> sink) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= queue_limit_) return false;
    queue_.push_back({std::move(request), std::move(sink)});
    stats_.queued.store(static_cast<std::uint32_t>(queue_.size()), std::memory_order_relaxed);
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::run_watchdog() {
  // A thread state of its own, for raising exceptions into workers (that needs the GIL).
  PyGILState_STATE gil = PyGILState_Ensure();
  PyThreadState* ts = PyEval_SaveThread();
  const auto limit = std::chrono::seconds(request_timeout_);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    auto next = now + limit;
    for (unsigned i = 0; i < slots_.size(); ++i) {
      Slot& slot = slots_[i];
      if (!slot.busy || slot.expired) continue;
      auto deadline = slot.started + limit;
      if (deadline > now) {
        next = std::min(next, deadline);
        continue;
      }
      slot.expired = true;
      auto sink = slot.sink;
      std::uint64_t seq = slot.seq;
      std::string what = slot.what;
      unsigned long thread_id = slot.thread_id;
      auto* tstate = static_cast<PyThreadState*>(slot.tstate);
      lock.unlock();
      server::log::error("request timeout: " + what + " still in Python after " +
                         std::to_string(request_timeout_) + " s in worker " + std::to_string(i) +
                         "; answering 504 and raising TimeoutError in it. Its stack:");
      if (sink) sink->expire(504);
      // faulthandler's dumper: reads the frames without the GIL, made for stuck threads.
      _Py_DumpTraceback(2, tstate);
      PyEval_RestoreThread(ts);
      {
        std::lock_guard check(mutex_);
        if (slots_[i].busy && slots_[i].seq == seq)
          PyThreadState_SetAsyncExc(thread_id, PyExc_TimeoutError);
      }
      ts = PyEval_SaveThread();
      lock.lock();
      now = std::chrono::steady_clock::now();
    }
    watchdog_cv_.wait_until(lock, next);
  }
  lock.unlock();
  PyEval_RestoreThread(ts);
  PyGILState_Release(gil);
  {
    std::lock_guard done(mutex_);
    --alive_;
  }
  exited_cv_.notify_all();
}

// With the GIL held, after a request: the interpreter's heap and collector figures for
// /server-status (C calls and one small Python call; no allocation that survives).
void WorkerPool::sample_python_stats() {
  stats_.allocated_blocks.store(_Py_GetAllocatedBlocks(), std::memory_order_relaxed);
  if (!gc_get_count_) return;
  PyObject* counts = PyObject_CallNoArgs(static_cast<PyObject*>(gc_get_count_));
  if (counts && PyTuple_Check(counts) && PyTuple_GET_SIZE(counts) == 3) {
    for (int i = 0; i < 3; ++i)
      stats_.gc_count[i].store(PyLong_AsLongLong(PyTuple_GET_ITEM(counts, i)),
                               std::memory_order_relaxed);
  }
  Py_XDECREF(counts);
  PyErr_Clear();
}

// With the GIL held: modules in sys.modules not seen before, reported for `app`.
void WorkerPool::note_new_modules(const std::string& app, std::uint64_t rss_before) {
  PyObject* modules = PyImport_GetModuleDict();  // borrowed
  if (!modules || !PyDict_Check(modules)) return;
  if (startup_noted_ && known_modules_.size() == static_cast<std::size_t>(PyDict_Size(modules)))
    return;
  std::vector<std::string> fresh;
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  while (PyDict_Next(modules, &pos, &key, &value)) {
    const char* name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : nullptr;
    if (!name) {
      PyErr_Clear();
      continue;
    }
    if (known_modules_.insert(name).second) fresh.emplace_back(name);
  }
  std::uint64_t now = server::resident_now();
  if (!startup_noted_) {
    startup_noted_ = true;
    server::note_app_imports("(start-up)", fresh, static_cast<std::int64_t>(now));
  } else if (!fresh.empty()) {
    server::note_app_imports(
        app, fresh, static_cast<std::int64_t>(now) - static_cast<std::int64_t>(rss_before));
  }
}

void WorkerPool::run_worker(unsigned index) {
  // This thread state lives as long as the thread: threading.local data (web2py's `current`)
  // stays with it, and no per-request thread-state churn.
  PyGILState_STATE gil = PyGILState_Ensure();
  PyThreadState* ts = PyEval_SaveThread();
  {
    std::lock_guard lock(mutex_);
    slots_[index].thread_id = PyThread_get_thread_ident();
    slots_[index].tstate = ts;
  }
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      auto ready = [&] { return stopping_ || !queue_.empty(); };
      // Once the server has been idle for a second after serving, memory nobody uses goes back
      // to the system (server::release_idle_memory): after web2py pages glibc keeps 6-9 MiB of
      // freed memory inside its heap that its own trimming (top of the heap only) never
      // returns. One worker does it, without the GIL (with --lean, after a gc.collect() with
      // it); requests arriving meanwhile wait at most that (~1 ms; the collection ~10-30 ms).
      while (!ready()) {
        if (!trim_pending_ || stats_.busy.load(std::memory_order_relaxed) != 0) {
          cv_.wait(lock, ready);
          break;
        }
        if (cv_.wait_for(lock, kIdleTrimDelay, ready)) break;
        if (!trim_pending_ || stats_.busy.load(std::memory_order_relaxed) != 0) continue;
        trim_pending_ = false;
        lock.unlock();
        if (collect_when_idle_) {
          PyEval_RestoreThread(ts);
          PyGC_Collect();
          ts = PyEval_SaveThread();
        }
        server::release_idle_memory();
        stats_.idle_trims.fetch_add(1, std::memory_order_relaxed);
        lock.lock();
      }
      if (queue_.empty()) break;
      trim_pending_ = true;
      job = std::move(queue_.front());
      queue_.pop_front();
      stats_.queued.store(static_cast<std::uint32_t>(queue_.size()), std::memory_order_relaxed);
      stats_.busy.fetch_add(1, std::memory_order_relaxed);
      Slot& slot = slots_[index];
      slot.busy = true;
      slot.expired = false;
      ++slot.seq;
      slot.started = std::chrono::steady_clock::now();
      if (request_timeout_ > 0) {
        slot.sink = job.sink;
        slot.what = job.request->method + " " + job.request->target;
      }
    }
    auto wait_start = std::chrono::steady_clock::now();
    PyEval_RestoreThread(ts);
    stats_.gil_wait_ns.fetch_add(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::steady_clock::now() - wait_start)
                                       .count()),
        std::memory_order_relaxed);
    const bool track = track_imports_.load(std::memory_order_relaxed);
    std::uint64_t rss_before = 0;
    if (track) {
      note_new_modules("", 0);  // the first time: what start-up loaded
      rss_before = server::resident_now();
    }
    try {
      handler_(job.request, *job.sink);
    } catch (const std::exception& e) {
      server::log::error(std::string("worker: unexpected error: ") + e.what());
    }
    // The request is over: marked so under the lock, then any TimeoutError the watchdog raised
    // meanwhile is cleared, both while this thread holds the GIL and with no Python code in
    // between. The watchdog raises only while holding the GIL and seeing the slot busy, so no
    // late TimeoutError can land in the next request.
    bool was_expired = false;
    std::chrono::steady_clock::time_point started;
    std::string what;
    {
      std::lock_guard lock(mutex_);
      Slot& slot = slots_[index];
      was_expired = slot.expired;
      started = slot.started;
      what = std::move(slot.what);
      slot.busy = false;
      slot.expired = false;
      slot.sink.reset();
      stats_.busy.fetch_sub(1, std::memory_order_relaxed);
    }
    if (request_timeout_ > 0) PyThreadState_SetAsyncExc(PyThread_get_thread_ident(), nullptr);
    sample_python_stats();
    if (track) {
      const std::string& path = job.request->path;
      std::size_t start = path.empty() || path[0] != '/' ? 0 : 1;
      std::string app =
          path.substr(start, std::min<std::size_t>(path.find('/', start), 64) - start);
      note_new_modules(app.empty() ? "(default application)" : app, rss_before);
    }
    ts = PyEval_SaveThread();
    if (was_expired) {
      auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
      server::log::warn("worker " + std::to_string(index) + " is back after " +
                        std::to_string(took) + " ms (" + what + ")");
    }
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
  watchdog_cv_.notify_all();
  dropped.clear();
  std::unique_lock lock(mutex_);
  bool all = exited_cv_.wait_for(lock, grace, [&] { return alive_ == 0; });
  lock.unlock();
  if (all) {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    if (watchdog_.joinable()) watchdog_.join();
  }
  return all;
}

}  // namespace w2p::embed
