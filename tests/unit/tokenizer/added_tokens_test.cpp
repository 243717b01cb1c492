// Added-token splitting: leftmost-longest matching and the AddedToken flags.
#include "tokenizer/added_tokens.h"

#include <gtest/gtest.h>

#include "tokenizer_test_util.h"

namespace mx {
namespace {

using Parts = std::vector<std::pair<std::string, int32_t>>;

AddedToken token(const std::string& content, int32_t id) {
  AddedToken t;
  t.content = content;
  t.id = id;
  t.special = true;
  return t;
}

Parts split(const AddedTokenMatcher& matcher, const std::string& text) {
  std::vector<AddedTokenMatcher::Segment> segments;
  matcher.split(text, segments);
  Parts parts;
  for (const auto& s : segments) parts.emplace_back(text.substr(s.begin, s.end - s.begin), s.id);
  return parts;
}

TEST(AddedTokensTest, LeftmostLongest) {
  AddedTokenMatcher matcher({token("<|a|>", 1), token("<|a|><|b|>", 2), token("|b", 3)});
  EXPECT_EQ(split(matcher, "x<|a|><|b|>y"), (Parts{{"x", -1}, {"<|a|><|b|>", 2}, {"y", -1}}));
  EXPECT_EQ(split(matcher, "<|a|><|c|>"), (Parts{{"<|a|>", 1}, {"<|c|>", -1}}));
  // Leftmost wins over longest: "<|b" starts later than nothing else here, so "|b" matches.
  EXPECT_EQ(split(matcher, "<|b|>"), (Parts{{"<", -1}, {"|b", 3}, {"|>", -1}}));
  EXPECT_EQ(split(matcher, ""), (Parts{}));
  EXPECT_EQ(split(matcher, "plain"), (Parts{{"plain", -1}}));
}

TEST(AddedTokensTest, StripFlagsSwallowWhitespace) {
  AddedToken mask = token("<mask>", 5);
  mask.lstrip = true;
  mask.rstrip = true;
  AddedTokenMatcher matcher({mask});
  EXPECT_EQ(split(matcher, "a  <mask> \t b"), (Parts{{"a", -1}, {"  <mask> \t ", 5}, {"b", -1}}));
}

TEST(AddedTokensTest, SingleWordOnlyMatchesWholeWords) {
  AddedToken word = token("ok", 7);
  word.single_word = true;
  AddedTokenMatcher matcher({word});
  EXPECT_EQ(split(matcher, "ok book ok."), (Parts{{"ok", 7}, {" book ", -1}, {"ok", 7}, {".", -1}}));
}

TEST(AddedTokensTest, RealTokenizersRecognizeSpecialStrings) {
  const Tokenizer& qwen = testing::real_tokenizer("qwen3");
  auto im_start = qwen.token_id("<|im_start|>");
  ASSERT_TRUE(im_start.has_value());
  EXPECT_EQ(*im_start, 151644);
  auto ids = qwen.encode("<|im_start|>user");
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], 151644);
  EXPECT_TRUE(qwen.is_special(151644));
  EXPECT_FALSE(qwen.is_special(*qwen.token_id("<think>")));  // added but not special

  const Tokenizer& llama2 = testing::real_tokenizer("llama2");
  // The normalizer runs per stretch between added tokens: "x" after <s> gets its own ▁.
  auto with_bos = llama2.encode("<s>x");
  auto plain = llama2.encode("x");
  ASSERT_EQ(with_bos.size(), 1 + plain.size());
  EXPECT_EQ(with_bos[0], 1);
  EXPECT_EQ(std::vector<int32_t>(with_bos.begin() + 1, with_bos.end()), plain);
}

}  // namespace
}  // namespace mx
