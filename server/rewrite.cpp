#include "server/rewrite.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

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

struct MatchData {
  pcre2_match_data* data = pcre2_match_data_create(10, nullptr);
  ~MatchData() { pcre2_match_data_free(data); }
};

}  // namespace

struct RewriteRules::Rule {
  pcre2_code* code = nullptr;
  RewriteKind kind;
  std::vector<Piece> target;
  int status = 0;
  ~Rule() { pcre2_code_free(code); }
};

RewriteRules::RewriteRules() = default;
RewriteRules::~RewriteRules() = default;
RewriteRules::RewriteRules(RewriteRules&&) noexcept = default;
RewriteRules& RewriteRules::operator=(RewriteRules&&) noexcept = default;

std::size_t RewriteRules::size() const { return rules_.size(); }

void RewriteRules::add(std::string_view pattern, RewriteKind kind, std::string_view target, int status) {
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
  pcre2_jit_compile(rule->code, PCRE2_JIT_COMPLETE);
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
  } else if (target.empty() || (target[0] != '/' && target[0] != '$')) {
    throw RewriteError("target '" + std::string(target) + "' must start with '/' (or with a $N "
                       "group that holds the path)");
  }
  rule->status = status;
  rules_.push_back(std::move(rule));
}

std::optional<RewriteResult> RewriteRules::apply(std::string_view raw_path,
                                                 std::string_view raw_query) const {
  if (rules_.empty()) return std::nullopt;
  thread_local MatchData match;
  std::string subject_storage;
  std::string_view subject = raw_path;
  if (!raw_query.empty()) {
    subject_storage.reserve(raw_path.size() + raw_query.size() + 1);
    subject_storage.append(raw_path).append("?").append(raw_query);
    subject = subject_storage;
  }
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = *rules_[i];
    int rc = pcre2_match(rule.code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(),
                         0, 0, match.data, nullptr);
    if (rc < 0) continue;  // no match, or an error (treated as no match)
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.data);
    RewriteResult out;
    out.kind = rule.kind;
    out.status = rule.status;
    out.rule = i;
    for (const Piece& p : rule.target) {
      if (p.group < 0) {
        out.target.append(p.literal);
      } else if (p.group < rc && ov[2 * p.group] != PCRE2_UNSET) {
        out.target.append(subject.substr(ov[2 * p.group], ov[2 * p.group + 1] - ov[2 * p.group]));
      }
    }
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
