#include "server/acme/https_client.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "server/acme/acme_openssl.hpp"

namespace w2p::server::acme {

namespace http = boost::beast::http;

namespace {

constexpr std::size_t kMaxAnswer = 4 << 20;  // certificates and ACME objects are small

struct Url {
  std::string host, port, target;
};

Url parse_url(const std::string& url) {
  if (!url.starts_with("https://")) throw std::runtime_error("not an https:// URL: " + url);
  std::string rest = url.substr(8);
  std::size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  Url u;
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  std::size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
    u.port = "443";
  }
  if (u.host.size() > 2 && u.host.front() == '[') u.host = u.host.substr(1, u.host.size() - 2);
  if (u.host.empty()) throw std::runtime_error("no host in " + url);
  return u;
}

// A connected TCP socket (bounded by `timeout` seconds), or an exception naming the address.
int connect_to(const Url& u, int timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &found); rc != 0)
    throw std::runtime_error("cannot resolve " + u.host + ": " + ::gai_strerror(rc));
  std::string last = "no address";
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, timeout * 1000) == 1 ? 0 : -1;
      int err = rc == 0 ? 0 : ETIMEDOUT;
      socklen_t len = sizeof err;
      if (rc == 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        errno = err;
        rc = -1;
      }
    }
    if (rc == 0) {
      ::freeaddrinfo(found);
      int flags = 0;  // blocking from now on, every call bounded by the socket's timeouts
      ::ioctl(fd, FIONBIO, &flags);
      timeval tv{timeout, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      return fd;
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  throw std::runtime_error("cannot connect to " + u.host + ":" + u.port + ": " + last);
}

}  // namespace

HttpsResponse https_request(const std::string& url, std::string_view method,
                            const std::string& body, std::string_view content_type,
                            const std::string& ca_file, int timeout_seconds) {
  const AcmeOpenSsl& a = acme_openssl();
  Url u = parse_url(url);
  int fd = connect_to(u, timeout_seconds);
  SSL_CTX* ctx = a.SSL_CTX_new(a.TLS_client_method());
  SSL* ssl = ctx ? a.SSL_new(ctx) : nullptr;
  auto cleanup = [&] {
    if (ssl) a.SSL_free(ssl);
    if (ctx) a.SSL_CTX_free(ctx);
    ::close(fd);
  };
  try {
    if (!ssl) throw std::runtime_error("TLS: " + ssl_error());
    a.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    int loaded = ca_file.empty() ? a.SSL_CTX_set_default_verify_paths(ctx)
                                 : a.SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
    if (loaded != 1)
      throw std::runtime_error("cannot load the CA certificates " +
                               (ca_file.empty() ? std::string("of the system") : ca_file) + ": " +
                               ssl_error());
    a.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(u.host.c_str()));
    a.SSL_set1_host(ssl, u.host.c_str());
    a.SSL_set_fd(ssl, fd);
    if (a.SSL_connect(ssl) != 1) {
      long v = a.SSL_get_verify_result(ssl);
      std::string why = v != X509_V_OK ? std::string("certificate not trusted (") +
                                             a.X509_verify_cert_error_string(v) + ")"
                                       : ssl_error();
      throw std::runtime_error("TLS with " + u.host + ":" + u.port + ": " + why);
    }
    std::string req;
    req.append(method).append(" ").append(u.target).append(" HTTP/1.1\r\nHost: ");
    req.append(u.host).append(u.port == "443" ? "" : ":" + u.port);
    req.append("\r\nUser-Agent: w2pserve-acme\r\nAccept: */*\r\nConnection: close\r\n");
    if (!content_type.empty()) req.append("Content-Type: ").append(content_type).append("\r\n");
    if (!body.empty() || method == "POST")
      req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    req.append("\r\n").append(body);
    for (std::size_t sent = 0; sent < req.size();) {
      int n = a.SSL_write(ssl, req.data() + sent, static_cast<int>(req.size() - sent));
      if (n <= 0) throw std::runtime_error("cannot send to " + u.host + ": " + ssl_error());
      sent += static_cast<std::size_t>(n);
    }
    std::string raw;
    char buf[16384];
    for (;;) {
      int n = a.SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) break;  // the end (Connection: close), or a timeout: the parser decides
      raw.append(buf, static_cast<std::size_t>(n));
      if (raw.size() > kMaxAnswer) throw std::runtime_error("answer from " + u.host + " too large");
    }
    a.ERR_clear_error();
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswer);
    if (method == "HEAD") parser.skip(true);
    boost::beast::error_code ec;
    std::size_t used = 0;
    while (!ec && used < raw.size() && !parser.is_done())
      used += parser.put(boost::asio::buffer(raw.data() + used, raw.size() - used), ec);
    if (!parser.is_done() && (!ec || ec == http::error::need_more)) {
      ec = {};
      parser.put_eof(ec);
    }
    if (ec || !parser.is_header_done())
      throw std::runtime_error("no complete HTTP answer from " + u.host + ":" + u.port +
                               (ec ? " (" + ec.message() + ")" : std::string()));
    HttpsResponse r;
    r.status = parser.get().result_int();
    for (const auto& f : parser.get()) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string& v = r.headers[name];
      v.append(v.empty() ? "" : ", ").append(f.value());
    }
    r.body = std::move(parser.get().body());
    cleanup();
    return r;
  } catch (...) {
    cleanup();
    throw;
  }
}

}  // namespace w2p::server::acme
