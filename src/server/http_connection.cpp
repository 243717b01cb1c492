// HttpConnection, write side and lifetime: responses from HttpResponder, the write queue,
// timeouts (idle, request, write, linger) and closing.
#include "server/http_connection.h"

#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>

#include "server/http_wire.h"

namespace mx::detail {
namespace {

// After the last response of a connection the socket is half-closed and input is discarded
// for up to this long, so the client reads the response instead of a reset (RFC 9112 9.6).
constexpr std::chrono::milliseconds kLingerTime{2000};

}  // namespace

HttpConnection::HttpConnection(std::shared_ptr<HttpServerCore> core, tcp::socket socket,
                               uint64_t id)
    : core_(std::move(core)),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      id_(id),
      buffer_(core_->config.max_header_bytes + 65536) {
  boost::system::error_code ec;
  auto endpoint = socket_.remote_endpoint(ec);
  if (!ec) {
    const char* format = endpoint.address().is_v6() ? "[{}]:{}" : "{}:{}";
    remote_ = fmt::format(fmt::runtime(format), endpoint.address().to_string(), endpoint.port());
  }
}

HttpConnection::~HttpConnection() {
  if (!closed_.load()) core_->remove_connection(id_);
}

void HttpConnection::start() {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);  // reads run only when readable; see do_read
  if (ec) {
    close_now("cannot make the socket non-blocking");
    return;
  }
  begin_request();
}

void HttpConnection::reject_overloaded() {
  spdlog::warn("http {}: over max_connections ({}), answering 503", remote_,
               core_->config.max_connections);
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  state_ = State::kHandling;
  respond_error(ApiError::of_status(503, "the server has too many open connections; retry later"),
                /*close=*/true);
}

void HttpConnection::stop_idle() {
  keep_alive_ = false;
  if (state_ == State::kReading && !request_started_) close_now(nullptr);
}

void HttpConnection::force_close() { close_now("server stopped"); }

bool HttpConnection::is_current(uint64_t request_id) const {
  return request_id == request_id_ && state_ == State::kHandling && !response_done_;
}

void HttpConnection::do_send(uint64_t request_id, int status, std::string_view content_type,
                             std::string_view body, const HttpHeaders& headers) {
  if (!is_current(request_id) || streaming_) return;
  response_done_ = true;
  queue_bytes(build_response({status, version_, keep_alive_, content_type}, headers, body));
}

void HttpConnection::do_start_stream(uint64_t request_id, int status, const HttpHeaders& headers) {
  if (!is_current(request_id) || streaming_) return;
  streaming_ = true;
  chunked_ = version_ >= 11;
  if (!chunked_) keep_alive_ = false;
  queue_bytes(
      build_stream_head({status, version_, keep_alive_, "text/event-stream"}, chunked_, headers));
}

void HttpConnection::do_write(uint64_t request_id, std::string_view data) {
  if (!is_current(request_id) || !streaming_ || data.empty()) return;
  if (queued_bytes_ > core_->config.max_queued_bytes) {
    spdlog::warn("http {}: client is not reading, {} bytes queued (limit {}); closing", remote_,
                 queued_bytes_, core_->config.max_queued_bytes);
    close_now("write queue overflow");
    return;
  }
  queue_bytes(chunked_ ? frame_chunk(data) : std::string(data));
}

void HttpConnection::do_end_stream(uint64_t request_id) {
  if (!is_current(request_id) || !streaming_) return;
  response_done_ = true;
  if (chunked_) {
    queue_bytes(std::string(kLastChunk));
  } else if (!write_pending_) {
    on_response_complete();
  }
}

void HttpConnection::do_abandon(uint64_t request_id, bool was_streaming) {
  if (!is_current(request_id)) return;
  if (was_streaming) {
    spdlog::warn("http {}: stream dropped by its handler before end_stream; closing", remote_);
    close_now(nullptr);  // the client sees a truncated stream, not a complete one
    return;
  }
  spdlog::error("http {}: handler released the request without answering", remote_);
  respond_error(ApiError::server_error("the request was dropped without an answer"),
                /*close=*/false);
}

void HttpConnection::respond_error(const ApiError& error, bool close, const HttpHeaders& headers) {
  reader_.reset();
  state_ = State::kHandling;
  if (close) keep_alive_ = false;
  streaming_ = false;
  response_done_ = true;
  queue_bytes(build_response({error.http_status, version_, keep_alive_, "application/json"},
                             headers, error.to_json()));
}

void HttpConnection::queue_bytes(std::string bytes) {
  queued_bytes_ += bytes.size();
  queue_.push_back(std::move(bytes));
  if (!write_pending_) start_write();
}

void HttpConnection::start_write() {
  writing_.swap(queue_);
  std::vector<net::const_buffer> buffers;
  buffers.reserve(writing_.size());
  for (const std::string& bytes : writing_) buffers.emplace_back(net::buffer(bytes));
  write_pending_ = true;
  write_started_ = Clock::now();
  update_timer();
  net::async_write(
      socket_, buffers,
      [self = shared_from_this()](boost::system::error_code ec, size_t) { self->on_write(ec); });
}

void HttpConnection::on_write(boost::system::error_code ec) {
  write_pending_ = false;
  for (const std::string& bytes : writing_) queued_bytes_ -= bytes.size();
  writing_.clear();
  if (state_ == State::kClosed) return;
  if (ec) {
    close_now("write failed");
    return;
  }
  if (!queue_.empty()) {
    start_write();
  } else if (state_ == State::kHandling && response_done_) {
    on_response_complete();
  } else {
    update_timer();
  }
}

void HttpConnection::on_response_complete() {
  responder_.reset();
  if (!keep_alive_ || core_->stopping.load()) {
    begin_close();
  } else {
    begin_request();
  }
}

void HttpConnection::begin_close() {
  state_ = State::kClosing;
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    close_now(nullptr);
    return;
  }
  // Stopping, with no unread input: nothing can turn into a reset, so do not hold stop() up.
  if (core_->stopping.load() && socket_.available(ec) == 0 && !ec) {
    close_now(nullptr);
    return;
  }
  linger_deadline_ = Clock::now() + kLingerTime;
  update_timer();
  do_read();
}

void HttpConnection::close_now(const char* reason) {
  if (state_ == State::kClosed) return;
  bool response_open = state_ == State::kHandling && !response_done_;
  state_ = State::kClosed;
  closed_.store(true, std::memory_order_release);
  boost::system::error_code ec;
  socket_.close(ec);
  timer_.cancel();
  reader_.reset();
  buffer_.clear();
  buffer_.shrink_to_fit();
  queue_.clear();
  core_->remove_connection(id_);
  if (reason) spdlog::debug("http {}: closed: {}", remote_, reason);
  if (response_open) {
    if (auto responder = responder_.lock()) responder->connection_died();
  }
  responder_.reset();
}

void HttpConnection::update_timer() {
  Clock::time_point deadline = Clock::time_point::max();
  const HttpServerConfig& config = core_->config;
  if (state_ == State::kClosing) {
    deadline = linger_deadline_;
  } else if (write_pending_) {
    deadline = write_started_ + config.write_timeout;
  } else if (state_ == State::kReading) {
    deadline = request_started_ ? request_deadline_ : idle_deadline_;
  }
  if (state_ == State::kClosed || deadline == timer_.expiry()) return;
  timer_.expires_at(deadline);  // cancels the wait in progress
  if (deadline == Clock::time_point::max()) return;
  timer_.async_wait(
      [self = shared_from_this()](boost::system::error_code ec) { self->on_timer(ec); });
}

void HttpConnection::on_timer(boost::system::error_code ec) {
  if (ec == net::error::operation_aborted || state_ == State::kClosed) return;
  if (timer_.expiry() > Clock::now()) return;  // moved meanwhile; a newer wait is pending
  timer_.expires_at(Clock::time_point::max());
  if (state_ == State::kClosing) {
    close_now(nullptr);
  } else if (write_pending_) {
    spdlog::warn("http {}: write made no progress for {} ms; closing", remote_,
                 core_->config.write_timeout.count());
    close_now("write timeout");
  } else if (state_ == State::kReading && request_started_) {
    spdlog::info("http {}: request not complete after {} ms; answering 408", remote_,
                 core_->config.request_timeout.count());
    respond_error(ApiError::of_status(408, fmt::format("the request did not arrive within {} ms",
                                                       core_->config.request_timeout.count())),
                  /*close=*/true);
  } else if (state_ == State::kReading) {
    close_now("idle timeout");
  }
}

}  // namespace mx::detail
