#pragma once
// web2py's crontab format (applications/<app>/cron/crontab, as gluon/newcron.py reads it):
//   min hour day-of-month month day-of-week user command
// with lists (1,5), ranges (1-5), steps (*/15, 1-30/5), month and day names (jan, mon), 7 for
// Sunday, and @reboot, @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually in
// place of the five time fields. Comments (#) and blank lines are ignored, except the
// directive "#w2pserve: catch-up", which applies to the next job.

#include <bitset>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace w2p::server {

struct CronJob {
  std::bitset<60> minute;
  std::bitset<24> hour;
  std::bitset<32> dom;    // 1..31
  std::bitset<13> month;  // 1..12
  std::bitset<7> dow;     // 0..6, Sunday 0
  bool dom_any = true, dow_any = true;
  bool reboot = false;    // @reboot: once when the server starts
  bool catch_up = false;  // "#w2pserve: catch-up" on the line before: a run missed while the
                          // server was down runs once at start
  std::string user;
  std::string command;  // as written
  int line = 0;

  // The first minute strictly after `after` (local time) when the job is due; nullopt for
  // @reboot or a schedule that never comes (e.g. 30 February).
  std::optional<std::time_t> next_after(std::time_t after) const;
  bool matches(const std::tm& local) const;
};

struct CronParseError {
  int line;
  std::string message;
};

struct Crontab {
  std::vector<CronJob> jobs;
  std::vector<CronParseError> errors;  // bad lines are reported and skipped
};

Crontab parse_crontab(std::string_view text);

// What a web2py cron command asks for: "**applications/app/cron/x.py" (a script without the
// models), "*applications/app/cron/x.py" (with them), "**app/controller/function", or anything
// else (an external command).
struct CronCommand {
  enum Kind { script, action, external } kind = external;
  bool models = false;
  std::string target;  // the script path (relative to the web2py root) or app/controller/function
};
CronCommand classify_cron_command(std::string_view command);

}  // namespace w2p::server
