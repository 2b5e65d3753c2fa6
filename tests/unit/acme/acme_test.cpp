#include <gtest/gtest.h>

#include <string>

#include "server/acme/acme_openssl.hpp"

namespace w2p::server::acme {
namespace {

TEST(Acme, Base64UrlHasNoPaddingAndTheUrlAlphabet) {
  EXPECT_EQ(base64url(""), "");
  EXPECT_EQ(base64url("f"), "Zg");
  EXPECT_EQ(base64url("fo"), "Zm8");
  EXPECT_EQ(base64url("foo"), "Zm9v");
  EXPECT_EQ(base64url("foob"), "Zm9vYg");
  EXPECT_EQ(base64url(std::string("\xfb\xff\xbf", 3)), "-_-_");
}

TEST(Acme, Base64UrlDecodesWhatItEncodesAndRefusesTheRest) {
  for (std::string bytes : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                            std::string("\xfb\xff\xbf\x00\x01", 5)})
    EXPECT_EQ(base64url_decode(base64url(bytes)), bytes);
  EXPECT_EQ(base64url_decode("Zm9vYg=="), std::string("foob"));  // padding and '+/' accepted
  EXPECT_EQ(base64url_decode("+/+/"), std::string("\xfb\xff\xbf", 3));
  EXPECT_FALSE(base64url_decode("not base64!"));
  EXPECT_FALSE(base64url_decode("Z"));  // a lone sixth of a byte
}

TEST(Acme, RenewalInformationIdAsRfc9773Shows) {
  // RFC 9773 4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
  // serial 00:87:65:43:21 (the DER value keeps its leading zero).
  std::string key_id(
      "\x69\x88\x5b\x6b\x87\x46\x40\x41\xe1\xb3\x7b\x84\x7b\xa0\xae\x2c\xde\x01"
      "\xc8\xd4",
      20);
  std::string serial("\x00\x87\x65\x43\x21", 5);
  EXPECT_EQ(ari_cert_id(key_id, serial), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

}  // namespace
}  // namespace w2p::server::acme
