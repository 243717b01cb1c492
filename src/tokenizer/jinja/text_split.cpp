// Python's str.split / rsplit / replace / find / count on UTF-8 (see text.h). Byte-wise search
// is exact for UTF-8 (no code point is a substring of another); only results that are positions
// are converted to code point indices.
#include <algorithm>

#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/text.h"

namespace mx::jinja {
namespace {

std::vector<std::string> split_whitespace(std::string_view text, long maxsplit) {
  std::u32string cps = to_code_points(text);
  std::vector<std::string> parts;
  size_t i = 0;
  while (true) {
    while (i < cps.size() && py_isspace(cps[i])) ++i;
    if (i == cps.size()) break;
    if (maxsplit >= 0 && static_cast<long>(parts.size()) == maxsplit) {
      // the rest, leading whitespace dropped, trailing kept
      parts.push_back(from_code_points(std::u32string_view(cps).substr(i)));
      break;
    }
    size_t start = i;
    while (i < cps.size() && !py_isspace(cps[i])) ++i;
    parts.push_back(from_code_points(std::u32string_view(cps).substr(start, i - start)));
  }
  return parts;
}

std::vector<std::string> rsplit_whitespace(std::string_view text, long maxsplit) {
  std::u32string cps = to_code_points(text);
  std::vector<std::string> parts;
  size_t i = cps.size();
  while (true) {
    while (i > 0 && py_isspace(cps[i - 1])) --i;
    if (i == 0) break;
    if (maxsplit >= 0 && static_cast<long>(parts.size()) == maxsplit) {
      parts.push_back(from_code_points(std::u32string_view(cps).substr(0, i)));
      break;
    }
    size_t end = i;
    while (i > 0 && !py_isspace(cps[i - 1])) --i;
    parts.push_back(from_code_points(std::u32string_view(cps).substr(i, end - i)));
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

}  // namespace

std::vector<std::string> py_split(std::string_view text, const std::string* sep, long maxsplit,
                                  bool from_right) {
  if (sep == nullptr) {
    return from_right ? rsplit_whitespace(text, maxsplit) : split_whitespace(text, maxsplit);
  }
  if (sep->empty()) fail("empty separator");
  std::vector<std::string> parts;
  if (!from_right) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<long>(parts.size()) < maxsplit) {
      size_t found = text.find(*sep, start);
      if (found == std::string_view::npos) break;
      parts.emplace_back(text.substr(start, found - start));
      start = found + sep->size();
    }
    parts.emplace_back(text.substr(start));
    return parts;
  }
  size_t end = text.size();
  while (maxsplit < 0 || static_cast<long>(parts.size()) < maxsplit) {
    if (end < sep->size()) break;
    size_t found = text.rfind(*sep, end - sep->size());
    if (found == std::string_view::npos) break;
    parts.emplace_back(text.substr(found + sep->size(), end - found - sep->size()));
    end = found;
  }
  parts.emplace_back(text.substr(0, end));
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::string py_replace(std::string_view text, std::string_view old_text, std::string_view new_text,
                       long count) {
  std::string out;
  if (old_text.empty()) {
    // Python inserts `new` before every code point and at the end: 'ab'.replace('', '-') == '-a-b-'
    std::u32string cps = to_code_points(text);
    long done = 0;
    for (char32_t c : cps) {
      if (count < 0 || done < count) {
        out += new_text;
        ++done;
      }
      append_code_point(out, c);
    }
    if (count < 0 || done < count) out += new_text;
    return out;
  }
  size_t start = 0;
  long done = 0;
  while (count < 0 || done < count) {
    size_t found = text.find(old_text, start);
    if (found == std::string_view::npos) break;
    out.append(text.substr(start, found - start));
    out.append(new_text);
    start = found + old_text.size();
    ++done;
  }
  out.append(text.substr(start));
  return out;
}

long py_find(std::string_view text, std::string_view needle, bool from_right) {
  size_t found = from_right ? text.rfind(needle) : text.find(needle);
  if (found == std::string_view::npos) return -1;
  return static_cast<long>(code_point_count(text.substr(0, found)));
}

long py_count(std::string_view text, std::string_view needle) {
  if (needle.empty()) return static_cast<long>(code_point_count(text)) + 1;
  long count = 0;
  size_t start = 0;
  while (true) {
    size_t found = text.find(needle, start);
    if (found == std::string_view::npos) break;
    ++count;
    start = found + needle.size();
  }
  return count;
}

}  // namespace mx::jinja
