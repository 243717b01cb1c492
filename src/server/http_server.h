// HttpServer: the HTTP/1.1 transport of mxserve (Boost.Beast over Asio). It knows nothing of
// OpenAI or models: routes map (method, path) to a Handler, which gets the parsed HttpRequest
// and a shared HttpResponder through which it answers — at once, or later from any thread
// (e.g. the engine thread), with one complete response or a Server-Sent-Events stream.
//
// Threads and memory: `io_threads` threads run every socket; there is no thread per connection.
// Each connection serialises its work on its own strand, so HttpResponder methods only post to
// that strand and never block the caller. An I/O thread only moves bytes: a route's handler
// runs on one of `handler_threads` request threads (a bounded queue; full → 503 with
// Retry-After), with its own copy of the request, so parsing a hostile 8 MiB body, a key
// lookup in the database or tokenizing a long prompt never delays another connection. Only
// routes registered with RouteThread::kIoThread (/health: it must answer within milliseconds
// whatever the load) run on the I/O thread, and must not block.
// Draining (set_draining): request-thread routes answer 503 with Retry-After at once.
//
// Invariants: requests on one connection are answered in order, one at a time (the next request
// is read when the previous response has been written). Each responder gets exactly one
// response; misuse (a second send, write before start_stream) is logged and ignored. on_close
// fires exactly once, and only if the connection dies before the handler completed its response
// (send() or end_stream()). Errors the transport answers itself (404, 405, 408, 413, 431, 400,
// 500 for a throwing handler, 503 over max_connections, with the request queue full or while
// draining) carry an OpenAI-shaped JSON body.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/status.h"

namespace mx {

namespace detail {
class HttpConnection;
struct HttpServerCore;
struct RequestDispatch;
}  // namespace detail

// Header fields in order of appearance; names keep the case they were sent with.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent: "/v1/models?limit=2"
  std::string path;    // target without the query: "/v1/models"
  std::string body;
  HttpHeaders headers;
  std::string remote;  // peer address "ip:port"
  int version = 11;    // 10 for HTTP/1.0, 11 for HTTP/1.1

  // The first field called `name` (case-insensitive), or "" if there is none.
  std::string header(std::string_view name) const;
};

// The answer channel of one request. Held as std::shared_ptr; every method may be called from
// any thread. Calls are queued in order on the connection's strand and return at once.
class HttpResponder {
 public:
  ~HttpResponder();
  HttpResponder(const HttpResponder&) = delete;
  HttpResponder& operator=(const HttpResponder&) = delete;

  // One complete response with Content-Length. `headers` may add fields (or override
  // Content-Type); the transport sets Content-Length, Connection and Date itself.
  void send(int status, std::string content_type, std::string body, HttpHeaders headers = {});

  // A streaming response: Content-Type: text/event-stream (unless `headers` sets one),
  // Cache-Control: no-cache, chunked transfer encoding (HTTP/1.0 clients: raw bytes, then close).
  void start_stream(int status, HttpHeaders headers = {});
  // One chunk, sent as given (the caller formats "data: ...\n\n"). Empty data is ignored.
  // If the client does not read and more than HttpServerConfig::max_queued_bytes are waiting,
  // the connection is closed and on_close fires.
  void write(std::string data);
  void end_stream();

  // True once the connection is gone (client disconnected, overflow, timeout or server stop).
  // It turns true on the I/O thread just before on_close runs there: a caller that saw it true
  // may still be a moment ahead of the callback.
  bool closed() const;
  // The close notification: if the connection dies before the response is complete (before
  // send() / end_stream()), the registered callback runs once, on an I/O thread; it must not
  // block. Registering after the connection died runs `callback` at once on the calling
  // thread, unless a callback already ran. A later call replaces a callback not yet run.
  // Dropping the responder without completing the response answers 500 (or cuts the stream).
  void on_close(std::function<void()> callback);

 private:
  friend class detail::HttpConnection;
  enum class Phase { kNone, kStreaming, kDone };

  HttpResponder(std::shared_ptr<detail::HttpConnection> connection, uint64_t request_id);
  // Claims the transition from `from` to `to`; false (and a log line naming `what`) on misuse.
  bool advance(Phase from, Phase to, const char* what);
  // Drops the on_close callback: the response is complete.
  void complete();
  // Called on the connection's strand when the connection dies mid-response.
  void connection_died();

  std::shared_ptr<detail::HttpConnection> connection_;
  uint64_t request_id_;
  std::atomic<Phase> phase_{Phase::kNone};
  std::mutex close_mutex_;
  std::function<void()> on_close_;  // guarded by close_mutex_
  bool died_ = false;               // guarded by close_mutex_
  bool close_fired_ = false;        // guarded by close_mutex_
};

// The request is valid for the duration of the call only (copy what outlives it); the
// responder may be kept and used from any thread.
using HttpHandler = std::function<void(const HttpRequest&, std::shared_ptr<HttpResponder>)>;

struct HttpServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (start() returns it)
  size_t max_body_bytes = size_t{8} << 20;
  size_t max_header_bytes = size_t{16} << 10;  // request line + fields
  // A request must arrive whole within this time from its first byte, else 408 and close.
  std::chrono::milliseconds request_timeout{30'000};
  // A connection with no request in progress is closed after this long.
  std::chrono::milliseconds idle_timeout{60'000};
  // A write that makes no progress for this long closes the connection (client not reading).
  std::chrono::milliseconds write_timeout{60'000};
  // Unsent response bytes per connection; a stream write() beyond it closes the connection.
  // One send() may be larger (it is never cut).
  size_t max_queued_bytes = size_t{4} << 20;
  int io_threads = 1;
  size_t max_connections = 10'000;  // beyond: 503 and close
  // Threads running route handlers (see the file comment) and requests waiting for one;
  // beyond the queue: 503 with Retry-After.
  int handler_threads = 4;
  size_t max_queued_requests = 1024;

  Status validate() const;
};

// Where a route's handler runs: on a request thread (the default), or on the I/O thread
// itself (only for handlers that answer at once from memory, such as /health).
enum class RouteThread { kRequestThread, kIoThread };

class HttpServer {
 public:
  using Handler = HttpHandler;

  explicit HttpServer(HttpServerConfig config);
  ~HttpServer();  // stop(0) if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Adds or replaces the handler of (method, path); path matches exactly, without the query.
  // May be called at any time, also while serving.
  void route(std::string method, std::string path, HttpHandler handler,
             RouteThread thread = RouteThread::kRequestThread);

  // From now on request-thread routes answer 503 "shutting down" with Retry-After:
  // `retry_after_s` (requests already queued still run).
  void set_draining(int retry_after_s);

  // Validates the config, raises RLIMIT_NOFILE to its hard limit, binds, listens and starts
  // the I/O threads. Returns the bound port.
  Result<int> start();

  // Stops accepting, closes idle connections, lets open responses finish for up to `grace`,
  // then closes everything (on_close fires for unfinished responses), joins the I/O threads
  // and drops the route handlers (responders still held elsewhere stay safe to call).
  // Must not be called from a handler or an I/O thread. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

  // Open connections right now (for tests and metrics).
  size_t connection_count() const;

 private:
  HttpServerConfig config_;
  std::shared_ptr<detail::HttpServerCore> core_;
  std::shared_ptr<detail::RequestDispatch> dispatch_;  // the request threads
  std::vector<std::thread> threads_;
  bool started_ = false;
};

}  // namespace mx
