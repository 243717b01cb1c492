#include "tokenizer/pretokenize.h"

#include <utf8proc.h>

#include <algorithm>

#include "tokenizer/utf8.h"

namespace mx {
namespace {

using Kind = PreTokenizerStep::Kind;
using Span = std::pair<uint32_t, uint32_t>;
using Part = std::pair<Span, bool>;  // range, is_delimiter

// Turns matches inside [begin, end) into parts that cover it: gaps and matches alternate.
void matches_to_parts(const std::vector<std::pair<size_t, size_t>>& matches, uint32_t begin,
                      uint32_t end, bool invert, std::vector<Part>& parts) {
  parts.clear();
  uint32_t pos = begin;
  for (auto [match_begin, match_end] : matches) {
    uint32_t b = begin + static_cast<uint32_t>(match_begin);
    uint32_t e = begin + static_cast<uint32_t>(match_end);
    if (b > pos) parts.push_back({{pos, b}, invert});
    parts.push_back({{b, e}, !invert});
    pos = e;
  }
  if (pos < end) parts.push_back({{pos, end}, invert});
}

// Rebuilds the text from the pieces, letting `edit` rewrite each one; spans follow.
template <typename Edit>
void rewrite_pieces(PreTokens& tokens, Edit edit) {
  std::string rebuilt;
  rebuilt.reserve(tokens.text.size() + tokens.spans.size() * 3);
  std::vector<Span> spans;
  spans.reserve(tokens.spans.size());
  for (size_t i = 0; i < tokens.spans.size(); ++i) {
    uint32_t begin = static_cast<uint32_t>(rebuilt.size());
    edit(i, tokens.piece(i), rebuilt);
    spans.push_back({begin, static_cast<uint32_t>(rebuilt.size())});
  }
  tokens.storage = std::move(rebuilt);
  tokens.text = tokens.storage;
  tokens.spans = std::move(spans);
}

bool is_numeric(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  utf8proc_category_t category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return category == UTF8PROC_CATEGORY_ND || category == UTF8PROC_CATEGORY_NL ||
         category == UTF8PROC_CATEGORY_NO;
}

}  // namespace

void apply_split_behavior(const std::vector<Part>& parts, SplitBehavior behavior,
                          std::vector<Span>& out) {
  // Each behavior decides which parts join; empty results are dropped, as in Hugging Face.
  std::vector<Span> joined;
  bool previous_delimiter = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& [span, delimiter] : parts) joined.push_back(span);
      break;
    case SplitBehavior::kRemoved:
      for (const auto& [span, delimiter] : parts) {
        if (!delimiter) joined.push_back(span);
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const auto& [span, delimiter] : parts) {
        if (delimiter && !previous_delimiter && !joined.empty()) {
          joined.back().second = span.second;
        } else {
          joined.push_back(span);
        }
        previous_delimiter = delimiter;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (size_t i = parts.size(); i-- > 0;) {
        const auto& [span, delimiter] = parts[i];
        if (delimiter && !previous_delimiter && !joined.empty()) {
          joined.back().first = span.first;
        } else {
          joined.push_back(span);
        }
        previous_delimiter = delimiter;
      }
      std::reverse(joined.begin(), joined.end());
      break;
    case SplitBehavior::kContiguous:
      for (size_t i = 0; i < parts.size(); ++i) {
        const auto& [span, delimiter] = parts[i];
        if (i > 0 && delimiter == previous_delimiter) {
          joined.back().second = span.second;
        } else {
          joined.push_back(span);
        }
        previous_delimiter = delimiter;
      }
      break;
  }
  for (const Span& span : joined) {
    if (span.second > span.first) out.push_back(span);
  }
}

Result<PreTokenizer> PreTokenizer::create(const std::vector<PreTokenizerStep>& steps) {
  PreTokenizer pre_tokenizer;
  for (const PreTokenizerStep& spec : steps) {
    if (pre_tokenizer.byte_level_ && spec.kind != Kind::kByteLevel) {
      return make_error(ErrorCode::kUnsupported,
                        "pre_tokenizer: a step after ByteLevel is not supported");
    }
    Step step{spec, {}};
    if (spec.kind == Kind::kSplit) {
      auto regex = spec.pattern_is_regex ? Regex::compile(spec.pattern)
                                         : Regex::literal(spec.pattern);
      if (!regex.ok()) return regex.error().with_context("pre_tokenizer Split");
      step.regex.push_back(std::move(regex).value());
    } else if (spec.kind == Kind::kByteLevel) {
      pre_tokenizer.byte_level_ = true;
      if (spec.use_regex) {
        MX_ASSIGN_OR_RETURN(Regex regex, Regex::compile(kGpt2Regex));
        step.regex.push_back(std::move(regex));
      }
    } else if (spec.kind == Kind::kMetaspace) {
      if (spec.replacement.empty()) {
        return make_error(ErrorCode::kCorruptData, "pre_tokenizer Metaspace: empty replacement");
      }
      if (spec.split) {
        MX_ASSIGN_OR_RETURN(Regex regex, Regex::literal(spec.replacement));
        step.regex.push_back(std::move(regex));
      }
    }
    pre_tokenizer.steps_.push_back(std::move(step));
  }
  return pre_tokenizer;
}

void PreTokenizer::apply_split(const Step& step, PreTokens& tokens) const {
  thread_local std::vector<std::pair<size_t, size_t>> matches;
  thread_local std::vector<Part> parts;
  std::vector<Span> out;
  out.reserve(tokens.spans.size() * 4);
  const bool fast = step.spec.behavior == SplitBehavior::kIsolated && !step.spec.invert;
  for (size_t i = 0; i < tokens.spans.size(); ++i) {
    matches.clear();
    step.regex[0].find_all(tokens.piece(i), matches);
    auto [begin, end] = tokens.spans[i];
    if (fast) {  // the common case: gaps and matches are all pieces
      uint32_t pos = begin;
      for (auto [b, e] : matches) {
        if (begin + b > pos) out.push_back({pos, begin + static_cast<uint32_t>(b)});
        out.push_back({begin + static_cast<uint32_t>(b), begin + static_cast<uint32_t>(e)});
        pos = begin + static_cast<uint32_t>(e);
      }
      if (pos < end) out.push_back({pos, end});
      continue;
    }
    matches_to_parts(matches, begin, end, step.spec.invert, parts);
    apply_split_behavior(parts, step.spec.behavior, out);
  }
  tokens.spans = std::move(out);
}

void PreTokenizer::apply_byte_level(const Step& step, PreTokens& tokens) const {
  if (step.spec.add_prefix_space) {
    bool needed = false;
    for (size_t i = 0; i < tokens.spans.size(); ++i) needed |= tokens.piece(i)[0] != ' ';
    if (needed) {
      rewrite_pieces(tokens, [](size_t, std::string_view piece, std::string& out) {
        if (piece[0] != ' ') out += ' ';
        out.append(piece);
      });
    }
  }
  if (!step.regex.empty()) {
    Step split{PreTokenizerStep{}, step.regex};
    apply_split(split, tokens);
  }
}

void PreTokenizer::apply_metaspace(const Step& step, bool first_section, PreTokens& tokens) const {
  const std::string& replacement = step.spec.replacement;
  rewrite_pieces(tokens, [&](size_t i, std::string_view piece, std::string& out) {
    bool starts_text = first_section && tokens.spans[i].first == 0;
    bool prepend = step.spec.prepend_scheme == PrependScheme::kAlways ||
                   (step.spec.prepend_scheme == PrependScheme::kFirst && starts_text);
    size_t begin = out.size();
    for (char c : piece) {
      if (c == ' ') {
        out += replacement;
      } else {
        out += c;
      }
    }
    if (prepend && std::string_view(out).substr(begin).rfind(replacement, 0) != 0) {
      out.insert(begin, replacement);
    }
  });
  if (step.spec.split) {
    Step split{PreTokenizerStep{}, step.regex};
    split.spec.behavior = SplitBehavior::kMergedWithNext;
    apply_split(split, tokens);
  }
}

void PreTokenizer::apply_digits(const Step& step, PreTokens& tokens) const {
  std::vector<Span> out;
  std::vector<Part> parts;
  for (size_t i = 0; i < tokens.spans.size(); ++i) {
    std::string_view piece = tokens.piece(i);
    uint32_t base = tokens.spans[i].first;
    parts.clear();
    size_t pos = 0;
    while (pos < piece.size()) {
      size_t start = pos;
      bool digit = is_numeric(decode_utf8(piece, pos));
      parts.push_back({{base + static_cast<uint32_t>(start), base + static_cast<uint32_t>(pos)},
                       digit});
    }
    if (step.spec.individual_digits) {
      // Digits stand alone; the characters between them stay together.
      std::vector<Part> grouped;
      for (const Part& part : parts) {
        if (!grouped.empty() && !part.second && !grouped.back().second) {
          grouped.back().first.second = part.first.second;
        } else {
          grouped.push_back(part);
        }
      }
      apply_split_behavior(grouped, SplitBehavior::kIsolated, out);
    } else {
      apply_split_behavior(parts, SplitBehavior::kContiguous, out);
    }
  }
  tokens.spans = std::move(out);
}

void PreTokenizer::split(std::string_view text, bool first_section, PreTokens& out) const {
  out.storage.clear();
  out.text = text;
  out.spans.clear();
  if (!text.empty()) out.spans.push_back({0, static_cast<uint32_t>(text.size())});
  for (const Step& step : steps_) {
    switch (step.spec.kind) {
      case Kind::kSplit:
        apply_split(step, out);
        break;
      case Kind::kByteLevel:
        apply_byte_level(step, out);
        break;
      case Kind::kMetaspace:
        apply_metaspace(step, first_section, out);
        break;
      case Kind::kDigits:
        apply_digits(step, out);
        break;
    }
  }
}

}  // namespace mx
