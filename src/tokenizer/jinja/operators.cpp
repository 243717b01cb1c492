// Python's arithmetic operators, `in`, len() and iteration over values.
#include <cmath>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/text.h"

namespace mx::jinja {
namespace {

const char* op_symbol(Op op) {
  switch (op) {
    case Op::kAdd: return "+";
    case Op::kSub: return "-";
    case Op::kMul: return "*";
    case Op::kDiv: return "/";
    case Op::kFloorDiv: return "//";
    case Op::kMod: return "%";
    case Op::kPow: return "**";
    default: return "?";
  }
}

[[noreturn]] void fail_operands(Op op, const Value& a, const Value& b) {
  fail("unsupported operand type(s) for {}: '{}' and '{}'", op_symbol(op), a.type_name(), b.type_name());
}

int64_t int_of(const Value& v) { return v.is_bool() ? v.as_bool() : v.as_int(); }

void check_overflow(bool overflow) {
  if (overflow) fail_unsupported("integer overflow: results beyond 64 bits are not supported");
}

int64_t int_pow(int64_t base, int64_t exponent) {
  int64_t result = 1;
  while (exponent > 0) {
    if (exponent & 1) check_overflow(__builtin_mul_overflow(result, base, &result));
    exponent >>= 1;
    if (exponent > 0) check_overflow(__builtin_mul_overflow(base, base, &base));
  }
  return result;
}

// Python's float // and % (the result takes the sign of the divisor).
double float_mod(double x, double y) {
  double mod = std::fmod(x, y);
  if (mod != 0.0) {
    if ((y < 0) != (mod < 0)) mod += y;
  } else {
    mod = std::copysign(0.0, y);
  }
  return mod;
}

double float_floordiv(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0.0 && ((y < 0) != (mod < 0))) div -= 1.0;
  if (div == 0.0) return std::copysign(0.0, x / y);
  double floored = std::floor(div);
  if (div - floored > 0.5) floored += 1.0;
  return floored;
}

Value arithmetic(Op op, const Value& a, const Value& b) {
  bool ints = !a.is_float() && !b.is_float();
  if ((op == Op::kDiv || op == Op::kFloorDiv || op == Op::kMod) && b.to_double() == 0.0) {
    fail("{}", op == Op::kDiv ? "division by zero" : "integer division or modulo by zero");
  }
  if (ints) {
    int64_t x = int_of(a), y = int_of(b), r = 0;
    switch (op) {
      case Op::kAdd: check_overflow(__builtin_add_overflow(x, y, &r)); return Value(r);
      case Op::kSub: check_overflow(__builtin_sub_overflow(x, y, &r)); return Value(r);
      case Op::kMul: check_overflow(__builtin_mul_overflow(x, y, &r)); return Value(r);
      case Op::kDiv: return Value(static_cast<double>(x) / static_cast<double>(y));
      case Op::kFloorDiv: {
        check_overflow(x == INT64_MIN && y == -1);
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value(q);
      }
      case Op::kMod: {
        if (y == -1) return Value(int64_t{0});
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value(m);
      }
      case Op::kPow:
        if (y >= 0) return Value(int_pow(x, y));
        if (x == 0) fail("0.0 cannot be raised to a negative power");
        return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
      default: break;
    }
  }
  double x = a.to_double(), y = b.to_double();
  switch (op) {
    case Op::kAdd: return Value(x + y);
    case Op::kSub: return Value(x - y);
    case Op::kMul: return Value(x * y);
    case Op::kDiv: return Value(x / y);
    case Op::kFloorDiv: return Value(float_floordiv(x, y));
    case Op::kMod: return Value(float_mod(x, y));
    case Op::kPow:
      if (x == 0.0 && y < 0) fail("0.0 cannot be raised to a negative power");
      if (x < 0 && y != std::floor(y)) fail_unsupported("complex results of ** are not supported");
      return Value(std::pow(x, y));
    default: break;
  }
  fail_operands(op, a, b);
}

// "abc" * 3, [1] * 3
Value repeat(Interpreter& interp, const Value& sequence, int64_t times) {
  if (times < 0) times = 0;
  if (sequence.is_string()) {
    const std::string& text = sequence.as_string();
    if (!text.empty() && static_cast<uint64_t>(times) > interp.limits().max_value_bytes / text.size()) {
      interp.charge_bytes(interp.limits().max_value_bytes + 1);
    }
    interp.charge_bytes(text.size() * static_cast<size_t>(times));
    std::string out;
    out.reserve(text.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += text;
    return Value(std::move(out));
  }
  const List& list = sequence.as_list();
  if (!list.items.empty() && static_cast<uint64_t>(times) > interp.limits().max_value_bytes / list.items.size()) {
    interp.check_items(interp.limits().max_value_bytes);
  }
  interp.check_items(list.items.size() * static_cast<size_t>(times));
  std::vector<Value> items;
  for (int64_t i = 0; i < times; ++i) items.insert(items.end(), list.items.begin(), list.items.end());
  return Value::list(std::move(items), list.is_tuple);
}

}  // namespace


Value Interpreter::eval_binary(Op op, const Value& left, const Value& right) {
  if (op == Op::kConcat) {
    std::string out = to_str(left);
    out += to_str(right);
    charge_bytes(out.size());
    return Value(std::move(out));
  }
  for (const Value* operand : {&left, &right}) {
    if (operand->is_undefined()) {
      const std::string& hint = operand->as_undefined().hint;
      fail("{}", hint.empty() ? std::string("value is undefined") : hint);
    }
  }
  if (left.is_number() && right.is_number()) return arithmetic(op, left, right);
  if (op == Op::kAdd && left.is_string() && right.is_string()) {
    charge_bytes(left.as_string().size() + right.as_string().size());
    return Value(left.as_string() + right.as_string());
  }
  if (op == Op::kAdd && left.is_plain_list() && right.is_plain_list()) {
    if (left.is_tuple() != right.is_tuple()) {
      fail("can only concatenate {} (not \"{}\") to {}", left.type_name(), right.type_name(), left.type_name());
    }
    check_items(left.as_list().items.size() + right.as_list().items.size());
    std::vector<Value> items = left.as_list().items;
    items.insert(items.end(), right.as_list().items.begin(), right.as_list().items.end());
    return Value::list(std::move(items), left.is_tuple());
  }
  if (op == Op::kMul) {
    if ((left.is_string() || left.is_plain_list()) && (right.is_int() || right.is_bool())) {
      return repeat(*this, left, int_of(right));
    }
    if ((right.is_string() || right.is_plain_list()) && (left.is_int() || left.is_bool())) {
      return repeat(*this, right, int_of(left));
    }
  }
  if (op == Op::kMod && left.is_string()) return format_percent(*this, left.as_string(), right);
  fail_operands(op, left, right);
}

size_t value_length(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined: return 0;
    case Value::Kind::kString: return code_point_count(value.as_string());
    case Value::Kind::kList:
      if (value.as_list().is_iterator()) fail("object of type '{}' has no len()", value.type_name());
      return value.as_list().items.size();
    case Value::Kind::kDict: return value.as_dict().size();
    default: fail("object of type '{}' has no len()", value.type_name());
  }
}

std::vector<Value> iterate(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kList:
      if (value.as_list().deferred_error) throw *value.as_list().deferred_error;
      return value.as_list().items;
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      for (const auto& entry : value.as_dict().entries()) keys.push_back(entry.first);
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> chars;
      std::string one;
      for (char32_t c : to_code_points(value.as_string())) {
        one.clear();
        append_code_point(one, c);
        chars.emplace_back(one);
      }
      return chars;
    }
    default:
      fail("'{}' object is not iterable", value.type_name());
  }
}

bool value_contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined:
      return false;
    case Value::Kind::kString:
      if (!item.is_string()) fail("'in <string>' requires string as left operand, not {}", item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kList:
      if (container.as_list().deferred_error) throw *container.as_list().deferred_error;
      for (const Value& element : container.as_list().items) {
        if (values_equal(element, item)) return true;
      }
      return false;
    case Value::Kind::kDict:
      if (item.is_list() && !item.is_tuple()) fail("unhashable type: 'list'");
      if (item.is_dict()) fail("unhashable type: 'dict'");
      return container.as_dict().find(item) != nullptr;
    default:
      fail("argument of type '{}' is not iterable", container.type_name());
  }
}

}  // namespace mx::jinja
