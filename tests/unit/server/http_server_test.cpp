// HttpServer basics: routing, keep-alive, HTTP/1.0, limits, malformed input, timeouts,
// handlers that answer late, throw or forget to answer.
#include "server/http_server.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_test_util.h"

namespace mx::test {
namespace {

using std::chrono::steady_clock;

nlohmann::json error_of(const Response& response) {
  auto json = nlohmann::json::parse(response.body(), nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(json.contains("error")) << response.body();
  return json.contains("error") ? json["error"] : nlohmann::json::object();
}

class HttpServerTest : public HttpServerFixture {
 protected:
  void SetUp() override {
    route("GET", "/hello", [](const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
      responder->send(200, "text/plain", "hello");
    });
    route("POST", "/echo", [](const HttpRequest& request, std::shared_ptr<HttpResponder> r) {
      r->send(200, "application/octet-stream", request.body, {{"X-Echo", request.header("x-tag")}});
    });
    route("GET", "/inspect", [](const HttpRequest& request, std::shared_ptr<HttpResponder> r) {
      nlohmann::json fields = {{"method", request.method},
                               {"target", request.target},
                               {"path", request.path},
                               {"remote", request.remote},
                               {"custom", request.header("x-CUSTOM-header")},
                               {"missing", request.header("X-Missing")},
                               {"version", request.version}};
      r->send(200, "application/json", fields.dump());
    });
  }
};

TEST_F(HttpServerTest, RoutesAnswerAndRequestFieldsAreParsed) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(client.send(get_request("/hello")));
  auto hello = client.read_response();
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->result_int(), 200);
  EXPECT_EQ(hello->body(), "hello");
  EXPECT_EQ((*hello)[http::field::content_type], "text/plain");
  EXPECT_FALSE((*hello)[http::field::date].empty());

  ASSERT_TRUE(client.send(get_request("/inspect?limit=2&x=y", "X-Custom-Header: Value 1\r\n")));
  auto inspect = client.read_response();
  ASSERT_TRUE(inspect);
  auto fields = nlohmann::json::parse(inspect->body());
  EXPECT_EQ(fields["method"], "GET");
  EXPECT_EQ(fields["target"], "/inspect?limit=2&x=y");
  EXPECT_EQ(fields["path"], "/inspect");
  EXPECT_EQ(fields["custom"], "Value 1");
  EXPECT_EQ(fields["missing"], "");
  EXPECT_EQ(fields["version"], 11);
  EXPECT_EQ(fields["remote"].get<std::string>().rfind("127.0.0.1:", 0), 0u) << fields["remote"];
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405) {
  route("DELETE", "/hello",
        [](const HttpRequest&, std::shared_ptr<HttpResponder> r) { r->send(204, "", ""); });
  start();
  RawClient client(port_);
  ASSERT_TRUE(client.send(get_request("/nope")));
  auto missing = client.read_response();
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->result_int(), 404);
  EXPECT_EQ((*missing)[http::field::content_type], "application/json");
  EXPECT_EQ(error_of(*missing)["type"], "not_found_error");
  EXPECT_NE(error_of(*missing)["message"].get<std::string>().find("/nope"), std::string::npos);

  // The connection stays usable after a 404.
  ASSERT_TRUE(client.send(post_request("/hello", "x")));
  auto wrong = client.read_response();
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->result_int(), 405);
  EXPECT_EQ((*wrong)[http::field::allow], "DELETE, GET");
  EXPECT_EQ(error_of(*wrong)["type"], "invalid_request_error");

  ASSERT_TRUE(client.send("DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto deleted = client.read_response();
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->result_int(), 204);
  EXPECT_EQ((*deleted)[http::field::content_length], "");
  ASSERT_TRUE(client.send(get_request("/hello")));  // framing still in step
  auto after = client.read_response();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body(), "hello");
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  RawClient client(port_);
  for (int i = 0; i < 5; ++i) {
    std::string body = "body " + std::to_string(i);
    ASSERT_TRUE(client.send(post_request("/echo", body, "X-Tag: t" + std::to_string(i) + "\r\n")));
    auto response = client.read_response();
    ASSERT_TRUE(response) << "request " << i;
    EXPECT_EQ(response->body(), body);
    EXPECT_EQ((*response)["X-Echo"], "t" + std::to_string(i));
    EXPECT_TRUE(response->keep_alive());
  }
  EXPECT_EQ(server_->connection_count(), 1u);
  // Pipelined: two requests in one write are answered in order.
  ASSERT_TRUE(client.send(post_request("/echo", "first") + post_request("/echo", "second")));
  auto first = client.read_response();
  auto second = client.read_response();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body(), "first");
  EXPECT_EQ(second->body(), "second");
  // Connection: close is honoured.
  ASSERT_TRUE(client.send(get_request("/hello", "Connection: close\r\n")));
  auto last = client.read_response();
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->keep_alive());
  EXPECT_TRUE(client.wait_closed(milliseconds(3000)));
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  start();
  RawClient plain(port_);
  ASSERT_TRUE(plain.send("GET /hello HTTP/1.0\r\n\r\n"));
  auto response = plain.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->version(), 10u);
  EXPECT_EQ(response->body(), "hello");
  EXPECT_TRUE(plain.wait_closed(milliseconds(3000)));

  RawClient kept(port_);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(kept.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto again = kept.read_response();
    ASSERT_TRUE(again) << "request " << i;
    EXPECT_EQ((*again)[http::field::connection], "keep-alive");
  }
}

TEST_F(HttpServerTest, BodyOverLimitIs413) {
  auto config = test_config();
  config.max_body_bytes = 1024;
  start(config);
  {
    RawClient client(port_);
    ASSERT_TRUE(client.send(post_request("/echo", std::string(1024, 'a'))));
    auto fits = client.read_response();
    ASSERT_TRUE(fits);
    EXPECT_EQ(fits->result_int(), 200);
    client.send(post_request("/echo", std::string(5000, 'b')));
    auto over = client.read_response();
    ASSERT_TRUE(over);
    EXPECT_EQ(over->result_int(), 413);
    EXPECT_NE(error_of(*over)["message"].get<std::string>().find("1024 bytes"), std::string::npos);
    EXPECT_TRUE(client.wait_closed(milliseconds(3000)));
  }
  // A chunked body is reassembled, and counted against the limit as it arrives.
  RawClient chunked(port_);
  std::string head = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  chunked.send(head + "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  auto joined = chunked.read_response();
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->body(), "abcdefg");
  chunked.send(head + "400\r\n" + std::string(1024, 'c') + "\r\n10\r\n" + std::string(16, 'd') +
               "\r\n0\r\n\r\n");
  auto over = chunked.read_response();
  ASSERT_TRUE(over);
  EXPECT_EQ(over->result_int(), 413);
}

TEST_F(HttpServerTest, Expect100ContinueIsAnswered) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(
      client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                  "Expect: 100-continue\r\n\r\n"));
  auto interim = client.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->result_int(), 100);
  ASSERT_TRUE(client.send("12345"));
  auto final_response = client.read_response();
  ASSERT_TRUE(final_response);
  EXPECT_EQ(final_response->result_int(), 200);
  EXPECT_EQ(final_response->body(), "12345");
}

TEST_F(HttpServerTest, MalformedRequestIs400AndClose) {
  start();
  for (std::string bad : {"THIS IS NOT HTTP\r\n\r\n", "GET /hello HTTP/1.1\r\nNo colon\r\n\r\n",
                          "POST /echo HTTP/1.1\r\nContent-Length: x\r\n\r\n"}) {
    RawClient client(port_);
    ASSERT_TRUE(client.send(bad));
    auto response = client.read_response();
    ASSERT_TRUE(response) << bad;
    EXPECT_EQ(response->result_int(), 400) << bad;
    EXPECT_EQ(error_of(*response)["type"], "invalid_request_error");
    EXPECT_TRUE(client.wait_closed(milliseconds(3000))) << bad;
  }
}

TEST_F(HttpServerTest, HeaderOverLimitIs431) {
  auto config = test_config();
  config.max_header_bytes = 2048;
  start(config);
  RawClient client(port_);
  client.send(get_request("/hello", "X-Big: " + std::string(4096, 'x') + "\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 431);
}

TEST_F(HttpServerTest, SlowRequestGets408AndIdleConnectionIsClosed) {
  auto config = test_config();
  config.request_timeout = milliseconds(300);
  config.idle_timeout = milliseconds(300);
  start(config);
  RawClient slow(port_);
  auto begin = steady_clock::now();
  ASSERT_TRUE(slow.send("GET /hello HTTP/1.1\r\nHost: t\r\n"));  // never finished
  auto response = slow.read_response(milliseconds(5000));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 408);
  EXPECT_GE(steady_clock::now() - begin, milliseconds(250));
  EXPECT_TRUE(slow.wait_closed(milliseconds(5000)));

  // Idle after a complete request: closed without a response.
  RawClient idle(port_);
  ASSERT_TRUE(idle.send(get_request("/hello")));
  ASSERT_TRUE(idle.read_response());
  std::string received;
  EXPECT_TRUE(idle.wait_closed(milliseconds(5000), &received));
  EXPECT_EQ(received, "");
}

TEST_F(HttpServerTest, HandlerMayAnswerFromAnotherThread) {
  route("GET", "/later", [this](const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
    spawn([responder] {
      std::this_thread::sleep_for(milliseconds(50));
      responder->send(201, "text/plain", "from another thread");
    });
  });
  start();
  RawClient client(port_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(get_request("/later")));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result_int(), 201);
    EXPECT_EQ(response->body(), "from another thread");
  }
}

TEST_F(HttpServerTest, ThrowingOrSilentHandlerGets500AndServerKeepsServing) {
  route("GET", "/throw", [](const HttpRequest&, std::shared_ptr<HttpResponder>) {
    throw std::runtime_error("boom");
  });
  route("GET", "/silent", [](const HttpRequest&, std::shared_ptr<HttpResponder>) {});
  start();
  RawClient client(port_);
  for (const char* target : {"/throw", "/silent"}) {
    ASSERT_TRUE(client.send(get_request(target)));
    auto failed = client.read_response();
    ASSERT_TRUE(failed) << target;
    EXPECT_EQ(failed->result_int(), 500) << target;
    EXPECT_EQ(error_of(*failed)["type"], "server_error");
    ASSERT_TRUE(client.send(get_request("/hello")));
    auto fine = client.read_response();
    ASSERT_TRUE(fine) << target;
    EXPECT_EQ(fine->body(), "hello");
  }
}

TEST_F(HttpServerTest, ConfigValidation) {
  HttpServerConfig config;
  EXPECT_TRUE(config.validate().ok());
  config.port = 70000;
  EXPECT_FALSE(config.validate().ok());
  config = HttpServerConfig{};
  config.io_threads = 0;
  EXPECT_FALSE(config.validate().ok());
  config = HttpServerConfig{};
  config.request_timeout = milliseconds(0);
  EXPECT_FALSE(config.validate().ok());
  config = HttpServerConfig{};
  config.host = "no such host.invalid";
  config.port = 0;
  HttpServer server(config);
  EXPECT_FALSE(server.start().ok());
}

}  // namespace
}  // namespace mx::test
