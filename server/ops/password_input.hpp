#pragma once
// Reading a password for `set-admin-password`: from the terminal without echo (asked twice), or
// the first line of stdin when it is not a terminal (scripts, provisioning).

#include <optional>
#include <string>

namespace w2p::server {

// nullopt with `error` set when nothing usable was read.
std::optional<std::string> read_password(std::string& error);

}  // namespace w2p::server
