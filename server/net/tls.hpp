#pragma once
// TLS (OpenSSL through Asio). A TLS listener's connection does its handshake here; then the
// decrypted stream is handed to an ordinary Connection through a socket pair, so every HTTP
// feature (static files with sendfile into the pair, the application, limits, logs) works
// unchanged, and this layer copies bytes between the two in bounded 16 KiB turns (the "read
// loop under TLS"). TLS 1.2 and 1.3 only; the certificate is chosen by SNI among the sites'.

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

namespace w2p::server {

struct ServerContext;

struct TlsCertSpec {
  std::string cert, key;           // PEM files: the chain, and its key
  std::vector<std::string> hosts;  // SNI names it serves (exact or "*.example.com"); empty: default
};

class TlsContext {
 public:
  // Loads every certificate and key; throws std::runtime_error naming the file and the problem.
  // `http2`: offer h2 by ALPN (the connections then speak HTTP/2, server/net/h2_connection.hpp).
  // `acme_names`: names whose certificate comes later (install()); until then a handshake for
  // one gets the default certificate, or fails when there is none.
  explicit TlsContext(const std::vector<TlsCertSpec>& certs, bool http2 = false,
                      const std::vector<std::string>& acme_names = {});
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  // Puts a certificate (PEM chain and key, in memory) in service for `names`: new handshakes
  // use it, connections in flight keep theirs. Thread-safe; throws std::runtime_error when the
  // certificate or key does not load.
  void install(const std::vector<std::string>& names, const std::string& cert_pem,
               const std::string& key_pem);

  // TLS-ALPN-01 (RFC 8737): while set, a handshake for `name` that offers only acme-tls/1 gets
  // this certificate (with its acmeIdentifier) and ends there. Thread-safe.
  void set_alpn_challenge(const std::string& name, const std::string& cert_pem,
                          const std::string& key_pem);
  void clear_alpn_challenge(const std::string& name);

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// The certificates the options name: --tls-cert/--tls-key (the default), then each site's.
struct Options;
std::vector<TlsCertSpec> tls_certs_from(const Options& o);

// Checks that the files load (for the reload check); returns an error text or "".
std::string check_tls_files(const std::vector<TlsCertSpec>& certs);

// Takes an accepted TCP socket on a TLS listener (`proxied`: the client as a PROXY protocol
// header named it).
struct PeerInfo;
void start_tls_connection(boost::asio::ip::tcp::socket socket, ServerContext& ctx,
                          const PeerInfo* proxied = nullptr);

}  // namespace w2p::server
