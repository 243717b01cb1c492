// Expression parsing (grammar and precedence in parser.h).
#include <cerrno>
#include <cstdlib>
#include <string_view>

#include "tokenizer/jinja/parser.h"

namespace mx::jinja {
namespace {

constexpr std::string_view kFilters[] = {
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e",
    "escape", "filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent",
    "int", "join", "last", "length", "list", "lower", "items", "map", "min", "max", "pprint",
    "random", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select",
    "selectattr", "slice", "sort", "string", "striptags", "sum", "title", "trim", "truncate",
    "unique", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr", "tojson"};

constexpr std::string_view kTests[] = {
    "odd", "even", "divisibleby", "defined", "undefined", "filter", "test", "none", "boolean",
    "false", "true", "integer", "float", "lower", "upper", "string", "mapping", "number",
    "sequence", "iterable", "callable", "sameas", "escaped", "in", "==", "eq", "equalto", "!=",
    "ne", ">", "gt", "greaterthan", "ge", ">=", "<", "lt", "lessthan", "<=", "le"};

Value parse_integer(const std::string& text, const Parser& parser) {
  int base = 10;
  std::string digits = text;
  if (text.size() > 2 && text[0] == '0') {
    char prefix = text[1];
    base = prefix == 'x' ? 16 : (prefix == 'o' ? 8 : (prefix == 'b' ? 2 : 10));
    if (base != 10) digits = text.substr(2);
  }
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(digits.c_str(), &end, base);
  if (errno == ERANGE) {
    throw TemplateError(TemplateErrorKind::kUnsupported,
                        "integer literal " + text + " does not fit in 64 bits", parser.current().pos);
  }
  return Value(static_cast<int64_t>(value));
}

}  // namespace

bool is_jinja2_filter(std::string_view name) {
  for (std::string_view known : kFilters) {
    if (known == name) return true;
  }
  return false;
}

bool is_jinja2_test(std::string_view name) {
  for (std::string_view known : kTests) {
    if (known == name) return true;
  }
  return false;
}

ExprPtr Parser::make_binary(ExprKind kind, Op op, ExprPtr left, ExprPtr right, SourcePos pos) {
  auto node = std::make_unique<Expr>();
  node->kind = kind;
  node->pos = pos;
  node->ops.push_back(op);
  node->args.push_back(std::move(left));
  node->args.push_back(std::move(right));
  return node;
}

ExprPtr Parser::parse_tuple(bool simplified, bool with_condexpr, bool explicit_parentheses,
                            const std::vector<std::string>& extra_end_names) {
  SourcePos pos = current().pos;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  auto at_end = [&] {
    TokenType t = current().type;
    if (t == TokenType::kVarEnd || t == TokenType::kBlockEnd || at_op(")")) return true;
    if (t == TokenType::kName) {
      for (const auto& name : extra_end_names) {
        if (current().value == name) return true;
      }
    }
    return false;
  };
  while (true) {
    if (!items.empty()) expect_op(",");
    if (at_end()) break;
    items.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
    if (at_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parentheses) error(fmt::format("expected an expression, got {}", describe(current())));
  }
  auto node = std::make_unique<Expr>();
  node->kind = ExprKind::kTuple;
  node->pos = pos;
  node->args = std::move(items);
  return node;
}

ExprPtr Parser::parse_expression(bool with_condexpr) {
  DepthGuard guard(*this);
  return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr Parser::parse_condexpr() {
  SourcePos pos = current().pos;
  ExprPtr expr1 = parse_or();
  while (skip_name("if")) {
    ++conditional_depth_;
    auto node = std::make_unique<Expr>();
    node->kind = ExprKind::kCondExpr;
    node->pos = pos;
    ExprPtr condition = parse_or();
    ExprPtr otherwise = skip_name("else") ? parse_condexpr() : nullptr;
    node->args.push_back(std::move(expr1));
    node->args.push_back(std::move(condition));
    node->args.push_back(std::move(otherwise));
    --conditional_depth_;
    expr1 = std::move(node);
  }
  return expr1;
}

ExprPtr Parser::parse_or() {
  ExprPtr left = parse_and();
  while (at_name("or")) {
    SourcePos pos = advance().pos;
    left = make_binary(ExprKind::kOr, Op::kAdd, std::move(left), parse_and(), pos);
  }
  return left;
}

ExprPtr Parser::parse_and() {
  ExprPtr left = parse_not();
  while (at_name("and")) {
    SourcePos pos = advance().pos;
    left = make_binary(ExprKind::kAnd, Op::kAdd, std::move(left), parse_not(), pos);
  }
  return left;
}

ExprPtr Parser::parse_not() {
  if (at_name("not")) {
    DepthGuard guard(*this);
    auto node = std::make_unique<Expr>();
    node->kind = ExprKind::kNot;
    node->pos = advance().pos;
    node->args.push_back(parse_not());
    return node;
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  SourcePos pos = current().pos;
  ExprPtr first = parse_math1();
  std::unique_ptr<Expr> node;
  while (true) {
    Op op;
    const Token& token = current();
    if (token.type == TokenType::kOperator && token.value == "==") {
      op = Op::kEq;
    } else if (token.type == TokenType::kOperator && token.value == "!=") {
      op = Op::kNe;
    } else if (token.type == TokenType::kOperator && token.value == "<") {
      op = Op::kLt;
    } else if (token.type == TokenType::kOperator && token.value == "<=") {
      op = Op::kLe;
    } else if (token.type == TokenType::kOperator && token.value == ">") {
      op = Op::kGt;
    } else if (token.type == TokenType::kOperator && token.value == ">=") {
      op = Op::kGe;
    } else if (at_name("in")) {
      op = Op::kIn;
    } else if (at_name("not") && peek().type == TokenType::kName && peek().value == "in") {
      advance();
      op = Op::kNotIn;
    } else {
      break;
    }
    advance();
    if (!node) {
      node = std::make_unique<Expr>();
      node->kind = ExprKind::kCompare;
      node->pos = pos;
      node->args.push_back(std::move(first));
    }
    node->ops.push_back(op);
    node->args.push_back(parse_math1());
  }
  return node ? std::move(node) : std::move(first);
}

ExprPtr Parser::parse_math1() {
  ExprPtr left = parse_concat();
  while (at_op("+") || at_op("-")) {
    Op op = current().value == "+" ? Op::kAdd : Op::kSub;
    SourcePos pos = advance().pos;
    left = make_binary(ExprKind::kBinary, op, std::move(left), parse_concat(), pos);
  }
  return left;
}

ExprPtr Parser::parse_concat() {
  ExprPtr left = parse_math2();
  while (at_op("~")) {
    SourcePos pos = advance().pos;
    left = make_binary(ExprKind::kBinary, Op::kConcat, std::move(left), parse_math2(), pos);
  }
  return left;
}

ExprPtr Parser::parse_math2() {
  ExprPtr left = parse_pow();
  while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
    const std::string& text = current().value;
    Op op = text == "*" ? Op::kMul : text == "/" ? Op::kDiv : text == "//" ? Op::kFloorDiv : Op::kMod;
    SourcePos pos = advance().pos;
    left = make_binary(ExprKind::kBinary, op, std::move(left), parse_pow(), pos);
  }
  return left;
}

ExprPtr Parser::parse_pow() {
  ExprPtr left = parse_unary(true);
  while (at_op("**")) {  // left-associative in jinja2: 2**3**2 == 64
    SourcePos pos = advance().pos;
    left = make_binary(ExprKind::kBinary, Op::kPow, std::move(left), parse_unary(true), pos);
  }
  return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  DepthGuard guard(*this);
  ExprPtr node;
  if (at_op("-") || at_op("+")) {
    auto unary = std::make_unique<Expr>();
    unary->kind = ExprKind::kUnary;
    unary->ops.push_back(current().value == "-" ? Op::kNeg : Op::kPos);
    unary->pos = advance().pos;
    unary->args.push_back(parse_unary(false));
    node = std::move(unary);
  } else {
    node = parse_primary();
  }
  node = parse_postfix(std::move(node));
  if (with_filter) node = parse_filter_expr(std::move(node));
  return node;
}

ExprPtr Parser::parse_primary() {
  DepthGuard guard(*this);
  const Token& token = current();
  auto node = std::make_unique<Expr>();
  node->pos = token.pos;
  switch (token.type) {
    case TokenType::kName: {
      const std::string& name = token.value;
      if (name == "true" || name == "True") {
        node->literal = Value(true);
      } else if (name == "false" || name == "False") {
        node->literal = Value(false);
      } else if (name == "none" || name == "None") {
        node->literal = Value(None{});
      } else {
        node->kind = ExprKind::kName;
        node->name = name;
        if (name == "loop") ++loop_mentions_;
        if (!macro_scopes_.empty()) {
          if (name == "varargs") macro_scopes_.back().varargs = true;
          if (name == "kwargs") macro_scopes_.back().kwargs = true;
          if (name == "caller") macro_scopes_.back().caller = true;
        }
      }
      advance();
      return node;
    }
    case TokenType::kString: {
      std::string text;
      while (current().type == TokenType::kString) text += advance().value;  // 'a' 'b' == 'ab'
      node->literal = Value(std::move(text));
      return node;
    }
    case TokenType::kInteger:
      node->literal = parse_integer(token.value, *this);
      advance();
      return node;
    case TokenType::kFloat:
      node->literal = Value(std::strtod(token.value.c_str(), nullptr));
      advance();
      return node;
    case TokenType::kOperator:
      if (token.value == "(") {
        advance();
        ExprPtr inner = parse_tuple(false, true, true);
        expect_op(")");
        return inner;
      }
      if (token.value == "[") return parse_list();
      if (token.value == "{") return parse_dict();
      break;
    default:
      break;
  }
  error(fmt::format("unexpected {}", describe(token)));
}

ExprPtr Parser::parse_list() {
  auto node = std::make_unique<Expr>();
  node->kind = ExprKind::kList;
  node->pos = advance().pos;  // [
  while (!at_op("]")) {
    if (!node->args.empty()) expect_op(",");
    if (at_op("]")) break;
    node->args.push_back(parse_expression());
  }
  advance();
  return node;
}

ExprPtr Parser::parse_dict() {
  auto node = std::make_unique<Expr>();
  node->kind = ExprKind::kDict;
  node->pos = advance().pos;  // {
  while (!at_op("}")) {
    if (!node->args.empty()) expect_op(",");
    if (at_op("}")) break;
    node->args.push_back(parse_expression());
    expect_op(":");
    node->args.push_back(parse_expression());
  }
  advance();
  return node;
}

}  // namespace mx::jinja
