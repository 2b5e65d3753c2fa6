#pragma once
// A small blocking HTTPS client for the ACME thread (never an I/O thread): one request per
// connection, the server's certificate verified against the system's CAs or --acme-ca-root,
// every step bounded by a timeout, the answer bounded in size.

#include <map>
#include <string>
#include <string_view>

namespace w2p::server::acme {

struct HttpsResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Throws std::runtime_error (what failed: the address, the connection, the certificate, the
// answer) when no HTTP answer came.
HttpsResponse https_request(const std::string& url, std::string_view method,
                            const std::string& body = {}, std::string_view content_type = {},
                            const std::string& ca_file = {}, int timeout_seconds = 10);

}  // namespace w2p::server::acme
