// Jinja tests (`x is defined`, `x is string`, `n is divisibleby 3`, ...) as jinja2 3.1 defines them.
#include <unordered_map>

#include "tokenizer/jinja/filters.h"
#include "tokenizer/jinja/text.h"

namespace mx::jinja {
namespace {

using Predicate = bool (*)(const Value&);

template <Predicate predicate>
bool unary(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  return predicate(v);
}

bool is_defined(const Value& v) { return !v.is_undefined(); }
bool is_undefined(const Value& v) { return v.is_undefined(); }
bool is_none(const Value& v) { return v.is_none(); }
bool is_boolean(const Value& v) { return v.is_bool(); }
bool is_true(const Value& v) { return v.is_bool() && v.as_bool(); }
bool is_false(const Value& v) { return v.is_bool() && !v.as_bool(); }
bool is_integer(const Value& v) { return v.is_int(); }  // bool is not an integer here
bool is_float(const Value& v) { return v.is_float(); }
bool is_number(const Value& v) { return v.is_number(); }  // Number includes bool
bool is_string(const Value& v) { return v.is_string(); }
bool is_mapping(const Value& v) { return v.is_dict(); }
bool is_callable(const Value& v) { return v.is_callable(); }
bool is_escaped(const Value&) { return false; }  // no Markup objects without autoescape
// len() and __getitem__: str, list, tuple, dict and Undefined (not generators or dict views)
bool is_sequence(const Value& v) {
  return v.is_string() || v.is_plain_list() || v.is_dict() || v.is_undefined();
}
// iter() works: also generators, views, and Undefined (which iterates as empty)
bool is_iterable(const Value& v) { return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined(); }

// str(value).islower() / isupper(): at least one cased character and none of the other case.
template <bool upper>
bool case_test(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  bool cased = false;
  for (char32_t c : to_code_points(to_str(v))) {
    if (upper ? py_islower(c) : py_isupper(c)) return false;
    cased = cased || (upper ? py_isupper(c) : py_islower(c));
  }
  return cased;
}

Value modulo(Interpreter& interp, const Value& v, const Value& divisor) {
  return interp.eval_binary(Op::kMod, v, divisor);
}

bool t_odd(Interpreter& interp, const Value& v, ArgReader& args) {
  args.finish();
  return values_equal(modulo(interp, v, Value(2)), Value(1));
}
bool t_even(Interpreter& interp, const Value& v, ArgReader& args) {
  args.finish();
  return values_equal(modulo(interp, v, Value(2)), Value(0));
}
bool t_divisibleby(Interpreter& interp, const Value& v, ArgReader& args) {
  Value divisor = args.required("num");
  args.finish();
  return values_equal(modulo(interp, v, divisor), Value(0));
}

template <Op op>
bool compare_test(Interpreter&, const Value& v, ArgReader& args) {
  Value other = args.required("other");
  args.finish();
  if (op == Op::kEq) return values_equal(v, other);
  if (op == Op::kNe) return !values_equal(v, other);
  for (const Value* operand : std::initializer_list<const Value*>{&v, &other}) {
    if (operand->is_undefined()) fail("{}", operand->as_undefined().hint);
  }
  int c = compare_values(v, other);
  switch (op) {
    case Op::kLt: return c < 0;
    case Op::kLe: return c <= 0;
    case Op::kGt: return c > 0;
    default: return c >= 0;
  }
}

bool t_in(Interpreter&, const Value& v, ArgReader& args) {
  Value container = args.required("seq");
  args.finish();
  return value_contains(container, v);
}

// Python `is`: identity. Singletons (None, True, False) and shared containers compare exactly;
// for other scalars equal values of the same type are treated as identical (CPython interns
// small ints and short strings, which is what templates rely on in practice).
bool t_sameas(Interpreter&, const Value& v, ArgReader& args) {
  Value other = args.required("other");
  args.finish();
  if (v.kind() != other.kind()) return false;
  if (v.is_list()) return &v.as_list() == &other.as_list();
  if (v.is_dict()) return &v.as_dict() == &other.as_dict();
  return values_equal(v, other);
}

bool t_filter(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  return v.is_string() && is_jinja2_filter(v.as_string());
}
bool t_test(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  return v.is_string() && is_jinja2_test(v.as_string());
}

}  // namespace

bool Interpreter::apply_test(const std::string& name, const Value& subject, CallArgs& args) {
  static const std::unordered_map<std::string, TestFn> table = {
      {"defined", unary<is_defined>}, {"undefined", unary<is_undefined>},
      {"none", unary<is_none>}, {"boolean", unary<is_boolean>},
      {"true", unary<is_true>}, {"false", unary<is_false>},
      {"integer", unary<is_integer>}, {"float", unary<is_float>},
      {"number", unary<is_number>}, {"string", unary<is_string>},
      {"mapping", unary<is_mapping>}, {"sequence", unary<is_sequence>},
      {"iterable", unary<is_iterable>}, {"callable", unary<is_callable>},
      {"escaped", unary<is_escaped>}, {"lower", case_test<false>}, {"upper", case_test<true>},
      {"odd", t_odd}, {"even", t_even}, {"divisibleby", t_divisibleby},
      {"==", compare_test<Op::kEq>}, {"eq", compare_test<Op::kEq>},
      {"equalto", compare_test<Op::kEq>}, {"!=", compare_test<Op::kNe>},
      {"ne", compare_test<Op::kNe>}, {"<", compare_test<Op::kLt>}, {"lt", compare_test<Op::kLt>},
      {"lessthan", compare_test<Op::kLt>}, {"<=", compare_test<Op::kLe>},
      {"le", compare_test<Op::kLe>}, {">", compare_test<Op::kGt>}, {"gt", compare_test<Op::kGt>},
      {"greaterthan", compare_test<Op::kGt>}, {">=", compare_test<Op::kGe>},
      {"ge", compare_test<Op::kGe>}, {"in", t_in}, {"sameas", t_sameas},
      {"filter", t_filter}, {"test", t_test},
  };
  charge_steps(1);
  auto it = table.find(name);
  if (it == table.end()) fail("no test named '{}'", name);
  ArgReader reader(name, args);
  return it->second(*this, subject, reader);
}

}  // namespace mx::jinja
