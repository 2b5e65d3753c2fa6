#include "server/http/mime.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

namespace w2p::server {
namespace {

struct BuiltIn {
  const char* ext;
  const char* type;
};

// Sorted by extension (binary search). Where /etc/mime.types differs, these win.
constexpr BuiltIn kBuiltIn[] = {
    {"atom", "application/atom+xml"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"css", "text/css"},
    {"csv", "text/csv"},
    {"eot", "application/vnd.ms-fontobject"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"ico", "image/x-icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"manifest", "text/cache-manifest"},
    {"map", "application/json"},
    {"md", "text/markdown"},
    {"mjs", "text/javascript"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml"},
    {"svg", "image/svg+xml"},
    {"swf", "application/x-shockwave-flash"},
    {"tar", "application/x-tar"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xml", "application/xml"},
    {"zip", "application/zip"},
};

// The system table, kept compact (it has ~1,500 extensions): every string lives once in one
// blob, entries are two offsets, sorted by extension.
struct SystemTable {
  std::string blob;
  struct Entry {
    std::uint32_t ext;
    std::uint32_t type;
  };
  std::vector<Entry> entries;

  std::string_view at(std::uint32_t off) const { return std::string_view(blob.data() + off); }
};

SystemTable g_system;
std::mutex g_load_mutex;

bool wants_charset(std::string_view type) {
  return type.starts_with("text/") || type == "application/javascript" ||
         type == "application/json" || type == "application/xml" || type == "image/svg+xml" ||
         type == "application/manifest+json" || type == "application/rss+xml" ||
         type == "application/atom+xml";
}

const char* builtin_lookup(std::string_view ext) {
  auto it = std::lower_bound(std::begin(kBuiltIn), std::end(kBuiltIn), ext,
                             [](const BuiltIn& b, std::string_view e) { return b.ext < e; });
  if (it != std::end(kBuiltIn) && it->ext == ext) return it->type;
  return nullptr;
}

}  // namespace

void load_mime_types(const std::string& path) {
  std::ifstream in(path);
  if (!in) return;
  SystemTable t;
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string type, ext;
    if (!(words >> type)) continue;
    while (words >> ext) {
      std::transform(ext.begin(), ext.end(), ext.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (!builtin_lookup(ext)) pairs.emplace_back(ext, type);
    }
  }
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string_view, std::uint32_t>> types;  // dedup of type strings
  for (const auto& [ext, type] : pairs) {
    if (!t.entries.empty() && t.at(t.entries.back().ext) == ext) continue;  // first one wins
    std::uint32_t type_off = 0;
    bool found = false;
    for (const auto& [name, off] : types)
      if (name == type) {
        type_off = off;
        found = true;
        break;
      }
    std::uint32_t ext_off = static_cast<std::uint32_t>(t.blob.size());
    t.blob.append(ext).push_back('\0');
    if (!found) {
      type_off = static_cast<std::uint32_t>(t.blob.size());
      t.blob.append(type).push_back('\0');
      types.emplace_back(type, type_off);
    }
    t.entries.push_back({ext_off, type_off});
  }
  t.blob.shrink_to_fit();
  t.entries.shrink_to_fit();
  std::lock_guard lock(g_load_mutex);
  g_system = std::move(t);
}

std::string mime_type_for(std::string_view filename) {
  size_t slash = filename.rfind('/');
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
  size_t dot = filename.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == filename.size())
    return "application/octet-stream";
  char buf[32];
  std::string_view raw = filename.substr(dot + 1);
  if (raw.size() >= sizeof buf) return "application/octet-stream";
  for (size_t i = 0; i < raw.size(); ++i)
    buf[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(raw[i])));
  std::string_view ext(buf, raw.size());
  std::string_view type;
  if (const char* b = builtin_lookup(ext)) {
    type = b;
  } else {
    const auto& t = g_system;
    auto it = std::lower_bound(
        t.entries.begin(), t.entries.end(), ext,
        [&](const SystemTable::Entry& e, std::string_view x) { return t.at(e.ext) < x; });
    if (it == t.entries.end() || t.at(it->ext) != ext) return "application/octet-stream";
    type = t.at(it->type);
  }
  std::string out(type);
  if (wants_charset(type)) out += "; charset=utf-8";
  return out;
}

}  // namespace w2p::server
