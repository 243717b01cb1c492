// HttpServer's request threads: a handler runs off the I/O thread on its own copy of the
// request, a blocked handler does not delay an I/O-thread route, a full queue answers 503 with
// Retry-After, and a draining server refuses request-thread routes the same way.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "http_test_util.h"

namespace mx::test {
namespace {

class HttpDispatchTest : public HttpServerFixture {
 protected:
  void SetUp() override {
    route("POST", "/slow", [this](const HttpRequest& request, std::shared_ptr<HttpResponder> r) {
      entered_.fetch_add(1);
      gate_.wait(milliseconds(10'000));
      r->send(200, "text/plain", "slow " + request.body);
    });
    route(
        "GET", "/fast",
        [](const HttpRequest&, std::shared_ptr<HttpResponder> r) {
          r->send(200, "text/plain", "fast");
        },
        RouteThread::kIoThread);
  }
  void TearDown() override {
    gate_.open();
    HttpServerFixture::TearDown();
  }
  // Waits (bounded) until `n` handlers entered /slow.
  bool wait_entered(int n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (entered_.load() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    return entered_.load() >= n;
  }

  Gate gate_;
  std::atomic<int> entered_{0};
};

TEST_F(HttpDispatchTest, BlockedHandlerDoesNotDelayTheIoThread) {
  HttpServerConfig config = test_config();
  config.io_threads = 1;
  config.handler_threads = 1;
  start(config);
  RawClient slow(port_);
  ASSERT_TRUE(slow.send(post_request("/slow", "body")));
  ASSERT_TRUE(wait_entered(1));
  // The only I/O thread is free: another connection's I/O-thread route answers at once.
  RawClient fast(port_);
  ASSERT_TRUE(fast.send(get_request("/fast")));
  auto answer = fast.read_response(milliseconds(2000));
  ASSERT_TRUE(answer) << "an I/O-thread route waited for a blocked handler";
  EXPECT_EQ(answer->body(), "fast");
  gate_.open();
  auto late = slow.read_response();
  ASSERT_TRUE(late);
  EXPECT_EQ(late->body(), "slow body");  // the handler's own copy of the request
}

TEST_F(HttpDispatchTest, FullQueueAnswers503WithRetryAfter) {
  HttpServerConfig config = test_config();
  config.handler_threads = 1;
  config.max_queued_requests = 1;
  start(config);
  RawClient running(port_), second(port_), third(port_);
  ASSERT_TRUE(running.send(post_request("/slow", "1")));
  ASSERT_TRUE(wait_entered(1));
  // One request thread busy, room for one more in the queue: of two more requests, one waits
  // and one is refused at once.
  ASSERT_TRUE(second.send(post_request("/slow", "2")));
  ASSERT_TRUE(third.send(post_request("/slow", "3")));
  std::optional<Response> answers[2];
  RawClient* clients[2] = {&second, &third};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!answers[0] && !answers[1] && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 2; ++i) answers[i] = clients[i]->read_response(milliseconds(50));
  }
  const int refused = answers[0] ? 0 : 1;
  ASSERT_TRUE(answers[refused]) << "no answer while one request runs and one is queued";
  EXPECT_EQ(answers[refused]->result_int(), 503);
  EXPECT_EQ((*answers[refused])[http::field::retry_after], "1");
  EXPECT_NE(answers[refused]->body().find("the server is busy"), std::string::npos)
      << answers[refused]->body();
  gate_.open();
  auto first = running.read_response();
  auto waited = clients[1 - refused]->read_response();
  ASSERT_TRUE(first && waited);
  EXPECT_EQ(first->body(), "slow 1");
  EXPECT_EQ(waited->result_int(), 200);
}

TEST_F(HttpDispatchTest, DrainingRefusesRequestThreadRoutes) {
  start();
  gate_.open();
  server_->set_draining(7);
  RawClient client(port_);
  ASSERT_TRUE(client.send(post_request("/slow", "x")));
  auto refused = client.read_response();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->result_int(), 503);
  EXPECT_EQ((*refused)[http::field::retry_after], "7");
  auto error = nlohmann::json::parse(refused->body())["error"];
  EXPECT_EQ(error["message"], "the server is shutting down; retry the request");
  EXPECT_EQ(error["type"], "server_error");
  ASSERT_TRUE(client.send(get_request("/fast")));
  auto fast = client.read_response();
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->result_int(), 200);
}

}  // namespace
}  // namespace mx::test
