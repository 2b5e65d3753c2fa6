#include "server/net/tls.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "server/config/options.hpp"
#include "server/log.hpp"
#include "server/net/connection.hpp"
#include "server/net/h2_connection.hpp"
#include "server/net/openssl_api.hpp"
#include "server/net/server_context.hpp"
#include "server/ops/key_helper.hpp"
#include "server/routing/site.hpp"

namespace w2p::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::string read_pem(const std::string& path, const char* what) {
  std::string error;
  auto data = key_helper::read(path, error);
  if (!data) throw std::runtime_error("TLS " + std::string(what) + " " + path + ": " + error);
  return std::move(*data);
}

// The certificate, then the chain after it (what SSL_CTX_use_certificate_chain_file does).
void use_pem_chain(SSL_CTX* ctx, const std::string& pem, const std::string& path) {
  const OpenSslApi& o = openssl();
  o.ERR_clear_error();
  BIO* bio = o.BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = bio ? o.PEM_read_bio_X509_AUX(bio, nullptr, nullptr, nullptr) : nullptr;
  if (!cert || o.SSL_CTX_use_certificate(ctx, cert) != 1) {
    if (cert) o.X509_free(cert);
    if (bio) o.BIO_free(bio);
    throw std::runtime_error("TLS certificate " + path + ": " + openssl_error());
  }
  o.X509_free(cert);
  o.SSL_CTX_ctrl(ctx, SSL_CTRL_CLEAR_EXTRA_CHAIN_CERTS, 0, nullptr);
  while (X509* ca = o.PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    // SSL_CTX_add_extra_chain_cert: the context takes the certificate.
    if (o.SSL_CTX_ctrl(ctx, SSL_CTRL_EXTRA_CHAIN_CERT, 0, ca) != 1) {
      o.X509_free(ca);
      o.BIO_free(bio);
      throw std::runtime_error("TLS certificate " + path + ": " + openssl_error());
    }
  }
  o.ERR_clear_error();  // the end of the PEM data is reported as an error
  o.BIO_free(bio);
}

void use_pem_key(SSL_CTX* ctx, const std::string& pem, const std::string& path,
                 const std::string& cert_path) {
  const OpenSslApi& o = openssl();
  o.ERR_clear_error();
  BIO* bio = o.BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = bio ? o.PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  if (bio) o.BIO_free(bio);
  if (!key) throw std::runtime_error("TLS key " + path + ": " + openssl_error());
  int ok = o.SSL_CTX_use_PrivateKey(ctx, key);
  o.EVP_PKEY_free(key);
  if (ok != 1) {
    std::string err = openssl_error();
    if (err.find("mismatch") != std::string::npos)
      throw std::runtime_error("TLS key " + path + " does not match the certificate " + cert_path);
    throw std::runtime_error("TLS key " + path + ": " + err);
  }
}

// ALPN (RFC 7301): h2 first when HTTP/2 is on, else http/1.1 only; a client that offers
// neither gets no ALPN answer and speaks HTTP/1.1.
constexpr unsigned char kAlpnH2[] = "\x02h2\x08http/1.1";
constexpr unsigned char kAlpnHttp11[] = "\x08http/1.1";

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const bool h2 = arg != nullptr;
  const unsigned char* ours = h2 ? kAlpnH2 : kAlpnHttp11;
  unsigned int ours_len = h2 ? sizeof kAlpnH2 - 1 : sizeof kAlpnHttp11 - 1;
  unsigned char* chosen = nullptr;
  if (openssl().SSL_select_next_proto(&chosen, outlen, ours, ours_len, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// A server context with this server's settings and no certificate yet.
// TLS-ALPN-01 (RFC 8737): a challenge handshake negotiates "acme-tls/1" and nothing else.
constexpr unsigned char kAlpnAcme[] =
    "\x0a"
    "acme-tls/1";

int select_acme_alpn(SSL*, const unsigned char** out, unsigned char* outlen,
                     const unsigned char* in, unsigned int inlen, void*) {
  unsigned char* chosen = nullptr;
  if (openssl().SSL_select_next_proto(&chosen, outlen, kAlpnAcme, sizeof kAlpnAcme - 1, in,
                                      inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// From a ClientHello: the SNI host name (RFC 6066 3) and whether ALPN offers acme-tls/1.
struct HelloFacts {
  std::string host;
  bool acme = false;
};

HelloFacts hello_facts(SSL* s) {
  const OpenSslApi& o = openssl();
  HelloFacts f;
  const unsigned char* p = nullptr;
  size_t n = 0;
  if (o.SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &p, &n) == 1 && n > 5 &&
      p[2] == TLSEXT_NAMETYPE_host_name) {
    size_t len = (static_cast<size_t>(p[3]) << 8) | p[4];
    if (len <= n - 5) f.host.assign(reinterpret_cast<const char*>(p + 5), len);
  }
  if (o.SSL_client_hello_get0_ext(s, TLSEXT_TYPE_application_layer_protocol_negotiation, &p, &n) ==
          1 &&
      n > 2) {
    for (size_t at = 2; at < n;) {
      size_t len = p[at];
      if (at + 1 + len > n) break;
      if (len == 10 && std::memcmp(p + at + 1, "acme-tls/1", 10) == 0) f.acme = true;
      at += 1 + len;
    }
  }
  return f;
}

// A server context with this server's settings and no certificate yet.
SSL_CTX* new_ctx(bool http2) {
  const OpenSslApi& o = openssl();
  SSL_CTX* ctx = o.SSL_CTX_new(o.TLS_server_method());
  if (!ctx) throw std::runtime_error("TLS: " + openssl_error());
  o.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, nullptr);
  // Modern ciphers only (forward secrecy, AEAD); TLS 1.3 suites are OpenSSL's defaults.
  o.SSL_CTX_set_cipher_list(ctx,
                            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  o.SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections give their record buffers back.
  o.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE,
                 SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
                 nullptr);
  o.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_SERVER, nullptr);
  o.SSL_CTX_set_alpn_select_cb(ctx, &select_alpn,
                               http2 ? const_cast<unsigned char*>(kAlpnH2) : nullptr);
  return ctx;
}

// A context serving the certificate chain `cert_pem` with `key_pem` (labelled by their files).
SSL_CTX* ctx_with(const std::string& cert_pem, const std::string& cert_label,
                  const std::string& key_pem, const std::string& key_label, bool http2) {
  const OpenSslApi& o = openssl();
  SSL_CTX* ctx = new_ctx(http2);
  try {
    use_pem_chain(ctx, cert_pem, cert_label);
    use_pem_key(ctx, key_pem, key_label, cert_label);
  } catch (...) {
    o.SSL_CTX_free(ctx);
    throw;
  }
  if (o.SSL_CTX_check_private_key(ctx) != 1) {
    o.ERR_clear_error();
    o.SSL_CTX_free(ctx);
    throw std::runtime_error("TLS key " + key_label + " does not match the certificate " +
                             cert_label);
  }
  return ctx;
}

SSL_CTX* make_ctx(const TlsCertSpec& spec, bool http2) {
  // Read into memory first, directly or through the key helper (a key only root may read).
  return ctx_with(read_pem(spec.cert, "certificate"), spec.cert, read_pem(spec.key, "key"),
                  spec.key, http2);
}

}  // namespace

struct TlsContext::Impl {
  SSL_CTX* main = nullptr;  // the default certificate's context
  struct Named {
    std::string host;  // exact name, or ".example.com" for "*.example.com"
    SSL_CTX* ctx;
  };
  std::vector<Named> named;
  std::vector<SSL_CTX*> owned;
  std::vector<std::pair<std::string, SSL_CTX*>> challenges;  // TLS-ALPN-01, by host
  bool http2 = false;
  std::mutex mutex;  // guards `named` and `owned` once serving (install() swaps certificates in)

  // Under `mutex`.
  SSL_CTX* for_name(std::string_view name) {
    std::string host = normalize_host(name);
    for (const auto& n : named)
      if (n.host == host) return n.ctx;
    for (const auto& n : named)
      if (n.host.starts_with(".") && host.size() > n.host.size() && host.ends_with(n.host))
        return n.ctx;
    return nullptr;
  }

  // A ClientHello offering acme-tls/1 for a name being validated gets the challenge's context
  // (its certificate and ALPN); every other handshake goes on as usual.
  static int on_client_hello(SSL* s, int*, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    HelloFacts f = hello_facts(s);
    if (!f.acme) return SSL_CLIENT_HELLO_SUCCESS;
    std::string host = normalize_host(f.host);
    std::lock_guard lock(self->mutex);
    for (const auto& [h, ctx] : self->challenges)
      if (h == host) openssl().SSL_set_SSL_CTX(s, ctx);
    return SSL_CLIENT_HELLO_SUCCESS;
  }

  static int on_servername(SSL* s, int*, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    const char* name = openssl().SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    if (name) {
      // The handshake takes its own reference to the context while the lock keeps install()
      // from freeing it.
      std::lock_guard lock(self->mutex);
      SSL_CTX* current = openssl().SSL_get_SSL_CTX(s);
      for (const auto& [h, ctx] : self->challenges)
        if (ctx == current) return SSL_TLSEXT_ERR_OK;  // a challenge handshake stays one
      if (SSL_CTX* ctx = self->for_name(name)) openssl().SSL_set_SSL_CTX(s, ctx);
    }
    return SSL_TLSEXT_ERR_OK;
  }
};

TlsContext::TlsContext(const std::vector<TlsCertSpec>& certs, bool http2,
                       const std::vector<std::string>& acme_names)
    : impl_(std::make_unique<Impl>()) {
  impl_->http2 = http2;
  const TlsCertSpec* fallback = nullptr;
  for (const auto& c : certs)
    if (c.hosts.empty()) fallback = &c;
  if (!fallback && !certs.empty()) fallback = &certs.front();
  if (!fallback && acme_names.empty())
    throw std::runtime_error("TLS: no certificate (give --tls-cert and --tls-key)");
  // With ACME names only, the default context has no certificate: a client that names none of
  // them (or none at all) fails its handshake rather than see a certificate for another name.
  SSL_CTX* main_ctx = fallback ? make_ctx(*fallback, http2) : new_ctx(http2);
  impl_->main = main_ctx;
  impl_->owned.push_back(main_ctx);
  for (const auto& c : certs) {
    if (&c == fallback || c.hosts.empty()) continue;
    SSL_CTX* ctx = make_ctx(c, http2);
    impl_->owned.push_back(ctx);
    for (const auto& h : c.hosts)
      impl_->named.push_back(
          {h.starts_with("*.") ? normalize_host(h.substr(1)) : normalize_host(h), ctx});
  }
  for (const auto& h : acme_names) impl_->named.push_back({normalize_host(h), nullptr});
  if (!acme_names.empty())
    openssl().SSL_CTX_set_client_hello_cb(main_ctx, &Impl::on_client_hello, impl_.get());
  if (!impl_->named.empty()) {
    const OpenSslApi& o = openssl();
    o.SSL_CTX_callback_ctrl(main_ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                            reinterpret_cast<void (*)(void)>(&Impl::on_servername));
    o.SSL_CTX_ctrl(main_ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, impl_.get());
  }
}

TlsContext::~TlsContext() {
  for (SSL_CTX* c : impl_->owned) openssl().SSL_CTX_free(c);
  for (auto& [h, c] : impl_->challenges) openssl().SSL_CTX_free(c);
}

void TlsContext::set_alpn_challenge(const std::string& name, const std::string& cert_pem,
                                    const std::string& key_pem) {
  SSL_CTX* ctx =
      ctx_with(cert_pem, "(TLS-ALPN-01) for " + name, key_pem, "(TLS-ALPN-01) for " + name, false);
  openssl().SSL_CTX_set_alpn_select_cb(ctx, &select_acme_alpn, nullptr);
  clear_alpn_challenge(name);
  std::lock_guard lock(impl_->mutex);
  impl_->challenges.emplace_back(normalize_host(name), ctx);
}

void TlsContext::clear_alpn_challenge(const std::string& name) {
  std::vector<SSL_CTX*> gone;
  {
    std::lock_guard lock(impl_->mutex);
    std::string host = normalize_host(name);
    std::erase_if(impl_->challenges, [&](const auto& c) {
      if (c.first != host) return false;
      gone.push_back(c.second);
      return true;
    });
  }
  for (SSL_CTX* c : gone) openssl().SSL_CTX_free(c);
}

void TlsContext::install(const std::vector<std::string>& names, const std::string& cert_pem,
                         const std::string& key_pem) {
  SSL_CTX* ctx = ctx_with(cert_pem, "(ACME) for " + names.front(), key_pem,
                          "(ACME) for " + names.front(), impl_->http2);
  std::vector<SSL_CTX*> unused;
  {
    std::lock_guard lock(impl_->mutex);
    std::vector<SSL_CTX*> replaced;
    for (auto& n : impl_->named)
      for (const auto& name : names)
        if (n.host == normalize_host(name)) {
          if (n.ctx) replaced.push_back(n.ctx);
          n.ctx = ctx;
        }
    impl_->owned.push_back(ctx);
    // A replaced context still in use by another name stays; handshakes in flight hold their
    // own references, so the rest can go.
    for (SSL_CTX* old : replaced) {
      bool used = false;
      for (const auto& n : impl_->named) used = used || n.ctx == old;
      if (!used && std::find(unused.begin(), unused.end(), old) == unused.end()) {
        unused.push_back(old);
        std::erase(impl_->owned, old);
      }
    }
  }
  for (SSL_CTX* old : unused) openssl().SSL_CTX_free(old);
}

std::vector<TlsCertSpec> tls_certs_from(const Options& o) {
  std::vector<TlsCertSpec> out;
  if (!o.tls_cert.empty()) out.push_back({o.tls_cert, o.tls_key, {}});
  for (const auto& s : o.sites)
    if (!s.tls_cert.empty()) out.push_back({s.tls_cert, s.tls_key, s.hosts});
  return out;
}

std::string check_tls_files(const std::vector<TlsCertSpec>& certs) {
  try {
    TlsContext probe(certs);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

namespace {

// One TLS client: the handshake, then bytes both ways between OpenSSL (on the non-blocking TCP
// socket, waiting with Asio when OpenSSL wants to read or write) and the socket pair whose
// other end a Connection serves. Raw OpenSSL rather than asio::ssl: its start-up initialiser
// would load OpenSSL (~700 KiB) in every process, TLS or not.
//
// The pump is the registered connection (counted for --max-connections and the status page,
// told when the server stops) from accept to close. Every wait has a bound: the handshake the
// header timeout, a write to a client that does not read --io-timeout; the inner Connection
// bounds the rest and its end ends the pump.
class TlsPump final : public Stoppable, public std::enable_shared_from_this<TlsPump> {
 public:
  TlsPump(tcp::socket socket, ServerContext& ctx)
      : sock_(std::move(socket)),
        inner_(sock_.get_executor()),
        timer_(sock_.get_executor()),
        ctx_(ctx) {}
  ~TlsPump() {
    if (ssl_) openssl().SSL_free(ssl_);
    unregister();
  }

  void start(const PeerInfo* proxied) {
    ctx_.add(this, std::weak_ptr<Stoppable>(shared_from_this()));
    registered_ = true;
    boost::system::error_code ec;
    sock_.set_option(tcp::no_delay(true), ec);
    sock_.native_non_blocking(true, ec);
    peer_ = proxied ? *proxied : peer_of(sock_);
    peer_.https = true;
    ssl_ = api_.SSL_new(ctx_.tls->impl().main);
    if (!ssl_ || api_.SSL_set_fd(ssl_, sock_.native_handle()) != 1) return abort();
    // A client gets the header timeout to complete its handshake (a shorter grace when the
    // server is stopping).
    arm(ctx_.stopping.load() ? std::min(2u, ctx_.options.header_timeout)
                             : ctx_.options.header_timeout);
    handshake();
  }

  // The server stops: a handshake in progress may finish (its Connection then knows the server
  // is stopping); after it, the Connection decides.
  void shutdown() override {
    net::post(sock_.get_executor(), [self = shared_from_this()] {
      if (auto c = self->connection_.lock()) c->shutdown();
    });
  }

 private:
  void abort() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    timer_.cancel();
    sock_.close(ec);
    inner_.close(ec);
    unregister();
  }
  void unregister() {
    if (registered_) {
      registered_ = false;
      ctx_.remove(this);
    }
  }

  // One deadline at a time; reaching it ends the connection.
  void arm(unsigned seconds) {
    timer_.expires_after(std::chrono::seconds(seconds));
    timer_.async_wait([self = shared_from_this(), gen = ++timer_gen_](boost::system::error_code e) {
      if (!e && gen == self->timer_gen_) {
        self->abort();  // first: the log line means the connection is gone
        log::debug("TLS connection from " + self->peer_.remote_addr + " timed out");
      }
    });
  }
  void disarm() {
    ++timer_gen_;
    timer_.cancel();
  }

  // Waits until the socket is ready for what OpenSSL asked for, then calls `next`.
  template <class Next>
  bool wait_for(int ssl_error, Next next) {
    if (closed_) return false;
    if (ssl_error == SSL_ERROR_WANT_READ) {
      sock_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this(), next](boost::system::error_code e) {
                         if (e) return self->abort();
                         next();
                       });
      return true;
    }
    if (ssl_error == SSL_ERROR_WANT_WRITE) {
      sock_.async_wait(tcp::socket::wait_write,
                       [self = shared_from_this(), next](boost::system::error_code e) {
                         if (e) return self->abort();
                         next();
                       });
      return true;
    }
    return false;
  }

  void handshake() {
    api_.ERR_clear_error();
    int r = api_.SSL_accept(ssl_);
    if (r == 1) return on_handshake();
    int err = api_.SSL_get_error(ssl_, r);
    if (wait_for(err, [self = shared_from_this()] { self->handshake(); })) return;
    log::debug("TLS handshake with " + peer_.remote_addr + " failed: " + openssl_error());
    abort();
  }

  void on_handshake() {
    disarm();
    const unsigned char* proto = nullptr;
    unsigned int proto_len = 0;
    api_.SSL_get0_alpn_selected(ssl_, &proto, &proto_len);
    if (proto_len == 10 && std::memcmp(proto, "acme-tls/1", 10) == 0) {
      // A TLS-ALPN-01 validation: the handshake was all of it (RFC 8737 3).
      log::debug("TLS-ALPN-01 handshake from " + peer_.remote_addr);
      api_.SSL_shutdown(ssl_);
      return abort();
    }
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) != 0) {
      log::error(std::string("TLS: socketpair: ") + std::strerror(errno));
      return abort();
    }
    boost::system::error_code ec;
    inner_.assign(net::local::stream_protocol(), pair[0], ec);
    tcp::socket plain(sock_.get_executor());
    plain.assign(tcp::v4(), pair[1], ec);
    if (proto_len == 2 && std::memcmp(proto, "h2", 2) == 0) {
      try {
        connection_ = start_inner_h2_connection(std::move(plain), ctx_, peer_);
      } catch (const std::exception& e) {  // libnghttp2 went missing after start-up
        log::error(e.what());
        return abort();
      }
    } else {
      connection_ = start_inner_connection(std::move(plain), ctx_, peer_);
    }
    read_client();
    read_server();
  }

  // Client → Connection. (A Connection that stops reading ends with its own timeouts, and its
  // close fails the write below.)
  void read_client() {
    if (closed_) return;
    api_.ERR_clear_error();
    int n = api_.SSL_read(ssl_, up_.data(), static_cast<int>(up_.size()));
    if (n > 0) {
      net::async_write(inner_, net::buffer(up_.data(), static_cast<std::size_t>(n)),
                       [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                         if (ec) return self->abort();
                         self->read_client();
                       });
      return;
    }
    int err = api_.SSL_get_error(ssl_, n);
    if (wait_for(err, [self = shared_from_this()] { self->read_client(); })) return;
    // The client closed (or broke) the session: the Connection sees the end of its input.
    boost::system::error_code e;
    inner_.shutdown(net::socket_base::shutdown_send, e);
  }

  // Connection → client.
  void read_server() {
    if (closed_) return;
    inner_.async_read_some(net::buffer(down_), [self = shared_from_this()](
                                                   boost::system::error_code ec, std::size_t n) {
      if (ec) {
        // The Connection closed: end the TLS session politely, then the socket.
        self->api_.ERR_clear_error();
        self->api_.SSL_shutdown(self->ssl_);
        return self->abort();
      }
      self->pending_ = n;
      self->written_ = 0;
      self->write_client();
    });
  }

  void write_client() {
    if (closed_) return;
    while (written_ < pending_) {
      api_.ERR_clear_error();
      int n = api_.SSL_write(ssl_, down_.data() + written_, static_cast<int>(pending_ - written_));
      if (n > 0) {
        written_ += static_cast<std::size_t>(n);
        if (write_waiting_) arm(ctx_.options.io_timeout);  // progress: a new period
        continue;
      }
      int err = api_.SSL_get_error(ssl_, n);
      // A client that does not read gets --io-timeout to make room, as on plain HTTP.
      if (!write_waiting_) arm(ctx_.options.io_timeout);
      write_waiting_ = true;
      if (wait_for(err, [self = shared_from_this()] { self->write_client(); })) return;
      return abort();
    }
    if (write_waiting_) {
      write_waiting_ = false;
      disarm();
    }
    read_server();
  }

  tcp::socket sock_;
  net::local::stream_protocol::socket inner_;
  net::steady_timer timer_;
  std::uint64_t timer_gen_ = 0;
  ServerContext& ctx_;
  const OpenSslApi& api_ = openssl();
  SSL* ssl_ = nullptr;
  PeerInfo peer_;
  std::weak_ptr<Stoppable> connection_;
  bool registered_ = false;
  bool closed_ = false;
  bool write_waiting_ = false;
  std::size_t pending_ = 0, written_ = 0;
  std::array<char, 16 * 1024> up_, down_;
};

}  // namespace

void start_tls_connection(tcp::socket socket, ServerContext& ctx, const PeerInfo* proxied) {
  std::make_shared<TlsPump>(std::move(socket), ctx)->start(proxied);
}

}  // namespace w2p::server
