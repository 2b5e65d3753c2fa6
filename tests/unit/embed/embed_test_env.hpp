#pragma once
// One interpreter for the whole unit_embed process (re-initialising CPython is unsupported).

#include <pybind11/pybind11.h>

#include "embed/interpreter.hpp"

namespace w2p::test {
embed::Interpreter& interpreter();

template <class F>
auto with_gil(F&& f) {
  return interpreter().with_gil(std::forward<F>(f));
}
}  // namespace w2p::test
