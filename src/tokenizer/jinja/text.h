// Python str semantics over UTF-8 bytes: strings are sequences of code points for len(), slicing
// and indexing; whitespace and case follow Python's Unicode rules (approximated with utf8proc's
// simple case mappings, which differ from Python only for a few special casings such as 'ß').
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mx::jinja {

std::u32string to_code_points(std::string_view text);
std::string from_code_points(std::u32string_view code_points);
void append_code_point(std::string& out, char32_t code_point);
size_t code_point_count(std::string_view text);

// str.isspace() for one code point.
bool py_isspace(char32_t c);
// str.isprintable() for one code point (what repr() leaves unescaped).
bool py_isprintable(char32_t c);
bool py_isupper(char32_t c);
bool py_islower(char32_t c);
bool py_isalpha(char32_t c);
bool py_isdigit(char32_t c);
bool py_isalnum_word(char32_t c);  // regex \w

char32_t py_upper(char32_t c);
char32_t py_lower(char32_t c);

// str.strip / lstrip / rstrip; chars == nullptr strips whitespace.
std::string py_strip(std::string_view text, const std::string* chars, bool left, bool right);
std::string py_upper(std::string_view text);
std::string py_lower(std::string_view text);
std::string py_title(std::string_view text);       // str.title()
std::string py_capitalize(std::string_view text);  // str.capitalize()
std::string py_swapcase(std::string_view text);
// str.split(sep, maxsplit) / rsplit; sep == nullptr splits on whitespace runs.
std::vector<std::string> py_split(std::string_view text, const std::string* sep, long maxsplit,
                                  bool from_right);
// str.splitlines(keepends=False) with Python's line boundaries.
std::vector<std::string> py_splitlines(std::string_view text, bool keepends);
// str.replace(old, new, count) with count < 0 meaning all; Python's rule for old == "" (insert
// between every code point) included.
std::string py_replace(std::string_view text, std::string_view old_text, std::string_view new_text,
                       long count);
// str.find / rfind / count on code point positions; returns -1 when absent.
long py_find(std::string_view text, std::string_view needle, bool from_right);
long py_count(std::string_view text, std::string_view needle);

// markupsafe.escape: & < > " ' as HTML entities.
std::string html_escape(std::string_view text);

// The template source as jinja2 sees it: \r\n and \r become \n, and one trailing newline is
// dropped (keep_trailing_newline=False).
std::string normalize_template_newlines(std::string_view source);

}  // namespace mx::jinja
