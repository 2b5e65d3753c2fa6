#pragma once
// The ACME protocol (RFC 8555) as a client: the directory, nonces, the account (created or
// found again by its key), an order for a set of names, their authorizations answered by
// HTTP-01 (the key authorizations posted on a ChallengeBoard the plain listeners read), the
// finalisation with a CSR and the certificate's download. Blocking: it runs on the ACME thread.

#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "server/acme/acme_openssl.hpp"

namespace w2p::server::acme {

// HTTP-01 tokens being validated -> their key authorizations. Written by the ACME thread, read
// by I/O threads answering /.well-known/acme-challenge/<token>.
class ChallengeBoard {
 public:
  void put(const std::string& token, const std::string& key_authorization);
  void remove(const std::string& token);
  std::optional<std::string> get(std::string_view token) const;

  // TLS-ALPN-01: what puts a challenge certificate in service for a name, and takes it away
  // (the TLS listener's, set before the ACME thread starts).
  std::function<void(const std::string& name, const std::string& cert, const std::string& key)>
      set_alpn;
  std::function<void(const std::string& name)> clear_alpn;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> tokens_;
};

// A failure, with the CA's own words when it answered (an RFC 7807 problem document), and how
// long the CA asked to wait (Retry-After, 0 when it did not say).
class AcmeError : public std::runtime_error {
 public:
  AcmeError(const std::string& what, unsigned retry_after = 0)
      : std::runtime_error(what), retry_after(retry_after) {}
  unsigned retry_after;
};

struct AcmeSettings {
  std::string directory;  // the CA's directory URL
  std::string email;      // contact, optional
  std::string ca_file;    // trust for the CA's HTTPS (empty: the system's)
  bool agree_tos = false;
  std::string challenge = "http-01";  // or "tls-alpn-01"
  // External Account Binding (RFC 8555 7.3.4), for CAs that tie accounts to a customer
  // account of theirs: the key id and the HMAC key (raw bytes) they gave. Empty: none.
  std::string eab_kid, eab_key;
};

class AcmeClient {
 public:
  // `wait(seconds)` sleeps between polls and returns false when the server stops.
  AcmeClient(AcmeSettings settings, Key account_key, ChallengeBoard& board,
             std::function<bool(unsigned)> wait);

  // A certificate chain (PEM) for `domains`, whose key is `cert_key`; `replaces`: the ARI id of
  // the certificate it renews (the CA may then relax its rate limits). Throws AcmeError.
  std::string obtain(const std::vector<std::string>& domains, const Key& cert_key,
                     const std::string& replaces = {});

  // ACME Renewal Information (RFC 9773): the CA's suggested window to renew the certificate
  // `cert_id` (ari_cert_id()), and when to ask again; nullopt when the CA offers none.
  struct RenewalWindow {
    std::time_t start = 0, end = 0;
    unsigned retry_after = 0;  // seconds; 0: the CA did not say
  };
  std::optional<RenewalWindow> renewal_window(const std::string& cert_id);

 private:
  struct Answer;
  void directory();
  std::string fresh_nonce();
  Answer post(const std::string& url, const std::string& payload, bool with_jwk = false);
  void account();
  void authorize(const std::string& authz_url);
  Answer poll(const std::string& url, std::string_view pending_state, const std::string& what);

  AcmeSettings settings_;
  Key key_;
  ChallengeBoard& board_;
  std::function<bool(unsigned)> wait_;
  std::string thumbprint_, jwk_;
  std::string new_nonce_, new_account_, new_order_, renewal_info_;
  std::string nonce_, kid_;
};

}  // namespace w2p::server::acme
