#include "server/server.hpp"

#include <sys/resource.h>

#include <csignal>
#include <fstream>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

#include "server/connection.hpp"
#include "server/error_log.hpp"
#include "server/listener.hpp"
#include "server/mime.hpp"
#include "server/server_context.hpp"

namespace w2p::server {

namespace net = boost::asio;

namespace {

// True when web2py's routes.py defines routes_in or routers, which can remap static URLs: then
// only web2py itself knows which file a URL names.
bool routes_rewrite_urls(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    size_t i = line.find_first_not_of(" \t");
    if (i == std::string::npos) continue;
    std::string_view l(line.data() + i, line.size() - i);
    if (l.starts_with("routes_in") || l.starts_with("routers")) return true;
  }
  return false;
}

}  // namespace

struct Server::Impl {
  explicit Impl(const Options& o)
      : options(o),
        // One I/O thread: the reactor needs no locks (posting from workers still locks the
        // scheduler's queue, which this hint keeps).
        ioc(o.io_threads == 1 ? BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO
                              : static_cast<int>(o.io_threads)),
        signals(ioc, SIGINT, SIGTERM, SIGHUP),
        work(net::make_work_guard(ioc)),
        shutdown_timer(ioc),
        ctx(options) {}

  void wait_signal() {
    signals.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        log::warn("SIGHUP received: reloading is not supported yet; still serving");
        return wait_signal();
      }
      if (ctx.stopping.load()) {
        log::warn("second stop signal: exiting without waiting for requests in flight");
        ioc.stop();
        return;
      }
      log::info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                ": stopping (no new connections, finishing requests in flight)");
      begin_shutdown();
      wait_signal();
    });
  }

  void begin_shutdown() {
    ctx.stopping = true;
    for (auto& l : listeners) l->stop();
    {
      std::lock_guard lock(ctx.registry_mutex);
      for (Connection* c : ctx.connections) shutdown_connection(c);
    }
    shutdown_timer.expires_after(std::chrono::seconds(options.shutdown_timeout));
    shutdown_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      log::warn("shutdown timeout: " + std::to_string(ctx.connection_count()) +
                " connection(s) still busy; closing them");
      ioc.stop();
    });
    if (ctx.connection_count() == 0) finish();
  }

  void finish() {
    net::post(ioc, [this] {
      boost::system::error_code ec;
      signals.cancel(ec);
      shutdown_timer.cancel();
      work.reset();
    });
  }

  Options options;
  net::io_context ioc;
  net::signal_set signals;
  net::executor_work_guard<net::io_context::executor_type> work;
  net::steady_timer shutdown_timer;
  ServerContext ctx;
  std::vector<std::shared_ptr<Listener>> listeners;
};

Server::Server(const Options& options) : impl_(std::make_unique<Impl>(options)) {
  std::signal(SIGPIPE, SIG_IGN);
  // Every connection is a descriptor: take the whole hard limit (the soft default is often
  // 1024), and say so when it is below what --max-connections allows.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
      nofile.rlim_cur < options.max_connections + 64u)
    log::warn("the descriptor limit (" + std::to_string(nofile.rlim_cur) +
              ") is below --max-connections (" + std::to_string(options.max_connections) +
              "); beyond it accepting pauses until descriptors are free");
  impl_->ctx.statics = impl_->options.statics;
  impl_->ctx.sites = std::make_unique<SiteRouter>(impl_->options.sites, impl_->options.global_site);
  if (!impl_->options.compress.dir.empty())
    impl_->ctx.compress = std::make_unique<CompressCache>(impl_->options.compress);
  if (!impl_->options.root.empty()) {
    const std::string& mode = impl_->options.web2py_static;
    std::string why;
    if (mode == "auto" && routes_rewrite_urls(impl_->options.root + "/routes.py"))
      why = "routes.py rewrites URLs";
    if (mode == "off") why = "--web2py-static off";
    if (why.empty())
      impl_->ctx.web2py_apps = impl_->options.root + "/applications";
    else
      log::info("web2py static files are served by web2py itself (" + why + ")");
  }
  impl_->ctx.on_drained = [this] { impl_->finish(); };
  for (const auto& address : impl_->options.listen)
    impl_->listeners.push_back(std::make_shared<Listener>(impl_->ioc, address, impl_->ctx));
  load_mime_types();
}

Server::~Server() = default;

void Server::set_application(Application* app) { impl_->ctx.app = app; }

void Server::add_static(StaticMount mount) { impl_->ctx.statics.push_back(std::move(mount)); }

std::vector<std::uint16_t> Server::bound_ports() const {
  std::vector<std::uint16_t> ports;
  for (const auto& l : impl_->listeners) ports.push_back(l->local_endpoint().port());
  return ports;
}

void Server::stop() {
  net::post(impl_->ioc, [this] {
    if (!impl_->ctx.stopping.load()) impl_->begin_shutdown();
  });
}

void Server::run() {
  impl_->wait_signal();
  for (auto& l : impl_->listeners) {
    auto ep = l->local_endpoint();
    std::string host = ep.address().to_string();
    if (ep.address().is_v6()) host = "[" + host + "]";
    log::info("listening on http://" + host + ":" + std::to_string(ep.port()));
    l->run();
  }
  std::vector<std::thread> extra;
  for (unsigned i = 1; i < impl_->options.io_threads; ++i)
    extra.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : extra) t.join();
  {
    std::lock_guard lock(impl_->ctx.channel_mutex);
    impl_->ctx.io_stopped = true;
  }
  impl_->ctx.channel_cv.notify_all();
  log::info("server stopped");
}

}  // namespace w2p::server
