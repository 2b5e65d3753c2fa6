#pragma once
// Running as a service account: dropping from root to --user/--group (with the user's
// supplementary groups) after the ports are bound and before Python starts, refusing to run
// Python as root by accident, the folders web2py must be able to write, and the pidfile.

#include <string>
#include <vector>

namespace w2p::server {

// Switches to `user` (and `group`, default the user's primary group). Already running as that
// user (an in-place reload) is fine. Returns an error text, or "".
std::string drop_privileges(const std::string& user, const std::string& group);

// The error to stop with when this process would run Python as root, or "".
std::string root_check(bool allow_root);

// Folders below a web2py root that web2py writes to and that this process cannot write:
// applications/ (admin creates applications there), each application's sessions, errors,
// cache, databases, uploads and private (admin's hosts.deny), and an application's own folder
// when one of those is missing (web2py makes it on the first request).
std::vector<std::string> unwritable_web2py_folders(const std::string& root);

// Writes the pid (an existing file holding this pid already, as after a reload, is fine).
std::string write_pidfile(const std::string& path);

}  // namespace w2p::server
