// Pre-tokenizers: split normalized text into pre-tokens, each encoded by the model on its own.
//
// Pieces are byte ranges of one text; steps that only split (Split, Digits, ByteLevel without
// a prefix space) never copy. ByteLevel does not map bytes to its alphabet here: mxserve's
// byte-level vocabularies are stored as raw bytes (byte_level.h), so no step may follow a
// ByteLevel step that would need the mapped text (create() rejects such pipelines).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer_spec.h"

namespace mx {

struct PreTokens {
  std::string storage;    // owns the text when a step rewrote it
  std::string_view text;  // the text the spans index: the input or `storage`
  std::vector<std::pair<uint32_t, uint32_t>> spans;  // [begin, end) of each pre-token

  std::string_view piece(size_t i) const {
    return text.substr(spans[i].first, spans[i].second - spans[i].first);
  }
};

class PreTokenizer {
 public:
  static Result<PreTokenizer> create(const std::vector<PreTokenizerStep>& steps);

  // Splits `text` (valid UTF-8). `first_section` tells Metaspace(prepend_scheme=first) whether
  // this text starts the input. `out` is reused: its spans are replaced.
  void split(std::string_view text, bool first_section, PreTokens& out) const;

  // True when a ByteLevel step makes this a byte-level pipeline.
  bool byte_level() const { return byte_level_; }

 private:
  struct Step {
    PreTokenizerStep spec;
    std::vector<Regex> regex;  // kSplit, and kByteLevel with use_regex: one entry
  };
  void apply_split(const Step& step, PreTokens& tokens) const;
  void apply_byte_level(const Step& step, PreTokens& tokens) const;
  void apply_metaspace(const Step& step, bool first_section, PreTokens& tokens) const;
  void apply_digits(const Step& step, PreTokens& tokens) const;

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

// Splits one piece by a list of (range, is_delimiter) following Hugging Face's
// SplitDelimiterBehavior. Ranges cover the piece in order. Exposed for tests.
void apply_split_behavior(const std::vector<std::pair<std::pair<uint32_t, uint32_t>, bool>>& parts,
                          SplitBehavior behavior,
                          std::vector<std::pair<uint32_t, uint32_t>>& out);

}  // namespace mx
