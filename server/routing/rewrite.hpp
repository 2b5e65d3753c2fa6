#pragma once
// URL rewriting with lighttpd's url.rewrite-once semantics: PCRE2 (JIT) patterns tested in order
// against the raw URL (path, plus "?query" when there is one); the first match wins; $0..$9 in
// the target are the match and its groups; the query string is kept unless the target sets one.
// A target is an application URL, a static file path, a redirect, or "deny" (403).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace w2p::server {

enum class RewriteKind { app, static_file, redirect, deny };

struct RewriteResult {
  RewriteKind kind = RewriteKind::app;
  std::string target;  // app: new raw path[?query]; static: a path; redirect: the Location
  int status = 0;      // redirect status
  std::size_t rule = 0;
  // A rule could not be evaluated (PCRE2 hit its match or depth limit on this URL): the request
  // must fail closed, never skip the rule (it may be a deny). `error` says why, for the log.
  bool failed = false;
  std::string error;
};

class RewriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RewriteRules {
 public:
  RewriteRules();
  ~RewriteRules();
  RewriteRules(RewriteRules&&) noexcept;
  RewriteRules& operator=(RewriteRules&&) noexcept;

  // Throws RewriteError with a user-facing message (bad regex with its offset, a $N beyond the
  // pattern's groups, a redirect status that is not 301/302/303/307/308).
  void add(std::string_view pattern, RewriteKind kind, std::string_view target, int status = 0);

  // The first rule that matches `raw_path` plus `raw_query`, rewritten; nullopt when none does;
  // a result with `failed` set when a rule could not be evaluated.
  std::optional<RewriteResult> apply(std::string_view raw_path, std::string_view raw_query) const;

  std::size_t size() const;

 private:
  struct Rule;
  struct Any;
  const Any* any() const;
  std::vector<std::unique_ptr<Rule>> rules_;
  // All rules as one alternation, built on first use: one regex run tells a URL that matches no
  // rule (the common case: static files, most pages) from one that needs the rule-by-rule pass.
  mutable std::unique_ptr<Any> any_;
  mutable std::unique_ptr<std::once_flag> any_once_ = std::make_unique<std::once_flag>();
};

}  // namespace w2p::server
