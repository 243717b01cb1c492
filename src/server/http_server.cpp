// HttpServer: config validation, routes, the accept loop, start and graceful stop.
#include "server/http_server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <fmt/ranges.h>
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <future>

#include "server/http_connection.h"
#include "server/task_executor.h"

namespace mx {
namespace detail {

// The request threads and the drain switch, shared by every wrapped handler.
struct RequestDispatch {
  RequestDispatch(int threads, size_t max_queued) : executor("request", threads, max_queued) {}
  TaskExecutor executor;
  std::atomic<int> draining_retry_after_s{0};  // > 0: draining
};

}  // namespace detail

namespace {

using detail::HttpConnection;
using detail::HttpServerCore;
using detail::net::ip::tcp;
namespace net = detail::net;

// Raising the soft limit to the hard one lets thousands of sockets fit (often 1024 → 1M).
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    spdlog::info("http: open file limit raised from {} to {}", before, limit.rlim_cur);
  }
}

bool is_resource_exhaustion(const boost::system::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open ||
         ec == boost::system::errc::too_many_files_open_in_system ||
         ec == boost::system::errc::no_buffer_space || ec == boost::system::errc::not_enough_memory;
}

void do_accept(const std::shared_ptr<HttpServerCore>& core);

void on_accept(const std::shared_ptr<HttpServerCore>& core, boost::system::error_code ec,
               tcp::socket socket) {
  if (core->stopping.load() || !core->acceptor->is_open()) return;
  if (ec) {
    spdlog::warn("http: accept failed: {}", ec.message());
    if (is_resource_exhaustion(ec)) {  // back off instead of spinning on EMFILE
      core->accept_backoff->expires_after(std::chrono::milliseconds(100));
      core->accept_backoff->async_wait([core](boost::system::error_code) { do_accept(core); });
      return;
    }
    do_accept(core);
    return;
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);  // SSE chunks go out at once
  uint64_t id = core->next_connection_id.fetch_add(1);
  auto connection = std::make_shared<HttpConnection>(core, std::move(socket), id);
  size_t open = core->add_connection(id, connection);
  net::post(connection->executor(), [connection, over = open > core->config.max_connections] {
    if (over) {
      connection->reject_overloaded();
    } else {
      connection->start();
    }
  });
  do_accept(core);
}

void do_accept(const std::shared_ptr<HttpServerCore>& core) {
  core->acceptor->async_accept(net::make_strand(core->io_context),
                               [core](boost::system::error_code ec, tcp::socket socket) {
                                 on_accept(core, ec, std::move(socket));
                               });
}

Result<tcp::endpoint> resolve_endpoint(const HttpServerConfig& config) {
  boost::system::error_code ec;
  auto address = net::ip::make_address(config.host, ec);
  if (!ec) return tcp::endpoint(address, static_cast<unsigned short>(config.port));
  net::io_context io_context;
  tcp::resolver resolver(io_context);
  auto results = resolver.resolve(config.host, std::to_string(config.port), ec);
  if (ec || results.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "http: cannot resolve host '{}': {}; use an IP address such as 0.0.0.0",
                      config.host, ec ? ec.message() : "no addresses");
  }
  return results.begin()->endpoint();
}

}  // namespace

Status HttpServerConfig::validate() const {
  if (host.empty()) return make_error(ErrorCode::kInvalidArgument, "http: host must not be empty");
  if (port < 0 || port > 65535) {
    return make_error(ErrorCode::kInvalidArgument, "http: port must be 0..65535, got {}", port);
  }
  if (max_body_bytes == 0 || max_header_bytes < 1024 || max_header_bytes > (size_t{1} << 30)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "http: max_body_bytes must be > 0 and max_header_bytes 1 KiB..1 GiB, got "
                      "{} and {}",
                      max_body_bytes, max_header_bytes);
  }
  if (request_timeout.count() <= 0 || idle_timeout.count() <= 0 || write_timeout.count() <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "http: request, idle and write timeouts must be > 0 ms, got {}, {}, {}",
                      request_timeout.count(), idle_timeout.count(), write_timeout.count());
  }
  if (io_threads < 1 || io_threads > 256) {
    return make_error(ErrorCode::kInvalidArgument, "http: io_threads must be 1..256, got {}",
                      io_threads);
  }
  if (handler_threads < 1 || handler_threads > 1024 || max_queued_requests == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "http: handler_threads must be 1..1024 and max_queued_requests > 0, got {} "
                      "and {}",
                      handler_threads, max_queued_requests);
  }
  if (max_connections == 0 || max_queued_bytes == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "http: max_connections and max_queued_bytes must be > 0");
  }
  return ok_status();
}

HttpServer::HttpServer(HttpServerConfig config)
    : config_(config),
      core_(std::make_shared<HttpServerCore>(std::move(config))),
      dispatch_(std::make_shared<detail::RequestDispatch>(
          std::clamp(config_.handler_threads, 1, 1024), config_.max_queued_requests)) {}

HttpServer::~HttpServer() {
  stop(std::chrono::milliseconds(0));
  dispatch_->executor.stop();
}

namespace {

void send_unavailable(HttpResponder& responder, const std::string& message, int retry_after_s) {
  responder.send(503, "application/json", ApiError::of_status(503, message).to_json(),
                 {{"Retry-After", std::to_string(retry_after_s)}});
}

// The handler as the I/O thread calls it: a copy of the request hops to a request thread,
// which runs `handler` (a throw there answers 500, as on the I/O thread).
HttpHandler on_request_thread(std::shared_ptr<detail::RequestDispatch> dispatch,
                              HttpHandler handler) {
  return [dispatch, handler = std::move(handler)](const HttpRequest& request,
                                                  std::shared_ptr<HttpResponder> responder) {
    if (const int retry_after = dispatch->draining_retry_after_s.load(); retry_after > 0) {
      return send_unavailable(*responder, "the server is shutting down; retry the request",
                              retry_after);
    }
    auto task = [handler, request, responder] {
      try {
        handler(request, responder);  // a copy: the catch below may still need to answer
      } catch (const std::exception& error) {
        spdlog::error("http {}: handler of {} {} threw: {}", request.remote, request.method,
                      request.path, error.what());
        responder->send(
            500, "application/json",
            ApiError::server_error("internal error while handling the request").to_json());
      }
    };
    if (!dispatch->executor.post(std::move(task))) {
      send_unavailable(*responder,
                       fmt::format("the server is busy: {} requests are waiting for a request "
                                   "thread; retry shortly",
                                   dispatch->executor.queued()),
                       1);
    }
  };
}

}  // namespace

void HttpServer::set_draining(int retry_after_s) {
  dispatch_->draining_retry_after_s.store(std::max(retry_after_s, 1));
}

void HttpServer::route(std::string method, std::string path, HttpHandler handler,
                       RouteThread thread) {
  if (thread == RouteThread::kRequestThread) {
    handler = on_request_thread(dispatch_, std::move(handler));
  }
  auto shared = std::make_shared<const HttpHandler>(std::move(handler));
  std::unique_lock lock(core_->routes_mutex);
  core_->routes[std::move(path)][std::move(method)] = std::move(shared);
}

size_t HttpServer::connection_count() const { return core_->connection_count(); }

Result<int> HttpServer::start() {
  if (started_ || core_->stopping.load()) {
    return make_error(ErrorCode::kInvalidArgument, "http: a server can be started only once");
  }
  MX_RETURN_IF_ERROR(config_.validate());
  MX_ASSIGN_OR_RETURN(tcp::endpoint endpoint, resolve_endpoint(config_));
  raise_open_file_limit();

  core_->acceptor.emplace(net::make_strand(core_->io_context));
  core_->accept_backoff.emplace(core_->acceptor->get_executor());
  tcp::acceptor& acceptor = *core_->acceptor;
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor.close();
    return make_error(ErrorCode::kIoError, "http: cannot listen on {}:{}: {}", config_.host,
                      config_.port, ec.message());
  }
  int port = acceptor.local_endpoint().port();
  core_->work_guard.emplace(core_->io_context.get_executor());
  do_accept(core_);
  for (int i = 0; i < config_.io_threads; ++i) {
    threads_.emplace_back([core = core_] { core->io_context.run(); });
  }
  started_ = true;
  spdlog::info("http: listening on {}:{} ({} I/O thread{})", endpoint.address().to_string(), port,
               config_.io_threads, config_.io_threads == 1 ? "" : "s");
  return port;
}

namespace {

// Waits until `done()` or `deadline`, polling (stop() is rare and must not depend on handlers).
template <typename Done>
void wait_until(Done done, std::chrono::steady_clock::time_point deadline) {
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

void HttpServer::stop(std::chrono::milliseconds grace) {
  if (!started_) return;
  started_ = false;
  core_->stopping.store(true);
  auto core = core_;
  // 1. No new connections.
  std::promise<void> acceptor_closed;
  net::post(core->acceptor->get_executor(), [core, &acceptor_closed] {
    boost::system::error_code ignored;
    core->acceptor->close(ignored);
    core->accept_backoff->cancel();
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();
  // 2. Idle connections close now; the others after their response, within the grace period.
  for (auto& connection : core->snapshot_connections()) {
    net::post(connection->executor(), [connection] { connection->stop_idle(); });
  }
  auto now = std::chrono::steady_clock::now();
  wait_until([&] { return core->connection_count() == 0; }, now + grace);
  // 3. The rest are cut (their on_close fires).
  size_t cut = core->connection_count();
  for (auto& connection : core->snapshot_connections()) {
    net::post(connection->executor(), [connection] { connection->force_close(); });
  }
  wait_until([&] { return core->connection_count() == 0; },
             std::chrono::steady_clock::now() + std::chrono::seconds(2));
  // 4. Requests still queued for a request thread run now (their connections are gone).
  dispatch_->executor.stop();
  // 5. Close the responders' gate, stop the threads, and run what is still queued so that no
  //    closure keeps a connection (and through it the core) alive.
  {
    std::unique_lock lock(core->post_gate);
    core->posts_open = false;
  }
  core->work_guard.reset();
  core->io_context.stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  core->io_context.restart();
  core->io_context.poll();
  // Handlers are not needed any more; dropping them breaks cycles such as handler → engine →
  // responder → connection → core → handler, which would keep all of them alive.
  {
    std::unique_lock lock(core->routes_mutex);
    core->routes.clear();
  }
  spdlog::info("http: stopped ({} connection{} cut after the grace period)", cut,
               cut == 1 ? "" : "s");
}

namespace detail {

HttpServerCore::HttpServerCore(HttpServerConfig config_in) : config(std::move(config_in)) {}

HttpServerCore::RouteMatch HttpServerCore::find_route(const std::string& method,
                                                      const std::string& path) const {
  std::shared_lock lock(routes_mutex);
  auto by_path = routes.find(path);
  if (by_path == routes.end()) {
    return {nullptr, ApiError::not_found(fmt::format("no route for path '{}'", path)), {}};
  }
  auto by_method = by_path->second.find(method);
  if (by_method != by_path->second.end()) return {by_method->second, {}, {}};
  std::vector<std::string> methods;
  for (const auto& [name, handler] : by_path->second) methods.push_back(name);
  std::sort(methods.begin(), methods.end());
  std::string allow = fmt::format("{}", fmt::join(methods, ", "));
  return {nullptr,
          ApiError::of_status(405, fmt::format("method {} is not allowed on '{}'; allowed: {}",
                                               method, path, allow)),
          allow};
}

size_t HttpServerCore::add_connection(uint64_t id,
                                      const std::shared_ptr<HttpConnection>& connection) {
  std::lock_guard lock(connections_mutex_);
  connections_.emplace(id, connection);
  return connections_.size();
}

void HttpServerCore::remove_connection(uint64_t id) {
  std::lock_guard lock(connections_mutex_);
  connections_.erase(id);
}

std::vector<std::shared_ptr<HttpConnection>> HttpServerCore::snapshot_connections() {
  std::vector<std::shared_ptr<HttpConnection>> alive;
  std::lock_guard lock(connections_mutex_);
  alive.reserve(connections_.size());
  for (auto& [id, weak] : connections_) {
    if (auto connection = weak.lock()) alive.push_back(std::move(connection));
  }
  return alive;
}

size_t HttpServerCore::connection_count() const {
  std::lock_guard lock(connections_mutex_);
  return connections_.size();
}

}  // namespace detail
}  // namespace mx
