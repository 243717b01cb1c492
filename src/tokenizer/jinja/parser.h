// Recursive-descent parser over the lexer's tokens (internal to the jinja folder).
//
// The expression grammar and operator precedence follow jinja2's parser: `a if c else b` <
// or < and < not < comparisons (in, not in, ==, <, ... chained) < + - < ~ < * / // % < ** <
// unary - + < postfix (.attr [item] (call)) < filters | and tests `is`, which bind to the unary
// operand: `-x|abs` is `(-x)|abs` and `a + b is string` is `a + (b is string)`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace mx::jinja {

// Filters and tests jinja2 knows: unknown names are template errors at parse time (as jinja2
// reports them when compiling), known ones this interpreter lacks fail only when rendered.
bool is_jinja2_filter(std::string_view name);
bool is_jinja2_test(std::string_view name);

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::vector<StmtPtr> parse_document();

  // Expressions (parser_expr.cpp).
  ExprPtr parse_tuple(bool simplified, bool with_condexpr, bool explicit_parentheses,
                      const std::vector<std::string>& extra_end_names = {});
  ExprPtr parse_expression(bool with_condexpr = true);

 private:
  // Statements (parser.cpp).
  std::vector<StmtPtr> parse_body(const std::vector<std::string>& end_names);
  StmtPtr parse_statement();
  StmtPtr parse_for(SourcePos pos);
  StmtPtr parse_if(SourcePos pos);
  StmtPtr parse_set(SourcePos pos);
  StmtPtr parse_macro(SourcePos pos);
  StmtPtr parse_call_block(SourcePos pos);
  StmtPtr parse_filter_block(SourcePos pos);
  StmtPtr parse_with(SourcePos pos);
  Target parse_target(bool with_namespace, const std::vector<std::string>& extra_end_names);
  std::vector<MacroParam> parse_params();
  // After a statement's header: expects %} then the body up to one of end_names; returns the
  // name that ended it (the tag is consumed up to its name).
  std::string parse_block_body(std::vector<StmtPtr>& body, const std::vector<std::string>& end_names);
  void expect_block_end();

  // Expression levels (parser_expr.cpp).
  ExprPtr parse_condexpr();
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_filter_expr(ExprPtr node);
  ExprPtr parse_filter(ExprPtr node, bool start_inline);
  ExprPtr parse_test(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr node);
  ExprPtr parse_list();
  ExprPtr parse_dict();
  void parse_call_args(Expr& call);
  ExprPtr parse_call(ExprPtr callee);
  ExprPtr make_binary(ExprKind kind, Op op, ExprPtr left, ExprPtr right, SourcePos pos);

 public:
  // Token helpers, shared by both halves.
  const Token& current() const { return tokens_[index_]; }
  const Token& peek(size_t ahead = 1) const {
    size_t i = index_ + ahead;
    return tokens_[i < tokens_.size() ? i : tokens_.size() - 1];
  }
  const Token& advance() {
    const Token& token = tokens_[index_];
    if (index_ + 1 < tokens_.size()) ++index_;
    return token;
  }
  bool at_op(std::string_view op) const {
    return current().type == TokenType::kOperator && current().value == op;
  }
  bool at_name(std::string_view name) const {
    return current().type == TokenType::kName && current().value == name;
  }
  bool skip_op(std::string_view op) {
    if (!at_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!at_name(name)) return false;
    advance();
    return true;
  }
  void expect_op(std::string_view op);
  std::string expect_name();
  [[noreturn]] void error(const std::string& message) const;
  [[noreturn]] void error_at(SourcePos pos, const std::string& message) const;
  std::string describe(const Token& token) const;

 private:
  // Recursion guard: a template like "((((((..." must fail cleanly, not overflow the stack.
  struct DepthGuard {
    explicit DepthGuard(Parser& parser);
    ~DepthGuard() { --parser_.depth_; }
    Parser& parser_;
  };

  std::vector<Token> tokens_;
  size_t index_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;         // break/continue are only valid inside a for body
  int conditional_depth_ = 0;
  int loop_mentions_ = 0;      // how many times the name `loop` has been parsed  // inside {% if %}: unknown filters/tests fail at render time
  struct MacroScope {
    bool varargs = false, kwargs = false, caller = false;
  };
  std::vector<MacroScope> macro_scopes_;
};

}  // namespace mx::jinja
