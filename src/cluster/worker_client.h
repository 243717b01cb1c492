// WorkerClient: one worker's gRPC API seen from a frontend — Generate streams, Cancel, Status
// — over one channel. A Generate stream reports to its GenerateObserver: the admission (first
// reply), every event in order, then the end of the stream with its gRPC status (after the
// last event; a stream that ends without every sequence's final event means the worker failed
// or was cut off). Every call has a deadline; no call blocks a gRPC thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "core/status.h"
#include "engine/engine.h"
#include "worker.grpc.pb.h"

namespace mx {

class GenerateObserver {
 public:
  virtual ~GenerateObserver() = default;
  virtual void on_admission(const mxserve::worker::Admission& admission) = 0;
  virtual void on_event(int32_t index, const TokenEvent& event) = 0;
  // The stream is over (after its last event): OK, or why it broke.
  virtual void on_stream_end(const grpc::Status& status) = 0;
};

// A Generate (or KvEvents) call in flight; cancel() ends it (the worker cancels its sequences).
class GenerateStream {
 public:
  virtual ~GenerateStream() = default;
  virtual void cancel() = 0;
};

// Hears a KvEvents stream (worker.proto): each reply in order, then the end with its status.
class KvEventsObserver {
 public:
  virtual ~KvEventsObserver() = default;
  virtual void on_reply(const mxserve::worker::KvEventsReply& reply) = 0;
  virtual void on_stream_end(const grpc::Status& status) = 0;
};

class WorkerClient {
 public:
  explicit WorkerClient(std::string address);
  const std::string& address() const { return address_; }

  std::shared_ptr<GenerateStream> generate(mxserve::worker::GenerateRequest request,
                                           std::shared_ptr<GenerateObserver> observer);
  // Fire and forget, bounded by `timeout`.
  void cancel(const std::string& request_id, std::vector<int32_t> indexes,
              std::chrono::milliseconds timeout);
  Result<mxserve::worker::StatusReply> status(std::chrono::milliseconds timeout);
  // A KvEvents stream (no deadline: it lasts while both sides run; keepalive finds a dead
  // peer). cancel() ends it.
  std::shared_ptr<GenerateStream> kv_events(mxserve::worker::KvEventsRequest request,
                                            std::shared_ptr<KvEventsObserver> observer);

 private:
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<mxserve::worker::Worker::Stub> stub_;
};

}  // namespace mx
