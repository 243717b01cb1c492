// HttpServer against request smuggling, over raw sockets: a request whose body length is
// ambiguous (unsupported transfer codings, Content-Length with Transfer-Encoding, disagreeing
// Content-Lengths, obs-fold, bare LF) is answered 400 and the connection closed, and the bytes
// after it, built to look like a second request, never reach a handler.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "http_test_util.h"
#include "server/http_server.h"

namespace mx::test {
namespace {

// What a smuggler appends: if it were read as a request, /secret's handler would run.
constexpr std::string_view kSmuggled = "GET /secret HTTP/1.1\r\nHost: t\r\n\r\n";

class HttpFramingTest : public HttpServerFixture {
 protected:
  void SetUp() override {
    route("GET", "/hello", [this](const HttpRequest&, std::shared_ptr<HttpResponder> r) {
      handled_.fetch_add(1);
      r->send(200, "text/plain", "hello");
    });
    route("GET", "/secret", [this](const HttpRequest&, std::shared_ptr<HttpResponder> r) {
      secret_.fetch_add(1);
      r->send(200, "text/plain", "secret");
    });
    auto echo = [this](const HttpRequest& request, std::shared_ptr<HttpResponder> r) {
      handled_.fetch_add(1);
      r->send(200, "application/octet-stream", request.body);
    };
    route("POST", "/echo", echo);
    route("GET", "/echo", echo);
  }

  // Sends `bytes` on a fresh connection and expects 400, Connection: close, then the end of
  // the connection with nothing more: no second response. Returns the error message.
  std::string expect_refused(const std::string& bytes) {
    RawClient client(port_);
    EXPECT_TRUE(client.send(bytes));
    auto response = client.read_response();
    if (!response) {
      ADD_FAILURE() << "no response to:\n" << bytes;
      return "";
    }
    EXPECT_EQ(response->result_int(), 400) << bytes << "\n" << response->body();
    EXPECT_FALSE(response->keep_alive()) << bytes;
    if (response->version() == 11) {
      EXPECT_EQ((*response)[http::field::connection], "close") << bytes;
    }
    std::string after;
    EXPECT_TRUE(client.wait_closed(milliseconds(3000), &after)) << bytes;
    EXPECT_EQ(after, "") << "a second response after the 400 to:\n" << bytes;
    auto json = nlohmann::json::parse(response->body(), nullptr, false);
    if (json.is_discarded() || !json.contains("error")) {
      ADD_FAILURE() << response->body();
      return "";
    }
    return json["error"]["message"].get<std::string>();
  }

  std::atomic<int> handled_{0};
  std::atomic<int> secret_{0};
};

std::string with_head(std::string_view fields) {
  return "POST /echo HTTP/1.1\r\nHost: t\r\n" + std::string(fields) + "\r\n";
}

std::string chunked_body(std::string_view data) {
  return fmt::format("{:x}\r\n{}\r\n0\r\n\r\n", data.size(), data);
}

TEST_F(HttpFramingTest, UnsupportedTransferCodingsAre400AndClose) {
  start();
  // "chunked, gzip": Beast sees no chunked framing and no Content-Length, takes the body as
  // empty and would read the smuggled bytes as the next request.
  std::string message =
      expect_refused(with_head("Transfer-Encoding: chunked, gzip\r\n") + std::string(kSmuggled));
  EXPECT_NE(message.find("'chunked, gzip' is not supported"), std::string::npos) << message;
  EXPECT_NE(message.find("Content-Length"), std::string::npos) << message;
  for (std::string_view codings :
       {"gzip", "gzip, chunked", "identity", "\"chunked\"", "chunked;q=1", "chunked, chunked"}) {
    expect_refused(with_head(fmt::format("Transfer-Encoding: {}\r\n", codings)) +
                   chunked_body(kSmuggled) + std::string(kSmuggled));
  }
  // Split over two fields: the codings are "gzip, chunked".
  expect_refused(with_head("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n") +
                 chunked_body("x"));
  // HTTP/1.0 has no transfer codings (RFC 9112 6.1): faulty framing.
  message = expect_refused("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" +
                           chunked_body(kSmuggled));
  EXPECT_NE(message.find("HTTP/1.0"), std::string::npos) << message;
  EXPECT_EQ(handled_.load(), 0);
  EXPECT_EQ(secret_.load(), 0);
}

TEST_F(HttpFramingTest, ContentLengthWithTransferEncodingIs400AndClose) {
  start();
  std::string body = chunked_body(kSmuggled);
  std::string cl = fmt::format("Content-Length: {}\r\n", body.size());
  expect_refused(with_head(cl + "Transfer-Encoding: chunked\r\n") + body);
  expect_refused(with_head("Transfer-Encoding: chunked\r\n" + cl) + body);
  // A coding Beast does not know does not hide the conflict.
  std::string message = expect_refused(with_head("Transfer-Encoding: gzip\r\n" + cl) + body);
  EXPECT_NE(message.find("both Content-Length and Transfer-Encoding"), std::string::npos)
      << message;
  EXPECT_EQ(handled_.load() + secret_.load(), 0);
}

TEST_F(HttpFramingTest, DisagreeingContentLengthsAre400AndClose) {
  start();
  std::string body = "12345" + std::string(kSmuggled);
  std::string message = expect_refused(
      with_head(fmt::format("Content-Length: 5\r\nContent-Length: {}\r\n", body.size())) + body);
  EXPECT_NE(message.find("Content-Length"), std::string::npos) << message;
  expect_refused(with_head(fmt::format("Content-Length: 5, {}\r\n", body.size())) + body);
  expect_refused(with_head("Content-Length: +5\r\n") + body);
  expect_refused(with_head("Content-Length: -5\r\n") + body);
  EXPECT_EQ(handled_.load() + secret_.load(), 0);

  // Repeats that agree are one length (RFC 9110 8.6).
  RawClient client(port_);
  ASSERT_TRUE(client.send(with_head("Content-Length: 5\r\nContent-Length: 5\r\n") + "12345" +
                          get_request("/hello")));
  auto echo = client.read_response();
  auto hello = client.read_response();
  ASSERT_TRUE(echo && hello);
  EXPECT_EQ(echo->body(), "12345");
  EXPECT_EQ(hello->body(), "hello");
}

TEST_F(HttpFramingTest, ObsFoldBareLfAndControlCharactersAre400AndClose) {
  start();
  std::string message =
      expect_refused(with_head("X-Long: part one\r\n part two\r\nContent-Length: 0\r\n"));
  EXPECT_NE(message.find("folding"), std::string::npos) << message;
  // Folded into Transfer-Encoding: "gzip, chunked" once unfolded.
  expect_refused(with_head("Transfer-Encoding: gzip,\r\n\tchunked\r\n") + chunked_body("x"));
  // Bare LF anywhere: the request line, a field line, the empty line.
  expect_refused("GET /hello HTTP/1.1\nHost: t\n\n" + std::string(kSmuggled));
  expect_refused("GET /hello HTTP/1.1\r\nHost: t\nX: y\r\n\r\n" + std::string(kSmuggled));
  expect_refused("GET /hello HTTP/1.1\r\nHost: t\r\n\n" + std::string(kSmuggled));
  // A bare CR and a NUL inside a field value.
  expect_refused("GET /hello HTTP/1.1\r\nHost: t\rX: y\r\n\r\n");
  using namespace std::string_literals;
  expect_refused("GET /hello HTTP/1.1\r\nX: a\0b\r\nHost: t\r\n\r\n"s);
  EXPECT_EQ(handled_.load() + secret_.load(), 0);
}

TEST_F(HttpFramingTest, BodiesOnGetAndChunkedBodiesAreReadNotParsedAsRequests) {
  start();
  RawClient client(port_);
  // A GET with a body: the body (which looks like a request) is the body, then the next
  // request is the one after it.
  ASSERT_TRUE(client.send(
      fmt::format("GET /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", kSmuggled.size()) +
      std::string(kSmuggled) + get_request("/hello")));
  auto echo = client.read_response();
  auto hello = client.read_response();
  ASSERT_TRUE(echo && hello);
  EXPECT_EQ(echo->body(), kSmuggled);
  EXPECT_EQ(hello->body(), "hello");
  // Chunked, in any letter case and with empty list elements, alone: accepted.
  for (std::string_view codings : {"chunked", "Chunked", ", chunked ,"}) {
    ASSERT_TRUE(client.send(with_head(fmt::format("Transfer-Encoding: {}\r\n", codings)) +
                            chunked_body(kSmuggled)));
    auto chunked = client.read_response();
    ASSERT_TRUE(chunked) << codings;
    EXPECT_EQ(chunked->result_int(), 200) << codings;
    EXPECT_EQ(chunked->body(), kSmuggled) << codings;
  }
  EXPECT_EQ(secret_.load(), 0);
  EXPECT_EQ(handled_.load(), 5);
}

}  // namespace
}  // namespace mx::test
