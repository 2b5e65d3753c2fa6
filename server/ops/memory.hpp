#pragma once
// Where the resident memory goes: /proc/self/smaps read into parts by what each mapping is (the
// binary, Python's extension modules, OpenSSL, other libraries and files, Python's object arenas,
// the C heap, thread stacks), the sum checked against VmRSS. For /server-status?memory, the
// text table of /server-status?format=memory and `w2pserve memory-report`.

#include <cstdint>
#include <string>
#include <vector>

namespace w2p::server {

struct MemoryPart {
  std::string name;
  std::uint64_t rss = 0;  // bytes
  std::uint64_t pss = 0;  // bytes (shared pages divided among the processes mapping them)
};

struct AppImports {
  std::string app;
  std::vector<std::string> modules;  // in the order they were first seen
  std::int64_t rss_growth = 0;       // bytes, summed over the requests that imported them
};

struct MemoryReport {
  std::uint64_t vm_rss = 0;       // /proc/self/status VmRSS, bytes
  std::uint64_t pss = 0;          // sum of the mappings' Pss
  std::vector<MemoryPart> parts;  // fixed order, zero parts included
  std::uint64_t arenas = 0;       // Python object arenas allocated now
  std::vector<AppImports> apps;   // by application, in the order first served
  std::uint64_t counted() const;  // sum of the parts' rss
};

// Reads /proc/self/smaps (`smaps_path` for tests) and the arena registry. Empty parts when the
// file cannot be read.
MemoryReport measure_memory(const std::string& smaps_path = "/proc/self/smaps");

// The report as a JSON object, and as the table `memory-report` prints.
std::string memory_json(const MemoryReport& r);
std::string memory_table(const MemoryReport& r);

}  // namespace w2p::server
