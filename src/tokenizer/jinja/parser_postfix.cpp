// Postfix expressions: attribute and item access, slices, calls, filters (`|f(args)`) and tests
// (`is [not] t args`).
#include "tokenizer/jinja/parser.h"

namespace mx::jinja {

ExprPtr Parser::parse_postfix(ExprPtr node) {
  while (true) {
    if (at_op(".")) {
      SourcePos pos = advance().pos;
      auto access = std::make_unique<Expr>();
      access->pos = pos;
      access->args.push_back(std::move(node));
      if (current().type == TokenType::kName) {
        access->kind = ExprKind::kGetAttr;
        access->name = advance().value;
      } else if (current().type == TokenType::kInteger) {  // x.0 is x[0]
        access->kind = ExprKind::kGetItem;
        auto index = std::make_unique<Expr>();
        index->pos = current().pos;
        index->literal = Value(static_cast<int64_t>(std::strtoll(advance().value.c_str(), nullptr, 10)));
        access->args.push_back(std::move(index));
      } else {
        error(fmt::format("expected an attribute name after '.', got {}", describe(current())));
      }
      node = std::move(access);
    } else if (at_op("[")) {
      node = parse_subscript(std::move(node));
    } else if (at_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_subscript(ExprPtr node) {
  SourcePos pos = advance().pos;  // [
  auto access = std::make_unique<Expr>();
  access->pos = pos;
  access->args.push_back(std::move(node));
  // [a], [a:b], [a:b:c], [:], [::-1] ...
  ExprPtr first;
  if (!at_op(":")) first = parse_expression();
  if (!at_op(":")) {
    if (at_op(",")) {  // d[a, b] -> d[(a, b)]
      auto tuple = std::make_unique<Expr>();
      tuple->kind = ExprKind::kTuple;
      tuple->pos = first->pos;
      tuple->args.push_back(std::move(first));
      while (skip_op(",")) {
        if (at_op("]")) break;
        tuple->args.push_back(parse_expression());
      }
      first = std::move(tuple);
    }
    expect_op("]");
    access->kind = ExprKind::kGetItem;
    access->args.push_back(std::move(first));
    return access;
  }
  access->kind = ExprKind::kSlice;
  access->args.push_back(std::move(first));
  advance();  // :
  ExprPtr stop, step;
  if (!at_op(":") && !at_op("]")) stop = parse_expression();
  if (skip_op(":")) {
    if (!at_op("]")) step = parse_expression();
  }
  access->args.push_back(std::move(stop));
  access->args.push_back(std::move(step));
  expect_op("]");
  return access;
}

void Parser::parse_call_args(Expr& call) {
  expect_op("(");
  bool first = true;
  while (!at_op(")")) {
    if (!first) expect_op(",");
    first = false;
    if (at_op(")")) break;
    if (at_op("*") || at_op("**")) {
      throw TemplateError(TemplateErrorKind::kUnsupported,
                          "unsupported: *args / **kwargs in a call", current().pos);
    }
    if (current().type == TokenType::kName && peek().type == TokenType::kOperator &&
        peek().value == "=") {
      std::string key = advance().value;
      advance();  // =
      call.kwargs.emplace_back(std::move(key), parse_expression());
    } else {
      if (!call.kwargs.empty()) error("positional argument after keyword argument in call");
      call.args.push_back(parse_expression());
    }
  }
  advance();  // )
}

// callee(args...): the call node takes the callee as its first argument.
ExprPtr Parser::parse_call(ExprPtr callee) {
  auto call = std::make_unique<Expr>();
  call->kind = ExprKind::kCall;
  call->pos = current().pos;
  call->args.push_back(std::move(callee));
  parse_call_args(*call);
  return call;
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (at_op("|")) {
      node = parse_filter(std::move(node), false);
    } else if (at_name("is")) {
      node = parse_test(std::move(node));
    } else if (at_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

// `start_inline`: the {% filter name %} form, which has no leading '|'.
ExprPtr Parser::parse_filter(ExprPtr node, bool start_inline) {
  while (at_op("|") || start_inline) {
    if (!start_inline) advance();
    start_inline = false;
    auto filter = std::make_unique<Expr>();
    filter->kind = ExprKind::kFilter;
    filter->pos = current().pos;
    filter->name = expect_name();
    while (at_op(".")) {
      advance();
      filter->name += "." + expect_name();
    }
    if (!is_jinja2_filter(filter->name) && conditional_depth_ == 0) {
      error_at(filter->pos, fmt::format("no filter named '{}'", filter->name));
    }
    filter->args.push_back(std::move(node));
    if (at_op("(")) parse_call_args(*filter);
    node = std::move(filter);
  }
  return node;
}

ExprPtr Parser::parse_test(ExprPtr node) {
  SourcePos pos = advance().pos;  // is
  auto test = std::make_unique<Expr>();
  test->kind = ExprKind::kTest;
  test->pos = pos;
  test->negated = skip_name("not");
  test->name = expect_name();
  while (at_op(".")) {
    advance();
    test->name += "." + expect_name();
  }
  if (!is_jinja2_test(test->name) && conditional_depth_ == 0) {
    error_at(pos, fmt::format("no test named '{}'", test->name));
  }
  test->args.push_back(std::move(node));
  const Token& next = current();
  bool starts_arg = next.type == TokenType::kName || next.type == TokenType::kString ||
                    next.type == TokenType::kInteger || next.type == TokenType::kFloat ||
                    (next.type == TokenType::kOperator && (next.value == "[" || next.value == "{"));
  if (at_op("(")) {
    parse_call_args(*test);
  } else if (starts_arg && !at_name("else") && !at_name("or") && !at_name("and")) {
    if (at_name("is")) error("you cannot chain multiple tests with 'is'");
    // `x is divisibleby 3`, `x is sameas false`: one primary argument without parentheses.
    test->args.push_back(parse_postfix(parse_primary()));
  }
  return test;
}

}  // namespace mx::jinja
