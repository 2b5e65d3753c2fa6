#include "server/cron/crontab.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace w2p::server;

namespace {
std::time_t local(int y, int mo, int d, int h, int mi) {
  std::tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_isdst = -1;
  return std::mktime(&t);
}
CronJob one(const std::string& line) {
  auto c = parse_crontab(line);
  EXPECT_TRUE(c.errors.empty()) << line << ": " << (c.errors.empty() ? "" : c.errors[0].message);
  EXPECT_EQ(c.jobs.size(), 1u) << line;
  return c.jobs.empty() ? CronJob{} : c.jobs[0];
}
}  // namespace

TEST(Crontab, Forms) {
  auto j = one("*/15 9-17 * jan,Mar-may mon-fri root **applications/app/cron/x.py");
  EXPECT_EQ(j.minute.count(), 4u);
  EXPECT_TRUE(j.minute.test(45));
  EXPECT_EQ(j.hour.count(), 9u);
  EXPECT_TRUE(j.month.test(1) && j.month.test(3) && j.month.test(5) && !j.month.test(2));
  EXPECT_TRUE(j.dow.test(1) && j.dow.test(5) && !j.dow.test(0) && !j.dow.test(6));
  EXPECT_EQ(j.user, "root");
  EXPECT_EQ(j.command, "**applications/app/cron/x.py");
  auto k = one("0,30 1-10/3 1 * 7 nobody *app/default/task arg with spaces");
  EXPECT_TRUE(k.minute.test(0) && k.minute.test(30) && k.minute.count() == 2);
  EXPECT_TRUE(k.hour.test(1) && k.hour.test(4) && k.hour.test(7) && k.hour.test(10) &&
              k.hour.count() == 4);
  EXPECT_TRUE(k.dow.test(0));  // 7 is Sunday
  EXPECT_EQ(k.command, "*app/default/task arg with spaces");
  EXPECT_EQ(one("@reboot root *applications/a/cron/boot.py").reboot, true);
  auto h = one("@hourly root **x.py");
  EXPECT_TRUE(h.minute.test(0) && h.minute.count() == 1 && h.hour.count() == 24);
  for (const char* m : {"@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}) {
    auto x = one(std::string(m) + " root **x.py");
    EXPECT_TRUE(x.minute.test(0) && x.hour.test(0) && x.hour.count() == 1) << m;
  }
}

TEST(Crontab, CommentsBlankLinesAndErrors) {
  auto c = parse_crontab(
      "# a comment\n"
      "\n"
      "   \n"
      "0 3 * * * root **good.py\n"
      "61 * * * * root **bad-minute.py\n"
      "0 3 * * root **missing-field.py\n"
      "@sometimes root **x.py\n"
      "0 5-2 * * * root **bad-range.py\n"
      "*/0 * * * * root **bad-step.py\n"
      "0 0 * foo * root **bad-month.py\n"
      "0 0 * * * root\n"
      "30 4 * * * root *also-good.py\n");
  ASSERT_EQ(c.jobs.size(), 2u);
  EXPECT_EQ(c.jobs[0].line, 4);
  EXPECT_EQ(c.jobs[1].line, 12);
  ASSERT_EQ(c.errors.size(), 7u);
  EXPECT_EQ(c.errors[0].line, 5);
  EXPECT_EQ(c.errors[0].message, "'61' is not a valid minute (0-59)");
  EXPECT_EQ(c.errors[1].line, 6);
  EXPECT_EQ(c.errors[2].line, 7);
  EXPECT_NE(c.errors[2].message.find("unknown @sometimes"), std::string::npos);
  EXPECT_EQ(c.errors[3].message, "'5-2' is not a valid hour range");
  EXPECT_NE(c.errors[4].message.find("bad step"), std::string::npos);
  EXPECT_NE(c.errors[5].message.find("month"), std::string::npos);
  EXPECT_EQ(c.errors[6].line, 11);
}

TEST(Crontab, NextRun) {
  // Local time, whatever the machine's zone; these dates have no DST change in common zones
  // between the points compared.
  auto every15 = one("*/15 * * * * root **x.py");
  EXPECT_EQ(every15.next_after(local(2026, 3, 10, 10, 7)).value(), local(2026, 3, 10, 10, 15));
  EXPECT_EQ(every15.next_after(local(2026, 3, 10, 10, 45)).value(), local(2026, 3, 10, 11, 0));
  auto monthly = one("@monthly root **x.py");
  EXPECT_EQ(monthly.next_after(local(2026, 1, 31, 12, 0)).value(), local(2026, 2, 1, 0, 0));
  EXPECT_EQ(monthly.next_after(local(2026, 12, 31, 23, 59)).value(), local(2027, 1, 1, 0, 0));
  auto day31 = one("0 12 31 * * root **x.py");  // skips 30-day months
  EXPECT_EQ(day31.next_after(local(2026, 4, 1, 0, 0)).value(), local(2026, 5, 31, 12, 0));
  auto leap = one("0 0 29 2 * root **x.py");
  EXPECT_EQ(leap.next_after(local(2026, 3, 1, 0, 0)).value(), local(2028, 2, 29, 0, 0));
  auto never = one("0 0 30 2 * root **x.py");
  EXPECT_FALSE(never.next_after(local(2026, 1, 1, 0, 0)));
  // Both day fields restricted: either matches (the 1st, or any Monday).
  auto either = one("0 8 1 * mon root **x.py");
  EXPECT_EQ(either.next_after(local(2026, 6, 2, 9, 0)).value(),
            local(2026, 6, 8, 8, 0));  // a Monday
  EXPECT_EQ(either.next_after(local(2026, 6, 29, 9, 0)).value(), local(2026, 7, 1, 8, 0));
  EXPECT_FALSE(one("@reboot root **x.py").next_after(local(2026, 1, 1, 0, 0)));
}

TEST(Crontab, NextRunInUtc) {
  const char* saved = std::getenv("TZ");
  std::string keep = saved ? saved : "";
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  auto daily = one("30 2 * * * root **x.py");
  EXPECT_EQ(daily.next_after(1767225600 /* 2026-01-01 00:00 UTC */).value(),
            1767225600 + 2 * 3600 + 30 * 60);
  if (saved)
    ::setenv("TZ", keep.c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
}

TEST(Crontab, Commands) {
  auto a = classify_cron_command("**applications/app/cron/clean.py");
  EXPECT_EQ(a.kind, CronCommand::script);
  EXPECT_FALSE(a.models);
  EXPECT_EQ(a.target, "applications/app/cron/clean.py");
  auto b = classify_cron_command("*applications/app/cron/mail.py");
  EXPECT_EQ(b.kind, CronCommand::script);
  EXPECT_TRUE(b.models);
  auto c = classify_cron_command("**default/cleanup");
  EXPECT_EQ(c.kind, CronCommand::action);
  EXPECT_EQ(c.target, "default/cleanup");
  auto d = classify_cron_command("/usr/bin/backup --all");
  EXPECT_EQ(d.kind, CronCommand::external);
}

TEST(Crontab, CatchUpDirective) {
  auto c = parse_crontab(
      "#w2pserve: catch-up\n0 3 * * * root **a.py\n0 4 * * * root **b.py\n"
      "# W2PSERVE: Catch-Up\n\n0 5 * * * root **c.py\n");
  ASSERT_EQ(c.jobs.size(), 3u);
  EXPECT_TRUE(c.jobs[0].catch_up);
  EXPECT_FALSE(c.jobs[1].catch_up);
  EXPECT_TRUE(c.jobs[2].catch_up);
}
