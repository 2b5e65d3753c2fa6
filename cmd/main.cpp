// w2pserve: one process that serves a WSGI application (web2py or any other) in an embedded
// CPython, with static files served natively. main() parses the options and runs the command.

#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cmd/commands.hpp"
#include "server/log.hpp"
#include "server/ops/privileges.hpp"

namespace w2p::cmd {

int fail(const std::string& message, int code) {
  std::fprintf(stderr, "w2pserve: error: %s\n", message.c_str());
  return code;
}

std::string become_service_account(const server::Options& options) {
  return options.user.empty() ? server::root_check(options.allow_root)
                              : server::drop_privileges(options.user, options.group);
}

}  // namespace w2p::cmd

int main(int argc, char** argv) {
  using w2p::server::Options;
  // One malloc arena for every thread, before any thread exists. glibc gives each new thread
  // its own arena, and the Python worker's arena fragments and never gives back: with web2py
  // it held ~9.5 MiB more after 2,000 pages than the same work in the main arena (measured in
  // tests/bench/footprint.sh). Python's small objects come from pymalloc under the GIL and the
  // I/O threads allocate little, so the shared arena's lock is not contended. MALLOC_ARENA_MAX
  // or GLIBC_TUNABLES in the environment still decide when set.
  if (!std::getenv("MALLOC_ARENA_MAX") && !std::getenv("GLIBC_TUNABLES")) ::mallopt(M_ARENA_MAX, 1);
  // Relative paths on the command line are the start folder's, also for the re-executed image
  // of a reload (which runs from the web2py folder).
  if (!std::getenv("W2PSERVE_START_DIR")) {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd)) ::setenv("W2PSERVE_START_DIR", cwd, 1);
  }
  auto parsed = w2p::server::parse_options(argc, argv);
  if (!parsed.options) {
    std::fputs(parsed.text.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  const Options& options = *parsed.options;
  w2p::server::log::set_min_level(options.log_level);
  switch (options.command) {
    case Options::Command::check_config:
      return w2p::cmd::check_config(options);
    case Options::Command::import_lighttpd:
      return w2p::cmd::import_lighttpd(options);
    case Options::Command::cron_list:
      return w2p::cmd::cron_list(options);
    case Options::Command::cron_run:
      return w2p::cmd::cron_run(options);
    case Options::Command::set_admin_password:
      return w2p::cmd::set_admin_password(options);
    case Options::Command::memory_report:
      return w2p::cmd::memory_report(options);
    case Options::Command::serve:
      break;
  }
  return w2p::cmd::serve(options, argc, argv);
}
