// HttpRequest::header and HttpResponder: the thread-safe front of an HttpConnection. Every
// operation is checked against the responder's phase on the caller's thread (so misuse is
// reported where it happens) and then posted to the connection's strand.
#include <spdlog/spdlog.h>

#include "server/http_connection.h"
#include "server/http_server.h"
#include "server/http_wire.h"

namespace mx {

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (detail::header_name_equals(key, name)) return value;
  }
  return {};
}

HttpResponder::HttpResponder(std::shared_ptr<detail::HttpConnection> connection,
                             uint64_t request_id)
    : connection_(std::move(connection)), request_id_(request_id) {}

HttpResponder::~HttpResponder() {
  Phase phase = phase_.load();
  if (phase == Phase::kDone || connection_->is_closed()) return;
  // Nobody can answer any more: the connection answers 500 or cuts the stream.
  connection_->post([connection = connection_, id = request_id_, phase] {
    connection->do_abandon(id, phase == Phase::kStreaming);
  });
}

bool HttpResponder::advance(Phase from, Phase to, const char* what) {
  Phase expected = from;
  if (phase_.compare_exchange_strong(expected, to)) return true;
  if (what) {
    spdlog::warn("HttpResponder::{} ignored: the response is {}", what,
                 expected == Phase::kDone        ? "already complete"
                 : expected == Phase::kStreaming ? "a stream"
                                                 : "not started");
  }
  return false;
}

void HttpResponder::send(int status, std::string content_type, std::string body,
                         HttpHeaders headers) {
  if (!advance(Phase::kNone, Phase::kDone, "send")) return;
  complete();
  connection_->post([connection = connection_, id = request_id_, status,
                     content_type = std::move(content_type), body = std::move(body),
                     headers = std::move(headers)] {
    connection->do_send(id, status, content_type, body, headers);
  });
}

void HttpResponder::start_stream(int status, HttpHeaders headers) {
  if (!advance(Phase::kNone, Phase::kStreaming, "start_stream")) return;
  connection_->post(
      [connection = connection_, id = request_id_, status, headers = std::move(headers)] {
        connection->do_start_stream(id, status, headers);
      });
}

void HttpResponder::write(std::string data) {
  if (data.empty() || connection_->is_closed()) return;
  if (phase_.load() != Phase::kStreaming) {
    spdlog::warn("HttpResponder::write ignored: call start_stream first (or stream ended)");
    return;
  }
  connection_->post([connection = connection_, id = request_id_, data = std::move(data)] {
    connection->do_write(id, data);
  });
}

void HttpResponder::end_stream() {
  if (!advance(Phase::kStreaming, Phase::kDone, "end_stream")) return;
  complete();
  connection_->post(
      [connection = connection_, id = request_id_] { connection->do_end_stream(id); });
}

bool HttpResponder::closed() const { return connection_->is_closed(); }

void HttpResponder::on_close(std::function<void()> callback) {
  {
    std::lock_guard lock(close_mutex_);
    if (!died_) {
      if (phase_.load() != Phase::kDone) on_close_ = std::move(callback);
      return;
    }
    if (close_fired_ || phase_.load() == Phase::kDone || !callback) return;
    close_fired_ = true;
  }
  // The connection died before this call: the callback is still owed its one run.
  callback();
}

void HttpResponder::complete() {
  std::function<void()> dropped;  // destroyed outside the lock: it may hold this responder
  std::lock_guard lock(close_mutex_);
  dropped = std::move(on_close_);
  on_close_ = nullptr;
}

void HttpResponder::connection_died() {
  std::function<void()> callback;
  {
    std::lock_guard lock(close_mutex_);
    if (died_) return;
    died_ = true;
    if (phase_.load() == Phase::kDone) return;
    callback = std::move(on_close_);
    on_close_ = nullptr;
    close_fired_ = static_cast<bool>(callback);
  }
  if (callback) callback();
}

}  // namespace mx
