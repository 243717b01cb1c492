// Values: Python's float repr, str()/repr() of containers, json.dumps as transformers' tojson
// calls it, equality and hashing across int/float/bool; and the lexer's whitespace control.
#include <gtest/gtest.h>

#include <cmath>

#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/value.h"

namespace mx::jinja {
namespace {

TEST(JinjaValue, FloatReprMatchesPython) {
  EXPECT_EQ(format_float(2.0), "2.0");
  EXPECT_EQ(format_float(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(format_float(1e16), "1e+16");
  EXPECT_EQ(format_float(1e15), "1000000000000000.0");
  EXPECT_EQ(format_float(1e-5), "1e-05");
  EXPECT_EQ(format_float(0.0001), "0.0001");
  EXPECT_EQ(format_float(-0.0), "-0.0");
  EXPECT_EQ(format_float(1.5e300), "1.5e+300");
  EXPECT_EQ(format_float(123456789.125), "123456789.125");
  EXPECT_EQ(format_float(INFINITY), "inf");
  EXPECT_EQ(format_float(NAN), "nan");
}

TEST(JinjaValue, StrAndRepr) {
  Dict dict;
  dict.set(Value("a"), Value(None{}));
  dict.set(Value("b"), Value::list({Value(true), Value(1.0), Value("it's")}));
  EXPECT_EQ(to_str(Value::dict(dict)), R"({'a': None, 'b': [True, 1.0, "it's"]})");
  EXPECT_EQ(to_str(Value::list({Value(1)}, true)), "(1,)");
  EXPECT_EQ(to_repr(Value("tab\there\x01é")), R"('tab\there\x01é')");
  EXPECT_EQ(to_str(Value()), "");
  EXPECT_EQ(to_str(Value(false)), "False");
}

TEST(JinjaValue, JsonLikePythonJsonDumps) {
  Dict dict;
  dict.set(Value("name"), Value("é\"\n"));
  dict.set(Value("n"), Value::list({Value(1), Value(2.5), Value(None{}), Value(false)}));
  dict.set(Value("e"), Value::dict(Dict()));
  JsonOptions options;
  EXPECT_EQ(to_json(Value::dict(dict), options), R"({"name": "é\"\n", "n": [1, 2.5, null, false], "e": {}})");
  options.indent = 2;
  EXPECT_EQ(to_json(Value::list({Value(1), Value::list({})}), options), "[\n  1,\n  []\n]");
  JsonOptions ascii;
  ascii.ensure_ascii = true;
  EXPECT_EQ(to_json(Value("é😀"), ascii), R"("\u00e9\ud83d\ude00")");
  Dict keys;
  keys.set(Value(1), Value("int key"));
  EXPECT_EQ(to_json(Value::dict(keys), JsonOptions()), R"({"1": "int key"})");
  EXPECT_THROW(to_json(Value(), JsonOptions()), TemplateError);
}

TEST(JinjaValue, PythonEqualityAndHashing) {
  EXPECT_TRUE(values_equal(Value(1), Value(1.0)));
  EXPECT_TRUE(values_equal(Value(1), Value(true)));
  EXPECT_FALSE(values_equal(Value::list({Value(1)}), Value::list({Value(1)}, true)));
  Dict dict;
  dict.set(Value(1), Value("a"));
  dict.set(Value(true), Value("b"));  // same key as 1 in Python
  dict.set(Value(1.0), Value("c"));
  ASSERT_EQ(dict.size(), 1u);
  EXPECT_EQ(to_str(Value::dict(dict)), "{1: 'c'}");
  EXPECT_THROW(hash_key(Value::list({})), TemplateError);
  EXPECT_LT(compare_values(Value("a"), Value("b")), 0);
  EXPECT_THROW(compare_values(Value(1), Value("a")), TemplateError);
}

std::string texts(const std::string& source) {
  std::string out;
  for (const Token& token : tokenize(source)) {
    if (token.type == TokenType::kText) out += "[" + token.value + "]";
  }
  return out;
}

TEST(JinjaLexer, WhitespaceControl) {
  EXPECT_EQ(texts("a  {{- x -}}  b"), "[a][b]");
  EXPECT_EQ(texts("{% if x %}\nline\n{% endif %}\n"), "[line\n]");  // trim_blocks; final \n dropped
  EXPECT_EQ(texts("  {% if x %}y{% endif %}"), "[y]");              // lstrip_blocks at line start
  EXPECT_EQ(texts("a  {% if x %}y{% endif %}"), "[a  ][y]");        // not at line start
  EXPECT_EQ(texts("  {{ x }}"), "[  ]");                            // lstrip is for blocks only
  EXPECT_EQ(texts("  {%+ if x %}y{% endif %}"), "[  ][y]");
  EXPECT_EQ(texts("{% if x +%}\ny{% endif %}"), "[\ny]");
  EXPECT_EQ(texts("a\r\nb\rc"), "[a\nb\nc]");
  EXPECT_EQ(texts("{% raw %}{{ x }}{% endraw %}"), "[{{ x }}]");
  EXPECT_EQ(texts("x {# c #}\ny"), "[x ][y]");
}

TEST(JinjaLexer, TokensAndPositions) {
  std::vector<Token> tokens = tokenize("ab\n {{ x.y(1_0, 'q\\n', 2.5e1) // 3 }}");
  ASSERT_GE(tokens.size(), 5u);
  EXPECT_EQ(tokens[1].type, TokenType::kVarBegin);
  EXPECT_EQ(tokens[1].pos.line, 2);
  EXPECT_EQ(tokens[1].pos.column, 2);
  std::string summary;
  for (const Token& token : tokens) summary += token.value + "|";
  EXPECT_EQ(summary, "ab\n ||x|.|y|(|10|,|q\n|,|2.5e1|)|//|3|||");
  EXPECT_THROW(tokenize("{{ 'open"), TemplateError);
  EXPECT_THROW(tokenize("{{ x ) }}"), TemplateError);
  EXPECT_THROW(tokenize("{{ x ! }}"), TemplateError);
}

TEST(JinjaLexer, StringLiteralEscapes) {
  EXPECT_EQ(decode_string_literal(R"(a\tb\\c\'d\"e\x41\u00e9\101\q)"), "a\tb\\c'd\"eAéA\\q");
  EXPECT_THROW(decode_string_literal(R"(\x4)"), TemplateError);
}

}  // namespace
}  // namespace mx::jinja
