// Helpers for the output-text tests: every way to cut a text into pieces that matters for
// matchers holding back partial tags (one cut, two cuts, byte by byte).
#pragma once

#include <string>
#include <vector>

namespace mx::testing {

inline std::vector<std::vector<std::string>> cuts_of(const std::string& text) {
  std::vector<std::vector<std::string>> all = {{text}};
  const size_t n = text.size();
  for (size_t i = 1; i < n; ++i) all.push_back({text.substr(0, i), text.substr(i)});
  for (size_t i = 1; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      all.push_back({text.substr(0, i), text.substr(i, j - i), text.substr(j)});
    }
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  all.push_back(bytes);
  std::vector<std::string> with_empty = {"", text, ""};  // empty pieces change nothing
  all.push_back(with_empty);
  return all;
}

inline std::string describe_cut(const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& piece : pieces) out += "[" + piece + "]";
  return out;
}

}  // namespace mx::testing
