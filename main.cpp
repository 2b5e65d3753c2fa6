// w2pserve: wires the HTTP server (server/) to the embedded Python application (embed/).

#include <pybind11/embed.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "embed/app_loader.hpp"
#include "embed/interpreter.hpp"
#include "embed/web2py_loader.hpp"
#include "embed/worker_pool.hpp"
#include "embed/wsgi_gateway.hpp"
#include "server/config_file.hpp"
#include "server/error_log.hpp"
#include "server/lighttpd_import.hpp"
#include "server/options.hpp"
#include "server/password_input.hpp"
#include "server/server.hpp"

namespace wlog = w2p::server::log;
namespace py = pybind11;

namespace {

int fail(const std::string& message, int code = 2) {
  std::fprintf(stderr, "w2pserve: error: %s\n", message.c_str());
  return code;
}

wlog::Level level_from(const std::string& s) {
  if (s == "debug") return wlog::Level::debug;
  if (s == "warn") return wlog::Level::warn;
  if (s == "error") return wlog::Level::error;
  return wlog::Level::info;
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

// `w2pserve --root DIR set-admin-password [--port N]`
int set_admin_password(const w2p::server::Options& options) {
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

int main(int argc, char** argv) {
  auto parsed = w2p::server::parse_options(argc, argv);
  if (!parsed.options) {
    std::fputs(parsed.text.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  const auto& options = *parsed.options;
  if (!options.import_lighttpd.empty()) {
    try {
      std::fputs(w2p::server::import_lighttpd(options.import_lighttpd).c_str(), stdout);
      return 0;
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }
  if (options.check_config) {
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
  wlog::set_min_level(level_from(options.log_level));
  if (options.set_admin_password) return set_admin_password(options);

  // The server first: it binds the ports and takes the signals before Python can.
  std::unique_ptr<w2p::server::Server> server;
  try {
    server = std::make_unique<w2p::server::Server>(options);
  } catch (const std::exception& e) {
    return fail(e.what());
  }

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

  server->run();

  bool workers_done = pool->stop(std::chrono::seconds(5));
  if (!workers_done) {
    wlog::warn("a Python worker is still busy after shutdown; exiting without finalising Python");
    std::fflush(nullptr);
    std::_Exit(0);
  }
  pool.reset();
  server.reset();
  {
    ExitWatchdog watchdog(std::chrono::seconds(10));
    interpreter->with_gil([&] { gateway.reset(); });
    interpreter.reset();
  }
  return 0;
}
