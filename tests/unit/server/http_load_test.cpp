// HttpServer under many connections: 1,000 idle keep-alive connections and a few streams on one
// I/O thread, while new requests are still answered. Prints the memory per idle connection.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include "http_test_util.h"
#include "server/http_server.h"

namespace mx::test {
namespace {

// Resident set size of this process in bytes (server and client sides together).
size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

class HttpLoadTest : public HttpServerFixture {};

TEST_F(HttpLoadTest, ThousandIdleConnectionsAndStreamsWhileServing) {
  constexpr int kIdle = 1000;
  constexpr int kStreams = 20;
  std::mutex mutex;
  std::vector<std::shared_ptr<HttpResponder>> streams;
  route("GET", "/hello", [](const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
    responder->send(200, "text/plain", "hello");
  });
  route("POST", "/stream", [&](const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
    responder->start_stream(200);
    std::lock_guard lock(mutex);
    streams.push_back(std::move(responder));
  });
  auto config = test_config();
  config.io_threads = 1;
  start(config);

  // Warm up allocator and server paths before measuring.
  {
    RawClient warm(port_);
    ASSERT_TRUE(warm.send(get_request("/hello")) && warm.read_response());
  }
  size_t rss_before = resident_bytes();
  std::vector<std::unique_ptr<RawClient>> idle;
  idle.reserve(kIdle);
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(idle.back()->send(get_request("/hello"))) << i;
    auto response = idle.back()->read_response();
    ASSERT_TRUE(response && response->body() == "hello") << "connection " << i;
  }
  size_t rss_after = resident_bytes();
  EXPECT_GE(server_->connection_count(), static_cast<size_t>(kIdle));
  std::printf("[ memory ] %d idle keep-alive connections: %.0f bytes each (RSS, both ends)\n",
              kIdle, static_cast<double>(rss_after - rss_before) / kIdle);

  std::vector<std::unique_ptr<RawClient>> streaming;
  for (int i = 0; i < kStreams; ++i) {
    streaming.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(streaming.back()->send(post_request("/stream", "{}")));
    ASSERT_TRUE(streaming.back()->read_head()) << "stream " << i;
  }
  std::atomic<bool> writing{true};
  std::thread writer([&] {  // an "engine" feeding every stream
    for (int tick = 0; writing.load(); ++tick) {
      {
        std::lock_guard lock(mutex);
        for (auto& stream : streams) stream->write("data: " + std::to_string(tick) + "\n\n");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  struct JoinOnExit {  // also when an assertion below returns early
    std::atomic<bool>& writing;
    std::thread& writer;
    ~JoinOnExit() {
      writing.store(false);
      if (writer.joinable()) writer.join();
    }
  } join_writer{writing, writer};

  // New connections and some of the idle ones still get answers while all that is open.
  for (int i = 0; i < 50; ++i) {
    RawClient fresh(port_);
    ASSERT_TRUE(fresh.send(get_request("/hello")));
    ASSERT_TRUE(fresh.read_response()) << "fresh request " << i;
    RawClient& old = *idle[static_cast<size_t>(i) * 17 % kIdle];
    ASSERT_TRUE(old.send(get_request("/hello")));
    ASSERT_TRUE(old.read_response()) << "idle connection " << i;
  }
  for (auto& client : streaming) {
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->read_chunk()) << "stream chunk " << i;
  }
  writing.store(false);
  writer.join();
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(streams.size(), static_cast<size_t>(kStreams));
    for (auto& stream : streams) stream->end_stream();
  }
  for (auto& client : streaming) {
    std::optional<std::string> chunk;
    do {
      chunk = client->read_chunk();
    } while (chunk && !chunk->empty());
    EXPECT_TRUE(chunk && chunk->empty()) << "stream not terminated";
  }
  // Every idle connection was held open the whole time.
  for (int i = 0; i < kIdle; ++i) {
    ASSERT_TRUE(idle[i]->send(get_request("/hello"))) << i;
    ASSERT_TRUE(idle[i]->read_response()) << "idle connection " << i << " was dropped";
  }
}

TEST_F(HttpLoadTest, ConnectionsBeyondTheLimitGet503) {
  route("GET", "/hello", [](const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
    responder->send(200, "text/plain", "hello");
  });
  auto config = test_config();
  config.max_connections = 3;
  start(config);
  std::vector<std::unique_ptr<RawClient>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(open.back()->send(get_request("/hello")) && open.back()->read_response());
  }
  RawClient extra(port_);
  extra.send(get_request("/hello"));
  auto rejected = extra.read_response();
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->result_int(), 503);
  EXPECT_TRUE(extra.wait_closed(std::chrono::milliseconds(3000)));
  open.pop_back();  // frees a slot
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server_->connection_count() > 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  RawClient again(port_);
  ASSERT_TRUE(again.send(get_request("/hello")));
  auto accepted = again.read_response();
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->result_int(), 200);
}

}  // namespace
}  // namespace mx::test
