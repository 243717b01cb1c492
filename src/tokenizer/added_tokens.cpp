#include "tokenizer/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstring>

#include "tokenizer/utf8.h"

namespace mx {
namespace {

bool is_word_char(uint32_t cp) {
  if (cp == '_') return true;
  if (cp < 0x80) return std::isalnum(static_cast<int>(cp)) != 0;
  auto category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return (category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO) ||
         (category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO);
}

// The code point that ends right before `pos` (valid UTF-8 assumed).
uint32_t code_point_before(std::string_view text, size_t pos, size_t& start) {
  start = pos - 1;
  while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
  size_t p = start;
  return decode_utf8(text, p);
}

}  // namespace

bool is_unicode_whitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens) : tokens_(tokens) {
  nodes_.emplace_back();
  for (size_t index = 0; index < tokens_.size(); ++index) {
    const std::string& content = tokens_[index].content;
    if (content.empty()) continue;
    first_byte_[static_cast<uint8_t>(content[0])] = true;
    int32_t node = 0;
    for (char c : content) {
      uint8_t byte = static_cast<uint8_t>(c);
      int32_t next = child(node, byte);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        auto& children = nodes_[node].children;
        children.insert(std::lower_bound(children.begin(), children.end(),
                                         std::make_pair(byte, int32_t{0})),
                        {byte, next});
        nodes_.emplace_back();
      }
      node = next;
    }
    nodes_[node].token = static_cast<int32_t>(index);  // a later duplicate wins
  }
  int distinct = 0;
  for (int b = 0; b < 256; ++b) {
    if (first_byte_[b]) {
      ++distinct;
      single_first_byte_ = b;
    }
  }
  if (distinct != 1) single_first_byte_ = -1;
}

int32_t AddedTokenMatcher::child(int32_t node, uint8_t byte) const {
  const auto& children = nodes_[node].children;
  auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{0}));
  return it != children.end() && it->first == byte ? it->second : -1;
}

std::pair<int32_t, size_t> AddedTokenMatcher::longest_at(std::string_view text,
                                                         size_t pos) const {
  std::pair<int32_t, size_t> best{-1, pos};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    if (nodes_[node].token >= 0) best = {nodes_[node].token, i + 1};
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
  out.clear();
  size_t text_start = 0;  // start of the pending ordinary text
  for (size_t pos = 0; pos < text.size();) {
    if (single_first_byte_ >= 0) {
      // Every token starts with the same byte ('<' in all these models): jump to it.
      const void* found = std::memchr(text.data() + pos, single_first_byte_, text.size() - pos);
      if (found == nullptr) break;
      pos = static_cast<const char*>(found) - text.data();
    } else if (!first_byte_[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    auto [index, end] = longest_at(text, pos);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[index];
    size_t begin = pos;
    if (token.single_word) {
      size_t before_start = 0, after = end;
      bool word_before = begin > 0 && is_word_char(code_point_before(text, begin, before_start));
      bool word_after = end < text.size() && is_word_char(decode_utf8(text, after));
      if (word_before || word_after) {
        ++pos;
        continue;
      }
    }
    if (token.lstrip) {
      size_t before_start = 0;
      while (begin > text_start && is_unicode_whitespace(code_point_before(text, begin, before_start))) {
        begin = before_start;
      }
    }
    if (token.rstrip) {
      size_t next = end;
      while (end < text.size() && is_unicode_whitespace(decode_utf8(text, next))) end = next;
    }
    if (begin > text_start) out.push_back({text_start, begin, -1});
    out.push_back({begin, end, token.id});
    pos = text_start = end;
  }
  if (text_start < text.size()) out.push_back({text_start, text.size(), -1});
}

}  // namespace mx
