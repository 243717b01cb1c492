// Internals of HttpServer: the state shared by the server and its connections
// (HttpServerCore) and one HTTP/1.x connection (HttpConnection). Not part of the public API.
//
// An HttpConnection lives as long as its socket has async work pending or an HttpResponder
// refers to it; all of its state is touched only on its strand. Requests are read by feeding
// raw bytes to an HttpRequestReader (Beast's parser plus the framing rules), so the connection
// sees the first byte of a request (the request timeout starts there) and keeps reading while a
// response is pending, which is how it notices a client that resets the connection
// mid-generation. An EOF then is a half-close, not a hang-up: see on_peer_finished_sending.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/api_error.h"
#include "server/http_request_reader.h"
#include "server/http_server.h"

namespace mx::detail {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct HttpServerCore {
  explicit HttpServerCore(HttpServerConfig config_in);

  struct RouteMatch {
    std::shared_ptr<const HttpHandler> handler;  // null: `error` says why
    ApiError error;
    std::string allow;  // for 405: the methods the path has
  };
  RouteMatch find_route(const std::string& method, const std::string& path) const;

  // Registry of open connections (for stop() and max_connections). Returns the number open.
  size_t add_connection(uint64_t id, const std::shared_ptr<HttpConnection>& connection);
  void remove_connection(uint64_t id);
  std::vector<std::shared_ptr<HttpConnection>> snapshot_connections();
  size_t connection_count() const;

  const HttpServerConfig config;
  net::io_context io_context;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_guard;
  std::optional<tcp::acceptor> acceptor;  // on its own strand
  std::optional<net::steady_timer> accept_backoff;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> next_connection_id{1};

  // Responders post through this gate; stop() closes it before draining the io_context, so
  // nothing is queued on a stopped context (a queued closure would keep its connection alive).
  std::shared_mutex post_gate;
  bool posts_open = true;  // guarded by post_gate

  mutable std::shared_mutex routes_mutex;
  // path -> method -> handler
  std::unordered_map<std::string,
                     std::unordered_map<std::string, std::shared_ptr<const HttpHandler>>>
      routes;  // guarded by routes_mutex

 private:
  mutable std::mutex connections_mutex_;
  std::unordered_map<uint64_t, std::weak_ptr<HttpConnection>> connections_;
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(std::shared_ptr<HttpServerCore> core, tcp::socket socket, uint64_t id);
  ~HttpConnection();

  // Entry points posted by the server (run on the strand).
  void start();
  void reject_overloaded();  // 503, then close
  void stop_idle();          // server stopping: close if idle, else close after this response
  void force_close();

  // Runs `work` on the connection's strand unless the server has shut down. Any thread.
  template <typename Work>
  void post(Work&& work) {
    std::shared_lock lock(core_->post_gate);
    if (core_->posts_open) net::post(socket_.get_executor(), std::forward<Work>(work));
  }
  net::any_io_executor executor() { return socket_.get_executor(); }
  bool is_closed() const { return closed_.load(std::memory_order_acquire); }

  // HttpResponder operations, on the strand. Calls for another request than the current one
  // (or after close) are ignored.
  void do_send(uint64_t request_id, int status, std::string_view content_type,
               std::string_view body, const HttpHeaders& headers);
  void do_start_stream(uint64_t request_id, int status, const HttpHeaders& headers);
  void do_write(uint64_t request_id, std::string_view data);
  void do_end_stream(uint64_t request_id);
  void do_abandon(uint64_t request_id, bool was_streaming);

 private:
  enum class State { kReading, kHandling, kClosing, kClosed };

  // Reading (http_connection_read.cpp).
  void begin_request();
  void do_read();
  void on_readable(boost::system::error_code ec);
  void parse_buffered();
  void on_peer_finished_sending();
  void watch_for_reset();
  void check_for_reset();
  void dispatch();
  void call_handler(const HttpServerCore::RouteMatch& match, const HttpRequest& request);
  HttpRequest make_request(http::request<http::string_body>&& message) const;

  // Writing and lifetime (http_connection.cpp).
  bool is_current(uint64_t request_id) const;
  void respond_error(const ApiError& error, bool close, const HttpHeaders& headers = {});
  void queue_bytes(std::string bytes);
  void start_write();
  void on_write(boost::system::error_code ec);
  void on_response_complete();
  void begin_close();
  void close_now(const char* reason);
  void update_timer();
  void on_timer(boost::system::error_code ec);

  const std::shared_ptr<HttpServerCore> core_;  // first: destroyed last
  tcp::socket socket_;
  net::steady_timer timer_;
  const uint64_t id_;
  std::string remote_;
  std::atomic<bool> closed_{false};

  State state_ = State::kReading;
  boost::beast::flat_buffer buffer_;
  std::optional<HttpRequestReader> reader_;
  bool read_pending_ = false;
  bool peer_finished_ = false;        // EOF read: the client sends nothing more (half-close)
  bool reset_watch_pending_ = false;  // waiting for the client's reset after its EOF
  bool request_started_ = false;      // a byte of the current request arrived
  bool continue_sent_ = false;
  Clock::time_point idle_deadline_;
  Clock::time_point request_deadline_;
  Clock::time_point linger_deadline_;

  // The request being answered.
  uint64_t request_id_ = 0;
  std::weak_ptr<HttpResponder> responder_;
  int version_ = 11;
  bool keep_alive_ = true;
  bool streaming_ = false;
  bool chunked_ = false;
  bool response_done_ = false;  // the last byte of the response is queued

  // Writes: `queue_` collects, `writing_` is in flight (swapped, so strings never move).
  std::vector<std::string> queue_;
  std::vector<std::string> writing_;
  size_t queued_bytes_ = 0;
  bool write_pending_ = false;
  Clock::time_point write_started_;
};

}  // namespace mx::detail
