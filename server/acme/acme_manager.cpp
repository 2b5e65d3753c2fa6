#include "server/acme/acme_manager.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "server/log.hpp"

namespace w2p::server::acme {

namespace {

using clock = std::chrono::system_clock;

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream s;
  s << f.rdbuf();
  out = s.str();
  return true;
}

// Written whole or not at all: a temporary file beside it, then rename(2).
void write_file(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw AcmeError("cannot write " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      throw AcmeError("cannot write " + tmp + ": " + err);
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw AcmeError("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
}

void make_folder(const std::string& path) {
  for (std::size_t at = 1; at != std::string::npos;) {
    at = path.find('/', at + 1);
    std::string part = path.substr(0, at);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      throw AcmeError("cannot create " + part + ": " + std::strerror(errno) +
                      " (this runs as uid " + std::to_string(::geteuid()) +
                      ": give the folder to that user)");
  }
}

std::string iso_time(std::time_t t) {
  char buf[32];
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// One folder per CA below --acme-dir, named by its directory's host (and port): a certificate
// from Let's Encrypt's staging CA is never served once the production one is configured, and
// each CA has its own account key.
std::string ca_folder(const std::string& directory_url) {
  std::string host = directory_url.substr(directory_url.find("://") + 3);
  host = host.substr(0, host.find('/'));
  for (char& c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
  return host.empty() || host[0] == '.' ? "_" + host : host;
}

}  // namespace

AcmeManager::AcmeManager(AcmeConfig config, Install install)
    : config_(std::move(config)),
      install_(std::move(install)),
      state_dir_(config_.dir + "/" + ca_folder(config_.settings.directory)) {
  for (auto& names : config_.certificates) {
    Entry e;
    e.names = names;
    entries_.push_back(std::move(e));
  }
}

AcmeManager::~AcmeManager() {
  stop();
}

std::string AcmeManager::folder(const Entry& e) const {
  return state_dir_ + "/" + e.names.front();
}

void AcmeManager::load_stored() {
  for (auto& e : entries_) {
    std::string cert, key;
    if (!read_file(folder(e) + "/cert.pem", cert) || !read_file(folder(e) + "/key.pem", key))
      continue;
    std::time_t nb = 0, na = 0;
    if (!certificate_validity(cert, nb, na)) {
      log::warn("ACME: " + folder(e) + "/cert.pem does not parse: a new one will be ordered");
      continue;
    }
    if (na <= std::time(nullptr)) {
      log::warn("ACME: the stored certificate for " + e.names.front() + " expired " + iso_time(na));
      continue;
    }
    try {
      install_(e.names, cert, key);
    } catch (const std::exception& ex) {
      log::warn("ACME: the stored certificate for " + e.names.front() + ": " + ex.what());
      continue;
    }
    e.not_before = nb;
    e.not_after = na;
    e.cert_id = ari_cert_id(cert);
    log::info("ACME: certificate for " + e.names.front() + " loaded from " + folder(e) +
              " (valid until " + iso_time(na) + ")");
  }
}

void AcmeManager::start() {
  thread_ = std::thread([this] { run(); });
}

void AcmeManager::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool AcmeManager::wait(unsigned seconds) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, std::chrono::seconds(seconds), [this] { return stopping_; });
}

// When the certificate is to be renewed: the time picked in the CA's ARI window when it gave
// one (unless --acme-renew-before says otherwise), else when a third of its lifetime is left.
clock::time_point AcmeManager::due(const Entry& e) const {
  if (e.not_after == 0) return e.next_attempt;
  std::time_t lifetime = std::max<std::time_t>(e.not_after - e.not_before, 0);
  std::time_t before =
      config_.renew_before ? static_cast<std::time_t>(config_.renew_before) : lifetime / 3;
  std::time_t at = e.not_after - before;
  if (e.ari_renew_at && !config_.renew_before) at = e.ari_renew_at;
  return std::max(clock::from_time_t(at), e.next_attempt);
}

clock::time_point AcmeManager::next_event(const Entry& e) const {
  auto d = due(e);
  if (e.not_after != 0 && e.ari_offered && !e.cert_id.empty()) d = std::min(d, e.next_ari);
  return d;
}

void AcmeManager::ask_renewal_info(Entry& e) {
  std::optional<AcmeClient::RenewalWindow> w;
  std::string error;
  try {
    AcmeClient client(config_.settings, account_key(), board_,
                      [this](unsigned s) { return wait(s); });
    w = client.renewal_window(e.cert_id);
  } catch (const std::exception& ex) {
    error = ex.what();
  }
  std::lock_guard lock(mutex_);
  if (!error.empty()) {
    log::warn("ACME: renewal information for " + e.names.front() + ": " + error +
              "; asking again in an hour");
    e.next_ari = clock::now() + std::chrono::hours(1);
    return;
  }
  if (!w) {
    e.ari_offered = false;  // this CA has none: the lifetime rule alone
    return;
  }
  // A time picked at random in the window (RFC 9773 4.2), so that nodes and sites spread out.
  std::random_device rd;
  std::uniform_int_distribution<std::time_t> pick(w->start, w->end);
  e.ari_start = w->start;
  e.ari_end = w->end;
  e.ari_renew_at = pick(rd);
  e.next_ari = clock::now() + std::chrono::seconds(w->retry_after ? w->retry_after : 6 * 3600);
}

Key AcmeManager::account_key() {
  std::string path = state_dir_ + "/account.key";
  std::string pem;
  if (read_file(path, pem)) {
    if (Key k = key_from_pem(pem)) return k;
    throw AcmeError(path + " holds no private key (move it away to make a new account)");
  }
  make_folder(state_dir_);
  Key k = generate_p256_key();
  write_file(path, key_to_pem(k), 0600);
  log::info("ACME: account key created in " + path);
  return k;
}

void AcmeManager::attempt(Entry& e) {
  std::string names;
  for (const auto& n : e.names) names.append(names.empty() ? "" : ", ").append(n);
  log::info("ACME: ordering a certificate for " + names + " from " + config_.settings.directory);
  try {
    AcmeClient client(config_.settings, account_key(), board_,
                      [this](unsigned s) { return wait(s); });
    Key key = generate_p256_key();
    std::string replaces;
    {
      std::lock_guard lock(mutex_);
      replaces = e.cert_id;
    }
    std::string chain = client.obtain(e.names, key, replaces);
    std::string key_pem = key_to_pem(key);
    std::time_t nb = 0, na = 0;
    if (!certificate_validity(chain, nb, na))
      throw AcmeError("the CA's certificate does not parse");
    install_(e.names, chain, key_pem);  // first: what does not load is never stored
    make_folder(folder(e));
    write_file(folder(e) + "/key.pem", key_pem, 0600);
    write_file(folder(e) + "/cert.pem", chain, 0644);
    std::lock_guard lock(mutex_);
    e.not_before = nb;
    e.not_after = na;
    e.cert_id = ari_cert_id(chain);
    e.ari_renew_at = e.ari_start = e.ari_end = 0;
    e.next_ari = {};
    e.error.clear();
    e.failures = 0;
    ++e.orders;
    e.next_attempt = {};
    log::info("ACME: certificate for " + names + " in service (valid until " + iso_time(na) + ")");
  } catch (const std::exception& ex) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;  // cut short by the server's stop: nothing failed
    }
    unsigned retry = 0;
    if (const auto* ae = dynamic_cast<const AcmeError*>(&ex)) retry = ae->retry_after;
    std::lock_guard lock(mutex_);
    ++e.failures;
    // Backoff: the first retry after config_.first_retry seconds, doubled each time, at most a
    // day; never sooner than the CA asked (rate limits).
    std::uint64_t backoff = std::min<std::uint64_t>(
        static_cast<std::uint64_t>(config_.first_retry) << std::min(e.failures - 1, 20u), 86400);
    backoff = std::max<std::uint64_t>(backoff, retry);
    e.next_attempt = clock::now() + std::chrono::seconds(backoff);
    e.error = ex.what();
    log::error("ACME: no certificate for " + names + ": " + e.error + "; next attempt in " +
               std::to_string(backoff) + " s");
  }
}

void AcmeManager::run() {
  for (;;) {
    Entry* next = nullptr;
    clock::time_point when = clock::time_point::max();
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      for (auto& e : entries_) {
        auto d = next_event(e);
        if (d < when) {
          when = d;
          next = &e;
        }
      }
    }
    if (!next) return;
    if (when <= clock::now()) {
      if (due(*next) > clock::now()) {  // not due: the CA's renewal information to ask
        ask_renewal_info(*next);
        continue;
      }
      attempt(*next);
      if (config_.after_attempt) config_.after_attempt();
      continue;
    }
    // Asleep until the next one is due (checked at least hourly: the clock may jump).
    auto sleep = std::min<clock::duration>(when - clock::now(), std::chrono::hours(1));
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, sleep, [this] { return stopping_; })) return;
  }
}

std::string AcmeManager::status_json() const {
  namespace json = boost::json;
  json::array out;
  std::lock_guard lock(mutex_);
  auto now = clock::now();
  for (const auto& e : entries_) {
    json::object o;
    json::array names;
    for (const auto& n : e.names) names.push_back(json::value(n));
    o["names"] = std::move(names);
    o["state"] = e.not_after == 0 ? (e.error.empty() ? "ordering" : "failing")
                                  : (e.error.empty() ? "valid" : "renewal failing");
    if (e.not_after) {
      o["not_after"] = iso_time(e.not_after);
      o["expires_in_seconds"] = static_cast<std::int64_t>(e.not_after - std::time(nullptr));
    }
    if (!e.error.empty()) o["error"] = e.error;
    if (e.not_after) {
      if (e.ari_renew_at) {
        o["renewal_window"] =
            json::object{{"start", iso_time(e.ari_start)}, {"end", iso_time(e.ari_end)}};
        o["renew_at"] = iso_time(e.ari_renew_at);
      } else {
        o["renew_at"] = iso_time(clock::to_time_t(due(e)));
      }
      if (!e.cert_id.empty()) o["ari_id"] = e.cert_id;
      o["renewal_info"] = e.ari_offered ? (e.ari_renew_at ? "from the CA" : "not asked yet")
                                        : "not offered by the CA";
    }
    o["failures"] = e.failures;
    o["orders"] = e.orders;
    if (e.next_attempt > now)
      o["next_attempt_in_seconds"] =
          std::chrono::duration_cast<std::chrono::seconds>(e.next_attempt - now).count();
    out.push_back(std::move(o));
  }
  return json::serialize(out);
}

}  // namespace w2p::server::acme
