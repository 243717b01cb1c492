// Errors: template positions (line and column), raise_exception messages, unsupported
// constructs named, and the runaway-template limits.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tokenizer/jinja/chat_template.h"

namespace mx {
namespace {

using Json = nlohmann::ordered_json;

Result<std::string> render(const std::string& source, Json variables = Json::object(),
                           ChatTemplateOptions options = {}) {
  Result<ChatTemplate> tmpl = ChatTemplate::create(source, {}, options);
  if (!tmpl.ok()) return tmpl.error();
  return tmpl->render(Json{{"messages", Json::array()}, {"chat_template_kwargs", variables}});
}

std::string error_of(const std::string& source, Json variables = Json::object(),
                     ChatTemplateOptions options = {}) {
  Result<std::string> out = render(source, variables, options);
  EXPECT_FALSE(out.ok()) << "rendered: " << (out.ok() ? *out : "");
  return out.ok() ? "" : out.error().message;
}

TEST(JinjaErrors, SyntaxErrorNamesLineAndColumn) {
  std::string message = error_of("line one\nline two {{ 1 + }}\n");
  EXPECT_NE(message.find("line 2, column 17"), std::string::npos) << message;
  message = error_of("{% for x in y %}\n{{ x }}\n");
  EXPECT_NE(message.find("expected 'endfor'"), std::string::npos) << message;
  message = error_of("a\n\n   {% endif %}");
  EXPECT_NE(message.find("'endif'"), std::string::npos) << message;
  EXPECT_NE(message.find("line 3, column 7"), std::string::npos) << message;
  message = error_of("{{ 'unterminated }}");
  EXPECT_NE(message.find("unterminated string"), std::string::npos) << message;
  message = error_of("{# never closed");
  EXPECT_NE(message.find("comment"), std::string::npos) << message;
}

TEST(JinjaErrors, RuntimeErrorNamesLine) {
  std::string message = error_of("ok\n{% if true %}\n  {{ messages[0].content.upper() }}\n{% endif %}");
  EXPECT_NE(message.find("line 3"), std::string::npos) << message;
  message = error_of("{{ 1 / 0 }}");
  EXPECT_NE(message.find("division by zero"), std::string::npos) << message;
  message = error_of("{{ 'a' + 1 }}");
  EXPECT_NE(message.find("'str' and 'int'"), std::string::npos) << message;
  message = error_of("{{ x.y.z }}", Json{{"x", Json::object()}});
  EXPECT_NE(message.find("'dict object' has no attribute 'y'"), std::string::npos) << message;
}

TEST(JinjaErrors, RaiseExceptionCarriesTemplateMessage) {
  std::string message = error_of("\n{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}");
  EXPECT_NE(message.find("Conversation roles must alternate user/assistant/user/assistant/..."), std::string::npos) << message;
  EXPECT_NE(message.find("rejected the request"), std::string::npos) << message;
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
}

TEST(JinjaErrors, UnsupportedConstructsAreNamed) {
  Result<std::string> out = render("{% include 'other.jinja' %}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(out.error().message.find("'{% include %}'"), std::string::npos) << out.error().message;
  EXPECT_NE(error_of("{% for x in y recursive %}{% endfor %}").find("recursive"), std::string::npos);
  EXPECT_NE(error_of("{{ 'x' | urlize }}").find("unsupported filter 'urlize'"), std::string::npos);
  EXPECT_NE(error_of("{{ f(*args) }}").find("*args"), std::string::npos);
  EXPECT_NE(error_of("{{ cycler(1, 2) }}").find("'cycler'"), std::string::npos);
  EXPECT_NE(error_of("{{ 'x'.encode() }}").find("'encode'"), std::string::npos);
}

TEST(JinjaErrors, UnknownFilterIsParseErrorOutsideConditionals) {
  // jinja2 reports unknown filters when compiling, except inside {% if %} where it defers to
  // render time (templates guard with `is filter`).
  EXPECT_NE(error_of("{{ x | nope }}").find("no filter named 'nope'"), std::string::npos);
  Result<std::string> out = render("{% if false %}{{ x | nope }}{% endif %}ok");
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "ok");
}

TEST(JinjaLimits, OutputSize) {
  ChatTemplateOptions options;
  options.limits.max_output_bytes = 1000;
  std::string message = error_of("{% for i in range(1000) %}0123456789{% endfor %}", Json::object(), options);
  EXPECT_NE(message.find("rendered output exceeds 1000 bytes"), std::string::npos) << message;
}

TEST(JinjaLimits, LoopSteps) {
  ChatTemplateOptions options;
  options.limits.max_steps = 100000;
  std::string message = error_of(
      "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", Json::object(), options);
  EXPECT_NE(message.find("evaluation steps"), std::string::npos) << message;
}

TEST(JinjaLimits, MacroRecursion) {
  std::string message = error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_NE(message.find("nested more than"), std::string::npos) << message;
}

TEST(JinjaLimits, ExponentialMacroFanOut) {
  // Each call makes two more: depth stays small, work explodes; the step budget stops it.
  ChatTemplateOptions options;
  options.limits.max_steps = 200000;
  std::string message = error_of(
      "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
      Json::object(), options);
  EXPECT_NE(message.find("evaluation steps"), std::string::npos) << message;
}

TEST(JinjaLimits, StringGrowth) {
  ChatTemplateOptions options;
  options.limits.max_value_bytes = 1 << 20;
  std::string message = error_of("{{ 'x' * 100000000 }}", Json::object(), options);
  EXPECT_NE(message.find("over the"), std::string::npos) << message;
  message = error_of(
      "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
      Json::object(), options);
  EXPECT_NE(message.find("over the"), std::string::npos) << message;
}

TEST(JinjaLimits, DeepNestingInSource) {
  std::string deep(5000, '(');
  std::string message = error_of("{{ " + deep + "1" + std::string(5000, ')') + " }}");
  EXPECT_NE(message.find("nested more than"), std::string::npos) << message;
  std::string ifs;
  for (int i = 0; i < 1000; ++i) ifs += "{% if true %}";
  message = error_of(ifs);
  EXPECT_NE(message.find("nested more than"), std::string::npos) << message;
}

TEST(JinjaLimits, IntegerOverflowIsAnErrorNotUB) {
  EXPECT_NE(error_of("{{ 9223372036854775807 + 1 }}").find("overflow"), std::string::npos);
  EXPECT_NE(error_of("{{ 2 ** 64 }}").find("overflow"), std::string::npos);
  EXPECT_NE(error_of("{{ 99999999999999999999 }}").find("64 bits"), std::string::npos);
}

TEST(JinjaLimits, ValueNesting) {
  // Building ever deeper lists in a loop is bounded: printing, comparing or freeing them would
  // otherwise recurse off the stack.
  std::string message = error_of(
      "{% set ns = namespace(x=1) %}{% for i in range(2000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}");
  EXPECT_NE(message.find("nested more than"), std::string::npos) << message;
  message = error_of("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns }}");
  EXPECT_NE(message.find("recursion"), std::string::npos) << message;
  Json deep = Json::array();
  for (int i = 0; i < 2000; ++i) deep = Json::array({deep});
  message = error_of("{{ x | length }}", Json{{"x", deep}});
  EXPECT_NE(message.find("nested more than"), std::string::npos) << message;
}

TEST(JinjaLimits, NamespaceCycleDoesNotLeak) {
  // ns.self = ns is a reference cycle; the interpreter breaks it after rendering (ASan's leak
  // checker would report it otherwise).
  Result<std::string> out = render("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns.self.self is defined }}");
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "True");
}

}  // namespace
}  // namespace mx
