// The bytes of HTTP/1.x responses as HttpConnection writes them: status line and fields,
// complete responses with Content-Length, stream heads (chunked or close-delimited) and chunk
// framing. Pure functions, no sockets, so they are easy to test and reason about.
//
// Fields the transport owns (Content-Length, Transfer-Encoding, Connection) are dropped from
// caller headers; fields whose name or value holds CR, LF or NUL are dropped (no header
// injection). A caller's Content-Type replaces the default one.
#pragma once

#include <string>
#include <string_view>

#include "server/http_server.h"

namespace mx::detail {

// Case-insensitive ASCII comparison of header names.
bool header_name_equals(std::string_view a, std::string_view b);

struct ResponseHead {
  int status = 200;
  int version = 11;  // 10 or 11: the request's version
  bool keep_alive = true;
  std::string_view content_type;  // default Content-Type; "" for none
};

// A complete response: head with Content-Length, then the body.
std::string build_response(const ResponseHead& head, const HttpHeaders& extra,
                           std::string_view body);

// The head of a streaming response: chunked when `chunked`, else delimited by closing the
// connection (HTTP/1.0). Adds Cache-Control: no-cache and X-Accel-Buffering: no.
std::string build_stream_head(const ResponseHead& head, bool chunked, const HttpHeaders& extra);

// One chunk of a chunked body: size in hex, CRLF, data, CRLF. `data` must not be empty.
std::string frame_chunk(std::string_view data);

inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace mx::detail
