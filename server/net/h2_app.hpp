#pragma once
// The application on an HTTP/2 stream, without an HTTP/1.1 round trip: the request is made
// from the stream's fields (the same header policy, peer and routing as an HTTP/1.1 Session's),
// its body spooled from DATA frames, and the worker's response parts (ResponseChannel) become a
// HEADERS frame and DATA frames read straight from the parts. One part at a time: the worker
// writes the next once the stream's frames have taken the last (back-pressure per stream, as
// over HTTP/1.1). h2_connection.cpp drives it; what it cannot serve this way (redirects, errors,
// the status page, refused heads) still goes through a Session.

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "server/app_interface.hpp"
#include "server/net/app_framing.hpp"
#include "server/net/connection.hpp"
#include "server/net/h2_static.hpp"
#include "server/net/h2_translate.hpp"
#include "server/net/request_plan.hpp"
#include "server/net/response_channel.hpp"

namespace w2p::server {

struct ServerContext;

// The request an application gets for a routed stream (its body, if any, follows);
// `has_content_length`: a body follows or the client gave its length.
std::shared_ptr<AppRequest> h2_app_request(std::string_view method, std::string_view path,
                                           H2Routed& routed, const FieldList& headers,
                                           const PeerInfo& peer, bool has_content_length,
                                           const ServerContext& ctx);

// Where a stream's response parts go: the connection, on its own thread.
class H2AppOwner {
 public:
  // False when the stream no longer takes parts (gone, refused, timed out): the part is
  // dropped and the worker told.
  virtual bool app_part(std::int32_t stream, ResponsePart& part) = 0;
  virtual void app_expired(std::int32_t stream, int status) = 0;

 protected:
  ~H2AppOwner() = default;
};

// The ChannelClient of one stream: hands parts to the connection while it lives; once it is
// gone, tells the worker so (the channel's done(false)) and drops what came.
class H2AppClient final : public ChannelClient {
 public:
  H2AppClient(boost::asio::any_io_executor ex, std::weak_ptr<H2AppOwner> owner, std::int32_t id)
      : ex_(std::move(ex)), owner_(std::move(owner)), id_(id) {}
  void set_channel(const std::shared_ptr<ResponseChannel>& c) { channel_ = c; }

  boost::asio::any_io_executor executor() override { return ex_; }
  void on_part(ResponsePart part) override;
  void on_expired(int status) override;

 private:
  boost::asio::any_io_executor ex_;
  std::weak_ptr<H2AppOwner> owner_;
  std::weak_ptr<ResponseChannel> channel_;
  std::int32_t id_;
};

// One stream's response as the parts come.
class H2AppResponse {
 public:
  explicit H2AppResponse(bool head_request);
  ~H2AppResponse();
  H2AppResponse(const H2AppResponse&) = delete;
  H2AppResponse& operator=(const H2AppResponse&) = delete;

  // What a part asks of the stream.
  enum class Step {
    none,     // nothing new to send yet (a part that was all framing)
    headers,  // submit head.fields (has_body: DATA follow)
    data,     // more body: resume the stream's DATA
    reset,    // the response failed (an abort, a body short of its length): reset the stream
    handoff,  // X-Sendfile / X-Accel-Redirect: `handoff` is to be served as a static file
  };
  Step take(ResponsePart part);

  // The next body bytes (at most `n`) into `buf`. Sets `eof` after the last, `drained` when
  // this part is all taken and the worker may write the next; -1: the file part failed.
  ssize_t read(std::uint8_t* buf, std::size_t n, bool& eof, bool& drained);
  // Body bytes ready to go (false: the stream waits for the worker's next part).
  bool pending() const;

  H2Head head;
  bool has_body = false;
  std::optional<Handoff> handoff;
  RequestLog log;

 private:
  AppFraming framing_;
  std::string data_;
  std::size_t at_ = 0;
  BodyFile file_;  // owned while fd >= 0
  bool last_ = false;
  bool drained_ = false;  // this part's end was reported (the worker asked for the next)
};

}  // namespace w2p::server
