// KvEventStream: the worker's side of one KvEvents call (worker.proto) — a server-streaming
// gRPC reactor that sends a frontend the engine's prefix-cache changes from the KvEventLog:
// the events after the caller's last one, or first a snapshot (in chunks) when the caller starts,
// followed another log, or fell behind what the log holds. Every reply carries the worker's
// epoch and the log id. Appends wake it through a log listener (on the engine thread: it only
// copies the new events into the next reply and starts the write); one write is in flight at a
// time. end() finishes the call (the worker drains); a client that goes away finishes it too.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "engine/kv_event_log.h"
#include "worker.grpc.pb.h"

namespace mx {

class KvEventStream : public grpc::ServerWriteReactor<mxserve::worker::KvEventsReply> {
 public:
  // `epoch` reads the worker's current epoch; `on_done` runs once, right before the reactor
  // deletes itself.
  KvEventStream(KvEventLog& log, const mxserve::worker::KvEventsRequest& request,
                std::function<uint64_t()> epoch, std::function<void(KvEventStream*)> on_done);

  void end();  // finishes the call once the write in flight is done

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  static constexpr size_t kMaxEvents = 4096;       // events per reply
  static constexpr size_t kSnapshotChunk = 32768;  // hashes per reply (256 KiB)

  void start_snapshot();                          // under the lock
  void pump(std::unique_lock<std::mutex>& lock);  // starts the next write; releases the lock
  bool fill_snapshot();                           // under the lock: the next snapshot reply
  bool fill_events();                             // under the lock: false if no event is new

  KvEventLog& log_;
  const std::function<uint64_t()> epoch_;
  const std::function<void(KvEventStream*)> on_done_;
  int listener_ = 0;
  std::mutex mutex_;
  uint64_t after_seq_ = 0;  // the last event sent (or reflected by the snapshot sent)
  bool in_snapshot_ = false;
  std::vector<BlockHash> snapshot_;
  size_t snapshot_sent_ = 0;
  uint64_t snapshot_seq_ = 0;
  bool started_ = false;  // the constructor has registered the listener
  bool writing_ = false;
  bool ending_ = false;
  bool cancelled_ = false;
  bool finish_called_ = false;
  mxserve::worker::KvEventsReply reply_;  // the write in flight
};

}  // namespace mx
