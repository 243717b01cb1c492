// Python str methods available to templates ("x".strip(), .split(), .startswith(), ...), plus
// str.format and the % operator for the common cases.
#include <algorithm>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/text.h"

namespace mx::jinja {
namespace {

using Method = Value (*)(Interpreter&, const std::string&, ArgReader&);

const std::string* optional_chars(const Value& value, std::string_view what) {
  if (value.is_none()) return nullptr;
  return &expect_string(value, what);
}

Value strip_impl(const std::string& self, ArgReader& args, bool left, bool right) {
  Value chars = args.take_or("chars", Value(None{}));
  args.finish();
  return Value(py_strip(self, optional_chars(chars, "strip arg"), left, right));
}

Value split_impl(const std::string& self, ArgReader& args, bool from_right) {
  Value sep = args.take_or("sep", Value(None{}));
  int64_t maxsplit = expect_int(args.take_or("maxsplit", Value(int64_t{-1})), "maxsplit");
  args.finish();
  std::vector<Value> parts;
  for (std::string& part : py_split(self, optional_chars(sep, "separator"), maxsplit, from_right)) {
    parts.emplace_back(std::move(part));
  }
  return Value::list(std::move(parts));
}

// startswith / endswith accept a string or a tuple of strings.
Value affix_impl(const std::string& self, ArgReader& args, bool at_start) {
  Value affix = args.required("prefix");
  args.finish();
  std::vector<Value> options = affix.is_tuple() ? affix.as_list().items : std::vector<Value>{affix};
  for (const Value& option : options) {
    const std::string& text = expect_string(option, at_start ? "startswith arg" : "endswith arg");
    if (text.size() > self.size()) continue;
    if (at_start ? self.compare(0, text.size(), text) == 0
                 : self.compare(self.size() - text.size(), text.size(), text) == 0) {
      return Value(true);
    }
  }
  return Value(false);
}

Value find_impl(const std::string& self, ArgReader& args, bool from_right, bool must_exist) {
  std::string needle = expect_string(args.required("sub"), "substring");
  args.finish();
  long found = py_find(self, needle, from_right);
  if (found < 0 && must_exist) fail("substring not found");
  return Value(static_cast<int64_t>(found));
}

template <bool (*predicate)(char32_t)>
Value all_of(const std::string& self, ArgReader& args) {
  args.finish();
  std::u32string cps = to_code_points(self);
  return Value(!cps.empty() && std::all_of(cps.begin(), cps.end(), predicate));
}

bool is_alnum(char32_t c) { return py_isalpha(c) || py_isdigit(c); }

Value join_impl(Interpreter& interp, const std::string& self, ArgReader& args) {
  Value iterable = args.required("iterable");
  args.finish();
  std::string out;
  bool first = true;
  for (const Value& item : iterate(iterable)) {
    if (!item.is_string()) fail("sequence item: expected str instance, {} found", item.type_name());
    if (!first) out += self;
    first = false;
    out += item.as_string();
    interp.charge_bytes(out.size());
  }
  return Value(std::move(out));
}

Value pad_impl(Interpreter& interp, const std::string& self, ArgReader& args, int align) {
  int64_t width = expect_int(args.required("width"), "width");
  std::string fill = expect_string(args.take_or("fillchar", Value(" ")), "fillchar");
  args.finish();
  if (code_point_count(fill) != 1) fail("the fill character must be exactly one character long");
  int64_t length = static_cast<int64_t>(code_point_count(self));
  if (width <= length) return Value(self);
  interp.charge_bytes(static_cast<size_t>(width) * fill.size());
  int64_t total = width - length;
  // center: Python puts the extra space on the left when the string's length is odd
  int64_t left = align < 0 ? 0 : align > 0 ? total : total / 2 + (total & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += self;
  for (int64_t i = 0; i < total - left; ++i) out += fill;
  return Value(std::move(out));
}

Value partition_impl(const std::string& self, ArgReader& args, bool from_right) {
  std::string sep = expect_string(args.required("sep"), "separator");
  args.finish();
  if (sep.empty()) fail("empty separator");
  size_t at = from_right ? self.rfind(sep) : self.find(sep);
  if (at == std::string::npos) {
    return from_right ? Value::list({Value(""), Value(""), Value(self)}, true)
                      : Value::list({Value(self), Value(""), Value("")}, true);
  }
  return Value::list({Value(self.substr(0, at)), Value(sep), Value(self.substr(at + sep.size()))}, true);
}

Value dispatch(Interpreter& interp, const std::string& self, const std::string& name, ArgReader& args) {
  if (name == "strip") return strip_impl(self, args, true, true);
  if (name == "lstrip") return strip_impl(self, args, true, false);
  if (name == "rstrip") return strip_impl(self, args, false, true);
  if (name == "split") return split_impl(self, args, false);
  if (name == "rsplit") return split_impl(self, args, true);
  if (name == "startswith") return affix_impl(self, args, true);
  if (name == "endswith") return affix_impl(self, args, false);
  if (name == "find") return find_impl(self, args, false, false);
  if (name == "rfind") return find_impl(self, args, true, false);
  if (name == "index") return find_impl(self, args, false, true);
  if (name == "rindex") return find_impl(self, args, true, true);
  if (name == "join") return join_impl(interp, self, args);
  if (name == "center") return pad_impl(interp, self, args, 0);
  if (name == "ljust") return pad_impl(interp, self, args, -1);
  if (name == "rjust") return pad_impl(interp, self, args, 1);
  if (name == "partition") return partition_impl(self, args, false);
  if (name == "rpartition") return partition_impl(self, args, true);
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric") return all_of<py_isdigit>(self, args);
  if (name == "isalpha") return all_of<py_isalpha>(self, args);
  if (name == "isspace") return all_of<py_isspace>(self, args);
  if (name == "isalnum") {
    return all_of<is_alnum>(self, args);
  }
  if (name == "count") {
    std::string needle = expect_string(args.required("sub"), "substring");
    args.finish();
    return Value(static_cast<int64_t>(py_count(self, needle)));
  }
  if (name == "replace") {
    std::string old_text = expect_string(args.required("old"), "replace() argument 1");
    std::string new_text = expect_string(args.required("new"), "replace() argument 2");
    int64_t count = expect_int(args.take_or("count", Value(int64_t{-1})), "count");
    args.finish();
    std::string out = py_replace(self, old_text, new_text, count);
    interp.charge_bytes(out.size());
    return Value(std::move(out));
  }
  if (name == "splitlines") {
    bool keepends = args.take_or("keepends", Value(false)).truthy();
    args.finish();
    std::vector<Value> lines;
    for (std::string& line : py_splitlines(self, keepends)) lines.emplace_back(std::move(line));
    return Value::list(std::move(lines));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    std::string affix = expect_string(args.required("affix"), name + " argument");
    args.finish();
    bool prefix = name == "removeprefix";
    if (affix.size() <= self.size() &&
        (prefix ? self.compare(0, affix.size(), affix) == 0
                : self.compare(self.size() - affix.size(), affix.size(), affix) == 0)) {
      return Value(prefix ? self.substr(affix.size()) : self.substr(0, self.size() - affix.size()));
    }
    return Value(self);
  }
  args.finish();
  if (name == "upper") return Value(py_upper(self));
  if (name == "lower" || name == "casefold") return Value(py_lower(self));
  if (name == "title") return Value(py_title(self));
  if (name == "capitalize") return Value(py_capitalize(self));
  if (name == "swapcase") return Value(py_swapcase(self));
  if (name == "isupper" || name == "islower") {
    std::u32string cps = to_code_points(self);
    bool upper = name == "isupper", cased = false;
    for (char32_t c : cps) {
      if (upper ? py_islower(c) : py_isupper(c)) return Value(false);
      cased = cased || (upper ? py_isupper(c) : py_islower(c));
    }
    return Value(cased);
  }
  fail_unsupported("unsupported string method '{}'", name);
}

constexpr std::string_view kStrMethods[] = {
    "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find",
    "format", "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit",
    "isidentifier", "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join",
    "ljust", "lower", "lstrip", "maketrans", "partition", "removeprefix", "removesuffix", "replace",
    "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines",
    "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill"};

}  // namespace

Value format_braces(Interpreter& interp, const std::string& format, CallArgs& args);

Value string_method(const Value& self, const std::string& name) {
  if (std::find(std::begin(kStrMethods), std::end(kStrMethods), name) == std::end(kStrMethods)) {
    return Value();
  }
  return callable("str." + name, [self, name](Interpreter& interp, CallArgs& call_args) {
    if (name == "format") return format_braces(interp, self.as_string(), call_args);
    ArgReader args("str." + name, call_args);
    return dispatch(interp, self.as_string(), name, args);
  });
}

}  // namespace mx::jinja
