// libFuzzer target for the server's request reading: the bytes go to HttpRequestReader exactly
// as HttpConnection feeds it (a buffer the reads append to, the used bytes consumed, a new
// reader for each pipelined request, nothing read after a refusal). The target aborts if
//  - the requests accepted depend on how the bytes are cut into reads (whole, byte by byte,
//    pseudo-random pieces): a proxy and this server could then see different requests;
//  - an accepted request's body is not delimited by exactly one of Content-Length (the body is
//    that long) or Transfer-Encoding: chunked alone in HTTP/1.1, or is over the body limit, or
//    a field holds CR, LF or NUL;
//  - a refusal is anything but 400, 413 or 431, or its JSON does not serialize.
// Seed corpus: tests/fuzz/corpus/http_request; dictionary: tests/fuzz/fuzz_http_request.dict.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http_request_reader.h"

namespace {

namespace http = boost::beast::http;
using mx::detail::HttpRequestLimits;
using mx::detail::HttpRequestReader;

constexpr HttpRequestLimits kLimits{1024, 4096};
// Marks a refusal in an outcome; no request's entry starts with a space (methods are tokens).
constexpr std::string_view kRefused = " refused ";

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_http_request: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

std::string_view view(boost::beast::string_view text) { return {text.data(), text.size()}; }

// The transfer codings of all Transfer-Encoding fields, lower-case, without whitespace and
// empty list elements: "chunked" when chunked alone.
std::string codings_of(const HttpRequestReader::Message& message) {
  std::string out;
  for (const auto& field : message) {
    if (field.name() != http::field::transfer_encoding) continue;
    for (char c : view(field.value())) {
      if (c == ' ' || c == '\t') continue;
      if (c == ',' && (out.empty() || out.back() == ',')) continue;
      out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    if (!out.empty() && out.back() != ',') out += ',';
  }
  if (!out.empty() && out.back() == ',') out.pop_back();
  return out;
}

void check_accepted(const HttpRequestReader::Message& message) {
  bool has_te = false;
  std::optional<std::string_view> length;
  for (const auto& field : message) {
    std::string_view value = view(field.value());
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
      fail("a field value holds CR, LF or NUL", value);
    }
    if (field.name() == http::field::transfer_encoding) has_te = true;
    if (field.name() == http::field::content_length) length = value;
  }
  if (message.body().size() > kLimits.max_body_bytes) fail("body over the limit", "");
  if (has_te) {
    if (length) fail("accepted with Content-Length and Transfer-Encoding", *length);
    if (message.version() != 11) fail("accepted Transfer-Encoding in HTTP/1.0", "");
    if (codings_of(message) != "chunked") fail("accepted a coding other than chunked alone", "");
  } else if (length) {
    // One decimal number, or a list of equal ones: its value is the body's size.
    std::string_view first = length->substr(0, length->find(','));
    uint64_t value = 0;
    auto [end, error] = std::from_chars(first.data(), first.data() + first.size(), value);
    if (error != std::errc() || value != message.body().size()) {
      fail("body size differs from Content-Length", *length);
    }
  } else if (!message.body().empty()) {
    fail("a body without Content-Length or Transfer-Encoding", message.body());
  }
}

// Reads `input` as a connection does, the bytes arriving in the given pieces. Returns one
// entry per request read: its method, target, version and body, or kRefused and the status.
std::vector<std::string> read_requests(std::string_view input, uint64_t seed, size_t max_piece) {
  std::vector<std::string> out;
  std::string buffer;
  size_t fed = 0;
  std::optional<HttpRequestReader> reader;
  for (;;) {
    if (!reader) reader.emplace(kLimits);
    size_t used = 0;
    const auto status = reader->read(buffer, used);
    if (used > buffer.size()) fail("used more bytes than given", "");
    buffer.erase(0, used);
    if (status == HttpRequestReader::Status::kDone) {
      HttpRequestReader::Message message = reader->release();
      check_accepted(message);
      out.push_back(std::string(view(message.method_string())) + ' ' +
                    std::string(view(message.target())) + ' ' + std::to_string(message.version()) +
                    ' ' + message.body());
      reader.reset();
      continue;
    }
    if (status == HttpRequestReader::Status::kRefused) {
      const mx::ApiError& refusal = reader->refusal();
      if (refusal.http_status != 400 && refusal.http_status != 413 && refusal.http_status != 431) {
        fail("refused with an unexpected status", refusal.message);
      }
      (void)refusal.to_json();
      out.push_back(std::string(kRefused) + std::to_string(refusal.http_status));
      return out;
    }
    if (used == 0 && buffer.size() > kLimits.max_header_bytes + kLimits.max_body_bytes + 64) {
      fail("the reader stalls on a full buffer", "");
    }
    if (fed == input.size()) return out;  // the connection would wait for more
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;  // LCG: cheap, deterministic
    const size_t length = std::min<size_t>(1 + (seed >> 33) % max_piece, input.size() - fed);
    buffer.append(input.substr(fed, length));
    fed += length;
  }
}

std::vector<std::string> accepted(std::vector<std::string> outcome) {
  if (!outcome.empty() && outcome.back().rfind(kRefused, 0) == 0) outcome.pop_back();
  return outcome;
}

// Both outcomes, one request a line, for the report of a difference.
std::string describe(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::string out = "\n--- whole:\n";
  for (const std::string& entry : a) out += entry + "\n";
  out += "--- in pieces:\n";
  for (const std::string& entry : b) out += entry + "\n";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> whole = read_requests(input, 0, input.size() + 1);
  for (size_t max_piece : {size_t{1}, size_t{13}}) {
    const std::vector<std::string> pieces = read_requests(input, size, max_piece);
    // The accepted requests must be the same. How a bad request ends may differ: given all of
    // it at once Beast can refuse it at once, given a piece it may wait for the end of the
    // header first (and then refuse it, or answer 431).
    if (accepted(pieces) != accepted(whole)) {
      fail("requests depend on the cut", describe(whole, pieces));
    }
  }
  return 0;
}
