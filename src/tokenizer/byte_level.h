// The GPT-2 byte-level alphabet: every byte 0..255 is shown as one printable code point, so a
// byte-level vocabulary stores arbitrary bytes as ordinary text ("Ġ" is the byte 0x20).
//
// mxserve keeps byte-level pieces as their raw bytes internally (the encoder splits and merges
// raw UTF-8 bytes; no per-call mapping), and uses this table only when loading a vocabulary and
// when showing a piece as its vocabulary spelling.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mx {

// The code point that stands for `byte` in the byte-level alphabet.
uint32_t byte_to_code_point(uint8_t byte);

// The byte a code point of the alphabet stands for; nullopt if it is not in the alphabet.
std::optional<uint8_t> code_point_to_byte(uint32_t code_point);

// "Ġhello" -> " hello". nullopt when some character is outside the alphabet (the caller then
// keeps the piece's own UTF-8, as Hugging Face's ByteLevel decoder does).
std::optional<std::string> byte_level_decode(std::string_view piece);

// " hello" -> "Ġhello".
std::string byte_level_encode(std::string_view bytes);

}  // namespace mx
