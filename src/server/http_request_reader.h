// Reading one HTTP/1.x request from the raw bytes of a connection: Beast's request parser plus
// the framing rules Beast leaves to its user, and the answer a client gets for a request that
// breaks them. No sockets: HttpConnection feeds it the bytes it reads, and so does the request
// fuzzer (tests/fuzz/fuzz_http_request.cpp), so both run exactly the same rules.
//
// Framing (RFC 9112 sections 2.2, 5.2, 6): a body is delimited by one Content-Length (repeats
// must agree) or by Transfer-Encoding: chunked, never by both. Refused with 400, and the
// connection closed, because the end of such a request is uncertain and what follows it could
// be read as a second, smuggled request: any other transfer coding ("gzip", "chunked, gzip",
// "gzip, chunked"), Transfer-Encoding in an HTTP/1.0 request, Content-Length together with
// Transfer-Encoding, Content-Length values that disagree, obsolete line folding (a field line
// that starts with a space or tab), bare LF line ends and control characters in the header.
// A body on a GET is fine: it is read (and skipped) by the same rules.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "server/api_error.h"

namespace mx::detail {

struct HttpRequestLimits {
  size_t max_header_bytes = size_t{16} << 10;  // request line + fields
  uint64_t max_body_bytes = uint64_t{8} << 20;
};

// The framing check of a parsed request header: nullopt when the body is delimited by one
// Content-Length or by Transfer-Encoding: chunked alone (or there is no body), else the 400
// to answer. Pure; Beast has already refused what it knows (Content-Length values that
// disagree, "chunked" twice, Content-Length after Transfer-Encoding: chunked).
std::optional<ApiError> check_request_framing(const boost::beast::http::request_header<>& header);

// The answer to a request Beast's parser refused with `ec`: 413 (body over the limit),
// 431 (header over the limit) or 400 saying what was wrong.
ApiError refusal_of_parse_error(boost::system::error_code ec, const HttpRequestLimits& limits);

class HttpRequestReader {
 public:
  using Message = boost::beast::http::request<boost::beast::http::string_body>;
  enum class Status {
    kNeedMore,  // every byte given was used; the request is not complete yet
    kDone,      // the request is complete: release() it; bytes after it are not used
    kRefused,   // answer refusal() and close the connection; read nothing more from it
  };

  explicit HttpRequestReader(const HttpRequestLimits& limits);

  // Parses `bytes` (what arrived after the bytes used so far) and sets `used` to how many of
  // them belong to this request. Not to be called again after kDone or kRefused.
  Status read(std::string_view bytes, size_t& used);

  bool started() const { return parser_.got_some(); }  // a byte of the request arrived
  bool header_done() const { return parser_.is_header_done(); }
  // HTTP version of the request (11 until the header is parsed).
  int version() const;
  // The client waits for "100 Continue" before it sends the body (once the header is done).
  bool expects_continue() const;
  const ApiError& refusal() const { return refusal_; }
  Message release() { return parser_.release(); }

 private:
  Status refuse(ApiError error);
  // Checks the raw header bytes the parser consumed: obs-fold, bare LF, control characters.
  std::optional<ApiError> scan_header_bytes(std::string_view bytes);

  HttpRequestLimits limits_;
  boost::beast::http::request_parser<boost::beast::http::string_body> parser_;
  char previous_byte_ = '\0';  // the last header byte scanned
  size_t header_bytes_ = 0;    // header bytes the parser used so far
  ApiError refusal_;
};

}  // namespace mx::detail
