#include "server/static/static_responder.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "server/fd_io.hpp"
#include "server/http/http_date.hpp"
#include "server/http/range.hpp"
#include "server/http/response_head.hpp"
#include "server/log.hpp"
#include "server/routing/site.hpp"
#include "server/static/compress_cache.hpp"

namespace w2p::server {

namespace {

// Files up to this size go out with their head in one write instead of sendfile.
constexpr std::uint64_t kSmallFile = 16 * 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void add_cache_headers(const Site& site, std::string_view url_path, const CachedFile& f,
                       std::vector<Header>& extra) {
  if (site.spec.cache_rules.empty()) return;
  const CacheRuleSpec* rule = site.cache_rule(url_path, f.content_type);
  if (!rule) return;
  if (!rule->cache_control.empty())
    extra.push_back({"Cache-Control", rule->cache_control});
  else if (rule->expires >= 0)
    extra.push_back({"Cache-Control", "max-age=" + std::to_string(rule->expires)});
  if (rule->expires >= 0)
    extra.push_back({"Expires", format_http_date(std::time(nullptr) + rule->expires)});
}

// The plan's head: HTTP/1.x text in `out`, or (HTTP/2) kept as it is with its length apart.
void put_head(FilePlan& plan, const FileRequest& rq, ResponseHead& head, Framing framing,
              std::uint64_t length) {
  plan.status = head.status;
  if (!rq.h2) return serialize_head(plan.out, rq.version, head, framing, length, rq.keep_alive);
  if (framing == Framing::content_length) plan.content_length = length;
  plan.head = std::move(head);
}

}  // namespace

bool accepts_encoding(std::string_view header, std::string_view coding) {
  std::size_t i = 0;
  while (i < header.size()) {
    std::size_t end = header.find(',', i);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = header.substr(i, end - i);
    i = end + 1;
    std::size_t semi = item.find(';');
    if (!iequals(trim(item.substr(0, semi)), coding)) continue;
    if (semi == std::string_view::npos) return true;
    std::string_view params = item.substr(semi + 1);
    std::size_t q = params.find("q=");
    if (q == std::string_view::npos) return true;
    std::string_view value = params.substr(q + 2);
    // q=0, q=0.0, q=0.00 and q=0.000 refuse the coding.
    std::size_t n = 0;
    if (!value.empty() && value[0] == '0') {
      n = 1;
      if (n < value.size() && value[n] == '.') {
        ++n;
        while (n < value.size() && value[n] == '0') ++n;
      }
      if (n >= value.size() || value[n] == ' ' || value[n] == ';') return false;
    }
    return true;
  }
  return false;
}

StaticResponder::StaticResponder(FileCache& files, CompressCache* compress, std::string web2py_root,
                                 std::string web2py_apps_real)
    : files_(files),
      compress_(compress),
      web2py_root_(std::move(web2py_root)),
      web2py_apps_real_(std::move(web2py_apps_real)) {}

std::shared_ptr<const CachedFile> StaticResponder::open(const std::string& dir,
                                                        const std::string& relative) {
  auto f = files_.open(dir, relative);
  if (f->status != OpenStatus::ok || web2py_root_.empty() ||
      !web2py_private_real(f->real_path, web2py_root_, web2py_apps_real_))
    return f;
  static const auto forbidden = [] {
    auto c = std::make_shared<CachedFile>();
    c->status = OpenStatus::forbidden;
    return c;
  }();
  return forbidden;
}

FilePlan StaticResponder::simple(int status, const FileRequest& rq,
                                 const std::vector<Header>& extra) {
  FilePlan plan;
  plan.status = status;
  plan.error = status >= 400;
  plan.redirect = status >= 300 && status < 400;
  ResponseHead head;
  head.status = status;
  head.headers = extra;
  std::string body = status_page_body(status);
  if (!body.empty()) head.headers.push_back({"Content-Type", "text/html; charset=utf-8"});
  put_head(plan, rq, head, body.empty() ? Framing::none : Framing::content_length, body.size());
  if (!rq.head) {
    plan.out.append(body);
    plan.body_bytes = body.size();
  }
  return plan;
}

FilePlan StaticResponder::serve(const std::string& dir, const std::string& relative,
                                const Site& site, std::string_view url_path,
                                std::string_view raw_path, std::string_view query,
                                const FileRequest& rq) {
  const SiteSpec& spec = site.spec;
  auto f = open(dir, relative);
  if (f->status == OpenStatus::directory) {
    // Relative links in an index page need the trailing slash.
    if (!raw_path.ends_with('/')) {
      std::string location(raw_path);
      location.push_back('/');
      if (!query.empty()) location.append("?").append(query);
      return simple(301, rq, {{"Location", location}});
    }
    for (const auto& name : spec.index_names) {
      std::string index = relative.empty() ? name : relative + "/" + name;
      if (never_static(dir, index, spec.static_exclude, web2py_root_)) continue;
      auto i = open(dir, index);
      if (i->status != OpenStatus::ok) continue;
      std::vector<Header> extra;
      add_cache_headers(site, url_path, *i, extra);
      i = pick_encoding(dir, index, std::move(i), rq.accept_encoding, extra);
      return file(std::move(i), std::move(extra), rq);
    }
    return simple(404, rq);  // no index file, and no listing
  }
  if (f->status == OpenStatus::forbidden) return simple(403, rq);
  if (f->status != OpenStatus::ok) return simple(404, rq);
  std::vector<Header> extra;
  add_cache_headers(site, url_path, *f, extra);
  f = pick_encoding(dir, relative, std::move(f), rq.accept_encoding, extra);
  return file(std::move(f), std::move(extra), rq);
}

bool StaticResponder::serve_web2py(const std::string& dir, const std::string& relative,
                                   bool versioned, std::string_view query, const FileRequest& rq,
                                   FilePlan& plan) {
  // web2py answers a directory with 403 and a missing file with its own 404 page: only a
  // regular file is served here.
  auto f = open(dir, relative);
  if (f->status != OpenStatus::ok) return false;
  std::vector<Header> extra;
  f = pick_encoding(dir, relative, std::move(f), rq.accept_encoding, extra);
  if (query.starts_with("attachment")) extra.push_back({"Content-Disposition", "attachment"});
  // gluon/streamer.py's headers.
  if (versioned) {
    extra.push_back({"Cache-Control", "max-age=315360000"});
    extra.push_back({"Expires", "Thu, 31 Dec 2037 23:59:59 GMT"});
  } else {
    extra.push_back({"Pragma", "cache"});
    extra.push_back({"Cache-Control", "private"});
  }
  extra.push_back({"X-Powered-By", "web2py"});
  plan = file(std::move(f), std::move(extra), rq);
  return true;
}

std::shared_ptr<const CachedFile> StaticResponder::pick_encoding(
    const std::string& root, const std::string& relative, std::shared_ptr<const CachedFile> f,
    std::string_view ae, std::vector<Header>& extra) {
  const std::uint64_t size = static_cast<std::uint64_t>(f->st.st_size);
  bool on_the_fly = compress_ && compress_->wants(f->content_type, size);
  auto use = [&](std::shared_ptr<const CachedFile> v, std::string_view coding) {
    extra.push_back({"Content-Type", f->content_type});
    extra.push_back({"Content-Encoding", std::string(coding)});
    extra.push_back({"Vary", "Accept-Encoding"});
    return v;
  };
  // Brotli first (smaller), then gzip; a sibling older than the file is stale and skipped
  // (gluon/streamer.py does the same for .gz).
  static constexpr std::pair<std::string_view, std::string_view> kVariants[] = {{"br", ".br"},
                                                                                {"gzip", ".gz"}};
  if (!ae.empty()) {
    for (const auto& [coding, ext] : kVariants) {
      if (!accepts_encoding(ae, coding)) continue;
      auto v = open(root, relative + std::string(ext));
      if (v->status == OpenStatus::ok && v->st.st_mtim.tv_sec >= f->st.st_mtim.tv_sec)
        return use(std::move(v), coding);
    }
    // Then what the compression cache holds for this version; what it lacks is queued, and
    // this response goes out uncompressed.
    if (on_the_fly) {
      for (const auto& [coding, ext] : kVariants) {
        if (!accepts_encoding(ae, coding)) continue;
        auto v = files_.open(compress_->dir(), CompressCache::entry_name(f->st, ext));
        if (v->status == OpenStatus::ok) return use(std::move(v), coding);
        compress_->request(root, relative, f->st, coding);
      }
    }
  }
  // This file has compressed forms for other clients: caches must keep them apart.
  if (on_the_fly) extra.push_back({"Vary", "Accept-Encoding"});
  return f;
}

FilePlan StaticResponder::file(std::shared_ptr<const CachedFile> f, std::vector<Header> extra,
                               const FileRequest& rq) {
  FilePlan plan;
  const std::uint64_t size = static_cast<std::uint64_t>(f->st.st_size);
  const std::time_t mtime = f->st.st_mtim.tv_sec;
  ResponseHead head;
  head.headers = std::move(extra);
  head.headers.reserve(head.headers.size() + 6);
  head.headers.push_back({"Last-Modified", f->last_modified});
  head.headers.push_back({"ETag", f->etag});
  int cond = evaluate_conditionals(
      {rq.if_match, rq.if_unmodified_since, rq.if_none_match, rq.if_modified_since}, true, f->etag,
      mtime);
  if (cond == 412) return simple(412, rq);
  if (cond == 304) {
    head.status = 304;
    put_head(plan, rq, head, Framing::none, 0);
    return plan;
  }
  head.headers.push_back({"Accept-Ranges", "bytes"});
  head.headers.push_back({"X-Content-Type-Options", "nosniff"});
  const std::string* typed_as = find_header(head.headers, "Content-Type");
  bool typed = typed_as != nullptr;
  std::string_view content_type = typed ? std::string_view(*typed_as) : f->content_type;

  // Ranges: GET only, and only while If-Range (when sent) still names this version.
  RangeRequest ranges;
  if (!rq.range.empty() && rq.get && if_range_matches(rq.if_range, f->etag, mtime))
    ranges = parse_range(rq.range, size);
  if (ranges.kind == RangeRequest::unsatisfiable) {
    head.status = 416;
    head.headers.push_back({"Content-Range", "bytes */" + std::to_string(size)});
    put_head(plan, rq, head, Framing::content_length, 0);
    return plan;
  }
  std::uint64_t offset = 0, length = size;
  if (ranges.kind == RangeRequest::satisfiable && ranges.ranges.size() > 1) {
    // Several ranges: multipart/byteranges, each part a sendfile(2) of its own.
    head.status = 206;
    char boundary[40];
    std::snprintf(boundary, sizeof boundary, "w2pserve-%016llx",
                  static_cast<unsigned long long>(
                      std::chrono::steady_clock::now().time_since_epoch().count() ^ f->st.st_ino));
    Multipart m = make_multipart(ranges.ranges, size, content_type, boundary);
    // The parts carry the file's type; the response's is multipart.
    std::erase_if(head.headers, [](const Header& h) { return iequals(h.name, "Content-Type"); });
    head.headers.push_back({"Content-Type", "multipart/byteranges; boundary=" + m.boundary});
    put_head(plan, rq, head, Framing::content_length, m.total);
    if (rq.head) return plan;
    plan.body_bytes = m.total;
    plan.out.append(m.part_heads[0]);
    for (std::size_t i = 1; i < ranges.ranges.size(); ++i)
      plan.segments.push_back(
          {std::move(m.part_heads[i]), ranges.ranges[i].first, ranges.ranges[i].length()});
    plan.segments.push_back({std::move(m.tail), 0, 0});
    plan.offset = ranges.ranges[0].first;
    plan.length = ranges.ranges[0].length();
    plan.file = std::move(f);
    return plan;
  }
  if (ranges.kind == RangeRequest::satisfiable) {
    head.status = 206;
    offset = ranges.ranges[0].first;
    length = ranges.ranges[0].length();
    head.headers.push_back({"Content-Range", content_range(ranges.ranges[0], size)});
  }
  if (!typed) head.headers.push_back({"Content-Type", f->content_type});
  put_head(plan, rq, head, Framing::content_length, length);
  if (rq.head || length == 0) return plan;
  plan.body_bytes = length;
  if (length <= kSmallFile && !rq.h2) {
    // A small body goes out with its head in one write: one socket operation instead of two
    // (the bytes come from the page cache either way).
    std::size_t head_size = plan.out.size();
    std::size_t n_total = static_cast<std::size_t>(length);
    plan.out.resize(head_size + n_total);
    if (pread_all(f->fd, plan.out.data() + head_size, n_total, static_cast<off_t>(offset)) !=
        static_cast<ssize_t>(n_total)) {
      log::warn("static file shrank while being read; closing the connection");
      plan.out.clear();
      plan.close = true;
      return plan;
    }
    return plan;
  }
  plan.offset = offset;
  plan.length = length;
  plan.file = std::move(f);
  return plan;
}

}  // namespace w2p::server
