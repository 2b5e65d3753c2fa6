#include "server/http/http_date.hpp"

#include <cstdio>
#include <cstring>

namespace w2p::server {
namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int month_index(std::string_view m) {
  for (int i = 0; i < 12; ++i)
    if (m == kMonths[i]) return i;
  return -1;
}

bool parse_num(std::string_view s, int& out) {
  if (s.empty() || s.size() > 4) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

bool parse_clock(std::string_view s, std::tm& tm) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
  return parse_num(s.substr(0, 2), tm.tm_hour) && parse_num(s.substr(3, 2), tm.tm_min) &&
         parse_num(s.substr(6, 2), tm.tm_sec) && tm.tm_hour < 24 && tm.tm_min < 60 &&
         tm.tm_sec < 61;
}

std::optional<std::time_t> finish(std::tm& tm) {
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_mon < 0 || tm.tm_year < 0) return std::nullopt;
  std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return t;
}

}  // namespace

std::string format_http_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::optional<std::time_t> parse_http_date(std::string_view s) {
  std::tm tm{};
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (s.size() == 29 && s[3] == ',' && s.substr(25) == " GMT") {
    int year = 0;
    if (s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ') return std::nullopt;
    if (!parse_num(s.substr(5, 2), tm.tm_mday)) return std::nullopt;
    tm.tm_mon = month_index(s.substr(8, 3));
    if (!parse_num(s.substr(12, 4), year) || !parse_clock(s.substr(17, 8), tm)) return std::nullopt;
    tm.tm_year = year - 1900;
    return finish(tm);
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
    int year = 0;
    tm.tm_mon = month_index(s.substr(4, 3));
    std::string_view day = s.substr(8, 2);
    if (day[0] == ' ') day.remove_prefix(1);
    if (!parse_num(day, tm.tm_mday) || !parse_clock(s.substr(11, 8), tm) ||
        !parse_num(s.substr(20, 4), year))
      return std::nullopt;
    tm.tm_year = year - 1900;
    return finish(tm);
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
  size_t comma = s.find(", ");
  if (comma != std::string_view::npos && s.size() == comma + 2 + 22 &&
      s.substr(s.size() - 4) == " GMT") {
    std::string_view r = s.substr(comma + 2);
    int yy = 0;
    if (r[2] != '-' || r[6] != '-' || r[9] != ' ') return std::nullopt;
    if (!parse_num(r.substr(0, 2), tm.tm_mday)) return std::nullopt;
    tm.tm_mon = month_index(r.substr(3, 3));
    if (!parse_num(r.substr(7, 2), yy) || !parse_clock(r.substr(10, 8), tm)) return std::nullopt;
    // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
    tm.tm_year = yy < 70 ? yy + 100 : yy;
    return finish(tm);
  }
  return std::nullopt;
}

const std::string& current_http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    cached_second = now;
    cached = format_http_date(now);
  }
  return cached;
}

}  // namespace w2p::server
