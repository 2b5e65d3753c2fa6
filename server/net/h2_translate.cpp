#include "server/net/h2_translate.hpp"

#include <algorithm>
#include <cctype>

#include "server/http/response_head.hpp"

namespace w2p::server {

bool h2_hop_by_hop(std::string_view name) {
  for (const char* h :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"})
    if (iequals(name, h)) return true;
  return false;
}

std::string http11_request_head(std::string_view method, std::string_view path,
                                std::string_view authority, const FieldList& headers,
                                bool chunked) {
  std::string head;
  head.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: ");
  head.append(authority).append("\r\n");
  std::string cookies;
  for (const auto& [n, v] : headers) {
    if (h2_hop_by_hop(n) || n == "host") continue;
    if (n == "cookie") {
      cookies.append(cookies.empty() ? "" : "; ").append(v);
      continue;
    }
    head.append(n).append(": ").append(v).append("\r\n");
  }
  if (!cookies.empty()) head.append("cookie: ").append(cookies).append("\r\n");
  if (chunked) head.append("transfer-encoding: chunked\r\n");
  head.append("connection: close\r\n\r\n");
  return head;
}

FieldList h2_response_fields(const boost::beast::http::response_header<>& head) {
  FieldList fields;
  fields.emplace_back(":status", std::to_string(head.result_int()));
  for (const auto& f : head) {
    std::string name(f.name_string());
    if (h2_hop_by_hop(name)) continue;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    fields.emplace_back(std::move(name), std::string(f.value()));
  }
  return fields;
}

}  // namespace w2p::server
