#include "server/http_wire.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <array>
#include <boost/beast/http/status.hpp>
#include <chrono>

namespace mx::detail {
namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool has_control_chars(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool transport_owned(std::string_view name) {
  return header_name_equals(name, "Content-Length") ||
         header_name_equals(name, "Transfer-Encoding") || header_name_equals(name, "Connection");
}

// "Sun, 06 Nov 1994 08:49:37 GMT", cached per second and thread.
std::string_view http_date() {
  thread_local time_t cached_second = 0;
  thread_local std::array<char, 64> cached{};
  time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  if (now != cached_second) {
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(cached.data(), cached.size(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
    cached_second = now;
  }
  return std::string_view(cached.data());
}

bool has_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (header_name_equals(key, name)) return true;
  }
  return false;
}

// Status line, Date, Content-Type, the caller's fields and Connection; no final CRLF.
void append_head(std::string& out, const ResponseHead& head, const HttpHeaders& extra) {
  auto reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(head.status));
  fmt::format_to(std::back_inserter(out), "HTTP/1.{} {} {}\r\nDate: {}\r\n",
                 head.version >= 11 ? 1 : 0, head.status,
                 std::string_view(reason.data(), reason.size()), http_date());
  if (!head.content_type.empty() && !has_header(extra, "Content-Type")) {
    fmt::format_to(std::back_inserter(out), "Content-Type: {}\r\n", head.content_type);
  }
  for (const auto& [name, value] : extra) {
    if (name.empty() || has_control_chars(name) || has_control_chars(value)) {
      spdlog::warn("http: dropped response header with control characters: '{}'", name);
      continue;
    }
    if (transport_owned(name)) continue;
    fmt::format_to(std::back_inserter(out), "{}: {}\r\n", name, value);
  }
  if (head.version >= 11 && !head.keep_alive) out += "Connection: close\r\n";
  if (head.version < 11 && head.keep_alive) out += "Connection: keep-alive\r\n";
}

}  // namespace

bool header_name_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::string build_response(const ResponseHead& head, const HttpHeaders& extra,
                           std::string_view body) {
  std::string out;
  out.reserve(256 + body.size());
  append_head(out, head, extra);
  if (head.status == 204 || head.status < 200) {  // no body and no Content-Length (RFC 9110)
    out += "\r\n";
    return out;
  }
  fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n\r\n", body.size());
  out += body;
  return out;
}

std::string build_stream_head(const ResponseHead& head, bool chunked, const HttpHeaders& extra) {
  ResponseHead stream_head = head;
  if (!chunked) stream_head.keep_alive = false;  // the end of the body is the end of the stream
  std::string out;
  out.reserve(256);
  append_head(out, stream_head, extra);
  if (!has_header(extra, "Cache-Control")) out += "Cache-Control: no-cache\r\n";
  out += "X-Accel-Buffering: no\r\n";
  if (chunked) out += "Transfer-Encoding: chunked\r\n";
  out += "\r\n";
  return out;
}

std::string frame_chunk(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 12);
  fmt::format_to(std::back_inserter(out), "{:x}\r\n", data.size());
  out += data;
  out += "\r\n";
  return out;
}

}  // namespace mx::detail
