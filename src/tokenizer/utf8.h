// UTF-8 helpers shared by the tokenizers and the incremental detokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mx {

// Appends the UTF-8 encoding of a code point (U+FFFD for invalid ones).
void append_utf8(std::string& out, uint32_t code_point);

// Length of the UTF-8 sequence starting with `lead` (1..4), or 0 if `lead` cannot start one.
int utf8_sequence_length(uint8_t lead);

// Length of the longest prefix of `text` that is complete, valid UTF-8. Bytes after it are
// either an incomplete sequence at the end (wait for more) or invalid.
size_t utf8_valid_prefix(std::string_view text);

// True when `text` ends inside a multi-byte sequence that more bytes could still complete.
bool utf8_ends_incomplete(std::string_view text);

// Decodes one code point at `pos`, advancing it; invalid bytes give U+FFFD and advance by 1.
uint32_t decode_utf8(std::string_view text, size_t& pos);

// Replaces invalid UTF-8 by U+FFFD, one per maximal invalid subpart (as WHATWG's TextDecoder,
// Python's errors="replace" and Rust's from_utf8_lossy do). Valid input is returned unchanged.
std::string utf8_lossy(std::string_view bytes);

// Length of the valid UTF-8 sequence at `pos`, or 0 when the bytes there are not one (a lone
// continuation byte, an overlong form, a surrogate, or a sequence cut short); `*subpart` gets
// the length of the maximal invalid subpart to replace by one U+FFFD (at least 1).
size_t utf8_valid_sequence_at(std::string_view text, size_t pos, size_t* subpart);

}  // namespace mx
