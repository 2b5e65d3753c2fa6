#pragma once
// The error log: timestamped, levelled lines to stderr (or a file), safe from any thread.

#include <string_view>

namespace w2p::server::log {

enum class Level { debug, info, warn, error };

void set_min_level(Level level);
void write(Level level, std::string_view message);
inline void info(std::string_view m) {
  write(Level::info, m);
}
inline void warn(std::string_view m) {
  write(Level::warn, m);
}
inline void error(std::string_view m) {
  write(Level::error, m);
}
inline void debug(std::string_view m) {
  write(Level::debug, m);
}
// Writes a block (a traceback) as one record, each line prefixed.
void block(Level level, std::string_view title, std::string_view text);

// Sends the error log (standard error, so Python's own output too) to `path`, appending.
// Returns an error text, or "" on success.
std::string to_file(const std::string& path);
// Opens the file again at its path (after logrotate renamed it); no-op without a file.
void reopen();

}  // namespace w2p::server::log
