// Python semantics of values: truthiness, equality, ordering, hashing.
#include "tokenizer/jinja/value.h"

#include <algorithm>
#include <cmath>

namespace mx::jinja {

Error TemplateError::to_error() const {
  ErrorCode code = ErrorCode::kInvalidArgument;
  if (kind_ == TemplateErrorKind::kUnsupported) code = ErrorCode::kUnsupported;
  if (kind_ == TemplateErrorKind::kLimit) code = ErrorCode::kOutOfRange;
  if (pos_.line <= 0) return Error{code, message_};
  return Error{code, fmt::format("{} (template line {}, column {})", message_, pos_.line,
                                 pos_.column)};
}

int nesting_depth(const Value& value) {
  if (value.is_list()) return value.as_list().depth;
  if (value.is_dict()) return value.as_dict().depth();
  return 0;
}

namespace {
int checked_depth(const std::vector<Value>& items) {
  int depth = 0;
  for (const Value& item : items) depth = std::max(depth, nesting_depth(item));
  if (depth + 1 > kMaxValueNesting) {
    throw TemplateError(TemplateErrorKind::kLimit,
                        fmt::format("value nested more than {} levels deep", kMaxValueNesting));
  }
  return depth + 1;
}
}  // namespace

Value Value::list(std::vector<Value> items, bool is_tuple) {
  auto list = std::make_shared<List>();
  list->depth = checked_depth(items);
  list->items = std::move(items);
  list->is_tuple = is_tuple;
  return Value(ListPtr(std::move(list)));
}

Value Value::view(std::vector<Value> items, std::string view_name) {
  auto list = std::make_shared<List>();
  list->depth = checked_depth(items);
  list->items = std::move(items);
  list->view = std::move(view_name);
  return Value(ListPtr(std::move(list)));
}

Value Value::dict(Dict dict) { return Value(DictPtr(std::make_shared<Dict>(std::move(dict)))); }

bool Value::truthy() const {
  switch (kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return as_bool();
    case Kind::kInt:
      return as_int() != 0;
    case Kind::kFloat:
      return as_float() != 0.0;
    case Kind::kString:
      return !as_string().empty();
    case Kind::kList:
      return as_list().is_iterator() || !as_list().items.empty();
    case Kind::kDict:
      return as_dict().size() != 0;
    case Kind::kObject:
    case Kind::kCallable:
      return true;
  }
  return false;
}

double Value::to_double() const {
  if (is_bool()) return as_bool() ? 1.0 : 0.0;
  if (is_int()) return static_cast<double>(as_int());
  return as_float();
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kList:
      if (!as_list().view.empty()) return as_list().view;
      return as_list().is_tuple ? "tuple" : "list";
    case Kind::kDict:
      return "dict";
    case Kind::kObject:
      return as_object().type_name;
    case Kind::kCallable:
      return "function";
  }
  return "object";
}

namespace {

// Exact comparison of int64 and double, as Python compares int with float.
int compare_numbers(const Value& a, const Value& b) {
  if (!a.is_float() && !b.is_float()) {
    int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  double x = a.to_double(), y = b.to_double();
  if (std::isnan(x) || std::isnan(y)) return 2;  // unordered: neither <, == nor >
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool lists_equal(const List& a, const List& b) {
  // Python: [1] != (1,); iterators compare by identity
  if (a.is_iterator() || b.is_iterator()) return &a == &b;
  if (a.is_tuple != b.is_tuple || a.view != b.view || a.items.size() != b.items.size()) return false;
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (!values_equal(a.items[i], b.items[i])) return false;
  }
  return true;
}

bool dicts_equal(const Dict& a, const Dict& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a.entries()) {
    const Value* other = b.find(key);
    if (other == nullptr || !values_equal(value, *other)) return false;
  }
  return true;
}

}  // namespace

bool values_equal(const Value& a, const Value& b) {
  using Kind = Value::Kind;
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kString:
      return a.as_string() == b.as_string();
    case Kind::kList:
      return lists_equal(a.as_list(), b.as_list());
    case Kind::kDict:
      return dicts_equal(a.as_dict(), b.as_dict());
    case Kind::kObject:
      return a.object_ptr() == b.object_ptr();
    case Kind::kCallable:
      return &a.as_callable() == &b.as_callable();
    default:
      return false;
  }
}

int compare_values(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    int c = compare_numbers(a, b);
    return c == 2 ? 0 : c;  // NaN: callers treat 0 as "not less"; good enough for sorting
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());  // UTF-8 byte order == code point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_plain_list() && b.is_plain_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!values_equal(x[i], y[i])) return compare_values(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  fail("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name());
}

std::string hash_key(const Value& key) {
  using Kind = Value::Kind;
  switch (key.kind()) {
    case Kind::kNone:
      return "N";
    case Kind::kBool:
      return key.as_bool() ? "n1" : "n0";
    case Kind::kInt:
      return "n" + std::to_string(key.as_int());
    case Kind::kFloat: {
      double f = key.as_float();
      // 2.0 must collide with 2 (Python: hash(2.0) == hash(2) and 2.0 == 2)
      if (std::isfinite(f) && f == std::floor(f) && std::fabs(f) < 9.2e18) {
        return "n" + std::to_string(static_cast<int64_t>(f));
      }
      return "f" + format_float(f);
    }
    case Kind::kString:
      return "s" + key.as_string();
    case Kind::kUndefined:
      return "U";
    case Kind::kList:
      if (key.is_tuple()) {
        std::string out = "t(";
        for (const Value& item : key.as_list().items) out += hash_key(item) + "\x1f";
        return out + ")";
      }
      break;
    default:
      break;
  }
  fail("unhashable type: '{}'", key.type_name());
}

const Value* Dict::find(const Value& key) const {
  if (key.is_list() && !key.is_tuple()) return nullptr;
  if (key.is_dict() || key.is_object() || key.is_callable()) return nullptr;
  auto it = index_.find(hash_key(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

const Value* Dict::find(std::string_view key) const {
  std::string hashed = "s";
  hashed += key;
  auto it = index_.find(hashed);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Dict::set(Value key, Value value) {
  int depth = 1 + std::max(nesting_depth(key), nesting_depth(value));
  if (depth > kMaxValueNesting) {
    throw TemplateError(TemplateErrorKind::kLimit,
                        fmt::format("value nested more than {} levels deep", kMaxValueNesting));
  }
  depth_ = std::max(depth_, depth);
  std::string hashed = hash_key(key);
  auto it = index_.find(hashed);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);  // Python keeps the first key object
    return;
  }
  index_.emplace(std::move(hashed), entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

}  // namespace mx::jinja
