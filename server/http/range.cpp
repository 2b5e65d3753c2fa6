#include "server/http/range.hpp"

#include <algorithm>
#include <optional>

#include "server/http/http_date.hpp"

namespace w2p::server {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Digits only; a value too large for 64 bits saturates (it is past any file's end anyway).
std::optional<std::uint64_t> number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    unsigned d = static_cast<unsigned>(c - '0');
    if (v > (UINT64_MAX - d) / 10)
      v = UINT64_MAX;
    else
      v = v * 10 + d;
  }
  return v;
}

}  // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t size, std::size_t max_ranges) {
  RangeRequest out;
  header = trim(header);
  std::size_t eq = header.find('=');
  if (eq == std::string_view::npos || !iequal(trim(header.substr(0, eq)), "bytes")) return out;
  std::string_view rest = header.substr(eq + 1);
  std::vector<ByteRange> ranges;
  std::size_t specs = 0;
  while (true) {
    std::size_t comma = rest.find(',');
    std::string_view spec = trim(rest.substr(0, comma));
    if (!spec.empty()) {
      if (++specs > max_ranges) return {};
      std::size_t dash = spec.find('-');
      if (dash == std::string_view::npos) return {};
      std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
      if (a.empty()) {
        auto n = number(b);
        if (!n) return {};
        if (*n > 0 && size > 0) ranges.push_back({size > *n ? size - *n : 0, size - 1});
      } else {
        auto first = number(a);
        if (!first) return {};
        std::optional<std::uint64_t> last;
        if (!b.empty()) {
          last = number(b);
          if (!last || *last < *first) return {};
        }
        if (*first < size) ranges.push_back({*first, std::min(last.value_or(size - 1), size - 1)});
      }
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (specs == 0) return {};
  if (ranges.empty()) {
    out.kind = RangeRequest::unsatisfiable;
    return out;
  }
  // Parts go out in the order asked for, unless some overlap: then they are merged (sorted).
  if (ranges.size() > 1) {
    auto sorted = ranges;
    std::sort(sorted.begin(), sorted.end(),
              [](const ByteRange& x, const ByteRange& y) { return x.first < y.first; });
    bool overlap = false;
    for (std::size_t i = 1; i < sorted.size(); ++i)
      if (sorted[i].first <= sorted[i - 1].last) overlap = true;
    if (overlap) {
      ranges.clear();
      for (const auto& r : sorted) {
        if (!ranges.empty() && r.first <= ranges.back().last + 1)
          ranges.back().last = std::max(ranges.back().last, r.last);
        else
          ranges.push_back(r);
      }
    }
  }
  out.kind = RangeRequest::satisfiable;
  out.ranges = std::move(ranges);
  return out;
}

bool if_range_matches(std::string_view if_range, std::string_view etag, std::time_t mtime) {
  if_range = trim(if_range);
  if (if_range.empty()) return true;
  if (if_range.starts_with("W/")) return false;
  if (if_range.front() == '"') return if_range == etag;
  auto t = parse_http_date(if_range);
  return t && *t == mtime;
}

std::string content_range(const ByteRange& r, std::uint64_t size) {
  return "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
         std::to_string(size);
}

Multipart make_multipart(const std::vector<ByteRange>& ranges, std::uint64_t size,
                         std::string_view content_type, std::string boundary) {
  Multipart m;
  m.boundary = std::move(boundary);
  for (const auto& r : ranges) {
    std::string head = "\r\n--" + m.boundary + "\r\nContent-Type: ";
    head.append(content_type).append("\r\nContent-Range: ").append(content_range(r, size));
    head.append("\r\n\r\n");
    m.total += head.size() + r.length();
    m.part_heads.push_back(std::move(head));
  }
  m.tail = "\r\n--" + m.boundary + "--\r\n";
  m.total += m.tail.size();
  return m;
}

}  // namespace w2p::server
