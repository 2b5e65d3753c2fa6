#include "embed/interpreter.hpp"

#include <Python.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "embed/py_util.hpp"
#include "server/app_interface.hpp"

namespace w2p::embed {
namespace {

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void check(PyStatus status, const char* what) {
  if (PyStatus_Exception(status)) {
    std::string msg = std::string("cannot start Python (") + what + ")";
    if (status.err_msg) msg += ": " + std::string(status.err_msg);
    throw std::runtime_error(msg);
  }
}

// PYTHONMALLOC is honoured (the sanitizer build needs "malloc"); the rest of the PYTHON*
// environment is not, so a shell's settings cannot change what the server runs.
PyMemAllocatorName allocator_from_env() {
  const char* v = std::getenv("PYTHONMALLOC");
  if (!v || !*v) return PYMEM_ALLOCATOR_NOT_SET;
  std::string s(v);
  if (s == "malloc") return PYMEM_ALLOCATOR_MALLOC;
  if (s == "malloc_debug") return PYMEM_ALLOCATOR_MALLOC_DEBUG;
  if (s == "pymalloc") return PYMEM_ALLOCATOR_PYMALLOC;
  if (s == "pymalloc_debug") return PYMEM_ALLOCATOR_PYMALLOC_DEBUG;
  if (s == "debug") return PYMEM_ALLOCATOR_DEBUG;
  return PYMEM_ALLOCATOR_DEFAULT;
}

// pymalloc's arenas, allocated as CPython does (anonymous mmap) and registered, so the memory
// report can tell Python's objects from the C heap (server/ops/memory.cpp).
void* arena_alloc(void*, std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  server::note_arena_allocated(p, size);
  return p;
}

void arena_free(void*, void* p, std::size_t size) {
  server::note_arena_freed(p);
  ::munmap(p, size);
}

}  // namespace

std::string find_python_dir() {
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    std::string dir(exe);
    dir = dir.substr(0, dir.rfind('/'));
    std::string installed = dir + "/../share/w2pserve/python";
    if (is_dir(installed + "/w2pserve")) return installed;
  }
  if (is_dir(std::string(W2P_PYTHON_DIR_INSTALLED) + "/w2pserve")) return W2P_PYTHON_DIR_INSTALLED;
  return W2P_PYTHON_DIR_SOURCE;
}

Interpreter::Interpreter(const InterpreterConfig& config) {
  PyPreConfig pre;
  PyPreConfig_InitIsolatedConfig(&pre);
  pre.utf8_mode = 1;
  pre.allocator = allocator_from_env();
  check(Py_PreInitialize(&pre), "pre-initialisation");
  PyObjectArenaAllocator arenas{nullptr, arena_alloc, arena_free};
  PyObject_SetArenaAllocator(&arenas);

  PyConfig c;
  PyConfig_InitIsolatedConfig(&c);
  struct Clear {
    PyConfig* c;
    ~Clear() { PyConfig_Clear(c); }
  } clear{&c};
  c.install_signal_handlers = 0;
  c.safe_path = 1;
  c.parse_argv = 0;
  c.buffered_stdio = 0;
  const char* nobytecode = std::getenv("PYTHONDONTWRITEBYTECODE");
  c.write_bytecode = (nobytecode && *nobytecode) ? 0 : 1;
  // Without an explicit program name CPython searches PATH (a pyenv shim here) and can load
  // another installation's standard library into Debian's libpython.
  check(PyConfig_SetBytesString(&c, &c.program_name, W2P_PYTHON_EXECUTABLE), "program name");
  const char* argv[] = {"w2pserve"};
  check(PyConfig_SetBytesArgv(&c, 1, const_cast<char* const*>(argv)), "argv");
  check(Py_InitializeFromConfig(&c), "initialisation");

  // sys.path: --pythonpath folders first, then the bundled package, then the standard ones
  // (CPython 3.11 computes those during initialisation, so they are prepended afterwards).
  std::vector<std::string> front = config.pythonpath;
  if (!config.python_dir.empty()) front.push_back(config.python_dir);
  PyObject* sys_path = PySys_GetObject("path");  // borrowed
  for (auto it = front.rbegin(); it != front.rend(); ++it) {
    char resolved[PATH_MAX];
    std::string p = ::realpath(it->c_str(), resolved) ? resolved : *it;
    PyObject* item = PyUnicode_DecodeFSDefault(p.c_str());
    if (!item || !sys_path || PyList_Insert(sys_path, 0, item) != 0) {
      Py_XDECREF(item);
      throw std::runtime_error("cannot add " + p + " to sys.path: " + format_python_error());
    }
    Py_DECREF(item);
  }

  // `threading` is not imported here: it costs ~650 KiB and many apps never use it. An app
  // that imports it while loading does so on this (the main) thread; CPython 3.11 copes with a
  // first import from a worker (bpo-1596321).
  // From here on the workers own the GIL; this thread takes it back only to finalise.
  main_state_ = PyEval_SaveThread();
}

void Interpreter::acquire() {
  PyEval_RestoreThread(static_cast<PyThreadState*>(main_state_));
}
void Interpreter::release() {
  main_state_ = PyEval_SaveThread();
}

Interpreter::~Interpreter() {
  if (abandoned_) return;
  acquire();
  Py_FinalizeEx();
}

}  // namespace w2p::embed
