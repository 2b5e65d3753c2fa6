#include "server/ops/status.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "server/net/server_context.hpp"
#include "server/ops/memory.hpp"

namespace w2p::server {
namespace {

const char* const kKinds[] = {"static", "app", "redirect", "error"};

std::uint64_t proc_status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  std::size_t n = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
      return std::strtoull(line.c_str() + n + 1, nullptr, 10);
  return 0;
}

std::string label(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out.append(buf);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

std::string_view served_name(ServedBy by) {
  return kKinds[static_cast<int>(by)];
}

void ServerStats::record(ServedBy by, std::uint64_t body_bytes, std::uint64_t micros) {
  int k = static_cast<int>(by);
  responses[k].fetch_add(1, std::memory_order_relaxed);
  bytes[k].fetch_add(body_bytes, std::memory_order_relaxed);
  latency_us_sum.fetch_add(micros, std::memory_order_relaxed);
  int b = 0;
  while (b<kBucketCount&& static_cast<double>(micros)> kBuckets[b] * 1e6) ++b;
  latency[b].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t resident_bytes() {
  return proc_status_kib("VmRSS") * 1024;
}

std::string ServerStats::save() const {
  std::string out = std::to_string(first_started_us) + " " + std::to_string(reloads);
  auto add = [&](std::uint64_t v) { out += " " + std::to_string(v); };
  for (const auto& r : responses) add(r.load(std::memory_order_relaxed));
  for (const auto& b : bytes) add(b.load(std::memory_order_relaxed));
  for (const auto& l : latency) add(l.load(std::memory_order_relaxed));
  add(latency_us_sum.load(std::memory_order_relaxed));
  return out;
}

void ServerStats::restore(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::uint64_t v = 0;
  std::vector<std::uint64_t> all;
  while (in >> v) all.push_back(v);
  if (all.size() != 2 + 4 + 4 + kBucketCount + 1 + 1) return;  // another version's: start over
  std::size_t i = 0;
  first_started_us = static_cast<std::int64_t>(all[i++]);
  reloads = all[i++];
  for (auto& r : responses) r = all[i++];
  for (auto& b : bytes) b = all[i++];
  for (auto& l : latency) l = all[i++];
  latency_us_sum = all[i++];
}

namespace {

// The figures both formats show, read once (relaxed atomics: a status page needs no more).
struct Figures {
  const ServerStats& st;
  double uptime = 0;        // since the server started
  double image_uptime = 0;  // since the last reload
  std::uint64_t rss = 0, peak = 0;
  std::size_t connections = 0;
  const AppStats* app = nullptr;
  std::uint64_t cumulative[ServerStats::kBucketCount + 1] = {};
  std::uint64_t total = 0;
};

template <class A>
auto load(const A& a) {
  return a.load(std::memory_order_relaxed);
}

Figures collect(const ServerContext& ctx) {
  Figures f{ctx.stats};
  auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  f.uptime = static_cast<double>(now_us - f.st.first_started_us) / 1e6;
  f.image_uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - f.st.started).count();
  f.rss = proc_status_kib("VmRSS") * 1024;
  f.peak = proc_status_kib("VmHWM") * 1024;
  f.connections = ctx.connection_count();
  f.app = ctx.app ? &ctx.app->stats() : nullptr;
  for (int i = 0; i <= ServerStats::kBucketCount; ++i)
    f.cumulative[i] = f.total += load(f.st.latency[i]);
  return f;
}

void prometheus(std::ostringstream& o, const ServerContext& ctx, const Figures& f) {
  const ServerStats& st = f.st;
  const AppStats* app = f.app;
  const auto& cumulative = f.cumulative;
  const std::uint64_t total = f.total;
  auto metric = [&](const char* name, const char* kind, const char* help) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << kind << "\n";
  };
  double uptime = f.uptime;
  std::uint64_t rss = f.rss, peak = f.peak;
  std::size_t connections = f.connections;
  metric("w2pserve_uptime_seconds", "gauge", "Seconds since the server started.");
  o << "w2pserve_uptime_seconds " << num(uptime) << "\n";
  metric("w2pserve_since_reload_seconds", "gauge", "Seconds since the last in-place reload.");
  o << "w2pserve_since_reload_seconds " << num(f.image_uptime) << "\n";
  metric("w2pserve_reloads_total", "counter", "In-place reloads of this process.");
  o << "w2pserve_reloads_total " << st.reloads << "\n";
  metric("w2pserve_resident_memory_bytes", "gauge", "Resident memory (VmRSS).");
  o << "w2pserve_resident_memory_bytes " << rss << "\n";
  metric("w2pserve_peak_resident_memory_bytes", "gauge", "Peak resident memory (VmHWM).");
  o << "w2pserve_peak_resident_memory_bytes " << peak << "\n";
  metric("w2pserve_connections", "gauge", "Open client connections.");
  o << "w2pserve_connections " << connections << "\n";
  metric("w2pserve_requests_total", "counter", "Responses by what served them.");
  for (int k = 0; k < 4; ++k)
    o << "w2pserve_requests_total{kind=\"" << kKinds[k] << "\"} " << load(st.responses[k]) << "\n";
  metric("w2pserve_response_bytes_total", "counter", "Response body bytes by what served them.");
  for (int k = 0; k < 4; ++k)
    o << "w2pserve_response_bytes_total{kind=\"" << kKinds[k] << "\"} " << load(st.bytes[k])
      << "\n";
  metric("w2pserve_in_flight_requests", "gauge",
         "Requests handed to the application, not yet answered.");
  o << "w2pserve_in_flight_requests " << load(st.in_app) << "\n";
  if (app) {
    metric("w2pserve_queue_depth", "gauge", "Requests waiting for a Python worker.");
    o << "w2pserve_queue_depth " << load(app->queued) << "\n";
    metric("w2pserve_busy_workers", "gauge", "Python workers running a request.");
    o << "w2pserve_busy_workers " << load(app->busy) << "\n";
    metric("w2pserve_gil_wait_seconds_total", "counter", "Time workers waited to take the GIL.");
    o << "w2pserve_gil_wait_seconds_total "
      << num(static_cast<double>(load(app->gil_wait_ns)) / 1e9) << "\n";
    metric("w2pserve_python_allocated_blocks", "gauge",
           "sys.getallocatedblocks() after the last request.");
    o << "w2pserve_python_allocated_blocks " << load(app->allocated_blocks) << "\n";
    metric("w2pserve_idle_heap_trims_total", "counter",
           "Times the C heap's free pages were given back after an idle second.");
    o << "w2pserve_idle_heap_trims_total " << load(app->idle_trims) << "\n";
    metric("w2pserve_python_gc_count", "gauge", "gc.get_count() after the last request.");
    for (int g = 0; g < 3; ++g)
      o << "w2pserve_python_gc_count{generation=\"" << g << "\"} " << load(app->gc_count[g])
        << "\n";
  }
  metric("w2pserve_request_duration_seconds", "histogram",
         "From the request head to the end of the response.");
  for (int i = 0; i < ServerStats::kBucketCount; ++i)
    o << "w2pserve_request_duration_seconds_bucket{le=\"" << num(ServerStats::kBuckets[i]) << "\"} "
      << cumulative[i] << "\n";
  o << "w2pserve_request_duration_seconds_bucket{le=\"+Inf\"} " << total << "\n";
  o << "w2pserve_request_duration_seconds_sum "
    << num(static_cast<double>(load(st.latency_us_sum)) / 1e6) << "\n";
  o << "w2pserve_request_duration_seconds_count " << total << "\n";
  metric("w2pserve_cron_last_run_timestamp_seconds", "gauge",
         "When each cron job last started (0: never).");
  for (const auto& j : ctx.cron.get())
    o << "w2pserve_cron_last_run_timestamp_seconds{app=\"" << label(j.app) << "\",line=\"" << j.line
      << "\",status=\"" << label(j.last_status) << "\"} " << j.last_started << "\n";
  metric("w2pserve_site_requests_total", "counter", "Requests by site.");
  for (const auto& site : ctx.sites->sites())
    o << "w2pserve_site_requests_total{site=\"" << label(site->spec.name) << "\"} "
      << load(site->requests) << "\n";
}

void json(std::ostringstream& o, const ServerContext& ctx, const Figures& f) {
  const ServerStats& st = f.st;
  const AppStats* app = f.app;
  const auto& cumulative = f.cumulative;
  const std::uint64_t total = f.total;
  double uptime = f.uptime;
  std::uint64_t rss = f.rss, peak = f.peak;
  std::size_t connections = f.connections;
  o << "{\"pid\": " << ::getpid() << ", \"uptime_seconds\": " << num(uptime)
    << ", \"since_reload_seconds\": " << num(f.image_uptime) << ", \"reloads\": " << st.reloads
    << ", \"resident_memory_bytes\": " << rss << ", \"peak_resident_memory_bytes\": " << peak
    << ", \"connections\": " << connections << ", \"in_flight_requests\": " << load(st.in_app)
    << ", \"requests\": {";
  for (int k = 0; k < 4; ++k)
    o << (k ? ", " : "") << "\"" << kKinds[k] << "\": " << load(st.responses[k]);
  o << "}, \"response_bytes\": {";
  for (int k = 0; k < 4; ++k)
    o << (k ? ", " : "") << "\"" << kKinds[k] << "\": " << load(st.bytes[k]);
  o << "}, \"latency_seconds\": {\"buckets\": [";
  for (int i = 0; i < ServerStats::kBucketCount; ++i)
    o << (i ? ", " : "") << "[" << num(ServerStats::kBuckets[i]) << ", " << cumulative[i] << "]";
  o << "], \"count\": " << total
    << ", \"sum\": " << num(static_cast<double>(load(st.latency_us_sum)) / 1e6) << "}";
  if (app) {
    o << ", \"python\": {\"queue_depth\": " << load(app->queued)
      << ", \"busy_workers\": " << load(app->busy)
      << ", \"gil_wait_seconds\": " << num(static_cast<double>(load(app->gil_wait_ns)) / 1e9)
      << ", \"allocated_blocks\": " << load(app->allocated_blocks) << ", \"gc_count\": ["
      << load(app->gc_count[0]) << ", " << load(app->gc_count[1]) << ", " << load(app->gc_count[2])
      << "], \"idle_heap_trims\": " << load(app->idle_trims) << "}";
  }
  o << ", \"cron\": [";
  bool first_job = true;
  for (const auto& j : ctx.cron.get()) {
    o << (first_job ? "" : ", ") << "{\"app\": " << json_string(j.app) << ", \"line\": " << j.line
      << ", \"command\": " << json_string(j.command) << ", \"last_status\": "
      << (j.last_status.empty() ? std::string("null") : json_string(j.last_status))
      << ", \"last_started\": " << j.last_started
      << ", \"last_duration_ms\": " << j.last_duration_ms << ", \"next_run\": " << j.next_run
      << "}";
    first_job = false;
  }
  o << "]";
  if (ctx.acme_status) o << ", \"acme\": " << ctx.acme_status();
  o << ", \"sites\": {";
  bool first = true;
  for (const auto& site : ctx.sites->sites()) {
    o << (first ? "" : ", ") << json_string(site->spec.name)
      << ": {\"requests\": " << load(site->requests) << "}";
    first = false;
  }
  o << "}}\n";
}

}  // namespace

std::string status_page(const ServerContext& ctx, std::string_view format, std::string& type,
                        bool with_memory) {
  if (format == "memory") {
    type = "text/plain; charset=utf-8";
    return memory_table(measure_memory());
  }
  Figures f = collect(ctx);
  std::ostringstream o;
  if (format == "prometheus") {
    type = "text/plain; version=0.0.4; charset=utf-8";
    prometheus(o, ctx, f);
  } else {
    type = "application/json";
    json(o, ctx, f);
    if (with_memory) {
      std::string text = o.str();
      text.erase(text.rfind('}'));  // the document's closing brace, and what follows it
      return text + ", \"memory\": " + memory_json(measure_memory()) + "}\n";
    }
  }
  return o.str();
}

}  // namespace w2p::server
