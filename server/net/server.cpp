#include "server/net/server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>

#include <sys/resource.h>

#include <csignal>
#include <fstream>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

#include "server/http/mime.hpp"
#include "server/log.hpp"
#include "server/net/connection.hpp"
#include "server/net/listener.hpp"
#include "server/net/nghttp2_api.hpp"
#include "server/net/server_context.hpp"
#include "server/ops/systemd.hpp"
#include "server/routing/web2py_static.hpp"

namespace w2p::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

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
        drain_timer(ioc),
        idle_timer(ioc),
        usr1(ioc, SIGUSR1),
        tick_timer(ioc),
        ctx(options) {}

  void wait_signal() {
    signals.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        request_reload("SIGHUP");
        return wait_signal();
      }
      if (ctx.stopping.load()) {
        log::warn("second stop signal: exiting without waiting for requests in flight");
        ioc.stop();
        return;
      }
      if (options.drain_delay > 0 && !ctx.draining.load() && sig == SIGTERM) {
        // The balancer sees the health path at 503 and takes this node out while it still
        // serves; then the stop proper. A second SIGTERM stops at once.
        ctx.draining = true;
        log::info("received SIGTERM: draining for " + std::to_string(options.drain_delay) +
                  " s (health checks answer 503, requests are still served), then stopping");
        drain_timer.expires_after(std::chrono::seconds(options.drain_delay));
        drain_timer.async_wait([this](boost::system::error_code e) {
          if (e || ctx.stopping.load()) return;
          log::info("drained: stopping (no new connections, finishing requests in flight)");
          begin_shutdown(false);
        });
        return wait_signal();
      }
      drain_timer.cancel();
      log::info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                ": stopping (no new connections, finishing requests in flight)");
      begin_shutdown(false);
      wait_signal();
    });
  }

  // SIGUSR1: reopen the logs (logrotate's postrotate).
  void wait_usr1() {
    usr1.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      log::reopen();
      if (ctx.access_log) ctx.access_log->reopen();
      log::info("SIGUSR1: logs reopened");
      wait_usr1();
    });
  }

  void request_reload(const std::string& why) {
    if (ctx.stopping.load()) return;
    if (reload_check) {
      std::string err = reload_check();
      if (!err.empty()) {
        log::error("reload (" + why + ") refused, still serving: " + err);
        return;
      }
    }
    if (options.drain_delay > 0) {
      // Behind a balancer: its health checks see 503 and it stops sending here before the
      // idle keep-alive connections it holds are closed (a request racing that close could
      // not be retried if it is a POST).
      if (ctx.draining.exchange(true)) return;  // already draining for a reload or a stop
      log::info("reloading (" + why + ") after draining for " +
                std::to_string(options.drain_delay) +
                " s (health checks answer 503, requests are still served)");
      drain_timer.expires_after(std::chrono::seconds(options.drain_delay));
      drain_timer.async_wait([this, why](boost::system::error_code e) {
        if (e || ctx.stopping.load()) return;
        log::info("reloading (" + why +
                  "): finishing requests in flight, then starting again in "
                  "place; new connections wait in the listen queue");
        begin_shutdown(true);
      });
      return;
    }
    log::info("reloading (" + why +
              "): finishing requests in flight, then starting again in "
              "place; new connections wait in the listen queue");
    begin_shutdown(true);
  }

  void begin_shutdown(bool reload) {
    ctx.stopping = true;
    if (reload) {
      reloading = true;
      systemd::notify("RELOADING=1");
      for (auto& l : listeners) {
        int fd = l->release();
        if (fd >= 0) released_fds.push_back(fd);
      }
    } else {
      systemd::notify("STOPPING=1");
      for (auto& l : listeners) l->stop();
    }
    ctx.shutdown_all();
    tick_timer.cancel();
    shutdown_timer.expires_after(std::chrono::seconds(options.shutdown_timeout));
    shutdown_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      log::warn("shutdown timeout: " + std::to_string(ctx.connection_count()) +
                " connection(s) still busy; closing them");
      ioc.stop();
    });
    if (ctx.connection_count() == 0) finish();
  }

  // Once a second while something needs watching: idle exit, request and memory limits,
  // watched files, the systemd watchdog. Nothing is armed when none of them is on.
  bool needs_tick() const {
    return options.idle_exit || options.max_requests || options.max_rss || !options.watch.empty() ||
           watchdog.count() > 0;
  }
  void tick() {
    auto period = std::chrono::microseconds(std::chrono::seconds(1));
    if (watchdog.count() > 0) period = std::min(period, watchdog / 2);
    tick_timer.expires_after(period);
    tick_timer.async_wait([this](boost::system::error_code ec) {
      if (ec || ctx.stopping.load()) return;
      auto now = std::chrono::steady_clock::now();
      if (watchdog.count() > 0) systemd::notify("WATCHDOG=1");
      if (options.idle_exit) {
        if (ctx.connection_count() > 0 || ctx.requests.load() != idle_requests) {
          idle_since = now;
          idle_requests = ctx.requests.load();
        } else if (now - idle_since >= std::chrono::seconds(options.idle_exit)) {
          log::info("no connection for " + std::to_string(options.idle_exit) + " s: exiting");
          return begin_shutdown(false);
        }
      }
      if (options.max_requests && ctx.requests.load() >= options.max_requests)
        return request_reload("after " + std::to_string(ctx.requests.load()) + " requests");
      if (options.max_rss) {
        std::uint64_t rss = server::resident_bytes();
        if (rss > options.max_rss && now - last_rss_reload_try > std::chrono::seconds(30)) {
          last_rss_reload_try = now;
          return request_reload("resident memory " + std::to_string(rss >> 10) +
                                " KiB passed --max-rss");
        }
      }
      for (auto& w : watched) {
        struct stat st {};
        bool exists = ::stat(w.path.c_str(), &st) == 0;
        bool changed = exists != w.exists ||
                       (exists && (st.st_mtim.tv_sec != w.st.st_mtim.tv_sec ||
                                   st.st_mtim.tv_nsec != w.st.st_mtim.tv_nsec ||
                                   st.st_size != w.st.st_size || st.st_ino != w.st.st_ino));
        if (changed) {
          w.exists = exists;
          w.st = st;
          return request_reload(w.path + " changed");
        }
      }
      tick();
    });
  }

  void setup_listeners();

  void finish() {
    net::post(ioc, [this] {
      boost::system::error_code ec;
      signals.cancel(ec);
      usr1.cancel(ec);
      tick_timer.cancel();
      shutdown_timer.cancel();
      drain_timer.cancel();
      idle_timer.cancel();
      work.reset();
    });
  }

  Options options;
  net::io_context ioc;
  net::signal_set signals;
  net::executor_work_guard<net::io_context::executor_type> work;
  net::steady_timer shutdown_timer;
  net::steady_timer drain_timer;
  net::steady_timer idle_timer;
  std::uint64_t idle_seen_requests = 0;
  bool idle_release_pending = false;

  // Memory a burst of requests left in the heap goes back once a second passes without one
  // (server::release_idle_memory, as the worker pool does after application requests): this
  // covers static files, HTTP/2 and TLS traffic that never reaches a worker. A few ms on the
  // I/O thread, once per burst.
  void idle_release() {
    idle_timer.expires_after(std::chrono::seconds(1));
    idle_timer.async_wait([this](boost::system::error_code ec) {
      if (ec || ctx.stopping.load()) return;
      std::uint64_t now = ctx.requests.load(std::memory_order_relaxed) +
                          ctx.accepted.load(std::memory_order_relaxed) + ctx.connection_count();
      if (now != idle_seen_requests) {
        idle_seen_requests = now;
        idle_release_pending = true;
      } else if (idle_release_pending) {
        idle_release_pending = false;
        release_idle_memory();
      }
      idle_release();
    });
  }
  net::signal_set usr1;
  net::steady_timer tick_timer;
  ServerContext ctx;
  std::vector<std::shared_ptr<Listener>> listeners;

  std::function<std::string()> reload_check;
  bool reloading = false;
  std::vector<int> released_fds;
  std::chrono::microseconds watchdog{0};
  std::chrono::steady_clock::time_point idle_since = std::chrono::steady_clock::now();
  std::uint64_t idle_requests = 0;
  std::chrono::steady_clock::time_point last_rss_reload_try{};
  struct Watched {
    std::string path;
    bool exists = false;
    struct stat st {};
  };
  std::vector<Watched> watched;
};

namespace {

// Every connection is a descriptor: take the whole hard limit (the soft default is often 1024),
// and say so when it is below what --max-connections allows.
void raise_descriptor_limit(unsigned max_connections) {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
      nofile.rlim_cur < max_connections + 64u)
    log::warn("the descriptor limit (" + std::to_string(nofile.rlim_cur) +
              ") is below --max-connections (" + std::to_string(max_connections) +
              "); beyond it accepting pauses until descriptors are free");
}

// What routing reads, pointing into the context.
void setup_routing(ServerContext& c, const Options& o) {
  c.statics = o.statics;
  c.sites = std::make_unique<SiteRouter>(o.sites, o.global_site);
  if (!o.root.empty()) {
    std::string why;
    if (o.web2py_static == Options::Web2pyStatic::automatic &&
        routes_rewrite_urls(o.root + "/routes.py"))
      why = "routes.py rewrites URLs";
    if (o.web2py_static == Options::Web2pyStatic::off) why = "--web2py-static off";
    if (why.empty())
      c.web2py_apps = o.root + "/applications";
    else
      log::info("web2py static files are served by web2py itself (" + why + ")");
    if (auto apps = real_directory(o.root + "/applications")) c.web2py_apps_real = *apps;
  }
  c.route.sites = c.sites.get();
  c.route.statics = &c.statics;
  c.route.status_path = o.status_path;
  c.route.web2py_root = o.root;
  c.route.web2py_apps = c.web2py_apps;
  c.route.default_app = o.default_app;
  c.route.has_app = false;
  std::string apps_dir = o.root + "/applications/";
  c.route.installed = [apps_dir](std::string_view app) {
    if (!is_web2py_name(app)) return false;
    struct stat st {};
    std::string dir = apps_dir;
    dir.append(app);
    return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
}

}  // namespace

// The listeners: sockets handed over by systemd (socket activation) or by this process before a
// reload are used first; an address one of them already covers is not bound again.
void Server::Impl::setup_listeners() {
  struct Want {
    ListenAddress address;
    ListenKind kind;
    bool proxy_protocol = false;
  };
  std::vector<Want> wants;
  for (const auto& a : options.listen)
    wants.push_back({a, ctx.tls ? ListenKind::tls : ListenKind::plain, options.proxy_protocol});
  for (const auto& a : options.http_listen) wants.push_back({a, ListenKind::plain});
  for (const auto& a : options.redirect_listen) wants.push_back({a, ListenKind::redirect});
  std::vector<std::shared_ptr<Listener>> inherited;
  for (int fd : systemd::take_listen_fds())
    inherited.push_back(std::make_shared<Listener>(ioc, fd, ctx));
  std::vector<bool> used(inherited.size(), false);
  for (const auto& want : wants) {
    std::shared_ptr<Listener> listener;
    for (std::size_t i = 0; i < inherited.size() && !listener; ++i) {
      boost::system::error_code ec;
      auto ip = net::ip::make_address(want.address.host, ec);
      auto ep = inherited[i]->local_endpoint();
      if (!used[i] && !ec && ip == ep.address() &&
          (want.address.port == 0 || want.address.port == ep.port())) {
        used[i] = true;
        listener = inherited[i];
      }
    }
    // With inherited sockets, the default --listen address is not added.
    if (!listener && !inherited.empty() && !options.listen_given &&
        want.kind != ListenKind::redirect && options.http_listen.empty())
      continue;
    if (!listener) listener = std::make_shared<Listener>(ioc, want.address, ctx);
    listener->set_kind(want.kind);
    listener->set_proxy_protocol(want.proxy_protocol);
    listeners.push_back(listener);
  }
  for (std::size_t i = 0; i < inherited.size(); ++i)
    if (!used[i]) listeners.push_back(inherited[i]);
  // Redirects go to the first TLS listener's port.
  std::uint16_t https_port = 443;
  for (const auto& l : listeners) {
    if (l->kind() != ListenKind::tls) continue;
    https_port = options.public_port ? options.public_port : l->local_endpoint().port();
    break;
  }
  for (auto& l : listeners)
    if (l->kind() == ListenKind::redirect) l->set_kind(ListenKind::redirect, https_port);
}

Server::Server(const Options& options) : impl_(std::make_unique<Impl>(options)) {
  std::signal(SIGPIPE, SIG_IGN);
  // After a reload: the counters go on from the previous image's.
  if (const char* saved = std::getenv("W2PSERVE_STATS")) {
    impl_->ctx.stats.restore(saved);
    ::unsetenv("W2PSERVE_STATS");
  }
  if (const char* n = std::getenv("W2PSERVE_RELOADS"))
    impl_->ctx.stats.reloads = std::strtoull(n, nullptr, 10);
  raise_descriptor_limit(options.max_connections);
  Impl& m = *impl_;
  setup_routing(m.ctx, m.options);
  if (!m.options.compress.dir.empty())
    m.ctx.compress = std::make_unique<CompressCache>(m.options.compress);
  if (!m.options.access_log.empty())
    m.ctx.access_log =
        std::make_unique<AccessLog>(m.options.access_log, m.options.access_log_format);
  m.ctx.on_drained = [this] { impl_->finish(); };
  auto certs = tls_certs_from(m.options);
  std::vector<std::string> acme_names;
  for (const auto& names : m.options.acme_certificates())
    acme_names.insert(acme_names.end(), names.begin(), names.end());
  if (!certs.empty() || !acme_names.empty()) {
    bool http2 = !m.options.no_http2;
    if (http2) {
      try {
        nghttp2();  // loaded now, once
      } catch (const std::exception& e) {
        log::warn(std::string(e.what()) + ": TLS listeners offer HTTP/1.1 only");
        http2 = false;
      }
    }
    m.ctx.tls = std::make_unique<TlsContext>(certs, http2, acme_names);
  }
  m.setup_listeners();
  m.watchdog = systemd::watchdog_interval();
  for (const auto& w : m.options.watch) {
    Impl::Watched entry;
    entry.path = w;
    entry.exists = ::stat(w.c_str(), &entry.st) == 0;
    m.watched.push_back(entry);
  }
  load_mime_types();
}

Server::~Server() = default;

void Server::set_application(Application* app) {
  impl_->ctx.app = app;
  impl_->ctx.route.has_app = app != nullptr;
}

void Server::install_certificate(const std::vector<std::string>& names, const std::string& cert,
                                 const std::string& key) {
  if (!impl_->ctx.tls) throw std::runtime_error("no TLS listener for " + names.front());
  impl_->ctx.tls->install(names, cert, key);
}

void Server::set_alpn_challenge(const std::string& name, const std::string& cert,
                                const std::string& key) {
  if (impl_->ctx.tls) impl_->ctx.tls->set_alpn_challenge(name, cert, key);
}

void Server::clear_alpn_challenge(const std::string& name) {
  if (impl_->ctx.tls) impl_->ctx.tls->clear_alpn_challenge(name);
}

void Server::set_acme(std::function<std::optional<std::string>(std::string_view)> challenge,
                      std::function<std::string()> status) {
  impl_->ctx.acme_challenge = std::move(challenge);
  impl_->ctx.acme_status = std::move(status);
}

void Server::add_static(StaticMount mount) {
  impl_->ctx.statics.push_back(std::move(mount));
}

std::vector<std::uint16_t> Server::bound_ports() const {
  std::vector<std::uint16_t> ports;
  for (const auto& l : impl_->listeners) ports.push_back(l->local_endpoint().port());
  return ports;
}

void Server::stop() {
  net::post(impl_->ioc, [this] {
    if (!impl_->ctx.stopping.load()) impl_->begin_shutdown(false);
  });
}

void Server::set_reload_check(std::function<std::string()> check) {
  impl_->reload_check = std::move(check);
}

bool Server::reload_requested() const {
  return impl_->reloading;
}

CronBoard& Server::cron_board() {
  return impl_->ctx.cron;
}

std::string Server::stats_for_next_image() const {
  return impl_->ctx.stats.save();
}

void Server::disable_max_rss() {
  impl_->options.max_rss = 0;
}

std::vector<int> Server::take_released_fds() {
  std::vector<int> fds;
  fds.swap(impl_->released_fds);
  return fds;
}

void Server::run() {
  impl_->wait_signal();
  impl_->wait_usr1();
  if (impl_->needs_tick()) impl_->tick();
  impl_->idle_release();
  for (auto& l : impl_->listeners) {
    auto ep = l->local_endpoint();
    std::string host = ep.address().to_string();
    if (ep.address().is_v6()) host = "[" + host + "]";
    const char* scheme = l->kind() == ListenKind::tls ? "https" : "http";
    log::info(std::string("listening on ") + scheme + "://" + host + ":" +
              std::to_string(ep.port()) +
              (l->kind() == ListenKind::redirect ? " (redirecting to HTTPS)" : ""));
    l->run();
  }
  systemd::notify("READY=1\nSTATUS=serving");
  std::vector<std::thread> extra;
  for (unsigned i = 1; i < impl_->options.io_threads; ++i)
    extra.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : extra) t.join();
  // Workers still writing into a connection are told it is gone, and the connections they
  // held are released here, while the io_context still exists.
  stop_channels(*impl_->ctx.channels);
  log::info("server stopped");
}

}  // namespace w2p::server
