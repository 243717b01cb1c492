#include "server/http_request_reader.h"

#include <fmt/format.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <string>

#include "server/http_wire.h"

namespace mx::detail {
namespace {

namespace http = boost::beast::http;

std::string_view to_view(boost::beast::string_view text) { return {text.data(), text.size()}; }

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// What the client sent, for an error message: at most 64 characters, control bytes as '?'.
std::string quoted(std::string_view value) {
  std::string out;
  for (char c : value.substr(0, 64)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (value.size() > 64) out += "...";
  return out;
}

struct TransferCodings {
  bool present = false;  // a Transfer-Encoding field was sent (even an empty one)
  int chunked = 0;       // "chunked" elements
  int other = 0;         // any other coding
  std::string text;      // all values, comma-joined
};

TransferCodings transfer_codings(const http::request_header<>& header) {
  TransferCodings codings;
  for (const auto& field : header) {
    if (field.name() != http::field::transfer_encoding) continue;
    std::string_view value = to_view(field.value());
    if (codings.present) codings.text += ", ";
    codings.present = true;
    codings.text += value;
    // A list: elements separated by commas, with optional whitespace; empty elements are
    // allowed (RFC 9110 5.6.1). "chunked;x=1" is not "chunked": chunked has no parameters.
    while (!value.empty()) {
      size_t comma = value.find(',');
      std::string_view element = trim_ows(value.substr(0, comma));
      value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
      if (element.empty()) continue;
      if (header_name_equals(element, "chunked")) {
        ++codings.chunked;
      } else {
        ++codings.other;
      }
    }
  }
  return codings;
}

}  // namespace

std::optional<ApiError> check_request_framing(const http::request_header<>& header) {
  const TransferCodings codings = transfer_codings(header);
  if (!codings.present) return std::nullopt;  // Content-Length or no body: Beast checked it
  if (header.find(http::field::content_length) != header.end()) {
    return ApiError::bad_request(
        "the request has both Content-Length and Transfer-Encoding, so where its body ends is "
        "ambiguous; send one of them");
  }
  if (header.version() < 11) {
    return ApiError::bad_request(
        "Transfer-Encoding is not allowed in an HTTP/1.0 request; send the body with "
        "Content-Length, or send HTTP/1.1");
  }
  if (codings.chunked != 1 || codings.other != 0) {
    return ApiError::bad_request(fmt::format(
        "Transfer-Encoding '{}' is not supported: the only transfer coding this server accepts "
        "is 'chunked', alone; send the body with Content-Length or Transfer-Encoding: chunked",
        quoted(codings.text)));
  }
  return std::nullopt;
}

ApiError refusal_of_parse_error(boost::system::error_code ec, const HttpRequestLimits& limits) {
  if (ec == http::error::body_limit) {
    return ApiError::of_status(413, fmt::format("request body is larger than the limit of {} "
                                                "bytes; send a smaller request",
                                                limits.max_body_bytes));
  }
  if (ec == http::error::header_limit) {
    return ApiError::of_status(431,
                               fmt::format("request headers are larger than the limit of {} bytes",
                                           limits.max_header_bytes));
  }
  if (ec == http::error::bad_transfer_encoding) {
    return ApiError::bad_request(
        "malformed HTTP request: Transfer-Encoding is repeated or comes with Content-Length; "
        "send the body with one Content-Length or with Transfer-Encoding: chunked alone");
  }
  if (ec == http::error::bad_content_length) {
    return ApiError::bad_request(
        "malformed HTTP request: Content-Length must be one decimal number of bytes (repeated "
        "fields must agree) and may not come with Transfer-Encoding");
  }
  if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension) {
    return ApiError::bad_request(fmt::format(
        "malformed HTTP request: {} in the chunked body; each chunk is its size in hex, CRLF, "
        "the data, CRLF",
        ec.message()));
  }
  return ApiError::bad_request(fmt::format(
      "malformed HTTP request: {}; requests must follow HTTP/1.1 syntax (RFC 9112), with lines "
      "ending in CRLF",
      ec.message()));
}

HttpRequestReader::HttpRequestReader(const HttpRequestLimits& limits) : limits_(limits) {
  parser_.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser_.body_limit(limits.max_body_bytes);
  // Not eager until the header is done: each put() then stops at the end of the header, so the
  // bytes it used while the header was open are exactly the header's (scan_header_bytes).
  parser_.eager(false);
}

int HttpRequestReader::version() const {
  return parser_.is_header_done() ? static_cast<int>(parser_.get().version()) : 11;
}

bool HttpRequestReader::expects_continue() const {
  return parser_.is_header_done() && parser_.get().version() >= 11 &&
         header_name_equals(to_view(parser_.get()[http::field::expect]), "100-continue");
}

HttpRequestReader::Status HttpRequestReader::read(std::string_view bytes, size_t& used) {
  used = 0;
  while (used < bytes.size() && !parser_.is_done()) {
    const bool in_header = !parser_.is_header_done();
    boost::system::error_code ec;
    size_t n = parser_.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    std::string_view consumed = bytes.substr(used, n);
    used += n;
    if (in_header) {
      if (auto error = scan_header_bytes(consumed)) return refuse(std::move(*error));
      // Beast's header limit counts the bytes of one put() from where it resumes, so what it
      // lets through depends on how the bytes were cut; this count does not.
      header_bytes_ += n;
      if (header_bytes_ > limits_.max_header_bytes) {
        return refuse(refusal_of_parse_error(http::error::header_limit, limits_));
      }
    }
    if (ec == http::error::need_more) break;
    if (ec) return refuse(refusal_of_parse_error(ec, limits_));
    if (in_header && parser_.is_header_done()) {
      if (auto error = check_request_framing(parser_.get().base())) {
        return refuse(std::move(*error));
      }
      parser_.eager(true);
    }
    if (n == 0) break;
  }
  return parser_.is_done() ? Status::kDone : Status::kNeedMore;
}

HttpRequestReader::Status HttpRequestReader::refuse(ApiError error) {
  refusal_ = std::move(error);
  return Status::kRefused;
}

std::optional<ApiError> HttpRequestReader::scan_header_bytes(std::string_view bytes) {
  for (char c : bytes) {
    const char previous = previous_byte_;
    previous_byte_ = c;
    if (c == '\n' && previous != '\r') {
      return ApiError::bad_request(
          "a line of the request header ends in a bare LF; HTTP/1.1 lines end in CRLF");
    }
    if (previous == '\r' && c != '\n') {
      return ApiError::bad_request(
          "the request header holds a CR that does not end a line; HTTP/1.1 lines end in CRLF");
    }
    if (previous == '\n' && (c == ' ' || c == '\t')) {
      return ApiError::bad_request(
          "obsolete line folding in the request header (a line that starts with a space or "
          "tab) is not accepted; send each header field on one line");
    }
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t' && c != '\r' && c != '\n') || byte == 0x7f) {
      return ApiError::bad_request(
          fmt::format("the request header holds the control character 0x{:02x}; header fields "
                      "may not contain control characters",
                      byte));
    }
  }
  return std::nullopt;
}

}  // namespace mx::detail
