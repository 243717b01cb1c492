#include "tokenizer/normalize.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "tokenizer/utf8.h"

namespace mx {
namespace {

using Kind = NormalizerStep::Kind;

// Whether a code point is left alone by NFC/NFD/NFKC/NFKD in any context: no decomposition,
// combining class 0, and not part of any composition pair. Hangul is algorithmic in utf8proc
// and not in its tables, so it is excluded by range.
bool is_normalization_inert(uint32_t cp, bool compat) {
  if (cp < 0x80) return true;
  if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xAC00 && cp <= 0xD7A3)) return false;
  const utf8proc_property_t* property = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  if (property->combining_class != 0) return false;
  if (property->comb_index != UINT16_MAX) return false;
  if (property->decomp_seqindex != UINT16_MAX && (compat || property->decomp_type == 0)) {
    return false;
  }
  return true;
}

// A per-BMP-code-point cache of is_normalization_inert (canonical and compatibility).
struct InertTable {
  std::vector<uint8_t> bits;  // bit 0: canonical forms, bit 1: compatibility forms
  InertTable() : bits(0x10000) {
    for (uint32_t cp = 0; cp < 0x10000; ++cp) {
      bits[cp] = (is_normalization_inert(cp, false) ? 1 : 0) |
                 (is_normalization_inert(cp, true) ? 2 : 0);
    }
  }
};

bool text_is_inert(std::string_view text, bool compat) {
  static const InertTable table;
  const uint8_t mask = compat ? 2 : 1;
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    uint32_t cp = decode_utf8(text, pos);
    bool inert = cp < 0x10000 ? (table.bits[cp] & mask) != 0 : is_normalization_inert(cp, compat);
    if (!inert) return false;
  }
  return true;
}

std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    uint32_t cp = decode_utf8(text, pos);
    append_utf8(out, static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
  }
  return out;
}

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view with) {
  if (pattern.empty()) return std::string(text);
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t found = text.find(pattern, pos);
    if (found == std::string_view::npos) break;
    out.append(text.substr(pos, found - pos));
    out.append(with);
    pos = found + pattern.size();
  }
  out.append(text.substr(pos));
  return out;
}

std::string replace_regex(std::string_view text, const Regex& regex, std::string_view with) {
  std::vector<std::pair<size_t, size_t>> matches;
  regex.find_all(text, matches);
  std::string out;
  size_t pos = 0;
  for (auto [begin, end] : matches) {
    out.append(text.substr(pos, begin - pos));
    out.append(with);
    pos = end;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace

std::string unicode_normalize(std::string_view text, Kind form) {
  bool compat = form == Kind::kNfkc || form == Kind::kNfkd;
  if (text_is_inert(text, compat)) return std::string(text);
  int options = UTF8PROC_STABLE;
  if (form == Kind::kNfc || form == Kind::kNfkc) options |= UTF8PROC_COMPOSE;
  if (form == Kind::kNfd || form == Kind::kNfkd) options |= UTF8PROC_DECOMPOSE;
  if (compat) options |= UTF8PROC_COMPAT;
  utf8proc_uint8_t* mapped = nullptr;
  utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                   static_cast<utf8proc_option_t>(options));
  if (length < 0) return std::string(text);  // only on invalid UTF-8, which callers exclude
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<size_t>(length));
  std::free(mapped);
  return out;
}

Result<Normalizer> Normalizer::create(const std::vector<NormalizerStep>& steps) {
  Normalizer normalizer;
  for (const NormalizerStep& spec : steps) {
    Step step{spec, {}};
    if (spec.kind == Kind::kReplace && spec.pattern_is_regex) {
      MX_ASSIGN_OR_RETURN(Regex regex, Regex::compile(spec.pattern));
      step.regex.push_back(std::move(regex));
    }
    normalizer.steps_.push_back(std::move(step));
  }
  return normalizer;
}

std::string Normalizer::normalize(std::string_view text) const {
  std::string current(text);
  for (const Step& step : steps_) {
    switch (step.spec.kind) {
      case Kind::kNfc:
      case Kind::kNfd:
      case Kind::kNfkc:
      case Kind::kNfkd:
        current = unicode_normalize(current, step.spec.kind);
        break;
      case Kind::kLowercase:
        current = lowercase(current);
        break;
      case Kind::kPrepend:
        // Hugging Face prepends only to non-empty text.
        if (!current.empty()) current = step.spec.content + current;
        break;
      case Kind::kReplace:
        current = step.regex.empty()
                      ? replace_all(current, step.spec.pattern, step.spec.content)
                      : replace_regex(current, step.regex[0], step.spec.content);
        break;
    }
  }
  return current;
}

}  // namespace mx
