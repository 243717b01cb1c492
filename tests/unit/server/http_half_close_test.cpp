// HttpServer and a client that shuts down its sending side after the request (a half-close:
// `nc -N`, proxies, scripts): the response still arrives complete and on_close does not fire.
// A client that is really gone (its socket closed or reset) still fires on_close.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "http_test_util.h"
#include "server/http_server.h"

namespace mx::test {
namespace {

using std::chrono::steady_clock;

class HttpHalfCloseTest : public HttpServerFixture {
 protected:
  void SetUp() override {
    // Answers only when the test says so; counts on_close.
    route("GET", "/pending", [this](const HttpRequest&, std::shared_ptr<HttpResponder> r) {
      r->on_close([this] { closes_.fetch_add(1); });
      pending_.set_value(r);
    });
    route("POST", "/stream", [this](const HttpRequest&, std::shared_ptr<HttpResponder> r) {
      r->start_stream(200);
      r->on_close([this] { closes_.fetch_add(1); });
      pending_.set_value(r);
    });
  }

  std::shared_ptr<HttpResponder> wait_for_request() {
    auto future = pending_.get_future();
    if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return nullptr;
    return future.get();
  }

  bool wait_for_close(std::chrono::milliseconds timeout = milliseconds(5000)) {
    auto deadline = steady_clock::now() + timeout;
    while (closes_.load() == 0 && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    return closes_.load() == 1;
  }

  std::promise<std::shared_ptr<HttpResponder>> pending_;
  std::atomic<int> closes_{0};
};

TEST_F(HttpHalfCloseTest, HalfClosedClientGetsItsLateResponse) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(client.send(get_request("/pending")));
  client.shutdown_send();
  auto responder = wait_for_request();
  ASSERT_TRUE(responder);
  // The server answers the EOF with an interim 100 Continue (which would draw a reset from a
  // closed socket) and goes on.
  auto interim = client.read_response();
  ASSERT_TRUE(interim) << "the connection ended at the client's half-close";
  EXPECT_EQ(interim->result_int(), 100);
  responder->send(200, "text/plain", "late answer");
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200);
  EXPECT_EQ(response->body(), "late answer");
  // Nothing more can come from the client: the server closes once the answer is out.
  std::string after;
  EXPECT_TRUE(client.wait_closed(milliseconds(3000), &after));
  EXPECT_EQ(after, "");
  EXPECT_EQ(closes_.load(), 0);
}

TEST_F(HttpHalfCloseTest, HalfClosedClientGetsAWholeStream) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(client.send(post_request("/stream", "{}")));
  client.shutdown_send();
  auto stream = wait_for_request();
  ASSERT_TRUE(stream);
  auto head = client.read_head();
  // An interim 100 Continue comes first if the EOF was seen before the stream's head.
  if (head && head->rfind("HTTP/1.1 100 ", 0) == 0) head = client.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << *head;
  for (int i = 0; i < 3; ++i) {
    std::string event = "data: " + std::to_string(i) + "\n\n";
    stream->write(event);
    auto chunk = client.read_chunk();
    ASSERT_TRUE(chunk) << "chunk " << i;
    EXPECT_EQ(*chunk, event);
  }
  stream->end_stream();
  auto last = client.read_chunk();
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, "");
  EXPECT_TRUE(client.wait_closed(milliseconds(3000)));
  EXPECT_EQ(closes_.load(), 0);
}

TEST_F(HttpHalfCloseTest, ClientThatClosedItsSocketStillFiresOnClose) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(client.send(get_request("/pending")));
  auto responder = wait_for_request();
  ASSERT_TRUE(responder);
  client.close();  // a FIN, as from a half-close; the reset to the interim response tells
  EXPECT_TRUE(wait_for_close());
  EXPECT_TRUE(responder->closed());
}

TEST_F(HttpHalfCloseTest, ResetFiresOnCloseAlsoWithoutAnInterimResponse) {
  start();
  RawClient client(port_);
  // HTTP/1.0: no 1xx may be sent, so only a reset or a failed write can tell.
  ASSERT_TRUE(client.send("GET /pending HTTP/1.0\r\n\r\n"));
  auto responder = wait_for_request();
  ASSERT_TRUE(responder);
  client.reset();
  EXPECT_TRUE(wait_for_close());
  EXPECT_TRUE(responder->closed());
}

TEST_F(HttpHalfCloseTest, ResetAfterAHalfCloseFiresOnClose) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(client.send("GET /pending HTTP/1.0\r\n\r\n"));
  client.shutdown_send();
  auto responder = wait_for_request();
  ASSERT_TRUE(responder);
  // No event says the server has read the EOF; the reset fires on_close either way (read
  // error before the EOF was seen, error event after).
  client.reset();
  EXPECT_TRUE(wait_for_close());
}

}  // namespace
}  // namespace mx::test
