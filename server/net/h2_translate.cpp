#include "server/net/h2_translate.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "server/http/http_date.hpp"
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

void H2Head::make(bool drop_hop_by_hop) {
  fields.clear();
  fields.reserve(head.headers.size() + 4);
  auto r = std::to_chars(status_, status_ + sizeof status_, head.status);
  fields.emplace_back(":status", std::string_view(status_, r.ptr - status_));
  bool has_date = false, has_server = false;
  std::size_t name_bytes = 0;
  for (const auto& h : head.headers) {
    if (h.name.size() == 4) has_date = has_date || iequals(h.name, "date");
    if (h.name.size() == 6) has_server = has_server || iequals(h.name, "server");
    name_bytes += h.name.size();
  }
  if (!has_date) {
    const std::string& now = current_http_date();  // replaced each second: copied
    std::size_t n = std::min(now.size(), sizeof date_);
    std::memcpy(date_, now.data(), n);
    fields.emplace_back("date", std::string_view(date_, n));
  }
  if (!has_server) fields.emplace_back("server", "w2pserve");
  // HTTP/2 names are lower case: copied once into names_ (sized first: the views into it stay
  // valid).
  names_.resize(name_bytes);
  char* at = names_.data();
  for (const auto& h : head.headers) {
    if (drop_hop_by_hop && h2_hop_by_hop(h.name)) continue;
    char* begin = at;
    for (char ch : h.name) *at++ = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
    // HTTP/1.1 parsers drop the whitespace around a value; HTTP/2 forbids it (RFC 9113
    // 8.2.1), and clients reset the stream (web2py's Set-Cookie values start with a space).
    std::string_view value = h.value;
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    fields.emplace_back(std::string_view(begin, h.name.size()), value);
  }
  if (content_length) {
    r = std::to_chars(length_, length_ + sizeof length_, *content_length);
    fields.emplace_back("content-length", std::string_view(length_, r.ptr - length_));
  }
}

}  // namespace w2p::server
