// `check-config FILE` and `import-lighttpd FILE`: configuration without serving.

#include <cstdio>

#include "cmd/commands.hpp"
#include "server/config/config_file.hpp"
#include "server/config/lighttpd_import.hpp"
#include "server/routing/site.hpp"

namespace w2p::cmd {

int check_config(const server::Options& options) {
  // Building the router compiles every site and rule, as a real start does (no port is bound).
  try {
    server::SiteRouter router(options.sites, options.global_site);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  std::fputs(server::describe_config(options).c_str(), stdout);
  std::fputs("# configuration OK\n", stdout);
  return 0;
}

int import_lighttpd(const server::Options& options) {
  try {
    std::fputs(server::import_lighttpd(options.command_file).c_str(), stdout);
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

}  // namespace w2p::cmd
