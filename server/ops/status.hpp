#pragma once
// /server-status: what the server is doing, as JSON or as Prometheus text. Counters are
// relaxed atomics bumped at the end of each response; the page reads them (and /proc) without
// stopping anything and never touches Python (the workers publish Python's figures).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace w2p::server {

struct ServerContext;

enum class ServedBy { static_file = 0, app = 1, redirect = 2, error = 3 };

// "static", "app", "redirect", "error" (the access log's %{served}x, the status page's labels).
std::string_view served_name(ServedBy by);

struct ServerStats {
  static constexpr double kBuckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};  // seconds
  static constexpr int kBucketCount = sizeof kBuckets / sizeof kBuckets[0];

  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();  // this image
  // The server's start, before any reload (microseconds since the epoch).
  std::int64_t first_started_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
  std::uint64_t reloads = 0;  // how many times this process re-executed itself
  std::atomic<std::uint64_t> responses[4] = {0, 0, 0, 0};
  std::atomic<std::uint64_t> bytes[4] = {0, 0, 0, 0};
  std::atomic<std::uint64_t> latency[kBucketCount + 1] =
      {};  // per bucket (last: +Inf), not cumulative
  std::atomic<std::uint64_t> latency_us_sum{0};
  std::atomic<std::uint32_t> in_app{0};  // requests handed to the application, not yet answered

  void record(ServedBy by, std::uint64_t body_bytes, std::uint64_t micros);

  // The counters as text for the next image of a reload (they go on from there, so a counter
  // never silently restarts at 0), and back.
  std::string save() const;
  void restore(std::string_view text);
};

// `s` as a JSON string literal, quotes included.
std::string json_string(std::string_view s);

// Resident memory of this process (VmRSS), in bytes; 0 when /proc cannot tell.
std::uint64_t resident_bytes();

// The page for `format` ("json", "prometheus", or "memory": the memory report as a table);
// content type in `type`. `with_memory` adds the memory report to the JSON (it reads
// /proc/self/smaps: ~1 ms, so it is asked for, not polled by default).
std::string status_page(const ServerContext& ctx, std::string_view format, std::string& type,
                        bool with_memory = false);

}  // namespace w2p::server
