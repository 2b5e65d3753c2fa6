#pragma once
// The Python side of web2py's cron: `*script.py`, `**script.py` and `**controller/function`
// jobs run through gluon.shell in this interpreter (python/w2pserve/cron.py), as web2py.py -S
// app -R script [-M] would in a new process. The scheduler (server/cron/scheduler.hpp) decides
// when; this runs them on its thread, which keeps one Python thread state for its whole life.

#include <Python.h>

#include "server/app_interface.hpp"

namespace w2p::embed {

class CronScripts final : public server::ScriptRunner {
 public:
  void attach() override;
  void detach() override;
  // Takes the GIL for the job; past `timeout` a watchdog raises TimeoutError in it (at its next
  // Python instruction), and never into a later job.
  Result run(const std::string& app, bool action, const std::string& target, bool models,
             unsigned timeout) override;

 private:
  PyThreadState* thread_state_ = nullptr;
};

}  // namespace w2p::embed
