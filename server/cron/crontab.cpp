#include "server/cron/crontab.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace w2p::server {
namespace {

const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                         "jul", "aug", "sep", "oct", "nov", "dec"};
const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A number, or a name from `names` (index + base).
bool value(std::string_view s, int lo, int hi, const char* const* names, int count, int base,
           int& out) {
  if (s.empty()) return false;
  if (std::isdigit(static_cast<unsigned char>(s[0]))) {
    int v = 0;
    for (char c : s) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || v > 1000) return false;
      v = v * 10 + (c - '0');
    }
    if (v < lo || v > hi) return false;
    out = v;
    return true;
  }
  std::string l = lower(s);
  for (int i = 0; i < count; ++i)
    if (l == names[i]) {
      out = i + base;
      return true;
    }
  return false;
}

// One field into `bits` (index = value); "" on success, else what is wrong.
template <std::size_t N>
std::string field(std::string_view text, int lo, int hi, const char* const* names, int count,
                  int base, std::bitset<N>& bits, bool& any, const char* what) {
  any = text == "*" || text == "?";
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string_view part = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    int step = 1;
    std::size_t slash = part.find('/');
    if (slash != std::string_view::npos) {
      int s = 0;
      if (!value(part.substr(slash + 1), 1, hi, nullptr, 0, 0, s))
        return std::string("bad step in the ") + what + " field '" + std::string(text) + "'";
      step = s;
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part == "*" || part == "?") {
      // the whole range
    } else {
      std::size_t dash = part.find('-');
      if (dash == std::string_view::npos) {
        if (!value(part, lo, hi, names, count, base, a))
          return std::string("'") + std::string(part) + "' is not a valid " + what + " (" +
                 std::to_string(lo) + "-" + std::to_string(hi) + ")";
        b = slash == std::string_view::npos ? a : hi;
      } else if (!value(part.substr(0, dash), lo, hi, names, count, base, a) ||
                 !value(part.substr(dash + 1), lo, hi, names, count, base, b) || b < a) {
        return std::string("'") + std::string(part) + "' is not a valid " + what + " range";
      }
    }
    for (int v = a; v <= b; v += step) bits.set(static_cast<std::size_t>(v));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return "";
}

}  // namespace

bool CronJob::matches(const std::tm& t) const {
  if (!minute.test(t.tm_min) || !hour.test(t.tm_hour) || !month.test(t.tm_mon + 1)) return false;
  bool d = dom.test(t.tm_mday), w = dow.test(t.tm_wday);
  // Cron's rule: with both day fields restricted, either one matching is enough.
  if (!dom_any && !dow_any) return d || w;
  return d && w;
}

std::optional<std::time_t> CronJob::next_after(std::time_t after) const {
  if (reboot) return std::nullopt;
  std::tm t{};
  localtime_r(&after, &t);
  t.tm_sec = 0;
  t.tm_min += 1;
  t.tm_isdst = -1;
  std::time_t when = std::mktime(&t);
  // Day by day, then hour by hour, then minute by minute: at most a few thousand steps for
  // any schedule within five years.
  for (int guard = 0; guard < 5 * 366 * 24 * 2 + 3000; ++guard) {
    localtime_r(&when, &t);
    bool day_ok = month.test(t.tm_mon + 1) &&
                  ((!dom_any && !dow_any) ? (dom.test(t.tm_mday) || dow.test(t.tm_wday))
                                          : (dom.test(t.tm_mday) && dow.test(t.tm_wday)));
    if (!day_ok) {
      t.tm_mday += 1;
      t.tm_hour = 0;
      t.tm_min = 0;
      t.tm_isdst = -1;
      when = std::mktime(&t);
      continue;
    }
    if (!hour.test(t.tm_hour)) {
      t.tm_hour += 1;
      t.tm_min = 0;
      t.tm_isdst = -1;
      std::time_t next = std::mktime(&t);
      when = next > when ? next : when + 3600;
      continue;
    }
    if (!minute.test(t.tm_min)) {
      when += 60;
      continue;
    }
    return when;
  }
  return std::nullopt;
}

// One pass over the lines: directives, @macros, the five time fields and the user and command;
// each error is reported with its line (about 90 lines: each branch is one crontab form).
Crontab parse_crontab(std::string_view text) {
  Crontab out;
  int number = 0;
  bool catch_up = false;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t eol = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() + 1 : eol + 1;
    ++number;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
      line.remove_suffix(1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())))
      line.remove_prefix(1);
    if (!line.empty() && line[0] == '#') {
      std::string directive = lower(line);
      directive.erase(std::remove(directive.begin(), directive.end(), ' '), directive.end());
      if (directive == "#w2pserve:catch-up") catch_up = true;
      continue;
    }
    if (line.empty()) continue;
    std::istringstream in{std::string(line)};
    std::string w;
    CronJob job;
    job.line = number;
    job.catch_up = catch_up;
    catch_up = false;
    in >> w;
    std::string fields[5];
    if (w[0] == '@') {
      std::string macro = lower(w);
      const char* spec = macro == "@hourly"                           ? "0 * * * *"
                         : macro == "@daily" || macro == "@midnight"  ? "0 0 * * *"
                         : macro == "@weekly"                         ? "0 0 * * 0"
                         : macro == "@monthly"                        ? "0 0 1 * *"
                         : macro == "@yearly" || macro == "@annually" ? "0 0 1 1 *"
                         : macro == "@reboot"                         ? ""
                                                                      : nullptr;
      if (!spec) {
        out.errors.push_back({number, "unknown " + w +
                                          " (write @reboot, @hourly, @daily, @midnight, @weekly, "
                                          "@monthly, @yearly or @annually)"});
        continue;
      }
      job.reboot = macro == "@reboot";
      std::istringstream s(spec);
      for (auto& f : fields) {
        if (!(s >> f)) f = "*";
      }
    } else {
      fields[0] = w;
      int got = 1;
      while (got < 5 && in >> fields[got]) ++got;
      if (got < 5) {
        out.errors.push_back({number, "expected 5 time fields, a user and a command"});
        continue;
      }
    }
    if (!(in >> job.user)) {
      out.errors.push_back({number, "missing the user and the command"});
      continue;
    }
    std::string rest;
    std::getline(in, rest);
    std::size_t first = rest.find_first_not_of(" \t");
    if (first == std::string::npos) {
      out.errors.push_back({number, "missing the command"});
      continue;
    }
    job.command = rest.substr(first);
    bool any = false;
    std::string err;
    if (err.empty()) err = field(fields[0], 0, 59, nullptr, 0, 0, job.minute, any, "minute");
    if (err.empty()) err = field(fields[1], 0, 23, nullptr, 0, 0, job.hour, any, "hour");
    if (err.empty())
      err = field(fields[2], 1, 31, nullptr, 0, 0, job.dom, job.dom_any, "day of month");
    if (err.empty()) err = field(fields[3], 1, 12, kMonths, 12, 1, job.month, any, "month");
    if (err.empty()) {
      std::bitset<8> dow8;
      err = field(fields[4], 0, 7, kDays, 7, 0, dow8, job.dow_any, "day of week");
      for (int i = 0; i < 7; ++i) job.dow.set(i, dow8.test(i));
      if (dow8.test(7)) job.dow.set(0);  // 7 is Sunday too
    }
    if (!err.empty()) {
      out.errors.push_back({number, err});
      continue;
    }
    out.jobs.push_back(std::move(job));
  }
  return out;
}

CronCommand classify_cron_command(std::string_view c) {
  CronCommand out;
  if (c.starts_with("**")) {
    c.remove_prefix(2);
  } else if (c.starts_with("*")) {
    c.remove_prefix(1);
    out.models = true;
  } else {
    out.target = std::string(c);
    return out;
  }
  while (!c.empty() && c.front() == ' ') c.remove_prefix(1);
  out.target = std::string(c);
  out.kind = c.ends_with(".py") ? CronCommand::script : CronCommand::action;
  return out;
}

}  // namespace w2p::server
