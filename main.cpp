// w2pserve: wires the HTTP server (server/) to the embedded Python application (embed/).

#include <pybind11/embed.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>
#include <condition_variable>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "embed/app_loader.hpp"
#include "embed/cron_scripts.hpp"
#include "embed/interpreter.hpp"
#include "embed/web2py_loader.hpp"
#include "embed/worker_pool.hpp"
#include "embed/wsgi_gateway.hpp"
#include "server/config/config_file.hpp"
#include "server/cron/cron_ledger.hpp"
#include "server/cron/crontab.hpp"
#include "server/cron/scheduler.hpp"
#include "server/log.hpp"
#include "server/config/lighttpd_import.hpp"
#include "server/config/options.hpp"
#include "server/ops/password_input.hpp"
#include "server/ops/privileges.hpp"
#include "server/ops/safe_open.hpp"
#include "server/ops/systemd.hpp"
#include "server/net/tls.hpp"
#include "server/net/server.hpp"

namespace wlog = w2p::server::log;
namespace py = pybind11;

namespace {

int fail(const std::string& message, int code = 2) {
  std::fprintf(stderr, "w2pserve: error: %s\n", message.c_str());
  return code;
}

// Finalising Python waits for the application's non-daemon threads; bound that wait.
class ExitWatchdog {
 public:
  explicit ExitWatchdog(std::chrono::seconds limit)
      : thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
            wlog::warn("Python finalisation did not finish in time (threads left running by the "
                      "application?); exiting anyway");
            std::_Exit(0);
          }
        }) {}
  ~ExitWatchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Before any Python runs: --user switches to the service account; without it, root is refused
// unless --allow-root says otherwise.
std::string become_service_account(const w2p::server::Options& options) {
  return options.user.empty() ? w2p::server::root_check(options.allow_root)
                              : w2p::server::drop_privileges(options.user, options.group);
}

// Started as root with --user: the files made before the switch (logs, pidfile) belong to the
// service account, which reopens them on SIGUSR1 and after a reload.
void give_created_files_to(const w2p::server::Options& options) {
  if (::geteuid() != 0 || options.user.empty()) return;
  passwd* pw = ::getpwnam(options.user.c_str());
  if (!pw) return;  // drop_privileges reports it
  gid_t gid = pw->pw_gid;
  if (!options.group.empty())
    if (struct group* gr = ::getgrnam(options.group.c_str())) gid = gr->gr_gid;
  w2p::server::set_created_file_owner(pw->pw_uid, gid);
}

// `w2pserve --root DIR set-admin-password [--port N]`
int set_admin_password(const w2p::server::Options& options) {
  // It runs web2py's code: as the service account, like the server.
  if (std::string err = become_service_account(options); !err.empty()) return fail(err);
  int port = options.admin_port ? options.admin_port
             : options.public_port ? options.public_port
                                   : options.listen.front().port;
  std::string error;
  auto password = w2p::server::read_password(error);
  if (!password) return fail(error);
  if (::chdir(options.root.c_str()) != 0) return fail("cannot enter " + options.root);
  std::vector<std::string> path{options.root};
  path.insert(path.end(), options.pythonpath.begin(), options.pythonpath.end());
  std::string message, traceback;
  try {
    w2p::embed::Interpreter interpreter({path, ""});
    interpreter.with_gil([&] {
      try {
        w2p::embed::save_admin_password(options.root, *password, port);
      } catch (const w2p::embed::LoadError& e) {
        message = e.what();
        traceback = e.traceback;
      }
    });
  } catch (const std::exception& e) {
    message = e.what();
  }
  if (!message.empty()) {
    if (!traceback.empty()) std::fprintf(stderr, "%s\n", traceback.c_str());
    return fail(message);
  }
  std::printf("admin password saved in %s/parameters_%d.py (admin opens from 127.0.0.1, or over "
              "HTTPS, on port %d)\n",
              options.root.c_str(), port, port);
  return 0;
}

}  // namespace

// `w2pserve --root DIR cron list`: every job, its next run and its last (from the ledger).
int cron_list(const w2p::server::Options& options) {
  std::unique_ptr<w2p::server::CronLedger> ledger;
  if (::access(options.cron_ledger.c_str(), R_OK) == 0) {
    try {
      ledger = std::make_unique<w2p::server::CronLedger>(options.cron_ledger);
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }
  auto when = [](std::time_t t) {
    if (!t) return std::string("-");
    char buf[32];
    std::tm tm{};
    localtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return std::string(buf);
  };
  std::printf("%-14s %5s  %-16s  %-26s  %s\n", "app", "line", "next run", "last run", "command");
  for (const auto& app : w2p::server::cron_apps(options.root)) {
    std::string path = options.root + "/applications/" + app + "/cron/crontab";
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    auto tab = w2p::server::parse_crontab(text.str());
    for (const auto& err : tab.errors)
      std::fprintf(stderr, "%s:%d: %s (line skipped)\n", path.c_str(), err.line, err.message.c_str());
    for (const auto& job : tab.jobs) {
      std::string next = job.reboot ? "@reboot" : when(job.next_after(std::time(nullptr)).value_or(0));
      std::string last = "-";
      if (ledger) {
        if (auto run = ledger->last(app, job.command))
          last = when(run->started) + " " + run->status;
      }
      std::printf("%-14s %5d  %-16s  %-26s  %s\n", app.c_str(), job.line, next.c_str(), last.c_str(),
                  job.command.c_str());
    }
  }
  return 0;
}

// `w2pserve --root DIR cron run APP LINE`: the job, now, in this process (recorded in the ledger).
int cron_run(const w2p::server::Options& options, const std::string& python_dir) {
  // It runs the application's code: as the service account, like the server.
  if (std::string err = become_service_account(options); !err.empty()) return fail(err);
  std::string path = options.root + "/applications/" + options.cron_app + "/cron/crontab";
  std::ifstream in(path);
  if (!in) return fail("cron run: cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto tab = w2p::server::parse_crontab(text.str());
  const w2p::server::CronJob* job = nullptr;
  for (const auto& j : tab.jobs)
    if (j.line == options.cron_line) job = &j;
  if (!job) return fail("cron run: " + path + " has no job on line " + std::to_string(options.cron_line));
  if (::chdir(options.root.c_str()) != 0) return fail("cannot enter " + options.root);
  std::vector<std::string> sys_path{options.root};
  sys_path.insert(sys_path.end(), options.pythonpath.begin(), options.pythonpath.end());
  w2p::embed::Interpreter interpreter({sys_path, python_dir});
  std::string err;
  interpreter.with_gil([&] {
    try {
      w2p::embed::load_web2py(options.root);  // gluon on the path, set up as for serving
    } catch (const std::exception& e) {
      err = e.what();
    }
  });
  if (!err.empty()) return fail(err);
  w2p::server::CronSettings cs;
  cs.root = options.root;
  cs.cron = true;
  cs.allow_exec = options.cron_allow_exec;
  cs.timeout = options.cron_timeout;
  w2p::embed::CronScripts scripts;  // this thread runs it, as the scheduler's would
  scripts.attach();
  auto run = w2p::server::CronScheduler::execute(cs, &scripts, options.cron_app, *job, std::time(nullptr));
  try {
    w2p::server::CronLedger(options.cron_ledger).record(run);
  } catch (const std::exception& e) {
    wlog::warn(e.what());
  }
  std::fputs(run.output.c_str(), stdout);
  std::printf("%s: %s in %lld ms\n", job->command.c_str(), run.status.c_str(),
              static_cast<long long>(run.duration_ms));
  std::fflush(nullptr);
  std::_Exit(run.status == "ok" ? 0 : 1);  // no interpreter finalisation for a one-off job
}

// The reload check: the configuration the next image will read must be valid, and the log
// files it will open must be writable by the account this process now runs as.
std::string check_reload(int argc, char** argv) {
  auto again = w2p::server::parse_options(argc, argv);
  if (!again.options) {
    std::string text = again.text;
    if (text.starts_with("w2pserve: error: ")) text = text.substr(17);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  // Certificates are read again by the next image, as the current user.
  auto certs = w2p::server::tls_certs_from(*again.options);
  if (!certs.empty()) {
    std::string tls = w2p::server::check_tls_files(certs);
    if (!tls.empty()) return tls;
  }
  for (const std::string* path : {&again.options->access_log, &again.options->error_log}) {
    if (path->empty()) continue;
    std::string why;
    int fd = w2p::server::open_for_append(*path, why);
    if (fd < 0) return "cannot open " + *path + " as this user: " + why;
    ::close(fd);
  }
  return "";
}

int main(int argc, char** argv) {
  // The binary to start again on reload: the file on disk (an upgraded binary is picked up).
  char exe[4096];
  ssize_t exe_len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[exe_len > 0 ? exe_len : 0] = '\0';
  auto parsed = w2p::server::parse_options(argc, argv);
  if (!parsed.options) {
    std::fputs(parsed.text.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  const auto& options = *parsed.options;
  using Command = w2p::server::Options::Command;
  if (options.command == Command::import_lighttpd) {
    try {
      std::fputs(w2p::server::import_lighttpd(options.command_file).c_str(), stdout);
      return 0;
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }
  if (options.command == Command::check_config) {
    // Building the server compiles every site and rule, as a real start does (no port is bound).
    try {
      w2p::server::SiteRouter router(options.sites, options.global_site);
    } catch (const std::exception& e) {
      return fail(e.what());
    }
    std::fputs(w2p::server::describe_config(options).c_str(), stdout);
    std::fputs("# configuration OK\n", stdout);
    return 0;
  }
  wlog::set_min_level(options.log_level);
  if (options.command == Command::set_admin_password) return set_admin_password(options);
  if (options.command == Command::cron_list) return cron_list(options);
  if (options.command == Command::cron_run) return cron_run(options, w2p::embed::find_python_dir());

  give_created_files_to(options);
  if (!options.error_log.empty()) {
    std::string err = wlog::to_file(options.error_log);
    if (!err.empty()) return fail(err);
  }

  // The server first: it binds the ports, opens the logs and takes the signals before Python
  // can; then the pidfile; then, still before Python, the switch to the service account.
  std::unique_ptr<w2p::server::Server> server;
  try {
    server = std::make_unique<w2p::server::Server>(options);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  if (!options.pidfile.empty()) {
    std::string err = w2p::server::write_pidfile(options.pidfile);
    if (!err.empty()) return fail(err);
  }
  if (std::string err = become_service_account(options); !err.empty()) return fail(err);
  if (!options.root.empty()) {
    for (const auto& folder : w2p::server::unwritable_web2py_folders(options.root))
      wlog::warn(folder + " is not writable by this process (uid " + std::to_string(::geteuid()) +
                 "): web2py needs to write there (chown it to the --user account)");
  }
  if (!options.compress.dir.empty() && ::access(options.compress.dir.c_str(), W_OK | X_OK) != 0)
    wlog::warn("--compress-cache " + options.compress.dir +
               " is not writable by this process: nothing will be compressed on the fly");

  std::string python_dir = w2p::embed::find_python_dir();
  std::string app_spec = options.app;
  std::vector<std::string> sys_path = options.pythonpath;
  w2p::embed::GatewayOptions gateway_options;
  bool web2py = !options.root.empty();
  if (web2py) {
    // As handlers/wsgihandler.py: work from the web2py folder, with it first on sys.path.
    if (::chdir(options.root.c_str()) != 0) return fail("cannot enter " + options.root);
    sys_path.insert(sys_path.begin(), options.root);
    app_spec = "web2py " + options.root;
    // web2py then sends response.stream() and downloads through wsgi.file_wrapper: natively.
    gateway_options.extra_flags.push_back({"web2py.use_wsgi_file_wrapper", true});
  } else if (app_spec.empty()) {
    app_spec = "w2pserve.demo.app:application";
    server->add_static({"/static", python_dir + "/w2pserve/demo/static"});
  }

  std::unique_ptr<w2p::embed::Interpreter> interpreter;
  try {
    interpreter = std::make_unique<w2p::embed::Interpreter>(
        w2p::embed::InterpreterConfig{sys_path, python_dir});
  } catch (const std::exception& e) {
    return fail(e.what());
  }

  std::unique_ptr<w2p::embed::WsgiGateway> gateway;
  std::string load_error, load_traceback;
  interpreter->with_gil([&] {
    try {
      py::object app = web2py ? w2p::embed::load_web2py(options.root)
                              : w2p::embed::load_wsgi_app(app_spec);
      gateway = std::make_unique<w2p::embed::WsgiGateway>(std::move(app), gateway_options);
    } catch (const w2p::embed::LoadError& e) {
      load_error = e.what();
      load_traceback = e.traceback;
    } catch (const std::exception& e) {
      load_error = e.what();
    }
  });
  if (!gateway) {
    if (!load_traceback.empty()) std::fprintf(stderr, "%s\n", load_traceback.c_str());
    return fail(load_error);
  }

  auto pool = std::make_unique<w2p::embed::WorkerPool>(
      options.workers, options.queue_size,
      [&gw = *gateway](const std::shared_ptr<w2p::server::AppRequest>& request,
                       w2p::server::ResponseSink& sink) { gw.handle(request, sink); },
      options.request_timeout);
  server->set_application(pool.get());
  wlog::info("serving " + app_spec + " with " + std::to_string(options.workers) +
            " Python worker(s), pid " + std::to_string(::getpid()));

  // The housekeeping thread (web2py): cron in this interpreter, and the session/ticket janitor.
  std::unique_ptr<w2p::embed::CronScripts> cron_scripts;
  std::unique_ptr<w2p::server::CronScheduler> cron;
  if (web2py && (options.cron || options.session_max_age || options.ticket_max_age)) {
    w2p::server::CronSettings cs;
    cs.root = options.root;
    cs.cron = options.cron;
    cs.allow_exec = options.cron_allow_exec;
    cs.timeout = options.cron_timeout;
    cs.ledger = options.cron_ledger;
    cs.session_max_age = options.session_max_age;
    cs.ticket_max_age = options.ticket_max_age;
    try {
      if (options.cron) cron_scripts = std::make_unique<w2p::embed::CronScripts>();
      cron = std::make_unique<w2p::server::CronScheduler>(cs, server->cron_board(), cron_scripts.get());
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }
  server->set_reload_check([argc, argv] { return check_reload(argc, argv); });
  server->run();

  if (server->reload_requested()) {
    // In place: the same process id, the listening sockets kept open (clients wait in their
    // backlog), and never two interpreters in memory at once. Python is not finalised: exec
    // replaces the whole image.
    std::vector<int> fds = server->take_released_fds();
    cron.reset();
    pool->stop(std::chrono::seconds(5));
    server.reset();  // flushes the access log
    const char* count = std::getenv("W2PSERVE_RELOADS");
    std::string next = std::to_string((count ? std::strtoull(count, nullptr, 10) : 0) + 1);
    ::setenv("W2PSERVE_RELOADS", next.c_str(), 1);
    if (!w2p::server::systemd::pass_listen_fds(fds)) return fail("reload: cannot pass the listening sockets on", 1);
    std::fflush(nullptr);
    ::execv(exe, argv);
    return fail(std::string("reload: cannot start ") + exe + " again: " + std::strerror(errno), 1);
  }

  cron.reset();
  bool workers_done = pool->stop(std::chrono::seconds(5));
  if (!workers_done) {
    wlog::warn("a Python worker is still busy after shutdown; exiting without finalising Python");
    std::fflush(nullptr);
    std::_Exit(0);
  }
  pool.reset();
  server.reset();
  if (!options.pidfile.empty()) ::unlink(options.pidfile.c_str());
  {
    ExitWatchdog watchdog(std::chrono::seconds(10));
    interpreter->with_gil([&] { gateway.reset(); });
    interpreter.reset();
  }
  return 0;
}
