#pragma once
// The manual page (w2pserve.1, roff) from the same command line as --help: every option and
// subcommand with its help text and default, the [[site]] keys of the configuration file, and
// the signals, files and environment a server administrator needs. Printed by the hidden flag
// --man; the build writes it to w2pserve.1 and `cmake --install` puts it under share/man/man1.

#include <string>

namespace CLI {
class App;
}

namespace w2p::server {

std::string man_page(const CLI::App& cli);

}  // namespace w2p::server
