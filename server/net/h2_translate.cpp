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

bool h2_response_fields_in_place(std::string& head, FieldViews& fields) {
  // "HTTP/1.1 200 OK\r\n": the status is the three digits after the first space.
  std::size_t line_end = head.find("\r\n");
  if (line_end == std::string::npos || line_end < 12 || head.compare(0, 5, "HTTP/") != 0)
    return false;
  std::size_t sp = head.find(' ');
  if (sp == std::string::npos || sp + 4 > line_end) return false;
  fields.clear();
  fields.reserve(12);
  fields.emplace_back(":status", std::string_view(head).substr(sp + 1, 3));
  std::size_t at = line_end + 2;
  for (;;) {
    std::size_t end = head.find("\r\n", at);
    if (end == std::string::npos) return false;
    if (end == at) return true;  // the empty line: the end of the head
    std::size_t colon = head.find(':', at);
    if (colon == std::string::npos || colon > end) return false;
    for (std::size_t i = at; i < colon; ++i)
      if (head[i] >= 'A' && head[i] <= 'Z') head[i] = static_cast<char>(head[i] - 'A' + 'a');
    std::string_view name(head.data() + at, colon - at);
    std::size_t v = colon + 1;
    while (v < end && (head[v] == ' ' || head[v] == '\t')) ++v;
    if (!h2_hop_by_hop(name)) fields.emplace_back(name, std::string_view(head.data() + v, end - v));
    at = end + 2;
  }
}

}  // namespace w2p::server
