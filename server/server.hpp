#pragma once
// The HTTP server's lifecycle: the I/O context, signals, listeners, and graceful shutdown.
// Construct it before the interpreter starts: it installs the signal handling that Python must
// not take over, and binds the ports so a bad address fails before anything slow happens.

#include <cstdint>
#include <memory>
#include <vector>

#include "server/app_interface.hpp"
#include "server/options.hpp"

namespace w2p::server {

class Server {
 public:
  explicit Server(const Options& options);  // throws std::runtime_error with a user-facing message
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void set_application(Application* app);
  void add_static(StaticMount mount);
  std::vector<std::uint16_t> bound_ports() const;

  // Serves until SIGTERM/SIGINT and the graceful shutdown that follows. The calling thread is
  // one of the I/O threads.
  void run();

  // Begins a graceful shutdown, as SIGTERM does; safe from any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace w2p::server
