#pragma once
// The HTTP server's lifecycle: the I/O context, signals, listeners, and graceful shutdown.
// Construct it before the interpreter starts: it installs the signal handling that Python must
// not take over, and binds the ports so a bad address fails before anything slow happens.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/app_interface.hpp"
#include "server/config/options.hpp"
#include "server/cron/cron_board.hpp"

namespace w2p::server {

class Server {
 public:
  explicit Server(const Options& options);  // throws std::runtime_error with a user-facing message
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void set_application(Application* app);
  void add_static(StaticMount mount);
  // Automatic HTTPS (before run()): a certificate into service for `names` (any thread; throws
  // std::runtime_error when it does not load), and what answers HTTP-01 challenges and the
  // status page's "acme" part.
  void install_certificate(const std::vector<std::string>& names, const std::string& cert,
                           const std::string& key);
  void set_alpn_challenge(const std::string& name, const std::string& cert, const std::string& key);
  void clear_alpn_challenge(const std::string& name);
  void set_acme(std::function<std::optional<std::string>(std::string_view token)> challenge,
                std::function<std::string()> status);
  std::vector<std::uint16_t> bound_ports() const;

  // Serves until SIGTERM/SIGINT and the graceful shutdown that follows. The calling thread is
  // one of the I/O threads.
  void run();

  // Begins a graceful shutdown, as SIGTERM does; safe from any thread.
  void stop();

  // Reload (SIGHUP, --max-requests, --max-rss, --watch): `check` runs first and returns an
  // error text when the new configuration is not valid (then nothing happens). Otherwise the
  // listeners stop accepting without closing, requests in flight finish, and run() returns
  // with reload_requested() true: the caller passes take_released_fds() to its next image.
  void set_reload_check(std::function<std::string()> check);
  bool reload_requested() const;
  CronBoard& cron_board();
  std::vector<int> take_released_fds();
  // The status page's counters, for the next image of a reload (W2PSERVE_STATS).
  std::string stats_for_next_image() const;
  // --max-rss off for this image (it starts above the limit: a reload would not help).
  void disable_max_rss();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace w2p::server
