#include "cluster/kv_event_stream.h"

#include <algorithm>

namespace mx {
namespace pb = mxserve::worker;

KvEventStream::KvEventStream(KvEventLog& log, const pb::KvEventsRequest& request,
                             std::function<uint64_t()> epoch,
                             std::function<void(KvEventStream*)> on_done)
    : log_(log), epoch_(std::move(epoch)), on_done_(std::move(on_done)) {
  {
    std::unique_lock lock(mutex_);
    // Go on from the caller's last event only if it followed this log and the log still holds
    // the next one; otherwise it starts over from a snapshot.
    const bool resumable = request.log_id() == log_.log_id() && request.after_seq() > 0 &&
                           log_.read(request.after_seq(), 0).has_value();
    if (resumable) {
      after_seq_ = request.after_seq();
    } else {
      start_snapshot();
    }
  }
  const int listener = log_.add_listener([this] {
    std::unique_lock lock(mutex_);
    pump(lock);
  });
  std::unique_lock lock(mutex_);
  listener_ = listener;
  started_ = true;  // from now on pump may write and finish (OnDone reads listener_)
  pump(lock);
}

void KvEventStream::end() {
  std::unique_lock lock(mutex_);
  ending_ = true;
  pump(lock);
}

void KvEventStream::OnWriteDone(bool ok) {
  std::unique_lock lock(mutex_);
  writing_ = false;
  if (!ok) ending_ = cancelled_ = true;
  pump(lock);
}

void KvEventStream::OnCancel() {
  std::unique_lock lock(mutex_);
  ending_ = cancelled_ = true;
  pump(lock);
}

void KvEventStream::OnDone() {
  int listener = 0;
  {
    std::lock_guard lock(mutex_);
    listener = listener_;
  }
  log_.remove_listener(listener);  // waits for a listener call in progress
  on_done_(this);
  delete this;
}

void KvEventStream::start_snapshot() {
  KvEventLog::Snapshot snapshot = log_.snapshot();
  snapshot_ = std::move(snapshot.hashes);
  snapshot_seq_ = snapshot.seq;
  snapshot_sent_ = 0;
  in_snapshot_ = true;
}

bool KvEventStream::fill_snapshot() {
  if (snapshot_sent_ == 0) reply_.set_snapshot_begin(true);
  const size_t n = std::min(kSnapshotChunk, snapshot_.size() - snapshot_sent_);
  reply_.mutable_snapshot_hashes()->Add(snapshot_.begin() + snapshot_sent_,
                                        snapshot_.begin() + snapshot_sent_ + n);
  snapshot_sent_ += n;
  if (snapshot_sent_ == snapshot_.size()) {
    reply_.set_snapshot_end(true);
    reply_.set_snapshot_seq(snapshot_seq_);
    after_seq_ = snapshot_seq_;
    in_snapshot_ = false;
    snapshot_ = {};
  }
  return true;
}

bool KvEventStream::fill_events() {
  auto events = log_.read(after_seq_, kMaxEvents);
  if (!events) {  // fell behind the log's bound: start over from a snapshot
    start_snapshot();
    return fill_snapshot();
  }
  if (events->empty()) return false;
  reply_.set_first_seq(after_seq_ + 1);
  for (const KvBlockEvent& event : *events) {
    pb::KvBlockEvent* out = reply_.add_events();
    out->set_hash(event.hash);
    out->set_removed(event.removed);
  }
  after_seq_ += events->size();
  return true;
}

void KvEventStream::pump(std::unique_lock<std::mutex>& lock) {
  if (!started_ || writing_ || finish_called_) return;
  if (ending_) {
    finish_called_ = true;
    const bool cancelled = cancelled_;
    lock.unlock();
    Finish(cancelled ? grpc::Status::CANCELLED : grpc::Status::OK);
    return;
  }
  reply_.Clear();
  const bool filled = in_snapshot_ ? fill_snapshot() : fill_events();
  if (!filled) return;
  reply_.set_worker_epoch(epoch_());
  reply_.set_log_id(log_.log_id());
  writing_ = true;
  lock.unlock();
  StartWrite(&reply_);
}

}  // namespace mx
