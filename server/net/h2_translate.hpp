#pragma once
// HTTP/2 fields: to and from HTTP/1.1 for the streams an HTTP/1.1 Session serves (h2_streams.cpp:
// the request head written to it, the response fields read back), and a head the server holds
// (a static plan's, an application's) as HEADERS fields (H2Head).

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/app_interface.hpp"

namespace w2p::server {

using FieldList = std::vector<std::pair<std::string, std::string>>;
using FieldViews = std::vector<std::pair<std::string_view, std::string_view>>;

// Connection-specific header fields, never forwarded in HTTP/2 (RFC 9113 8.2.2).
bool h2_hop_by_hop(std::string_view name);

// The HTTP/1.1 request head for a stream: Host from :authority, split `cookie` fields joined
// with "; " (RFC 9113 8.2.3), hop-by-hop fields dropped, `Transfer-Encoding: chunked` when the
// body has no length, and `Connection: close` (the Session's close ends the response).
std::string http11_request_head(std::string_view method, std::string_view path,
                                std::string_view authority, const FieldList& headers, bool chunked);

// The response's fields for HEADERS: ":status" first, then the rest lower-cased, hop-by-hop
// fields dropped.
FieldList h2_response_fields(const boost::beast::http::response_header<>& head);

// A response head the server holds (a static plan's, an application's) as HEADERS fields:
// ":status", date and server unless the head has them, the head's fields with names in lower
// case, and content-length when known. The views point into this object only (and constant
// strings): it is submitted without a copy (NGHTTP2_NV_FLAG_NO_COPY_*), so it stays put and
// alive until its stream ends.
struct H2Head {
  ResponseHead head;
  std::optional<std::uint64_t> content_length;
  FieldViews fields;

  // `drop_hop_by_hop`: for an application's head (a static plan has none to drop).
  void make(bool drop_hop_by_hop);

 private:
  std::string names_;
  char status_[4] = {};
  char length_[24] = {};
  char date_[32] = {};
};

}  // namespace w2p::server
