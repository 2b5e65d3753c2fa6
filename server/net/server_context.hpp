#pragma once
// State shared by the listener and every connection: options, routes, the application, and the
// live-connection registry used for graceful shutdown.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/app_interface.hpp"
#include "server/config/options.hpp"
#include "server/cron/cron_board.hpp"
#include "server/net/tls.hpp"
#include "server/ops/access_log.hpp"
#include "server/ops/status.hpp"
#include "server/routing/route.hpp"
#include "server/routing/site.hpp"
#include "server/static/compress_cache.hpp"
#include "server/static/file_cache.hpp"

namespace w2p::server {

// An open client connection as the registry sees it: counted (--max-connections, the status
// page, draining) and told when the server stops. A TLS client is one entry from accept to
// close, handshake and final flush included.
class Stoppable {
 public:
  // Closes the connection if it is idle between requests; one in the middle of a request
  // finishes it and closes afterwards.
  virtual void shutdown() = 0;

 protected:
  ~Stoppable() = default;
};

// Every live response channel, so that the end of the I/O threads can wake the workers
// waiting on them and cut them from their connections (no Asio object may outlive its
// io_context). Defined in connection.cpp.
class ChannelHub;
std::shared_ptr<ChannelHub> make_channel_hub();

struct ServerContext {
  explicit ServerContext(const Options& o) : options(o), files(o.file_cache) {}

  const Options& options;
  Application* app = nullptr;
  std::vector<StaticMount> statics;  // global mappings, after each site's own
  std::unique_ptr<SiteRouter> sites;
  std::unique_ptr<CompressCache> compress;  // null when on-the-fly compression is off
  std::unique_ptr<AccessLog> access_log;    // null without --access-log
  ServerStats stats;
  std::unique_ptr<TlsContext> tls;  // null without certificates
  CronBoard cron;                   // filled by the cron thread (web2py with --cron)
  FileCache files;

  // web2py: "<root>/applications" when serving web2py with native static files, else empty.
  std::string web2py_apps;
  // web2py: the real path of <root>/applications (it may be a symlink), for the private-file
  // check on the real path of every static file.
  std::string web2py_apps_real;
  // What routing reads (route.hpp), pointing into the members above.
  RouteConfig route;

  std::atomic<bool> stopping{false};
  std::atomic<bool> draining{false};  // --drain-delay: the health path says 503, serving goes on
  std::atomic<std::uint64_t> requests{0};  // request heads read, all connections
  std::atomic<std::uint64_t> accepted{0};  // connections registered, all time

  // Automatic HTTPS (set before serving when --domain is given): the key authorization for an
  // HTTP-01 token being validated, and the certificates' state for the status page (JSON).
  std::function<std::optional<std::string>(std::string_view token)> acme_challenge;
  std::function<std::string()> acme_status;

  // Called (on an I/O thread) when the last connection ends after stopping was set.
  std::function<void()> on_drained;

  // The response channels workers write into (connection.cpp); shared with them, as a worker
  // stuck in Python may hold its channel after this context is gone.
  std::shared_ptr<ChannelHub> channels = make_channel_hub();

  mutable std::mutex registry_mutex;
  std::unordered_map<const void*, std::weak_ptr<Stoppable>> connections;
  std::vector<std::function<void()>> resume_hooks;
  void add(const void* key, std::weak_ptr<Stoppable> c) {
    accepted.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(registry_mutex);
    connections.emplace(key, std::move(c));
  }
  // Tells every open connection that the server stops.
  void shutdown_all() {
    std::vector<std::shared_ptr<Stoppable>> live;
    {
      std::lock_guard lock(registry_mutex);
      live.reserve(connections.size());
      for (auto& [key, weak] : connections)
        if (auto c = weak.lock()) live.push_back(std::move(c));
    }
    for (auto& c : live) c->shutdown();
  }
  void remove(const void* key) {
    bool drained = false;
    std::vector<std::function<void()>> resume;
    {
      std::lock_guard lock(registry_mutex);
      connections.erase(key);
      drained = connections.empty() && stopping.load();
      resume.swap(resume_hooks);
    }
    for (auto& hook : resume) hook();
    if (drained && on_drained) on_drained();
  }
  // Runs `hook` once the next connection ends (a paused listener resumes accepting).
  void add_resume_hook(std::function<void()> hook) {
    std::lock_guard lock(registry_mutex);
    if (connections.size() < options.max_connections || connections.empty()) {
      hook();  // a connection ended meanwhile
      return;
    }
    resume_hooks.push_back(std::move(hook));
  }
  std::size_t connection_count() const {
    std::lock_guard lock(registry_mutex);
    return connections.size();
  }
};

}  // namespace w2p::server
