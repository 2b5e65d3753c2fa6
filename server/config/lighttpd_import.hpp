#pragma once
// `w2pserve import-lighttpd FILE`: reads a lighttpd configuration of the kind web2py users deploy
// (a FastCGI handler, url.rewrite-once, $HTTP["host"] blocks, ...) and writes the equivalent
// w2pserve TOML, with a comment for every directive that could not be carried over and why.

#include <stdexcept>
#include <string>

namespace w2p::server {

class ImportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws ImportError (the file cannot be read, or is not lighttpd syntax: with file:line).
std::string import_lighttpd(const std::string& path);

}  // namespace w2p::server
