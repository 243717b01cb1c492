// Incremental detokenizer for streaming: feed token ids one at a time, get back only text that
// is complete UTF-8.
//
// A token can end inside a character: byte-level pieces split emoji and CJK characters, and
// Llama 2 spells rare characters as <0xF0><0x9F>... byte tokens. The bytes of an unfinished
// character are held back until the rest arrives; bytes that can never become valid UTF-8 are
// emitted as U+FFFD. flush() returns whatever is held back at the end.
//
// Invariant: for ids whose decode() is valid text, the concatenation of every push() and the
// final flush() equals tokenizer.decode(ids, skip_special). For decoder chains that are not a
// plain concatenation of pieces (Metaspace, Strip at the end, no decoder) the detokenizer
// re-decodes the ids it has seen, which keeps the invariant at a quadratic cost.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mx {

class Detokenizer {
 public:
  // `tokenizer` must outlive the detokenizer.
  explicit Detokenizer(const Tokenizer& tokenizer, bool skip_special = false);

  // Adds one token; returns the text completed by it (often empty while a character is open).
  std::string push(int32_t id);
  // Ends the stream: returns the held-back rest (incomplete UTF-8 becomes U+FFFD).
  std::string flush();
  // Bytes currently held back (an unfinished character, or a leading space not yet stripped).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  std::string take_complete();
  std::string push_by_redecoding(int32_t id);

  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::string pending_;  // bytes not yet returned
  int leading_strip_left_ = 0;
  // Re-decoding mode only.
  std::vector<int32_t> ids_;
  size_t emitted_bytes_ = 0;
};

}  // namespace mx
