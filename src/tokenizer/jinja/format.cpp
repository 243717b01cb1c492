// String formatting: str.format ("{} {name}") and printf-style `%` ("%s %d %.2f"), covering the
// forms chat templates use. Anything else (format specs, attribute fields) is a clear
// "unsupported" error rather than a silent difference.
#include <cmath>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/interpreter.h"

namespace mx::jinja {
namespace {

std::string convert(const Value& value, char conversion) {
  return conversion == 'r' ? to_repr(value) : to_str(value);
}

struct PercentSpec {
  std::string flags;
  int width = -1;
  int precision = -1;
  char type = 's';
};

std::string apply_width(std::string text, const PercentSpec& spec) {
  if (spec.width < 0 || static_cast<int>(text.size()) >= spec.width) return text;
  size_t pad = static_cast<size_t>(spec.width) - text.size();
  if (spec.flags.find('-') != std::string::npos) return text + std::string(pad, ' ');
  if (spec.flags.find('0') != std::string::npos && spec.type != 's' && spec.type != 'r') {
    size_t sign = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
    return text.substr(0, sign) + std::string(pad, '0') + text.substr(sign);
  }
  return std::string(pad, ' ') + text;
}

std::string format_one(const Value& value, const PercentSpec& spec) {
  std::string sign = spec.flags.find('+') != std::string::npos ? "+" : (spec.flags.find(' ') != std::string::npos ? " " : "");
  switch (spec.type) {
    case 's':
    case 'r': {
      std::string text = convert(value, spec.type);
      if (spec.precision >= 0 && static_cast<size_t>(spec.precision) < text.size()) {
        text = text.substr(0, static_cast<size_t>(spec.precision));
      }
      return text;
    }
    case 'd':
    case 'i': {
      if (!value.is_number()) fail("%d format: a real number is required, not {}", value.type_name());
      int64_t v = value.is_float() ? static_cast<int64_t>(std::trunc(value.as_float()))
                                   : (value.is_bool() ? value.as_bool() : value.as_int());
      return (v >= 0 ? sign : "") + std::to_string(v);
    }
    case 'f':
    case 'F': {
      if (!value.is_number()) fail("must be real number, not {}", value.type_name());
      double v = value.to_double();
      std::string text = fmt::format("{:.{}f}", v, spec.precision < 0 ? 6 : spec.precision);
      return (v >= 0 ? sign : "") + text;
    }
    default:
      fail_unsupported("unsupported %-format conversion '%{}'", spec.type);
  }
}

}  // namespace

Value format_percent(Interpreter& interp, const std::string& format, const Value& args) {
  std::vector<Value> positional = args.is_tuple() ? args.as_list().items : std::vector<Value>{args};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i >= format.size()) fail("incomplete format");
    PercentSpec spec;
    const Value* mapped = nullptr;
    if (format[i] == '(') {
      size_t close = format.find(')', i);
      if (close == std::string::npos) fail("incomplete format key");
      if (!args.is_dict()) fail("format requires a mapping");
      mapped = args.as_dict().find(std::string_view(format).substr(i + 1, close - i - 1));
      if (mapped == nullptr) fail("format key '{}' not found", format.substr(i + 1, close - i - 1));
      i = close + 1;
    }
    while (i < format.size() && std::string_view("-+ #0").find(format[i]) != std::string_view::npos) spec.flags += format[i++];
    while (i < format.size() && format[i] >= '0' && format[i] <= '9' && spec.width < 10000) {
      spec.width = (spec.width < 0 ? 0 : spec.width * 10) + (format[i++] - '0');
    }
    if (i < format.size() && format[i] == '.') {
      spec.precision = 0;
      while (++i < format.size() && format[i] >= '0' && format[i] <= '9' && spec.precision < 10000) {
        spec.precision = spec.precision * 10 + (format[i] - '0');
      }
    }
    if (i >= format.size()) fail("incomplete format");
    spec.type = format[i];
    if (spec.type == '%') {
      out += '%';
      continue;
    }
    if (mapped == nullptr) {
      if (next >= positional.size()) fail("not enough arguments for format string");
      mapped = &positional[next++];
    }
    out += apply_width(format_one(*mapped, spec), spec);
    interp.charge_bytes(out.size());
  }
  if (!args.is_dict() && next < positional.size()) {
    fail("not all arguments converted during string formatting");
  }
  return Value(std::move(out));
}

Value format_braces(Interpreter& interp, const std::string& format, CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') ++i;
      else fail("single '}}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = format.find('}', i);
    if (close == std::string::npos) fail("single '{{' encountered in format string");
    std::string field = format.substr(i + 1, close - i - 1);
    i = close;
    char conversion = 's';
    if (size_t bang = field.find('!'); bang != std::string::npos) {
      conversion = bang + 1 < field.size() ? field[bang + 1] : 's';
      field = field.substr(0, bang);
    }
    if (field.find_first_of(":.[") != std::string::npos) {
      fail_unsupported("unsupported str.format field '{{{}}}'", field);
    }
    const Value* value = nullptr;
    if (field.empty() || (field[0] >= '0' && field[0] <= '9')) {
      size_t index = field.empty() ? auto_index++ : std::stoul(field.substr(0, 6));
      if (index >= args.positional.size()) fail("Replacement index {} out of range", index);
      value = &args.positional[index];
    } else {
      for (const auto& [key, kw_value] : args.keyword) {
        if (key == field) value = &kw_value;
      }
      if (value == nullptr) fail("KeyError: '{}'", field);
    }
    out += convert(*value, conversion);
    interp.charge_bytes(out.size());
  }
  return Value(std::move(out));
}

}  // namespace mx::jinja
