#include "cluster/routed_request.h"

#include <spdlog/spdlog.h>

#include "cluster/worker_messages.h"

namespace mx {
namespace pb = mxserve::worker;

// Forwards one stream's callbacks to its request, tagged with the attempt they belong to.
class RoutedRequest::Attempt : public GenerateObserver {
 public:
  Attempt(std::shared_ptr<RoutedRequest> request, int attempt)
      : request_(std::move(request)), attempt_(attempt) {}
  void on_admission(const pb::Admission& admission) override {
    request_->on_admission(attempt_, admission);
  }
  void on_event(int32_t index, const TokenEvent& event) override {
    request_->on_event(attempt_, index, event);
  }
  void on_stream_end(const grpc::Status& status) override {
    request_->on_stream_end(attempt_, status);
  }

 private:
  std::shared_ptr<RoutedRequest> request_;
  const int attempt_;
};

RoutedRequest::RoutedRequest(ClusterEngineClient& client, std::string id,
                             std::vector<SequenceRequest> originals,
                             std::shared_ptr<TokenSink> sink)
    : client_(client),
      id_(std::move(id)),
      originals_(std::move(originals)),
      sink_(std::move(sink)),
      seqs_(originals_.size()) {}

RouteRequest RoutedRequest::route_request() const {
  RouteRequest r;
  r.prompt_tokens = static_cast<int64_t>(originals_.front().prompt.size());
  r.expected_output_tokens = originals_.front().max_new_tokens;
  r.sequences = static_cast<int64_t>(originals_.size());
  r.tie_break = std::hash<std::string>{}(id_);
  return r;
}

Status RoutedRequest::start() {
  std::unique_lock lock(mutex_);
  next_worker("");
  const auto limit = Clock::now() + client_.config_.admission_timeout * 4;
  settled_.wait_until(lock, limit, [&] { return started_ || start_error_.has_value(); });
  if (started_) return ok_status();
  if (!start_error_) {
    start_error_ = Error{ErrorCode::kUnavailable, "no worker admitted the request in time"};
    done_ = true;
    release_worker();
    if (stream_) stream_->cancel();
  }
  return *start_error_;
}

void RoutedRequest::next_worker(const std::string& why) {
  int64_t cached = 0;
  std::shared_ptr<Worker> worker =
      client_.pick(route_request(), originals_.front().prompt, tried_, &cached);
  if (!worker) {
    const std::string message =
        why.empty() ? "no worker is available for this model; retry shortly" : why;
    return fail(ErrorCode::kUnavailable, message);
  }
  launch(worker, cached);
}

void RoutedRequest::launch(const std::shared_ptr<Worker>& worker, int64_t cached_tokens) {
  tried_.push_back(worker);
  pb::GenerateRequest request;
  request.set_request_id(id_);
  request.set_frontend_epoch(client_.config_.frontend_epoch);
  request.set_worker_epoch(client_.epoch_of(worker));
  request.set_weights_fingerprint(client_.config_.weights_fingerprint);
  stream_to_seq_.clear();
  int64_t reserve = 0, footprint = 0;
  for (size_t i = 0; i < seqs_.size(); ++i) {
    Seq& seq = seqs_[i];
    if (seq.finished) continue;
    if (seq.cancel_requested) {
      finish_seq(static_cast<int32_t>(i), StopReason::kCancelled, "");
      continue;
    }
    SequenceRequest resumed = originals_[i];
    const int64_t delivered = static_cast<int64_t>(seq.generated.size());
    resumed.prompt.insert(resumed.prompt.end(), seq.generated.begin(), seq.generated.end());
    resumed.resumed_tokens = delivered;
    resumed.max_new_tokens -= delivered;
    seq.base_completion = seq.completion_tokens;
    if (resumed.max_new_tokens < 1) {
      finish_seq(static_cast<int32_t>(i), StopReason::kLength, "");
      continue;
    }
    footprint += static_cast<int64_t>(resumed.prompt.size()) + resumed.max_new_tokens;
    // Cached prefix blocks are shared, not allocated again: they take no new KV.
    reserve += static_cast<int64_t>(resumed.prompt.size()) + resumed.max_new_tokens -
               std::min(cached_tokens, static_cast<int64_t>(resumed.prompt.size()));
    if (!seq.served_by.empty()) seq.served_by += ",";
    seq.served_by += fmt::format("{}@{:x}", worker->endpoint.address, client_.epoch_of(worker));
    to_proto(resumed, *request.add_sequences());
    stream_to_seq_.push_back(static_cast<int32_t>(i));
  }
  if (stream_to_seq_.empty()) return;  // nothing left to run
  ++attempt_;
  phase_ = Phase::kAdmitting;
  worker_ = worker;
  reserved_ = reserve;
  footprint_ = footprint;
  client_.reserve(worker, reserve, footprint, 1);
  deadline_ = Clock::now() + client_.config_.admission_timeout;
  got_token_ = false;
  abandoned_ = false;
  stream_ = worker->client->generate(std::move(request),
                                     std::make_shared<Attempt>(shared_from_this(), attempt_));
}

void RoutedRequest::release_worker() {
  if (worker_) client_.reserve(worker_, -reserved_, -footprint_, -1);
  worker_.reset();
  reserved_ = 0;
  footprint_ = 0;
}

void RoutedRequest::fail(ErrorCode code, const std::string& message) {
  release_worker();
  phase_ = Phase::kEnded;
  if (!started_) {
    start_error_ = Error{code, message};
    done_ = true;
    settled_.notify_all();
    return;
  }
  for (size_t i = 0; i < seqs_.size(); ++i) {
    if (!seqs_[i].finished) finish_seq(static_cast<int32_t>(i), StopReason::kError, message);
  }
}

void RoutedRequest::finish_seq(int32_t index, StopReason reason, const std::string& error) {
  Seq& seq = seqs_[index];
  if (seq.finished) return;
  seq.finished = true;
  TokenEvent event;
  event.finished = true;
  event.stop_reason = reason;
  event.error = error;
  event.prompt_tokens = static_cast<int64_t>(originals_[index].prompt.size());
  event.cached_tokens = seq.cached_tokens;
  event.completion_tokens = seq.completion_tokens;
  event.served_by = seq.served_by;
  if (started_) sink_->on_event(index, event);
  if (all_finished() && !done_) {
    done_ = true;
    client_.finished(this);
  }
}

bool RoutedRequest::all_finished() const {
  for (const Seq& seq : seqs_) {
    if (!seq.finished) return false;
  }
  return true;
}

void RoutedRequest::on_admission(int attempt, const pb::Admission& admission) {
  std::lock_guard lock(mutex_);
  if (attempt != attempt_ || done_) return;
  if (admission.accepted()) {
    phase_ = Phase::kRunning;
    deadline_ = Clock::now() + client_.config_.first_token_timeout;
    if (!started_) {
      started_ = true;
      settled_.notify_all();
    }
    return;
  }
  const Error error = error_from_proto(admission);
  phase_ = Phase::kEnded;  // the stream ends; on_stream_end of this attempt is ignored
  ++attempt_;
  release_worker();
  const bool elsewhere =
      error.code == ErrorCode::kUnavailable || error.code == ErrorCode::kResourceExhausted;
  if (!elsewhere) return fail(error.code, error.message);
  if (error.code == ErrorCode::kUnavailable) client_.mark_down(tried_.back(), error.message);
  int64_t cached = 0;
  std::shared_ptr<Worker> worker =
      client_.pick(route_request(), originals_.front().prompt, tried_, &cached);
  if (!worker) return fail(error.code, error.message);
  launch(worker, cached);
}

void RoutedRequest::on_event(int attempt, int32_t stream_index, const TokenEvent& event) {
  std::lock_guard lock(mutex_);
  if (attempt != attempt_ || stream_index < 0 ||
      static_cast<size_t>(stream_index) >= stream_to_seq_.size()) {
    return;
  }
  const int32_t index = stream_to_seq_[stream_index];
  Seq& seq = seqs_[index];
  if (seq.finished) return;
  if (migrations_ == 0 && seq.completion_tokens == 0) seq.cached_tokens = event.cached_tokens;
  TokenEvent out = event;
  out.prompt_tokens = static_cast<int64_t>(originals_[index].prompt.size());
  out.cached_tokens = seq.cached_tokens;
  out.completion_tokens = seq.base_completion + event.completion_tokens;
  seq.completion_tokens = out.completion_tokens;
  if (event.token.token >= 0 && !event.stop_token) seq.generated.push_back(event.token.token);
  got_token_ = true;
  deadline_ = Clock::now() + client_.config_.token_timeout;
  seq.finished = event.finished;
  if (seq.finished) out.served_by = seq.served_by;
  // The reservation goes before the client hears the end: its next request is routed knowing.
  const bool last = seq.finished && all_finished() && !done_;
  if (last) {
    done_ = true;
    release_worker();
    phase_ = Phase::kEnded;
  }
  sink_->on_event(index, out);
  if (last) client_.finished(this);
}

void RoutedRequest::on_stream_end(int attempt, const grpc::Status& status) {
  std::lock_guard lock(mutex_);
  if (attempt != attempt_ || done_) return;
  const std::shared_ptr<Worker> worker = worker_;
  release_worker();
  phase_ = Phase::kEnded;
  bool only_cancelled = true;
  for (size_t i = 0; i < seqs_.size(); ++i) {
    if (!seqs_[i].finished && !seqs_[i].cancel_requested) only_cancelled = false;
  }
  if (only_cancelled) {  // what the client cancelled ends here, whatever the worker did
    for (size_t i = 0; i < seqs_.size(); ++i) {
      finish_seq(static_cast<int32_t>(i), StopReason::kCancelled, "");
    }
    return;
  }
  const std::string why = abandoned_ ? "missed its deadline" : status.error_message();
  if (worker) client_.mark_down(worker, why);
  if (++migrations_ > client_.config_.max_migrations) {
    return fail(ErrorCode::kUnavailable,
                fmt::format("the request moved {} times between failing workers; giving up",
                            migrations_ - 1));
  }
  spdlog::warn("request {}: worker {} failed ({}); moving {} to another worker", id_,
               worker ? worker->endpoint.address : "?", why, started_ ? "its sequences" : "it");
  next_worker(fmt::format("worker {} failed ({}) and no other worker is available",
                          worker ? worker->endpoint.address : "?", why));
}

void RoutedRequest::cancel(int32_t index) {
  std::lock_guard lock(mutex_);
  if (index < 0 || static_cast<size_t>(index) >= seqs_.size() || seqs_[index].finished) return;
  seqs_[index].cancel_requested = true;
  if (phase_ != Phase::kRunning && phase_ != Phase::kAdmitting) {
    return finish_seq(index, StopReason::kCancelled, "");
  }
  for (size_t k = 0; k < stream_to_seq_.size(); ++k) {
    if (stream_to_seq_[k] == index && worker_) {
      worker_->client->cancel(id_, {static_cast<int32_t>(k)}, client_.config_.token_timeout);
    }
  }
}

void RoutedRequest::sweep(Clock::time_point now) {
  std::shared_ptr<GenerateStream> stream;
  {
    std::lock_guard lock(mutex_);
    if (done_ || abandoned_ || phase_ == Phase::kEnded || now < deadline_) return;
    // A worker that answers its status polls and whose engine keeps stepping is busy, not
    // failed: the request is queued or preempted there. Give it another period.
    if (phase_ == Phase::kRunning && worker_ &&
        client_.progressing(worker_, client_.config_.token_timeout)) {
      deadline_ = now + client_.config_.token_timeout;
      return;
    }
    abandoned_ = true;
    stream = stream_;
    spdlog::warn("request {}: worker {} missed its {} deadline", id_,
                 worker_ ? worker_->endpoint.address : "?",
                 phase_ == Phase::kAdmitting ? "admission"
                 : got_token_                ? "next-token"
                                             : "first-token");
  }
  if (stream) stream->cancel();  // its on_stream_end moves the request on
}

void RoutedRequest::abort() {
  std::shared_ptr<GenerateStream> stream;
  {
    std::lock_guard lock(mutex_);
    for (Seq& seq : seqs_) seq.cancel_requested = true;
    stream = stream_;
    if (phase_ == Phase::kEnded) {
      for (size_t i = 0; i < seqs_.size(); ++i) {
        finish_seq(static_cast<int32_t>(i), StopReason::kCancelled, "");
      }
      return;
    }
  }
  if (stream) stream->cancel();
}

}  // namespace mx
