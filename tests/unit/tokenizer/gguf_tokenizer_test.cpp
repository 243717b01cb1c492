// The GGUF path: a GGUF written from a tokenizer.json's vocabulary and merges (as llama.cpp's
// converter does) must tokenize every corpus text exactly like the tokenizer.json path.
#include "tokenizer/gguf_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer_test_util.h"

namespace mx {
namespace {

// What llama.cpp's convert_hf_to_gguf writes for a BPE tokenizer.json: every id's spelling,
// its type (added special -> control, other added -> user-defined), merges as "a b".
GgufWriter gguf_from_spec(const TokenizerSpec& spec, const std::string& model,
                          const std::string& pre) {
  GgufWriter writer;
  writer.set_string("general.architecture", "llama");
  writer.set_string("tokenizer.ggml.model", model);
  if (!pre.empty()) writer.set_string("tokenizer.ggml.pre", pre);
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    const TokenEntry& token = spec.tokens[id];
    tokens.push_back(token.type == TokenType::kUndefined ? fmt::format("[PAD{}]", id) : token.piece);
    types.push_back(token.type == TokenType::kUndefined ? 5 : static_cast<int32_t>(token.type));
  }
  writer.set("tokenizer.ggml.tokens", GgufWriteValue::string_array(tokens));
  writer.set("tokenizer.ggml.token_type", GgufWriteValue::array(types));
  if (model == "gpt2") {
    std::vector<std::string> merges;
    for (const auto& [a, b] : spec.merges) merges.push_back(a + " " + b);
    writer.set("tokenizer.ggml.merges", GgufWriteValue::string_array(merges));
  }
  if (spec.bos_id) writer.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(*spec.bos_id));
  if (spec.eos_id) writer.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(*spec.eos_id));
  if (spec.unk_id) writer.set_u32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(*spec.unk_id));
  writer.set_bool("tokenizer.ggml.add_bos_token", !spec.prefix_ids.empty());
  return writer;
}

// Loads a real tokenizer.json spec and its GGUF twin; returns (json tokenizer, gguf tokenizer).
std::pair<std::unique_ptr<Tokenizer>, std::unique_ptr<Tokenizer>> twins(
    const std::string& name, const std::string& model, const std::string& pre,
    const std::function<void(TokenizerSpec&, GgufWriter&)>& adjust = nullptr) {
  auto spec = load_tokenizer_json_dir(testing::real_tokenizer_dir(name));
  EXPECT_TRUE(spec.ok());
  GgufWriter writer = gguf_from_spec(*spec, model, pre);
  if (adjust) adjust(*spec, writer);
  auto path = std::filesystem::temp_directory_path() / ("mx_tok_" + name + ".gguf");
  EXPECT_TRUE(writer.write_file(path.string()).ok());
  auto from_gguf = Tokenizer::load(path.string());  // the same entry point as the CLI
  std::filesystem::remove(path);
  EXPECT_TRUE(from_gguf.ok()) << (from_gguf.ok() ? "" : from_gguf.error().message);
  auto from_json = Tokenizer::create(std::move(spec).value());
  EXPECT_TRUE(from_json.ok());
  if (!from_gguf.ok() || !from_json.ok()) return {};
  return {std::move(from_json).value(), std::move(from_gguf).value()};
}

void expect_same_tokens(const Tokenizer& expected, const Tokenizer& actual) {
  int mismatches = 0;
  for (const auto& [entry, text] : testing::corpus_texts()) {
    for (bool add_special : {false, true}) {
      if (expected.encode(text, add_special) != actual.encode(text, add_special)) {
        ADD_FAILURE() << entry << " add_special=" << add_special;
        ++mismatches;
      }
    }
    EXPECT_EQ(actual.decode(actual.encode(text)), expected.decode(expected.encode(text))) << entry;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(GgufTokenizerTest, Qwen3FromGgufMatchesTokenizerJson) {
  auto [json, gguf] = twins("qwen3", "gpt2", "qwen2");
  ASSERT_TRUE(json && gguf);
  expect_same_tokens(*json, *gguf);
  EXPECT_EQ(gguf->token_id("<|im_end|>"), 151645);
  EXPECT_TRUE(gguf->is_special(151645));
}

TEST(GgufTokenizerTest, Llama3FromGgufMatchesTokenizerJson) {
  auto [json, gguf] = twins("llama3", "gpt2", "llama-bpe");
  ASSERT_TRUE(json && gguf);
  expect_same_tokens(*json, *gguf);
}

TEST(GgufTokenizerTest, DeepSeekV3FromGgufMatchesTokenizerJson) {
  auto [json, gguf] = twins("deepseek_v3", "gpt2", "deepseek-v3");
  ASSERT_TRUE(json && gguf);
  expect_same_tokens(*json, *gguf);
}

TEST(GgufTokenizerTest, Llama2ScoresFromMergeRanksMatchTokenizerJson) {
  // SentencePiece GGUFs rank merges by score. Give each piece the score of the first merge
  // that builds it (what HF's converter derived the merges from), and compare.
  auto [json, gguf] = twins("llama2", "llama", "", [](TokenizerSpec& spec, GgufWriter& writer) {
    std::map<std::string, size_t> first_rank;
    for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
      first_rank.emplace(spec.merges[rank].first + spec.merges[rank].second, rank);
    }
    std::vector<float> scores;
    for (const TokenEntry& token : spec.tokens) {
      auto it = first_rank.find(token.piece);
      scores.push_back(it == first_rank.end() ? -1e9f : -static_cast<float>(it->second));
    }
    writer.set("tokenizer.ggml.scores", GgufWriteValue::array(scores));
  });
  ASSERT_TRUE(json && gguf);
  expect_same_tokens(*json, *gguf);
}

TEST(GgufTokenizerTest, PreTokenizerNamesCarryTheTokenizerJsonRegexes) {
  for (auto [model, name] : std::vector<std::pair<std::string, std::string>>{
           {"qwen3", "qwen2"}, {"llama3", "llama-bpe"}, {"deepseek_v3", "deepseek-v3"}}) {
    auto spec = load_tokenizer_json_dir(testing::real_tokenizer_dir(model));
    ASSERT_TRUE(spec.ok());
    auto steps = pre_tokenizer_for_gguf_name(name);
    ASSERT_EQ(steps.size(), spec->pre_tokenizer.size()) << name;
    for (size_t i = 0; i < steps.size(); ++i) {
      EXPECT_EQ(steps[i].kind, spec->pre_tokenizer[i].kind) << name << " step " << i;
      EXPECT_EQ(steps[i].pattern, spec->pre_tokenizer[i].pattern) << name << " step " << i;
      EXPECT_EQ(steps[i].use_regex, spec->pre_tokenizer[i].use_regex) << name << " step " << i;
    }
  }
}

TEST(GgufTokenizerTest, UnsupportedModelAndPreAreNamed) {
  auto spec = load_tokenizer_json_dir(testing::real_tokenizer_dir("qwen3"));
  ASSERT_TRUE(spec.ok());
  for (auto [model, pre, expected] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"bert", "", "tokenizer.ggml.model 'bert'"},
           {"gpt2", "falcon", "tokenizer.ggml.pre 'falcon'"}}) {
    auto bytes = gguf_from_spec(*spec, model, pre).to_bytes();
    ASSERT_TRUE(bytes.ok());
    auto file = GgufFile::parse_bytes(*bytes, "test.gguf");
    ASSERT_TRUE(file.ok());
    auto result = tokenizer_spec_from_gguf(*file);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::kUnsupported);
    EXPECT_NE(result.error().message.find(expected), std::string::npos) << result.error().message;
  }
}

}  // namespace
}  // namespace mx
