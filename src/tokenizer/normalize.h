// Normalizers: text -> text before pre-tokenization (Unicode forms, lowercase, Prepend,
// Replace). Applied to each stretch of text between added tokens, as Hugging Face does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer_spec.h"

namespace mx {

class Normalizer {
 public:
  static Result<Normalizer> create(const std::vector<NormalizerStep>& steps);

  bool empty() const { return steps_.empty(); }
  // `text` must be valid UTF-8; the result is too.
  std::string normalize(std::string_view text) const;

 private:
  struct Step {
    NormalizerStep spec;
    std::vector<Regex> regex;  // kReplace with a regex pattern: one entry
  };
  std::vector<Step> steps_;
};

// Unicode normalization forms via utf8proc; text without characters that any form changes
// (ASCII, most CJK) is returned as is without calling utf8proc.
std::string unicode_normalize(std::string_view text, NormalizerStep::Kind form);

}  // namespace mx
