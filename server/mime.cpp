#include "server/mime.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace w2p::server {
namespace {

std::unordered_map<std::string, std::string>& table() {
  static std::unordered_map<std::string, std::string> t = {
      {"html", "text/html"}, {"htm", "text/html"}, {"css", "text/css"},
      {"js", "text/javascript"}, {"mjs", "text/javascript"}, {"json", "application/json"},
      {"map", "application/json"}, {"txt", "text/plain"}, {"csv", "text/csv"},
      {"xml", "application/xml"}, {"svg", "image/svg+xml"}, {"png", "image/png"},
      {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
      {"webp", "image/webp"}, {"avif", "image/avif"}, {"ico", "image/x-icon"},
      {"bmp", "image/bmp"}, {"woff", "font/woff"}, {"woff2", "font/woff2"},
      {"ttf", "font/ttf"}, {"otf", "font/otf"}, {"eot", "application/vnd.ms-fontobject"},
      {"pdf", "application/pdf"}, {"zip", "application/zip"}, {"gz", "application/gzip"},
      {"tar", "application/x-tar"}, {"mp4", "video/mp4"}, {"webm", "video/webm"},
      {"ogv", "video/ogg"}, {"mp3", "audio/mpeg"}, {"ogg", "audio/ogg"}, {"wav", "audio/wav"},
      {"wasm", "application/wasm"}, {"md", "text/markdown"}, {"rss", "application/rss+xml"},
      {"atom", "application/atom+xml"}, {"swf", "application/x-shockwave-flash"},
      {"manifest", "text/cache-manifest"}, {"webmanifest", "application/manifest+json"},
  };
  return t;
}

bool wants_charset(const std::string& type) {
  return type.starts_with("text/") || type == "application/javascript" ||
         type == "application/json" || type == "application/xml" || type == "image/svg+xml" ||
         type == "application/manifest+json" || type == "application/rss+xml" ||
         type == "application/atom+xml";
}

}  // namespace

void load_mime_types(const std::string& path) {
  std::ifstream in(path);
  if (!in) return;
  auto& t = table();
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string type, ext;
    if (!(words >> type)) continue;
    while (words >> ext) {
      // The built-in choices win where they differ (text/javascript is the current standard).
      t.emplace(ext, type);
    }
  }
}

std::string mime_type_for(std::string_view filename) {
  size_t slash = filename.rfind('/');
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
  size_t dot = filename.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == filename.size())
    return "application/octet-stream";
  std::string ext(filename.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto& t = table();
  auto it = t.find(ext);
  if (it == t.end()) return "application/octet-stream";
  if (wants_charset(it->second)) return it->second + "; charset=utf-8";
  return it->second;
}

}  // namespace w2p::server
