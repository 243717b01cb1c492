// HttpServer streaming: SSE chunks as they are written, a client hanging up mid-stream,
// a client that does not read, and stop() with open streams.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>

#include "http_test_util.h"
#include "server/http_server.h"

namespace mx::test {
namespace {

using std::chrono::steady_clock;

// Collects the responders of streaming requests so that the test can drive them.
struct StreamHub {
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<std::shared_ptr<HttpResponder>> streams;
  std::atomic<int> closes{0};

  std::shared_ptr<HttpResponder> wait_for(size_t index) {
    std::unique_lock lock(mutex);
    bool ok =
        arrived.wait_for(lock, std::chrono::seconds(5), [&] { return streams.size() > index; });
    return ok ? streams[index] : nullptr;
  }
};

class HttpStreamTest : public HttpServerFixture {
 protected:
  void SetUp() override {
    route("GET", "/hello", [](const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
      responder->send(200, "text/plain", "hello");
    });
    route("POST", "/stream", [hub = hub_](const HttpRequest&, std::shared_ptr<HttpResponder> r) {
      r->start_stream(200, {{"X-Request-Id", "abc"}});
      r->on_close([hub] { hub->closes.fetch_add(1); });
      std::lock_guard lock(hub->mutex);
      hub->streams.push_back(r);
      hub->arrived.notify_all();
    });
  }
  std::shared_ptr<StreamHub> hub_ = std::make_shared<StreamHub>();
};

TEST_F(HttpStreamTest, ChunksArriveOneByOneAndConnectionIsReused) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(client.send(post_request("/stream", "{}")));
  auto head = client.read_head();
  ASSERT_TRUE(head);
  EXPECT_NE(head->find("HTTP/1.1 200 OK\r\n"), std::string::npos) << *head;
  EXPECT_NE(head->find("Content-Type: text/event-stream\r\n"), std::string::npos) << *head;
  EXPECT_NE(head->find("Cache-Control: no-cache\r\n"), std::string::npos) << *head;
  EXPECT_NE(head->find("Transfer-Encoding: chunked\r\n"), std::string::npos) << *head;
  EXPECT_NE(head->find("X-Request-Id: abc\r\n"), std::string::npos) << *head;
  auto stream = hub_->wait_for(0);
  ASSERT_TRUE(stream);
  // Each chunk is read before the next is written: nothing waits in a buffer.
  for (int i = 0; i < 3; ++i) {
    std::string event = "data: {\"i\": " + std::to_string(i) + "}\n\n";
    std::thread writer([&] { stream->write(event); });  // from a thread of its own
    writer.join();
    auto chunk = client.read_chunk();
    ASSERT_TRUE(chunk) << "chunk " << i;
    EXPECT_EQ(*chunk, event);
  }
  stream->write("");  // ignored, would otherwise end the chunked body
  stream->end_stream();
  auto last = client.read_chunk();
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, "");
  EXPECT_EQ(client.buffered(), "");
  stream->write("data: after end\n\n");  // misuse: logged and dropped
  ASSERT_TRUE(client.send(get_request("/hello")));
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body(), "hello");
  EXPECT_EQ(hub_->closes.load(), 0);
  EXPECT_FALSE(stream->closed());
}

TEST_F(HttpStreamTest, ClientHangingUpFiresOnCloseOnce) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(client.send(post_request("/stream", "{}")));
  ASSERT_TRUE(client.read_head());
  auto stream = hub_->wait_for(0);
  ASSERT_TRUE(stream);
  stream->write("data: 1\n\n");
  ASSERT_TRUE(client.read_chunk());
  EXPECT_FALSE(stream->closed());
  client.close();
  // The FIN alone could be a half-close (http_half_close_test.cpp); the next chunk, as a
  // generation writes it, draws the closed socket's reset.
  stream->write("data: 2\n\n");
  auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (hub_->closes.load() == 0 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(hub_->closes.load(), 1);
  EXPECT_TRUE(stream->closed());
  // Writing to a dead stream is harmless; a late on_close still runs once; nothing fires twice.
  for (int i = 0; i < 100; ++i) stream->write("data: x\n\n");
  stream->end_stream();
  std::atomic<int> late{0};
  stream->on_close([&late] { late.fetch_add(1); });  // it already fired: not again
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(late.load(), 0);
  EXPECT_EQ(hub_->closes.load(), 1);
  EXPECT_EQ(server_->connection_count(), 0u);
}

TEST_F(HttpStreamTest, OnCloseRegisteredAfterTheClientLeftRunsAtOnce) {
  std::promise<std::shared_ptr<HttpResponder>> pending;
  route("GET", "/pending", [&pending](const HttpRequest&, std::shared_ptr<HttpResponder> r) {
    pending.set_value(r);  // answers never; registers nothing yet
  });
  start();
  auto client = std::make_unique<RawClient>(port_);
  ASSERT_TRUE(client->send(get_request("/pending")));
  auto future = pending.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto responder = future.get();
  client.reset();  // hang up
  auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (!responder->closed() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(responder->closed());
  std::atomic<int> calls{0};
  responder->on_close([&calls] { calls.fetch_add(1); });
  EXPECT_EQ(calls.load(), 1);
  responder->on_close([&calls] { calls.fetch_add(1); });
  EXPECT_EQ(calls.load(), 1);
  responder->send(200, "text/plain", "too late");  // harmless
}

TEST_F(HttpStreamTest, ClientThatDoesNotReadIsCutAtTheQueueLimit) {
  auto config = test_config();
  config.max_queued_bytes = 64 << 10;
  start(config);
  RawClient client(port_);  // never reads after the request
  ASSERT_TRUE(client.send(post_request("/stream", "{}")));
  auto stream = hub_->wait_for(0);
  ASSERT_TRUE(stream);
  std::string event = "data: " + std::string(16 << 10, 'x') + "\n\n";
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  size_t written = 0;
  while (!stream->closed() && steady_clock::now() < deadline) {
    stream->write(event);  // never blocks the caller
    written += event.size();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  EXPECT_TRUE(stream->closed()) << "after " << written << " bytes";
  // closed() turns true on the I/O thread just before on_close runs there.
  deadline = steady_clock::now() + std::chrono::seconds(5);
  while (hub_->closes.load() == 0 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(hub_->closes.load(), 1);
}

TEST_F(HttpStreamTest, StopCutsOpenStreamsAfterTheGracePeriod) {
  start();
  RawClient idle(port_);
  ASSERT_TRUE(idle.send(get_request("/hello")));
  ASSERT_TRUE(idle.read_response());
  RawClient streaming(port_);
  ASSERT_TRUE(streaming.send(post_request("/stream", "{}")));
  ASSERT_TRUE(streaming.read_head());
  auto stream = hub_->wait_for(0);
  ASSERT_TRUE(stream);

  auto begin = steady_clock::now();
  auto stopped = std::async(std::launch::async, [&] { server_->stop(milliseconds(400)); });
  EXPECT_TRUE(idle.wait_closed(milliseconds(300)));  // idle: closed at once
  stream->write("data: during grace\n\n");           // still delivered in the grace period
  auto chunk = streaming.read_chunk(milliseconds(300));
  ASSERT_TRUE(chunk);
  EXPECT_EQ(*chunk, "data: during grace\n\n");
  std::string rest;
  EXPECT_TRUE(streaming.wait_closed(milliseconds(3000), &rest));
  EXPECT_EQ(rest, "");  // cut: no terminating chunk
  stopped.get();
  EXPECT_GE(steady_clock::now() - begin, milliseconds(350));
  EXPECT_EQ(hub_->closes.load(), 1);
  EXPECT_TRUE(stream->closed());
  stream->write("data: after stop\n\n");                // harmless
  RawClient refused(port_, /*expect_listener=*/false);  // nobody listens any more
  EXPECT_FALSE(refused.connected());
}

TEST_F(HttpStreamTest, StopLetsAStreamFinishWithinTheGracePeriod) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(client.send(post_request("/stream", "{}")));
  ASSERT_TRUE(client.read_head());
  auto stream = hub_->wait_for(0);
  ASSERT_TRUE(stream);
  auto begin = steady_clock::now();
  spawn([stream] {
    std::this_thread::sleep_for(milliseconds(100));
    stream->write("data: last\n\n");
    stream->end_stream();
  });
  server_->stop(std::chrono::seconds(5));
  EXPECT_LT(steady_clock::now() - begin, milliseconds(1500));  // not the whole grace
  auto chunk = client.read_chunk();
  ASSERT_TRUE(chunk);
  EXPECT_EQ(*chunk, "data: last\n\n");
  auto last = client.read_chunk();
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, "");
  EXPECT_TRUE(client.wait_closed(milliseconds(3000)));  // no keep-alive while stopping
  EXPECT_EQ(hub_->closes.load(), 0);
}

TEST_F(HttpStreamTest, Http10StreamIsDelimitedByClose) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(client.send("POST /stream HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"));
  auto head = client.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->find("Transfer-Encoding"), std::string::npos) << *head;
  auto stream = hub_->wait_for(0);
  ASSERT_TRUE(stream);
  stream->write("data: a\n\n");
  stream->write("data: b\n\n");
  stream->end_stream();
  std::string body;
  EXPECT_TRUE(client.wait_closed(milliseconds(3000), &body));
  EXPECT_EQ(body, "data: a\n\ndata: b\n\n");
  EXPECT_EQ(hub_->closes.load(), 0);
}

TEST_F(HttpStreamTest, ResponderOutlivesTheServer) {
  start();
  RawClient client(port_);
  ASSERT_TRUE(client.send(post_request("/stream", "{}")));
  ASSERT_TRUE(client.read_head());
  auto stream = hub_->wait_for(0);
  ASSERT_TRUE(stream);
  server_.reset();  // stop(0) and destroy while the "engine" still holds the responder
  EXPECT_EQ(hub_->closes.load(), 1);
  EXPECT_TRUE(stream->closed());
  stream->write("data: nobody listens\n\n");
  stream->end_stream();
  hub_->streams.clear();
  stream.reset();  // the last reference: connection and server core go here
  EXPECT_TRUE(client.wait_closed(milliseconds(3000)));
}

TEST_F(HttpStreamTest, ManyClientsOnSeveralIoThreads) {
  auto config = test_config();
  config.io_threads = 2;
  start(config);
  constexpr int kClients = 8;
  constexpr int kRequests = 25;
  std::atomic<bool> feeding{true};
  std::thread feeder([&] {  // writes to whatever streams exist, ends each after 3 events
    std::vector<int> sent;
    while (feeding.load()) {
      {
        std::lock_guard lock(hub_->mutex);
        sent.resize(hub_->streams.size());
        for (size_t i = 0; i < hub_->streams.size(); ++i) {
          if (sent[i] == 3) continue;
          hub_->streams[i]->write("data: " + std::to_string(sent[i]) + "\n\n");
          if (++sent[i] == 3) hub_->streams[i]->end_stream();
        }
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      RawClient client(port_);
      for (int r = 0; r < kRequests; ++r) {
        if (r % 5 == 4) {
          if (!client.send(post_request("/stream", "{}")) || !client.read_head()) return;
          for (int e = 0; e < 3; ++e) {
            auto chunk = client.read_chunk();
            if (!chunk || *chunk != "data: " + std::to_string(e) + "\n\n") return;
          }
          auto last = client.read_chunk();
          if (!last || !last->empty()) return;
        } else {
          if (!client.send(get_request("/hello"))) return;
          auto response = client.read_response();
          if (!response || response->body() != "hello") return;
        }
        good.fetch_add(1);
      }
    });
  }
  for (auto& client : clients) client.join();
  feeding.store(false);
  feeder.join();
  EXPECT_EQ(good.load(), kClients * kRequests);
  EXPECT_EQ(hub_->closes.load(), 0);
}

}  // namespace
}  // namespace mx::test
