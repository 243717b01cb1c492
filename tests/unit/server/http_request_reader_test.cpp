// HttpRequestReader without sockets: the framing rules (transfer codings, Content-Length,
// obs-fold, bare LF, control characters), the answers to parse errors, and that the bytes
// arriving in pieces of any size give the same requests as arriving at once.
#include "server/http_request_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::detail {
namespace {

namespace http = boost::beast::http;
using namespace std::string_literals;

// What a connection would do with `input`: requests read one after another (pipelining) until
// the input ends or one is refused. Each entry: "METHOD target body" or "refused STATUS".
std::vector<std::string> read_all(std::string_view input, size_t piece,
                                  HttpRequestLimits limits = {}) {
  std::vector<std::string> out;
  std::string buffer;
  size_t fed = 0;
  std::optional<HttpRequestReader> reader;
  for (;;) {
    if (!reader) reader.emplace(limits);
    size_t used = 0;
    auto status = reader->read(buffer, used);
    buffer.erase(0, used);
    if (status == HttpRequestReader::Status::kDone) {
      auto message = reader->release();
      out.push_back(std::string(message.method_string()) + " " + std::string(message.target()) +
                    " " + message.body());
      reader.reset();
      continue;
    }
    if (status == HttpRequestReader::Status::kRefused) {
      out.push_back("refused " + std::to_string(reader->refusal().http_status));
      return out;
    }
    if (fed == input.size()) return out;
    size_t n = std::min(piece, input.size() - fed);
    buffer.append(input.substr(fed, n));
    fed += n;
  }
}

std::string refusal_message(std::string_view input) {
  HttpRequestReader reader({});
  size_t used = 0;
  if (reader.read(input, used) != HttpRequestReader::Status::kRefused) return "not refused";
  return reader.refusal().message;
}

TEST(HttpRequestReaderTest, PipelinedRequestsAndBodies) {
  std::string input =
      "GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
      "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1;ext=1\r\nc\r\n0\r\n\r\n"
      "GET /d HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody";
  std::vector<std::string> expected = {"GET /a ", "POST /b xyz", "POST /c abc", "GET /d body"};
  for (size_t piece : {size_t{1}, size_t{2}, size_t{7}, input.size()}) {
    EXPECT_EQ(read_all(input, piece), expected) << "pieces of " << piece;
  }
}

TEST(HttpRequestReaderTest, AmbiguousFramingIsRefusedWhateverThePieces) {
  const std::string smuggled = "GET /secret HTTP/1.1\r\n\r\n";
  for (const std::string& input : {
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" + smuggled,
           "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled,
           "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nContent-Length: 0\r\n\r\n" + smuggled,
           "POST / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggled,
           "POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 24\r\n\r\n" + smuggled,
           "POST / HTTP/1.1\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n" + smuggled,
           "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
           "GET / HTTP/1.1\nHost: t\n\n" + smuggled,
           "GET / HTTP/1.1\r\nX: \x7f\r\n\r\n" + smuggled,
       }) {
    for (size_t piece : {size_t{1}, size_t{3}, input.size()}) {
      EXPECT_EQ(read_all(input, piece), std::vector<std::string>{"refused 400"})
          << "pieces of " << piece << ":\n"
          << input;
    }
  }
}

TEST(HttpRequestReaderTest, ControlBytesInTheHeaderAreRefused) {
  for (int byte = 0; byte < 0x80; ++byte) {
    if ((byte >= 0x20 && byte != 0x7f) || byte == '\t') continue;
    std::string input =
        "GET / HTTP/1.1\r\nX: a" + std::string(1, static_cast<char>(byte)) + "b\r\nHost: t\r\n\r\n";
    EXPECT_EQ(read_all(input, input.size()), std::vector<std::string>{"refused 400"}) << byte;
  }
}

TEST(HttpRequestReaderTest, RefusalsSayWhatWasWrong) {
  EXPECT_NE(refusal_message("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
                .find("'chunked, gzip' is not supported"),
            std::string::npos);
  EXPECT_NE(refusal_message("POST / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n").find("line folding"),
            std::string::npos);
  // Beast refuses a NUL itself; the reader's own scan names a control byte Beast lets pass.
  EXPECT_NE(refusal_message("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"s).find("malformed"),
            std::string::npos);
  EXPECT_NE(refusal_message("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
                .find("Content-Length must be one decimal number"),
            std::string::npos);
  // What the client sent is quoted, cut short and without control bytes.
  std::string long_coding = refusal_message(
      "POST / HTTP/1.1\r\nTransfer-Encoding: " + std::string(500, 'x') + "\r\n\r\n");
  EXPECT_LT(long_coding.size(), 300u) << long_coding;
  EXPECT_EQ(refusal_of_parse_error(http::error::body_limit, {1024, 2048}).http_status, 413);
  EXPECT_EQ(refusal_of_parse_error(http::error::header_limit, {1024, 2048}).http_status, 431);
  EXPECT_EQ(refusal_of_parse_error(http::error::bad_method, {}).http_status, 400);
}

TEST(HttpRequestReaderTest, FramingCheckOfAParsedHeader) {
  http::request_header<> header;
  header.version(11);
  EXPECT_FALSE(check_request_framing(header));  // no body
  header.set(http::field::content_length, "5");
  EXPECT_FALSE(check_request_framing(header));
  header.set(http::field::transfer_encoding, "chunked");
  EXPECT_TRUE(check_request_framing(header));  // both
  header.erase(http::field::content_length);
  EXPECT_FALSE(check_request_framing(header));
  header.version(10);
  EXPECT_TRUE(check_request_framing(header));
  header.version(11);
  for (const char* codings : {"", "gzip", "chunked, gzip", "gzip, chunked", "chunked;a=b"}) {
    header.set(http::field::transfer_encoding, codings);
    auto error = check_request_framing(header);
    ASSERT_TRUE(error) << codings;
    EXPECT_EQ(error->http_status, 400);
  }
}

TEST(HttpRequestReaderTest, LimitsAndExpectContinue) {
  HttpRequestLimits limits{256, 10};
  EXPECT_EQ(read_all("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 4, limits),
            std::vector<std::string>{"refused 413"});
  EXPECT_EQ(read_all("GET / HTTP/1.1\r\nX: " + std::string(400, 'x') + "\r\n\r\n", 16, limits),
            std::vector<std::string>{"refused 431"});
  // 261 header bytes: over the limit however they arrive (Beast alone, given them at once,
  // does not count the request line against it).
  std::string over = "GET / HTTP/1.1\r\nX: " + std::string(238, 'x') + "\r\n\r\n";
  for (size_t piece : {size_t{1}, size_t{16}, over.size()}) {
    EXPECT_EQ(read_all(over, piece, limits), std::vector<std::string>{"refused 431"}) << piece;
  }

  HttpRequestReader reader(limits);
  size_t used = 0;
  std::string head = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n";
  EXPECT_FALSE(reader.started());
  EXPECT_EQ(reader.read(head, used), HttpRequestReader::Status::kNeedMore);
  EXPECT_EQ(used, head.size());
  EXPECT_TRUE(reader.started());
  EXPECT_TRUE(reader.header_done());
  EXPECT_TRUE(reader.expects_continue());
  EXPECT_EQ(reader.version(), 11);
  EXPECT_EQ(reader.read("ok", used), HttpRequestReader::Status::kDone);
  EXPECT_EQ(reader.release().body(), "ok");
}

}  // namespace
}  // namespace mx::detail
