#pragma once
// The configuration file (TOML, read with toml++): global settings under the same names as the
// command-line flags, and [[site]] tables. Values land in the same places the command line
// writes to, before the command line is parsed, so a flag given on the command line wins.
// Every error names the file, the line and the key, and says what to write instead.

#include <string>
#include <vector>

#include "server/config/options.hpp"

namespace w2p::server {

// Command-line values kept as text until both sources are read (then converted once).
struct RawSettings {
  std::vector<std::string> listen;
  std::vector<std::string> statics;
  std::string max_body = "2G";
  std::string max_header = "64k";
};

// Reads `path` into `o` and `raw`; relative paths in it are taken from the file's folder.
// Throws OptionError("FILE:LINE: key: what is wrong (what to write)").
void load_config_file(const std::string& path, Options& o, RawSettings& raw);

// Checks the sites against the final options (after the command line): web2py settings need
// root, static rewrite targets need a document root, every regex compiles. Throws OptionError.
void check_sites(Options& o);

// The effective configuration, as TOML that load_config_file reads back.
std::string describe_config(const Options& o);

}  // namespace w2p::server
