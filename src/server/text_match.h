// Small string helpers shared by the incremental output-text processors (StopMatcher,
// ReasoningSplitter, ToolCallParser): what part of a growing text may already be emitted.
#pragma once

#include <algorithm>
#include <string_view>

namespace mx::text_match {

// Length of the longest suffix of `text` that is a proper prefix of `pattern`: the bytes to hold
// back because the next piece may complete `pattern` there. 0 when none.
inline size_t partial_suffix_length(std::string_view text, std::string_view pattern) {
  if (pattern.empty()) return 0;
  for (size_t length = std::min(text.size(), pattern.size() - 1); length > 0; --length) {
    if (text.substr(text.size() - length) == pattern.substr(0, length)) return length;
  }
  return 0;
}

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Index of the first byte of the whitespace run that ends at `end` (== end when none).
inline size_t trailing_space_start(std::string_view text, size_t end) {
  while (end > 0 && is_space(text[end - 1])) --end;
  return end;
}

// Index of the first non-whitespace byte at or after `begin` (text.size() when none).
inline size_t skip_space(std::string_view text, size_t begin = 0) {
  while (begin < text.size() && is_space(text[begin])) ++begin;
  return begin;
}

inline std::string_view trim(std::string_view text) {
  const size_t begin = skip_space(text);
  return text.substr(begin, trailing_space_start(text, text.size()) - begin);
}

}  // namespace mx::text_match
