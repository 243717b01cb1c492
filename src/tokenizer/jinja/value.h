// Jinja values with Python semantics.
//
// Chat templates are written against Python objects (what Hugging Face transformers passes to
// jinja2), so every value here behaves like its Python counterpart: truthiness, equality
// (1 == 1.0 == True), ordering, str() for output ("True", "None", "['a', 1]") and json.dumps for
// `tojson`. Lists and dicts are shared, immutable once built (transformers renders in jinja2's
// ImmutableSandboxedEnvironment, where list.append and dict.update are refused); the only mutable
// objects are namespaces (`{% set ns.x = ... %}`).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "tokenizer/jinja/error.h"

namespace mx::jinja {

class Value;
class Interpreter;

// jinja2's Undefined: prints as "", is falsy, iterates as empty; most other uses fail with `hint`
// (e.g. "'dict object' has no attribute 'foo'"). `unsafe` marks the sandbox's refusal of a
// mutating method (list.append): calling it is an error, as in the sandbox.
struct Undefined {
  std::string hint;
  bool unsafe = false;
};
struct None {};

struct List {
  std::vector<Value> items;
  bool is_tuple = false;  // prints as (a, b) instead of [a, b]
  // Python objects that are not lists but iterate like them, kept distinct because templates
  // observe the difference: "generator" and "list_reverseiterator" (what map/select/reverse
  // return: always truthy, no len(), not subscriptable) and "dict_items"/"dict_keys"/
  // "dict_values" (len() but no subscript). Empty for real lists and tuples.
  std::string view;
  int depth = 1;  // nesting of lists/dicts inside (bounded: see kMaxValueNesting)
  // Generators are lazy in jinja2: `x | map('int')` only fails when something iterates it, and
  // printing it never does. We evaluate eagerly and keep the error here, thrown on iteration.
  std::shared_ptr<const TemplateError> deferred_error;
  bool is_iterator() const { return view == "generator" || view == "list_reverseiterator"; }
};

// Insertion-ordered like Python's dict. Keys are hashable scalars (str, int, float, bool, None,
// tuples of those); `index` maps a canonical key form to the entry, so 1, 1.0 and True collide as
// they do in Python.
class Dict {
 public:
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(Value key, Value value);
  size_t size() const;  // defined below Value: std::pair<Value, Value> needs Value complete
  int depth() const { return depth_; }
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<Value, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
  int depth_ = 1;
};

// Lists and dicts nest at most this deep. A template can build nesting in a loop
// ({% set ns.x = [ns.x] %}); unbounded, printing, comparing or even destroying such a value
// would recurse off the stack.
inline constexpr int kMaxValueNesting = 512;
// Nesting depth a value adds to a container holding it (0 for scalars and objects).
int nesting_depth(const Value& value);

// Attribute bags that are not mappings: namespace() objects and the for-loop's `loop`.
struct Object {
  std::string type_name;  // "Namespace", "LoopContext"
  Dict attributes;
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Built-in functions, bound methods ("abc".upper) and macros.
struct Callable {
  std::string name;
  std::function<Value(Interpreter&, CallArgs&)> call;
};

using ListPtr = std::shared_ptr<const List>;
using DictPtr = std::shared_ptr<const Dict>;
using ObjectPtr = std::shared_ptr<Object>;
using CallablePtr = std::shared_ptr<const Callable>;

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kObject, kCallable };

  Value() : data_(Undefined{}) {}
  Value(None) : data_(None{}) {}  // NOLINT(google-explicit-constructor)
  Value(bool b) : data_(b) {}  // NOLINT
  Value(int64_t i) : data_(i) {}  // NOLINT
  Value(int i) : data_(int64_t{i}) {}  // NOLINT
  Value(double f) : data_(f) {}  // NOLINT
  Value(std::string s) : data_(std::move(s)) {}  // NOLINT
  Value(std::string_view s) : data_(std::string(s)) {}  // NOLINT
  Value(const char* s) : data_(std::string(s)) {}  // NOLINT
  Value(Undefined u) : data_(std::move(u)) {}  // NOLINT
  Value(ListPtr l) : data_(std::move(l)) {}  // NOLINT
  Value(DictPtr d) : data_(std::move(d)) {}  // NOLINT
  Value(ObjectPtr o) : data_(std::move(o)) {}  // NOLINT
  Value(CallablePtr c) : data_(std::move(c)) {}  // NOLINT

  static Value undefined(std::string hint) { return Value(Undefined{std::move(hint), false}); }
  static Value list(std::vector<Value> items, bool is_tuple = false);
  static Value view(std::vector<Value> items, std::string view_name);
  static Value dict(Dict dict);

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_list() const { return kind() == Kind::kList; }  // lists, tuples and views
  bool is_plain_list() const { return is_list() && as_list().view.empty(); }  // list or tuple
  bool is_tuple() const { return is_list() && as_list().is_tuple; }
  bool is_dict() const { return kind() == Kind::kDict; }
  bool is_object() const { return kind() == Kind::kObject; }
  bool is_callable() const { return kind() == Kind::kCallable; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  double as_float() const { return std::get<double>(data_); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const List& as_list() const { return *std::get<ListPtr>(data_); }
  const Dict& as_dict() const { return *std::get<DictPtr>(data_); }
  Object& as_object() const { return *std::get<ObjectPtr>(data_); }
  const Callable& as_callable() const { return *std::get<CallablePtr>(data_); }
  const Undefined& as_undefined() const { return std::get<Undefined>(data_); }
  const ObjectPtr& object_ptr() const { return std::get<ObjectPtr>(data_); }

  // Python's bool(x).
  bool truthy() const;
  // Numeric value of bool/int/float as a double (callers check is_number()).
  double to_double() const;
  // Python's type name for error messages: "str", "int", "dict", "NoneType", ...
  std::string type_name() const;

 private:
  std::variant<Undefined, None, bool, int64_t, double, std::string, ListPtr, DictPtr, ObjectPtr,
               CallablePtr>
      data_;
};

inline size_t Dict::size() const { return entries_.size(); }

// Python ==. Never fails.
bool values_equal(const Value& a, const Value& b);
// Python <, returning -1/0/1; throws a TemplateError for unorderable types ("'<' not supported
// between instances of 'str' and 'int'").
int compare_values(const Value& a, const Value& b);
// Canonical key for dict lookup; throws for unhashable values (lists, dicts).
std::string hash_key(const Value& key);

// Python's str(x) as jinja2 prints it in {{ x }} (Undefined prints as "").
std::string to_str(const Value& value);
// Python's repr(x).
std::string to_repr(const Value& value);
void append_repr(std::string& out, const Value& value);
// float.__repr__: shortest round-trip digits, "1e+16", "1e-05", "2.0".
std::string format_float(double value);

// json.dumps(value, ensure_ascii=..., indent=..., separators=..., sort_keys=...), the way
// transformers' tojson filter calls it. `indent` < 0 means None; `indent_string` overrides it
// when the template passes a string indent.
struct JsonOptions {
  bool ensure_ascii = false;
  int indent = -1;
  std::string indent_string;
  bool has_indent_string = false;
  std::string item_separator;  // default ", " without indent, "," with indent
  std::string key_separator = ": ";
  bool has_separators = false;
  bool sort_keys = false;
};
std::string to_json(const Value& value, const JsonOptions& options);

}  // namespace mx::jinja
