#include "server/url_query.h"

#include <fmt/format.h>

namespace mx {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes one name or value; false on a malformed escape.
bool decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] != '%') {
      out += in[i];
    } else {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return true;
}

}  // namespace

ApiResult<QueryParams> parse_query(std::string_view target) {
  QueryParams params;
  size_t start = target.find('?');
  if (start == std::string_view::npos) return params;
  std::string_view rest = target.substr(start + 1);
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string name, value;
    if (!decode(pair.substr(0, eq), name) ||
        (eq != std::string_view::npos && !decode(pair.substr(eq + 1), value))) {
      return ApiError::bad_request(
          fmt::format("malformed percent-escape in the query parameter '{}'",
                      std::string(pair.substr(0, eq))),
          std::string(pair.substr(0, eq)));
    }
    params[name] = value;
  }
  return params;
}

}  // namespace mx
