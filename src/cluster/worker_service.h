// WorkerService: an engine served over gRPC (the Worker service of proto/worker.proto), the
// process side of `mxserve worker`. One Generate stream per API request: its first reply is the
// admission (accepted, or refused with the engine's error and nothing queued), then the
// sequences' TokenEvents in order, batched per write, until each has its final event. A client
// that cancels the call or stops reading has its sequences cancelled, so no KV block outlives
// its stream. Runs on gRPC's callback threads; engine events only queue and start writes.
//
// Every request names the worker epoch it was routed to: a worker that restarted (new lease,
// new epoch) refuses requests meant for its previous life, and one whose weights differ from
// the request's fingerprint refuses too (kUnavailable: route elsewhere).
//
// KvEvents streams the engine's prefix-cache changes to frontends (kv_event_stream.h) when an
// event log is set; draining ends those streams.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/engine_client.h"
#include "engine/kv_event_log.h"
#include "worker.grpc.pb.h"

namespace mx {

struct WorkerIdentity {
  std::string model_name;
  uint64_t weights_fingerprint = 0;
};

class GenerateStreamState;
class KvEventStream;

class WorkerService final : public mxserve::worker::Worker::CallbackService {
 public:
  WorkerService(EngineClient& engine, WorkerIdentity identity);
  ~WorkerService() override;

  // The epoch of this process's membership lease (0 until registered: then any epoch is
  // accepted, as in static deployments without etcd). Requests naming any epoch this process
  // has held are accepted (it re-registered after an etcd outage: same process, same state);
  // others were meant for another process at this address (a previous life).
  void set_epoch(uint64_t epoch);
  uint64_t epoch() const { return epoch_.load(); }
  // The engine's prefix-cache event log for KvEvents (unset: KvEvents is unimplemented).
  // Set before the server starts; it must outlive the server.
  void set_kv_events(KvEventLog* log) { kv_events_ = log; }
  // New Generate calls are refused with kUnavailable from now on (running ones go on);
  // KvEvents streams end.
  void set_draining();
  bool draining() const { return draining_.load(); }
  int64_t active_streams() const;

  grpc::ServerWriteReactor<mxserve::worker::GenerateReply>* Generate(
      grpc::CallbackServerContext* context,
      const mxserve::worker::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const mxserve::worker::CancelRequest* request,
                                   mxserve::worker::CancelReply* reply) override;
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const mxserve::worker::StatusRequest* request,
                                   mxserve::worker::StatusReply* reply) override;
  grpc::ServerWriteReactor<mxserve::worker::KvEventsReply>* KvEvents(
      grpc::CallbackServerContext* context,
      const mxserve::worker::KvEventsRequest* request) override;

 private:
  friend class GenerateStreamState;
  // Why a request is refused before anything is queued; ok when it may run.
  mx::Status check(const mxserve::worker::GenerateRequest& request) const;
  void add_stream(const std::string& request_id, std::shared_ptr<GenerateStreamState> state);
  void remove_stream(const std::string& request_id, const GenerateStreamState* state);

  EngineClient& engine_;
  const WorkerIdentity identity_;
  std::atomic<uint64_t> epoch_{0};
  mutable std::mutex epochs_mutex_;
  std::vector<uint64_t> epochs_;  // every epoch this process has held
  std::atomic<bool> draining_{false};
  mutable std::mutex streams_mutex_;
  // Streams by the frontend's request id (Cancel finds them here).
  std::unordered_map<std::string, std::weak_ptr<GenerateStreamState>> streams_;
  KvEventLog* kv_events_ = nullptr;
  std::mutex kv_streams_mutex_;
  std::set<KvEventStream*> kv_streams_;  // live KvEvents calls (each deletes itself when done)
};

}  // namespace mx
