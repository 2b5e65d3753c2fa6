#include "server/ops/memory.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

#include "server/app_interface.hpp"
#include "server/ops/status.hpp"

namespace w2p::server {
namespace {

// --- Python's object arenas ------------------------------------------------------------------

std::mutex arenas_mutex;
std::vector<std::pair<std::uintptr_t, std::size_t>>& arenas() {
  static auto* list = new std::vector<std::pair<std::uintptr_t, std::size_t>>();  // never freed:
  return *list;  // arenas may be freed while the process exits
}

std::vector<std::pair<std::uintptr_t, std::size_t>> arena_snapshot() {
  std::lock_guard lock(arenas_mutex);
  return arenas();
}

// Resident bytes of [start, start + size) (page-aligned), by mincore.
std::uint64_t resident_in(std::uintptr_t start, std::size_t size) {
  static const long page = ::sysconf(_SC_PAGESIZE);
  std::vector<unsigned char> vec((size + page - 1) / page);
  if (::mincore(reinterpret_cast<void*>(start), size, vec.data()) != 0) return 0;
  std::uint64_t pages = 0;
  for (unsigned char v : vec) pages += v & 1;
  return pages * page;
}

// --- imports by application ---------------------------------------------------------------

std::mutex apps_mutex;
std::vector<AppImports>& app_imports() {
  static auto* list = new std::vector<AppImports>();  // never freed, as the arenas' list
  return *list;
}

// --- smaps -------------------------------------------------------------------------------------

enum Part : int {
  kBinary,
  kLibpython,
  kExtensions,
  kOpenssl,
  kLibraries,
  kFiles,
  kArenas,
  kHeap,
  kStacks,
  kPartCount
};

const char* const kPartNames[kPartCount] = {
    "w2pserve binary (text, data; with Python's core when linked in)",
    "libpython (shared library)",
    "Python extension modules (.so)",
    "OpenSSL (TLS, hashlib)",
    "other shared libraries",
    "other mapped files",
    "Python object arenas",
    "C heap (malloc: [heap], large blocks)",
    "thread stacks",
};

struct Mapping {
  std::uintptr_t start = 0, end = 0;
  std::string perms, path;
  std::uint64_t rss = 0, pss = 0;  // bytes
  std::uint64_t anonymous = 0;     // bytes of private copies (written pages) in the mapping
};

bool contains(const std::string& s, const char* what) {
  return s.find(what) != std::string::npos;
}

Part classify_file(const std::string& path, const std::string& exe) {
  if (path == exe) return kBinary;
  if (contains(path, "/libpython")) return kLibpython;
  if (contains(path, "/lib-dynload/") || contains(path, "-packages/")) return kExtensions;
  if (contains(path, "/libssl.so") || contains(path, "/libcrypto.so")) return kOpenssl;
  if (contains(path, ".so")) return kLibraries;
  return kFiles;
}

std::vector<Mapping> read_smaps(const std::string& file) {
  std::vector<Mapping> maps;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // "start-end perms offset dev inode [path]" or "Field:   N kB".
    auto dash = line.find('-');
    auto space = line.find(' ');
    if (dash != std::string::npos && space != std::string::npos && dash < space &&
        line.find(':') > space) {
      Mapping m;
      m.start = std::stoull(line.substr(0, dash), nullptr, 16);
      m.end = std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16);
      std::istringstream fields(line.substr(space + 1));
      std::string offset, dev, inode;
      fields >> m.perms >> offset >> dev >> inode;
      std::getline(fields >> std::ws, m.path);
      maps.push_back(std::move(m));
    } else if (!maps.empty()) {
      auto value = [&] { return std::strtoull(line.c_str() + line.find(':') + 1, nullptr, 10); };
      if (line.rfind("Rss:", 0) == 0) maps.back().rss = value() * 1024;
      if (line.rfind("Pss:", 0) == 0) maps.back().pss = value() * 1024;
      if (line.rfind("Anonymous:", 0) == 0) maps.back().anonymous = value() * 1024;
    }
  }
  return maps;
}

std::string executable_path() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

std::string kib(std::uint64_t bytes) {
  return std::to_string((bytes + 512) / 1024);
}

}  // namespace

void note_arena_allocated(void* start, std::size_t size) {
  std::lock_guard lock(arenas_mutex);
  arenas().emplace_back(reinterpret_cast<std::uintptr_t>(start), size);
}

void note_arena_freed(void* start) {
  std::lock_guard lock(arenas_mutex);
  auto& list = arenas();
  auto it = std::find_if(list.begin(), list.end(), [&](const auto& a) {
    return a.first == reinterpret_cast<std::uintptr_t>(start);
  });
  if (it != list.end()) {
    *it = list.back();
    list.pop_back();
  }
}

void note_app_imports(const std::string& app, const std::vector<std::string>& modules,
                      std::int64_t rss_growth) {
  std::lock_guard lock(apps_mutex);
  auto& list = app_imports();
  auto it = std::find_if(list.begin(), list.end(), [&](const auto& a) { return a.app == app; });
  if (it == list.end()) {
    if (list.size() >= 1000) return;  // bounded: URLs choose the names
    list.push_back({app, {}, 0});
    it = list.end() - 1;
  }
  for (const auto& m : modules)
    if (it->modules.size() < 5000) it->modules.push_back(m);
  it->rss_growth += rss_growth;
}

std::uint64_t resident_now() {
  static const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  static const long page = ::sysconf(_SC_PAGESIZE);
  char buf[128];
  ssize_t n = fd >= 0 ? ::pread(fd, buf, sizeof buf - 1, 0) : -1;
  if (n <= 0) return 0;
  buf[n] = '\0';
  char* end = nullptr;
  std::strtoull(buf, &end, 10);  // size
  return std::strtoull(end, nullptr, 10) * static_cast<std::uint64_t>(page);
}

void release_idle_memory() {
  ::malloc_trim(0);
  // Only mappings of the executable that are read-only and hold no private copy: unmapping
  // their pages loses nothing (a written page, such as relocated data, is never dropped).
  std::string exe = executable_path();
  if (exe.empty()) return;
  for (const Mapping& m : read_smaps("/proc/self/smaps")) {
    if (m.path != exe || m.rss == 0 || m.anonymous != 0) continue;
    if (m.perms != "r-xp" && m.perms != "r--p") continue;
    ::madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED);
  }
}

std::uint64_t MemoryReport::counted() const {
  std::uint64_t sum = 0;
  for (const auto& p : parts) sum += p.rss;
  return sum;
}

MemoryReport measure_memory(const std::string& smaps_path) {
  MemoryReport r;
  std::vector<Mapping> maps = read_smaps(smaps_path);
  if (maps.empty()) return r;
  r.vm_rss = resident_bytes();
  std::string exe = executable_path();
  {
    std::lock_guard lock(apps_mutex);
    r.apps = app_imports();
  }
  auto snapshot = arena_snapshot();
  r.arenas = snapshot.size();
  r.parts.resize(kPartCount);
  for (int i = 0; i < kPartCount; ++i) r.parts[i].name = kPartNames[i];
  auto add = [&](Part p, std::uint64_t rss, std::uint64_t pss) {
    r.parts[p].rss += rss;
    r.parts[p].pss += pss;
  };
  for (std::size_t i = 0; i < maps.size(); ++i) {
    const Mapping& m = maps[i];
    r.pss += m.pss;
    if (m.rss == 0) continue;
    if (!m.path.empty() && m.path[0] == '/') {
      add(classify_file(m.path, exe), m.rss, m.pss);
    } else if (m.path == "[stack]") {
      add(kStacks, m.rss, m.pss);
    } else if (m.path == "[heap]") {
      add(kHeap, m.rss, m.pss);
    } else if (m.path.empty()) {
      // Anonymous: Python's arenas inside it (by mincore), a thread's stack when a guard page
      // (no access) ends where it starts, else malloc's large blocks and the rest.
      std::uint64_t in_arenas = 0;
      for (const auto& [start, size] : snapshot)
        if (start >= m.start && start + size <= m.end) in_arenas += resident_in(start, size);
      in_arenas = std::min(in_arenas, m.rss);
      std::uint64_t arena_pss = m.rss ? m.pss * in_arenas / m.rss : 0;
      add(kArenas, in_arenas, arena_pss);
      bool stack = i > 0 && maps[i - 1].end == m.start && maps[i - 1].perms.rfind("---", 0) == 0 &&
                   maps[i - 1].path.empty();
      add(stack ? kStacks : kHeap, m.rss - in_arenas, m.pss - arena_pss);
    } else {
      add(kFiles, m.rss, m.pss);  // [vdso], [vvar] and the like
    }
  }
  return r;
}

std::string memory_json(const MemoryReport& r) {
  std::ostringstream o;
  o << "{\"resident_bytes\": " << r.vm_rss << ", \"proportional_bytes\": " << r.pss
    << ", \"counted_bytes\": " << r.counted() << ", \"python_arenas\": " << r.arenas
    << ", \"parts\": [";
  for (std::size_t i = 0; i < r.parts.size(); ++i)
    o << (i ? ", " : "") << "{\"part\": \"" << r.parts[i].name
      << "\", \"rss_bytes\": " << r.parts[i].rss << ", \"pss_bytes\": " << r.parts[i].pss << "}";
  o << "], \"applications\": [";
  for (std::size_t i = 0; i < r.apps.size(); ++i) {
    const auto& a = r.apps[i];
    o << (i ? ", " : "") << "{\"app\": " << json_string(a.app)
      << ", \"rss_growth_bytes\": " << a.rss_growth << ", \"modules\": [";
    for (std::size_t m = 0; m < a.modules.size(); ++m)
      o << (m ? ", " : "") << json_string(a.modules[m]);
    o << "]}";
  }
  o << "]}";
  return o.str();
}

std::string memory_table(const MemoryReport& r) {
  std::ostringstream o;
  char line[160];
  std::snprintf(line, sizeof line, "%-64s %10s %10s\n", "part", "RSS KiB", "PSS KiB");
  o << line;
  for (const auto& p : r.parts) {
    std::snprintf(line, sizeof line, "%-64s %10s %10s\n", p.name.c_str(), kib(p.rss).c_str(),
                  kib(p.pss).c_str());
    o << line;
  }
  std::snprintf(line, sizeof line, "%-64s %10s %10s\n", "sum of the parts",
                kib(r.counted()).c_str(), kib(r.pss).c_str());
  o << line;
  long long diff = static_cast<long long>(r.vm_rss) - static_cast<long long>(r.counted());
  std::snprintf(line, sizeof line, "%-64s %10s %10s\n", "VmRSS (the kernel's figure)",
                kib(r.vm_rss).c_str(), "");
  o << line;
  o << "difference: " << (diff >= 0 ? "" : "-") << kib(static_cast<std::uint64_t>(std::llabs(diff)))
    << " KiB (the parts and VmRSS are read a moment apart)\n";
  o << "Python object arenas allocated: " << r.arenas << "\n";
  if (!r.apps.empty()) {
    o << "\nPython modules by application (first imported while serving it; RSS growth during "
         "those requests):\n";
    for (const auto& a : r.apps) {
      std::snprintf(line, sizeof line, "  %-24s %6zu modules %+10lld KiB  ", a.app.c_str(),
                    a.modules.size(), static_cast<long long>(a.rss_growth / 1024));
      o << line;
      // Top-level names only, each once, those with the most modules first: "gluon pydal ..."
      std::vector<std::pair<std::string, int>> counts;
      for (const auto& m : a.modules) {
        std::string top = m.substr(0, m.find('.'));
        auto it = std::find_if(counts.begin(), counts.end(),
                               [&](const auto& c) { return c.first == top; });
        if (it == counts.end())
          counts.push_back({top, 1});
        else
          ++it->second;
      }
      std::stable_sort(counts.begin(), counts.end(),
                       [](const auto& x, const auto& y) { return x.second > y.second; });
      std::vector<std::string> tops;
      for (const auto& c : counts) tops.push_back(c.first);
      std::size_t shown = 0, width = 0;
      for (const auto& t : tops) {
        if (width + t.size() > 60) break;
        o << (shown ? " " : "") << t;
        width += t.size() + 1;
        ++shown;
      }
      if (shown < tops.size()) o << " (+" << tops.size() - shown << " more)";
      o << "\n";
    }
  }
  return o.str();
}

}  // namespace w2p::server
