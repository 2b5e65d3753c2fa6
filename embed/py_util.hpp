#pragma once
// Small helpers for the raw CPython API. Every function here requires the GIL.

#include <string>

namespace w2p::embed {

// Fetches and clears the current Python exception and returns it formatted as a traceback
// (as the traceback module would print it). Empty when no exception is set.
std::string format_python_error();

}  // namespace w2p::embed
