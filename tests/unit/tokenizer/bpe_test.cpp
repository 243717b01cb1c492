// BPE merge order on toy vocabularies, checked against a naive reference implementation.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/bpe.h"
#include "tokenizer_test_util.h"

namespace mx {
namespace {

using testing::make_tokenizer;
using testing::toy_spec;

// The textbook algorithm: repeatedly merge the adjacent pair with the lowest rank, leftmost on
// ties. Quadratic and obviously right.
std::vector<std::string> naive_bpe(const std::string& word,
                                   const std::vector<std::pair<std::string, std::string>>& merges) {
  std::vector<std::string> symbols;
  for (char c : word) symbols.emplace_back(1, c);
  while (symbols.size() > 1) {
    size_t best_rank = merges.size(), best_pos = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      for (size_t r = 0; r < best_rank; ++r) {
        if (merges[r].first == symbols[i] && merges[r].second == symbols[i + 1]) {
          best_rank = r;
          best_pos = i;
          break;
        }
      }
    }
    if (best_rank == merges.size()) break;
    symbols[best_pos] += symbols[best_pos + 1];
    symbols.erase(symbols.begin() + best_pos + 1);
  }
  return symbols;
}

std::vector<std::string> pieces_of(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(tokenizer.token_text(id));
  return pieces;
}

const std::vector<std::string> kPieces = {"a", "b", "c", "ab", "bc", "abc", "aa", "aaa", "ca", "cab"};
const std::vector<std::pair<std::string, std::string>> kMerges = {
    {"a", "b"}, {"b", "c"}, {"a", "a"}, {"ab", "c"}, {"aa", "a"}, {"c", "a"}, {"c", "ab"}};

TEST(BpeTest, MergesByRankThenLeftmost) {
  auto tokenizer = make_tokenizer(toy_spec(kPieces, kMerges));
  ASSERT_TRUE(tokenizer);
  auto encode = [&](const std::string& text) { return pieces_of(*tokenizer, tokenizer->encode(text)); };
  EXPECT_EQ(encode("abc"), (std::vector<std::string>{"abc"}));   // a+b first, then ab+c
  EXPECT_EQ(encode("aaa"), (std::vector<std::string>{"aaa"}));   // (a a) leftmost, then aa+a
  EXPECT_EQ(encode("aaaa"), (std::vector<std::string>{"aa", "aa"}));
  EXPECT_EQ(encode("cab"), (std::vector<std::string>{"cab"}));   // a+b (rank 0) before c+a
  EXPECT_EQ(encode("bca"), (std::vector<std::string>{"bc", "a"}));
  EXPECT_EQ(encode(""), (std::vector<std::string>{}));
}

TEST(BpeTest, SmallAndLargeWordPathsAgreeWithNaiveReference) {
  auto tokenizer = make_tokenizer(toy_spec(kPieces, kMerges));
  ASSERT_TRUE(tokenizer);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    // Lengths on both sides of the linear-scan / heap threshold.
    size_t length = 1 + rng() % 120;
    std::string word;
    for (size_t i = 0; i < length; ++i) word += "abc"[rng() % 3];
    EXPECT_EQ(pieces_of(*tokenizer, tokenizer->encode(word)), naive_bpe(word, kMerges)) << word;
  }
}

TEST(BpeTest, LaterDuplicateMergeWins) {
  // Hugging Face builds its merge map from the list in order, so a repeated pair gets its last
  // rank: here (a b) drops below (b c).
  auto tokenizer = make_tokenizer(toy_spec(kPieces, {{"a", "b"}, {"b", "c"}, {"a", "b"}}));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(pieces_of(*tokenizer, tokenizer->encode("abc")), (std::vector<std::string>{"a", "bc"}));
}

TEST(BpeTest, MergeOutsideVocabularyIsAnError) {
  auto tokenizer = Tokenizer::create(toy_spec({"a", "b"}, {{"a", "b"}}));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_NE(tokenizer.error().message.find("not in the vocabulary"), std::string::npos);
}

TEST(BpeTest, IgnoreMergesTakesWholeVocabularyPieces) {
  // "ca" + "b" cannot merge to "cab" by the rules, but a whole-word match takes it as is.
  auto spec = toy_spec({"a", "b", "c", "ca", "cab"}, {{"c", "a"}});
  auto plain = make_tokenizer(spec);
  spec.ignore_merges = true;
  auto ignoring = make_tokenizer(spec);
  ASSERT_TRUE(plain && ignoring);
  EXPECT_EQ(pieces_of(*plain, plain->encode("cab")), (std::vector<std::string>{"ca", "b"}));
  EXPECT_EQ(pieces_of(*ignoring, ignoring->encode("cab")), (std::vector<std::string>{"cab"}));
}

TEST(BpeTest, ByteFallbackAndFusedUnknowns) {
  std::vector<std::string> pieces = {"<unk>", "a", "b"};
  auto spec = toy_spec(pieces, {});
  spec.unk_id = 0;
  spec.tokens[0].type = TokenType::kUnknown;
  spec.fuse_unk = true;
  auto fused = make_tokenizer(spec);
  ASSERT_TRUE(fused);
  EXPECT_EQ(fused->encode("a\xC3\xA9\xC3\xA9" "b"), (std::vector<int32_t>{1, 0, 2}));  // aééb
  spec.fuse_unk = false;
  auto unfused = make_tokenizer(spec);
  EXPECT_EQ(unfused->encode("a\xC3\xA9\xC3\xA9"), (std::vector<int32_t>{1, 0, 0}));

  // With every <0xAB> piece present, unknown characters become their UTF-8 bytes.
  for (int b = 0; b < 256; ++b) {
    TokenEntry entry;
    entry.piece = fmt::format("<0x{:02X}>", b);
    entry.type = TokenType::kByte;
    entry.in_model = true;
    spec.tokens.push_back(entry);
  }
  spec.byte_fallback = true;
  auto bytes = make_tokenizer(spec);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->encode("a\xC3\xA9"), (std::vector<int32_t>{1, 3 + 0xC3, 3 + 0xA9}));
}

TEST(BpeTest, ScoresRankMergesLikeSentencePiece) {
  // Scores instead of merges: the pair whose concatenation scores highest merges first.
  TokenizerSpec spec = toy_spec({"a", "b", "c", "ab", "bc", "abc"}, {});
  spec.model = ModelType::kBpeScores;
  std::vector<float> scores = {0, 0, 0, -5, -1, -2};
  for (size_t i = 0; i < scores.size(); ++i) spec.tokens[i].score = scores[i];
  auto tokenizer = make_tokenizer(spec);
  ASSERT_TRUE(tokenizer);
  // "bc" (-1) beats "ab" (-5); then a + bc -> "abc" (-2).
  EXPECT_EQ(pieces_of(*tokenizer, tokenizer->encode("abc")), (std::vector<std::string>{"abc"}));
  EXPECT_EQ(pieces_of(*tokenizer, tokenizer->encode("abab")),
            (std::vector<std::string>{"ab", "ab"}));
}

}  // namespace
}  // namespace mx
