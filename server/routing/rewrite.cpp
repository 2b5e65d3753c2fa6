#include "server/routing/rewrite.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cctype>

namespace w2p::server {

namespace {

// Target text split into literal runs and group references, parsed once.
struct Piece {
  std::string literal;
  int group = -1;  // >= 0: insert this group
};

std::vector<Piece> parse_target(std::string_view target, std::uint32_t groups) {
  std::vector<Piece> pieces;
  std::string literal;
  for (std::size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '$' && i + 1 < target.size() && target[i + 1] >= '0' && target[i + 1] <= '9') {
      int g = target[i + 1] - '0';
      if (static_cast<std::uint32_t>(g) > groups)
        throw RewriteError("target '" + std::string(target) + "' uses $" + std::to_string(g) +
                           " but the pattern has " + std::to_string(groups) + " group(s)");
      if (!literal.empty()) pieces.push_back({std::move(literal), -1});
      literal.clear();
      pieces.push_back({{}, g});
      ++i;
    } else if (c == '$' && i + 1 < target.size() && target[i + 1] == '$') {
      literal.push_back('$');  // "$$" is a literal dollar
      ++i;
    } else {
      literal.push_back(c);
    }
  }
  if (!literal.empty()) pieces.push_back({std::move(literal), -1});
  return pieces;
}

bool is_meta(char c) {
  return std::string_view(".[()*+?{|^$\\").find(c) != std::string_view::npos;
}

// True when the pattern has a '|' outside every group and class: then a leading '^' anchors
// only the first branch.
bool top_level_alternation(std::string_view p) {
  int depth = 0;
  bool in_class = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      ++i;
    } else if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < p.size() && p[i + 1] == '^') ++i;
      if (i + 1 < p.size() && p[i + 1] == ']') ++i;  // "[]...]" has a literal ']'
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == '|' && depth == 0) {
      return true;
    }
  }
  return false;
}

// The literal text every match of an anchored pattern starts with: "^/page(\\d+)" gives
// "/page". Only plain ASCII characters count; anything unsure ends the prefix.
std::string literal_prefix(std::string_view p) {
  std::string out;
  if (p.empty() || p[0] != '^' || top_level_alternation(p)) return out;
  for (std::size_t i = 1; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size() || !std::ispunct(static_cast<unsigned char>(p[i + 1]))) break;
      c = p[++i];  // an escaped punctuation character is itself
    } else if (is_meta(c) || static_cast<unsigned char>(c) >= 0x80 ||
               static_cast<unsigned char>(c) < 0x20 || c == ' ' || c == '#') {
      break;
    }
    char next = i + 1 < p.size() ? p[i + 1] : '\0';
    if (next == '*' || next == '?' || next == '{') break;  // this character is optional
    out.push_back(c);
    if (next == '+') break;
  }
  return out;
}

// Whether a pattern means the same inside "(?:...)|(?:...)": no group numbers, names or
// recursion that the other branches would shift.
bool combinable(std::string_view p) {
  for (std::size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i] == '\\') {
      char n = p[i + 1];
      if ((n >= '1' && n <= '9') || n == 'g' || n == 'k') return false;
      ++i;
      continue;
    }
    if (p[i] == '(' && (p[i + 1] == '*' || (p[i + 1] == '?' && i + 2 < p.size() &&
                                            std::string_view("(R&P+-0123456789").find(p[i + 2]) !=
                                                std::string_view::npos &&
                                            !(p[i + 2] == '-' && i + 3 < p.size() &&
                                              std::isalpha(static_cast<unsigned char>(p[i + 3]))))))
      return false;
  }
  return true;
}

struct MatchData {
  pcre2_match_data* data = pcre2_match_data_create(10, nullptr);
  ~MatchData() { pcre2_match_data_free(data); }
};

}  // namespace

struct RewriteRules::Rule {
  pcre2_code* code = nullptr;
  bool jit = false;
  std::string source;
  std::string prefix;  // a subject not starting with this cannot match: no regex run
  RewriteKind kind;
  std::vector<Piece> target;
  int status = 0;
  ~Rule() { pcre2_code_free(code); }
};

struct RewriteRules::Any {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Any() { pcre2_code_free(code); }
};

const RewriteRules::Any* RewriteRules::any() const {
  std::call_once(*any_once_, [this] {
    std::string all;
    for (const auto& r : rules_) {
      if (!combinable(r->source)) return;
      if (!all.empty()) all.push_back('|');
      all.append("(?:").append(r->source).append(")");
    }
    int err = 0;
    PCRE2_SIZE offset = 0;
    auto a = std::make_unique<Any>();
    a->code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(all.data()), all.size(),
                      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DUPNAMES | PCRE2_NO_AUTO_CAPTURE,
                      &err, &offset, nullptr);
    if (!a->code) return;  // then every rule is tried on its own
    a->jit = pcre2_jit_compile(a->code, PCRE2_JIT_COMPLETE) == 0;
    any_ = std::move(a);
  });
  return any_.get();
}

RewriteRules::RewriteRules() = default;
RewriteRules::~RewriteRules() = default;
RewriteRules::RewriteRules(RewriteRules&&) noexcept = default;
RewriteRules& RewriteRules::operator=(RewriteRules&&) noexcept = default;

std::size_t RewriteRules::size() const {
  return rules_.size();
}

void RewriteRules::add(std::string_view pattern, RewriteKind kind, std::string_view target,
                       int status) {
  any_.reset();
  any_once_ = std::make_unique<std::once_flag>();
  auto rule = std::make_unique<Rule>();
  int err = 0;
  PCRE2_SIZE offset = 0;
  rule->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                             PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &offset, nullptr);
  if (!rule->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw RewriteError("bad regular expression '" + std::string(pattern) + "' at offset " +
                       std::to_string(offset) + ": " + reinterpret_cast<char*>(msg));
  }
  // JIT when the platform has it; the interpreter otherwise (same results, slower).
  rule->jit = pcre2_jit_compile(rule->code, PCRE2_JIT_COMPLETE) == 0;
  rule->prefix = literal_prefix(pattern);
  rule->source.assign(pattern);
  std::uint32_t groups = 0;
  pcre2_pattern_info(rule->code, PCRE2_INFO_CAPTURECOUNT, &groups);
  rule->target = parse_target(target, std::min<std::uint32_t>(groups, 9));
  rule->kind = kind;
  if (kind == RewriteKind::redirect) {
    if (status == 0) status = 302;
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
      throw RewriteError("redirect status " + std::to_string(status) +
                         " is not one of 301, 302, 303, 307, 308");
    if (target.empty()) throw RewriteError("a redirect needs a target URL");
  } else if (kind == RewriteKind::deny) {
    status = 403;
  } else if (target.empty() || (target[0] != '/' && target[0] != '$')) {
    throw RewriteError("target '" + std::string(target) +
                       "' must start with '/' (or with a $N "
                       "group that holds the path)");
  }
  rule->status = status;
  rules_.push_back(std::move(rule));
}

std::optional<RewriteResult> RewriteRules::apply(std::string_view raw_path,
                                                 std::string_view raw_query) const {
  if (rules_.empty()) return std::nullopt;
  thread_local MatchData match;
  // Path and query joined in a per-thread buffer: no allocation per request once it has grown.
  thread_local std::string subject_storage;
  std::string_view subject = raw_path;
  if (!raw_query.empty()) {
    subject_storage.assign(raw_path).append("?").append(raw_query);
    subject = subject_storage;
  }
  if (const Any* a = any()) {
    int rc = a->jit ? pcre2_jit_match(a->code, reinterpret_cast<PCRE2_SPTR>(subject.data()),
                                      subject.size(), 0, 0, match.data, nullptr)
                    : pcre2_match(a->code, reinterpret_cast<PCRE2_SPTR>(subject.data()),
                                  subject.size(), 0, 0, match.data, nullptr);
    // Only a clean "no match" ends it; a resource limit hit leaves it to the rules one by one.
    if (rc == PCRE2_ERROR_NOMATCH) return std::nullopt;
  }
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = *rules_[i];
    // Most rules start "^/literal": a byte comparison turns most of them down.
    if (!subject.starts_with(rule.prefix)) continue;
    int rc = rule.jit ? pcre2_jit_match(rule.code, reinterpret_cast<PCRE2_SPTR>(subject.data()),
                                        subject.size(), 0, 0, match.data, nullptr)
                      : pcre2_match(rule.code, reinterpret_cast<PCRE2_SPTR>(subject.data()),
                                    subject.size(), 0, 0, match.data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) continue;
    RewriteResult out;
    out.rule = i;
    if (rc < 0) {
      // A limit hit (catastrophic backtracking, JIT stack): this rule's answer is unknown.
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      out.failed = true;
      out.error = "rewrite rule " + std::to_string(i + 1) + " '" + rule.source +
                  "' could not be evaluated: " + reinterpret_cast<char*>(msg);
      return out;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.data);
    out.kind = rule.kind;
    out.status = rule.status;
    for (const Piece& p : rule.target) {
      if (p.group < 0) {
        out.target.append(p.literal);
      } else if (p.group < rc && ov[2 * p.group] != PCRE2_UNSET) {
        out.target.append(subject.substr(ov[2 * p.group], ov[2 * p.group + 1] - ov[2 * p.group]));
      }
    }
    if (rule.kind == RewriteKind::deny) return out;
    if (rule.kind != RewriteKind::redirect && (out.target.empty() || out.target[0] != '/'))
      out.target.insert(0, 1, '/');
    if (rule.kind == RewriteKind::app && !raw_query.empty() &&
        out.target.find('?') == std::string::npos) {
      out.target.append("?").append(raw_query);
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace w2p::server
