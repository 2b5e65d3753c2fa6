#pragma once
// Opening the files a server started as root writes (logs, the pidfile) in folders that a less
// trusted account may be able to write: a symlink or hard link planted there must never make
// root truncate or append to another file.

#include <sys/types.h>

#include <string>

namespace w2p::server {

// Files this process creates from now on are given to this account (set when started as root
// with --user, so that the service account can reopen its logs after a reload or a rotation).
void set_created_file_owner(uid_t uid, gid_t gid);

// Opens `path` for appending, created (mode 0640) when missing. In a folder that another
// account can write, an existing file must be a regular file with a single link, reached
// without following a symlink; in a folder only root (or this account) can change, anything
// goes (/dev/stderr). Returns the descriptor, or -1 with `error` set.
int open_for_append(const std::string& path, std::string& error);

// Replaces `path` with `text` through a fresh temporary file beside it (created exclusively, so
// a planted `path.tmp` is never followed) and a rename (which replaces a symlink at `path`
// itself, never its target). Returns an error text, or "".
std::string replace_file(const std::string& path, const std::string& text, mode_t mode);

}  // namespace w2p::server
