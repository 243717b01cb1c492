// Scalar and string filters (trim, upper, replace, indent, int, round, tojson, ...) and the
// filter dispatch.
#include "tokenizer/jinja/filters.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "tokenizer/jinja/text.h"

namespace mx::jinja {
namespace {

Value f_trim(Interpreter&, const Value& s, ArgReader& args) {
  Value chars = args.take_or("chars", Value(None{}));
  args.finish();
  const std::string* set = chars.is_none() ? nullptr : &expect_string(chars, "trim chars");
  return Value(py_strip(to_str(s), set, true, true));
}

template <std::string (*fn)(std::string_view)>
Value f_text(Interpreter&, const Value& s, ArgReader& args) {
  args.finish();
  return Value(fn(to_str(s)));
}

// jinja2's title: words start after runs of whitespace or -({[< ; first letter upper, rest lower.
std::string jinja_title(std::string_view text) {
  std::u32string cps = to_code_points(text);
  auto separator = [](char32_t c) {
    return py_isspace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
  };
  bool word_start = true;
  for (char32_t& c : cps) {
    if (separator(c)) {
      word_start = true;
      continue;
    }
    c = word_start ? py_upper(c) : py_lower(c);
    word_start = false;
  }
  return from_code_points(cps);
}

Value f_replace(Interpreter& interp, const Value& s, ArgReader& args) {
  std::string old_text = to_str(args.required("old"));
  std::string new_text = to_str(args.required("new"));
  Value count = args.take_or("count", Value(None{}));
  args.finish();
  std::string out = py_replace(to_str(s), old_text, new_text, count.is_none() ? -1 : expect_int(count, "count"));
  interp.charge_bytes(out.size());
  return Value(std::move(out));
}

Value f_indent(Interpreter& interp, const Value& s, ArgReader& args) {
  Value width = args.take_or("width", Value(4));
  bool first = args.take_or("first", Value(false)).truthy();
  bool blank = args.take_or("blank", Value(false)).truthy();
  args.finish();
  if (!s.is_string()) fail("the indent filter needs a string, not '{}'", s.type_name());
  std::string indention;
  if (width.is_string()) {
    indention = width.as_string();
  } else {
    int64_t n = expect_int(width, "indent width");
    if (n > 0) {
      interp.charge_bytes(static_cast<size_t>(n));
      indention.assign(static_cast<size_t>(n), ' ');
    }
  }
  std::vector<std::string> lines = py_splitlines(to_str(s) + "\n", false);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      out += '\n';
      if (blank || !lines[i].empty()) out += indention;
    }
    out += lines[i];
    interp.charge_bytes(out.size());
  }
  if (first) out = indention + out;
  return Value(std::move(out));
}

Value f_wordcount(Interpreter&, const Value& s, ArgReader& args) {
  args.finish();
  int64_t words = 0;
  bool in_word = false;
  for (char32_t c : to_code_points(to_str(s))) {
    bool word = py_isalnum_word(c);
    if (word && !in_word) ++words;
    in_word = word;
  }
  return Value(words);
}

// Python's float() of a string: strips whitespace, accepts "inf"/"nan" and underscores.
std::optional<double> parse_float(const std::string& text) {
  std::string trimmed = py_strip(text, nullptr, true, true);
  std::string clean;
  for (char c : trimmed) {
    if (c != '_') clean += c;
  }
  if (clean.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  if (clean.find_first_of("xXpP") != std::string::npos) return std::nullopt;  // no hex floats
  return value;
}

std::optional<int64_t> parse_int(const std::string& text, int base) {
  std::string clean;
  for (char c : py_strip(text, nullptr, true, true)) {
    if (c != '_') clean += c;
  }
  size_t start = (!clean.empty() && (clean[0] == '-' || clean[0] == '+')) ? 1 : 0;
  if (base == 16 && clean.compare(start, 2, "0x") == 0) clean.erase(start, 2);
  if (clean.size() <= start || base < 2 || base > 36) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(clean.c_str(), &end, base);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  if (errno == ERANGE) fail_unsupported("int: '{}' does not fit in 64 bits", text.substr(0, 40));
  return static_cast<int64_t>(value);
}

Value f_int(Interpreter&, const Value& v, ArgReader& args) {
  Value fallback = args.take_or("default", Value(0));
  Value base = args.take_or("base", Value(10));
  args.finish();
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(int64_t{v.as_bool()});
  std::optional<double> as_float;
  if (v.is_string()) {
    // jinja2 tries int(value, base), then int(float(value)); any TypeError/ValueError (a bad
    // base included) falls through to the default.
    if (base.is_int() || base.is_bool()) {
      int64_t b = base.is_bool() ? base.as_bool() : base.as_int();
      if (auto parsed = parse_int(v.as_string(), static_cast<int>(std::clamp<int64_t>(b, 0, 37)))) {
        return Value(*parsed);
      }
    }
    as_float = parse_float(v.as_string());  // "42.23"|int is 42
  } else if (v.is_float()) {
    as_float = v.as_float();
  }
  if (as_float && std::isfinite(*as_float)) {
    if (std::fabs(*as_float) >= 9.2e18) fail_unsupported("int: {} does not fit in 64 bits", *as_float);
    return Value(static_cast<int64_t>(std::trunc(*as_float)));
  }
  return fallback;
}

Value f_float(Interpreter&, const Value& v, ArgReader& args) {
  Value fallback = args.take_or("default", Value(0.0));
  args.finish();
  if (v.is_number()) return Value(v.to_double());
  if (v.is_string()) {
    if (auto parsed = parse_float(v.as_string())) return Value(*parsed);
  }
  return fallback;
}

Value f_abs(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) {
    int64_t i = v.is_bool() ? v.as_bool() : v.as_int();
    if (i == INT64_MIN) fail_unsupported("integer overflow in abs");
    return Value(i < 0 ? -i : i);
  }
  fail("bad operand type for abs(): '{}'", v.type_name());
}

Value f_round(Interpreter&, const Value& v, ArgReader& args) {
  int64_t precision = expect_int(args.take_or("precision", Value(0)), "precision");
  std::string method = to_str(args.take_or("method", Value("common")));
  args.finish();
  if (method != "common" && method != "ceil" && method != "floor") {
    fail("method must be common, ceil or floor");
  }
  if (!v.is_number()) fail("type {} doesn't define __round__ method", v.type_name());
  if (precision < 0 || precision > 300) fail_unsupported("round precision {} is not supported", precision);
  if (method == "common") {
    if (!v.is_float()) return Value(int64_t{v.is_bool() ? v.as_bool() : v.as_int()});
    // Python rounds the exact binary value half-to-even, as fixed-point formatting does.
    std::string text = fmt::format("{:.{}f}", v.as_float(), precision);
    return Value(std::strtod(text.c_str(), nullptr));
  }
  double scale = std::pow(10.0, static_cast<double>(precision));
  double scaled = v.to_double() * scale;
  return Value((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Value f_default(Interpreter&, const Value& v, ArgReader& args) {
  Value fallback = args.take_or("default_value", Value(""));
  bool boolean = args.take_or("boolean", Value(false)).truthy();
  args.finish();
  if (v.is_undefined() || (boolean && !v.truthy())) return fallback;
  return v;
}

Value f_escape(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  return Value(html_escape(to_str(v)));
}

Value f_safe(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  return Value(to_str(v));  // no autoescaping in transformers' environment: Markup == str
}

Value f_string(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  return Value(to_str(v));
}

Value f_center(Interpreter& interp, const Value& v, ArgReader& args) {
  CallArgs inner;
  inner.positional.push_back(args.take_or("width", Value(80)));
  args.finish();
  return interp.call(string_method(Value(to_str(v)), "center"), inner);
}

// transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False); without indent Python's separators are ", " and ": ".
Value f_tojson(Interpreter& interp, const Value& v, ArgReader& args) {
  JsonOptions options;
  options.ensure_ascii = args.take_or("ensure_ascii", Value(false)).truthy();
  Value indent = args.take_or("indent", Value(None{}));
  Value separators = args.take_or("separators", Value(None{}));
  options.sort_keys = args.take_or("sort_keys", Value(false)).truthy();
  args.finish();
  if (indent.is_string()) {
    options.indent_string = indent.as_string();
    options.has_indent_string = true;
  } else if (!indent.is_none()) {
    options.indent = static_cast<int>(std::clamp<int64_t>(expect_int(indent, "indent"), 0, 1000));
  }
  if (!separators.is_none()) {
    std::vector<Value> parts = iterate(separators);
    if (parts.size() != 2) fail("tojson separators must be an (item_separator, key_separator) pair");
    options.item_separator = expect_string(parts[0], "item separator");
    options.key_separator = expect_string(parts[1], "key separator");
    options.has_separators = true;
  }
  std::string out = to_json(v, options);
  interp.charge_bytes(out.size());
  return Value(std::move(out));
}

Value f_attr(Interpreter&, const Value& v, ArgReader& args) {
  std::string name = to_str(args.required("name"));
  args.finish();
  // attr() is getattr only: unlike `d.name` it does not fall back to dict keys.
  if (v.is_undefined()) fail("{}", v.as_undefined().hint);
  if (v.is_dict()) {
    Value method = get_attribute(Value::dict(Dict()), name);
    if (method.is_callable() || (method.is_undefined() && method.as_undefined().unsafe)) {
      return get_attribute(v, name);
    }
    return Value::undefined(fmt::format("'dict object' has no attribute '{}'", name));
  }
  return get_attribute(v, name);
}

Value f_format(Interpreter& interp, const Value& v, ArgReader& args) {
  std::vector<Value> rest = args.rest();
  args.finish();
  return format_percent(interp, to_str(v), Value::list(std::move(rest), true));
}

}  // namespace

void add_string_filters(FilterTable& table) {
  table["trim"] = f_trim;
  table["upper"] = f_text<py_upper>;
  table["lower"] = f_text<py_lower>;
  table["capitalize"] = f_text<py_capitalize>;
  table["title"] = f_text<jinja_title>;
  table["replace"] = f_replace;
  table["indent"] = f_indent;
  table["wordcount"] = f_wordcount;
  table["int"] = f_int;
  table["float"] = f_float;
  table["abs"] = f_abs;
  table["round"] = f_round;
  table["default"] = table["d"] = f_default;
  table["escape"] = table["e"] = table["forceescape"] = f_escape;
  table["safe"] = f_safe;
  table["string"] = f_string;
  table["center"] = f_center;
  table["tojson"] = f_tojson;
  table["attr"] = f_attr;
  table["format"] = f_format;
}

Value Interpreter::apply_filter(const std::string& name, const Value& subject, CallArgs& args) {
  static const FilterTable table = [] {
    FilterTable t;
    add_string_filters(t);
    add_sequence_filters(t);
    return t;
  }();
  charge_steps(1);
  auto it = table.find(name);
  if (it == table.end()) {
    if (is_jinja2_filter(name)) fail_unsupported("unsupported filter '{}'", name);
    fail("no filter named '{}'", name);
  }
  ArgReader reader(name, args);
  return it->second(*this, subject, reader);
}

}  // namespace mx::jinja
