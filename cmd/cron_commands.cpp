// `cron list` and `cron run APP LINE`: web2py's cron without a server.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "cmd/commands.hpp"
#include "embed/cron_scripts.hpp"
#include "embed/interpreter.hpp"
#include "embed/web2py_loader.hpp"
#include "server/cron/cron_ledger.hpp"
#include "server/cron/crontab.hpp"
#include "server/cron/scheduler.hpp"
#include "server/log.hpp"

namespace w2p::cmd {

namespace {

server::Crontab read_crontab(const std::string& path, bool& readable) {
  std::ifstream in(path);
  readable = static_cast<bool>(in);
  std::stringstream text;
  text << in.rdbuf();
  return server::parse_crontab(text.str());
}

std::string when(std::time_t t) {
  if (!t) return "-";
  char buf[32];
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

}  // namespace

// Every job, its next run and its last (from the ledger).
int cron_list(const server::Options& options) {
  std::unique_ptr<server::CronLedger> ledger;
  if (::access(options.cron_ledger.c_str(), R_OK) == 0) {
    try {
      ledger = std::make_unique<server::CronLedger>(options.cron_ledger);
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }
  std::printf("%-14s %5s  %-16s  %-26s  %s\n", "app", "line", "next run", "last run", "command");
  for (const auto& app : server::cron_apps(options.root)) {
    std::string path = options.root + "/applications/" + app + "/cron/crontab";
    bool readable = false;
    auto tab = read_crontab(path, readable);
    for (const auto& err : tab.errors)
      std::fprintf(stderr, "%s:%d: %s (line skipped)\n", path.c_str(), err.line,
                   err.message.c_str());
    for (const auto& job : tab.jobs) {
      std::string next =
          job.reboot ? "@reboot" : when(job.next_after(std::time(nullptr)).value_or(0));
      std::string last = "-";
      if (ledger)
        if (auto run = ledger->last(app, job.command))
          last = when(run->started) + " " + run->status;
      std::printf("%-14s %5d  %-16s  %-26s  %s\n", app.c_str(), job.line, next.c_str(),
                  last.c_str(), job.command.c_str());
    }
  }
  return 0;
}

// The job on that line, now, in this process (recorded in the ledger), as the service account.
int cron_run(const server::Options& options) {
  if (std::string err = become_service_account(options); !err.empty()) return fail(err);
  std::string path = options.root + "/applications/" + options.cron_app + "/cron/crontab";
  bool readable = false;
  auto tab = read_crontab(path, readable);
  if (!readable) return fail("cron run: cannot read " + path);
  const server::CronJob* job = nullptr;
  for (const auto& j : tab.jobs)
    if (j.line == options.cron_line) job = &j;
  if (!job)
    return fail("cron run: " + path + " has no job on line " + std::to_string(options.cron_line));
  if (::chdir(options.root.c_str()) != 0) return fail("cannot enter " + options.root);
  std::vector<std::string> sys_path{options.root};
  sys_path.insert(sys_path.end(), options.pythonpath.begin(), options.pythonpath.end());
  embed::Interpreter interpreter({sys_path, embed::find_python_dir()});
  std::string err;
  interpreter.with_gil([&] {
    try {
      embed::load_web2py(options.root);  // gluon on the path, set up as for serving
    } catch (const std::exception& e) {
      err = e.what();
    }
  });
  if (!err.empty()) return fail(err);
  server::CronSettings cs;
  cs.root = options.root;
  cs.cron = true;
  cs.allow_exec = options.cron_allow_exec;
  cs.timeout = options.cron_timeout;
  embed::CronScripts scripts;  // this thread runs the job, as the scheduler's would
  scripts.attach();
  auto run =
      server::CronScheduler::execute(cs, &scripts, options.cron_app, *job, std::time(nullptr));
  try {
    server::CronLedger(options.cron_ledger).record(run);
  } catch (const std::exception& e) {
    server::log::warn(e.what());
  }
  std::fputs(run.output.c_str(), stdout);
  std::printf("%s: %s in %lld ms\n", job->command.c_str(), run.status.c_str(),
              static_cast<long long>(run.duration_ms));
  std::fflush(nullptr);
  std::_Exit(run.status == "ok" ? 0 : 1);  // no interpreter finalisation for a one-off job
}

}  // namespace w2p::cmd
