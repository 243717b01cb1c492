// Jinja lexer (see lexer.h). The rules mirror jinja2's regular expressions: for each piece of
// text the earliest "{{", "{%" or "{#" ends it; tags are scanned token by token and end at the
// first "}}" / "%}" that is not inside brackets.
#include "tokenizer/jinja/lexer.h"

#include <algorithm>

#include "tokenizer/jinja/text.h"
#include "tokenizer/utf8.h"

namespace mx::jinja {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Removes trailing Python whitespace (str.rstrip()).
std::string_view rstrip_whitespace(std::string_view text) {
  std::u32string cps = to_code_points(text);
  size_t keep = text.size();
  for (size_t i = cps.size(); i > 0 && py_isspace(cps[i - 1]); --i) {
    std::string encoded;
    append_code_point(encoded, cps[i - 1]);
    keep -= encoded.size();
  }
  return text.substr(0, keep);
}

// Length of the Python whitespace run (regex \s*) starting at pos.
size_t whitespace_run(std::string_view text, size_t pos) {
  size_t start = pos;
  while (pos < text.size()) {
    size_t next = pos;
    char32_t c = decode_utf8(text, next);
    if (!py_isspace(c)) break;
    pos = next;
  }
  return pos - start;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      size_t tag = find_tag(pos_);
      if (tag == std::string::npos) {
        emit_text(src_.substr(pos_), pos_);
        break;
      }
      lex_tag(tag);
    }
    tokens_.push_back(Token{TokenType::kEnd, "", position(src_.size())});
    return std::move(tokens_);
  }

 private:
  SourcePos position(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    return SourcePos{static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
  }

  [[noreturn]] void syntax_error(size_t offset, const std::string& message) const {
    throw TemplateError(TemplateErrorKind::kSyntax, message, position(offset));
  }

  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string::npos;
  }

  void emit_text(std::string_view text, size_t offset) {
    if (!text.empty()) tokens_.push_back(Token{TokenType::kText, std::string(text), position(offset)});
  }

  // Whitespace control on the text before a tag: '-' strips all trailing whitespace;
  // lstrip_blocks strips spaces/tabs between the line start and a block/comment tag.
  std::string_view control_text(std::string_view text, char sign, bool lstrip_applies) const {
    if (sign == '-') return rstrip_whitespace(text);
    if (sign == '+' || !lstrip_applies) return text;
    size_t line_pos = text.rfind('\n');
    line_pos = line_pos == std::string_view::npos ? 0 : line_pos + 1;
    if (line_pos > 0 || line_starting_) {
      std::string_view tail = text.substr(line_pos);
      if (!tail.empty() && whitespace_run(tail, 0) == tail.size()) return text.substr(0, line_pos);
    }
    return text;
  }

  void lex_tag(size_t tag) {
    char kind = src_[tag + 1];
    size_t after = tag + 2;
    char sign = 0;
    if (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];
    std::string_view text = std::string_view(src_).substr(pos_, tag - pos_);
    size_t raw_end = kind == '%' ? match_raw_begin(after) : 0;
    emit_text(control_text(text, sign, kind != '{'), pos_);
    if (raw_end != 0) {
      lex_raw(raw_end);
    } else if (kind == '#') {
      lex_comment(tag, after);
    } else {
      lex_tag_body(tag, after, kind == '%');
    }
  }

  // "{% raw %}": returns the offset after the tag, or 0 if this is not a raw tag.
  size_t match_raw_begin(size_t p) const {
    p += whitespace_run(src_, p);
    if (src_.compare(p, 3, "raw") != 0) return 0;
    p += 3;
    p += whitespace_run(src_, p);
    if (src_.compare(p, 3, "-%}") == 0) return p + 3 + whitespace_run(src_, p + 3);
    if (src_.compare(p, 2, "%}") == 0) return p + 2;
    return 0;
  }

  void lex_raw(size_t body) {
    line_starting_ = body > 0 && src_[body - 1] == '\n';
    for (size_t tag = src_.find("{%", body); tag != std::string::npos; tag = src_.find("{%", tag + 1)) {
      size_t p = tag + 2;
      char sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      p += whitespace_run(src_, p);
      if (src_.compare(p, 6, "endraw") != 0) continue;
      p += 6;
      p += whitespace_run(src_, p);
      size_t end = 0;
      if (src_.compare(p, 3, "+%}") == 0) {
        end = p + 3;
      } else if (src_.compare(p, 3, "-%}") == 0) {
        end = p + 3 + whitespace_run(src_, p + 3);
      } else if (src_.compare(p, 2, "%}") == 0) {
        end = p + 2 + (p + 2 < src_.size() && src_[p + 2] == '\n');
      } else {
        continue;
      }
      emit_text(control_text(std::string_view(src_).substr(body, tag - body), sign, true), body);
      pos_ = end;
      line_starting_ = src_[end - 1] == '\n';
      return;
    }
    syntax_error(body, "missing end of raw directive ({% endraw %})");
  }

  void lex_comment(size_t tag, size_t body) {
    size_t close = src_.find("#}", body);
    if (close == std::string::npos) syntax_error(tag, "missing end of comment tag '#}'");
    size_t end = close + 2;
    if (close > body && src_[close - 1] == '-') {
      end += whitespace_run(src_, end);
    } else if (!(close > body && src_[close - 1] == '+')) {
      if (end < src_.size() && src_[end] == '\n') ++end;  // trim_blocks
    }
    pos_ = end;
    line_starting_ = src_[end - 1] == '\n';
  }

  void lex_tag_body(size_t tag, size_t p, bool is_block);
  bool match_tag_end(size_t& p, bool is_block);
  void lex_number(size_t& p);
  void lex_string(size_t& p);

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<char> brackets_;
};

bool Lexer::match_tag_end(size_t& p, bool is_block) {
  if (!brackets_.empty()) return false;  // "}}" inside {'a': {'b': 1}} is two braces
  if (is_block) {
    if (src_.compare(p, 3, "+%}") == 0) {
      p += 3;
    } else if (src_.compare(p, 3, "-%}") == 0) {
      p += 3 + whitespace_run(src_, p + 3);
    } else if (src_.compare(p, 2, "%}") == 0) {
      p += 2;
      if (p < src_.size() && src_[p] == '\n') ++p;  // trim_blocks
    } else {
      return false;
    }
  } else {
    if (src_.compare(p, 3, "-}}") == 0) {
      p += 3 + whitespace_run(src_, p + 3);
    } else if (src_.compare(p, 2, "}}") == 0) {
      p += 2;
    } else {
      return false;
    }
  }
  return true;
}

void Lexer::lex_tag_body(size_t tag, size_t p, bool is_block) {
  tokens_.push_back(Token{is_block ? TokenType::kBlockBegin : TokenType::kVarBegin, "", position(tag)});
  brackets_.clear();
  static constexpr std::string_view kOperators[] = {
      "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]",
      "(",  ")",  "{",  "}",  ">",  "<",  "=", ".", ":", "|", ",", ";"};
  while (true) {
    p += whitespace_run(src_, p);  // Python's \s: includes \x1c-\x1f and Unicode spaces
    if (p >= src_.size()) {
      syntax_error(tag, is_block ? "unexpected end of template: missing '%}' for this tag"
                                 : "unexpected end of template: missing '}}' for this tag");
    }
    size_t start = p;
    if (match_tag_end(p, is_block)) {
      tokens_.push_back(Token{is_block ? TokenType::kBlockEnd : TokenType::kVarEnd, "", position(start)});
      pos_ = p;
      line_starting_ = src_[p - 1] == '\n';
      return;
    }
    char c = src_[p];
    if (is_digit(c)) {
      lex_number(p);
    } else if (is_name_start(c)) {
      while (p < src_.size() && is_name_char(src_[p])) ++p;
      tokens_.push_back(Token{TokenType::kName, src_.substr(start, p - start), position(start)});
    } else if (c == '\'' || c == '"') {
      lex_string(p);
    } else {
      std::string_view op;
      for (std::string_view candidate : kOperators) {
        if (src_.compare(p, candidate.size(), candidate) == 0) {
          op = candidate;
          break;
        }
      }
      if (op.empty()) syntax_error(start, fmt::format("unexpected character '{}' in tag", c));
      if (op == "(" || op == "[" || op == "{") brackets_.push_back(op[0]);
      if (op == ")" || op == "]" || op == "}") {
        char open = op == ")" ? '(' : (op == "]" ? '[' : '{');
        if (brackets_.empty() || brackets_.back() != open) {
          syntax_error(start, fmt::format("unexpected '{}'", op));
        }
        brackets_.pop_back();
      }
      p += op.size();
      tokens_.push_back(Token{TokenType::kOperator, std::string(op), position(start)});
    }
  }
}

void Lexer::lex_number(size_t& p) {
  size_t start = p;
  auto digits = [&](size_t q) {  // (\d+_)*\d+ ; returns end or npos
    if (q >= src_.size() || !is_digit(src_[q])) return std::string::npos;
    while (q < src_.size() && (is_digit(src_[q]) || (src_[q] == '_' && q + 1 < src_.size() && is_digit(src_[q + 1])))) ++q;
    return q;
  };
  bool after_dot = start > 0 && src_[start - 1] == '.';  // jinja2: (?<!\.) before floats
  size_t int_end = digits(start);
  size_t float_end = std::string::npos;
  if (!after_dot) {
    size_t q = int_end;
    if (q < src_.size() && src_[q] == '.' && digits(q + 1) != std::string::npos) {
      q = digits(q + 1);
      float_end = q;
    }
    if (q < src_.size() && src_[q] == 'e') {
      size_t e = q + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (digits(e) != std::string::npos) float_end = digits(e);
    }
  }
  std::string text;
  if (float_end != std::string::npos) {
    for (size_t i = start; i < float_end; ++i) if (src_[i] != '_') text += src_[i];
    tokens_.push_back(Token{TokenType::kFloat, text, position(start)});
    p = float_end;
    return;
  }
  // Integers: 0b/0o/0x prefixes, decimal without leading zeros ("0", "0_0" allowed).
  size_t q = start;
  if (src_[q] == '0' && q + 1 < src_.size() && (src_[q + 1] == 'b' || src_[q + 1] == 'o' || src_[q + 1] == 'x')) {
    char base = src_[q + 1];
    auto ok = [&](char c) {
      if (base == 'b') return c == '0' || c == '1';
      if (base == 'o') return c >= '0' && c <= '7';
      return is_digit(c) || (c >= 'a' && c <= 'f');
    };
    size_t r = q + 2;
    while (r < src_.size() && (ok(src_[r]) || (src_[r] == '_' && r + 1 < src_.size() && ok(src_[r + 1])))) ++r;
    if (r > q + 2) {
      for (size_t i = start; i < r; ++i) if (src_[i] != '_') text += src_[i];
      tokens_.push_back(Token{TokenType::kInteger, text, position(start)});
      p = r;
      return;
    }
  }
  if (src_[q] == '0') {
    ++q;
    while (q < src_.size()) {  // 0(_?0)*
      if (src_[q] == '0') {
        ++q;
      } else if (src_[q] == '_' && q + 1 < src_.size() && src_[q + 1] == '0') {
        q += 2;
      } else {
        break;
      }
    }
    text = "0";
  } else {
    q = int_end;
    for (size_t i = start; i < q; ++i) if (src_[i] != '_') text += src_[i];
  }
  tokens_.push_back(Token{TokenType::kInteger, text, position(start)});
  p = q;
}

void Lexer::lex_string(size_t& p) {
  size_t start = p;
  char quote = src_[p++];
  while (p < src_.size() && src_[p] != quote) p += src_[p] == '\\' ? 2 : 1;
  if (p >= src_.size()) syntax_error(start, "unterminated string literal");
  std::string_view body = std::string_view(src_).substr(start + 1, p - start - 1);
  ++p;
  try {
    tokens_.push_back(Token{TokenType::kString, decode_string_literal(body), position(start)});
  } catch (TemplateError& error) {
    syntax_error(start, error.message());
  }
}

}  // namespace

std::string decode_string_literal(std::string_view body) {
  std::string out;
  auto hex_value = [&](size_t at, size_t count) -> char32_t {
    if (at + count > body.size()) fail("truncated \\x/\\u escape in string literal");
    char32_t v = 0;
    for (size_t i = at; i < at + count; ++i) {
      char c = body[i];
      int d = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) fail("truncated \\x/\\u escape in string literal");
      v = v * 16 + static_cast<char32_t>(d);
    }
    if (v > 0x10FFFF) fail("illegal Unicode character in string literal");
    return v;
  };
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out += c;
      continue;
    }
    char e = body[++i];
    switch (e) {
      case '\n': break;  // line continuation
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': append_code_point(out, hex_value(i + 1, 2)); i += 2; break;
      case 'u': append_code_point(out, hex_value(i + 1, 4)); i += 4; break;
      case 'U': append_code_point(out, hex_value(i + 1, 8)); i += 8; break;
      case 'N': fail_unsupported("\\N{{...}} escapes in string literals are not supported");
      default:
        if (e >= '0' && e <= '7') {
          char32_t v = 0;
          size_t n = 0;
          while (n < 3 && i < body.size() && body[i] >= '0' && body[i] <= '7') {
            v = v * 8 + static_cast<char32_t>(body[i++] - '0');
            ++n;
          }
          --i;
          append_code_point(out, v);
        } else if (static_cast<unsigned char>(e) >= 0x80) {
          // jinja2 encodes the literal with backslashreplace before unicode-escape decoding, so
          // a backslash before a non-ASCII character yields "\\xe9"-style text.
          size_t at = i;
          char32_t cp = decode_utf8(body, at);
          out += cp < 0x100 ? fmt::format("\\x{:02x}", static_cast<unsigned>(cp))
                 : cp < 0x10000 ? fmt::format("\\u{:04x}", static_cast<unsigned>(cp))
                                : fmt::format("\\U{:08x}", static_cast<unsigned>(cp));
          i = at - 1;
        } else {
          out += '\\';  // unknown escape: Python keeps it
          out += e;
        }
    }
  }
  return out;
}

std::vector<Token> tokenize(std::string_view source) {
  return Lexer(normalize_template_newlines(source)).run();
}

}  // namespace mx::jinja
