// Pre-tokenizer splits: regex behaviors, the Qwen/Llama 3/DeepSeek patterns, Metaspace, Digits.
#include "tokenizer/pretokenize.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(const std::vector<PreTokenizerStep>& steps, const std::string& text,
             bool first_section = true) {
  auto pre_tokenizer = PreTokenizer::create(steps);
  EXPECT_TRUE(pre_tokenizer.ok()) << (pre_tokenizer.ok() ? "" : pre_tokenizer.error().message);
  PreTokens tokens;
  pre_tokenizer->split(text, first_section, tokens);
  Pieces pieces;
  for (size_t i = 0; i < tokens.spans.size(); ++i) pieces.emplace_back(tokens.piece(i));
  return pieces;
}

PreTokenizerStep split_step(const std::string& pattern, SplitBehavior behavior,
                            bool invert = false, bool is_regex = true) {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kSplit;
  step.pattern = pattern;
  step.pattern_is_regex = is_regex;
  step.behavior = behavior;
  step.invert = invert;
  return step;
}

TEST(PreTokenizeTest, SplitBehaviors) {
  // The example from the Hugging Face docs: "the-final--countdown" split on "-".
  const std::string text = "the-final--countdown";
  EXPECT_EQ(split({split_step("-", SplitBehavior::kRemoved, false, false)}, text),
            (Pieces{"the", "final", "countdown"}));
  EXPECT_EQ(split({split_step("-", SplitBehavior::kIsolated, false, false)}, text),
            (Pieces{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split({split_step("-", SplitBehavior::kMergedWithPrevious, false, false)}, text),
            (Pieces{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split({split_step("-", SplitBehavior::kMergedWithNext, false, false)}, text),
            (Pieces{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split({split_step("-", SplitBehavior::kContiguous, false, false)}, text),
            (Pieces{"the", "-", "final", "--", "countdown"}));
  // invert: the pattern describes the pieces, the rest is the delimiter.
  EXPECT_EQ(split({split_step("[a-z]+", SplitBehavior::kRemoved, true)}, text),
            (Pieces{"the", "final", "countdown"}));
}

TEST(PreTokenizeTest, Qwen2Pattern) {
  auto steps = pre_tokenizer_for_gguf_name("qwen2");
  EXPECT_EQ(split(steps, "Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(split(steps, "I'M They'Ll"), (Pieces{"I", "'M", " They", "'Ll"}));
  EXPECT_EQ(split(steps, "123 abc"), (Pieces{"1", "2", "3", " abc"}));
  EXPECT_EQ(split(steps, "a  b"), (Pieces{"a", " ", " b"}));        // \s+(?!\S)
  EXPECT_EQ(split(steps, "x\r\n\r\ny"), (Pieces{"x", "\r\n\r\n", "y"}));
  EXPECT_EQ(split(steps, "ok!!!\n\nnext"), (Pieces{"ok", "!!!\n\n", "next"}));
  EXPECT_EQ(split(steps, "end   "), (Pieces{"end", "   "}));
  EXPECT_EQ(split(steps, "\xE4\xBD\xA0\xE5\xA5\xBD, world"),  // 你好, world
            (Pieces{"\xE4\xBD\xA0\xE5\xA5\xBD", ",", " world"}));
  EXPECT_EQ(split(steps, ""), (Pieces{}));
}

TEST(PreTokenizeTest, Llama3GroupsDigitsByThree) {
  auto steps = pre_tokenizer_for_gguf_name("llama-bpe");
  EXPECT_EQ(split(steps, "1234567"), (Pieces{"123", "456", "7"}));
}

TEST(PreTokenizeTest, DeepSeekSplitsCjkRunsAndDigitGroups) {
  auto steps = pre_tokenizer_for_gguf_name("deepseek-v3");
  // 中文abc1234 -> the CJK run, the letters, digits in threes.
  EXPECT_EQ(split(steps, "\xE4\xB8\xAD\xE6\x96\x87" "abc1234"),
            (Pieces{"\xE4\xB8\xAD\xE6\x96\x87", "abc", "123", "4"}));
}

// MiniMax-M2's pattern (GGUF tokenizer.ggml.pre "minimax-m2"). Expected pieces from Python's
// `regex` module (python3-regex 2022.10.31) on the same pattern: an engine independent of PCRE2.
TEST(PreTokenizeTest, MinimaxM2SplitsCaseRunsDigitGroupsAndSlashes) {
  auto steps = pre_tokenizer_for_gguf_name("minimax-m2");
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(split(steps, "HelloWorld's test"), (Pieces{"Hello", "World's", " test"}));
  EXPECT_EQ(split(steps, "camelCaseXMLParser"), (Pieces{"camel", "Case", "XMLParser"}));
  EXPECT_EQ(split(steps, "I'M They'Ll"), (Pieces{"I'M", " They'Ll"}));
  EXPECT_EQ(split(steps, "1234567 abc"), (Pieces{"123", "456", "7", " abc"}));
  EXPECT_EQ(split(steps, "path/to/file"), (Pieces{"path", "/to", "/file"}));
  EXPECT_EQ(split(steps, "ok!!!\n\nnext"), (Pieces{"ok", "!!!\n\n", "next"}));
  EXPECT_EQ(split(steps, "a  b"), (Pieces{"a", " ", " b"}));
  EXPECT_EQ(split(steps, "x\r\n\r\ny"), (Pieces{"x", "\r\n\r\n", "y"}));
  EXPECT_EQ(split(steps, "\xE4\xBD\xA0\xE5\xA5\xBD, world"),  // 你好, world
            (Pieces{"\xE4\xBD\xA0\xE5\xA5\xBD", ",", " world"}));
  EXPECT_EQ(split(steps, "caf\xC3\xA9 na\xCC\x88ive"),  // café, n + a + combining diaeresis
            (Pieces{"caf\xC3\xA9", " na\xCC\x88ive"}));
}

TEST(PreTokenizeTest, ByteLevelGpt2RegexAndPrefixSpace) {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kByteLevel;
  step.use_regex = true;
  step.add_prefix_space = true;
  EXPECT_EQ(split({step}, "Hello world's"), (Pieces{" Hello", " world", "'s"}));
  EXPECT_EQ(split({step}, " already"), (Pieces{" already"}));
}

TEST(PreTokenizeTest, MetaspaceReplacesSpacesAndSplits) {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kMetaspace;
  step.prepend_scheme = PrependScheme::kFirst;
  const std::string bar = "\xE2\x96\x81";
  EXPECT_EQ(split({step}, "Hello  world"), (Pieces{bar + "Hello", bar, bar + "world"}));
  // prepend_scheme "first": only the text that starts the input gets the prefix.
  EXPECT_EQ(split({step}, "Hi", /*first_section=*/false), (Pieces{"Hi"}));
  step.split = false;
  EXPECT_EQ(split({step}, "a b"), (Pieces{bar + "a" + bar + "b"}));
}

TEST(PreTokenizeTest, Digits) {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kDigits;
  EXPECT_EQ(split({step}, "ab123cd4"), (Pieces{"ab", "123", "cd", "4"}));
  step.individual_digits = true;
  EXPECT_EQ(split({step}, "ab123cd4"), (Pieces{"ab", "1", "2", "3", "cd", "4"}));
}

TEST(PreTokenizeTest, StepAfterByteLevelIsRejected) {
  PreTokenizerStep byte_level;
  byte_level.kind = PreTokenizerStep::Kind::kByteLevel;
  auto result = PreTokenizer::create({byte_level, split_step("a", SplitBehavior::kIsolated)});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kUnsupported);
}

TEST(PreTokenizeTest, BadRegexNamesThePattern) {
  auto result = PreTokenizer::create({split_step("(unclosed", SplitBehavior::kIsolated)});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("(unclosed"), std::string::npos);
}

TEST(PreTokenizeTest, HugeWhitespaceRunDoesNotExhaustTheRegexStack) {
  auto steps = pre_tokenizer_for_gguf_name("qwen2");
  std::string text = "a" + std::string(2'000'000, ' ') + "b";
  Pieces pieces = split(steps, text);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[1].size(), 2'000'000u - 1);
}

}  // namespace
}  // namespace mx
