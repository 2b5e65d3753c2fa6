#include "embed/cron_scripts.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "embed/py_util.hpp"

namespace w2p::embed {

void CronScripts::attach() {
  PyGILState_Ensure();
  thread_state_ = PyEval_SaveThread();
}

void CronScripts::detach() {
  if (!thread_state_) return;
  PyEval_RestoreThread(thread_state_);
  PyGILState_Release(PyGILState_UNLOCKED);
  thread_state_ = nullptr;
}

server::ScriptRunner::Result CronScripts::run(const std::string& app, bool action,
                                              const std::string& target, bool models,
                                              unsigned timeout) {
  Result out;
  // A watchdog for this run: past the timeout it raises TimeoutError in this thread.
  std::mutex m;
  std::condition_variable done_cv;
  bool done = false;
  PyGILState_STATE gil = PyGILState_Ensure();
  unsigned long tid = PyThread_get_thread_ident();
  std::thread watchdog([&] {
    std::unique_lock lock(m);
    if (done_cv.wait_for(lock, std::chrono::seconds(timeout), [&] { return done; })) return;
    lock.unlock();
    PyGILState_STATE g = PyGILState_Ensure();
    // With the GIL: the job cannot finish in between, and a finished job (done, set while it
    // held the GIL) is never hit.
    {
      std::lock_guard check(m);
      if (!done) PyThreadState_SetAsyncExc(tid, PyExc_TimeoutError);
    }
    PyGILState_Release(g);
  });
  PyObject* mod = PyImport_ImportModule("w2pserve.cron");
  PyObject* result =
      mod ? PyObject_CallMethod(mod, "run_job", "sssO", app.c_str(), action ? "action" : "script",
                                target.c_str(), models ? Py_True : Py_False)
          : nullptr;
  if (result && PyTuple_Check(result) && PyTuple_GET_SIZE(result) == 2) {
    const char* s = PyUnicode_AsUTF8(PyTuple_GET_ITEM(result, 0));
    const char* o = PyUnicode_AsUTF8(PyTuple_GET_ITEM(result, 1));
    out.status = s ? s : "error";
    out.output = o ? o : "";
  } else {
    out.status = PyErr_ExceptionMatches(PyExc_TimeoutError) ? "timeout" : "error";
    out.output = format_python_error();
  }
  // Done, then any TimeoutError raised meanwhile cleared, both holding the GIL: a late one
  // cannot land in the next job.
  {
    std::lock_guard lock(m);
    done = true;
  }
  PyThreadState_SetAsyncExc(tid, nullptr);
  PyErr_Clear();
  Py_XDECREF(result);
  Py_XDECREF(mod);
  PyGILState_Release(gil);
  done_cv.notify_all();
  watchdog.join();
  return out;
}

}  // namespace w2p::embed
