#pragma once
// TLS keys the service account may not read (Let's Encrypt's privkey.pem is 0600 root). Started
// as root with --user, w2pserve forks a small helper before it switches users: the helper stays
// root, reads exactly the certificate and key files named at start, and hands their contents to
// the server on request over a socket pair that survives the in-place re-exec of a reload. So a
// reload as the service account reads renewed certificates with no change to their permissions.
// The helper holds no Python, no thread and no other descriptor; it ignores the server's signals
// and ends with the server.

#include <optional>
#include <string>
#include <vector>

namespace w2p::server::key_helper {

// As root, before any thread and before the switch to --user: forks the helper, which will read
// these files (and only these) for the server. Does nothing when not root or with no files.
// Returns an error text, or "".
std::string start(const std::vector<std::string>& files);

// The contents of `path`: read directly, or through the helper when this process may not
// (EACCES). nullopt with `error` set when neither can.
std::optional<std::string> read(const std::string& path, std::string& error);

// Before the listening sockets are passed on (as 3, 4, ...) for the re-exec of a reload: the
// helper's socket goes to the next image at a number >= `lowest` (it is close-on-exec otherwise,
// so no child of the application inherits it).
void keep_across_exec(int lowest);

}  // namespace w2p::server::key_helper
