#pragma once
// Automatic HTTPS: certificates for the configured names, obtained from an ACME CA and renewed
// by a thread of their own (never an I/O thread; it sleeps between attempts). Stored under the
// state folder (--acme-dir/<the CA's host>/, owned by the service user: no root-only key), put into
// service at start when stored, and swapped in after each order without a reload (new handshakes
// use the new certificate, connections in flight keep theirs). Start-up never waits for the CA.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/acme/acme_client.hpp"

namespace w2p::server::acme {

struct AcmeConfig {
  std::vector<std::vector<std::string>> certificates;  // the names of each certificate
  AcmeSettings settings;
  std::string dir;                      // the state folder
  std::uint64_t renew_before = 0;       // seconds before expiry; 0: a third of the lifetime
  unsigned first_retry = 60;            // seconds after a first failure (then doubled)
  std::function<void()> after_attempt;  // e.g. give the memory an order used back
};

// Puts a certificate (PEM chain, PEM key) in service for `names`.
using Install = std::function<void(const std::vector<std::string>& names, const std::string& cert,
                                   const std::string& key)>;

class AcmeManager {
 public:
  AcmeManager(AcmeConfig config, Install install);
  ~AcmeManager();
  AcmeManager(const AcmeManager&) = delete;
  AcmeManager& operator=(const AcmeManager&) = delete;

  // Stored certificates go into service now (at start, before serving).
  void load_stored();
  // The thread that orders and renews; stop() (or the destructor) ends it.
  void start();
  void stop();

  ChallengeBoard& board() { return board_; }
  // The certificates' state for the status page: a JSON array.
  std::string status_json() const;

 private:
  struct Entry {
    std::vector<std::string> names;
    std::time_t not_before = 0, not_after = 0;  // 0: no certificate yet
    std::string error;                          // the last failure ("" after a success)
    unsigned failures = 0;
    std::uint64_t orders = 0;  // certificates obtained by this process
    std::chrono::system_clock::time_point next_attempt{};
    // ACME Renewal Information: the certificate's id, the time picked in the CA's window (0:
    // none yet), when to ask again, and whether the CA offers it at all.
    std::string cert_id;
    std::time_t ari_renew_at = 0, ari_start = 0, ari_end = 0;
    std::chrono::system_clock::time_point next_ari{};
    bool ari_offered = true;
  };
  void run();
  bool wait(unsigned seconds);
  void attempt(Entry& e);
  void ask_renewal_info(Entry& e);
  std::chrono::system_clock::time_point due(const Entry& e) const;
  std::chrono::system_clock::time_point next_event(const Entry& e) const;
  std::string folder(const Entry& e) const;
  Key account_key();

  AcmeConfig config_;
  Install install_;
  std::string state_dir_;  // --acme-dir/<the CA's host>
  ChallengeBoard board_;
  mutable std::mutex mutex_;  // guards entries_' state and stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<Entry> entries_;
  std::thread thread_;
};

}  // namespace w2p::server::acme
