#include "tokenizer/utf8.h"

namespace mx {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int utf8_sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

uint32_t decode_utf8(std::string_view text, size_t& pos) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  uint8_t lead = byte(pos);
  int len = utf8_sequence_length(lead);
  if (len == 0 || pos + len > text.size()) {
    ++pos;
    return 0xFFFD;
  }
  uint32_t cp = len == 1 ? lead : lead & (0xFF >> (len + 1));
  for (int i = 1; i < len; ++i) {
    uint8_t b = byte(pos + i);
    if ((b & 0xC0) != 0x80) {
      ++pos;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  // Reject overlong forms and surrogates not caught by the lead-byte ranges.
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
    ++pos;
    return 0xFFFD;
  }
  pos += len;
  return cp;
}

size_t utf8_valid_prefix(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = pos;
    uint32_t cp = decode_utf8(text, pos);
    if (cp == 0xFFFD && !(pos - start == 3 && text.substr(start, 3) == "\xEF\xBF\xBD")) {
      return start;
    }
  }
  return pos;
}

bool utf8_ends_incomplete(std::string_view text) {
  // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
  for (size_t back = 1; back <= 3 && back <= text.size(); ++back) {
    uint8_t b = static_cast<uint8_t>(text[text.size() - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    int len = utf8_sequence_length(b);
    return len > static_cast<int>(back);
  }
  return false;
}

size_t utf8_valid_sequence_at(std::string_view text, size_t pos, size_t* subpart) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  uint8_t lead = byte(pos);
  int len = utf8_sequence_length(lead);
  *subpart = 1;
  if (len == 1) return 1;
  if (len == 0) return 0;
  // The second byte's range depends on the lead (excludes overlongs, surrogates, > U+10FFFF).
  uint8_t low = 0x80, high = 0xBF;
  if (lead == 0xE0) low = 0xA0;
  if (lead == 0xED) high = 0x9F;
  if (lead == 0xF0) low = 0x90;
  if (lead == 0xF4) high = 0x8F;
  for (int i = 1; i < len; ++i) {
    if (pos + i >= text.size()) return 0;
    uint8_t b = byte(pos + i);
    if (i == 1 ? (b < low || b > high) : (b & 0xC0) != 0x80) return 0;
    *subpart = i + 1;
  }
  return static_cast<size_t>(len);
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  size_t pos = 0, copied = 0;
  while (pos < bytes.size()) {
    if (static_cast<uint8_t>(bytes[pos]) < 0x80) {
      ++pos;
      continue;
    }
    size_t subpart = 0;
    size_t len = utf8_valid_sequence_at(bytes, pos, &subpart);
    if (len > 0) {
      pos += len;
      continue;
    }
    if (copied == 0 && out.empty()) out.reserve(bytes.size() + 8);
    out.append(bytes.substr(copied, pos - copied));
    out += "\xEF\xBF\xBD";
    pos += subpart;
    copied = pos;
  }
  if (copied == 0) return std::string(bytes);
  out.append(bytes.substr(copied));
  return out;
}

}  // namespace mx
