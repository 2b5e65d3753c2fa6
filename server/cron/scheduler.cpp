#include "server/cron/scheduler.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

#include "server/log.hpp"

extern char** environ;

namespace w2p::server {

namespace {

constexpr std::time_t kSweepEvery = 600;  // seconds between janitor passes
constexpr std::size_t kOutputTail = 8000;

std::time_t file_mtime(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_mtime : 0;
}

std::size_t remove_older(const std::string& dir, std::time_t cutoff, int depth) {
  std::size_t removed = 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string path = dir + "/" + e->d_name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode) && depth > 0) {
      removed += remove_older(path, cutoff, depth - 1);
    } else if (S_ISREG(st.st_mode) && st.st_mtime < cutoff) {
      if (::unlink(path.c_str()) == 0) ++removed;
    }
  }
  ::closedir(d);
  return removed;
}

}  // namespace

std::vector<std::string> cron_apps(const std::string& root) {
  std::vector<std::string> out;
  std::string apps = root + "/applications";
  DIR* d = ::opendir(apps.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (file_mtime(apps + "/" + e->d_name + "/cron/crontab")) out.push_back(e->d_name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

CronScheduler::CronScheduler(CronSettings settings, CronBoard& board, ScriptRunner* scripts)
    : settings_(std::move(settings)), board_(board), scripts_(scripts) {
  if (settings_.cron) ledger_ = std::make_unique<CronLedger>(settings_.ledger);
  if (settings_.cron && !settings_.lock_url.empty())
    lock_ = std::make_unique<CronLock>(settings_.lock_url, settings_.node);
  thread_ = std::thread([this] { run(); });
}

CronScheduler::~CronScheduler() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::size_t CronScheduler::sweep(const std::string& root, std::uint64_t session_max_age,
                                 std::uint64_t ticket_max_age, std::time_t now) {
  std::size_t removed = 0;
  std::string apps = root + "/applications";
  DIR* d = ::opendir(apps.c_str());
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string app = apps + "/" + e->d_name;
    // File sessions, as gluon/globals.py stores them (possibly in sub-folders); a session in
    // use is locked and rewritten, so its time is recent.
    if (session_max_age)
      removed +=
          remove_older(app + "/sessions", now - static_cast<std::time_t>(session_max_age), 2);
    if (ticket_max_age)
      removed += remove_older(app + "/errors", now - static_cast<std::time_t>(ticket_max_age), 0);
  }
  ::closedir(d);
  return removed;
}

void CronScheduler::rescan(bool startup) {
  std::string apps = settings_.root + "/applications";
  DIR* d = ::opendir(apps.c_str());
  if (!d) return;
  std::time_t now = std::time(nullptr);
  std::map<std::string, Tab> seen;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string app = e->d_name;
    std::string path = apps + "/" + app + "/cron/crontab";
    std::time_t mtime = file_mtime(path);
    if (!mtime) continue;
    auto old = tabs_.find(app);
    if (old != tabs_.end() && old->second.mtime == mtime) {
      seen[app] = std::move(old->second);
      continue;
    }
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    auto tab = parse_crontab(text.str());
    for (const auto& err : tab.errors)
      log::error(path + ":" + std::to_string(err.line) + ": " + err.message + " (line skipped)");
    Tab t;
    t.mtime = mtime;
    for (auto& spec : tab.jobs) {
      Job job;
      job.app = app;
      job.spec = std::move(spec);
      job.state.app = app;
      job.state.command = job.spec.command;
      job.state.line = job.spec.line;
      // Keep what is known of a job that was already there.
      if (old != tabs_.end())
        for (const auto& o : old->second.jobs)
          if (o.spec.command == job.spec.command && o.spec.line == job.spec.line)
            job.state = o.state;
      // @reboot: once per server start, not again on a reload (the same server, re-executed).
      if (job.spec.reboot)
        job.next = startup && settings_.first_start ? now : 0;
      else
        job.next = job.spec.next_after(now).value_or(0);
      // Runs missed while the server was down: reported, and run once now for a job that
      // opted in ("#w2pserve: catch-up").
      if (startup && ledger_) {
        if (auto last = ledger_->last(app, job.spec.command)) {
          job.state.last_status = last->status;
          job.state.last_started = last->started;
          job.state.last_duration_ms = last->duration_ms;
          auto due = job.spec.reboot ? std::nullopt : job.spec.next_after(last->started);
          if (due && *due < now) {
            log::warn(path + ":" + std::to_string(job.spec.line) +
                      ": runs were missed while the server was down (first due " +
                      std::to_string(now - *due) + " s ago)" +
                      (job.spec.catch_up ? "; running it once now" : ""));
            if (job.spec.catch_up) job.next = now;
          }
        }
      }
      job.state.next_run = job.next;
      t.jobs.push_back(std::move(job));
    }
    if (!startup) log::info(path + ": read again (" + std::to_string(t.jobs.size()) + " job(s))");
    seen[app] = std::move(t);
  }
  ::closedir(d);
  tabs_ = std::move(seen);
}

void CronScheduler::publish() {
  std::vector<CronJobState> out;
  for (const auto& [app, tab] : tabs_)
    for (const auto& j : tab.jobs) out.push_back(j.state);
  board_.set(std::move(out));
}

std::string CronScheduler::run_external(const std::string& command, unsigned timeout,
                                        std::string& output) {
  // No shell: the command is split on spaces, as shlex would for simple commands.
  std::vector<std::string> words;
  std::istringstream in(command);
  for (std::string w; in >> w;) words.push_back(w);
  if (words.empty()) return "error";
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return "error";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    output = std::string("cannot run ") + argv[0] + ": " + std::strerror(rc);
    return "error";
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  char buf[4096];
  ::fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
  std::string status = "ok";
  while (true) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n > 0) {
      output.append(buf, static_cast<std::size_t>(n));
      if (output.size() > 2 * kOutputTail) output.erase(0, output.size() - kOutputTail);
      continue;
    }
    if (n == 0) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      status = "timeout";
      break;
    }
    ::usleep(20000);  // a subprocess's pipe; nothing else is waiting on this thread
  }
  ::close(pipefd[0]);
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  if (status == "ok" && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0)) status = "error";
  return status;
}

CronRun CronScheduler::execute(const CronSettings& settings, ScriptRunner* scripts,
                               const std::string& app, const CronJob& spec, std::time_t scheduled) {
  CronCommand cmd = classify_cron_command(spec.command);
  std::string where = app + " cron line " + std::to_string(spec.line) + " (" + spec.command + ")";
  CronRun run;
  run.app = app;
  run.job = spec.command;
  run.scheduled = scheduled;
  run.started = std::time(nullptr);
  auto t0 = std::chrono::steady_clock::now();
  std::string& status = run.status;
  std::string& output = run.output;
  if (cmd.kind == CronCommand::external) {
    if (!settings.allow_exec) {
      status = "skipped";
      output = "not a web2py script; external commands run only with --cron-allow-exec";
    } else {
      status = run_external(cmd.target, settings.timeout, output);
    }
  } else {
    if (!scripts) {
      status = "error";
      output = "no Python here to run web2py scripts";
    } else {
      auto r = scripts->run(app, cmd.kind == CronCommand::action, cmd.target, cmd.models,
                            settings.timeout);
      status = std::move(r.status);
      output = std::move(r.output);
      if (status == "timeout")
        log::error(where + ": still running after " + std::to_string(settings.timeout) +
                   " s; TimeoutError raised in it");
    }
  }
  run.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  run.finished = std::time(nullptr);
  if (output.size() > kOutputTail) output.erase(0, output.size() - kOutputTail);
  if (status == "ok")
    log::info(where + ": ok in " + std::to_string(run.duration_ms) + " ms");
  else if (status == "skipped")
    log::info(where + ": skipped (external commands need --cron-allow-exec)");
  else
    log::error(where + ": " + status + " after " + std::to_string(run.duration_ms) + " ms\n" +
               output);
  return run;
}

void CronScheduler::run_job(Job& job, std::time_t scheduled) {
  if (lock_) {
    std::string why;
    auto claim = lock_->claim(job.app, job.spec.command, scheduled, why);
    if (claim != CronLock::Claim::ours) {
      std::string where = job.app + " cron line " + std::to_string(job.spec.line);
      if (claim == CronLock::Claim::unavailable)
        log::error(where + ": not run (never twice: a slot runs only once claimed): " + why);
      else
        log::debug(where + ": not run on this node: " + why);
      return;
    }
  }
  auto run = execute(settings_, scripts_, job.app, job.spec, scheduled);
  if (lock_) lock_->finish(job.app, job.spec.command, scheduled, run.status);
  job.state.last_status = run.status;
  job.state.last_started = run.started;
  job.state.last_duration_ms = run.duration_ms;
  if (ledger_) ledger_->record(run);
}

void CronScheduler::run() {
  if (settings_.cron) {
    if (lock_) {
      std::string why = lock_->check();
      if (why.empty())
        log::info(
            "cron: each job once per slot across the nodes sharing --cron-lock (this "
            "node: " +
            settings_.node + ")");
      else
        log::error("cron: " + why + "; jobs run nowhere until it can be reached");
    }
    // A Python thread state for this thread's whole life, like a worker's.
    if (scripts_) scripts_->attach();
    rescan(true);
    publish();
  }
  std::time_t next_sweep = std::time(nullptr);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    std::time_t now = std::time(nullptr);
    if ((settings_.session_max_age || settings_.ticket_max_age) && now >= next_sweep) {
      std::size_t n =
          sweep(settings_.root, settings_.session_max_age, settings_.ticket_max_age, now);
      if (n)
        log::info("janitor: removed " + std::to_string(n) +
                  " expired session file(s) and old ticket(s)");
      next_sweep = now + kSweepEvery;
    }
    std::time_t wake = next_sweep;
    if (settings_.cron) {
      rescan(false);
      for (auto& [app, tab] : tabs_) {
        for (auto& job : tab.jobs) {
          if (!job.next || job.next > std::time(nullptr)) continue;
          {
            std::lock_guard check(mutex_);
            if (stopping_) break;
          }
          std::time_t scheduled = job.next;
          run_job(job, scheduled);
          // Runs are sequential on this thread, so a job never overlaps itself; a run that
          // took longer than its interval skips the slots it covered.
          job.next = job.spec.reboot ? 0 : job.spec.next_after(std::time(nullptr)).value_or(0);
          job.state.next_run = job.next;
          publish();
        }
      }
      for (auto& [app, tab] : tabs_)
        for (auto& job : tab.jobs)
          if (job.next) wake = std::min(wake, job.next);
      // Crontab changes are noticed within a minute.
      wake = std::min(wake, std::time(nullptr) + 60);
    }
    lock.lock();
    if (stopping_) break;
    cv_.wait_until(lock,
                   std::chrono::system_clock::from_time_t(std::max(wake, std::time(nullptr) + 1)),
                   [&] { return stopping_; });
  }
  lock.unlock();
  if (settings_.cron && scripts_) scripts_->detach();
}

}  // namespace w2p::server
