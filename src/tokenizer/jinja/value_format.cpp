// How values print: Python's str() and repr(), float.__repr__, and json.dumps for `tojson`.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "tokenizer/jinja/text.h"
#include "tokenizer/jinja/value.h"
#include "tokenizer/utf8.h"

namespace mx::jinja {

std::string format_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  // Shortest round-trip digits in scientific form, e.g. "1.2345e+02", then laid out as Python's
  // repr does: fixed notation for exponents in [-4, 16), scientific otherwise.
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value,
                                 std::chars_format::scientific);
  (void)ec;
  std::string sci(buffer, end);
  size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  int exponent = std::atoi(sci.c_str() + e_pos + 1);
  bool negative = mantissa[0] == '-';
  std::string digits;
  for (char c : mantissa) {
    if (c >= '0' && c <= '9') digits += c;
  }
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else {
      size_t int_len = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_len) {
        out += digits + std::string(int_len - digits.size(), '0') + ".0";
      } else {
        out += digits.substr(0, int_len) + "." + digits.substr(int_len);
      }
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  out += exponent < 0 ? "e-" : "e+";
  int magnitude = std::abs(exponent);
  if (magnitude < 10) out += '0';
  out += std::to_string(magnitude);
  return out;
}

namespace {

void append_hex_escape(std::string& out, char32_t c) {
  if (c < 0x100) {
    out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
  } else if (c < 0x10000) {
    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
  } else {
    out += fmt::format("\\U{:08x}", static_cast<unsigned>(c));
  }
}

void append_string_repr(std::string& out, const std::string& text) {
  // Python prefers single quotes; it switches to double quotes when the text has a ' and no ".
  char quote = '\'';
  if (text.find('\'') != std::string::npos && text.find('"') == std::string::npos) quote = '"';
  out += quote;
  size_t pos = 0;
  while (pos < text.size()) {
    char32_t c = decode_utf8(text, pos);
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!py_isprintable(c)) {
      append_hex_escape(out, c);
    } else {
      append_code_point(out, c);
    }
  }
  out += quote;
}

}  // namespace

namespace {
// Objects can contain themselves (ns.self = ns), so repr bounds its own recursion; Python
// raises RecursionError in the same situation.
thread_local int repr_depth = 0;
struct ReprDepth {
  ReprDepth() {
    if (++repr_depth > kMaxValueNesting) {
      --repr_depth;
      fail("maximum recursion depth exceeded while printing a value");
    }
  }
  ~ReprDepth() { --repr_depth; }
};
}  // namespace

void append_repr(std::string& out, const Value& value) {
  using Kind = Value::Kind;
  ReprDepth guard;
  switch (value.kind()) {
    case Kind::kString:
      append_string_repr(out, value.as_string());
      return;
    case Kind::kList: {
      const List& list = value.as_list();
      if (list.is_iterator()) {
        out += "<" + list.view + " object>";
        return;
      }
      if (!list.view.empty()) out += list.view + "(";
      out += list.is_tuple ? '(' : '[';
      for (size_t i = 0; i < list.items.size(); ++i) {
        if (i > 0) out += ", ";
        append_repr(out, list.items[i]);
      }
      if (list.is_tuple && list.items.size() == 1) out += ',';
      out += list.is_tuple ? ')' : ']';
      if (!list.view.empty()) out += ")";
      return;
    }
    case Kind::kDict: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : value.as_dict().entries()) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, key);
        out += ": ";
        append_repr(out, item);
      }
      out += '}';
      return;
    }
    case Kind::kUndefined:
      out += "Undefined";
      return;
    default:
      out += to_str(value);
  }
}

std::string to_repr(const Value& value) {
  std::string out;
  append_repr(out, value);
  return out;
}

std::string to_str(const Value& value) {
  using Kind = Value::Kind;
  switch (value.kind()) {
    case Kind::kUndefined:
      return "";
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return value.as_bool() ? "True" : "False";
    case Kind::kInt:
      return std::to_string(value.as_int());
    case Kind::kFloat:
      return format_float(value.as_float());
    case Kind::kString:
      return value.as_string();
    case Kind::kList:
    case Kind::kDict:
      return to_repr(value);
    case Kind::kObject: {
      const Object& object = value.as_object();
      if (object.type_name == "LoopContext") {  // jinja2: <LoopContext 2/3>
        const Value* index = object.attributes.find(std::string_view("index"));
        const Value* length = object.attributes.find(std::string_view("length"));
        return fmt::format("<LoopContext {}/{}>", index ? to_str(*index) : "?", length ? to_str(*length) : "?");
      }
      std::string out = "<" + object.type_name + " {";
      bool first = true;
      for (const auto& [key, item] : object.attributes.entries()) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, key);
        out += ": ";
        append_repr(out, item);
      }
      return out + "}>";
    }
    case Kind::kCallable:
      return fmt::format("<function {}>", value.as_callable().name);
  }
  return "";
}

namespace {

void append_json_string(std::string& out, const std::string& text, bool ensure_ascii) {
  out += '"';
  size_t pos = 0;
  while (pos < text.size()) {
    char32_t c = decode_utf8(text, pos);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || (ensure_ascii && c > 0x7E)) {
          if (c >= 0x10000) {  // UTF-16 surrogate pair, as json.dumps writes it
            char32_t v = c - 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", static_cast<unsigned>(0xD800 + (v >> 10)),
                               static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
          } else {
            out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
          }
        } else {
          append_code_point(out, c);
        }
    }
  }
  out += '"';
}

std::string json_float(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f < 0 ? "-Infinity" : "Infinity";
  return format_float(f);
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonOptions& options) : options_(options) {
    if (options.has_indent_string) {
      indent_ = options.indent_string;
      pretty_ = true;
    } else if (options.indent >= 0) {
      indent_ = std::string(static_cast<size_t>(options.indent), ' ');
      pretty_ = true;
    }
    item_separator_ = options.has_separators ? options.item_separator : (pretty_ ? "," : ", ");
    key_separator_ = options.has_separators ? options.key_separator : ": ";
  }

  void write(const Value& value, int depth) {
    if (depth > kMaxValueNesting) fail("tojson: value nested too deeply");
    using Kind = Value::Kind;
    switch (value.kind()) {
      case Kind::kNone: out += "null"; return;
      case Kind::kBool: out += value.as_bool() ? "true" : "false"; return;
      case Kind::kInt: out += std::to_string(value.as_int()); return;
      case Kind::kFloat: out += json_float(value.as_float()); return;
      case Kind::kString: append_json_string(out, value.as_string(), options_.ensure_ascii); return;
      case Kind::kList:
        if (!value.as_list().view.empty()) {
          fail("Object of type {} is not JSON serializable", value.type_name());
        }
        write_list(value.as_list(), depth);
        return;
      case Kind::kDict: write_dict(value.as_dict(), depth); return;
      default: fail("Object of type {} is not JSON serializable", value.type_name());
    }
  }

  std::string out;

 private:
  void newline(int depth) {
    if (!pretty_) return;
    out += '\n';
    for (int i = 0; i < depth; ++i) out += indent_;
  }

  void write_list(const List& list, int depth) {
    if (list.items.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < list.items.size(); ++i) {
      if (i > 0) out += item_separator_;
      newline(depth + 1);
      write(list.items[i], depth + 1);
    }
    newline(depth);
    out += ']';
  }

  std::string key_string(const Value& key) {
    if (key.is_string()) return key.as_string();
    if (key.is_none()) return "null";
    if (key.is_bool()) return key.as_bool() ? "true" : "false";
    if (key.is_int()) return std::to_string(key.as_int());
    if (key.is_float()) return json_float(key.as_float());
    fail("keys must be str, int, float, bool or None, not {}", key.type_name());
  }

  void write_dict(const Dict& dict, int depth) {
    if (dict.size() == 0) {
      out += "{}";
      return;
    }
    std::vector<const std::pair<Value, Value>*> entries;
    for (const auto& entry : dict.entries()) entries.push_back(&entry);
    if (options_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) {
        return compare_values(a->first, b->first) < 0;
      });
    }
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out += item_separator_;
      newline(depth + 1);
      append_json_string(out, key_string(entries[i]->first), options_.ensure_ascii);
      out += key_separator_;
      write(entries[i]->second, depth + 1);
    }
    newline(depth);
    out += '}';
  }

  const JsonOptions& options_;
  std::string indent_;
  bool pretty_ = false;
  std::string item_separator_;
  std::string key_separator_;
};

}  // namespace

std::string to_json(const Value& value, const JsonOptions& options) {
  JsonWriter writer(options);
  writer.write(value, 0);
  return std::move(writer.out);
}

}  // namespace mx::jinja
