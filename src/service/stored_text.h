// Text that people put into the ledger store (key names, tenants, model names) and how it comes
// back out. At the door (the CLI and the admin API) such a label must be UTF-8 without control
// characters; on the way out (JSON, CSV) whatever is stored is rendered safely, so a record
// written by an older version or straight into the database can never make a report fail:
// bytes that are not UTF-8 become U+FFFD.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mx {

constexpr size_t kMaxLabelBytes = 256;

// RFC 3629 UTF-8: no overlong forms, surrogates or code points above U+10FFFF.
bool is_valid_utf8(std::string_view text);
// Why `text` cannot be a label ("is not valid UTF-8 (byte 0xff at offset 3)", "holds a control
// character (0x0a at offset 5)", "is longer than 256 bytes"), or "" when it can.
std::string label_problem(std::string_view text);
// `text` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD.
std::string replace_invalid_utf8(std::string_view text);
// Compact JSON text; invalid UTF-8 in strings becomes U+FFFD instead of throwing.
std::string json_text(const nlohmann::json& value);

}  // namespace mx
