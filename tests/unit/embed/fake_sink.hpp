#pragma once
// A ResponseSink that records what the gateway produced.

#include <optional>
#include <string>

#include "server/app_interface.hpp"

namespace w2p::test {

struct FakeSink : server::ResponseSink {
  std::optional<server::ResponseHead> head;
  std::string text;  // the body received
  int parts = 0;
  bool finished = false;
  bool aborted = false;
  bool client_gone = false;  // when set, every call reports a lost client
  server::BodyFile file_sent;

  bool start(server::ResponseHead h, std::string b, bool last) override {
    head = std::move(h);
    return body_part(std::move(b), last);
  }
  bool body(std::string b, bool last) override { return body_part(std::move(b), last); }
  bool start_file(server::ResponseHead h, server::BodyFile f) override {
    head = std::move(h);
    started_with_file = true;
    return file(f);
  }
  bool started_with_file = false;  // the head and the file came together (the server frames it)
  bool file(server::BodyFile f) override {
    file_sent = f;
    finished = true;
    ++parts;
    return !client_gone;
  }
  void abort() override { aborted = true; }
  void expire(int status) override { expired = status; }
  int expired = 0;

  std::string header(const std::string& name) const {
    if (!head) return {};
    for (const auto& h : head->headers)
      if (h.name == name) return h.value;
    return {};
  }

 private:
  bool body_part(std::string b, bool last) {
    text += b;
    ++parts;
    if (last) finished = true;
    return !client_gone;
  }
};

}  // namespace w2p::test
