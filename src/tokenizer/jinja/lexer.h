// Jinja lexer: template source -> tokens, with whitespace control applied.
//
// It reproduces jinja2's lexer as transformers configures it: trim_blocks=True (the first newline
// after a block or comment tag is removed), lstrip_blocks=True (spaces and tabs before a block or
// comment tag at the start of a line are removed), `-` on a tag strips all whitespace on that
// side, `+` on a block tag turns lstrip/trim off, {% raw %} passes text through, and the source
// is first normalised with splitlines() (one trailing newline dropped).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/error.h"

namespace mx::jinja {

enum class TokenType {
  kText,        // literal template text (already whitespace-controlled)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,      // value holds the decoded string
  kInteger,     // value holds the digits (underscores removed, prefix kept)
  kFloat,
  kOperator,    // value holds the operator text: "+", "//", "(", ...
  kEnd,
};

struct Token {
  TokenType type = TokenType::kEnd;
  std::string value;
  SourcePos pos;
};

// Throws TemplateError (kSyntax) on unterminated tags, strings or comments.
std::vector<Token> tokenize(std::string_view source);

// Python's unicode-escape decoding of a string literal body: \n \t \\ \' \" \xNN \uNNNN
// \UNNNNNNNN \ooo \N{...} (unsupported); unknown escapes are kept with their backslash.
std::string decode_string_literal(std::string_view body);

}  // namespace mx::jinja
