// A compiled PCRE2 regex for the pre-tokenizers: UTF-8 with Unicode properties (UTF + UCP, so
// \s \w \d and (?i) follow Unicode as Hugging Face's Oniguruma does), JIT-compiled when the
// platform allows. Subjects must be valid UTF-8 (the tokenizer sanitizes input first).
//
// Matching is const and thread-safe: match data and the JIT stack are per thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mx {

class Regex {
 public:
  // Compiles `pattern`; errors name the pattern and PCRE2's message and offset.
  static Result<Regex> compile(std::string_view pattern);
  // A pattern that matches `literal` exactly.
  static Result<Regex> literal(std::string_view literal);

  // Appends [begin, end) of every non-empty, non-overlapping match in `text` to `out`
  // (empty matches are skipped, as Hugging Face's splitters drop empty pieces).
  // Returns false if PCRE2 failed (resource limits); `out` then holds the matches so far.
  bool find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
  std::string pattern_;
};

}  // namespace mx
