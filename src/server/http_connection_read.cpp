// HttpConnection, read side: raw bytes → HttpRequestReader → HttpRequest → route → handler;
// EOF and resets while a response is pending.
#include <poll.h>
#include <spdlog/spdlog.h>

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
  reader_.reset();
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
  if (peer_finished_) {  // nothing more will arrive
    if (state_ == State::kHandling) {
      watch_for_reset();
    } else {
      if (state_ == State::kReading && request_started_) {
        spdlog::debug("http {}: connection ended inside a request", remote_);
      }
      close_now(nullptr);
    }
    return;
  }
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
  if (ec == net::error::eof && state_ == State::kHandling) {
    on_peer_finished_sending();
    return;
  }
  if (ec) {
    // A reset, or EOF when no response is pending: the connection is over. A reset
    // mid-response is the client going away: close_now fires on_close.
    if (state_ == State::kReading && request_started_) {
      spdlog::debug("http {}: connection ended inside a request: {}", remote_, ec.message());
    }
    close_now(state_ == State::kHandling ? "client reset the connection" : nullptr);
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

// EOF while a response is pending. A client may shut down its sending side once the request
// is out and still wait for the answer (`nc -N`, some proxies and scripts), so EOF is not a
// hang-up: the response goes on. A client that closed its socket altogether answers the next
// bytes it gets with a reset, which watch_for_reset sees (or the write fails): that is what
// cancels. A stream's next chunk draws the reset; before the response has begun, HTTP/1.1
// allows an interim "100 Continue" at any time (RFC 9110 15.2), sent here so that a client
// that hung up is noticed now and not when the whole response is ready.
void HttpConnection::on_peer_finished_sending() {
  peer_finished_ = true;
  spdlog::debug("http {}: client finished sending (half-close); answering on", remote_);
  if (version_ >= 11 && !streaming_ && !response_done_) {
    queue_bytes(std::string(kContinueResponse));
  }
  watch_for_reset();
}

// After the client's EOF, readability says nothing more; an error event (EPOLLERR/EPOLLHUP)
// comes with the reset of a client that is gone.
void HttpConnection::watch_for_reset() {
  if (reset_watch_pending_ || state_ == State::kClosed) return;
  reset_watch_pending_ = true;
  auto self = shared_from_this();
  socket_.async_wait(tcp::socket::wait_error, [self](boost::system::error_code ec) {
    self->reset_watch_pending_ = false;
    if (self->state_ == State::kClosed || ec == net::error::operation_aborted) return;
    self->check_for_reset();
    if (self->state_ == State::kHandling) self->watch_for_reset();  // urgent data, say
  });
  // A reset that arrived before the wait was armed raises no new event: look once now, posted
  // because callers (dispatch) go on using the connection.
  net::post(socket_.get_executor(), [self] { self->check_for_reset(); });
}

void HttpConnection::check_for_reset() {
  if (state_ == State::kClosed) return;
  pollfd probe{socket_.native_handle(), 0, 0};  // POLLERR and POLLHUP are always reported
  if (::poll(&probe, 1, 0) > 0 && (probe.revents & (POLLERR | POLLHUP)) != 0) {
    close_now(state_ == State::kHandling ? "client reset the connection" : nullptr);
  }
}

void HttpConnection::parse_buffered() {
  if (!reader_) {
    const HttpServerConfig& config = core_->config;
    reader_.emplace(HttpRequestLimits{config.max_header_bytes, config.max_body_bytes});
  }
  auto data = buffer_.data();
  size_t used = 0;
  const auto status =
      reader_->read(std::string_view(static_cast<const char*>(data.data()), data.size()), used);
  buffer_.consume(used);
  if (!request_started_ && reader_->started()) {
    request_started_ = true;
    request_deadline_ = Clock::now() + core_->config.request_timeout;
    update_timer();
  }
  if (status == HttpRequestReader::Status::kDone) {
    dispatch();
    return;
  }
  if (status == HttpRequestReader::Status::kRefused) {
    version_ = reader_->version();
    ApiError refusal = reader_->refusal();  // respond_error drops the reader
    spdlog::debug("http {}: request refused: {}", remote_, refusal.message);
    respond_error(refusal, /*close=*/true);
    return;
  }
  if (!continue_sent_ && reader_->expects_continue()) {
    continue_sent_ = true;  // the client waits for this before it sends the body
    queue_bytes(std::string(kContinueResponse));
  }
  do_read();
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
  http::request<http::string_body> message = reader_->release();
  reader_.reset();
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
