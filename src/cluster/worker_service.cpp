#include "cluster/worker_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "cluster/kv_event_stream.h"
#include "cluster/worker_messages.h"

namespace mx {
namespace pb = mxserve::worker;

// One Generate stream: the TokenSink the engine holds (shared) and the gRPC reactor's state.
// Writes are started outside the mutex, one at a time (writing_); Finish is called once, when
// every sequence has its final event and no write is in flight, so the reactor is alive
// whenever a write or Finish is started from here.
class GenerateStreamState : public TokenSink,
                            public std::enable_shared_from_this<GenerateStreamState> {
 public:
  GenerateStreamState(WorkerService& service, grpc::ServerWriteReactor<pb::GenerateReply>* reactor,
                      std::string request_id, size_t n_sequences)
      : service_(service),
        reactor_(reactor),
        request_id_(std::move(request_id)),
        finished_(n_sequences, false) {}

  const std::string& request_id() const { return request_id_; }

  // After submit_all: the admission goes first, then whatever events already came.
  void admit(std::vector<SeqId> ids) {
    std::unique_lock lock(mutex_);
    seqs_ = std::move(ids);
    admitted_ = true;
    if (broken_) {  // the client went away while the sequences were being queued
      std::vector<SeqId> running = unfinished();
      lock.unlock();
      for (SeqId id : running) service_.engine_.cancel(id);
      lock.lock();
    }
    pending_admission_.set_accepted(true);
    pending_admission_.set_worker_epoch(service_.epoch());
    has_admission_ = true;
    pump(lock);
  }

  void refuse(const Error& error) {
    std::unique_lock lock(mutex_);
    to_proto(error, *reply_.mutable_admission());
    reply_.mutable_admission()->set_worker_epoch(service_.epoch());
    finish_called_ = true;
    lock.unlock();
    reactor_->StartWriteAndFinish(&reply_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void on_event(int32_t index, const TokenEvent& event) override {
    std::unique_lock lock(mutex_);
    if (event.finished && index >= 0 && static_cast<size_t>(index) < finished_.size()) {
      finished_[index] = true;
    }
    if (!broken_) to_proto(index, event, *queued_.add_events());
    pump(lock);
  }

  // The client went away (cancelled, deadline) or a write failed: cancel what still runs; the
  // stream finishes once the engine has sent every final event.
  void break_stream() {
    std::unique_lock lock(mutex_);
    if (broken_) return;
    broken_ = true;
    queued_.Clear();
    std::vector<SeqId> running = unfinished();
    lock.unlock();
    for (SeqId id : running) service_.engine_.cancel(id);
    lock.lock();
    pump(lock);
  }

  void cancel(const std::vector<int32_t>& indexes) {
    std::vector<SeqId> ids;
    {
      std::lock_guard lock(mutex_);
      if (indexes.empty()) {
        ids = unfinished();
      } else {
        for (int32_t i : indexes) {
          if (i >= 0 && static_cast<size_t>(i) < seqs_.size() && !finished_[i]) {
            ids.push_back(seqs_[i]);
          }
        }
      }
    }
    for (SeqId id : ids) service_.engine_.cancel(id);
  }

  void on_write_done(bool ok) {
    std::unique_lock lock(mutex_);
    writing_ = false;
    if (!ok && !broken_) {
      lock.unlock();
      break_stream();
      return;
    }
    pump(lock);
  }

 private:
  std::vector<SeqId> unfinished() const {
    std::vector<SeqId> ids;
    for (size_t i = 0; i < seqs_.size(); ++i) {
      if (!finished_[i]) ids.push_back(seqs_[i]);
    }
    return ids;
  }
  bool all_finished() const {
    for (bool done : finished_) {
      if (!done) return false;
    }
    return true;
  }

  // Under the lock: start the next write, or the finish; releases the lock to do it.
  void pump(std::unique_lock<std::mutex>& lock) {
    if (!admitted_ || writing_ || finish_called_) return;
    if (has_admission_ || queued_.events_size() > 0) {
      reply_.Clear();
      if (has_admission_) *reply_.mutable_admission() = pending_admission_;
      has_admission_ = false;
      reply_.mutable_events()->Swap(queued_.mutable_events());
      writing_ = true;
      lock.unlock();
      reactor_->StartWrite(&reply_);
      return;
    }
    if (!all_finished()) return;
    finish_called_ = true;
    const bool broken = broken_;
    lock.unlock();
    service_.remove_stream(request_id_, this);
    reactor_->Finish(broken ? grpc::Status::CANCELLED : grpc::Status::OK);
  }

  WorkerService& service_;
  grpc::ServerWriteReactor<pb::GenerateReply>* const reactor_;
  const std::string request_id_;
  std::mutex mutex_;
  std::vector<SeqId> seqs_;
  std::vector<bool> finished_;
  bool admitted_ = false;
  bool has_admission_ = false;
  bool writing_ = false;
  bool finish_called_ = false;
  bool broken_ = false;
  pb::Admission pending_admission_;
  pb::GenerateReply queued_;  // events not yet written
  pb::GenerateReply reply_;   // the write in flight
};

namespace {

class GenerateReactor : public grpc::ServerWriteReactor<pb::GenerateReply> {
 public:
  void bind(std::shared_ptr<GenerateStreamState> state) { state_ = std::move(state); }
  void OnWriteDone(bool ok) override { state_->on_write_done(ok); }
  void OnCancel() override { state_->break_stream(); }
  void OnDone() override { delete this; }  // the state lives on while the engine holds it

 private:
  std::shared_ptr<GenerateStreamState> state_;
};

}  // namespace

WorkerService::WorkerService(EngineClient& engine, WorkerIdentity identity)
    : engine_(engine), identity_(std::move(identity)) {}

WorkerService::~WorkerService() = default;

void WorkerService::set_epoch(uint64_t epoch) {
  epoch_.store(epoch);
  if (epoch == 0) return;
  std::lock_guard lock(epochs_mutex_);
  if (std::find(epochs_.begin(), epochs_.end(), epoch) == epochs_.end()) epochs_.push_back(epoch);
}

void WorkerService::set_draining() {
  draining_.store(true);
  std::lock_guard lock(kv_streams_mutex_);
  for (KvEventStream* stream : kv_streams_) stream->end();
}

int64_t WorkerService::active_streams() const {
  std::lock_guard lock(streams_mutex_);
  return static_cast<int64_t>(streams_.size());
}

mx::Status WorkerService::check(const pb::GenerateRequest& request) const {
  if (draining_.load()) {
    return make_error(ErrorCode::kUnavailable, "this worker is shutting down; route elsewhere");
  }
  const uint64_t epoch = epoch_.load();
  bool known_epoch = epoch == 0 || request.worker_epoch() == 0;
  if (!known_epoch) {
    std::lock_guard lock(epochs_mutex_);
    known_epoch =
        std::find(epochs_.begin(), epochs_.end(), request.worker_epoch()) != epochs_.end();
  }
  if (!known_epoch) {
    return make_error(ErrorCode::kUnavailable,
                      "this worker is epoch {:x}, the request was routed to epoch {:x} (a "
                      "previous life of this process); route again",
                      epoch, request.worker_epoch());
  }
  if (request.weights_fingerprint() != 0 && identity_.weights_fingerprint != 0 &&
      request.weights_fingerprint() != identity_.weights_fingerprint) {
    return make_error(ErrorCode::kUnavailable,
                      "this worker serves weights {}, the request expects {}; route to a worker "
                      "serving the frontend's model",
                      fingerprint_hex(identity_.weights_fingerprint),
                      fingerprint_hex(request.weights_fingerprint()));
  }
  if (request.sequences_size() == 0) {
    return make_error(ErrorCode::kInvalidArgument, "a Generate request needs a sequence");
  }
  return ok_status();
}

grpc::ServerWriteReactor<pb::GenerateReply>* WorkerService::Generate(
    grpc::CallbackServerContext* /*context*/, const pb::GenerateRequest* request) {
  auto* reactor = new GenerateReactor();
  auto state = std::make_shared<GenerateStreamState>(
      *this, reactor, request->request_id(), static_cast<size_t>(request->sequences_size()));
  reactor->bind(state);
  if (mx::Status valid = check(*request); !valid.ok()) {
    state->refuse(valid.error());
    return reactor;
  }
  std::vector<SequenceRequest> sequences;
  sequences.reserve(request->sequences_size());
  for (const pb::SequenceRequest& sequence : request->sequences()) {
    sequences.push_back(from_proto(sequence));
  }
  add_stream(request->request_id(), state);
  auto ids = engine_.submit_all(std::move(sequences), state);
  if (!ids.ok()) {
    remove_stream(request->request_id(), state.get());
    state->refuse(ids.error());
    return reactor;
  }
  state->admit(std::move(*ids));
  return reactor;
}

grpc::ServerUnaryReactor* WorkerService::Cancel(grpc::CallbackServerContext* context,
                                                const pb::CancelRequest* request,
                                                pb::CancelReply* /*reply*/) {
  std::shared_ptr<GenerateStreamState> state;
  {
    std::lock_guard lock(streams_mutex_);
    auto it = streams_.find(request->request_id());
    if (it != streams_.end()) state = it->second.lock();
  }
  if (state) state->cancel({request->indexes().begin(), request->indexes().end()});
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* WorkerService::Status(grpc::CallbackServerContext* context,
                                                const pb::StatusRequest* /*request*/,
                                                pb::StatusReply* reply) {
  reply->set_worker_epoch(epoch_.load());
  reply->set_weights_fingerprint(identity_.weights_fingerprint);
  reply->set_model_name(identity_.model_name);
  reply->set_draining(draining_.load());
  to_proto(engine_.limits(), *reply->mutable_limits());
  to_proto(engine_.stats(), *reply->mutable_stats());
  for (uint64_t count : engine_.expert_token_counts()) reply->add_expert_token_counts(count);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<pb::KvEventsReply>* WorkerService::KvEvents(
    grpc::CallbackServerContext* /*context*/, const pb::KvEventsRequest* request) {
  if (kv_events_ == nullptr) {
    class Unimplemented : public grpc::ServerWriteReactor<pb::KvEventsReply> {
     public:
      Unimplemented() {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this worker keeps no KV events"));
      }
      void OnDone() override { delete this; }
    };
    return new Unimplemented();
  }
  std::lock_guard lock(kv_streams_mutex_);
  auto* stream = new KvEventStream(
      *kv_events_, *request, [this] { return epoch_.load(); },
      [this](KvEventStream* done) {
        std::lock_guard relock(kv_streams_mutex_);
        kv_streams_.erase(done);
      });
  kv_streams_.insert(stream);
  if (draining_.load()) stream->end();
  return stream;
}

void WorkerService::add_stream(const std::string& request_id,
                               std::shared_ptr<GenerateStreamState> state) {
  std::lock_guard lock(streams_mutex_);
  streams_[request_id] = state;
}

void WorkerService::remove_stream(const std::string& request_id, const GenerateStreamState* state) {
  std::lock_guard lock(streams_mutex_);
  auto it = streams_.find(request_id);
  if (it == streams_.end()) return;
  auto held = it->second.lock();
  if (!held || held.get() == state) streams_.erase(it);
}

}  // namespace mx
