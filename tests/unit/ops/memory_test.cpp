#include "server/ops/memory.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "server/app_interface.hpp"

namespace w2p::server {
namespace {

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::string mapping(const char* range, const char* perms, const std::string& path, int rss_kb,
                    int pss_kb) {
  return std::string(range) + " " + perms + " 00000000 fe:00 1234 " + path +
         "\nSize: 4 kB\nRss: " + std::to_string(rss_kb) + " kB\nPss: " + std::to_string(pss_kb) +
         " kB\nAnonymous: 0 kB\nVmFlags: rd\n";
}

std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> parts_of(const MemoryReport& r) {
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> out;
  for (const auto& p : r.parts) out[p.name] = {p.rss / 1024, p.pss / 1024};
  return out;
}

TEST(Memory, MappingsAreSortedIntoParts) {
  std::string file = ::testing::TempDir() + "/smaps-" + std::to_string(::getpid());
  {
    std::ofstream out(file);
    out << mapping("00400000-00500000", "r-xp", self_exe(), 100, 100)
        << mapping("7f0000000000-7f0000100000", "r-xp",
                   "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", 50, 25)
        << mapping("7f0000100000-7f0000110000", "r-xp",
                   "/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", 8, 8)
        << mapping("7f0000110000-7f0000120000", "r-xp",
                   "/usr/lib/python3/dist-packages/yaml/_yaml.cpython-311-x86_64-linux-gnu.so", 4,
                   4)
        << mapping("7f0000120000-7f0000130000", "r-xp", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
                   30, 10)
        << mapping("7f0000130000-7f0000140000", "r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6", 20,
                   5)
        << mapping("7f0000140000-7f0000150000", "r--p", "/usr/lib/locale/C.utf8/LC_CTYPE", 2, 1)
        << mapping("01000000-02000000", "rw-p", "[heap]", 300, 300)
        // A thread's stack: no-access guard page, then the stack.
        << mapping("7f0000200000-7f0000201000", "---p", "", 0, 0)
        << mapping("7f0000201000-7f0000a01000", "rw-p", "", 12, 12)
        // Anonymous memory that follows no guard: malloc's large blocks.
        << mapping("7f0000b00000-7f0000c00000", "rw-p", "", 40, 40)
        << mapping("7ffd00000000-7ffd00021000", "rw-p", "[stack]", 16, 16)
        << mapping("7ffd00100000-7ffd00102000", "r-xp", "[vdso]", 4, 0);
  }
  MemoryReport r = measure_memory(file);
  std::remove(file.c_str());
  auto parts = parts_of(r);
  using P = std::pair<std::uint64_t, std::uint64_t>;
  EXPECT_EQ(parts["w2pserve binary (text, data; with Python's core when linked in)"], P(100, 100));
  EXPECT_EQ(parts["libpython (shared library)"], P(50, 25));
  EXPECT_EQ(parts["Python extension modules (.so)"], P(12, 12));
  EXPECT_EQ(parts["OpenSSL (TLS, hashlib)"], P(30, 10));
  EXPECT_EQ(parts["other shared libraries"], P(20, 5));
  EXPECT_EQ(parts["other mapped files"], P(6, 1));
  EXPECT_EQ(parts["C heap (malloc: [heap], large blocks)"], P(340, 340));
  EXPECT_EQ(parts["thread stacks"], P(28, 28));
  EXPECT_EQ(r.counted(), 586u * 1024);
  EXPECT_EQ(r.pss, 521u * 1024);
  std::string table = memory_table(r);
  EXPECT_NE(table.find("sum of the parts"), std::string::npos);
  EXPECT_NE(memory_json(r).find("\"counted_bytes\": 600064"), std::string::npos);
}

TEST(Memory, RegisteredArenasAreCountedByWhatIsResident) {
  const std::size_t size = 1 << 20;
  void* arena = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(arena, MAP_FAILED);
  note_arena_allocated(arena, size);
  static_cast<char*>(arena)[0] = 1;  // one page touched of 256
  static_cast<char*>(arena)[size / 2] = 1;
  MemoryReport r = measure_memory();
  note_arena_freed(arena);
  ::munmap(arena, size);
  std::uint64_t arenas = 0;
  for (const auto& p : r.parts)
    if (p.name == "Python object arenas") arenas = p.rss;
  EXPECT_GE(r.arenas, 1u);
  EXPECT_GE(arenas, 2u * 4096);
  EXPECT_LT(arenas, 64u * 4096);  // what is resident, not the arena's size (THP aside)
  EXPECT_EQ(measure_memory().arenas, r.arenas - 1);
}

TEST(Memory, ImportsAreReportedByApplication) {
  note_app_imports("unit-app", {"pkg.a", "pkg.b", "solo"}, 3 << 20);
  note_app_imports("unit-app", {"pkg.c"}, 1 << 20);
  MemoryReport r = measure_memory();
  const AppImports* app = nullptr;
  for (const auto& a : r.apps)
    if (a.app == "unit-app") app = &a;
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->modules, (std::vector<std::string>{"pkg.a", "pkg.b", "solo", "pkg.c"}));
  EXPECT_EQ(app->rss_growth, 4 << 20);
  std::string table = memory_table(r);
  EXPECT_NE(table.find("  unit-app                      4 modules      +4096 KiB  pkg solo\n"),
            std::string::npos)
      << table;
  EXPECT_NE(memory_json(r).find("{\"app\": \"unit-app\", \"rss_growth_bytes\": 4194304, "
                                "\"modules\": [\"pkg.a\", \"pkg.b\", \"solo\", \"pkg.c\"]}"),
            std::string::npos);
}

TEST(Memory, ResidentNowAgreesWithTheKernel) {
  std::uint64_t now = resident_now();
  EXPECT_GT(now, 1u << 20);
  EXPECT_LT(now, 1ull << 40);
}

TEST(Memory, UnreadableSmapsGivesAnEmptyReport) {
  MemoryReport r = measure_memory("/nonexistent/smaps");
  EXPECT_TRUE(r.parts.empty());
  EXPECT_EQ(r.counted(), 0u);
}

}  // namespace
}  // namespace w2p::server
