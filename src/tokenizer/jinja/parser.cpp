// Statement parsing: {% for %}, {% if %}, {% set %}, {% macro %}, {% call %}, {% filter %},
// {% with %}, break/continue, and transformers' {% generation %} tag.
#include "tokenizer/jinja/parser.h"

#include <algorithm>

namespace mx::jinja {
namespace {

constexpr int kMaxParseDepth = 200;

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Parser::DepthGuard::DepthGuard(Parser& parser) : parser_(parser) {
  if (++parser_.depth_ > kMaxParseDepth) {
    throw TemplateError(TemplateErrorKind::kLimit,
                        fmt::format("template nested more than {} levels deep", kMaxParseDepth),
                        parser_.current().pos);
  }
}

std::string Parser::describe(const Token& token) const {
  switch (token.type) {
    case TokenType::kEnd: return "end of template";
    case TokenType::kVarEnd: return "end of print statement '}}'";
    case TokenType::kBlockEnd: return "end of statement block '%}'";
    case TokenType::kVarBegin: return "'{{'";
    case TokenType::kBlockBegin: return "'{%'";
    case TokenType::kText: return "template text";
    case TokenType::kString: return "string literal";
    default: return "'" + token.value + "'";
  }
}

void Parser::error(const std::string& message) const { error_at(current().pos, message); }

void Parser::error_at(SourcePos pos, const std::string& message) const {
  throw TemplateError(TemplateErrorKind::kSyntax, message, pos);
}

void Parser::expect_op(std::string_view op) {
  if (!skip_op(op)) error(fmt::format("expected '{}', got {}", op, describe(current())));
}

std::string Parser::expect_name() {
  if (current().type != TokenType::kName) error(fmt::format("expected a name, got {}", describe(current())));
  return advance().value;
}

void Parser::expect_block_end() {
  if (current().type != TokenType::kBlockEnd) {
    error(fmt::format("expected end of statement block '%}}', got {}", describe(current())));
  }
  advance();
}

std::vector<StmtPtr> Parser::parse_document() {
  std::vector<StmtPtr> body = parse_body({});
  if (current().type != TokenType::kEnd) {
    error(fmt::format("unexpected '{}' tag: no block is open", peek().value));
  }
  return body;
}

std::vector<StmtPtr> Parser::parse_body(const std::vector<std::string>& end_names) {
  DepthGuard guard(*this);
  std::vector<StmtPtr> body;
  while (current().type != TokenType::kEnd) {
    const Token& token = current();
    if (token.type == TokenType::kText) {
      auto stmt = std::make_unique<Stmt>();
      stmt->kind = StmtKind::kText;
      stmt->pos = token.pos;
      stmt->text = token.value;
      body.push_back(std::move(stmt));
      advance();
    } else if (token.type == TokenType::kVarBegin) {
      auto stmt = std::make_unique<Stmt>();
      stmt->kind = StmtKind::kOutput;
      stmt->pos = token.pos;
      advance();
      stmt->expr = parse_tuple(false, true, false);
      if (current().type != TokenType::kVarEnd) {
        error(fmt::format("expected end of print statement '}}}}', got {}", describe(current())));
      }
      advance();
      body.push_back(std::move(stmt));
    } else if (token.type == TokenType::kBlockBegin) {
      const Token& name = peek();
      if (name.type == TokenType::kName && contains(end_names, name.value)) return body;
      if (name.type == TokenType::kName && name.value.rfind("end", 0) == 0 &&
          name.value != "endraw") {
        error_at(name.pos, fmt::format("unexpected '{}' tag: no matching block is open", name.value));
      }
      body.push_back(parse_statement());
    } else {
      error(fmt::format("unexpected {}", describe(token)));
    }
  }
  if (!end_names.empty()) {
    std::string expected;
    for (const std::string& name : end_names) expected += (expected.empty() ? "'" : " or '") + name + "'";
    error(fmt::format("unexpected end of template: expected {}", expected));
  }
  return body;
}

std::string Parser::parse_block_body(std::vector<StmtPtr>& body,
                                     const std::vector<std::string>& end_names) {
  expect_block_end();
  body = parse_body(end_names);
  advance();  // {%
  return advance().value;
}

StmtPtr Parser::parse_statement() {
  SourcePos pos = advance().pos;  // {%
  const Token& keyword = current();
  if (keyword.type != TokenType::kName) error(fmt::format("expected a tag name, got {}", describe(keyword)));
  std::string name = advance().value;
  if (name == "for") return parse_for(pos);
  if (name == "if") return parse_if(pos);
  if (name == "set") return parse_set(pos);
  if (name == "macro") return parse_macro(pos);
  if (name == "call") return parse_call_block(pos);
  if (name == "filter") return parse_filter_block(pos);
  if (name == "with") return parse_with(pos);
  if (name == "break" || name == "continue") {
    if (loop_depth_ == 0) error_at(keyword.pos, fmt::format("'{}' outside of a for loop", name));
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = name == "break" ? StmtKind::kBreak : StmtKind::kContinue;
    stmt->pos = pos;
    expect_block_end();
    return stmt;
  }
  if (name == "generation") {  // transformers' AssistantTracker extension
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = StmtKind::kBlockGroup;
    stmt->pos = pos;
    parse_block_body(stmt->body, {"endgeneration"});
    expect_block_end();
    return stmt;
  }
  static const std::vector<std::string> kUnsupported = {
      "extends", "block", "include", "import", "from", "autoescape", "do", "trans"};
  if (contains(kUnsupported, name)) {
    throw TemplateError(TemplateErrorKind::kUnsupported,
                        fmt::format("unsupported template statement '{{% {} %}}'", name), pos);
  }
  error_at(pos, fmt::format("encountered unknown tag '{}'", name));
}

Target Parser::parse_target(bool with_namespace, const std::vector<std::string>& extra_end_names) {
  Target target;
  if (with_namespace && current().type == TokenType::kName && peek().type == TokenType::kOperator &&
      peek().value == ".") {
    target.names.push_back(advance().value);
    advance();  // .
    target.attribute = expect_name();
    return target;
  }
  bool parenthesized = skip_op("(");
  while (true) {
    if (current().type != TokenType::kName) {
      error(fmt::format("can't assign to {}", describe(current())));
    }
    std::string name = advance().value;
    if (name == "true" || name == "false" || name == "none" || name == "True" ||
        name == "False" || name == "None") {
      error(fmt::format("can't assign to '{}'", name));
    }
    target.names.push_back(std::move(name));
    if (!at_op(",")) break;
    advance();
    target.is_tuple = true;
    if (current().type == TokenType::kBlockEnd || at_op(")") || at_op("=") ||
        (current().type == TokenType::kName && contains(extra_end_names, current().value))) {
      break;
    }
  }
  if (parenthesized) {
    expect_op(")");
    target.is_tuple = true;
  }
  return target;
}

StmtPtr Parser::parse_for(SourcePos pos) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = StmtKind::kFor;
  stmt->pos = pos;
  stmt->target = parse_target(false, {"in"});
  if (!skip_name("in")) error(fmt::format("expected 'in', got {}", describe(current())));
  stmt->expr = parse_tuple(false, false, false, {"recursive"});
  if (skip_name("if")) stmt->condition = parse_expression();
  if (at_name("recursive")) {
    throw TemplateError(TemplateErrorKind::kUnsupported,
                        "unsupported: recursive for loops ('for ... recursive')", current().pos);
  }
  ++loop_depth_;
  int loop_mentions_before = loop_mentions_;
  std::string end = parse_block_body(stmt->body, {"endfor", "else"});
  --loop_depth_;
  if (end == "else") parse_block_body(stmt->else_body, {"endfor"});
  // Only loops whose body mentions `loop` (counting nested ones: conservative) build the loop
  // object for each iteration.
  stmt->uses_loop = loop_mentions_ != loop_mentions_before;
  expect_block_end();
  return stmt;
}

StmtPtr Parser::parse_if(SourcePos pos) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = StmtKind::kIf;
  stmt->pos = pos;
  ++conditional_depth_;
  stmt->expr = parse_tuple(false, false, false);
  std::string end = parse_block_body(stmt->body, {"elif", "else", "endif"});
  if (end == "elif") {
    stmt->else_body.push_back(parse_if(current().pos));  // consumes up to and incl. endif
    --conditional_depth_;
    return stmt;
  }
  if (end == "else") parse_block_body(stmt->else_body, {"endif"});
  --conditional_depth_;
  expect_block_end();
  return stmt;
}

StmtPtr Parser::parse_set(SourcePos pos) {
  auto stmt = std::make_unique<Stmt>();
  stmt->pos = pos;
  stmt->target = parse_target(true, {});
  if (skip_op("=")) {
    stmt->kind = StmtKind::kSet;
    stmt->expr = parse_tuple(false, true, false);
    expect_block_end();
    return stmt;
  }
  if (!stmt->target.attribute.empty() || stmt->target.is_tuple) {
    error("a block {% set %} assigns a single name");
  }
  stmt->kind = StmtKind::kSetBlock;
  if (at_op("|")) stmt->filter = parse_filter(nullptr, false);
  parse_block_body(stmt->body, {"endset"});
  expect_block_end();
  return stmt;
}

std::vector<MacroParam> Parser::parse_params() {
  std::vector<MacroParam> params;
  expect_op("(");
  while (!at_op(")")) {
    if (!params.empty()) expect_op(",");
    if (at_op(")")) break;
    MacroParam param;
    param.name = expect_name();
    if (skip_op("=")) {
      param.default_value = parse_expression();
    } else if (!params.empty() && params.back().default_value) {
      error("non-default argument follows default argument");
    }
    params.push_back(std::move(param));
  }
  advance();  // )
  return params;
}

StmtPtr Parser::parse_macro(SourcePos pos) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = StmtKind::kMacro;
  stmt->pos = pos;
  stmt->text = expect_name();
  stmt->params = parse_params();
  // A macro body is a new function: break/continue of an enclosing loop are not valid in it.
  int saved_loop_depth = loop_depth_;
  loop_depth_ = 0;
  macro_scopes_.push_back({});
  parse_block_body(stmt->body, {"endmacro"});
  stmt->uses_varargs = macro_scopes_.back().varargs;
  stmt->uses_kwargs = macro_scopes_.back().kwargs;
  stmt->uses_caller = macro_scopes_.back().caller;
  macro_scopes_.pop_back();
  loop_depth_ = saved_loop_depth;
  if (current().type == TokenType::kName && current().value == stmt->text) advance();
  expect_block_end();
  return stmt;
}

StmtPtr Parser::parse_call_block(SourcePos pos) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = StmtKind::kCallBlock;
  stmt->pos = pos;
  if (at_op("(")) stmt->params = parse_params();
  stmt->expr = parse_expression();
  if (stmt->expr->kind != ExprKind::kCall) error_at(stmt->expr->pos, "expected a call after {% call %}");
  int saved_loop_depth = loop_depth_;
  loop_depth_ = 0;
  macro_scopes_.push_back({});
  parse_block_body(stmt->body, {"endcall"});
  stmt->uses_varargs = macro_scopes_.back().varargs;
  stmt->uses_kwargs = macro_scopes_.back().kwargs;
  macro_scopes_.pop_back();
  loop_depth_ = saved_loop_depth;
  expect_block_end();
  return stmt;
}

StmtPtr Parser::parse_filter_block(SourcePos pos) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = StmtKind::kFilterBlock;
  stmt->pos = pos;
  stmt->filter = parse_filter(nullptr, true);
  parse_block_body(stmt->body, {"endfilter"});
  expect_block_end();
  return stmt;
}

StmtPtr Parser::parse_with(SourcePos pos) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = StmtKind::kWith;
  stmt->pos = pos;
  while (current().type != TokenType::kBlockEnd) {
    if (!stmt->params.empty()) expect_op(",");
    MacroParam assignment;
    assignment.name = expect_name();
    expect_op("=");
    assignment.default_value = parse_expression();
    stmt->params.push_back(std::move(assignment));
  }
  parse_block_body(stmt->body, {"endwith"});
  expect_block_end();
  return stmt;
}

std::shared_ptr<const ParsedTemplate> parse_template(std::string_view source) {
  Parser parser(tokenize(source));
  auto parsed = std::make_shared<ParsedTemplate>();
  parsed->body = parser.parse_document();
  return parsed;
}

}  // namespace mx::jinja
