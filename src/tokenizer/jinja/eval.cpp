// Expression evaluation: names, literals, containers, access, logic, calls, filters and tests.
#include "tokenizer/jinja/interpreter.h"

#include <climits>
#include <cmath>

namespace mx::jinja {

Value Interpreter::eval(const Expr& expr, const FramePtr& frame) {
  DepthGuard guard(*this);
  try {
    return eval_node(expr, frame);
  } catch (TemplateError& error) {
    if (!error.has_pos()) error.set_pos(expr.pos);
    throw;
  }
}

namespace {

[[noreturn]] void fail_undefined(const Value& value) {
  const Undefined& undefined = value.as_undefined();
  fail("{}", undefined.hint.empty() ? std::string("value is undefined") : undefined.hint);
}

}  // namespace

Value Interpreter::eval_node(const Expr& expr, const FramePtr& frame) {
  switch (expr.kind) {
    case ExprKind::kLiteral:
      return expr.literal;
    case ExprKind::kName: {
      const Value* value = frame->lookup(expr.name);
      return value ? *value : Value::undefined(fmt::format("'{}' is undefined", expr.name));
    }
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      items.reserve(expr.args.size());
      for (const ExprPtr& item : expr.args) items.push_back(eval(*item, frame));
      return Value::list(std::move(items), expr.kind == ExprKind::kTuple);
    }
    case ExprKind::kDict: {
      Dict dict;
      for (size_t i = 0; i + 1 < expr.args.size(); i += 2) {
        Value key = eval(*expr.args[i], frame);
        dict.set(std::move(key), eval(*expr.args[i + 1], frame));
      }
      return Value::dict(std::move(dict));
    }
    case ExprKind::kGetAttr: {
      Value object = eval(*expr.args[0], frame);
      if (object.is_undefined()) fail_undefined(object);
      return get_attribute(object, expr.name);
    }
    case ExprKind::kGetItem: {
      Value object = eval(*expr.args[0], frame);
      Value key = eval(*expr.args[1], frame);
      if (object.is_undefined()) fail_undefined(object);
      return get_item(object, key);
    }
    case ExprKind::kSlice: {
      Value object = eval(*expr.args[0], frame);
      Value parts[3];
      for (int i = 0; i < 3; ++i) {
        parts[i] = expr.args[i + 1] ? eval(*expr.args[i + 1], frame) : Value(None{});
      }
      if (object.is_undefined()) fail_undefined(object);
      return slice_value(object, parts[0], parts[1], parts[2]);
    }
    case ExprKind::kCall:
      return eval_call(expr, frame);
    case ExprKind::kFilter:
      return eval_filter(expr, frame);
    case ExprKind::kTest:
      return eval_test(expr, frame);
    case ExprKind::kUnary:
      return eval_unary(expr.ops[0], eval(*expr.args[0], frame));
    case ExprKind::kBinary: {
      Value left = eval(*expr.args[0], frame);
      Value right = eval(*expr.args[1], frame);
      return eval_binary(expr.ops[0], left, right);
    }
    case ExprKind::kCompare:
      return eval_compare(expr, frame);
    case ExprKind::kAnd: {
      Value left = eval(*expr.args[0], frame);
      return left.truthy() ? eval(*expr.args[1], frame) : left;
    }
    case ExprKind::kOr: {
      Value left = eval(*expr.args[0], frame);
      return left.truthy() ? left : eval(*expr.args[1], frame);
    }
    case ExprKind::kNot:
      return Value(!eval(*expr.args[0], frame).truthy());
    case ExprKind::kCondExpr:
      if (eval(*expr.args[1], frame).truthy()) return eval(*expr.args[0], frame);
      if (expr.args[2]) return eval(*expr.args[2], frame);
      return Value::undefined("the inline if-expression evaluated to false and has no else");
  }
  fail("internal error: unknown expression kind");
}

Value Interpreter::eval_unary(Op op, const Value& operand) {
  if (operand.is_undefined()) fail_undefined(operand);
  if (!operand.is_number()) {
    fail("bad operand type for unary {}: '{}'", op == Op::kNeg ? "-" : "+", operand.type_name());
  }
  if (op == Op::kPos) return operand.is_bool() ? Value(int64_t{operand.as_bool()}) : operand;
  if (operand.is_float()) return Value(-operand.as_float());
  int64_t v = operand.is_bool() ? operand.as_bool() : operand.as_int();
  if (v == INT64_MIN) fail_unsupported("integer overflow in unary minus");
  return Value(-v);
}

Value Interpreter::eval_compare(const Expr& expr, const FramePtr& frame) {
  // Python chains comparisons: a < b < c is (a < b) and (b < c), b evaluated once.
  Value left = eval(*expr.args[0], frame);
  for (size_t i = 0; i < expr.ops.size(); ++i) {
    Value right = eval(*expr.args[i + 1], frame);
    bool result = false;
    Op op = expr.ops[i];
    switch (op) {
      case Op::kEq: result = values_equal(left, right); break;
      case Op::kNe: result = !values_equal(left, right); break;
      case Op::kIn: result = value_contains(right, left); break;
      case Op::kNotIn: result = !value_contains(right, left); break;
      default: {
        if (left.is_undefined()) fail_undefined(left);
        if (right.is_undefined()) fail_undefined(right);
        if (left.is_number() && right.is_number() &&
            (std::isnan(left.to_double()) || std::isnan(right.to_double()))) {
          result = false;
          break;
        }
        int c = compare_values(left, right);
        result = op == Op::kLt ? c < 0 : op == Op::kLe ? c <= 0 : op == Op::kGt ? c > 0 : c >= 0;
      }
    }
    if (!result) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

void Interpreter::eval_args(const Expr& expr, size_t first, const FramePtr& frame, CallArgs& args) {
  for (size_t i = first; i < expr.args.size(); ++i) args.positional.push_back(eval(*expr.args[i], frame));
  for (const auto& [key, value] : expr.kwargs) args.keyword.emplace_back(key, eval(*value, frame));
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  charge_steps(1);
  if (callee.is_callable()) return callee.as_callable().call(*this, args);
  if (callee.is_undefined()) {
    const Undefined& undefined = callee.as_undefined();
    fail("{}", undefined.hint.empty() ? std::string("'Undefined' object is not callable") : undefined.hint);
  }
  fail("'{}' object is not callable", callee.type_name());
}

Value Interpreter::eval_call(const Expr& expr, const FramePtr& frame) {
  Value callee = eval(*expr.args[0], frame);
  CallArgs args;
  eval_args(expr, 1, frame, args);
  return call(callee, args);
}

Value Interpreter::eval_filter(const Expr& expr, const FramePtr& frame) {
  Value subject;
  if (expr.args[0]) {
    subject = eval(*expr.args[0], frame);
  } else if (filter_block_input_ != nullptr) {
    subject = *filter_block_input_;
  }
  CallArgs args;
  eval_args(expr, 1, frame, args);
  return apply_filter(expr.name, subject, args);
}

Value Interpreter::eval_test(const Expr& expr, const FramePtr& frame) {
  Value subject = eval(*expr.args[0], frame);
  CallArgs args;
  eval_args(expr, 1, frame, args);
  bool result = apply_test(expr.name, subject, args);
  return Value(expr.negated ? !result : result);
}

}  // namespace mx::jinja
