#include "server/http/response_head.hpp"

#include <charconv>

#include "server/http/http_date.hpp"

namespace w2p::server {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

bool list_has_token(std::string_view list, std::string_view token) {
  std::size_t i = 0;
  while (i < list.size()) {
    std::size_t end = list.find(',', i);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(i, end - i);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    i = end + 1;
  }
  return false;
}

const std::string* find_header(const std::vector<Header>& headers, std::string_view name) {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return &h.value;
  return nullptr;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c >= 'a' && c <= 'z') continue;
    if (c >= 'A' && c <= 'Z') continue;
    if (c >= '0' && c <= '9') continue;
    switch (c) {
      case '!':
      case '#':
      case '$':
      case '%':
      case '&':
      case '\'':
      case '*':
      case '+':
      case '-':
      case '.':
      case '^':
      case '_':
      case '`':
      case '|':
      case '~':
        continue;
      default:
        return false;
    }
  }
  return true;
}

bool is_safe_header_value(std::string_view s) {
  for (unsigned char c : s) {
    if (c == '\t') continue;
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::string_view kHop[] = {
      "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
      "te",         "trailer",    "transfer-encoding",  "upgrade"};
  for (auto h : kHop)
    if (iequals(name, h)) return true;
  return false;
}

std::optional<ResponseHead> parse_status_line(std::string_view status) {
  if (status.size() < 4 || status[3] != ' ') return std::nullopt;
  int code = 0;
  for (int i = 0; i < 3; ++i) {
    if (status[i] < '0' || status[i] > '9') return std::nullopt;
    code = code * 10 + (status[i] - '0');
  }
  // A final status: 1xx are interim responses, which a WSGI application cannot send (its "100
  // Continue" would be taken as the response, and every pipelined response after it shifted).
  if (code < 200 || code > 599) return std::nullopt;
  std::string_view reason = status.substr(4);
  if (!is_safe_header_value(reason)) return std::nullopt;
  ResponseHead head;
  head.status = code;
  head.reason.assign(reason);
  return head;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void serialize_head(std::string& out, unsigned version, const ResponseHead& head, Framing framing,
                    std::uint64_t content_length, bool keep_alive) {
  out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  char num[24];
  auto r = std::to_chars(num, num + sizeof num, head.status);
  out.append(num, r.ptr);
  out.push_back(' ');
  if (head.reason.empty())
    out.append(reason_phrase(head.status));
  else
    out.append(head.reason);
  out.append("\r\n");
  bool has_date = false, has_server = false;
  for (const auto& h : head.headers) {
    if (!has_date && iequals(h.name, "date")) has_date = true;
    if (!has_server && iequals(h.name, "server")) has_server = true;
  }
  if (!has_date) {
    out.append("Date: ");
    out.append(current_http_date());
    out.append("\r\n");
  }
  if (!has_server) out.append("Server: w2pserve\r\n");
  for (const auto& h : head.headers) {
    out.append(h.name);
    out.append(": ");
    out.append(h.value);
    out.append("\r\n");
  }
  switch (framing) {
    case Framing::content_length: {
      out.append("Content-Length: ");
      r = std::to_chars(num, num + sizeof num, content_length);
      out.append(num, r.ptr);
      out.append("\r\n");
      break;
    }
    case Framing::chunked:
      out.append("Transfer-Encoding: chunked\r\n");
      break;
    case Framing::none:
    case Framing::close_delimited:
      break;
  }
  if (!keep_alive) {
    out.append("Connection: close\r\n");
  } else if (version == 10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

std::string status_page_body(int status) {
  std::string body;
  if (status_has_no_body(status)) return body;
  std::string_view reason = reason_phrase(status);
  body.append("<!DOCTYPE html><html><head><title>");
  body.append(std::to_string(status)).append(" ").append(reason);
  body.append("</title></head><body><h1>");
  body.append(std::to_string(status)).append(" ").append(reason);
  body.append("</h1></body></html>\n");
  return body;
}

std::string simple_response(unsigned version, int status, bool keep_alive,
                            const std::vector<Header>& extra, bool head_only) {
  std::string body = status_page_body(status);
  ResponseHead head;
  head.status = status;
  head.headers = extra;
  if (!body.empty()) head.headers.push_back({"Content-Type", "text/html; charset=utf-8"});
  std::string out;
  serialize_head(out, version, head,
                 status_has_no_body(status) ? Framing::none : Framing::content_length, body.size(),
                 keep_alive);
  if (!head_only) out.append(body);
  return out;
}

}  // namespace w2p::server
