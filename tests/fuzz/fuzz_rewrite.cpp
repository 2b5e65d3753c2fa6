// Rewrite substitution: rules built from the input's first lines, applied to its last line.
// Also differential: the quick tests in front of the rules (a literal prefix, one combined
// regex) must never turn down a URL that the pattern, run alone by PCRE2, matches.

#include <cstdint>
#include <cstdlib>
#include <string>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "server/routing/rewrite.hpp"

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
    rules.add("^/never-matches-this$", RewriteKind::app, "/x");
    rules.add(pattern, RewriteKind::app, target);
  } catch (const RewriteError&) {
    return 0;
  }
  size_t q = url.find('?');
  std::string path = url.substr(0, q), query = q == std::string::npos ? "" : url.substr(q + 1);
  auto r = rules.apply(path, query);
  // A rule PCRE2 cannot evaluate on this URL (e.g. "^(?0)X", a recursion that loops) fails
  // closed: a result marked failed, which the server answers with 500. Any other result is a
  // path.
  if (r && r->failed && r->error.empty()) std::abort();
  if (r && !r->failed && (r->target.empty() || r->target[0] != '/')) std::abort();

  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &offset, nullptr);
  if (code) {
    // The same engine as the server (JIT where there is one): JIT and interpreter can disagree
    // on invalid UTF-8, and what is checked here is only the quick tests in front of the rules.
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    std::string subject = query.empty() ? path : path + "?" + query;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0,
                         md, nullptr);
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    if (rc >= 0 && !r.has_value()) std::abort();
  }
  return 0;
}
