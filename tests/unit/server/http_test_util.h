// Test helpers for HttpServer: a tiny blocking HTTP/1.1 client on POSIX sockets (every read
// has a timeout via poll; responses are parsed with Beast's parser, chunked streams by hand so
// each chunk the server wrote can be checked as it arrives), and a fixture that runs a server
// on a free port and joins the threads its handlers start.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server/http_server.h"

namespace mx::test {

namespace http = boost::beast::http;
using Response = http::response<http::string_body>;
using std::chrono::milliseconds;

class RawClient {
 public:
  // `expect_listener`: a refused connection is a test failure.
  explicit RawClient(int port, bool expect_listener = true) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      if (expect_listener)
        ADD_FAILURE() << "connect to port " << port << " failed: " << std::strerror(errno);
      close();
    }
  }
  ~RawClient() { close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Half-close: no more bytes from this side, the server's answer can still be read.
  void shutdown_send() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
  }
  // Closes with a reset (RST) instead of an orderly FIN.
  void reset() {
    if (fd_ < 0) return;
    linger abort_on_close{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
    close();
  }

  // Sends all bytes; false if the peer is gone.
  bool send(std::string_view bytes) {
    while (!bytes.empty() && fd_ >= 0) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return fd_ >= 0;
  }

  // One complete response, or nullopt on timeout / connection end / parse error.
  std::optional<Response> read_response(milliseconds timeout = milliseconds(5000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    parser.eager(true);
    for (;;) {
      if (!buffer_.empty()) {
        boost::beast::error_code ec;
        size_t used = parser.put(boost::asio::buffer(buffer_), ec);
        buffer_.erase(0, used);
        if (ec && ec != http::error::need_more) {
          ADD_FAILURE() << "bad response from server: " << ec.message();
          return std::nullopt;
        }
        if (parser.is_done()) return parser.release();
        if (!ec && used > 0) continue;
      }
      int n = receive(deadline);
      if (n == 0 && parser.got_some()) {  // close-delimited body (HTTP/1.0 stream)
        boost::beast::error_code ec;
        parser.put_eof(ec);
        if (!ec && parser.is_done()) return parser.release();
      }
      if (n <= 0) return std::nullopt;
    }
  }

  // The head of a streaming response (status line and fields, up to the blank line).
  std::optional<std::string> read_head(milliseconds timeout = milliseconds(5000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buffer_.substr(0, end + 4);
        buffer_.erase(0, end + 4);
        return head;
      }
      if (receive(deadline) <= 0) return std::nullopt;
    }
  }

  // The data of the next chunk of a chunked body; "" for the last chunk; nullopt on timeout,
  // connection end or bad framing.
  std::optional<std::string> read_chunk(milliseconds timeout = milliseconds(5000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t line_end = buffer_.find("\r\n");
      if (line_end != std::string::npos) {
        size_t size = std::stoul(buffer_.substr(0, line_end), nullptr, 16);
        size_t total = line_end + 2 + size + 2;
        if (buffer_.size() >= total) {
          if (buffer_.compare(line_end + 2 + size, 2, "\r\n") != 0) return std::nullopt;
          std::string data = buffer_.substr(line_end + 2, size);
          buffer_.erase(0, total);
          return data;
        }
      }
      if (receive(deadline) <= 0) return std::nullopt;
    }
  }

  // True if the server closes the connection within `timeout`; bytes received meanwhile are
  // kept in `received`.
  bool wait_closed(milliseconds timeout, std::string* received = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int n = receive(deadline);
      if (n < 0) return false;
      if (n == 0) {
        if (received) *received = buffer_;
        return true;
      }
    }
  }

  std::string& buffered() { return buffer_; }

 private:
  // Appends what arrives; returns bytes read, 0 at end of stream (or reset), -1 on timeout.
  int receive(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0) return 0;
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd poll_fd{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) return -1;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return 0;
    buffer_.append(chunk, static_cast<size_t>(n));
    return static_cast<int>(n);
  }

  int fd_ = -1;
  std::string buffer_;
};

// A latch the test opens: work waits on it (bounded) to hold a thread.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }
  bool wait(milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return opened_.wait_for(lock, timeout, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

inline std::string get_request(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) +
         "\r\n";
}

inline std::string post_request(std::string_view target, std::string_view body,
                                std::string_view extra_headers = "") {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

class HttpServerFixture : public ::testing::Test {
 protected:
  // Config for tests: port 0 and short timeouts so that failures do not hang.
  static HttpServerConfig test_config() {
    HttpServerConfig config;
    config.port = 0;
    config.request_timeout = milliseconds(5000);
    config.idle_timeout = milliseconds(10000);
    return config;
  }

  void start(HttpServerConfig config = test_config()) {
    config.port = 0;
    server_ = std::make_unique<HttpServer>(config);
    for (auto& [method, path, handler, thread] : routes_) {
      server_->route(method, path, handler, thread);
    }
    auto port = server_->start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
  }

  void route(std::string method, std::string path, HttpHandler handler,
             RouteThread thread = RouteThread::kRequestThread) {
    routes_.push_back({std::move(method), std::move(path), std::move(handler), thread});
  }

  // Runs `work` on a thread of its own, joined at the end of the test.
  void spawn(std::function<void()> work) {
    std::lock_guard lock(threads_mutex_);
    threads_.emplace_back(std::move(work));
  }

  void TearDown() override {
    if (server_) server_->stop(milliseconds(0));
    std::lock_guard lock(threads_mutex_);
    for (auto& thread : threads_) thread.join();
  }

  struct Route {
    std::string method, path;
    HttpHandler handler;
    RouteThread thread = RouteThread::kRequestThread;
  };
  std::vector<Route> routes_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::mutex threads_mutex_;
  std::vector<std::thread> threads_;
};

}  // namespace mx::test
