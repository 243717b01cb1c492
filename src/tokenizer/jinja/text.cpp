// Python str operations on UTF-8 (see text.h).
#include "tokenizer/jinja/text.h"

#include <utf8proc.h>

#include "tokenizer/jinja/error.h"
#include "tokenizer/utf8.h"

namespace mx::jinja {

std::u32string to_code_points(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) out.push_back(decode_utf8(text, pos));
  return out;
}

void append_code_point(std::string& out, char32_t code_point) { append_utf8(out, code_point); }

std::string from_code_points(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t c : code_points) append_utf8(out, c);
  return out;
}

size_t code_point_count(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

bool py_isspace(char32_t c) {
  if (c <= 0x20) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool py_isprintable(char32_t c) {
  if (c == ' ') return true;
  if (c < 0x20 || c == 0x7F) return false;
  if (c < 0x7F) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

namespace {
utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}
bool is_cased(char32_t c) {
  auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}
}  // namespace

bool py_isupper(char32_t c) { return category(c) == UTF8PROC_CATEGORY_LU; }
bool py_islower(char32_t c) { return category(c) == UTF8PROC_CATEGORY_LL; }
bool py_isalpha(char32_t c) {
  auto cat = category(c);
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}
bool py_isdigit(char32_t c) { return category(c) == UTF8PROC_CATEGORY_ND; }
bool py_isalnum_word(char32_t c) {
  auto cat = category(c);
  return c == '_' || (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
         (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) ||
         (cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME);
}

char32_t py_upper(char32_t c) {
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t py_lower(char32_t c) {
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}

std::string py_strip(std::string_view text, const std::string* chars, bool left, bool right) {
  std::u32string cps = to_code_points(text);
  std::u32string set = chars ? to_code_points(*chars) : std::u32string();
  auto strip_it = [&](char32_t c) {
    return chars ? set.find(c) != std::u32string::npos : py_isspace(c);
  };
  size_t begin = 0, end = cps.size();
  if (left) {
    while (begin < end && strip_it(cps[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strip_it(cps[end - 1])) --end;
  }
  return from_code_points(std::u32string_view(cps).substr(begin, end - begin));
}

std::string py_upper(std::string_view text) {
  std::u32string cps = to_code_points(text);
  for (char32_t& c : cps) c = py_upper(c);
  return from_code_points(cps);
}

std::string py_lower(std::string_view text) {
  std::u32string cps = to_code_points(text);
  for (char32_t& c : cps) c = py_lower(c);
  return from_code_points(cps);
}

std::string py_swapcase(std::string_view text) {
  std::u32string cps = to_code_points(text);
  for (char32_t& c : cps) c = py_isupper(c) ? py_lower(c) : (py_islower(c) ? py_upper(c) : c);
  return from_code_points(cps);
}

std::string py_title(std::string_view text) {
  std::u32string cps = to_code_points(text);
  bool previous_cased = false;
  for (char32_t& c : cps) {
    bool cased = is_cased(c);
    if (previous_cased) {
      c = py_lower(c);
    } else {
      c = static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
    }
    previous_cased = cased;
  }
  return from_code_points(cps);
}

std::string py_capitalize(std::string_view text) {
  std::u32string cps = to_code_points(text);
  for (size_t i = 0; i < cps.size(); ++i) {
    cps[i] = i == 0 ? static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cps[i])))
                    : py_lower(cps[i]);
  }
  return from_code_points(cps);
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

// Length of the Python line boundary at text[pos], 0 if none: \n \r \r\n \v \f \x1c-\x1e
// \x85 \u2028 \u2029.
size_t line_break_length(std::string_view text, size_t pos) {
  unsigned char c = static_cast<unsigned char>(text[pos]);
  if (c == '\r') return pos + 1 < text.size() && text[pos + 1] == '\n' ? 2 : 1;
  if (c == '\n' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E)) return 1;
  if (c == 0xC2 && pos + 1 < text.size() && static_cast<unsigned char>(text[pos + 1]) == 0x85) {
    return 2;
  }
  if (c == 0xE2 && pos + 2 < text.size() && static_cast<unsigned char>(text[pos + 1]) == 0x80) {
    unsigned char d = static_cast<unsigned char>(text[pos + 2]);
    if (d == 0xA8 || d == 0xA9) return 3;
  }
  return 0;
}

}  // namespace

std::vector<std::string> py_splitlines(std::string_view text, bool keepends) {
  std::vector<std::string> lines;
  size_t start = 0, pos = 0;
  while (pos < text.size()) {
    size_t n = line_break_length(text, pos);
    if (n == 0) {
      ++pos;
      continue;
    }
    lines.emplace_back(text.substr(start, (keepends ? pos + n : pos) - start));
    pos += n;
    start = pos;
  }
  if (start < text.size()) lines.emplace_back(text.substr(start));
  return lines;
}

std::string normalize_template_newlines(std::string_view source) {
  // jinja2 splits on \r\n, \r and \n only (not on the other str.splitlines() boundaries),
  // joins with \n and drops one trailing empty line.
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace mx::jinja
