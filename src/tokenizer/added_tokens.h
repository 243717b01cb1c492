// Finding added tokens (<|im_start|>, <think>, <s>) in text: leftmost match first, and the
// longest token at that position, as Hugging Face does. Handles the AddedToken flags:
// single_word (not inside a word), lstrip / rstrip (swallow neighbouring whitespace).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer_spec.h"

namespace mx {

class AddedTokenMatcher {
 public:
  struct Segment {
    size_t begin = 0, end = 0;  // byte range in the text
    int32_t id = -1;            // the added token's id, or -1 for ordinary text
  };

  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(const std::vector<AddedToken>& tokens);

  bool empty() const { return tokens_.empty(); }
  // Splits `text` into ordinary text and added tokens, in order; empty text segments are
  // omitted. `out` is cleared first.
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t token = -1;                                 // index into tokens_ if one ends here
  };
  int32_t child(int32_t node, uint8_t byte) const;
  // Longest token starting at `pos`: its index in tokens_ and end offset, or -1.
  std::pair<int32_t, size_t> longest_at(std::string_view text, size_t pos) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  std::array<bool, 256> first_byte_{};
  int single_first_byte_ = -1;  // the one byte every token starts with, if there is one
};

// Unicode White_Space, the set Rust's char::is_whitespace uses (lstrip/rstrip).
bool is_unicode_whitespace(uint32_t code_point);

}  // namespace mx
