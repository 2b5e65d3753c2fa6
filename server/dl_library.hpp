#pragma once
// What the libraries loaded on demand (OpenSSL, libnghttp2) share: binding a symbol into a
// table slot, and loading once with the error reported again on every later use.

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace w2p::server::dl {

// dlopen(`soname`), or an exception saying what needs it and which Debian package has it:
// "<who>: cannot load <soname> (install <package>): <dlerror>".
inline void* open(const char* soname, const char* who, const char* package) {
  void* lib = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    throw std::runtime_error(std::string(who) + ": cannot load " + soname + " (install " + package +
                             "): " + ::dlerror());
  return lib;
}

// `slot` = the symbol `name` of `lib`; a required one that is missing throws, naming `library`.
template <class F>
void bind(void* lib, const char* library, F& slot, const char* name, bool required = true) {
  slot = reinterpret_cast<F>(::dlsym(lib, name));
  if (!slot && required) throw std::runtime_error(std::string(library) + " has no " + name);
}

// Fills `api` by `load(api)` the first time (thread-safe); a load that threw throws the same
// error on this and every later call.
template <class Api, class Load>
const Api& load_once(Api& api, Load load) {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [&] {
    try {
      load(api);
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  if (!error.empty()) throw std::runtime_error(error);
  return api;
}

}  // namespace w2p::server::dl
