#include "service/stored_text.h"

#include <fmt/format.h>

#include <cstdint>

namespace mx {
namespace {

// The length of the valid UTF-8 sequence at text[pos] (1 to 4), or 0 when none starts there.
size_t sequence_length(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length = 0;
  uint32_t min_second = 0x80, max_second = 0xbf;  // the range RFC 3629 allows the 2nd byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) min_second = 0xa0;  // overlong
    if (lead == 0xed) max_second = 0x9f;  // UTF-16 surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) min_second = 0x90;  // overlong
    if (lead == 0xf4) max_second = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  if (byte(1) < min_second || byte(1) > max_second) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = sequence_length(text, pos);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

std::string label_problem(std::string_view text) {
  if (text.size() > kMaxLabelBytes) {
    return fmt::format("is longer than {} bytes ({})", kMaxLabelBytes, text.size());
  }
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = sequence_length(text, pos);
    const auto byte = static_cast<uint8_t>(text[pos]);
    if (length == 0) {
      return fmt::format("is not valid UTF-8 (byte 0x{:02x} at offset {})", byte, pos);
    }
    // C0 controls and DEL; C1 controls are U+0080..U+009F, "\xc2\x80".."\xc2\x9f".
    const bool c1 = length == 2 && byte == 0xc2 && static_cast<uint8_t>(text[pos + 1]) < 0xa0;
    if (byte < 0x20 || byte == 0x7f || c1) {
      return fmt::format("holds a control character (U+{:04X} at offset {})",
                         c1 ? static_cast<uint8_t>(text[pos + 1]) : byte, pos);
    }
    pos += length;
  }
  return "";
}

std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = sequence_length(text, pos);
    if (length == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
      ++pos;
    } else {
      out.append(text.substr(pos, length));
      pos += length;
    }
  }
  return out;
}

std::string json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mx
