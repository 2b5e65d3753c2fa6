#include "server/ops/safe_open.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace w2p::server {

namespace {

std::atomic<long long> g_owner_uid{-1}, g_owner_gid{-1};

void give_away(int fd) {
  long long uid = g_owner_uid.load(), gid = g_owner_gid.load();
  if (uid >= 0 && ::geteuid() == 0)
    (void)::fchown(fd, static_cast<uid_t>(uid), static_cast<gid_t>(gid));
}
}  // namespace

void set_created_file_owner(uid_t uid, gid_t gid) {
  g_owner_uid = uid;
  g_owner_gid = gid;
}

// A folder only this account (or root) can change: nothing in it was planted by anyone else,
// so a symlink there (/dev/stderr) is the administrator's own.
bool trusted_folder(const std::string& path) {
  std::size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return false;
  return (st.st_uid == 0 || st.st_uid == ::geteuid()) && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

int open_for_append(const std::string& path, std::string& error) {
  bool trusted = trusted_folder(path);
  int fd =
      ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd >= 0) {
    give_away(fd);
    return fd;
  }
  if (errno != EEXIST && !(trusted && errno == ELOOP)) {
    error = std::strerror(errno);
    return -1;
  }
  if (trusted) {
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) error = std::strerror(errno);
    return fd;
  }
  fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error = errno == ELOOP ? "it is a symbolic link (refused: write the real path)"
                           : std::strerror(errno);
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
    ::close(fd);
    error = S_ISREG(st.st_mode) ? "it has other hard links (refused)" : "not a regular file";
    return -1;
  }
  ::fcntl(fd, F_SETFL, O_WRONLY | O_APPEND);  // blocking writes again
  return fd;
}

std::string replace_file(const std::string& path, const std::string& text, mode_t mode) {
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a stale one, or something planted: removed, never followed
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return std::strerror(errno);
  give_away(fd);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return err;
  }
  return "";
}

}  // namespace w2p::server
