#include "service/stored_text.h"

#include <gtest/gtest.h>

#include <string>

namespace mx {
namespace {

TEST(StoredTextTest, ValidUtf8) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("acme"));
  EXPECT_TRUE(is_valid_utf8("Zürich \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80"));  // ü 東京 😀
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("ab\xc3"));            // cut sequence
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong, 3 bytes
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe6\x9d\x41"));      // bad continuation byte
}

TEST(StoredTextTest, LabelProblemsNameTheByte) {
  EXPECT_EQ(label_problem("team-a \xe6\x9d\xb1"), "");
  EXPECT_EQ(label_problem("ab\xff"), "is not valid UTF-8 (byte 0xff at offset 2)");
  EXPECT_EQ(label_problem("a\nb"), "holds a control character (U+000A at offset 1)");
  EXPECT_EQ(label_problem(std::string(1, '\0')), "holds a control character (U+0000 at offset 0)");
  EXPECT_EQ(label_problem("x\x7f"), "holds a control character (U+007F at offset 1)");
  EXPECT_EQ(label_problem("\xc2\x9b"), "holds a control character (U+009B at offset 0)");  // CSI
  EXPECT_EQ(label_problem(std::string(kMaxLabelBytes, 'a')), "");
  EXPECT_EQ(label_problem(std::string(kMaxLabelBytes + 1, 'a')), "is longer than 256 bytes (257)");
}

TEST(StoredTextTest, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(replace_invalid_utf8("ok \xe6\x9d\xb1"), "ok \xe6\x9d\xb1");
  EXPECT_EQ(replace_invalid_utf8("a\xff"
                                 "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(replace_invalid_utf8("\xe6\x9d"), "\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(StoredTextTest, JsonTextNeverThrowsOnStoredBytes) {
  nlohmann::json value = {{"name", "bad\xff"}};
  EXPECT_THROW((void)value.dump(), nlohmann::json::type_error);  // why json_text exists
  EXPECT_EQ(json_text(value), "{\"name\":\"bad\xef\xbf\xbd\"}");
}

}  // namespace
}  // namespace mx
