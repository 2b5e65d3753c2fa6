#pragma once
// Static responses: which bytes answer a request for a file, without touching a socket. A
// directory's index or its trailing-slash redirect, the encoded variants (.br/.gz siblings, the
// compression cache), caching headers, web2py's own static headers, the conditionals (412,
// 304) and ranges (206, multipart/byteranges, 416). The result is a plan the connection
// executes: a head (with a small body inline), then file ranges sent with sendfile(2).

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/app_interface.hpp"
#include "server/static/file_cache.hpp"

namespace w2p::server {

class CompressCache;
struct Site;

// The parts of a request a file response reads.
struct FileRequest {
  bool head = false;  // HEAD: no body
  bool get = true;    // GET: ranges apply (HEAD and others: not)
  unsigned version = 11;
  bool keep_alive = true;
  std::string_view accept_encoding, range, if_range, if_match, if_unmodified_since, if_none_match,
      if_modified_since;
  // HTTP/2: the plan's head stays structured (FilePlan::head) for a HEADERS frame, and no file
  // bytes are copied after it (the DATA frames read the file themselves).
  bool h2 = false;
};

struct FilePlan {
  int status = 200;
  bool error = false;     // a status page (4xx, 5xx), not a file: for the logs and statistics
  bool redirect = false;  // a redirect of the server's own (a directory without its slash)
  // HTTP/1.x: the head, with a small body (or a status page's) inline. HTTP/2 (FileRequest::h2):
  // only inline body bytes (a status page, a multipart part head); the head is `head`.
  std::string out;
  ResponseHead head;                            // HTTP/2 only
  std::optional<std::uint64_t> content_length;  // HTTP/2 only: when the head has one
  std::shared_ptr<const CachedFile> file;       // then this file's bytes (null: nothing more)
  std::uint64_t offset = 0, length = 0;
  struct Segment {
    std::string text;                      // a multipart part head, or the closing boundary
    std::uint64_t offset = 0, length = 0;  // then these bytes of the file (length 0: none)
  };
  // multipart/byteranges: the parts after the first (a vector: a deque allocates even empty,
  // and every plan has this member)
  std::vector<Segment> segments;
  std::uint64_t body_bytes = 0;  // what the body holds, for the access log
  bool close = false;            // the file shrank while read: end the connection
};

class StaticResponder {
 public:
  StaticResponder(FileCache& files, CompressCache* compress, std::string web2py_root,
                  std::string web2py_apps_real);

  // A static route (route.hpp): the file `relative` below `dir`, or the directory's index. The
  // request's decoded `url_path` picks the site's cache rules; `raw_path` and `query` make the
  // trailing-slash redirect.
  FilePlan serve(const std::string& dir, const std::string& relative, const Site& site,
                 std::string_view url_path, std::string_view raw_path, std::string_view query,
                 const FileRequest& rq);

  // web2py's /<app>/static/... with web2py's own headers; false (and nothing planned) when it
  // is not a regular file: web2py answers it then.
  bool serve_web2py(const std::string& dir, const std::string& relative, bool versioned,
                    std::string_view query, const FileRequest& rq, FilePlan& plan);

  // An opened file with extra headers (cache rules, a hand-off's own headers).
  FilePlan file(std::shared_ptr<const CachedFile> f, std::vector<Header> extra,
                const FileRequest& rq);

  // A small complete response of the server's own (an error, a redirect).
  static FilePlan simple(int status, const FileRequest& rq, const std::vector<Header>& extra = {});

  // Opens a static file through the cache; a file whose real path (every symlink resolved) is
  // one of web2py's private files is refused like one outside its folder.
  std::shared_ptr<const CachedFile> open(const std::string& dir, const std::string& relative);

 private:
  std::shared_ptr<const CachedFile> pick_encoding(const std::string& root,
                                                  const std::string& relative,
                                                  std::shared_ptr<const CachedFile> f,
                                                  std::string_view accept_encoding,
                                                  std::vector<Header>& extra);

  FileCache& files_;
  CompressCache* compress_;
  std::string web2py_root_, web2py_apps_real_;
};

// Accept-Encoding lists `coding` with a non-zero q (RFC 9110 12.5.3).
bool accepts_encoding(std::string_view header, std::string_view coding);

}  // namespace w2p::server
