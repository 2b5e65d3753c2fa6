// Rewrite substitution: rules built from the input's first lines, applied to its last line.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/rewrite.hpp"

using namespace w2p::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  // Line 1: pattern; line 2: target; line 3: URL to rewrite.
  size_t a = s.find('\n');
  if (a == std::string::npos) return 0;
  size_t b = s.find('\n', a + 1);
  if (b == std::string::npos) return 0;
  std::string pattern = s.substr(0, a), target = s.substr(a + 1, b - a - 1), url = s.substr(b + 1);
  RewriteRules rules;
  try {
    rules.add(pattern, RewriteKind::app, target);
  } catch (const RewriteError&) {
    return 0;
  }
  size_t q = url.find('?');
  std::string path = url.substr(0, q), query = q == std::string::npos ? "" : url.substr(q + 1);
  auto r = rules.apply(path, query);
  if (r && (r->target.empty() || r->target[0] != '/')) std::abort();
  return 0;
}
