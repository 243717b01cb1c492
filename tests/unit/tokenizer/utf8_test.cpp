// UTF-8 helpers: lossy decoding replaces maximal invalid subparts, as WHATWG specifies.
#include "tokenizer/utf8.h"

#include <gtest/gtest.h>

#include "tokenizer/byte_level.h"

namespace mx {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8Test, LossyReplacesMaximalSubparts) {
  EXPECT_EQ(utf8_lossy("plain ascii"), "plain ascii");
  EXPECT_EQ(utf8_lossy("\xE4\xBD\xA0\xE5\xA5\xBD"), "\xE4\xBD\xA0\xE5\xA5\xBD");
  EXPECT_EQ(utf8_lossy("a\x80" "b"), "a" + kFffd + "b");
  EXPECT_EQ(utf8_lossy("\xE4\xBD" "b"), kFffd + "b");           // truncated 3-byte: one U+FFFD
  EXPECT_EQ(utf8_lossy("\xF0\x9F\x98"), kFffd);                 // truncated at the end
  EXPECT_EQ(utf8_lossy("\xC0\xAF"), kFffd + kFffd);             // overlong: each byte
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), kFffd + kFffd + kFffd); // surrogate
  EXPECT_EQ(utf8_lossy("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(utf8_lossy(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(Utf8Test, ByteLevelAlphabetRoundTrips) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes += static_cast<char>(b);
  std::string encoded = byte_level_encode(all_bytes);
  EXPECT_EQ(byte_level_decode(encoded), all_bytes);
  EXPECT_EQ(byte_level_encode(" "), "\xC4\xA0");  // Ġ
  EXPECT_EQ(byte_level_encode("\n"), "\xC4\x8A");  // Ċ
  EXPECT_FALSE(byte_level_decode("\xE4\xB8\xAD").has_value());  // 中 is not in the alphabet
}

}  // namespace
}  // namespace mx
