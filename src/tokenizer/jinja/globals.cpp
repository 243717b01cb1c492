// Global functions: jinja2's range, dict, namespace (and the unsupported lipsum, cycler, joiner),
// plus transformers' raise_exception and strftime_now.
#include <ctime>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/interpreter.h"

namespace mx::jinja {
namespace {

// jinja2's sandbox refuses ranges longer than this (MAX_RANGE).
constexpr int64_t kMaxRange = 100000;

Value g_range(Interpreter& interp, CallArgs& args) {
  if (!args.keyword.empty()) fail("range() takes no keyword arguments");
  std::vector<int64_t> bounds;
  for (const Value& arg : args.positional) bounds.push_back(expect_int(arg, "range() argument"));
  if (bounds.empty() || bounds.size() > 3) fail("range expected 1 to 3 arguments, got {}", bounds.size());
  int64_t start = bounds.size() == 1 ? 0 : bounds[0];
  int64_t stop = bounds.size() == 1 ? bounds[0] : bounds[1];
  int64_t step = bounds.size() == 3 ? bounds[2] : 1;
  if (step == 0) fail("range() arg 3 must not be zero");
  // Length computed in long double so that extreme bounds cannot overflow.
  long double span = step > 0 ? static_cast<long double>(stop) - start : static_cast<long double>(start) - stop;
  long double count = span <= 0 ? 0 : (span + (step > 0 ? step : -step) - 1) / (step > 0 ? step : -step);
  if (count > kMaxRange) {
    fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE ({}).", kMaxRange);
  }
  interp.check_items(static_cast<size_t>(count));
  std::vector<Value> items;
  for (int64_t i = 0, value = start; i < static_cast<int64_t>(count); ++i, value += step) {
    items.emplace_back(value);
  }
  return Value::list(std::move(items));
}

Value g_dict(Interpreter&, CallArgs& args) {
  Dict dict;
  if (args.positional.size() > 1) fail("dict expected at most 1 argument, got {}", args.positional.size());
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_undefined()) fail("{}", source.as_undefined().hint);
    if (source.is_dict()) {
      dict = source.as_dict();
    } else {
      for (const Value& pair : iterate(source)) {
        std::vector<Value> parts = iterate(pair);
        if (parts.size() != 2) fail("dictionary update sequence element has length {}; 2 is required", parts.size());
        dict.set(parts[0], parts[1]);
      }
    }
  }
  for (auto& [key, value] : args.keyword) dict.set(Value(key), value);
  return Value::dict(std::move(dict));
}

Value g_namespace(Interpreter& interp, CallArgs& args) {
  ObjectPtr object = interp.make_object("Namespace");
  Value initial = g_dict(interp, args);
  for (const auto& [key, value] : initial.as_dict().entries()) object->attributes.set(key, value);
  return Value(object);
}

Value g_raise_exception(Interpreter&, CallArgs& args) {
  ArgReader reader("raise_exception", args);
  Value message = reader.take_or("message", Value(""));
  reader.finish();
  throw TemplateError(TemplateErrorKind::kRaised, to_str(message));
}

Value g_strftime_now(Interpreter& interp, CallArgs& args) {
  ArgReader reader("strftime_now", args);
  std::string format = expect_string(reader.required("format"), "strftime_now format");
  reader.finish();
  if (format.size() > 1000) fail("strftime_now format too long");
  std::time_t now = interp.now();
  std::tm local{};
  localtime_r(&now, &local);
  // Python's datetime.strftime passes the format to the C library as well.
  std::string out(format.size() * 8 + 64, '\0');
  size_t written = std::strftime(out.data(), out.size(), format.c_str(), &local);
  if (written == 0 && !format.empty()) fail("strftime_now: could not format '{}'", format);
  out.resize(written);
  return Value(std::move(out));
}

Value unsupported_global(const char* name) {
  std::string label = name;
  return callable(label, [label](Interpreter&, CallArgs&) -> Value {
    fail_unsupported("unsupported global function '{}'", label);
  });
}

}  // namespace

void add_globals(Frame& frame) {
  frame.vars["range"] = callable("range", g_range);
  frame.vars["dict"] = callable("dict", g_dict);
  frame.vars["namespace"] = callable("namespace", g_namespace);
  frame.vars["raise_exception"] = callable("raise_exception", g_raise_exception);
  frame.vars["strftime_now"] = callable("strftime_now", g_strftime_now);
  for (const char* name : {"lipsum", "cycler", "joiner"}) frame.vars[name] = unsupported_global(name);
}

}  // namespace mx::jinja
