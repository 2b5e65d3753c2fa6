#include "server/ops/privileges.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "server/ops/safe_open.hpp"

namespace w2p::server {

std::string drop_privileges(const std::string& user, const std::string& group) {
  errno = 0;
  passwd* pw = ::getpwnam(user.c_str());
  if (!pw) return "--user " + user + ": no such user";
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  std::string name = pw->pw_name;
  if (!group.empty()) {
    struct group* gr = ::getgrnam(group.c_str());
    if (!gr) return "--group " + group + ": no such group";
    gid = gr->gr_gid;
  }
  if (::getuid() == uid && ::geteuid() == uid && ::getgid() == gid) return "";  // already
  if (::geteuid() != 0)
    return "--user " + user + ": only root can switch users (this process runs as uid " +
           std::to_string(::geteuid()) + ")";
  if (::initgroups(name.c_str(), gid) != 0)
    return std::string("initgroups: ") + std::strerror(errno);
  if (::setgid(gid) != 0) return std::string("setgid: ") + std::strerror(errno);
  if (::setuid(uid) != 0) return std::string("setuid: ") + std::strerror(errno);
  // Make sure there is no way back.
  if (uid != 0 && (::setuid(0) == 0 || ::geteuid() == 0))
    return "--user " + user + ": root privileges could not be dropped";
  return "";
}

std::string root_check(bool allow_root) {
  if (::geteuid() != 0 || allow_root) return "";
  return "refusing to run Python as root: give --user www-data (the account to serve as; ports "
         "are bound and logs opened before switching), or --allow-root";
}

std::vector<std::string> unwritable_web2py_folders(const std::string& root) {
  std::vector<std::string> out;
  auto check = [&](const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
        ::access(path.c_str(), W_OK | X_OK) != 0)
      out.push_back(path);
  };
  std::string apps = root + "/applications";
  // admin's "create application" and "install" write here.
  check(apps);
  DIR* d = ::opendir(apps.c_str());
  if (!d) return out;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    std::string app = apps + "/" + name;
    struct stat st {};
    if (::stat(app.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    bool missing = false;
    for (const char* folder : {"sessions", "errors", "cache", "databases", "uploads", "private"}) {
      std::string path = app + "/" + folder;
      if (::stat(path.c_str(), &st) != 0) missing = true;  // web2py makes it on a first request
      check(path);
    }
    // A folder the application lacks is made by web2py in the application's own folder.
    if (missing) check(app);
  }
  return out;
}

std::string write_pidfile(const std::string& path) {
  std::string pid = std::to_string(::getpid());
  {
    std::ifstream in(path);
    std::string existing;
    if (in && std::getline(in, existing) && existing == pid) return "";
  }
  std::string err = replace_file(path, pid + "\n", 0644);
  if (!err.empty()) return "--pidfile " + path + ": " + err;
  return "";
}

}  // namespace w2p::server
