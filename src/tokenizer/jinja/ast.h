// The parsed template: expression and statement trees.
//
// One struct per tree level with a kind tag, rather than a class per node type: the interpreter
// switches on the kind, and the fields each kind uses are listed next to it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/value.h"

namespace mx::jinja {

enum class ExprKind {
  kLiteral,   // literal
  kName,      // name
  kList,      // args = items
  kTuple,     // args = items
  kDict,      // args = key0, value0, key1, value1, ...
  kGetAttr,   // args[0] = object, name = attribute      (a.b)
  kGetItem,   // args[0] = object, args[1] = key        (a[b])
  kSlice,     // args[0] = object, args[1..3] = start, stop, step (null when omitted)
  kCall,      // args[0] = callee, args[1..] = positional, kwargs
  kFilter,    // args[0] = subject (null inside {% filter %}), name, args[1..], kwargs
  kTest,      // args[0] = subject, name, args[1..], kwargs; negated for "is not"
  kUnary,     // op, args[0]
  kBinary,    // op, args[0], args[1]
  kCompare,   // args[0] op[0] args[1] op[1] args[2] ... (chained like Python)
  kAnd,       // args[0] and args[1]
  kOr,        // args[0] or args[1]
  kNot,       // not args[0]
  kCondExpr,  // args[0] if args[1] else args[2] (args[2] null: undefined)
};

enum class Op {
  kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kConcat,  // binary arithmetic and ~
  kNeg, kPos,                                              // unary
  kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn,               // comparisons
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  SourcePos pos;
  Value literal;
  std::string name;
  std::vector<ExprPtr> args;  // may contain nulls (slice parts, filter-block subject)
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<Op> ops;  // kCompare: one per adjacent pair; kUnary/kBinary: ops[0]
  bool negated = false;  // kTest
};

// An assignment target: `x`, `a, b` (tuple unpacking) or `ns.attr`.
struct Target {
  std::vector<std::string> names;
  bool is_tuple = false;
  std::string attribute;  // non-empty: names[0].attribute = value (namespace attribute)
};

enum class StmtKind {
  kText,        // text
  kOutput,      // {{ expr }}
  kIf,          // expr, body, else_body (elif nests an If in else_body)
  kFor,         // target, expr (iterable), condition (optional), body, else_body
  kSet,         // target, expr
  kSetBlock,    // target, body, filter (optional: {% set x | f %})
  kMacro,       // name, params, body
  kCallBlock,   // expr (the call), params (caller's), body
  kFilterBlock, // filter (chain with null subject), body
  kWith,        // params (name = value pairs), body
  kBreak,
  kContinue,
  kBlockGroup,  // body only: {% generation %}...{% endgeneration %} renders its body
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null: required
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  SourcePos pos;
  std::string text;  // kText; kMacro: name
  ExprPtr expr;
  ExprPtr condition;  // kFor: `for x in y if condition`
  ExprPtr filter;     // kSetBlock / kFilterBlock
  Target target;
  std::vector<MacroParam> params;
  std::vector<StmtPtr> body;
  std::vector<StmtPtr> else_body;
  // kMacro: whether the body mentions varargs / kwargs / caller (jinja2 only accepts extra
  // arguments then).
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
  bool uses_loop = false;  // kFor: the body mentions `loop`
};

struct ParsedTemplate {
  std::vector<StmtPtr> body;
};

// Parses template source. Throws TemplateError with the line and column of the problem.
std::shared_ptr<const ParsedTemplate> parse_template(std::string_view source);

}  // namespace mx::jinja
