// Serving: start (ports, logs, pidfile, privileges, then Python), reload in place, stop. The
// order matters: the server binds and takes the signals before Python can, the service account
// is taken before any Python runs, and never two interpreters are in memory at once.

#include <grp.h>
#include <pwd.h>
#include <pybind11/embed.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "cmd/commands.hpp"
#include "embed/app_loader.hpp"
#include "embed/cron_scripts.hpp"
#include "embed/interpreter.hpp"
#include "embed/web2py_loader.hpp"
#include "embed/worker_pool.hpp"
#include "embed/wsgi_gateway.hpp"
#include "server/acme/acme_manager.hpp"
#include "server/config/option_table.hpp"
#include "server/cron/scheduler.hpp"
#include "server/log.hpp"
#include "server/net/nghttp2_api.hpp"
#include "server/net/server.hpp"
#include "server/net/tls.hpp"
#include "server/ops/key_helper.hpp"
#include "server/ops/privileges.hpp"
#include "server/ops/safe_open.hpp"
#include "server/ops/status.hpp"
#include "server/ops/systemd.hpp"

namespace w2p::cmd {

namespace py = pybind11;
namespace wlog = server::log;

namespace {

// Finalising Python waits for the application's non-daemon threads; bound that wait.
class ExitWatchdog {
 public:
  explicit ExitWatchdog(std::chrono::seconds limit)
      : thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
            wlog::warn(
                "Python finalisation did not finish in time (threads left running by the "
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

// Started as root with --user: the files made before the switch (logs, pidfile) belong to the
// service account, which reopens them on SIGUSR1 and after a reload.
void give_created_files_to(const server::Options& options) {
  if (::geteuid() != 0 || options.user.empty()) return;
  passwd* pw = ::getpwnam(options.user.c_str());
  if (!pw) return;  // drop_privileges reports it
  gid_t gid = pw->pw_gid;
  if (!options.group.empty())
    if (struct group* gr = ::getgrnam(options.group.c_str())) gid = gr->gr_gid;
  server::set_created_file_owner(pw->pw_uid, gid);
}

// The reload check: the configuration the next image will read must be valid, what it changes
// must be changeable without a restart, and the files it will open must be openable by the
// account this process now runs as.
std::string check_reload(const server::Options& now, int argc, char** argv) {
  auto again = server::parse_options(argc, argv);
  if (!again.options) {
    std::string text = again.text;
    if (text.starts_with("w2pserve: error: ")) text = text.substr(17);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  // Run as root (no --user), the new image can bind new ports; as the service account, not.
  if (::geteuid() != 0) {
    for (const auto& spec : server::option_table())
      if (!spec.reload && spec.get(now) != spec.get(*again.options))
        return std::string(spec.name) +
               " changed: a reload cannot apply it (the process runs as "
               "uid " +
               std::to_string(::geteuid()) + "); restart instead";
  }
  // Certificates are read again by the next image, as the current user.
  auto certs = server::tls_certs_from(*again.options);
  if (!certs.empty()) {
    std::string tls = server::check_tls_files(certs);
    if (!tls.empty()) return tls;
  }
  for (const std::string* path : {&again.options->access_log, &again.options->error_log}) {
    if (path->empty()) continue;
    std::string why;
    int fd = server::open_for_append(*path, why);
    if (fd < 0) return "cannot open " + *path + " as this user: " + why;
    ::close(fd);
  }
  return "";
}

// The server first: it binds the ports, opens the logs and takes the signals before Python can;
// then the pidfile; then, still before Python, the switch to the service account.
std::unique_ptr<server::Server> start_server(const server::Options& options, std::string& err) {
  give_created_files_to(options);
  // Before any thread and before the switch to --user: the helper that reads TLS keys only root
  // may read, for this image and the next ones of reloads.
  if (!options.user.empty()) {
    std::vector<std::string> files;
    for (const auto& c : server::tls_certs_from(options)) {
      files.push_back(c.cert);
      files.push_back(c.key);
    }
    err = server::key_helper::start(files);
    if (!err.empty()) return nullptr;
  }
  if (!options.error_log.empty()) {
    err = wlog::to_file(options.error_log);
    if (!err.empty()) return nullptr;
  }
  std::unique_ptr<server::Server> srv;
  try {
    if (options.h2c) server::nghttp2();  // loaded now: a missing library is a start-up error
    srv = std::make_unique<server::Server>(options);
  } catch (const std::exception& e) {
    err = e.what();
    return nullptr;
  }
  if (!options.pidfile.empty()) {
    err = server::write_pidfile(options.pidfile);
    if (!err.empty()) return nullptr;
  }
  err = become_service_account(options);
  if (!err.empty()) return nullptr;
  if (!options.root.empty())
    for (const auto& folder : server::unwritable_web2py_folders(options.root))
      wlog::warn(folder + " is not writable by this process (uid " + std::to_string(::geteuid()) +
                 "): web2py needs to write there (" +
                 (options.user.empty()
                      ? std::string("make it writable by uid ") + std::to_string(::geteuid())
                      : "chown it to " + options.user) +
                 ")");
  // The pidfile is removed at exit by the account the server then runs as.
  if (!options.pidfile.empty()) {
    std::string folder = options.pidfile.substr(0, options.pidfile.rfind('/'));
    if (folder.empty()) folder = "/";
    if (::access(folder.c_str(), W_OK | X_OK) != 0)
      wlog::warn("--pidfile " + options.pidfile + ": its folder is not writable by uid " +
                 std::to_string(::geteuid()) +
                 ", so the file stays behind at exit (use a folder of the service account's, "
                 "e.g. /run/w2pserve/ from the unit's RuntimeDirectory=w2pserve)");
  }
  for (const auto& w : options.watch) {
    struct stat st {};
    if (::stat(w.c_str(), &st) != 0)
      wlog::warn("--watch " + w + ": no such file yet (a reload follows when it appears)");
  }
  if (options.idle_exit && !options.root.empty() &&
      (options.cron || options.session_max_age || options.ticket_max_age))
    wlog::warn("--idle-exit " + std::to_string(options.idle_exit) +
               " s: while the server is not running, cron jobs and the session/ticket janitor "
               "do not run either (give --idle-exit 0, or run them from a timer)");
  if (!options.compress.dir.empty() && ::access(options.compress.dir.c_str(), W_OK | X_OK) != 0)
    wlog::warn("--compress-cache " + options.compress.dir +
               " is not writable by this process: nothing will be compressed on the fly");
  return srv;
}

struct Application {
  std::unique_ptr<embed::Interpreter> interpreter;
  std::unique_ptr<embed::WsgiGateway> gateway;
  std::string spec;  // for the log: "web2py /srv/web2py" or module:callable
};

// The interpreter and the application: web2py's wsgibase, --app, or the bundled demo.
bool load_application(const server::Options& options, server::Server& srv, Application& app,
                      std::string& err) {
  std::string python_dir = embed::find_python_dir();
  wlog::debug("w2pserve's Python package: " + python_dir);
  app.spec = options.app;
  std::vector<std::string> sys_path = options.pythonpath;
  embed::GatewayOptions gateway_options;
  bool web2py = !options.root.empty();
  if (web2py) {
    // As handlers/wsgihandler.py: work from the web2py folder, with it first on sys.path.
    if (::chdir(options.root.c_str()) != 0) {
      err = "cannot enter " + options.root;
      return false;
    }
    sys_path.insert(sys_path.begin(), options.root);
    app.spec = "web2py " + options.root;
    // web2py then sends response.stream() and downloads through wsgi.file_wrapper: natively.
    gateway_options.extra_flags.push_back({"web2py.use_wsgi_file_wrapper", true});
  } else if (app.spec.empty()) {
    app.spec = "w2pserve.demo.app:application";
    srv.add_static({"/static", python_dir + "/w2pserve/demo/static"});
  }
  try {
    app.interpreter =
        std::make_unique<embed::Interpreter>(embed::InterpreterConfig{sys_path, python_dir});
  } catch (const std::exception& e) {
    err = e.what();
    return false;
  }
  std::string traceback;
  app.interpreter->with_gil([&] {
    try {
      py::object wsgi =
          web2py ? embed::load_web2py(options.root, {options.web2py_view_cache, options.lean,
                                                     !server::tls_certs_from(options).empty()})
                 : embed::load_wsgi_app(app.spec);
      app.gateway = std::make_unique<embed::WsgiGateway>(std::move(wsgi), gateway_options);
    } catch (const embed::LoadError& e) {
      err = e.what();
      traceback = e.traceback;
    } catch (const std::exception& e) {
      err = e.what();
    }
  });
  if (!app.gateway && !traceback.empty()) std::fprintf(stderr, "%s\n", traceback.c_str());
  return app.gateway != nullptr;
}

// --max-rss below what the server needs once started would reload it for ever: refused at the
// first start, switched off (and said so) after a reload that already started above it.
// A start-up error once Python runs: said, then the process ends without tearing the
// interpreter and its threads down (nothing was served yet; there is nothing to finish).
int fail_with_python(const std::string& message) {
  fail(message);
  std::fflush(nullptr);
  std::_Exit(2);
}

std::string check_max_rss(const server::Options& options, server::Server& srv) {
  if (!options.max_rss) return "";
  std::uint64_t rss = server::resident_bytes();
  if (rss < options.max_rss) return "";
  std::string what = "--max-rss " + std::to_string(options.max_rss >> 10) + " KiB is below the " +
                     "server's size once started (" + std::to_string(rss >> 10) + " KiB)";
  if (!std::getenv("W2PSERVE_RELOADS"))
    return what + ": give at least " + std::to_string((rss + (rss >> 1)) >> 20) +
           "M (a reload would not bring it under)";
  wlog::error(what +
              ": reloads on memory are off until the next start (a reload would not "
              "bring it under)");
  srv.disable_max_rss();
  return "";
}

// In place: the same process id, the listening sockets kept open (clients wait in their
// backlog), and never two interpreters in memory at once. Python is not finalised: exec
// replaces the whole image. Returns only when it fails.
int reload_in_place(std::unique_ptr<server::Server> srv, embed::WorkerPool& pool, char** argv) {
  std::vector<int> fds = srv->take_released_fds();
  pool.stop(std::chrono::seconds(5));
  ::setenv("W2PSERVE_STATS", srv->stats_for_next_image().c_str(), 1);
  srv.reset();  // flushes the access log; a worker still in Python holds nothing of it
  const char* count = std::getenv("W2PSERVE_RELOADS");
  std::string next = std::to_string((count ? std::strtoull(count, nullptr, 10) : 0) + 1);
  ::setenv("W2PSERVE_RELOADS", next.c_str(), 1);
  server::key_helper::keep_across_exec(3 + static_cast<int>(fds.size()));
  if (!server::systemd::pass_listen_fds(fds))
    return fail("reload: cannot pass the listening sockets on", 1);
  // The binary to start again: the file on disk (an upgraded binary is picked up).
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  std::fflush(nullptr);
  ::execv(exe, argv);
  return fail(std::string("reload: cannot start ") + exe + " again: " + std::strerror(errno), 1);
}

}  // namespace

int serve(const server::Options& options, int argc, char** argv) {
  std::string err;
  auto srv = start_server(options, err);
  if (!srv) return fail(err);
  Application app;
  if (!load_application(options, *srv, app, err)) return fail(err);

  auto pool = std::make_unique<embed::WorkerPool>(
      options.workers, options.queue_size,
      [&gw = *app.gateway](const std::shared_ptr<server::AppRequest>& request,
                           server::ResponseSink& sink) { gw.handle(request, sink); },
      options.request_timeout);
  pool->collect_when_idle(options.lean);
  pool->track_imports_by_app(!options.root.empty());
  srv->set_application(pool.get());
  std::unique_ptr<server::acme::AcmeManager> acme;
  if (auto acme_certificates = options.acme_certificates(); !acme_certificates.empty()) {
    // Automatic HTTPS: stored certificates in service now; the thread orders what is missing
    // and renews, while the server already serves (HTTP at once, HTTPS once a certificate is
    // there).
    server::acme::AcmeConfig ac;
    ac.certificates = acme_certificates;
    ac.settings.directory = options.acme_directory;
    ac.settings.email = options.acme_email;
    ac.settings.ca_file = options.acme_ca_root;
    ac.settings.agree_tos = options.acme_agree_tos;
    ac.settings.challenge = options.acme_challenge;
    if (!options.acme_eab_kid.empty()) {
      std::ifstream f(options.acme_eab_key_file);
      std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.pop_back();
      std::optional<std::string> key = f ? server::acme::base64url_decode(text) : std::nullopt;
      if (!f || !key || key->empty())
        return fail_with_python("--acme-eab-key-file " + options.acme_eab_key_file +
                                (f ? ": not a base64url key"
                                   : ": cannot read it as uid " + std::to_string(::geteuid())));
      ac.settings.eab_kid = options.acme_eab_kid;
      ac.settings.eab_key = *key;
    }
    ac.dir = options.acme_dir;
    ac.renew_before = options.acme_renew_before;
    // An order touches code and heap nothing else uses (libcrypto's EC and X.509, the HTTPS
    // client, JSON): given back once it is done, as after a burst of requests.
    ac.after_attempt = [] { server::release_idle_memory(); };
    try {
      acme = std::make_unique<server::acme::AcmeManager>(
          ac, [&s = *srv](const std::vector<std::string>& names, const std::string& cert,
                          const std::string& key) { s.install_certificate(names, cert, key); });
      acme->board().set_alpn = [&s = *srv](const std::string& name, const std::string& cert,
                                           const std::string& key) {
        s.set_alpn_challenge(name, cert, key);
      };
      acme->board().clear_alpn = [&s = *srv](const std::string& name) {
        s.clear_alpn_challenge(name);
      };
      acme->load_stored();
    } catch (const std::exception& e) {
      return fail_with_python(e.what());
    }
    srv->set_acme([m = acme.get()](std::string_view token) { return m->board().get(token); },
                  [m = acme.get()] { return m->status_json(); });
    acme->start();
  }
  if (std::string rss_err = check_max_rss(options, *srv); !rss_err.empty())
    return fail_with_python(rss_err);
  wlog::info("serving " + app.spec + " with " + std::to_string(options.workers) +
             " Python worker(s), pid " + std::to_string(::getpid()));

  // The housekeeping thread (web2py): cron in this interpreter, and the session/ticket janitor.
  std::unique_ptr<embed::CronScripts> cron_scripts;
  std::unique_ptr<server::CronScheduler> cron;
  if (!options.root.empty() &&
      (options.cron || options.session_max_age || options.ticket_max_age)) {
    server::CronSettings cs;
    cs.root = options.root;
    cs.cron = options.cron;
    cs.allow_exec = options.cron_allow_exec;
    cs.timeout = options.cron_timeout;
    cs.ledger = options.cron_ledger;
    cs.lock_url = options.cron_lock;
    cs.node = options.node_name;
    cs.session_max_age = options.session_max_age;
    cs.ticket_max_age = options.ticket_max_age;
    cs.first_start = std::getenv("W2PSERVE_RELOADS") == nullptr;
    try {
      if (options.cron) cron_scripts = std::make_unique<embed::CronScripts>();
      cron = std::make_unique<server::CronScheduler>(cs, srv->cron_board(), cron_scripts.get());
    } catch (const std::exception& e) {
      return fail_with_python(e.what());
    }
  }
  srv->set_reload_check([&options, argc, argv] { return check_reload(options, argc, argv); });
  // What start-up alone used (imports' garbage, option parsing, Python's compiler for modules
  // without a .pyc) goes back before the first request.
  server::release_idle_memory();
  srv->run();

  acme.reset();
  cron.reset();
  if (srv->reload_requested()) return reload_in_place(std::move(srv), *pool, argv);
  if (!pool->stop(std::chrono::seconds(5))) {
    wlog::warn("a Python worker is still busy after shutdown; exiting without finalising Python");
    std::fflush(nullptr);
    std::_Exit(0);
  }
  pool.reset();
  srv.reset();
  if (!options.pidfile.empty()) ::unlink(options.pidfile.c_str());
  ExitWatchdog watchdog(std::chrono::seconds(10));
  app.interpreter->with_gil([&] { app.gateway.reset(); });
  app.interpreter.reset();
  return 0;
}

}  // namespace w2p::cmd
