#pragma once
// What an HTTP/1.1 Session and an HTTP/2 stream answered natively (h2_static.cpp) decide alike:
// the parts of a checked request head that a file response reads, the static plan a route makes,
// and the end of a request for the statistics and the access log. One place, so a request is
// served, counted and logged the same whatever protocol carried it.

#include <boost/beast/http/message.hpp>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "server/app_interface.hpp"
#include "server/http/request_rules.hpp"
#include "server/net/response_compression.hpp"
#include "server/ops/status.hpp"
#include "server/routing/route.hpp"
#include "server/static/handoff.hpp"
#include "server/static/static_responder.hpp"

namespace w2p::server {

struct ServerContext;
struct Site;

// Fills the request-field parts of `rq` (Accept-Encoding, Range, the conditionals) from `msg`,
// whose fields must outlive `rq`; `get` from its method.
void fill_file_request(const boost::beast::http::request_header<>& msg, FileRequest& rq);

// For a route to a static file (RouteKind::static_file, or web2py_static when the file is a
// regular one), what the responder plans; nothing when the route is not a static answer (web2py
// answers it then).
std::optional<FilePlan> plan_static(StaticResponder& responder, const Route& r,
                                    const RequestVerdict& verdict, const FileRequest& rq);

// Adds a request field to what the application sees, by the one policy for every protocol:
// names made of letters, digits and '-' only (is_plain_header_name); forwarding headers only
// from a trusted proxy (`trusted_peer`), whose X-Forwarded-Proto: https makes it HTTPS.
void add_app_header(AppRequest& req, std::string_view name, std::string_view value,
                    bool trusted_peer);

// Adds `data` to a request body: in memory up to `threshold`, then in an unlinked temporary
// file below `dir` (a 1 GiB upload costs a few KiB of memory). False when the disk refused.
bool spool_body(RequestBody& body, const char* data, std::size_t n, std::size_t threshold,
                const std::string& dir);

// What the worker may compress the response with: from the request's Accept-Encoding fields
// and the settings (none for HEAD: its body is never sent).
CompressionOffer compression_offer(const ServerContext& ctx, const AppRequest& req,
                                   bool head_request);

// X-Sendfile (an absolute path below an --x-sendfile folder) or X-Accel-Redirect (a URL below
// an --x-accel prefix): the file's plan, as a static file's, with the request's conditionals and
// ranges. Anything else is the application's mistake: a logged error and its status page.
FilePlan plan_handoff(Handoff h, ServerContext& ctx, StaticResponder& responder,
                      const FileRequest& rq);

// One request from its head to the end of its response, as the statistics and the access log
// see it.
struct RequestLog {
  bool active = false;
  std::chrono::steady_clock::time_point start;
  std::time_t when = 0;
  std::string method, target;
  unsigned version = 11;
  int status = 0;
  std::uint64_t bytes = 0;
  int served = -1;  // a ServedBy, or -1 before any response was made
  const Site* site = nullptr;
  bool in_app = false;

  // A request head arrived (method and target kept only when there is an access log).
  void begin(bool access_log, std::string_view method, std::string_view target, unsigned version);
  // The response (its status, body bytes, and what served it).
  void respond(int status, std::uint64_t bytes, ServedBy served);
};

// Ends `log` (active no more): counted in the statistics, a line in the access log. `header`
// gives a request header by name ("" when absent) for the log's %{NAME}i fields.
void finish_request_log(ServerContext& ctx, RequestLog& log, std::string_view remote,
                        const std::function<std::string_view(std::string_view)>& header);

}  // namespace w2p::server
