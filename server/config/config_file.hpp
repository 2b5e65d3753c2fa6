#pragma once
// The configuration file (TOML, read with toml++): global settings under the same names as the
// command-line flags, and [[site]] tables. Values land in the same places the command line
// writes to, before the command line is parsed, so a flag given on the command line wins.
// Every error names the file, the line and the key, and says what to write instead.

#include <string>
#include <vector>

#include "server/config/option_table.hpp"
#include "server/config/options.hpp"

namespace w2p::server {

// Reads `path`: the table options at its top level into `given` (with their lines, checked and
// set later like the command line's), the default site's rules and the [[site]] tables into
// `o`. Throws OptionError("FILE:LINE: key: what is wrong (what to write)").
void load_config_file(const std::string& path, Options& o, RawOptions& given);

// Checks the sites against the final options (after the command line): web2py settings need
// root, static rewrite targets need a document root, every regex compiles. Throws OptionError.
void check_sites(Options& o);

// The effective configuration, as TOML that load_config_file reads back.
std::string describe_config(const Options& o);

}  // namespace w2p::server
