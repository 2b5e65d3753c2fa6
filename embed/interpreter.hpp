#pragma once
// Starting and stopping the embedded CPython: Debian's interpreter, no signal handlers of its own,
// an environment read on purpose, and the GIL released for the workers once start-up is done.

#include <string>
#include <vector>

namespace w2p::embed {

struct InterpreterConfig {
  std::vector<std::string> pythonpath;  // put first on sys.path, in order
  std::string python_dir;               // the folder holding the bundled `w2pserve` package
};

class Interpreter {
 public:
  explicit Interpreter(const InterpreterConfig& config);  // throws std::runtime_error
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Runs `fn` on this (the main) thread with the GIL held.
  template <class F>
  auto with_gil(F&& fn) {
    struct Reacquire {
      Interpreter& i;
      explicit Reacquire(Interpreter& in) : i(in) { i.acquire(); }
      ~Reacquire() { i.release(); }
    } guard(*this);
    return fn();
  }

  // Skips Py_FinalizeEx at destruction (a worker never came back; finalizing would hang).
  void abandon() { abandoned_ = true; }

 private:
  void acquire();
  void release();
  void* main_state_ = nullptr;
  bool abandoned_ = false;
};

// The folder of the bundled Python package: next to the installed binary, else the source tree.
std::string find_python_dir();

}  // namespace w2p::embed
