#pragma once
// The response side of a request handed to the application: a worker thread writes into a
// ResponseChannel (the ResponseSink of app_interface.hpp); each part is posted to the I/O
// thread of the connection, one part at a time (back-pressure: the worker waits, without the
// GIL, until the connection has written the previous one). Each channel has its own lock and
// wake-up, so a worker waits only for its own client.

#include <boost/asio/any_io_executor.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "server/app_interface.hpp"
#include "server/net/response_compression.hpp"

namespace w2p::server {

// One part of a response, produced on a worker thread and written on the I/O thread.
struct ResponsePart {
  enum Kind { start, body, file, abort } kind = body;
  ResponseHead head;
  std::string data;
  BodyFile file_body;  // the descriptor belongs to the part until a receiver takes it (a start
                       // part with a file: the head, then the file as the whole body)
  bool last = false;
};

// What a channel delivers to: a connection. Called on its executor's thread.
class ChannelClient {
 public:
  virtual boost::asio::any_io_executor executor() = 0;
  virtual void on_part(ResponsePart part) = 0;
  // The request ran out of time (--request-timeout): answer `status` if nothing went out yet.
  virtual void on_expired(int status) = 0;

 protected:
  ~ChannelClient() = default;
};

class ResponseChannel;

// Every live channel, so that the end of the I/O threads can wake the workers waiting on them
// and cut them from their connections: no Asio object may outlive its io_context, and a worker
// stuck in Python may hold its channel after the server is gone (it shares the hub).
class ChannelHub {
 public:
  void add(ResponseChannel* c);
  void remove(ResponseChannel* c);
  bool stopped();
  // After the I/O threads have returned: every channel reports the client gone from now on and
  // lets go of its connection (destroyed here, before the io_context is).
  void stop();

 private:
  std::mutex mutex_;
  std::unordered_set<ResponseChannel*> channels_;
  bool stopped_ = false;
};

class ResponseChannel final : public ResponseSink {
 public:
  // `offer`: the compression the request allows (the worker compresses the body, not the I/O
  // thread).
  ResponseChannel(std::shared_ptr<ChannelHub> hub, std::shared_ptr<ChannelClient> client,
                  CompressionOffer offer = {});
  ~ResponseChannel() override;

  bool start(ResponseHead head, std::string body, bool last) override;
  bool body(std::string data, bool last) override;
  bool file(BodyFile f) override;
  bool start_file(ResponseHead head, BodyFile f) override;
  void abort() override;
  void expire(int status) override;

  // The I/O thread finished writing a part (ok) or the connection is gone (!ok).
  void done(bool ok);
  // Hands the client back (the hub is stopping); the worker sees the client gone.
  std::shared_ptr<ChannelClient> detach();

 private:
  bool push(ResponsePart p);
  bool compressed_file(BodyFile f);

  std::shared_ptr<ChannelHub> hub_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::shared_ptr<ChannelClient> client_;  // guarded by mutex_; null once detached
  bool busy_ = false;
  bool gone_ = false;
  bool finished_ = false;
  // Used by the producing worker only (no lock): the response's compression.
  CompressionOffer offer_;
  std::unique_ptr<ResponseCompressor> compressor_;
};

}  // namespace w2p::server
