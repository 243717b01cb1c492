// Streaming detokenization: pieces that split characters are held back until complete.
#include "tokenizer/detokenizer.h"

#include <gtest/gtest.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"
#include "tokenizer_test_util.h"

namespace mx {
namespace {

using testing::real_tokenizer;

// Streams ids one at a time; checks every chunk is valid UTF-8 and that the chunks add up to
// decode(ids). Returns the chunks.
std::vector<std::string> stream(const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                                bool skip_special = false) {
  Detokenizer detokenizer(tokenizer, skip_special);
  std::vector<std::string> chunks;
  std::string all;
  for (int32_t id : ids) {
    std::string chunk = detokenizer.push(id);
    EXPECT_EQ(utf8_valid_prefix(chunk), chunk.size()) << "chunk is not valid UTF-8";
    all += chunk;
    chunks.push_back(chunk);
  }
  std::string rest = detokenizer.flush();
  all += rest;
  chunks.push_back(rest);
  EXPECT_EQ(all, tokenizer.decode(ids, skip_special));
  return chunks;
}

TEST(DetokenizerTest, HoldsBackSplitEmojiAndCjk) {
  // Byte-level vocabularies spell a rare emoji or CJK character as several tokens.
  for (const char* name : {"qwen3", "llama3", "deepseek_v3"}) {
    const Tokenizer& tokenizer = real_tokenizer(name);
    const std::string text = "Hi \xF0\x9F\xA6\x84\xF0\x9F\xA7\x91\xF0\x9F\x8F\xBF\xE2\x80\x8D\xF0\x9F\x92\xBB "
                             "\xE9\xBE\x98\xE9\x9D\x90 ok";  // 🦄🧑🏿‍💻 龘靐
    auto ids = tokenizer.encode(text);
    auto chunks = stream(tokenizer, ids);
    bool held_back = false;
    for (size_t i = 0; i + 1 < chunks.size(); ++i) held_back |= chunks[i].empty();
    EXPECT_TRUE(held_back) << name << ": expected some token to end inside a character";
  }
}

TEST(DetokenizerTest, Llama2ByteFallbackAndLeadingSpace) {
  const Tokenizer& llama2 = real_tokenizer("llama2");
  const std::string text = "Hello \xF0\x9D\x95\xB3\xEA\x99\xAE world \xF0\x93\x80\x80!";  // 𝕳ꙮ 𓀀
  auto ids = llama2.encode(text, true);
  auto chunks = stream(llama2, ids);
  std::string all;
  for (const auto& c : chunks) all += c;
  EXPECT_EQ(all, "<s> " + text);  // <s> then the text with its ▁ turned back into a space
  auto skipped = stream(llama2, ids, /*skip_special=*/true);
  all.clear();
  for (const auto& c : skipped) all += c;
  EXPECT_EQ(all, text);  // the decoder's Strip removes the prefix space at the start
}

TEST(DetokenizerTest, EveryCorpusEntryStreamsToItsDecode) {
  for (const char* name : {"qwen3", "deepseek_v3", "llama3", "llama2"}) {
    const Tokenizer& tokenizer = real_tokenizer(name);
    for (const auto& [entry, text] : testing::corpus_texts()) {
      SCOPED_TRACE(std::string(name) + " " + entry);
      stream(tokenizer, tokenizer.encode(text, true));
      stream(tokenizer, tokenizer.encode(text, true), true);
    }
  }
}

TEST(DetokenizerTest, InvalidBytesBecomeReplacementCharacters) {
  const Tokenizer& qwen = real_tokenizer("qwen3");
  // A lone continuation byte and a lead byte followed by ASCII: never valid.
  auto lone = qwen.token_id(byte_level_encode("\x80"));  // a lone continuation byte
  auto lead = qwen.token_id(byte_level_encode("\xE3"));  // a 3-byte lead byte
  ASSERT_TRUE(lone && lead);
  Detokenizer detokenizer(qwen);
  EXPECT_EQ(detokenizer.push(*lone), "\xEF\xBF\xBD");
  EXPECT_EQ(detokenizer.push(*lead), "");  // might still become a character
  EXPECT_EQ(detokenizer.pending_bytes(), 1u);
  EXPECT_EQ(detokenizer.push(qwen.encode("a")[0]), "\xEF\xBF\xBD" "a");
  detokenizer.push(*lead);
  EXPECT_EQ(detokenizer.flush(), "\xEF\xBF\xBD");
}

TEST(DetokenizerTest, TrailingStripIsHeldBackUntilFollowed) {
  // Strip(stop=1) removes a trailing space of the whole text: a space streamed now may be the
  // one stripped at the end, so it waits (found by fuzz_tokenizer_json).
  TokenizerSpec spec = testing::toy_spec({"a", "\xE2\x96\x81"}, {});
  DecoderStep replace;
  replace.kind = DecoderStep::Kind::kReplace;
  replace.pattern = "\xE2\x96\x81";
  replace.content = " ";
  DecoderStep fuse;
  fuse.kind = DecoderStep::Kind::kFuse;
  DecoderStep strip;
  strip.kind = DecoderStep::Kind::kStrip;
  strip.content = " ";
  strip.strip_stop = 1;
  spec.decoder = {replace, fuse, strip};
  auto tokenizer = testing::make_tokenizer(spec);
  ASSERT_TRUE(tokenizer);
  for (const std::vector<int32_t>& ids : std::vector<std::vector<int32_t>>{
           {0, 1}, {0, 1, 1}, {0, 1, 0, 1, 1, 0}, {1}, {1, 1, 0}}) {
    auto chunks = stream(*tokenizer, ids);
    EXPECT_EQ(chunks[1], ids[0] == 0 && ids[1] == 1 ? "" : chunks[1]);
  }
}

}  // namespace
}  // namespace mx
