#include "server/http/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <string>

namespace w2p::server {
namespace {

using State = ProxyHeader::State;

std::string v2(unsigned char cmd, unsigned char fam, const std::string& body) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h.push_back(static_cast<char>(cmd));
  h.push_back(static_cast<char>(fam));
  h.push_back(static_cast<char>(body.size() >> 8));
  h.push_back(static_cast<char>(body.size() & 0xff));
  return h + body;
}

TEST(ProxyProtocol, V1Tcp4AndTcp6) {
  auto h = parse_proxy_header("PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\nGET / HTTP/1.1");
  ASSERT_EQ(h.state, State::ok);
  EXPECT_EQ(h.size, 45u);
  EXPECT_EQ(h.src_addr, "192.0.2.1");
  EXPECT_EQ(h.dst_addr, "198.51.100.1");
  EXPECT_EQ(h.src_port, 56324);
  EXPECT_EQ(h.dst_port, 443);
  EXPECT_FALSE(h.local);
  h = parse_proxy_header("PROXY TCP6 2001:DB8::1 2001:db8::2 1 2\r\n");
  ASSERT_EQ(h.state, State::ok);
  EXPECT_EQ(h.src_addr, "2001:db8::1");  // canonical form
  EXPECT_TRUE(parse_proxy_header("PROXY UNKNOWN\r\n").local);
}

TEST(ProxyProtocol, V1PiecesAreIncompleteUntilTheLineEnds) {
  EXPECT_EQ(parse_proxy_header("").state, State::incomplete);
  EXPECT_EQ(parse_proxy_header("PRO").state, State::incomplete);
  EXPECT_EQ(parse_proxy_header("PROXY TCP4 192.0.2.1 ").state, State::incomplete);
}

TEST(ProxyProtocol, V1RefusesWhatIsNotOne) {
  for (const char* bad :
       {"GET / HTTP/1.1\r\n", "PROXY TCP4 192.0.2.1 198.51.100.1 56324 65536\r\n",
        "PROXY TCP4 192.0.2.1 198.51.100.1 056324 443\r\n", "PROXY TCP4 ::1 ::1 1 2\r\n",
        "PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n", "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n",
        "PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", "PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n"})
    EXPECT_EQ(parse_proxy_header(bad).state, State::invalid) << bad;
  EXPECT_EQ(parse_proxy_header("PROXY TCP4 " + std::string(120, '1')).state, State::invalid);
}

TEST(ProxyProtocol, V2Ipv4WithSslTlv) {
  std::string addrs("\xc0\x00\x02\x01\xc6\x33\x64\x01\xdc\x04\x01\xbb", 12);
  std::string ssl_tlv("\x20\x00\x05\x01\x00\x00\x00\x00", 8);
  auto h = parse_proxy_header(v2(0x21, 0x11, addrs + ssl_tlv) + "GET");
  ASSERT_EQ(h.state, State::ok);
  EXPECT_EQ(h.size, 16u + 20u);
  EXPECT_EQ(h.src_addr, "192.0.2.1");
  EXPECT_EQ(h.dst_addr, "198.51.100.1");
  EXPECT_EQ(h.src_port, 56324);
  EXPECT_EQ(h.dst_port, 443);
  EXPECT_TRUE(h.ssl);
  EXPECT_FALSE(parse_proxy_header(v2(0x21, 0x11, addrs)).ssl);
}

TEST(ProxyProtocol, V2LocalUnspecAndLimits) {
  EXPECT_TRUE(parse_proxy_header(v2(0x20, 0x00, "")).local);
  EXPECT_TRUE(parse_proxy_header(v2(0x21, 0x00, "")).local);  // UNSPEC: the socket's addresses
  std::string full = v2(0x21, 0x11, std::string(12, '\1'));
  for (std::size_t n = 0; n < full.size(); ++n)
    EXPECT_EQ(parse_proxy_header(full.substr(0, n)).state, State::incomplete) << n;
  EXPECT_EQ(parse_proxy_header(v2(0x31, 0x11, std::string(12, '\1'))).state, State::invalid);
  EXPECT_EQ(parse_proxy_header(v2(0x22, 0x11, std::string(12, '\1'))).state, State::invalid);
  EXPECT_EQ(parse_proxy_header(v2(0x21, 0x11, std::string(4, '\1'))).state, State::invalid);
  EXPECT_EQ(
      parse_proxy_header(v2(0x21, 0x11, std::string(12, '\1') + std::string("\x20\x00\x09", 3)))
          .state,
      State::invalid);  // a TLV past the end
  EXPECT_EQ(parse_proxy_header(v2(0x21, 0x11, std::string(2000, '\1'))).state, State::invalid);
}

}  // namespace
}  // namespace w2p::server
