// Attribute access, subscripts and slices with jinja2's sandbox semantics, and the dict and list
// methods templates call (items, keys, values, get; index, count). Mutating methods
// (list.append, dict.update, ...) are refused as ImmutableSandboxedEnvironment refuses them:
// looking one up gives an Undefined that fails when called.
#include <algorithm>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/text.h"

namespace mx::jinja {

Value callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn) {
  return Value(CallablePtr(std::make_shared<Callable>(Callable{std::move(name), std::move(fn)})));
}

namespace {

Value unsafe(const Value& self, const std::string& name) {
  return Value(Undefined{fmt::format("access to attribute '{}' of '{}' object is unsafe.", name,
                                     self.type_name()),
                         true});
}

Value no_attribute(const Value& self, const std::string& name) {
  if (self.is_none()) return Value::undefined(fmt::format("'None' has no attribute '{}'", name));
  return Value::undefined(fmt::format("'{} object' has no attribute '{}'", self.type_name(), name));
}

Value dict_method(const Value& self, const std::string& name) {
  if (name == "items" || name == "keys" || name == "values") {
    return callable("dict." + name, [self, name](Interpreter&, CallArgs& args) {
      ArgReader("dict." + name, args).finish();
      std::vector<Value> out;
      for (const auto& [key, value] : self.as_dict().entries()) {
        if (name == "items") {
          out.push_back(Value::list({key, value}, true));
        } else {
          out.push_back(name == "keys" ? key : value);
        }
      }
      return Value::view(std::move(out), "dict_" + name);
    });
  }
  if (name == "get") {
    return callable("dict.get", [self](Interpreter&, CallArgs& args) {
      ArgReader reader("dict.get", args);
      Value key = reader.required("key");
      Value fallback = reader.take_or("default", Value(None{}));
      reader.finish();
      if ((key.is_list() && !key.is_tuple()) || key.is_dict()) fail("unhashable type: '{}'", key.type_name());
      const Value* found = self.as_dict().find(key);
      return found ? *found : fallback;
    });
  }
  if (name == "copy") {
    return callable("dict.copy", [self](Interpreter&, CallArgs& args) {
      ArgReader("dict.copy", args).finish();
      return self;
    });
  }
  if (name == "pop" || name == "popitem" || name == "setdefault" || name == "update" ||
      name == "clear") {
    return unsafe(self, name);
  }
  if (name == "fromkeys") {
    return callable("dict.fromkeys", [](Interpreter&, CallArgs&) -> Value {
      fail_unsupported("unsupported dict method 'fromkeys'");
    });
  }
  return Value();
}

Value list_method(const Value& self, const std::string& name) {
  if (name == "index" || name == "count") {
    return callable("list." + name, [self, name](Interpreter&, CallArgs& args) {
      ArgReader reader("list." + name, args);
      Value needle = reader.required("value");
      reader.finish();
      const auto& items = self.as_list().items;
      int64_t count = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        if (!values_equal(items[i], needle)) continue;
        if (name == "index") return Value(static_cast<int64_t>(i));
        ++count;
      }
      if (name == "index") fail("{} is not in list", to_repr(needle));
      return Value(count);
    });
  }
  if (name == "copy" && !self.is_tuple()) {
    return callable("list.copy", [self](Interpreter&, CallArgs& args) {
      ArgReader("list.copy", args).finish();
      return self;
    });
  }
  if (!self.is_tuple() && (name == "append" || name == "extend" || name == "insert" ||
                           name == "pop" || name == "remove" || name == "reverse" ||
                           name == "sort" || name == "clear")) {
    return unsafe(self, name);
  }
  return Value();
}

// Methods of the receiver's type, or Undefined (kUndefined with empty hint) when none matches.
Value method_of(const Value& self, const std::string& name) {
  if (!name.empty() && name[0] == '_') return Value();  // the sandbox hides _private attributes
  if (self.is_dict()) return dict_method(self, name);
  if (self.is_plain_list()) return list_method(self, name);
  if (self.is_string()) return string_method(self, name);
  return Value();
}

}  // namespace

Value get_attribute(const Value& object, const std::string& name) {
  // Python getattr first (methods win over keys: d.items is the method), then obj[name].
  Value method = method_of(object, name);
  if (!method.is_undefined() || !method.as_undefined().hint.empty()) return method;
  if (object.is_dict()) {
    const Value* found = object.as_dict().find(std::string_view(name));
    if (found) return *found;
  } else if (object.is_object()) {
    const Value* found = object.as_object().attributes.find(std::string_view(name));
    if (found) return *found;
  }
  return no_attribute(object, name);
}

Value get_item(const Value& object, const Value& key) {
  // jinja2: obj[key] first, then getattr(obj, key) for string keys.
  if (object.is_dict()) {
    bool hashable = !((key.is_list() && !key.is_tuple()) || key.is_dict() || key.is_object() ||
                      key.is_callable());
    if (hashable) {
      const Value* found = object.as_dict().find(key);
      if (found) return *found;
    }
  } else if ((object.is_plain_list() || object.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t index = key.is_bool() ? key.as_bool() : key.as_int();
    if (object.is_list()) {
      const auto& items = object.as_list().items;
      int64_t size = static_cast<int64_t>(items.size());
      if (index < 0) index += size;
      if (index >= 0 && index < size) return items[static_cast<size_t>(index)];
    } else {
      std::u32string cps = to_code_points(object.as_string());
      int64_t size = static_cast<int64_t>(cps.size());
      if (index < 0) index += size;
      if (index >= 0 && index < size) return Value(from_code_points(cps.substr(static_cast<size_t>(index), 1)));
    }
    return Value::undefined(fmt::format("{} object has no element {}", object.type_name(), index));
  } else if (object.is_object() && key.is_string()) {
    const Value* found = object.as_object().attributes.find(std::string_view(key.as_string()));
    if (found) return *found;
  }
  if (key.is_string()) {
    Value method = method_of(object, key.as_string());
    if (!method.is_undefined() || !method.as_undefined().hint.empty()) return method;
    return no_attribute(object, key.as_string());
  }
  return Value::undefined(fmt::format("{} object has no element {}", object.type_name(), to_repr(key)));
}

namespace {

// A slice with bad index types is a TypeError in Python, which jinja2's getitem turns into an
// Undefined result.
struct BadSlice {};

int64_t slice_index(const Value& value, const char* what) {
  (void)what;
  if (value.is_bool()) return value.as_bool();
  if (value.is_int()) return value.as_int();
  throw BadSlice{};
}

// Python's slice.indices(): the positions the slice visits.
std::vector<size_t> slice_positions(size_t size, const Value& start_v, const Value& stop_v,
                                    const Value& step_v) {
  int64_t n = static_cast<int64_t>(size);
  int64_t step = step_v.is_none() ? 1 : slice_index(step_v, "step");
  if (step == 0) fail("slice step cannot be zero");
  auto clamp = [&](const Value& v, int64_t fallback, const char* what) {
    if (v.is_none()) return fallback;
    int64_t i = slice_index(v, what);
    if (i < 0) i += n;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t start = clamp(start_v, step > 0 ? 0 : n - 1, "start");
  int64_t stop = clamp(stop_v, step > 0 ? n : -1, "stop");
  std::vector<size_t> positions;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    positions.push_back(static_cast<size_t>(i));
  }
  return positions;
}

}  // namespace

static Value slice_or_throw(const Value& object, const Value& start, const Value& stop, const Value& step);

Value slice_value(const Value& object, const Value& start, const Value& stop, const Value& step) {
  try {
    return slice_or_throw(object, start, stop, step);
  } catch (const BadSlice&) {
    return Value::undefined(fmt::format("{} object cannot be sliced with these indices", object.type_name()));
  }
}

static Value slice_or_throw(const Value& object, const Value& start, const Value& stop,
                            const Value& step) {
  if (object.is_string()) {
    std::u32string cps = to_code_points(object.as_string());
    std::u32string out;
    for (size_t i : slice_positions(cps.size(), start, stop, step)) out += cps[i];
    return Value(from_code_points(out));
  }
  if (object.is_plain_list()) {
    const auto& items = object.as_list().items;
    std::vector<Value> out;
    for (size_t i : slice_positions(items.size(), start, stop, step)) out.push_back(items[i]);
    return Value::list(std::move(out), object.is_tuple());
  }
  throw BadSlice{};
}

}  // namespace mx::jinja
