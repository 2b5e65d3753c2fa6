#pragma once
// The process: main() parses the options (server/config/) and runs one command. Each command
// wires server/ (HTTP, configuration, operations) and embed/ (CPython) together; nothing else
// knows both.

#include <string>

#include "server/config/options.hpp"

namespace w2p::cmd {

// "w2pserve: error: MESSAGE" on standard error; returns `code` (2: a usage or start-up error).
int fail(const std::string& message, int code = 2);

// Before any Python runs: --user switches to the service account; without it, root is refused
// unless --allow-root says otherwise. Returns an error text, or "".
std::string become_service_account(const server::Options& options);

// Serving: start, reload in place, stop (serve.cpp).
int serve(const server::Options& options, int argc, char** argv);

// The subcommands, each in its file.
int check_config(const server::Options& options);        // config_commands.cpp
int import_lighttpd(const server::Options& options);     // config_commands.cpp
int cron_list(const server::Options& options);           // cron_commands.cpp
int cron_run(const server::Options& options);            // cron_commands.cpp
int set_admin_password(const server::Options& options);  // admin_password.cpp
int memory_report(const server::Options& options);       // memory_report.cpp

}  // namespace w2p::cmd
