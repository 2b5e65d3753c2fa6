#pragma once
// State shared by the listener and every connection: options, routes, the application, and the
// live-connection registry used for graceful shutdown.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "server/access_log.hpp"
#include "server/app_interface.hpp"
#include "server/cron_board.hpp"
#include "server/compress_cache.hpp"
#include "server/file_cache.hpp"
#include "server/options.hpp"
#include "server/route.hpp"
#include "server/site.hpp"
#include "server/status.hpp"
#include "server/tls.hpp"

namespace w2p::server {

class Connection;

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
  std::atomic<std::uint64_t> requests{0};  // request heads read, all connections

  // Called (on an I/O thread) when the last connection ends after stopping was set.
  std::function<void()> on_drained;

  // Workers waiting for a connection to take the next part of a response.
  std::mutex channel_mutex;
  std::condition_variable channel_cv;
  bool io_stopped = false;  // guarded by channel_mutex

  mutable std::mutex registry_mutex;
  std::unordered_set<Connection*> connections;
  std::vector<std::function<void()>> resume_hooks;
  void add(Connection* c) {
    std::lock_guard lock(registry_mutex);
    connections.insert(c);
  }
  void remove(Connection* c) {
    bool drained = false;
    std::vector<std::function<void()>> resume;
    {
      std::lock_guard lock(registry_mutex);
      connections.erase(c);
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
