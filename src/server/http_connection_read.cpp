// HttpConnection, read side: raw bytes → Beast parser → HttpRequest → route → handler.
#include <spdlog/spdlog.h>

#include <boost/beast/http/error.hpp>

#include "server/http_connection.h"
#include "server/http_wire.h"

namespace mx::detail {
namespace {

constexpr size_t kIdleReadBytes = 1024;    // first read of a request: small buffer when idle
constexpr size_t kBusyReadBytes = 65536;   // reads of a request in progress (bodies)
constexpr size_t kWatchReadBytes = 4096;   // while a response is pending (pipelined bytes)
constexpr size_t kLingerReadBytes = 4096;  // discarding input before close

std::string_view to_view(boost::beast::string_view text) { return {text.data(), text.size()}; }

}  // namespace

void HttpConnection::begin_request() {
  state_ = State::kReading;
  parser_.reset();
  request_started_ = false;
  continue_sent_ = false;
  idle_deadline_ = Clock::now() + core_->config.idle_timeout;
  if (buffer_.size() == 0 && buffer_.capacity() > kIdleReadBytes) buffer_.shrink_to_fit();
  update_timer();
  if (buffer_.size() > 0) {
    parse_buffered();  // a pipelined request is already here
  } else {
    do_read();
  }
}

// Reads wait for readability first and then read what is there without blocking, so no
// buffer is lent to a pending operation: an idle connection holds no buffer at all, and the
// buffer may be parsed, consumed or shrunk at any time on the strand.
void HttpConnection::do_read() {
  if (read_pending_ || state_ == State::kClosed) return;
  read_pending_ = true;
  socket_.async_wait(
      tcp::socket::wait_read,
      [self = shared_from_this()](boost::system::error_code ec) { self->on_readable(ec); });
}

void HttpConnection::on_readable(boost::system::error_code ec) {
  read_pending_ = false;
  if (state_ == State::kClosed) return;
  size_t want = kBusyReadBytes;
  if (state_ == State::kClosing) {
    buffer_.consume(buffer_.size());
    want = kLingerReadBytes;
  } else if (state_ == State::kReading && buffer_.size() == 0 && !request_started_) {
    want = kIdleReadBytes;
  } else if (state_ == State::kHandling) {
    want = kWatchReadBytes;
  }
  // While a response is pending, a full buffer of pipelined bytes stops reading (and with it
  // the disconnect check); while reading a request the parser's header limit fires first.
  want = std::min(want, buffer_.max_size() - buffer_.size());
  if (want == 0) return;
  size_t bytes = 0;
  if (!ec) bytes = socket_.read_some(buffer_.prepare(want), ec);
  if (ec == net::error::would_block || ec == net::error::try_again) {
    do_read();
    return;
  }
  if (ec) {
    // EOF or reset. Mid-response this is the client going away: close_now fires on_close.
    if (state_ == State::kReading && request_started_) {
      spdlog::debug("http {}: connection ended inside a request: {}", remote_, ec.message());
    }
    close_now(state_ == State::kHandling ? "client disconnected" : nullptr);
    return;
  }
  buffer_.commit(bytes);
  switch (state_) {
    case State::kReading:
      parse_buffered();
      return;
    case State::kHandling:
      if (!keep_alive_) buffer_.consume(buffer_.size());  // no further request will be read
      do_read();
      return;
    case State::kClosing:
      do_read();  // discards
      return;
    case State::kClosed:
      return;
  }
}

void HttpConnection::parse_buffered() {
  if (!parser_) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(core_->config.max_header_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(core_->config.max_body_bytes));
    parser_->eager(true);
  }
  while (buffer_.size() > 0 && !parser_->is_done()) {
    boost::system::error_code ec;
    size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (!request_started_ && parser_->got_some()) {
      request_started_ = true;
      request_deadline_ = Clock::now() + core_->config.request_timeout;
      update_timer();
    }
    if (ec == http::error::need_more) break;
    if (ec) {
      fail_request(ec);
      return;
    }
    if (used == 0) break;
  }
  if (parser_->is_done()) {
    dispatch();
    return;
  }
  if (parser_->is_header_done() && !continue_sent_ && parser_->get().version() >= 11 &&
      header_name_equals(to_view(parser_->get()[http::field::expect]), "100-continue")) {
    continue_sent_ = true;  // the client waits for this before it sends the body
    queue_bytes(std::string(kContinueResponse));
  }
  do_read();
}

void HttpConnection::fail_request(boost::system::error_code ec) {
  const HttpServerConfig& config = core_->config;
  if (parser_ && parser_->is_header_done()) version_ = parser_->get().version();
  if (ec == http::error::body_limit) {
    respond_error(
        ApiError::of_status(413, fmt::format("request body is larger than the limit of {} bytes; "
                                             "send a smaller request",
                                             config.max_body_bytes)),
        /*close=*/true);
  } else if (ec == http::error::header_limit) {
    respond_error(ApiError::of_status(
                      431, fmt::format("request headers are larger than the limit of {} bytes",
                                       config.max_header_bytes)),
                  /*close=*/true);
  } else {
    respond_error(ApiError::bad_request(fmt::format("malformed HTTP request: {}", ec.message())),
                  /*close=*/true);
  }
}

HttpRequest HttpConnection::make_request(http::request<http::string_body>&& message) const {
  HttpRequest request;
  request.method = std::string(to_view(message.method_string()));
  request.target = std::string(to_view(message.target()));
  request.path = request.target.substr(0, request.target.find('?'));
  request.version = static_cast<int>(message.version());
  request.headers.reserve(8);
  for (const auto& field : message) {
    request.headers.emplace_back(to_view(field.name_string()), to_view(field.value()));
  }
  request.body = std::move(message.body());
  request.remote = remote_;
  return request;
}

void HttpConnection::dispatch() {
  http::request<http::string_body> message = parser_->release();
  parser_.reset();
  state_ = State::kHandling;
  ++request_id_;
  version_ = static_cast<int>(message.version());
  keep_alive_ = message.keep_alive() && !core_->stopping.load();
  streaming_ = chunked_ = response_done_ = false;
  HttpRequest request = make_request(std::move(message));
  update_timer();  // no deadline while the handler works
  do_read();       // notice a client that hangs up

  auto match = core_->find_route(request.method, request.path);
  if (!match.handler) {
    HttpHeaders headers;
    if (!match.allow.empty()) headers.emplace_back("Allow", match.allow);
    respond_error(match.error, /*close=*/false, headers);
    return;
  }
  call_handler(match, request);
}

void HttpConnection::call_handler(const HttpServerCore::RouteMatch& match,
                                  const HttpRequest& request) {
  std::shared_ptr<HttpResponder> responder(new HttpResponder(shared_from_this(), request_id_));
  responder_ = responder;
  std::string failure;
  try {
    (*match.handler)(request, responder);
    return;
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  spdlog::error("http {}: handler of {} {} threw: {}", remote_, request.method, request.path,
                failure);
  if (responder->advance(HttpResponder::Phase::kNone, HttpResponder::Phase::kDone, nullptr)) {
    responder->complete();
    respond_error(ApiError::server_error("internal error while handling the request"),
                  /*close=*/false);
  }
  // If it threw after start_stream, whoever holds the responder may still finish the stream;
  // when nobody does, the responder's destructor aborts the connection.
}

}  // namespace mx::detail
